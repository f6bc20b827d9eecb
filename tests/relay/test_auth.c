/*
 * relay/auth.c: long-term keys, TURN REST credentials, USERHASH, stateless
 * nonces. Expected keys were computed outside twist, with the openssl CLI:
 *   printf '%s' 'user:realm:pass' | openssl dgst -md5   (or -sha256)
 *   printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac secret -binary | base64
 * The USERHASH vector is the one in RFC 8489 Appendix B.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "proto/stun.h"
#include "relay/auth.h"
#include "relay/config.h"

/* U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9, RFC 5769 §2.4 and RFC 8489 B.1 */
#define MATRIX "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9"

#define REST_NOW  1690000000u
#define REST_EXP  1700000000u
#define NONCE_NOW 1700000000u

static struct cfg_user users[] = {
        {.name = MATRIX, .password = "TheMatrIX"},
        {.name = "alice", .password = "wonderland"},
        {.name = "bob", .password = "builder"},
};

static void cfg_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->realm, sizeof(cfg->realm), "example.org");
	cfg->users = users;
	cfg->n_users = sizeof(users) / sizeof(users[0]);
	snprintf(cfg->rest_secret, sizeof(cfg->rest_secret), "secret");
	snprintf(cfg->nonce_secret, sizeof(cfg->nonce_secret), "cluster-nonce-secret");
	cfg->nonce_lifetime = 600;
	cfg->sha256 = true;
}

static void client_v4(struct tw_addr *a, uint8_t last, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = TW_AF_INET;
	a->ip[0] = 192;
	a->ip[1] = 0;
	a->ip[2] = 2;
	a->ip[3] = last;
	a->port = port;
}

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	assert_int_equal(strlen(hex), 2 * n);
}

struct key_vec {
	const char *user;
	uint16_t alg;
	uint64_t now;
	int rc; /* key length or -errno */
	const char *hex;
};

static const struct key_vec key_vecs[] = {
        {MATRIX, STUN_PWALG_MD5, REST_NOW, 16, "e8ca7ad59d5eb0518e312911d2dab2a9"},
        {MATRIX, STUN_PWALG_SHA256, REST_NOW, 32,
         "dd295a613b9058c3c23d6dc7165bda072304d989c9d0af3a8c7e184b4f9bb4a1"},
        {"alice", STUN_PWALG_MD5, REST_NOW, 16, "72f86f2053703faa0f521ce71cfe6f59"},
        {"bob", STUN_PWALG_MD5, REST_NOW, 16, "b70615a74a524becc6960f540634bb00"},
        /* REST: password d8soP47RbdIKLDUOpnJPVQyq5Ts= */
        {"1700000000:alice", STUN_PWALG_MD5, REST_NOW, 16, "bf622ddfc24fa081c8e1cac50bba10cb"},
        {"1700000000:alice", STUN_PWALG_SHA256, REST_NOW, 32,
         "de1817f6c27f3a0deec0a3e7c49bb6944e6639c753f0d6978bdb619fcbf994a0"},
        /* REST, timestamp alone: password WGw37+g43pfwVUmrc9tgArn/juE= */
        {"1700000000", STUN_PWALG_MD5, REST_NOW, 16, "5e96c3639df74e7aa12c13b8cb7ff6d1"},
        /* expiry == now is still valid; one second later it is not */
        {"1700000000:alice", STUN_PWALG_MD5, REST_EXP, 16, "bf622ddfc24fa081c8e1cac50bba10cb"},
        {"1700000000:alice", STUN_PWALG_MD5, REST_EXP + 1, -EKEYEXPIRED, NULL},
        {"1700000000", STUN_PWALG_SHA256, REST_EXP + 3600, -EKEYEXPIRED, NULL},
        /* unknown */
        {"carol", STUN_PWALG_MD5, REST_NOW, -ENOENT, NULL},
        {"Alice", STUN_PWALG_MD5, REST_NOW, -ENOENT, NULL},
        {"alice:1700000000", STUN_PWALG_MD5, REST_NOW, -ENOENT, NULL},
        {":1700000000", STUN_PWALG_MD5, REST_NOW, -ENOENT, NULL},
        {"17000x0000:alice", STUN_PWALG_MD5, REST_NOW, -ENOENT, NULL},
        {"-1700000000:alice", STUN_PWALG_MD5, REST_NOW, -ENOENT, NULL},
        {"99999999999999999999999:alice", STUN_PWALG_MD5, REST_NOW, -ENOENT, NULL},
        /* invalid */
        {"", STUN_PWALG_MD5, REST_NOW, -EINVAL, NULL},
        {"alice", 0x0003, REST_NOW, -EINVAL, NULL},
        {"alice", 0, REST_NOW, -EINVAL, NULL},
};

