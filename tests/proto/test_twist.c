/*
 * proto/twist.c: the TWIST attributes, demultiplexing, inner headers,
 * checksums and IP headers. The vectors are those of docs/twist-protocol.md
 * §8; their bytes were computed apart from this codec (scapy for the
 * packets and checksums, Python's hmac, hashlib and zlib for the STUN
 * messages), so the codec is checked against something it did not write.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/twist.h"

/* clang-format off */
static const uint8_t v_alloc_req[] = {
	0x00, 0x03, 0x00, 0x74, 0x21, 0x12, 0xa4, 0x42, 0x74, 0x77, 0x69, 0x73,
	0x74, 0x2d, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x00, 0x19, 0x00, 0x04,
	0x11, 0x00, 0x00, 0x00, 0x54, 0x58, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x21, 0x15, 0xe7, 0x21, 0xc0, 0x40,
	0x54, 0x59, 0x00, 0x04, 0x01, 0x01, 0x00, 0x14, 0x00, 0x06, 0x00, 0x05,
	0x61, 0x6c, 0x69, 0x63, 0x65, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x0b,
	0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00,
	0x00, 0x15, 0x00, 0x10, 0x66, 0x38, 0x64, 0x64, 0x63, 0x30, 0x64, 0x33,
	0x61, 0x39, 0x65, 0x31, 0x32, 0x62, 0x62, 0x34, 0x00, 0x08, 0x00, 0x14,
	0xa5, 0x87, 0xc3, 0x3e, 0xc9, 0xee, 0x1d, 0xec, 0x2a, 0x49, 0x0e, 0x65,
	0xb8, 0x3f, 0x1f, 0xb7, 0xfa, 0xc4, 0x35, 0xdd, 0x80, 0x28, 0x00, 0x04,
	0xfb, 0xed, 0x60, 0xa8,
};
static const uint8_t v_alloc_resp[] = {
	0x01, 0x03, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0x74, 0x77, 0x69, 0x73,
	0x74, 0x2d, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x00, 0x16, 0x00, 0x08,
	0x00, 0x01, 0xe2, 0x42, 0xea, 0x12, 0xd5, 0x8a, 0x00, 0x20, 0x00, 0x08,
	0x00, 0x01, 0xbd, 0x52, 0xea, 0x12, 0xd5, 0x43, 0x00, 0x0d, 0x00, 0x04,
	0x00, 0x00, 0x02, 0x58, 0x54, 0x59, 0x00, 0x04, 0x01, 0x01, 0x00, 0x14,
	0x00, 0x08, 0x00, 0x14, 0x70, 0xff, 0xf8, 0xc5, 0x33, 0x90, 0x78, 0xad,
	0x22, 0xd4, 0x57, 0xe8, 0xb6, 0xb2, 0x47, 0xc0, 0x80, 0xf7, 0x5d, 0x5c,
	0x80, 0x28, 0x00, 0x04, 0x23, 0x5f, 0xf2, 0xec,
};
static const uint8_t v_listen_resp[] = {
	0x01, 0x03, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x74, 0x77, 0x69, 0x73,
	0x74, 0x2d, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x00, 0x16, 0x00, 0x14,
	0x00, 0x02, 0xe2, 0x43, 0x01, 0x13, 0xa9, 0xfa, 0x74, 0x73, 0x69, 0x73,
	0x74, 0x2d, 0x76, 0x65, 0x63, 0x74, 0x6d, 0x72, 0x00, 0x20, 0x00, 0x08,
	0x00, 0x01, 0xbd, 0x50, 0xea, 0x12, 0xd5, 0x43, 0x00, 0x0d, 0x00, 0x04,
	0x00, 0x00, 0x02, 0x58, 0x54, 0x59, 0x00, 0x04, 0x01, 0x02, 0x00, 0x14,
	0x54, 0x5a, 0x00, 0x08, 0xc0, 0xff, 0xee, 0x01, 0x23, 0x45, 0x67, 0x89,
	0x00, 0x08, 0x00, 0x14, 0xd6, 0x04, 0x32, 0x8f, 0x1a, 0x97, 0x08, 0xc8,
	0x80, 0xef, 0xf0, 0xad, 0xe7, 0x8b, 0x49, 0x78, 0x2b, 0xab, 0x54, 0xea,
	0x80, 0x28, 0x00, 0x04, 0xa8, 0xf3, 0xc0, 0xeb,
};
static const uint8_t v_udp4[] = {
	0x45, 0x00, 0x00, 0x21, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xd3, 0xcd,
	0xcb, 0x00, 0x71, 0xc8, 0xc6, 0x33, 0x64, 0x02, 0xc3, 0x50, 0x00, 0x07,
	0x00, 0x0d, 0x83, 0x92, 0x74, 0x77, 0x69, 0x73, 0x74,
};
static const uint8_t v_tcp4[] = {
	0x45, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xd3, 0xcd,
	0xcb, 0x00, 0x71, 0xc8, 0xc6, 0x33, 0x64, 0x02, 0xc3, 0x50, 0x1f, 0x90,
	0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0x60, 0x02, 0xfa, 0xf0,
	0xeb, 0x0d, 0x00, 0x00, 0x02, 0x04, 0x05, 0x50,
};
static const uint8_t v_udp6[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02, 0xc3, 0x50, 0x00, 0x07, 0x00, 0x0d, 0x8d, 0x16,
	0x74, 0x77, 0x69, 0x73, 0x74,
};
static const uint8_t v_tcp6[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x02, 0x00, 0x1f, 0x91, 0xc3, 0x51, 0x0a, 0x0b, 0x0c, 0x0d,
	0x12, 0x34, 0x56, 0x79, 0x50, 0x12, 0xff, 0xff, 0xf0, 0xaf, 0x00, 0x00,
};
/* UDP 203.0.113.200:50000 -> 198.51.100.2:7, "tw\x61\x08": the sum is 0, sent as 0xffff. */
static const uint8_t v_udp4_ones[] = {
	0xc3, 0x50, 0x00, 0x07, 0x00, 0x0c, 0xff, 0xff, 0x74, 0x77, 0x61, 0x08,
};
/* clang-format on */

