/*
 * Typed attribute values (RFC 8489 §14, RFC 8656 §18) and the message
 * writer. Getters read only through a cursor over the attribute's value and
 * insist on the exact length wherever the RFC fixes one.
 */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/stun.h"

/* RFC 8489 §14.8: fewer than 128 characters, at most 763 bytes of UTF-8. */
#define REASON_MAX 763

static void attr_cur(const struct stun_msg *m, const struct stun_attr *a, struct cur *c)
{
	cur_init(c, stun_attr_val(m, a), a->len);
}

/*
 * RFC 8489 §14.2: the port is XORed with the top of the cookie, the address
 * with the cookie (IPv4) or with the cookie and transaction ID (IPv6).
 */
static void xor_mask(const uint8_t tid[STUN_TID_LEN], uint8_t mask[16])
{
	put_u32(mask, STUN_MAGIC);
	memcpy(mask + 4, tid, STUN_TID_LEN);
}

/* RFC 8489 §14.1: 0, family, port, then 4 or 16 address bytes. */
static int addr_get(const struct stun_msg *m, const struct stun_attr *a, bool xor,
                    struct tw_addr *out)
{
	struct cur c;
	uint8_t reserved, family, mask[16];
	uint16_t port;
	size_t iplen;

	memset(out, 0, sizeof(*out));
	attr_cur(m, a, &c);
	if (cur_get_u8(&c, &reserved) < 0 || cur_get_u8(&c, &family) < 0 ||
	    cur_get_u16(&c, &port) < 0)
		return -EBADMSG;
	if (family == TW_AF_INET)
		iplen = 4;
	else if (family == TW_AF_INET6)
		iplen = 16;
	else
		return -EBADMSG;
	if (cur_left(&c) != iplen || cur_get_bytes(&c, out->ip, iplen) < 0)
		return -EBADMSG;
	if (xor) {
		xor_mask(m->tid, mask);
		port ^= (uint16_t)(STUN_MAGIC >> 16);
		for (size_t i = 0; i < iplen; i++)
			out->ip[i] ^= mask[i];
	}
	out->family = family;
	out->port = port;
	return 0;
}

int stun_attr_xaddr(const struct stun_msg *m, const struct stun_attr *a, struct tw_addr *out)
{
	return addr_get(m, a, true, out);
}

int stun_attr_addr(const struct stun_msg *m, const struct stun_attr *a, struct tw_addr *out)
{
	return addr_get(m, a, false, out);
}

int stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out)
{
	struct cur c;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u32(&c, out) < 0)
		return -EBADMSG;
	return 0;
}

int stun_attr_u64(const struct stun_msg *m, const struct stun_attr *a, uint64_t *out)
{
	struct cur c;
	uint32_t hi, lo;

	/* Two u32 reads: cur_get_u64() trips gcc's -Wmaybe-uninitialized under ASan. */
	attr_cur(m, a, &c);
	if (a->len != 8 || cur_get_u32(&c, &hi) < 0 || cur_get_u32(&c, &lo) < 0)
		return -EBADMSG;
	*out = (uint64_t)hi << 32 | lo;
	return 0;
}

/* RFC 8656 §18.7: protocol, then 3 bytes RFFU that we ignore. */
int stun_attr_transport(const struct stun_msg *m, const struct stun_attr *a, uint8_t *proto)
{
	struct cur c;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u8(&c, proto) < 0)
		return -EBADMSG;
	return 0;
}

/* RFC 8656 §18.10, §18.11: family, then 3 bytes reserved. */
int stun_attr_family(const struct stun_msg *m, const struct stun_attr *a, uint8_t *family)
{
	struct cur c;
	uint8_t f;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u8(&c, &f) < 0)
		return -EBADMSG;
	if (f != TW_AF_INET && f != TW_AF_INET6)
		return -EBADMSG;
	*family = f;
	return 0;
}

/* RFC 8656 §18.8: one byte, R in the top bit. */
int stun_attr_even_port(const struct stun_msg *m, const struct stun_attr *a, bool *reserve)
{
	struct cur c;
	uint8_t v;

	attr_cur(m, a, &c);
	if (a->len != 1 || cur_get_u8(&c, &v) < 0)
		return -EBADMSG;
	*reserve = (v & 0x80) != 0;
	return 0;
}