static void test_key_table(void **state)
{
	struct config cfg;
	struct auth *a;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	for (size_t i = 0; i < sizeof(key_vecs) / sizeof(key_vecs[0]); i++) {
		const struct key_vec *v = &key_vecs[i];
		uint8_t key[32], want[32];
		int rc;

		memset(key, 0xaa, sizeof(key));
		rc = auth_key(a, v->user, strlen(v->user), v->alg, v->now, key);
		if (rc != v->rc)
			fail_msg("vector %zu (%s): rc %d, want %d", i, v->user, rc, v->rc);
		if (v->hex) {
			unhex(v->hex, want, (size_t)v->rc);
			assert_memory_equal(key, want, (size_t)v->rc);
		}
	}
	auth_free(a);
}

static void test_key_user_not_nul_terminated(void **state)
{
	struct config cfg;
	struct auth *a;
	uint8_t key[32], want[16];

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	/* the length counts, not a NUL: "alicexyz" cut to 5 is alice */
	assert_int_equal(auth_key(a, "alicexyz", 5, STUN_PWALG_MD5, REST_NOW, key), 16);
	unhex("72f86f2053703faa0f521ce71cfe6f59", want, 16);
	assert_memory_equal(key, want, 16);
	assert_int_equal(auth_key(a, "alice", 4, STUN_PWALG_MD5, REST_NOW, key), -ENOENT);
	auth_free(a);
}

static void test_rest_off(void **state)
{
	struct config cfg;
	struct auth *a;
	uint8_t key[32];

	(void)state;
	cfg_init(&cfg);
	cfg.rest_secret[0] = '\0';
	a = auth_new(&cfg);
	assert_non_null(a);
	assert_int_equal(auth_key(a, "1700000000:alice", 16, STUN_PWALG_MD5, REST_NOW, key),
	                 -ENOENT);
	assert_int_equal(auth_key(a, "alice", 5, STUN_PWALG_MD5, REST_NOW, key), 16);
	auth_free(a);
}

static void test_userhash(void **state)
{
	struct config cfg;
	struct auth *a;
	uint8_t hash[32];
	char name[64];

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	/* RFC 8489 Appendix B.1 */
	unhex("4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704", hash, 32);
	assert_int_equal(auth_userhash_find(a, hash, name, sizeof(name)), 0);
	assert_string_equal(name, MATRIX);
	/* too small for the name and its NUL */
	assert_int_equal(auth_userhash_find(a, hash, name, strlen(MATRIX)), -ENOSPC);
	hash[31] ^= 1;
	assert_int_equal(auth_userhash_find(a, hash, name, sizeof(name)), -ENOENT);
	auth_free(a);
}

static void test_realm_and_sha256(void **state)
{
	struct config cfg;
	struct auth *a;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	assert_string_equal(auth_realm(a), "example.org");
	assert_true(auth_sha256_enabled(a));
	auth_free(a);
	cfg.sha256 = false;
	a = auth_new(&cfg);
	assert_non_null(a);
	assert_false(auth_sha256_enabled(a));
	auth_free(a);
}