#define V4(a, b, c, d, p)                                               \
	{                                                               \
		.family = TW_AF_INET, .port = (p), .ip = { a, b, c, d } \
	}
#define V6(p, ...)                                                        \
	{                                                                 \
		.family = TW_AF_INET6, .port = (p), .ip = { __VA_ARGS__ } \
	}

static const uint8_t tid[STUN_TID_LEN] = "twist-vector";
static const struct tw_addr relayed4 = V4(203, 0, 113, 200, 50000);
static const struct tw_addr peer4 = V4(198, 51, 100, 2, 7);
static const struct tw_addr peer4_http = V4(198, 51, 100, 2, 8080);
static const struct tw_addr mapped4 = V4(203, 0, 113, 1, 40000);
static const struct tw_addr relayed6 =
        V6(50000, 0x20, 0x01, 0x0d, 0xb8, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00);
static const struct tw_addr peer6 =
        V6(7, 0x20, 0x01, 0x0d, 0xb8, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02);
static const uint8_t cookie_vec[TWIST_COOKIE_LEN] = {0xc0, 0xff, 0xee, 0x01,
                                                     0x23, 0x45, 0x67, 0x89};

static size_t longterm_key(uint8_t key[32])
{
	int n = stun_key_longterm(STUN_PWALG_MD5, "alice", 5, "example.org", 11, "wonderland", 10,
	                          key);

	assert_int_equal(n, 16);
	return (size_t)n;
}

static void wr_credentials(struct stun_wr *w)
{
	stun_wr_attr(w, STUN_A_USERNAME, "alice", 5);
	stun_wr_attr(w, STUN_A_REALM, "example.org", 11);
	stun_wr_attr(w, STUN_A_NONCE, "f8ddc0d3a9e12bb4", 16);
}

static void wr_sign(struct stun_wr *w)
{
	uint8_t key[32];
	size_t klen = longterm_key(key);

	stun_wr_integrity(w, key, klen);
	stun_wr_fingerprint(w);
}

/* Parses a vector as a TWIST server does: its TWIST attributes are unknown to STUN alone. */
static void parse_signed(struct stun_msg *m, const uint8_t *buf, size_t len, int ntwist)
{
	uint8_t key[32];
	size_t klen = longterm_key(key);

	assert_int_equal(stun_msg_parse(m, buf, len), 0);
	assert_int_equal(m->nunknown, ntwist);
	assert_int_equal(twist_unknown_drop(m), ntwist);
	assert_int_equal(m->nunknown, 0);
	assert_int_equal(twist_unknown_drop(m), 0);
	assert_true(stun_msg_integrity_ok(m, key, klen));
	assert_true(stun_msg_fingerprint_ok(m));
}

/* §8 (a): the connect Allocate request. */
static void test_vector_alloc_request(void **state)
{
	const struct twist_encap want = {TWIST_ENCAP_TRANSPORT, TWIST_KA_NATT, 20};
	uint8_t buf[512], proto = 0, type = 0;
	const struct stun_attr *a;
	struct twist_encap e;
	struct stun_msg m;
	struct stun_wr w;
	struct tw_addr peer;
	int n;

	(void)state;
	stun_wr_init(&w, buf, sizeof(buf), STUN_ALLOCATE, STUN_REQUEST, tid);
	stun_wr_attr(&w, STUN_A_REQUESTED_TRANSPORT, (const uint8_t[]){STUN_PROTO_UDP, 0, 0, 0}, 4);
	twist_wr_type(&w, TWIST_TYPE_CONNECT);
	stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &peer4);
	twist_wr_encap(&w, &want);
	wr_credentials(&w);
	wr_sign(&w);
	n = stun_wr_finish(&w);
	assert_int_equal(n, sizeof(v_alloc_req));
	assert_memory_equal(buf, v_alloc_req, sizeof(v_alloc_req));

	parse_signed(&m, v_alloc_req, sizeof(v_alloc_req), 2);
	assert_int_equal(m.method, STUN_ALLOCATE);
	assert_int_equal(m.cls, STUN_REQUEST);
	assert_non_null(a = stun_msg_find(&m, STUN_A_REQUESTED_TRANSPORT));
	assert_int_equal(stun_attr_transport(&m, a, &proto), 0);
	assert_int_equal(proto, STUN_PROTO_UDP);
	assert_non_null(a = stun_msg_find(&m, TWIST_A_REQUESTED_TYPE));
	assert_int_equal(twist_attr_type(&m, a, &type), 0);
	assert_int_equal(type, TWIST_TYPE_CONNECT);
	assert_non_null(a = stun_msg_find(&m, STUN_A_XOR_PEER_ADDRESS));
	assert_int_equal(stun_attr_xaddr(&m, a, &peer), 0);
	assert_true(tw_addr_eq(&peer, &peer4));
	assert_non_null(a = stun_msg_find(&m, TWIST_A_ENCAP_TYPE));
	assert_int_equal(twist_attr_encap(&m, a, &e), 0);
	assert_memory_equal(&e, &want, sizeof(e));
}

