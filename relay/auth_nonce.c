/*
 * Stateless nonces (DESIGN decision 6): an HMAC over the nonce secret, a
 * time bucket and the client's address, so that a sibling with the same
 * secret accepts them, with the RFC 8489 security-feature prefix.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

#include "relay/auth.h"
#include "relay/auth_int.h"

#define NONCE_BUCKET_S 16 /* nonces are identical for a client within a bucket */
#define NONCE_SKEW_S   60 /* clock difference tolerated between siblings */
#define NONCE_MAC_LEN  16
#define NONCE_RAW_LEN  (4 + NONCE_MAC_LEN)
#define NONCE_HEX_LEN  (2 * NONCE_RAW_LEN)

/*
 * The MAC covers the prefix too, so a man in the middle who strips the
 * security-feature cookie (to bid the client down to MD5, RFC 8489 §9.2.1)
 * turns the nonce BAD. It covers the port as well as the address (issue
 * 17): a request captured from one port does not replay from another port
 * of the same address (another user behind the same NAT). A client whose
 * NAT rebinds, or who opens a new TCP connection, pays one 438 round trip.
 */
static int nonce_mac(const struct table *t, const struct tw_addr *client, uint32_t bucket,
                     uint8_t out[NONCE_MAC_LEN])
{
	uint8_t msg[NONCE_PFX_MAX + 4 + 1 + 16 + 2], mac[STUN_HMAC_MAX];
	size_t n = t->prefix_len, iplen = tw_addr_iplen(client);

	memcpy(msg, t->prefix, n);
	msg[n++] = (uint8_t)(bucket >> 24);
	msg[n++] = (uint8_t)(bucket >> 16);
	msg[n++] = (uint8_t)(bucket >> 8);
	msg[n++] = (uint8_t)bucket;
	msg[n++] = client->family;
	memcpy(msg + n, client->ip, iplen);
	n += iplen;
	msg[n++] = (uint8_t)(client->port >> 8);
	msg[n++] = (uint8_t)client->port;
	if (stun_hmac(STUN_HASH_SHA256, t->nonce_key, t->nonce_key_len, msg, n, NULL, 0, mac) < 0)
		return -EIO;
	memcpy(out, mac, NONCE_MAC_LEN);
	return 0;
}

static const char hexdigits[] = "0123456789abcdef";

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t auth_nonce_make(struct auth *a, const struct tw_addr *client, uint64_t now_s,
                       char out[AUTH_NONCE_MAX + 1])
{
	uint8_t raw[NONCE_RAW_LEN];
	uint32_t bucket = (uint32_t)(now_s / NONCE_BUCKET_S);
	size_t n;
	int rc;

	raw[0] = (uint8_t)(bucket >> 24);
	raw[1] = (uint8_t)(bucket >> 16);
	raw[2] = (uint8_t)(bucket >> 8);
	raw[3] = (uint8_t)bucket;
	pthread_rwlock_rdlock(&a->lock);
	n = a->t->prefix_len;
	memcpy(out, a->t->prefix, n);
	rc = nonce_mac(a->t, client, bucket, raw + 4);
	pthread_rwlock_unlock(&a->lock);
	if (rc < 0) {
		/* Only an OpenSSL failure gets here; "" is never a valid nonce. */
		out[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[n++] = hexdigits[raw[i] >> 4];
		out[n++] = hexdigits[raw[i] & 0xf];
	}
	out[n] = '\0';
	return n;
}

/*
 * Cheap checks first (length, prefix, encoding), then one HMAC. An authentic
 * nonce outside [now - lifetime, now + skew] is STALE in both directions:
 * either way the client gets a 438 and a fresh nonce. Age counts from the
 * start of the bucket, so a nonce never outlives nonce_lifetime.
 */
enum auth_nonce auth_nonce_check(struct auth *a, const struct tw_addr *client, const uint8_t *nonce,
                                 size_t len, uint64_t now_s)
{
	uint8_t raw[NONCE_RAW_LEN], mac[NONCE_MAC_LEN];
	enum auth_nonce rc = AUTH_NONCE_BAD;
	const struct table *t;
	const uint8_t *hex;
	uint64_t issued;
	uint32_t bucket;

	if (len > AUTH_NONCE_MAX)
		return AUTH_NONCE_BAD;
	pthread_rwlock_rdlock(&a->lock);
	t = a->t;
	if (len != t->prefix_len + NONCE_HEX_LEN || memcmp(nonce, t->prefix, t->prefix_len) != 0)
		goto done;
	hex = nonce + t->prefix_len;
	for (size_t i = 0; i < sizeof(raw); i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto done;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	bucket = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
	if (nonce_mac(t, client, bucket, mac) < 0 ||
	    CRYPTO_memcmp(mac, raw + 4, NONCE_MAC_LEN) != 0)
		goto done;
	issued = (uint64_t)bucket * NONCE_BUCKET_S;
	if (issued > now_s + NONCE_SKEW_S || (now_s > issued && now_s - issued > t->nonce_lifetime))
		rc = AUTH_NONCE_STALE;
	else
		rc = AUTH_NONCE_OK;
done:
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

static int b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool auth_nonce_has_pwalgs(const uint8_t *nonce, size_t len)
{
	uint32_t sf = 0;

	if (len < NONCE_PFX_MAX || memcmp(nonce, STUN_NONCE_COOKIE, STUN_NONCE_COOKIE_LEN) != 0)
		return false;
	for (size_t i = 0; i < NONCE_SF_LEN; i++) {
		int v = b64_value(nonce[STUN_NONCE_COOKIE_LEN + i]);

		if (v < 0)
			return false;
		sf = sf << 6 | (uint32_t)v;
	}
	return (sf & STUN_SF_PASSWORD_ALGORITHMS) != 0;
}