/* RFC 8656 §18.1: number, then 2 bytes RFFU. */
int stun_attr_channel(const struct stun_msg *m, const struct stun_attr *a, uint16_t *chan)
{
	struct cur c;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u16(&c, chan) < 0)
		return -EBADMSG;
	return 0;
}

/* RFC 8489 §14.8: 21 reserved bits, class (3..6), number (0..99), reason. */
int stun_attr_error(const struct stun_msg *m, const struct stun_attr *a, int *code,
                    const char **reason, size_t *reason_len)
{
	struct cur c;
	uint16_t reserved;
	uint8_t cls, num;

	attr_cur(m, a, &c);
	if (cur_get_u16(&c, &reserved) < 0 || cur_get_u8(&c, &cls) < 0 || cur_get_u8(&c, &num) < 0)
		return -EBADMSG;
	cls &= 0x07;
	if (cls < 3 || cls > 6 || num > 99 || cur_left(&c) > REASON_MAX)
		return -EBADMSG;
	*code = cls * 100 + num;
	*reason = (const char *)cur_ptr(&c);
	*reason_len = cur_left(&c);
	return 0;
}

/* RFC 8489 §14.12: algorithm, parameter length; both known ones take none. */
int stun_attr_password_alg(const struct stun_msg *m, const struct stun_attr *a, uint16_t *alg)
{
	struct cur c;
	uint16_t plen;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u16(&c, alg) < 0 || cur_get_u16(&c, &plen) < 0)
		return -EBADMSG;
	if (plen != 0)
		return -EBADMSG;
	return 0;
}

/* RFC 8489 §14.11: a list of (algorithm, length, parameters padded to 4). */
int stun_attr_password_algs(const struct stun_msg *m, const struct stun_attr *a,
                            struct stun_pwalgs *out)
{
	struct cur c;
	uint16_t alg, plen;

	memset(out, 0, sizeof(*out));
	attr_cur(m, a, &c);
	while (cur_left(&c) > 0) {
		if (out->n == sizeof(out->alg) / sizeof(out->alg[0]))
			return -EBADMSG;
		if (cur_get_u16(&c, &alg) < 0 || cur_get_u16(&c, &plen) < 0 ||
		    cur_skip(&c, ((size_t)plen + 3) & ~(size_t)3) < 0)
			return -EBADMSG;
		out->alg[out->n++] = alg;
	}
	return 0;
}

/*
 * Writer. Room is checked once per attribute in wr_reserve(); everything
 * after it writes into bytes that are known to be there.
 */
void stun_wr_init(struct stun_wr *w, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                  const uint8_t tid[STUN_TID_LEN])
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	memcpy(w->tid, tid, STUN_TID_LEN);
	if (buf)
		memset(buf, 0, cap);
	if (!buf || cap < STUN_HDR_LEN) {
		w->err = true;
		return;
	}
	put_u16(buf, stun_type_encode(method, cls));
	put_u16(buf + 2, 0);
	put_u32(buf + 4, STUN_MAGIC);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	w->len = STUN_HDR_LEN;
}

void stun_wr_classic(struct stun_wr *w, const uint8_t tid0[4])
{
	if (!w->err && w->len >= STUN_HDR_LEN)
		memcpy(w->buf + 4, tid0, 4);
}

/* Appends an attribute header and returns where its len value bytes go. */
static uint8_t *wr_reserve(struct stun_wr *w, uint16_t type, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;
	uint8_t *p;

	if (w->err)
		return NULL;
	/* The whole message must stay parseable: at most STUN_MAX_MSG bytes. */
	if (len > STUN_MAX_MSG || 4 + padded > w->cap - w->len ||
	    w->len + 4 + padded > STUN_MAX_MSG) {
		w->err = true;
		return NULL;
	}
	p = w->buf + w->len;
	put_u16(p, type);
	put_u16(p + 2, (uint16_t)len);
	memset(p + 4 + len, 0, padded - len);
	w->len += 4 + padded;
	put_u16(w->buf + 2, (uint16_t)(w->len - STUN_HDR_LEN));
	return p + 4;
}