/* §8 (b): its success response; and a listen response with a cookie, relayed over IPv6. */
static void test_vector_alloc_responses(void **state)
{
	const struct twist_encap natt = {TWIST_ENCAP_TRANSPORT, TWIST_KA_NATT, 20};
	const struct twist_encap bind = {TWIST_ENCAP_TRANSPORT, TWIST_KA_BINDING, 20};
	struct tw_addr relayed6_l = relayed6, mapped4_l = mapped4, got;
	uint8_t buf[512], cookie[TWIST_COOKIE_LEN];
	const struct stun_attr *a;
	struct twist_encap e;
	struct stun_msg m;
	struct stun_wr w;

	(void)state;
	stun_wr_init(&w, buf, sizeof(buf), STUN_ALLOCATE, STUN_SUCCESS, tid);
	stun_wr_xaddr(&w, STUN_A_XOR_RELAYED_ADDRESS, &relayed4);
	stun_wr_xaddr(&w, STUN_A_XOR_MAPPED_ADDRESS, &mapped4);
	stun_wr_u32(&w, STUN_A_LIFETIME, 600);
	twist_wr_encap(&w, &natt);
	wr_sign(&w);
	assert_int_equal(stun_wr_finish(&w), sizeof(v_alloc_resp));
	assert_memory_equal(buf, v_alloc_resp, sizeof(v_alloc_resp));
	parse_signed(&m, v_alloc_resp, sizeof(v_alloc_resp), 1);
	assert_non_null(a = stun_msg_find(&m, STUN_A_XOR_RELAYED_ADDRESS));
	assert_int_equal(stun_attr_xaddr(&m, a, &got), 0);
	assert_true(tw_addr_eq(&got, &relayed4));
	assert_null(stun_msg_find(&m, TWIST_A_COOKIE));

	relayed6_l.port = 50001;
	mapped4_l.port = 40002;
	stun_wr_init(&w, buf, sizeof(buf), STUN_ALLOCATE, STUN_SUCCESS, tid);
	stun_wr_xaddr(&w, STUN_A_XOR_RELAYED_ADDRESS, &relayed6_l);
	stun_wr_xaddr(&w, STUN_A_XOR_MAPPED_ADDRESS, &mapped4_l);
	stun_wr_u32(&w, STUN_A_LIFETIME, 600);
	twist_wr_encap(&w, &bind);
	twist_wr_cookie(&w, cookie_vec);
	wr_sign(&w);
	assert_int_equal(stun_wr_finish(&w), sizeof(v_listen_resp));
	assert_memory_equal(buf, v_listen_resp, sizeof(v_listen_resp));
	parse_signed(&m, v_listen_resp, sizeof(v_listen_resp), 2);
	assert_non_null(a = stun_msg_find(&m, STUN_A_XOR_RELAYED_ADDRESS));
	assert_int_equal(stun_attr_xaddr(&m, a, &got), 0);
	assert_true(tw_addr_eq(&got, &relayed6_l));
	assert_non_null(a = stun_msg_find(&m, TWIST_A_ENCAP_TYPE));
	assert_int_equal(twist_attr_encap(&m, a, &e), 0);
	assert_memory_equal(&e, &bind, sizeof(e));
	assert_non_null(a = stun_msg_find(&m, TWIST_A_COOKIE));
	assert_int_equal(twist_attr_cookie(&m, a, cookie), 0);
	assert_memory_equal(cookie, cookie_vec, TWIST_COOKIE_LEN);
}

/* A Binding request with one attribute of that type and value. */
static const struct stun_attr *one_attr(struct stun_msg *m, uint8_t *buf, size_t cap, uint16_t type,
                                        const uint8_t *val, size_t len)
{
	struct stun_wr w;
	int n;

	stun_wr_init(&w, buf, cap, STUN_BINDING, STUN_REQUEST, tid);
	stun_wr_attr(&w, type, val, len);
	n = stun_wr_finish(&w);
	assert_true(n > 0);
	assert_int_equal(stun_msg_parse(m, buf, (size_t)n), 0);
	assert_int_equal(m->nattrs, 1);
	return &m->attr[0];
}

enum getter { G_CAPS, G_TYPE, G_ENCAP, G_COOKIE };

struct attr_row {
	const char *name;
	enum getter g;
	uint8_t val[12];
	uint8_t len;
	int rc;
};

static const struct attr_row attr_rows[] = {
        {"caps", G_CAPS, {0, 0, 0, 0x7f}, 4, 0},
        {"caps unknown bits", G_CAPS, {0xff, 0xff, 0xff, 0xff}, 4, 0},
        {"caps short", G_CAPS, {0, 0, 0}, 3, -EBADMSG},
        {"caps long", G_CAPS, {0, 0, 0, 1, 0}, 5, -EBADMSG},
        {"caps empty", G_CAPS, {0}, 0, -EBADMSG},
        {"type connect", G_TYPE, {1, 0, 0, 0}, 4, 0},
        {"type listen, RFFU ignored", G_TYPE, {2, 0xff, 0xff, 0xff}, 4, 0},
        {"type 0", G_TYPE, {0, 0, 0, 0}, 4, -EBADMSG},
        {"type 3", G_TYPE, {3, 0, 0, 0}, 4, -EBADMSG},
        {"type 255", G_TYPE, {255, 0, 0, 0}, 4, -EBADMSG},
        {"type 1 byte", G_TYPE, {1}, 1, -EBADMSG},
        {"type 8 bytes", G_TYPE, {1, 0, 0, 0, 0, 0, 0, 0}, 8, -EBADMSG},
        {"encap transport natt", G_ENCAP, {1, 1, 0, 20}, 4, 0},
        {"encap tunnel binding", G_ENCAP, {2, 2, 0xff, 0xff}, 4, 0},
        {"encap interval 0", G_ENCAP, {1, 2, 0, 0}, 4, 0},
        {"encap mode 0", G_ENCAP, {0, 1, 0, 20}, 4, -EBADMSG},
        {"encap mode 3", G_ENCAP, {3, 1, 0, 20}, 4, -EBADMSG},
        {"encap keepalive 0", G_ENCAP, {1, 0, 0, 20}, 4, -EBADMSG},
        {"encap keepalive 3", G_ENCAP, {1, 3, 0, 20}, 4, -EBADMSG},
        {"encap short", G_ENCAP, {1, 1, 0}, 3, -EBADMSG},
        {"encap long", G_ENCAP, {1, 1, 0, 20, 0, 0, 0, 0}, 8, -EBADMSG},
        {"cookie", G_COOKIE, {1, 2, 3, 4, 5, 6, 7, 8}, 8, 0},
        {"cookie short", G_COOKIE, {1, 2, 3, 4, 5, 6, 7}, 7, -EBADMSG},
        {"cookie long", G_COOKIE, {1, 2, 3, 4, 5, 6, 7, 8, 9}, 9, -EBADMSG},
        {"cookie 4", G_COOKIE, {1, 2, 3, 4}, 4, -EBADMSG},
        {"cookie empty", G_COOKIE, {0}, 0, -EBADMSG},
};

