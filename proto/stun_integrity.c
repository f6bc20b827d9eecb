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
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "proto/cursor.h"
#include "proto/stun.h"

#define FP_XOR     0x5354554eu /* RFC 8489 §14.7: "STUN" */
#define MI_LEN     20
#define MI256_MIN  16
#define MI256_MAX  32
#define MI256_STEP 4

/*
 * Digests are fetched once per process. OpenSSL 3 looks a digest up by
 * name on every implicit fetch (EVP_MAC_fetch, EVP_md5() in a digest call):
 * about 1.5 us each, more than the hash of a STUN message itself, paid
 * several times per request. Fetched EVP_MDs are immutable and shared by
 * all threads; they live as long as the process.
 */
static EVP_MD *md_tab[STUN_HASH_SHA256 + 1];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
	md_tab[STUN_HASH_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	md_tab[STUN_HASH_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
	md_tab[STUN_HASH_SHA256] = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

static const EVP_MD *md_get(enum stun_hash h)
{
	pthread_once(&md_once, md_fetch);
	return (unsigned)h < sizeof(md_tab) / sizeof(md_tab[0]) ? md_tab[h] : NULL;
}

struct piece {
	const void *p;
	size_t n;
};

/* The digest of the pieces in order, on a context the caller owns; its
 * length or -EIO. */
static int digestv_on(EVP_MD_CTX *ctx, const EVP_MD *md, const struct piece *pc, unsigned npc,
                      uint8_t *out)
{
	unsigned outlen = 0;

	if (!EVP_DigestInit_ex2(ctx, md, NULL))
		return -EIO;
	for (unsigned i = 0; i < npc; i++)
		if (pc[i].n && !EVP_DigestUpdate(ctx, pc[i].p, pc[i].n))
			return -EIO;
	return EVP_DigestFinal_ex(ctx, out, &outlen) ? (int)outlen : -EIO;
}

/* The same with a context of its own; -ENOSYS for an unknown hash. */
static int digestv(enum stun_hash h, const struct piece *pc, unsigned npc, uint8_t *out)
{
	const EVP_MD *md = md_get(h);
	EVP_MD_CTX *ctx;
	int rc;

	if (!md)
		return -ENOSYS;
	if (!(ctx = EVP_MD_CTX_new()))
		return -ENOMEM;
	rc = digestv_on(ctx, md, pc, npc, out);
	EVP_MD_CTX_free(ctx);
	return rc;
}

#define HMAC_BLOCK 64 /* SHA-1 and SHA-256 */

/* RFC 2104 over a || b, with SHA-1 or SHA-256. */
int stun_hmac(enum stun_hash h, const uint8_t *key, size_t keylen, const void *a, size_t alen,
              const void *b, size_t blen, uint8_t out[STUN_HMAC_MAX])
{
	uint8_t k[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK], inner[STUN_HMAC_MAX];
	const EVP_MD *md;
	EVP_MD_CTX *ctx;
	int rc = 0;

	if (h != STUN_HASH_SHA1 && h != STUN_HASH_SHA256)
		return -EINVAL;
	if (!(md = md_get(h)))
		return -ENOSYS;
	if (!(ctx = EVP_MD_CTX_new()))
		return -ENOMEM;
	if (keylen > HMAC_BLOCK)
		rc = digestv_on(ctx, md, (struct piece[]){{key, keylen}}, 1, k);
	else if (keylen)
		memcpy(k, key, keylen);
	if (rc >= 0) {
		for (unsigned i = 0; i < HMAC_BLOCK; i++)
			pad[i] = k[i] ^ 0x36;
		rc = digestv_on(ctx, md, (struct piece[]){{pad, sizeof(pad)}, {a, alen}, {b, blen}},
		                3, inner);
	}
	if (rc >= 0) {
		for (unsigned i = 0; i < HMAC_BLOCK; i++)
			pad[i] = k[i] ^ 0x5c;
		rc = digestv_on(ctx, md, (struct piece[]){{pad, sizeof(pad)}, {inner, (size_t)rc}},
		                2, out);
	}
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
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
	if (stun_hmac(STUN_HASH_SHA1, key, keylen, hdr, STUN_HDR_LEN, m->buf + STUN_HDR_LEN,
	              body_before(a), mac) != MI_LEN)
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
	if (stun_hmac(STUN_HASH_SHA256, key, keylen, hdr, STUN_HDR_LEN, m->buf + STUN_HDR_LEN,
	              body_before(a), mac) != MI256_MAX)
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

/* H(a ":" b [":" c]), the credential digests of RFC 8489 §9.2.2 and §14.4. */
static int digest_cred(enum stun_hash h, const char *a, size_t alen, const char *b, size_t blen,
                       const char *c, size_t clen, uint8_t *out)
{
	struct piece pc[] = {{a, alen}, {":", 1}, {b, blen}, {":", 1}, {c, clen}};

	return digestv(h, pc, c ? 5 : 3, out);
}

int stun_key_longterm(uint16_t alg, const char *user, size_t ulen, const char *realm, size_t rlen,
                      const char *pass, size_t plen, uint8_t *out)
{
	enum stun_hash h;

	switch (alg) {
	case STUN_PWALG_MD5:
		h = STUN_HASH_MD5;
		break;
	case STUN_PWALG_SHA256:
		h = STUN_HASH_SHA256;
		break;
	default:
		return -EINVAL;
	}
	return digest_cred(h, user, ulen, realm, rlen, pass ? pass : "", plen, out);
}

void stun_userhash(const char *user, size_t ulen, const char *realm, size_t rlen, uint8_t out[32])
{
	if (digest_cred(STUN_HASH_SHA256, user, ulen, realm, rlen, NULL, 0, out) != 32)
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
	if (stun_hmac(STUN_HASH_SHA1, key, keylen, w->buf, start, NULL, 0, mac) != MI_LEN) {
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
	if (stun_hmac(STUN_HASH_SHA256, key, keylen, w->buf, start, NULL, 0, mac) != MI256_MAX) {
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