void stun_wr_attr(struct stun_wr *w, uint16_t type, const void *val, size_t len)
{
	uint8_t *p = wr_reserve(w, type, len);

	if (p && len)
		memcpy(p, val, len);
}

void stun_wr_u32(struct stun_wr *w, uint16_t type, uint32_t v)
{
	uint8_t *p = wr_reserve(w, type, 4);

	if (p)
		put_u32(p, v);
}

void stun_wr_u64(struct stun_wr *w, uint16_t type, uint64_t v)
{
	uint8_t *p = wr_reserve(w, type, 8);

	if (p) {
		put_u32(p, (uint32_t)(v >> 32));
		put_u32(p + 4, (uint32_t)v);
	}
}

static void addr_put(struct stun_wr *w, uint16_t type, const struct tw_addr *a, bool xor)
{
	uint8_t mask[16], *p;
	size_t iplen;
	uint16_t port = a->port;

	if (a->family != TW_AF_INET && a->family != TW_AF_INET6) {
		w->err = true;
		return;
	}
	iplen = a->family == TW_AF_INET ? 4 : 16;
	if (!(p = wr_reserve(w, type, 4 + iplen)))
		return;
	p[0] = 0;
	p[1] = a->family;
	memcpy(p + 4, a->ip, iplen);
	if (xor) {
		xor_mask(w->tid, mask);
		port ^= (uint16_t)(STUN_MAGIC >> 16);
		for (size_t i = 0; i < iplen; i++)
			p[4 + i] ^= mask[i];
	}
	put_u16(p + 2, port);
}

void stun_wr_xaddr(struct stun_wr *w, uint16_t type, const struct tw_addr *a)
{
	addr_put(w, type, a, true);
}

void stun_wr_addr(struct stun_wr *w, uint16_t type, const struct tw_addr *a)
{
	addr_put(w, type, a, false);
}

/* ERROR-CODE (RFC 8489 §14.8), and ADDRESS-ERROR-CODE (RFC 8656 §18.12),
 * which puts the address family in the first reserved byte. */
static void wr_error_body(struct stun_wr *w, uint16_t type, uint8_t family, int code,
                          const char *reason)
{
	size_t rlen;
	uint8_t *p;

	if (code < 300 || code > 699) {
		w->err = true;
		return;
	}
	if (!reason)
		reason = stun_error_reason(code);
	rlen = strlen(reason);
	if (rlen > REASON_MAX) {
		w->err = true;
		return;
	}
	if (!(p = wr_reserve(w, type, 4 + rlen)))
		return;
	p[0] = family;
	p[1] = 0;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	memcpy(p + 4, reason, rlen);
}

void stun_wr_error(struct stun_wr *w, uint16_t type, int code, const char *reason)
{
	wr_error_body(w, type, 0, code, reason);
}

void stun_wr_address_error(struct stun_wr *w, uint8_t family, int code)
{
	wr_error_body(w, STUN_A_ADDRESS_ERROR_CODE, family, code, NULL);
}

void stun_wr_unknown(struct stun_wr *w, const uint16_t *types, size_t n)
{
	uint8_t *p;

	if (n > STUN_MAX_MSG / 2) {
		w->err = true;
		return;
	}
	if (!(p = wr_reserve(w, STUN_A_UNKNOWN_ATTRIBUTES, 2 * n)))
		return;
	for (size_t i = 0; i < n; i++)
		put_u16(p + 2 * i, types[i]);
}

/* RFC 8489 §14.11: the algorithms we know take no parameters. */
void stun_wr_password_algs(struct stun_wr *w, const uint16_t *algs, size_t n)
{
	uint8_t *p;

	if (n > STUN_MAX_MSG / 4) {
		w->err = true;
		return;
	}
	if (!(p = wr_reserve(w, STUN_A_PASSWORD_ALGORITHMS, 4 * n)))
		return;
	for (size_t i = 0; i < n; i++) {
		put_u16(p + 4 * i, algs[i]);
		put_u16(p + 4 * i + 2, 0);
	}
}

int stun_wr_finish(struct stun_wr *w)
{
	return w->err ? -ENOSPC : (int)w->len;
}
