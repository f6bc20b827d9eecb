/*
 * libFuzzer harness for proto/: STUN parsing, every typed getter on every
 * attribute, integrity and fingerprint checks, ChannelData framing, TCP
 * framing, and a writer round trip that must reproduce what was parsed.
 * Invariants that must hold for any input abort() when broken.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/chdata.h"
#include "proto/cursor.h"
#include "proto/demux.h"
#include "proto/stun.h"

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[] = "twist-fuzz-key";
#define FUZZ_KEYLEN (sizeof(fuzz_key) - 1)

static bool is_integrity(uint16_t type)
{
	return type == STUN_A_MESSAGE_INTEGRITY || type == STUN_A_MESSAGE_INTEGRITY_SHA256 ||
	       type == STUN_A_FINGERPRINT;
}

/* Every getter on every attribute, whatever its type: none may misbehave. */
static void attr_getters(const struct stun_msg *m, const struct stun_attr *a)
{
	struct tw_addr addr;
	struct stun_pwalgs algs;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;
	bool b;
	int code;
	const char *reason;
	size_t rlen;

	CHECK(a->off >= STUN_HDR_LEN + 4);
	CHECK((size_t)a->off + a->len <= m->len);
	CHECK(stun_attr_name(a->type) != NULL);
	if (stun_attr_xaddr(m, a, &addr) == 0)
		CHECK(addr.family == TW_AF_INET || addr.family == TW_AF_INET6);
	if (stun_attr_addr(m, a, &addr) == 0)
		CHECK(a->len == (addr.family == TW_AF_INET ? 8 : 20));
	if (stun_attr_u32(m, a, &u32) == 0)
		CHECK(a->len == 4);
	if (stun_attr_u64(m, a, &u64) == 0)
		CHECK(a->len == 8);
	if (stun_attr_transport(m, a, &u8) == 0)
		CHECK(a->len == 4);
	if (stun_attr_family(m, a, &u8) == 0)
		CHECK(u8 == TW_AF_INET || u8 == TW_AF_INET6);
	if (stun_attr_even_port(m, a, &b) == 0)
		CHECK(a->len == 1);
	if (stun_attr_channel(m, a, &u16) == 0)
		CHECK(a->len == 4);
	if (stun_attr_error(m, a, &code, &reason, &rlen) == 0) {
		CHECK(code >= 300 && code <= 699);
		CHECK(reason == (const char *)stun_attr_val(m, a) + 4 && rlen == a->len - 4u);
		CHECK(stun_error_reason(code) != NULL);
	}
	if (stun_attr_password_alg(m, a, &u16) == 0)
		CHECK(a->len == 4);
	if (stun_attr_password_algs(m, a, &algs) == 0)
		CHECK(algs.n <= 8 && (size_t)algs.n * 4 <= a->len);
}

static void auth_checks(const struct stun_msg *m)
{
	const struct stun_attr *user = stun_msg_find(m, STUN_A_USERNAME);
	const struct stun_attr *realm = stun_msg_find(m, STUN_A_REALM);
	uint8_t key[32], hash[32];
	int n;

	(void)stun_msg_integrity_ok(m, fuzz_key, FUZZ_KEYLEN);
	(void)stun_msg_integrity256_ok(m, fuzz_key, FUZZ_KEYLEN);
	(void)stun_msg_integrity_ok(m, NULL, 0);
	CHECK(stun_msg_fingerprint_ok(m) == false || m->fp == m->nattrs - 1);
	if (!user || !realm)
		return;
	n = stun_key_longterm(STUN_PWALG_SHA256, (const char *)stun_attr_val(m, user), user->len,
	                      (const char *)stun_attr_val(m, realm), realm->len, "pw", 2, key);
	CHECK(n == 32);
	(void)stun_msg_integrity256_ok(m, key, (size_t)n);
	n = stun_key_longterm(STUN_PWALG_MD5, (const char *)stun_attr_val(m, user), user->len,
	                      (const char *)stun_attr_val(m, realm), realm->len, "pw", 2, key);
	CHECK(n == 16);
	(void)stun_msg_integrity_ok(m, key, (size_t)n);
	stun_userhash((const char *)stun_attr_val(m, user), user->len,
	              (const char *)stun_attr_val(m, realm), realm->len, hash);
}

/* How the round trip re-encodes an attribute: typed when its value decodes. */
enum enc {
	ENC_RAW,
	ENC_XADDR,
	ENC_ADDR,
	ENC_U32,
	ENC_U64,
	ENC_ERROR,
	ENC_UNKNOWN,
	ENC_PWALGS,
};