static const uint16_t getter_type[] = {
        [G_CAPS] = TWIST_A_CAPS,
        [G_TYPE] = TWIST_A_REQUESTED_TYPE,
        [G_ENCAP] = TWIST_A_ENCAP_TYPE,
        [G_COOKIE] = TWIST_A_COOKIE,
};

/* Decodes the row, then writes what it read and demands the same bytes back. */
static void attr_row_check(const struct attr_row *r)
{
	uint8_t buf[128], out[128], cookie[TWIST_COOKIE_LEN];
	const struct stun_attr *a;
	struct twist_encap e = {0};
	struct stun_msg m, m2;
	struct stun_wr w;
	uint32_t caps = 0;
	uint8_t type = 0;
	int rc = 0, n;

	a = one_attr(&m, buf, sizeof(buf), getter_type[r->g], r->val, r->len);
	stun_wr_init(&w, out, sizeof(out), STUN_BINDING, STUN_REQUEST, tid);
	switch (r->g) {
	case G_CAPS:
		rc = twist_attr_caps(&m, a, &caps);
		twist_wr_caps(&w, caps);
		break;
	case G_TYPE:
		rc = twist_attr_type(&m, a, &type);
		twist_wr_type(&w, type);
		break;
	case G_ENCAP:
		rc = twist_attr_encap(&m, a, &e);
		twist_wr_encap(&w, &e);
		break;
	case G_COOKIE:
		rc = twist_attr_cookie(&m, a, cookie);
		twist_wr_cookie(&w, cookie);
		break;
	}
	if (rc != r->rc)
		fail_msg("%s: rc %d, want %d", r->name, rc, r->rc);
	if (rc != 0)
		return;
	n = stun_wr_finish(&w);
	assert_true(n > 0);
	assert_int_equal(stun_msg_parse(&m2, out, (size_t)n), 0);
	assert_int_equal(m2.attr[0].type, a->type);
	assert_int_equal(m2.attr[0].len, a->len);
	/* RFFU bytes go out as zero: compare the meaningful bytes only. */
	if (r->g == G_TYPE)
		assert_int_equal(stun_attr_val(&m2, &m2.attr[0])[0], r->val[0]);
	else
		assert_memory_equal(stun_attr_val(&m2, &m2.attr[0]), r->val, r->len);
}

static void test_attrs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(attr_rows) / sizeof(attr_rows[0]); i++)
		attr_row_check(&attr_rows[i]);
}

/* A server without TWIST sees them as unknown comprehension-required attributes. */
static void test_attrs_comprehension_required(void **state)
{
	const uint16_t types[] = {TWIST_A_CAPS, TWIST_A_REQUESTED_TYPE, TWIST_A_ENCAP_TYPE,
	                          TWIST_A_COOKIE, TWIST_A_SPI};

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_true(types[i] >= 0x4000 && types[i] < 0x8000);
		assert_false(stun_attr_known(types[i]));
	}
}

/* Only TWIST's types leave the unknown list, wherever they sit in it. */
static void test_unknown_drop(void **state)
{
	struct stun_msg m = {0};
	const uint16_t in[] = {0x5456,         TWIST_A_CAPS,       0x7fff,
	                       TWIST_A_COOKIE, TWIST_A_ENCAP_TYPE, TWIST_A_SPI,
	                       0x545c};

	(void)state;
	memcpy(m.unknown, in, sizeof(in));
	m.nunknown = 7;
	assert_int_equal(twist_unknown_drop(&m), 4);
	assert_int_equal(m.nunknown, 3);
	assert_int_equal(m.unknown[0], 0x5456);
	assert_int_equal(m.unknown[1], 0x7fff);
	assert_int_equal(m.unknown[2], 0x545c);
}

/* A writer without room fails; it never writes past its cap. */
static void test_writers_nospace(void **state)
{
	const struct twist_encap e = {TWIST_ENCAP_TRANSPORT, TWIST_KA_NATT, 20};
	uint8_t buf[64];
	struct stun_wr w;

	(void)state;
	for (size_t cap = STUN_HDR_LEN; cap < STUN_HDR_LEN + 12; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		stun_wr_init(&w, buf, cap, STUN_ALLOCATE, STUN_REQUEST, tid);
		twist_wr_caps(&w, TWIST_CAP_TRANSPORT);
		twist_wr_type(&w, TWIST_TYPE_LISTEN);
		twist_wr_encap(&w, &e);
		twist_wr_cookie(&w, cookie_vec);
		assert_int_equal(stun_wr_finish(&w), -ENOSPC);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xa5);
	}
}

/* A UDP-shaped encapsulation of msg from sport to dport, or a bare one if dport is 0. */
static size_t encap_stun(uint8_t *out, uint16_t sport, uint16_t dport, const uint8_t *msg,
                         size_t len)
{
	put_u16(out, sport);
	put_u16(out + 2, dport);
	put_u16(out + 4, (uint16_t)(TWIST_UDP_HDR + len));
	put_u16(out + 6, 0);
	memcpy(out + TWIST_UDP_HDR, msg, len);
	return TWIST_UDP_HDR + len;
}

#define RP 50000 /* the flow's relayed port */
#define SP 3478  /* the server's STUN port */

struct cls_row {
	const char *name;
	const uint8_t *p;
	size_t len;
	uint8_t proto;
	uint16_t stun_port;
	enum twist_kind want;
	size_t off;
};

static void cls_check(const struct cls_row *r)
{
	size_t off = 99;
	enum twist_kind k;

	k = twist_classify(r->p, r->len, r->proto, RP, r->stun_port, &off);
	if (k != r->want || off != r->off)
		fail_msg("%s: kind %d off %zu, want %d off %zu", r->name, k, off, r->want, r->off);
}

