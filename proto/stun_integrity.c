/*
 * MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489
 * §14.5-§14.7), long-term keys (§9.2.2) and USERHASH (§14.4). HMAC and the
 * digests come from OpenSSL, CRC-32 from zlib.
 *
 * Each check covers the message up to the attribute it checks, with the
 * header length rewritten as if that attribute were the last one. The
 * caller's buffer is const, so the header is rebuilt on the stack and fed to
 * the MAC ahead of the rest.
 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include "proto/cursor.h"
#include "proto/stun.h"

#define FP_XOR     0x5354554eu /* RFC 8489 §14.7: "STUN" */
#define MI_LEN     20
#define MI256_MIN  16
#define MI256_MAX  32
#define MI256_STEP 4

/* HMAC(key, hdr[0..20) || rest[0..restlen)); out must hold the full digest. */
static int hmac(const char *digest, const uint8_t *key, size_t keylen, const uint8_t *hdr,
                const uint8_t *rest, size_t restlen, uint8_t *out, size_t outcap)
{
	static const uint8_t nokey[1];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outlen = 0;
	int rc = -EIO;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A NULL key means "keep the old one" to OpenSSL: pass a real pointer. */
	if (!key || keylen == 0) {
		key = nokey;
		keylen = 0;
	}
	if (!(mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(ctx = EVP_MAC_CTX_new(mac)))
		goto done;
	if (!EVP_MAC_init(ctx, key, keylen, params) || !EVP_MAC_update(ctx, hdr, STUN_HDR_LEN) ||
	    !EVP_MAC_update(ctx, rest, restlen) || !EVP_MAC_final(ctx, out, &outlen, outcap))
		goto done;
	rc = (int)outlen;
done:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/* The header with its length covering everything up to and including a. */
static void hdr_upto(const struct stun_msg *m, const struct stun_attr *a, uint8_t hdr[STUN_HDR_LEN])
{
	size_t end = (size_t)a->off + (((size_t)a->len + 3) & ~(size_t)3);

	memcpy(hdr, m->buf, STUN_HDR_LEN);
	put_u16(hdr + 2, (uint16_t)(end - STUN_HDR_LEN));
}

/* Bytes between the header and the attribute header of a. */
static size_t body_before(const struct stun_attr *a)
{
	return (size_t)a->off - 4 - STUN_HDR_LEN;
}

bool stun_msg_integrity_ok(const struct stun_msg *m, const uint8_t *key, size_t keylen)
{
	const struct stun_attr *a;
	uint8_t hdr[STUN_HDR_LEN], mac[EVP_MAX_MD_SIZE];

	if (m->mi < 0)
		return false;
	a = &m->attr[m->mi];
	if (a->len != MI_LEN)
		return false;
	hdr_upto(m, a, hdr);
	if (hmac("SHA1", key, keylen, hdr, m->buf + STUN_HDR_LEN, body_before(a), mac,
	         sizeof(mac)) != MI_LEN)
		return false;
	return CRYPTO_memcmp(mac, stun_attr_val(m, a), MI_LEN) == 0;
}

/* RFC 8489 §14.6: the value may be truncated to 16..32 bytes, in steps of 4. */
bool stun_msg_integrity256_ok(const struct stun_msg *m, const uint8_t *key, size_t keylen)
{
	const struct stun_attr *a;
	uint8_t hdr[STUN_HDR_LEN], mac[EVP_MAX_MD_SIZE];

	if (m->mi256 < 0)
		return false;
	a = &m->attr[m->mi256];
	if (a->len < MI256_MIN || a->len > MI256_MAX || a->len % MI256_STEP != 0)
		return false;
	hdr_upto(m, a, hdr);
	if (hmac("SHA256", key, keylen, hdr, m->buf + STUN_HDR_LEN, body_before(a), mac,
	         sizeof(mac)) != MI256_MAX)
		return false;
	return CRYPTO_memcmp(mac, stun_attr_val(m, a), a->len) == 0;
}

static uint32_t fingerprint(const uint8_t *hdr, const uint8_t *rest, size_t restlen)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	crc = crc32(crc, hdr, STUN_HDR_LEN);
	crc = crc32(crc, rest, (uInt)restlen);
	return (uint32_t)crc ^ FP_XOR;
}

bool stun_msg_fingerprint_ok(const struct stun_msg *m)
{
	const struct stun_attr *a;
	uint8_t hdr[STUN_HDR_LEN];

	if (m->fp < 0)
		return false;
	a = &m->attr[m->fp];
	if (a->len != 4)
		return false;
	hdr_upto(m, a, hdr);
	return fingerprint(hdr, m->buf + STUN_HDR_LEN, body_before(a)) ==
	       peek_u32(stun_attr_val(m, a));
}

static int digest_cred(const EVP_MD *md, const char *a, size_t alen, const char *b, size_t blen,
                       const char *c, size_t clen, uint8_t out[32])
{
	EVP_MD_CTX *ctx;
	unsigned outlen = 0;
	int rc = -EIO;

	if (!(ctx = EVP_MD_CTX_new()))
		return -ENOMEM;
	if (!EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, a, alen) ||
	    !EVP_DigestUpdate(ctx, ":", 1) || !EVP_DigestUpdate(ctx, b, blen))
		goto done;
	if (c && (!EVP_DigestUpdate(ctx, ":", 1) || !EVP_DigestUpdate(ctx, c, clen)))
		goto done;
	if (!EVP_DigestFinal_ex(ctx, out, &outlen))
		goto done;
	rc = (int)outlen;
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int stun_key_longterm(uint16_t alg, const char *user, size_t ulen, const char *realm, size_t rlen,
                      const char *pass, size_t plen, uint8_t out[32])
{
	const EVP_MD *md;

	switch (alg) {
	case STUN_PWALG_MD5:
		md = EVP_md5();
		break;
	case STUN_PWALG_SHA256:
		md = EVP_sha256();
		break;
	default:
		return -EINVAL;
	}
	return digest_cred(md, user, ulen, realm, rlen, pass ? pass : "", plen, out);
}

void stun_userhash(const char *user, size_t ulen, const char *realm, size_t rlen, uint8_t out[32])
{
	if (digest_cred(EVP_sha256(), user, ulen, realm, rlen, NULL, 0, out) != 32)
		memset(out, 0, 32);
}

/*
 * Writers: the attribute goes in zeroed first, which also brings the header
 * length up to cover it; then the value is computed over what came before.
 */
void stun_wr_integrity(struct stun_wr *w, const uint8_t *key, size_t keylen)
{
	uint8_t mac[EVP_MAX_MD_SIZE] = {0};
	size_t start = w->len;

	stun_wr_attr(w, STUN_A_MESSAGE_INTEGRITY, mac, MI_LEN);
	if (w->err)
		return;
	if (hmac("SHA1", key, keylen, w->buf, w->buf + STUN_HDR_LEN, start - STUN_HDR_LEN, mac,
	         sizeof(mac)) != MI_LEN) {
		w->err = true;
		return;
	}
	memcpy(w->buf + start + 4, mac, MI_LEN);
}

void stun_wr_integrity256(struct stun_wr *w, const uint8_t *key, size_t keylen)
{
	uint8_t mac[EVP_MAX_MD_SIZE] = {0};
	size_t start = w->len;

	stun_wr_attr(w, STUN_A_MESSAGE_INTEGRITY_SHA256, mac, MI256_MAX);
	if (w->err)
		return;
	if (hmac("SHA256", key, keylen, w->buf, w->buf + STUN_HDR_LEN, start - STUN_HDR_LEN, mac,
	         sizeof(mac)) != MI256_MAX) {
		w->err = true;
		return;
	}
	memcpy(w->buf + start + 4, mac, MI256_MAX);
}

void stun_wr_fingerprint(struct stun_wr *w)
{
	static const uint8_t zero[4];
	size_t start = w->len;

	stun_wr_attr(w, STUN_A_FINGERPRINT, zero, sizeof(zero));
	if (w->err)
		return;
	put_u32(w->buf + start + 4,
	        fingerprint(w->buf, w->buf + STUN_HDR_LEN, start - STUN_HDR_LEN));
}