static enum enc attr_enc(const struct stun_msg *m, const struct stun_attr *a)
{
	struct stun_pwalgs pw;
	struct tw_addr addr;
	const char *reason;
	size_t rlen;
	uint64_t u64;
	uint32_t u32;
	int code;

	switch (a->type) {
	case STUN_A_XOR_MAPPED_ADDRESS:
	case STUN_A_XOR_PEER_ADDRESS:
	case STUN_A_XOR_RELAYED_ADDRESS:
		return stun_attr_xaddr(m, a, &addr) == 0 ? ENC_XADDR : ENC_RAW;
	case STUN_A_MAPPED_ADDRESS:
	case STUN_A_ALTERNATE_SERVER:
		return stun_attr_addr(m, a, &addr) == 0 ? ENC_ADDR : ENC_RAW;
	case STUN_A_LIFETIME:
	case STUN_A_PRIORITY:
		return stun_attr_u32(m, a, &u32) == 0 ? ENC_U32 : ENC_RAW;
	case STUN_A_ICE_CONTROLLED:
	case STUN_A_ICE_CONTROLLING:
	case STUN_A_RESERVATION_TOKEN:
		return stun_attr_u64(m, a, &u64) == 0 ? ENC_U64 : ENC_RAW;
	case STUN_A_ERROR_CODE:
	case STUN_A_ADDRESS_ERROR_CODE:
		/* The writer takes a C string: reasons with a NUL go raw. */
		if (stun_attr_error(m, a, &code, &reason, &rlen) == 0 && !memchr(reason, 0, rlen))
			return ENC_ERROR;
		return ENC_RAW;
	case STUN_A_UNKNOWN_ATTRIBUTES:
		return a->len % 2 == 0 ? ENC_UNKNOWN : ENC_RAW;
	case STUN_A_PASSWORD_ALGORITHMS:
		if (stun_attr_password_algs(m, a, &pw) == 0 && (size_t)pw.n * 4 == a->len)
			return ENC_PWALGS;
		return ENC_RAW;
	default:
		return ENC_RAW;
	}
}

static void attr_rewrite(struct stun_wr *w, const struct stun_msg *m, const struct stun_attr *a)
{
	static uint16_t types[STUN_MAX_MSG / 2];
	static char reason_buf[1024];
	const uint8_t *v = stun_attr_val(m, a);
	struct stun_pwalgs pw;
	struct tw_addr addr;
	const char *reason;
	size_t rlen;
	uint64_t u64;
	uint32_t u32;
	int code;

	switch (attr_enc(m, a)) {
	case ENC_XADDR:
		CHECK(stun_attr_xaddr(m, a, &addr) == 0);
		stun_wr_xaddr(w, a->type, &addr);
		break;
	case ENC_ADDR:
		CHECK(stun_attr_addr(m, a, &addr) == 0);
		stun_wr_addr(w, a->type, &addr);
		break;
	case ENC_U32:
		CHECK(stun_attr_u32(m, a, &u32) == 0);
		stun_wr_u32(w, a->type, u32);
		break;
	case ENC_U64:
		CHECK(stun_attr_u64(m, a, &u64) == 0);
		stun_wr_u64(w, a->type, u64);
		break;
	case ENC_ERROR:
		CHECK(stun_attr_error(m, a, &code, &reason, &rlen) == 0);
		CHECK(rlen < sizeof(reason_buf));
		memcpy(reason_buf, reason, rlen);
		reason_buf[rlen] = '\0';
		stun_wr_error(w, a->type, code, reason_buf);
		break;
	case ENC_UNKNOWN:
		for (size_t i = 0; i < a->len / 2u; i++)
			types[i] = peek_u16(v + 2 * i);
		stun_wr_unknown(w, types, a->len / 2u);
		break;
	case ENC_PWALGS:
		CHECK(stun_attr_password_algs(m, a, &pw) == 0);
		stun_wr_password_algs(w, pw.alg, pw.n);
		break;
	case ENC_RAW:
		stun_wr_attr(w, a->type, v, a->len);
		break;
	}
}