static void test_new_rejects(void **state)
{
	struct cfg_user dup[] = {{.name = "alice", .password = "a"},
	                         {.name = "alice", .password = "b"}};
	struct config cfg;

	(void)state;
	cfg_init(&cfg);
	cfg.realm[0] = '\0';
	assert_null(auth_new(&cfg));
	cfg_init(&cfg);
	cfg.users = dup;
	cfg.n_users = 2;
	assert_null(auth_new(&cfg));
	cfg_init(&cfg);
	cfg.n_users = CFG_MAX_USERS + 1;
	assert_null(auth_new(&cfg));
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

static void test_nonce_roundtrip(void **state)
{
	struct config cfg;
	struct auth *a;
	struct tw_addr c, other_port;
	char n[AUTH_NONCE_MAX + 1], n2[AUTH_NONCE_MAX + 1];
	size_t len;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	client_v4(&c, 10, 40000);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_true(len > 0 && len <= AUTH_NONCE_MAX);
	assert_int_equal(strlen(n), len);
	assert_true(printable(n));
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_OK);
	/* same IP, another port: another client (see test_nonce_port) */
	client_v4(&other_port, 10, 40001);
	assert_int_equal(auth_nonce_check(a, &other_port, (const uint8_t *)n, len, NONCE_NOW + 5),
	                 AUTH_NONCE_BAD);
	/* stateless: the same client in the same second gets the same nonce */
	assert_int_equal(auth_nonce_make(a, &c, NONCE_NOW, n2), len);
	assert_string_equal(n, n2);

	/* IPv6 client */
	memset(&c, 0, sizeof(c));
	c.family = TW_AF_INET6;
	c.ip[0] = 0x20;
	c.ip[1] = 0x01;
	c.ip[2] = 0x0d;
	c.ip[3] = 0xb8;
	c.ip[15] = 1;
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_OK);
	c.ip[15] = 2;
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	auth_free(a);
}

/*
 * Issue 17: a nonce is bound to the client's address and port, so a request
 * captured from 1.2.3.4:5000 does not replay from 1.2.3.4:5001 (another
 * user behind the same NAT) within the nonce's life.
 */
static void test_nonce_port(void **state)
{
	struct config cfg;
	struct auth *a;
	struct tw_addr c, d;
	char n[AUTH_NONCE_MAX + 1];
	size_t len;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	assert_int_equal(tw_addr_parse("1.2.3.4:5000", 0, &c), 0);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_true(len > 0);
	assert_int_equal(tw_addr_parse("1.2.3.4:5001", 0, &d), 0);
	assert_int_equal(auth_nonce_check(a, &d, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	assert_int_equal(tw_addr_parse("1.2.3.4:5000", 0, &d), 0);
	assert_int_equal(auth_nonce_check(a, &d, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_OK);
	/* IPv6: the same */
	assert_int_equal(tw_addr_parse("[2001:db8::4]:5000", 0, &c), 0);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_int_equal(tw_addr_parse("[2001:db8::4]:5001", 0, &d), 0);
	assert_int_equal(auth_nonce_check(a, &d, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_OK);
	auth_free(a);
}

static void test_nonce_other_client(void **state)
{
	struct config cfg;
	struct auth *a;
	struct tw_addr c, d;
	char n[AUTH_NONCE_MAX + 1];
	size_t len;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	client_v4(&c, 10, 40000);
	client_v4(&d, 11, 40000);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_int_equal(auth_nonce_check(a, &d, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	/* 192.0.2.10 as an IPv6 family address is another client too */
	d = c;
	d.family = TW_AF_INET6;
	assert_int_equal(auth_nonce_check(a, &d, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	auth_free(a);
}

static void test_nonce_stale(void **state)
{
	struct config cfg;
	struct auth *a;
	struct tw_addr c;
	char n[AUTH_NONCE_MAX + 1];
	size_t len;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	client_v4(&c, 10, 40000);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	/* buckets are at most 20 s, so this is within the lifetime... */
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW + 600 - 20),
	                 AUTH_NONCE_OK);
	/* ...and this is past it */
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW + 601),
	                 AUTH_NONCE_STALE);
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW + 86400),
	                 AUTH_NONCE_STALE);
	/* from a sibling whose clock is far ahead: ours, but not usable */
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW - 3600),
	                 AUTH_NONCE_STALE);
	/* a stale nonce for another client is still BAD */
	client_v4(&c, 11, 40000);
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW + 601),
	                 AUTH_NONCE_BAD);
	auth_free(a);

	/* a shorter configured lifetime counts */
	cfg.nonce_lifetime = 60;
	a = auth_new(&cfg);
	assert_non_null(a);
	client_v4(&c, 10, 40000);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW + 61),
	                 AUTH_NONCE_STALE);
	auth_free(a);
}