/* docs/twist-protocol.md §4 "Demultiplexing", each case and its edges. */
static void test_classify(void **state)
{
	static uint8_t enc[256], enc_bad[256], enc_other[256], enc_len[256], raw_tcp[64];
	static uint8_t stun_first[] = {0x3f, 0, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1,  2,
	                               3,    4, 5, 6, 7,    8,    9,    10,   11, 12};
	static const uint8_t ff[] = {0xff}, fe[] = {0xfe}, ff2[] = {0xff, 0xff}, empty[1] = {0};
	const uint8_t *udp4 = v_udp4 + 20, *tcp4 = v_tcp4 + 20;
	size_t ulen = sizeof(v_udp4) - 20, tlen = sizeof(v_tcp4) - 20;
	size_t elen, blen, olen, llen;

	(void)state;
	elen = encap_stun(enc, RP, SP, v_alloc_req, sizeof(v_alloc_req));
	/* To the STUN port but no STUN behind: "twist" is a segment for a peer on 3478. */
	blen = encap_stun(enc_bad, RP, SP, (const uint8_t *)"twist-not-stun-at-all", 21);
	/* STUN behind, but to the peer's port 7: the peer's STUN, not ours. */
	olen = encap_stun(enc_other, RP, 7, v_alloc_req, sizeof(v_alloc_req));
	/* UDP length field off by 4: not encapsulated STUN, and no valid segment either. */
	llen = encap_stun(enc_len, RP, SP, v_alloc_req, sizeof(v_alloc_req));
	put_u16(enc_len + 4, (uint16_t)(llen + 4));
	/* A TCP segment from the relayed port whose bytes 2-3 are the STUN port. */
	memcpy(raw_tcp, tcp4, tlen);
	put_u16(raw_tcp + 2, SP);

	const struct cls_row rows[] = {
	        {"keepalive", ff, 1, STUN_PROTO_UDP, SP, TWIST_PKT_KEEPALIVE, 0},
	        {"keepalive on tcp flow", ff, 1, STUN_PROTO_TCP, SP, TWIST_PKT_KEEPALIVE, 0},
	        {"1 byte not 0xff", fe, 1, STUN_PROTO_UDP, SP, TWIST_PKT_BAD, 0},
	        {"2 bytes 0xff", ff2, 2, STUN_PROTO_UDP, SP, TWIST_PKT_BAD, 0},
	        {"empty", empty, 0, STUN_PROTO_UDP, SP, TWIST_PKT_BAD, 0},
	        {"raw stun", v_alloc_req, sizeof(v_alloc_req), STUN_PROTO_UDP, SP, TWIST_PKT_STUN,
	         0},
	        {"raw stun, first byte 0x3f", stun_first, sizeof(stun_first), STUN_PROTO_TCP, SP,
	         TWIST_PKT_STUN, 0},
	        {"raw stun header cut", v_alloc_req, 19, STUN_PROTO_UDP, SP, TWIST_PKT_BAD, 0},
	        {"encapsulated stun", enc, elen, STUN_PROTO_UDP, SP, TWIST_PKT_STUN_ENCAP, 8},
	        {"encapsulated stun on tcp flow", enc, elen, STUN_PROTO_TCP, SP,
	         TWIST_PKT_STUN_ENCAP, 8},
	        {"encapsulated stun, case 3 off", enc, elen, STUN_PROTO_UDP, 0, TWIST_PKT_SEGMENT,
	         0},
	        {"stun port, no stun behind", enc_bad, blen, STUN_PROTO_UDP, SP, TWIST_PKT_SEGMENT,
	         0},
	        {"stun behind, other port", enc_other, olen, STUN_PROTO_UDP, SP, TWIST_PKT_SEGMENT,
	         0},
	        {"encapsulated stun, bad udp length", enc_len, llen, STUN_PROTO_UDP, SP,
	         TWIST_PKT_BAD, 0},
	        {"udp segment", udp4, ulen, STUN_PROTO_UDP, SP, TWIST_PKT_SEGMENT, 0},
	        {"udp segment of 7 bytes", udp4, 7, STUN_PROTO_UDP, SP, TWIST_PKT_BAD, 0},
	        {"udp header only", v_udp4_ones, 8, STUN_PROTO_UDP, SP, TWIST_PKT_BAD, 0},
	        {"udp segment, wrong length", udp4, ulen - 1, STUN_PROTO_UDP, SP, TWIST_PKT_BAD, 0},
	        {"tcp syn", tcp4, tlen, STUN_PROTO_TCP, SP, TWIST_PKT_SEGMENT, 0},
	        {"tcp to the stun port", raw_tcp, tlen, STUN_PROTO_TCP, SP, TWIST_PKT_SEGMENT, 0},
	        {"tcp segment of 19 bytes", tcp4, 19, STUN_PROTO_TCP, SP, TWIST_PKT_BAD, 0},
	        {"tcp options cut", tcp4, 20, STUN_PROTO_TCP, SP, TWIST_PKT_BAD, 0},
	        {"udp on a tcp flow", udp4, ulen, STUN_PROTO_TCP, SP, TWIST_PKT_BAD, 0},
	        {"udp6 segment", v_udp6 + 40, sizeof(v_udp6) - 40, STUN_PROTO_UDP, SP,
	         TWIST_PKT_SEGMENT, 0},
	        {"peer to relay direction", v_tcp6 + 40, sizeof(v_tcp6) - 40, STUN_PROTO_TCP, SP,
	         TWIST_PKT_BAD, 0},
	        {"unknown proto", udp4, ulen, 1, SP, TWIST_PKT_BAD, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cls_check(&rows[i]);
}

/* The relayed port is the flow's: a segment from another port is a drop. */
static void test_classify_port(void **state)
{
	size_t off;

	(void)state;
	assert_int_equal(
	        twist_classify(v_udp4 + 20, sizeof(v_udp4) - 20, STUN_PROTO_UDP, RP + 1, SP, &off),
	        TWIST_PKT_BAD);
	/* Relayed ports start at 16384: first byte 0x40, never a STUN first byte. */
	assert_int_equal(TWIST_MIN_RELAY_PORT >> 8, 0x40);
}

static void test_seg_parse(void **state)
{
	struct twist_seg s;
	uint8_t t[64];
	size_t tlen = sizeof(v_tcp4) - 20;

	(void)state;
	assert_int_equal(twist_seg_parse(v_udp4 + 20, sizeof(v_udp4) - 20, STUN_PROTO_UDP, &s), 0);
	assert_int_equal(s.sport, 50000);
	assert_int_equal(s.dport, 7);
	assert_int_equal(s.proto, STUN_PROTO_UDP);
	assert_false(s.syn || s.ack || s.rst || s.fin);

	assert_int_equal(twist_seg_parse(v_tcp4 + 20, tlen, STUN_PROTO_TCP, &s), 0);
	assert_int_equal(s.sport, 50000);
	assert_int_equal(s.dport, 8080);
	assert_true(s.syn);
	assert_false(s.ack || s.rst || s.fin);
	assert_int_equal(twist_seg_parse(v_tcp6 + 40, sizeof(v_tcp6) - 40, STUN_PROTO_TCP, &s), 0);
	assert_true(s.syn && s.ack);
	assert_false(s.rst || s.fin);

	memcpy(t, v_tcp4 + 20, tlen);
	t[13] = 0x05; /* RST|FIN */
	assert_int_equal(twist_seg_parse(t, tlen, STUN_PROTO_TCP, &s), 0);
	assert_true(s.rst && s.fin);
	assert_false(s.syn || s.ack);
	t[12] = 0x40; /* data offset 4 words: inside the fixed header */
	assert_int_equal(twist_seg_parse(t, tlen, STUN_PROTO_TCP, &s), -EBADMSG);
	t[12] = 0x70; /* 28 bytes: past the 24-byte segment */
	assert_int_equal(twist_seg_parse(t, tlen, STUN_PROTO_TCP, &s), -EBADMSG);
	t[12] = 0xf0; /* 60 bytes, with 60 there */
	memset(t + tlen, 0, sizeof(t) - tlen);
	assert_int_equal(twist_seg_parse(t, 60, STUN_PROTO_TCP, &s), 0);

	assert_int_equal(twist_seg_parse(v_udp4 + 20, 7, STUN_PROTO_UDP, &s), -EBADMSG);
	assert_int_equal(twist_seg_parse(v_udp4 + 20, 12, STUN_PROTO_UDP, &s), -EBADMSG);
	assert_int_equal(twist_seg_parse(v_tcp4 + 20, 19, STUN_PROTO_TCP, &s), -EBADMSG);
	assert_int_equal(twist_seg_parse(v_udp4 + 20, 13, 1, &s), -EBADMSG);
	assert_int_equal(twist_seg_parse(v_udp4 + 20, 0, STUN_PROTO_UDP, &s), -EBADMSG);
}

struct csum_row {
	const char *name;
	const uint8_t *seg;
	size_t len;
	uint8_t proto;
	const struct tw_addr *src, *dst;
	uint16_t want; /* scapy's */
};

/* Checksums against scapy's: set on a zeroed copy, and checked as they stand. */
/* RFC 1071 over the segment alone, folded, not complemented: what a NIC adds. */
static uint16_t seg_sum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void test_csum(void **state)
{
	struct tw_addr peer6_http = peer6;
	uint8_t buf[128];

	(void)state;
	peer6_http.port = 8081;
	const struct csum_row rows[] = {
	        {"udp4", v_udp4 + 20, sizeof(v_udp4) - 20, STUN_PROTO_UDP, &relayed4, &peer4,
	         0x8392},
	        {"tcp4 syn", v_tcp4 + 20, sizeof(v_tcp4) - 20, STUN_PROTO_TCP, &relayed4,
	         &peer4_http, 0xeb0d},
	        {"udp6", v_udp6 + 40, sizeof(v_udp6) - 40, STUN_PROTO_UDP, &relayed6, &peer6,
	         0x8d16},
	        {"tcp6 syn-ack", v_tcp6 + 40, sizeof(v_tcp6) - 40, STUN_PROTO_TCP, &peer6_http,
	         &relayed6, 0xf0af},
	        {"udp4 sum 0", v_udp4_ones, sizeof(v_udp4_ones), STUN_PROTO_UDP, &relayed4, &peer4,
	         0xffff},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct csum_row *r = &rows[i];
		size_t off = r->proto == STUN_PROTO_UDP ? 6 : 16;

		assert_true(twist_l4_csum_ok(r->src, r->dst, r->proto, r->seg, r->len));
		memcpy(buf, r->seg, r->len);
		put_u16(buf + off, 0);
		if (twist_l4_csum(r->src, r->dst, r->proto, buf, r->len) != r->want)
			fail_msg("%s: csum %04x, want %04x", r->name,
			         twist_l4_csum(r->src, r->dst, r->proto, buf, r->len), r->want);
		put_u16(buf + off, 0x1234);
		assert_int_equal(twist_l4_csum_set(r->src, r->dst, r->proto, buf, r->len), 0);
		assert_memory_equal(buf, r->seg, r->len);
		/* Offload: the pseudo-header's sum in the field, the segment's
		 * words added by the kernel, give the same checksum. */
		if (r->want != 0xffff) {
			put_u16(buf + off, twist_l4_pseudo(r->src, r->dst, r->proto, r->len));
			assert_int_equal((uint16_t)~seg_sum(buf, r->len), r->want);
			memcpy(buf, r->seg, r->len);
		}
		/* One flipped bit and it no longer checks. */
		buf[r->len - 1] ^= 0x01;
		assert_false(twist_l4_csum_ok(r->src, r->dst, r->proto, buf, r->len));
	}
}

static void test_csum_edges(void **state)
{
	uint8_t buf[64];
	size_t ulen = sizeof(v_udp4) - 20;

	(void)state;
	/* UDP checksum 0: "none", allowed over IPv4 only (RFC 768, RFC 8200 §8.1). */
	memcpy(buf, v_udp4 + 20, ulen);
	put_u16(buf + 6, 0);
	assert_true(twist_l4_csum_ok(&relayed4, &peer4, STUN_PROTO_UDP, buf, ulen));
	memcpy(buf, v_udp6 + 40, sizeof(v_udp6) - 40);
	put_u16(buf + 6, 0);
	assert_false(twist_l4_csum_ok(&relayed6, &peer6, STUN_PROTO_UDP, buf, sizeof(v_udp6) - 40));
	/* A TCP checksum of 0 is a value like any other, here a wrong one. */
	memcpy(buf, v_tcp4 + 20, sizeof(v_tcp4) - 20);
	put_u16(buf + 16, 0);
	assert_false(
	        twist_l4_csum_ok(&relayed4, &peer4_http, STUN_PROTO_TCP, buf, sizeof(v_tcp4) - 20));
	/* Another address: the pseudo-header is part of the sum. */
	assert_false(twist_l4_csum_ok(&mapped4, &peer4, STUN_PROTO_UDP, v_udp4 + 20, ulen));
	/* Refused: families differ, no family, short header, other protocol. */
	memcpy(buf, v_udp4 + 20, ulen);
	assert_int_equal(twist_l4_csum_set(&relayed4, &peer6, STUN_PROTO_UDP, buf, ulen), -EINVAL);
	assert_false(twist_l4_csum_ok(&relayed4, &peer6, STUN_PROTO_UDP, buf, ulen));
	assert_int_equal(twist_l4_csum_set(&(struct tw_addr){0}, &(struct tw_addr){0},
	                                   STUN_PROTO_UDP, buf, ulen),
	                 -EINVAL);
	assert_int_equal(twist_l4_csum_set(&relayed4, &peer4, STUN_PROTO_UDP, buf, 7), -EINVAL);
	assert_int_equal(twist_l4_csum_set(&relayed4, &peer4, STUN_PROTO_TCP, buf, 19), -EINVAL);
	assert_int_equal(twist_l4_csum_set(&relayed4, &peer4, 1, buf, ulen), -EINVAL);
	assert_memory_equal(buf, v_udp4 + 20, ulen);
}

/* The relay's IP header for each vector, and the parse of each whole packet. */
static void test_ip_vectors(void **state)
{
	static const struct {
		const uint8_t *pkt;
		size_t len, hlen;
		const struct tw_addr *src, *dst;
		uint8_t proto;
	} rows[] = {
	        {v_udp4, sizeof(v_udp4), 20, &relayed4, &peer4, STUN_PROTO_UDP},
	        {v_tcp4, sizeof(v_tcp4), 20, &relayed4, &peer4_http, STUN_PROTO_TCP},
	        {v_udp6, sizeof(v_udp6), 40, &relayed6, &peer6, STUN_PROTO_UDP},
	};
	uint8_t hdr[64];
	struct twist_ip ip;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t seg_len = rows[i].len - rows[i].hlen;

		memset(hdr, 0xa5, sizeof(hdr));
		assert_int_equal(
		        twist_ip_hdr(hdr, 40, rows[i].src, rows[i].dst, rows[i].proto, seg_len),
		        (int)rows[i].hlen);
		assert_memory_equal(hdr, rows[i].pkt, rows[i].hlen);
		assert_int_equal(hdr[rows[i].hlen], 0xa5);

		assert_int_equal(twist_ip_parse(rows[i].pkt, rows[i].len, &ip), 0);
		assert_true(tw_addr_eq(&ip.src, rows[i].src));
		assert_true(tw_addr_eq(&ip.dst, rows[i].dst));
		assert_int_equal(ip.proto, rows[i].proto);
		assert_ptr_equal(ip.seg, rows[i].pkt + rows[i].hlen);
		assert_int_equal(ip.seg_len, seg_len);
	}
	/* The peer's SYN-ACK, as it comes out of the relay's TUN device. */
	assert_int_equal(twist_ip_parse(v_tcp6, sizeof(v_tcp6), &ip), 0);
	assert_int_equal(ip.src.port, 8081);
	assert_int_equal(ip.dst.port, 50001);
	assert_int_equal(ip.seg_len, 20);
}

static void test_ip_hdr_errors(void **state)
{
	uint8_t hdr[64];

	(void)state;
	assert_int_equal(twist_ip_hdr(hdr, sizeof(hdr), &relayed4, &peer6, STUN_PROTO_UDP, 13),
	                 -EINVAL);
	assert_int_equal(twist_ip_hdr(hdr, sizeof(hdr), &(struct tw_addr){0}, &(struct tw_addr){0},
	                              STUN_PROTO_UDP, 13),
	                 -EINVAL);
	assert_int_equal(
	        twist_ip_hdr(hdr, sizeof(hdr), &relayed4, &peer4, STUN_PROTO_UDP, 65535 - 20), 20);
	assert_int_equal(peek_u16(hdr + 2), 65535);
	assert_int_equal(
	        twist_ip_hdr(hdr, sizeof(hdr), &relayed4, &peer4, STUN_PROTO_UDP, 65535 - 19),
	        -EINVAL);
	assert_int_equal(twist_ip_hdr(hdr, sizeof(hdr), &relayed6, &peer6, STUN_PROTO_UDP, 65535),
	                 40);
	assert_int_equal(twist_ip_hdr(hdr, sizeof(hdr), &relayed6, &peer6, STUN_PROTO_UDP, 65536),
	                 -EINVAL);
	assert_int_equal(twist_ip_hdr(hdr, 39, &relayed6, &peer6, STUN_PROTO_UDP, 13), -EINVAL);
	assert_int_equal(twist_ip_hdr(hdr, 19, &relayed4, &peer4, STUN_PROTO_UDP, 13), -EINVAL);
}

/* RFC 1071 over an IPv4 header: 0xffff when its checksum field is right. */
static uint16_t hdr_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i < len; i += 2)
		s += peek_u16(p + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void test_ip_parse_v4(void **state)
{
	uint8_t p[128];
	struct twist_ip ip;
	size_t n = sizeof(v_udp4);

	(void)state;
	/* IPv4 options are skipped: the same packet with a 4-byte NOP/EOL option. */
	memcpy(p, v_udp4, 20);
	p[0] = 0x46;
	put_u16(p + 2, (uint16_t)(n + 4));
	memcpy(p + 20, (const uint8_t[]){1, 1, 1, 0}, 4);
	memcpy(p + 24, v_udp4 + 20, n - 20);
	assert_int_equal(twist_ip_parse(p, n + 4, &ip), 0);
	assert_ptr_equal(ip.seg, p + 24);
	assert_int_equal(ip.seg_len, n - 20);
	assert_true(tw_addr_eq(&ip.dst, &peer4));
	/* IHL past the end. */
	p[0] = 0x4f;
	assert_int_equal(twist_ip_parse(p, n + 4, &ip), -EBADMSG);
	/* IHL below 5. */
	memcpy(p, v_udp4, n);
	p[0] = 0x44;
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);

	/* Bytes after the total length are not the segment's. */
	memcpy(p, v_udp4, n);
	p[n] = 0xee;
	assert_int_equal(twist_ip_parse(p, n + 1, &ip), 0);
	assert_int_equal(ip.seg_len, n - 20);
	/* Total length past the buffer, or below the header. */
	assert_int_equal(twist_ip_parse(v_udp4, n - 1, &ip), -EBADMSG);
	put_u16(p + 2, 19);
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);

	/* Fragments: MF, or an offset, are refused; DF alone is fine. */
	memcpy(p, v_udp4, n);
	put_u16(p + 6, 0x2000);
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	put_u16(p + 6, 0x0001);
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	put_u16(p + 6, 0x0000);
	assert_int_equal(twist_ip_parse(p, n, &ip), 0);

	/* ICMP (1) is not ours to relay. */
	memcpy(p, v_udp4, n);
	p[9] = 1;
	assert_int_equal(twist_ip_parse(p, n, &ip), -EPROTONOSUPPORT);
	/* A UDP segment whose length disagrees with IP's. */
	memcpy(p, v_udp4, n);
	put_u16(p + 24, 14);
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	/* Truncations at every length. */
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(twist_ip_parse(v_udp4, i, &ip), 0);
	/* The vector's header checksum is right (scapy's), as twist_ip_hdr() writes it. */
	assert_int_equal(hdr_sum(v_udp4, 20), 0xffff);
	assert_int_equal(hdr_sum(v_tcp4, 20), 0xffff);
}