/* The rewritten attribute b means what a meant; reserved bits may differ. */
static void attr_same(const struct stun_msg *m, const struct stun_attr *a,
                      const struct stun_msg *m2, const struct stun_attr *b)
{
	struct tw_addr x, y;
	const char *ra, *rb;
	size_t la, lb;
	int ca, cb;

	CHECK(a->type == b->type && a->len == b->len);
	switch (attr_enc(m, a)) {
	case ENC_XADDR:
		CHECK(stun_attr_xaddr(m, a, &x) == 0 && stun_attr_xaddr(m2, b, &y) == 0);
		CHECK(tw_addr_eq(&x, &y));
		break;
	case ENC_ADDR:
		CHECK(stun_attr_addr(m, a, &x) == 0 && stun_attr_addr(m2, b, &y) == 0);
		CHECK(tw_addr_eq(&x, &y));
		break;
	case ENC_ERROR:
		CHECK(stun_attr_error(m, a, &ca, &ra, &la) == 0);
		CHECK(stun_attr_error(m2, b, &cb, &rb, &lb) == 0);
		CHECK(ca == cb && la == lb && memcmp(ra, rb, la) == 0);
		break;
	default:
		CHECK(memcmp(stun_attr_val(m, a), stun_attr_val(m2, b), a->len) == 0);
		break;
	}
	/* Padding from the writer is always zero. */
	for (size_t k = b->len; k < (((size_t)b->len + 3) & ~(size_t)3); k++)
		CHECK(stun_attr_val(m2, b)[k] == 0);
}

/*
 * Rewrite the parsed message with the writer (typed attributes through their
 * typed writers), sign it, parse it again, and demand the same content.
 */
static void roundtrip(const struct stun_msg *m)
{
	static uint8_t out[STUN_MAX_MSG + 256];
	struct stun_wr w;
	struct stun_msg m2;
	size_t need = STUN_HDR_LEN, kept = 0;
	bool sign;
	int n;

	for (uint8_t i = 0; i < m->nattrs; i++) {
		if (is_integrity(m->attr[i].type))
			continue;
		need += 4 + (((size_t)m->attr[i].len + 3) & ~(size_t)3);
		kept++;
	}
	sign = kept + 3 <= STUN_MAX_ATTRS;
	if (sign)
		need += 24 + 36 + 8;

	stun_wr_init(&w, out, sizeof(out), m->method, m->cls, m->tid);
	for (uint8_t i = 0; i < m->nattrs; i++)
		if (!is_integrity(m->attr[i].type))
			attr_rewrite(&w, m, &m->attr[i]);
	if (sign) {
		stun_wr_integrity(&w, fuzz_key, FUZZ_KEYLEN);
		stun_wr_integrity256(&w, fuzz_key, FUZZ_KEYLEN);
		stun_wr_fingerprint(&w);
	}
	n = stun_wr_finish(&w);
	if (need > STUN_MAX_MSG) {
		CHECK(n == -ENOSPC);
		return;
	}
	CHECK(n >= 0 && (size_t)n == need);
	CHECK(stun_msg_parse(&m2, out, (size_t)n) == 0);
	CHECK(m2.method == m->method && m2.cls == m->cls);
	CHECK(memcmp(m2.tid, m->tid, STUN_TID_LEN) == 0);
	CHECK(m2.nunknown == m->nunknown);
	CHECK(memcmp(m2.unknown, m->unknown, sizeof(m->unknown[0]) * m->nunknown) == 0);
	CHECK(m2.nattrs == kept + (sign ? 3 : 0));
	for (uint8_t i = 0, j = 0; i < m->nattrs; i++)
		if (!is_integrity(m->attr[i].type))
			attr_same(m, &m->attr[i], &m2, &m2.attr[j++]);
	if (sign) {
		CHECK(stun_msg_integrity_ok(&m2, fuzz_key, FUZZ_KEYLEN));
		CHECK(stun_msg_integrity256_ok(&m2, fuzz_key, FUZZ_KEYLEN));
		CHECK(stun_msg_fingerprint_ok(&m2));
		CHECK(!stun_msg_integrity_ok(&m2, fuzz_key, FUZZ_KEYLEN - 1));
	}
}

static void stun_side(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	int rc;

	rc = stun_msg_parse(&m, data, size);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTO);
	if (rc == -EBADMSG)
		return;
	CHECK(stun_is_msg(data, size));
	CHECK(m.nattrs <= STUN_MAX_ATTRS && m.nunknown <= STUN_MAX_UNKNOWN);
	/* RFC 8489 §5 allows a first byte up to 0x3f; RFC 7983 demuxes only 0..3 as STUN. */
	if (data[0] <= 3)
		CHECK(demux_frame_len(data, size) == (long)size);
	(void)stun_method_name(m.method);
	for (uint8_t i = 0; i < m.nattrs; i++)
		attr_getters(&m, &m.attr[i]);
	for (uint8_t i = 0; i < m.nunknown; i++)
		CHECK(m.unknown[i] < 0x8000 && !stun_attr_known(m.unknown[i]));
	if (rc != 0)
		return;
	CHECK(m.mi < 0 || m.attr[m.mi].type == STUN_A_MESSAGE_INTEGRITY);
	CHECK(m.mi256 < 0 || m.attr[m.mi256].type == STUN_A_MESSAGE_INTEGRITY_SHA256);
	CHECK(m.fp < 0 || m.fp == m.nattrs - 1);
	auth_checks(&m);
	roundtrip(&m);
}

