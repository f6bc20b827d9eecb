/*
 * Open-addressing tables over one array of users. Slots are at least twice
 * the capacity, so a probe always ends at an empty slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "proto/stun.h"
#include "relay/userset.h"

struct userset {
	struct userset_user *users;
	unsigned n, cap;
	uint32_t *by_name; /* index + 1; 0 = empty */
	uint32_t *by_hash; /* same, keyed by USERHASH */
	uint32_t mask;     /* slots - 1 */
	uint32_t seed;
	size_t name_bytes;
	char *realm;
	size_t realm_len;
};

/*
 * Keyed FNV-1a is enough here: only configured names are ever inserted, so a
 * client cannot lengthen a probe chain, only pick where its lookup starts.
 */
static uint32_t name_hash(const char *s, size_t len, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h ^ (h >> 15);
}

static uint32_t userhash_slot(const uint8_t hash[32])
{
	/* SHA-256 output is already uniform. */
	return (uint32_t)hash[0] << 24 | (uint32_t)hash[1] << 16 | (uint32_t)hash[2] << 8 | hash[3];
}

struct userset *userset_new(unsigned cap, const char *realm, size_t rlen)
{
	struct userset *s = calloc(1, sizeof(*s));
	size_t slots = 16;

	if (!s)
		return NULL;
	while (slots < 2 * (size_t)cap)
		slots *= 2;
	s->cap = cap;
	s->mask = (uint32_t)(slots - 1);
	s->users = calloc(cap ? cap : 1, sizeof(*s->users));
	s->by_name = calloc(slots, sizeof(*s->by_name));
	s->by_hash = calloc(slots, sizeof(*s->by_hash));
	s->realm = strndup(realm, rlen);
	s->realm_len = rlen;
	if (!s->users || !s->by_name || !s->by_hash || !s->realm ||
	    RAND_bytes((unsigned char *)&s->seed, sizeof(s->seed)) != 1) {
		userset_free(s);
		return NULL;
	}
	return s;
}

void userset_free(struct userset *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++)
		free(s->users[i].name);
	if (s->users)
		OPENSSL_cleanse(s->users, s->cap * sizeof(*s->users));
	free(s->users);
	free(s->by_name);
	free(s->by_hash);
	free(s->realm);
	free(s);
}

const struct userset_user *userset_find(const struct userset *s, const char *name, size_t len)
{
	uint32_t i = name_hash(name, len, s->seed) & s->mask;

	for (;; i = (i + 1) & s->mask) {
		uint32_t v = s->by_name[i];
		const struct userset_user *u;

		if (v == 0)
			return NULL;
		u = &s->users[v - 1];
		if (u->len == len && memcmp(u->name, name, len) == 0)
			return u;
	}
}

const struct userset_user *userset_find_hash(const struct userset *s, const uint8_t hash[32])
{
	uint32_t i = userhash_slot(hash) & s->mask;

	for (;; i = (i + 1) & s->mask) {
		uint32_t v = s->by_hash[i];

		if (v == 0)
			return NULL;
		if (memcmp(s->users[v - 1].userhash, hash, 32) == 0)
			return &s->users[v - 1];
	}
}

/* The next free user, its name set; NULL with *rc set. */
static struct userset_user *user_slot_new(struct userset *s, const char *name, size_t len, int *rc)
{
	struct userset_user *u;

	*rc = -EINVAL;
	if (len == 0 || len > USERSET_NAME_MAX || memchr(name, '\0', len))
		return NULL;
	*rc = -ENOSPC;
	if (s->n == s->cap)
		return NULL;
	*rc = -EEXIST;
	if (userset_find(s, name, len))
		return NULL;
	*rc = -ENOMEM;
	u = &s->users[s->n];
	u->name = strndup(name, len);
	if (!u->name)
		return NULL;
	u->len = len;
	u->quota = USERSET_QUOTA_DEFAULT;
	u->bandwidth = USERSET_BW_DEFAULT;
	s->name_bytes += len + 1;
	return u;
}

/* Makes the user at s->n visible to the lookups. */
static void user_index(struct userset *s)
{
	struct userset_user *u = &s->users[s->n];
	uint32_t i;

	stun_userhash(u->name, u->len, s->realm, s->realm_len, u->userhash);
	s->n++;
	for (i = name_hash(u->name, u->len, s->seed) & s->mask; s->by_name[i];
	     i = (i + 1) & s->mask)
		;
	s->by_name[i] = s->n;
	/* Two names with one USERHASH would need a SHA-256 collision: first one wins. */
	for (i = userhash_slot(u->userhash) & s->mask; s->by_hash[i]; i = (i + 1) & s->mask)
		;
	s->by_hash[i] = s->n;
}

int userset_add(struct userset *s, const char *name, size_t len, const uint8_t md5[16],
                const uint8_t sha256[32], uint32_t quota, uint64_t bandwidth)
{
	struct userset_user *u;
	int rc;

	if (!(u = user_slot_new(s, name, len, &rc)))
		return rc;
	memcpy(u->key_md5, md5, 16);
	memcpy(u->key_sha256, sha256, 32);
	u->quota = quota;
	u->bandwidth = bandwidth;
	user_index(s);
	return 0;
}

/*
 * Strings are taken as configured: no OpaqueString (RFC 8265) processing, so
 * operators must configure names and passwords in their prepared form.
 */
int userset_add_password(struct userset *s, const char *name, size_t len, const char *pass,
                         size_t plen)
{
	struct userset_user *u;
	int rc;

	if (!(u = user_slot_new(s, name, len, &rc)))
		return rc;
	if ((rc = stun_key_longterm(STUN_PWALG_MD5, name, len, s->realm, s->realm_len, pass, plen,
	                            u->key_md5)) < 0 ||
	    (rc = stun_key_longterm(STUN_PWALG_SHA256, name, len, s->realm, s->realm_len, pass,
	                            plen, u->key_sha256)) < 0) {
		free(u->name);
		memset(u, 0, sizeof(*u));
		return rc;
	}
	user_index(s);
	return 0;
}

unsigned userset_count(const struct userset *s)
{
	return s->n;
}

size_t userset_bytes(const struct userset *s)
{
	return sizeof(*s) + s->cap * sizeof(*s->users) +
	       2 * ((size_t)s->mask + 1) * sizeof(uint32_t) + s->name_bytes + s->realm_len + 1;
}

const struct userset_user *userset_at(const struct userset *s, unsigned i)
{
	return &s->users[i];
}

const char *userset_realm(const struct userset *s)
{
	return s->realm;
}