static void test_nonce_garbage(void **state)
{
	struct config cfg;
	struct auth *a;
	struct tw_addr c;
	char n[AUTH_NONCE_MAX + 1];
	uint8_t buf[AUTH_NONCE_MAX + 8];
	size_t len;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	client_v4(&c, 10, 40000);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);

	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)"", 0, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)"x", 1, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	assert_int_equal(
	        auth_nonce_check(a, &c, (const uint8_t *)STUN_NONCE_COOKIE "gAAA", 13, NONCE_NOW),
	        AUTH_NONCE_BAD);
	/* every truncation */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, i, NONCE_NOW),
		                 AUTH_NONCE_BAD);
	/* one byte more, and far more */
	memset(buf, '0', sizeof(buf));
	memcpy(buf, n, len);
	assert_int_equal(auth_nonce_check(a, &c, buf, len + 1, NONCE_NOW), AUTH_NONCE_BAD);
	assert_int_equal(auth_nonce_check(a, &c, buf, AUTH_NONCE_MAX + 1, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	assert_int_equal(auth_nonce_check(a, &c, buf, sizeof(buf), NONCE_NOW), AUTH_NONCE_BAD);
	/* every single-character change */
	for (size_t i = 0; i < len; i++) {
		static const char subst[] = {'0', 'f', 'A', 'F', '\0', '"', 0x7f, (char)0xff};

		for (size_t j = 0; j < sizeof(subst); j++) {
			if (n[i] == subst[j])
				continue;
			memcpy(buf, n, len);
			buf[i] = (uint8_t)subst[j];
			if (auth_nonce_check(a, &c, buf, len, NONCE_NOW) != AUTH_NONCE_BAD)
				fail_msg("nonce with byte %zu = 0x%02x accepted", i,
				         (unsigned)(uint8_t)subst[j]);
		}
	}
	/* the untouched nonce still passes, so the loop above tested something */
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_OK);
	auth_free(a);
}

