/*
 * Long-term credentials (RFC 8489 §9.2) and TURN REST credentials
 * (draft-uberti-behave-turn-rest-00 §2.2): the credential table, its
 * reload, and the key lookups. Nonces are in auth_nonce.c, the user
 * database snapshot in auth_db.c; auth_int.h is what they share.
 *
 * Locking: everything that auth_reload may change lives in one immutable
 * struct table, swapped whole under a->lock. Lookups hold the read lock while
 * they use the table; reload builds the new table outside it and holds the
 * write lock only for the pointer swap. Reloads are serialized by
 * a->reload_lock. Realm strings are never freed before auth_free, so the
 * pointer auth_realm returns stays valid however often the realm changes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "proto/stun.h"
#include "relay/auth.h"
#include "relay/config.h"
#include "relay/auth_db.h"
#include "relay/auth_int.h"
#include "relay/userset.h"

#define USER_MAX      USERSET_NAME_MAX
#define REST_PASS_LEN 28 /* base64 of a 20-byte HMAC-SHA1 */

static void table_free(struct table *t)
{
	if (!t)
		return;
	userset_free(t->users);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

/* Caller holds reload_lock (or is auth_new). */
static const char *realm_intern(struct auth *a, const char *s, size_t len)
{
	struct realm_name *r;

	for (r = a->realms; r; r = r->next)
		if (strlen(r->s) == len && memcmp(r->s, s, len) == 0)
			return r->s;
	r = malloc(sizeof(*r) + len + 1);
	if (!r)
		return NULL;
	memcpy(r->s, s, len);
	r->s[len] = '\0';
	r->next = a->realms;
	a->realms = r;
	return r->s;
}

/*
 * The RFC 8489 §9.2.1 cookie, then the features as 4 base64 characters
 * (§18.3.1): password algorithms, and username anonymity since USERHASH of
 * static users is accepted.
 */
static void table_prefix(struct table *t)
{
	uint32_t sf = STUN_SF_PASSWORD_ALGORITHMS | STUN_SF_USERNAME_ANONYMITY;
	unsigned char bits[3] = {(unsigned char)(sf >> 16), (unsigned char)(sf >> 8),
	                         (unsigned char)sf};
	unsigned char b64[NONCE_SF_LEN + 1];

	t->prefix_len = 0;
	if (!t->sha256)
		return;
	EVP_EncodeBlock(b64, bits, sizeof(bits));
	memcpy(t->prefix, STUN_NONCE_COOKIE, STUN_NONCE_COOKIE_LEN);
	memcpy(t->prefix + STUN_NONCE_COOKIE_LEN, b64, NONCE_SF_LEN);
	t->prefix_len = NONCE_PFX_MAX;
}

static int table_build(struct auth *a, const struct config *cfg, struct table **out)
{
	struct table *t;
	int rc = -ENOMEM;

	*out = NULL;
	if (cfg->n_users > CFG_MAX_USERS || (cfg->n_users && !cfg->users))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->realm_len = strnlen(cfg->realm, CFG_STR);
	t->rest_len = strnlen(cfg->rest_secret, CFG_STR);
	t->nonce_key_len = strnlen(cfg->nonce_secret, CFG_STR);
	if (t->realm_len == 0 || t->realm_len == CFG_STR || t->rest_len == CFG_STR ||
	    t->nonce_key_len == CFG_STR) {
		rc = -EINVAL;
		goto bad;
	}
	t->realm = realm_intern(a, cfg->realm, t->realm_len);
	if (!t->realm)
		goto bad;
	memcpy(t->rest_secret, cfg->rest_secret, t->rest_len);
	if (t->nonce_key_len) {
		memcpy(t->nonce_key, cfg->nonce_secret, t->nonce_key_len);
	} else {
		/* Single node only: a sibling cannot check these nonces. */
		memcpy(t->nonce_key, a->random_secret, SECRET_RANDOM);
		t->nonce_key_len = SECRET_RANDOM;
	}
	t->nonce_lifetime = cfg->nonce_lifetime ? cfg->nonce_lifetime : 600;
	t->sha256 = cfg->sha256;
	table_prefix(t);

	t->users = userset_new(cfg->n_users, t->realm, t->realm_len);
	if (!t->users)
		goto bad;
	for (unsigned i = 0; i < cfg->n_users; i++) {
		const struct cfg_user *cu = &cfg->users[i];
		size_t nlen = strnlen(cu->name, CFG_STR), plen = strnlen(cu->password, CFG_STR);

		rc = -EINVAL;
		if (nlen == CFG_STR || plen == CFG_STR ||
		    (rc = userset_add_password(t->users, cu->name, nlen, cu->password, plen)) < 0)
			goto bad;
	}
	*out = t;
	return 0;
bad:
	table_free(t);
	return rc;
}

static void auth_publish(struct auth *a, struct table *t)
{
	__atomic_store_n(&a->realm, t->realm, __ATOMIC_RELEASE);
	__atomic_store_n(&a->sha256, t->sha256, __ATOMIC_RELAXED);
}

struct auth *auth_new(const struct config *cfg)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	pthread_rwlock_init(&a->lock, NULL);
	pthread_mutex_init(&a->reload_lock, NULL);
	if (RAND_bytes(a->random_secret, sizeof(a->random_secret)) != 1 ||
	    table_build(a, cfg, &a->t) < 0) {
		auth_free(a);
		return NULL;
	}
	auth_publish(a, a->t);
	return a;
}