/* Classic RFC 3489 (RFC 8489 §12.2): never both kinds, the same bounds. */
static void classic_side(const uint8_t *data, size_t size)
{
	struct stun_msg m, m2;
	uint8_t out[STUN_HDR_LEN];
	struct stun_wr w;
	int rc;

	rc = stun_classic_parse(&m, data, size);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTO);
	if (rc == -EBADMSG)
		return;
	CHECK(m.classic && stun_msg_parse(&m2, data, size) == -EBADMSG);
	CHECK(m.nattrs <= STUN_MAX_ATTRS && m.nunknown <= STUN_MAX_UNKNOWN);
	for (uint8_t i = 0; i < m.nattrs; i++)
		attr_getters(&m, &m.attr[i]);
	for (uint8_t i = 0; i < m.nunknown; i++)
		CHECK(m.unknown[i] < 0x8000 && !stun_attr_known(m.unknown[i]));
	/* An answer's header echoes all 16 transaction-id bytes. */
	stun_wr_init(&w, out, sizeof(out), m.method, STUN_SUCCESS, m.tid);
	stun_wr_classic(&w, m.tid0);
	CHECK(stun_wr_finish(&w) == STUN_HDR_LEN);
	CHECK(memcmp(out + 4, data + 4, 16) == 0);
}

static void chdata_side(const uint8_t *data, size_t size)
{
	for (int stream = 0; stream < 2; stream++) {
		uint8_t hdr[CHDATA_HDR_LEN];
		const uint8_t *payload;
		size_t dlen, consumed;
		uint16_t chan;
		long frame;
		int rc;

		rc = chdata_parse(data, size, stream, &chan, &payload, &dlen, &consumed);
		CHECK(rc == 0 || rc == -EBADMSG || (stream && rc == -EAGAIN));
		if (rc != 0)
			continue;
		CHECK(chan_valid_rfc5766(chan));
		CHECK(payload == data + CHDATA_HDR_LEN);
		CHECK(consumed == CHDATA_HDR_LEN + dlen + chdata_pad(dlen, stream));
		CHECK(consumed <= size);
		chdata_hdr_write(hdr, chan, (uint16_t)dlen);
		CHECK(memcmp(hdr, data, CHDATA_HDR_LEN) == 0);
		if (stream) {
			frame = demux_frame_len(data, size);
			CHECK(frame == (long)consumed);
		}
	}
}

/* A writer squeezed into a cap taken from the input must fail cleanly. size >= 12. */
static void writer_cap(const uint8_t *data, size_t size)
{
	static const struct tw_addr v6 = {.family = TW_AF_INET6, .port = 3478, .ip = {0x20, 1}};
	uint8_t buf[160];
	struct stun_wr w;
	size_t cap;
	int n;

	cap = data[0] % 150;
	memset(buf, 0xa5, sizeof(buf));
	stun_wr_init(&w, buf, cap, STUN_ALLOCATE, STUN_ERROR, data);
	stun_wr_error(&w, STUN_A_ERROR_CODE, 300 + data[1] % 400, NULL);
	stun_wr_xaddr(&w, STUN_A_XOR_RELAYED_ADDRESS, &v6);
	stun_wr_attr(&w, STUN_A_SOFTWARE, data, size < 13 ? size : 13);
	stun_wr_integrity(&w, data, size);
	stun_wr_fingerprint(&w);
	n = stun_wr_finish(&w);
	CHECK(n == -ENOSPC || (n > 0 && (size_t)n <= cap));
	for (size_t i = cap; i < sizeof(buf); i++)
		CHECK(buf[i] == 0xa5);
	if (n > 0) {
		struct stun_msg m;

		CHECK(stun_msg_parse(&m, buf, (size_t)n) == 0);
		CHECK(stun_msg_fingerprint_ok(&m));
		CHECK(stun_msg_integrity_ok(&m, data, size));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long frame;

	if (size > STUN_MAX_MSG + 16)
		return 0;
	if (size > 0)
		(void)demux_kind_name(demux_first_byte(data[0]));
	frame = demux_frame_len(data, size);
	CHECK(frame == -EAGAIN || frame == -EBADMSG || frame >= 4);
	stun_side(data, size);
	classic_side(data, size);
	chdata_side(data, size);
	if (size >= STUN_TID_LEN)
		writer_cap(data, size);
	return 0;
}