static void test_ip_parse_v6(void **state)
{
	static const uint8_t exts[] = {0, 43, 44, 50, 51, 60, 135, 139, 140, 253, 254};
	uint8_t p[128];
	struct twist_ip ip;
	size_t n = sizeof(v_udp6);

	(void)state;
	memcpy(p, v_udp6, n);
	for (size_t i = 0; i < sizeof(exts); i++) {
		p[6] = exts[i];
		assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	}
	p[6] = 58; /* ICMPv6 */
	assert_int_equal(twist_ip_parse(p, n, &ip), -EPROTONOSUPPORT);
	p[6] = 59; /* no next header */
	assert_int_equal(twist_ip_parse(p, n, &ip), -EPROTONOSUPPORT);
	memcpy(p, v_udp6, n);
	put_u16(p + 4, 0); /* jumbogram */
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	put_u16(p + 4, 14);
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	memcpy(p, v_udp6, n);
	p[0] = 0x50; /* version 5 */
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	p[0] = 0x00;
	assert_int_equal(twist_ip_parse(p, n, &ip), -EBADMSG);
	/* Class and flow label are not ours to judge. */
	memcpy(p, v_udp6, n);
	p[1] = 0xff;
	p[3] = 0xff;
	assert_int_equal(twist_ip_parse(p, n, &ip), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(twist_ip_parse(v_udp6, i, &ip), 0);
}

/* Build a whole packet the way the relay does: header, then the client's segment. */
static void test_ip_roundtrip(void **state)
{
	const struct tw_addr *pairs[][2] = {{&relayed4, &peer4}, {&relayed6, &peer6}};
	uint8_t pkt[128];
	struct twist_ip ip;
	struct twist_seg s;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const struct tw_addr *src = pairs[i][0], *dst = pairs[i][1];
		uint8_t seg[13];
		int h;

		encap_stun(seg, src->port, dst->port, (const uint8_t *)"twist", 5);
		assert_int_equal(twist_l4_csum_set(src, dst, STUN_PROTO_UDP, seg, sizeof(seg)), 0);
		h = twist_ip_hdr(pkt, sizeof(pkt), src, dst, STUN_PROTO_UDP, sizeof(seg));
		assert_true(h == 20 || h == 40);
		memcpy(pkt + h, seg, sizeof(seg));
		assert_memory_equal(pkt, i == 0 ? v_udp4 : v_udp6, (size_t)h + sizeof(seg));
		assert_int_equal(twist_ip_parse(pkt, (size_t)h + sizeof(seg), &ip), 0);
		assert_true(tw_addr_eq(&ip.src, src) && tw_addr_eq(&ip.dst, dst));
		assert_true(twist_l4_csum_ok(&ip.src, &ip.dst, ip.proto, ip.seg, ip.seg_len));
		assert_int_equal(twist_seg_parse(ip.seg, ip.seg_len, ip.proto, &s), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vector_alloc_request),
	        cmocka_unit_test(test_vector_alloc_responses),
	        cmocka_unit_test(test_attrs),
	        cmocka_unit_test(test_attrs_comprehension_required),
	        cmocka_unit_test(test_unknown_drop),
	        cmocka_unit_test(test_writers_nospace),
	        cmocka_unit_test(test_classify),
	        cmocka_unit_test(test_classify_port),
	        cmocka_unit_test(test_seg_parse),
	        cmocka_unit_test(test_csum),
	        cmocka_unit_test(test_csum_edges),
	        cmocka_unit_test(test_ip_vectors),
	        cmocka_unit_test(test_ip_hdr_errors),
	        cmocka_unit_test(test_ip_parse_v4),
	        cmocka_unit_test(test_ip_parse_v6),
	        cmocka_unit_test(test_ip_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