/* DESIGN decision 6: the standby accepts the active's nonces. */
static void test_nonce_siblings(void **state)
{
	struct config cfg;
	struct auth *active, *standby, *stranger;
	struct tw_addr c;
	char n[AUTH_NONCE_MAX + 1];
	size_t len;

	(void)state;
	cfg_init(&cfg);
	active = auth_new(&cfg);
	standby = auth_new(&cfg);
	snprintf(cfg.nonce_secret, sizeof(cfg.nonce_secret), "another-cluster");
	stranger = auth_new(&cfg);
	assert_non_null(active);
	assert_non_null(standby);
	assert_non_null(stranger);
	client_v4(&c, 10, 40000);
	len = auth_nonce_make(active, &c, NONCE_NOW, n);
	assert_int_equal(auth_nonce_check(standby, &c, (const uint8_t *)n, len, NONCE_NOW + 30),
	                 AUTH_NONCE_OK);
	assert_int_equal(auth_nonce_check(stranger, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	len = auth_nonce_make(standby, &c, NONCE_NOW + 1, n);
	assert_int_equal(auth_nonce_check(active, &c, (const uint8_t *)n, len, NONCE_NOW + 2),
	                 AUTH_NONCE_OK);
	auth_free(active);
	auth_free(standby);
	auth_free(stranger);

	/* with no configured secret each process has its own */
	cfg.nonce_secret[0] = '\0';
	active = auth_new(&cfg);
	standby = auth_new(&cfg);
	assert_non_null(active);
	assert_non_null(standby);
	len = auth_nonce_make(active, &c, NONCE_NOW, n);
	assert_int_equal(auth_nonce_check(active, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_OK);
	assert_int_equal(auth_nonce_check(standby, &c, (const uint8_t *)n, len, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	auth_free(active);
	auth_free(standby);
}

static void test_nonce_cookie(void **state)
{
	struct config cfg;
	struct auth *a;
	struct tw_addr c;
	char n[AUTH_NONCE_MAX + 1];
	unsigned char sf[4];
	size_t len;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	client_v4(&c, 10, 40000);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_true(len > 13);
	assert_memory_equal(n, "obMatJos2", 9);
	/* RFC 8489 §18.3.1: 4 base64 characters, 24 bits; bit 0 (MSB) = password
	 * algorithms, bit 1 = username anonymity (USERHASH is accepted) */
	assert_int_equal(EVP_DecodeBlock(sf, (const unsigned char *)n + 9, 4), 3);
	assert_int_equal(sf[0], 0xc0);
	assert_int_equal(sf[1], 0);
	assert_int_equal(sf[2], 0);
	assert_true(auth_nonce_has_pwalgs((const uint8_t *)n, len));
	/* bid-down (RFC 8489 §9.2.1): the nonce without its cookie is not ours */
	assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)n + 13, len - 13, NONCE_NOW),
	                 AUTH_NONCE_BAD);
	auth_free(a);

	cfg.sha256 = false;
	a = auth_new(&cfg);
	assert_non_null(a);
	len = auth_nonce_make(a, &c, NONCE_NOW, n);
	assert_true(len > 0);
	assert_memory_not_equal(n, "obMatJos2", 9);
	assert_false(auth_nonce_has_pwalgs((const uint8_t *)n, len));

	/*
	 * The MAC covers the cookie: a sibling without SHA-256 (same secret)
	 * refuses the SHA-256 nonce with its cookie cut off, and a SHA-256
	 * node refuses a plain nonce with a cookie pasted on.
	 */
	{
		struct auth *b;
		char plain[AUTH_NONCE_MAX + 1], cookie[AUTH_NONCE_MAX + 1];
		char pasted[AUTH_NONCE_MAX + 1];
		size_t plen, clen;

		cfg.sha256 = true;
		b = auth_new(&cfg);
		assert_non_null(b);
		plen = auth_nonce_make(a, &c, NONCE_NOW, plain);
		clen = auth_nonce_make(b, &c, NONCE_NOW, cookie);
		assert_int_equal(clen, plen + 13);
		assert_int_equal(
		        auth_nonce_check(a, &c, (const uint8_t *)cookie + 13, plen, NONCE_NOW),
		        AUTH_NONCE_BAD);
		memcpy(pasted, cookie, 13);
		memcpy(pasted + 13, plain, plen);
		assert_int_equal(auth_nonce_check(b, &c, (const uint8_t *)pasted, clen, NONCE_NOW),
		                 AUTH_NONCE_BAD);
		/* each still accepts its own */
		assert_int_equal(auth_nonce_check(a, &c, (const uint8_t *)plain, plen, NONCE_NOW),
		                 AUTH_NONCE_OK);
		assert_int_equal(auth_nonce_check(b, &c, (const uint8_t *)cookie, clen, NONCE_NOW),
		                 AUTH_NONCE_OK);
		auth_free(b);
	}
	auth_free(a);

	assert_true(auth_nonce_has_pwalgs((const uint8_t *)"obMatJos2gAAA", 13));
	assert_true(auth_nonce_has_pwalgs((const uint8_t *)"obMatJos2wAAAxyz", 16));
	assert_false(auth_nonce_has_pwalgs((const uint8_t *)"obMatJos2QAAA", 13)); /* bit 1 only */
	assert_false(auth_nonce_has_pwalgs((const uint8_t *)"obMatJos2gAA", 12));
	assert_false(auth_nonce_has_pwalgs((const uint8_t *)"obMatJos2g=AA", 13));
	assert_false(auth_nonce_has_pwalgs((const uint8_t *)"obMatJos3gAAA", 13));
}

static void test_reload(void **state)
{
	struct cfg_user carol[] = {{.name = "carol", .password = "secret"}};
	struct cfg_user dup[] = {{.name = "x", .password = "a"}, {.name = "x", .password = "b"}};
	struct config cfg;
	struct auth *a;
	const char *old_realm;
	uint8_t key[32], want[16], hash[32];
	char name[64];

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	old_realm = auth_realm(a);

	cfg.users = carol;
	cfg.n_users = 1;
	snprintf(cfg.realm, sizeof(cfg.realm), "twist.test");
	cfg.rest_secret[0] = '\0';
	assert_int_equal(auth_reload(a, &cfg), 0);
	assert_int_equal(auth_key(a, "alice", 5, STUN_PWALG_MD5, REST_NOW, key), -ENOENT);
	assert_int_equal(auth_key(a, "1700000000:alice", 16, STUN_PWALG_MD5, REST_NOW, key),
	                 -ENOENT);
	assert_int_equal(auth_key(a, "carol", 5, STUN_PWALG_MD5, REST_NOW, key), 16);
	/* printf '%s' 'carol:twist.test:secret' | openssl dgst -md5 */
	unhex("ae379ce4516e5f736e3920e1de08136e", want, 16);
	assert_memory_equal(key, want, 16);
	assert_string_equal(auth_realm(a), "twist.test");
	/* the old pointer is still valid and still says what it said */
	assert_string_equal(old_realm, "example.org");
	unhex("4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704", hash, 32);
	assert_int_equal(auth_userhash_find(a, hash, name, sizeof(name)), -ENOENT);

	/* a bad config leaves the running table alone */
	cfg.users = dup;
	cfg.n_users = 2;
	assert_true(auth_reload(a, &cfg) < 0);
	assert_int_equal(auth_key(a, "carol", 5, STUN_PWALG_MD5, REST_NOW, key), 16);

	/* back to the first realm: the same string is reused */
	cfg_init(&cfg);
	assert_int_equal(auth_reload(a, &cfg), 0);
	assert_ptr_equal(auth_realm(a), old_realm);
	assert_int_equal(auth_key(a, "alice", 5, STUN_PWALG_MD5, REST_NOW, key), 16);
	auth_free(a);
}

struct reader {
	struct auth *a;
	int errors;
};

static void *reader_run(void *arg)
{
	struct reader *r = arg;
	struct tw_addr c;
	char n[AUTH_NONCE_MAX + 1];
	uint8_t key[32];

	client_v4(&c, 10, 40000);
	for (int i = 0; i < 2000; i++) {
		int rc = auth_key(r->a, "alice", 5, STUN_PWALG_MD5, REST_NOW, key);
		size_t len = auth_nonce_make(r->a, &c, NONCE_NOW, n);

		if (rc != 16 && rc != -ENOENT)
			r->errors++;
		if (auth_nonce_check(r->a, &c, (const uint8_t *)n, len, NONCE_NOW) != AUTH_NONCE_OK)
			r->errors++;
		(void)auth_realm(r->a)[0];
	}
	return NULL;
}

/* Lookups while the table is swapped: ASan catches a use after free. */
static void test_reload_concurrent(void **state)
{
	struct cfg_user carol[] = {{.name = "carol", .password = "secret"}};
	struct reader r[4];
	pthread_t th[4];
	struct config cfg;
	struct auth *a;

	(void)state;
	cfg_init(&cfg);
	a = auth_new(&cfg);
	assert_non_null(a);
	for (int i = 0; i < 4; i++) {
		r[i].a = a;
		r[i].errors = 0;
		assert_int_equal(pthread_create(&th[i], NULL, reader_run, &r[i]), 0);
	}
	for (int i = 0; i < 200; i++) {
		cfg_init(&cfg);
		if (i & 1) {
			cfg.users = carol;
			cfg.n_users = 1;
			snprintf(cfg.realm, sizeof(cfg.realm), "realm%d", i % 3);
		}
		assert_int_equal(auth_reload(a, &cfg), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].errors, 0);
	}
	auth_free(a);
}

static void test_free_null(void **state)
{
	(void)state;
	auth_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_table),
	        cmocka_unit_test(test_key_user_not_nul_terminated),
	        cmocka_unit_test(test_rest_off),
	        cmocka_unit_test(test_userhash),
	        cmocka_unit_test(test_realm_and_sha256),
	        cmocka_unit_test(test_new_rejects),
	        cmocka_unit_test(test_nonce_roundtrip),
	        cmocka_unit_test(test_nonce_port),
	        cmocka_unit_test(test_nonce_other_client),
	        cmocka_unit_test(test_nonce_stale),
	        cmocka_unit_test(test_nonce_garbage),
	        cmocka_unit_test(test_nonce_siblings),
	        cmocka_unit_test(test_nonce_cookie),
	        cmocka_unit_test(test_reload),
	        cmocka_unit_test(test_reload_concurrent),
	        cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