void auth_free(struct auth *a)
{
	struct realm_name *r;

	if (!a)
		return;
	table_free(a->t);
	auth_db_free(a->db);
	while ((r = a->realms)) {
		a->realms = r->next;
		free(r);
	}
	pthread_rwlock_destroy(&a->lock);
	pthread_mutex_destroy(&a->reload_lock);
	OPENSSL_cleanse(a->random_secret, sizeof(a->random_secret));
	free(a);
}

/*
 * Also takes the nonce secret, lifetime and sha256 flag: nonces made under
 * the old ones become BAD, which costs each client one 438 round trip.
 * A random nonce secret ("") survives reloads.
 */
int auth_reload(struct auth *a, const struct config *cfg)
{
	struct table *t, *old;
	int rc;

	pthread_mutex_lock(&a->reload_lock);
	rc = table_build(a, cfg, &t);
	if (rc == 0) {
		pthread_rwlock_wrlock(&a->lock);
		old = a->t;
		a->t = t;
		pthread_rwlock_unlock(&a->lock);
		auth_publish(a, t);
		table_free(old);
	}
	pthread_mutex_unlock(&a->reload_lock);
	return rc;
}

/* "expiry" or "expiry:anything", expiry in decimal seconds since the epoch. */
static int rest_expiry(const char *user, size_t ulen, uint64_t *expiry)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < ulen && user[i] != ':'; i++) {
		unsigned d = (unsigned)(user[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (i == 0)
		return -EINVAL;
	*expiry = v;
	return 0;
}

/*
 * draft-uberti-behave-turn-rest-00 §2.2, as coturn's use-auth-secret does it:
 * password = base64(HMAC-SHA1(secret, username)), and the long-term key is
 * then derived from it like any other password.
 */
static int rest_key(const struct table *t, const char *secret, size_t slen, const char *user,
                    size_t ulen, uint16_t alg, uint8_t key[32])
{
	unsigned char mac[STUN_HMAC_MAX];
	unsigned char pass[REST_PASS_LEN + 1];
	int rc;

	if (stun_hmac(STUN_HASH_SHA1, (const uint8_t *)secret, slen, user, ulen, NULL, 0, mac) !=
	    20)
		return -EIO;
	EVP_EncodeBlock(pass, mac, 20);
	rc = stun_key_longterm(alg, user, ulen, t->realm, t->realm_len, (const char *)pass,
	                       REST_PASS_LEN, key);
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_cleanse(pass, sizeof(pass));
	return rc;
}

/* The database snapshot, if it was built for the running realm. Lock held. */
static const struct auth_db *db_current(const struct auth *a)
{
	return a->db && a->db_realm == a->t->realm ? a->db : NULL;
}

/*
 * The idx-th REST secret active at now_s: the configured one first, then the
 * database's in their order. The expiry in the username is checked before
 * any HMAC.
 */
static int rest_key_at(const struct auth *a, const char *user, size_t ulen, uint16_t alg,
                       uint64_t now_s, unsigned idx, uint8_t key[32])
{
	const struct table *t = a->t;
	const struct auth_db *d = db_current(a);
	uint64_t expiry;

	if (rest_expiry(user, ulen, &expiry) < 0)
		return -ENOENT;
	if (t->rest_len && idx-- == 0)
		return expiry < now_s
		               ? -EKEYEXPIRED
		               : rest_key(t, t->rest_secret, t->rest_len, user, ulen, alg, key);
	for (unsigned i = 0; d && i < d->n_secrets; i++) {
		const struct auth_db_secret *s = &d->secrets[i];

		if (s->not_after && s->not_after < now_s)
			continue;
		if (idx-- == 0)
			return expiry < now_s ? -EKEYEXPIRED
			                      : rest_key(t, s->s, s->len, user, ulen, alg, key);
	}
	return -ENOENT;
}

/* YAML users win over the database's (docs/operations.md, "Users"). Lock held. */
static const struct userset_user *user_find(const struct auth *a, const char *user, size_t ulen)
{
	const struct userset_user *u = userset_find(a->t->users, user, ulen);
	const struct auth_db *d;

	if (!u && (d = db_current(a)))
		u = userset_find(d->users, user, ulen);
	return u;
}

int auth_key_at(struct auth *a, const char *user, size_t ulen, uint16_t alg, uint64_t now_s,
                unsigned idx, uint8_t key[32])
{
	const struct userset_user *u;
	int rc;

	if (ulen == 0 || ulen > USER_MAX || (alg != STUN_PWALG_MD5 && alg != STUN_PWALG_SHA256))
		return -EINVAL;
	pthread_rwlock_rdlock(&a->lock);
	u = user_find(a, user, ulen);
	if (u && idx > 0) {
		rc = -ENOENT;
	} else if (u && alg == STUN_PWALG_MD5) {
		memcpy(key, u->key_md5, 16);
		rc = 16;
	} else if (u) {
		memcpy(key, u->key_sha256, 32);
		rc = 32;
	} else {
		rc = rest_key_at(a, user, ulen, alg, now_s, idx, key);
	}
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

int auth_key(struct auth *a, const char *user, size_t ulen, uint16_t alg, uint64_t now_s,
             uint8_t key[32])
{
	return auth_key_at(a, user, ulen, alg, now_s, 0, key);
}

int auth_userhash_find(struct auth *a, const uint8_t hash[32], char *user, size_t userlen)
{
	const struct userset_user *u;
	const struct auth_db *d;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&a->lock);
	u = userset_find_hash(a->t->users, hash);
	if (!u && (d = db_current(a)))
		u = userset_find_hash(d->users, hash);
	if (u && u->len >= userlen) {
		rc = -ENOSPC;
	} else if (u) {
		memcpy(user, u->name, u->len);
		user[u->len] = '\0';
		rc = 0;
	}
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

void auth_user_limits(struct auth *a, const char *user, uint32_t *quota, uint64_t *bandwidth)
{
	const struct userset_user *u;

	pthread_rwlock_rdlock(&a->lock);
	u = user_find(a, user, strlen(user));
	if (u && u->quota != USERSET_QUOTA_DEFAULT)
		*quota = u->quota;
	if (u && u->bandwidth != USERSET_BW_DEFAULT)
		*bandwidth = u->bandwidth;
	pthread_rwlock_unlock(&a->lock);
}

const char *auth_realm(struct auth *a)
{
	return __atomic_load_n(&a->realm, __ATOMIC_ACQUIRE);
}

bool auth_sha256_enabled(const struct auth *a)
{
	return __atomic_load_n(&a->sha256, __ATOMIC_RELAXED);
}
