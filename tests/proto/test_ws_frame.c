/*
 * proto/ws_frame.c: client frames in, events out (RFC 6455 §5), and server
 * frames written. Every input is also fed in pieces (one byte, three
 * bytes) and must give exactly the events of the whole buffer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/demux.h"
#include "proto/ws_frame.h"
#include "ws_util.h"

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455 §5.7's */
static const uint8_t hello[] = "Hello";

struct rec {
	enum ws_ev_kind kind;
	uint16_t code;
	size_t len, at; /* at: input offset just after the event */
	uint8_t data[8];
	uint32_t sum;
};

#define MAX_RECS 16

struct run {
	struct rec r[MAX_RECS];
	size_t n, consumed;
	bool done;
};

static uint32_t fnv(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Feeds in at most chunk bytes at a time, as a receive buffer would fill. */
static void feed(struct run *out, const uint8_t *in, size_t len, size_t chunk, size_t cap)
{
	uint8_t *msg = test_malloc(cap ? cap : 1);
	struct ws_rx rx;
	size_t off = 0, have = 0;

	memset(out, 0, sizeof(*out));
	ws_rx_init(&rx, msg, cap);
	have = chunk < len ? chunk : len;
	for (;;) {
		struct ws_event ev;
		size_t n = ws_rx_next(&rx, in + off, have - off, &ev);

		assert_true(n <= have - off);
		off += n;
		if (ev.kind == WS_EV_NONE) {
			if (ws_rx_done(&rx) || have == len)
				break;
			assert_int_equal(off, have);
			have = have + chunk < len ? have + chunk : len;
			continue;
		}
		assert_true(out->n < MAX_RECS);
		out->r[out->n].kind = ev.kind;
		out->r[out->n].code = ev.code;
		out->r[out->n].len = ev.len;
		out->r[out->n].at = off;
		if (ev.len)
			memcpy(out->r[out->n].data, ev.data, ev.len < 8 ? ev.len : 8);
		out->r[out->n].sum = fnv(ev.data, ev.len);
		out->n++;
		if (ws_rx_done(&rx))
			break;
	}
	out->consumed = off;
	out->done = ws_rx_done(&rx);
	if (out->done) {
		struct ws_event ev;

		assert_int_equal(ws_rx_next(&rx, in, len, &ev), 0);
		assert_int_equal(ev.kind, WS_EV_NONE);
	}
	test_free(msg);
}

/* Whole, one byte at a time and three at a time: the same events at the same offsets. */
static void feed_all(struct run *whole, const uint8_t *in, size_t len, size_t cap)
{
	static const size_t chunks[] = {1, 3, 7};
	struct run part;

	feed(whole, in, len, len ? len : 1, cap);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		feed(&part, in, len, chunks[c], cap);
		assert_int_equal(part.n, whole->n);
		assert_int_equal(part.consumed, whole->consumed);
		assert_int_equal(part.done, whole->done);
		for (size_t i = 0; i < whole->n; i++) {
			assert_int_equal(part.r[i].kind, whole->r[i].kind);
			assert_int_equal(part.r[i].code, whole->r[i].code);
			assert_int_equal(part.r[i].len, whole->r[i].len);
			assert_int_equal(part.r[i].at, whole->r[i].at);
			assert_int_equal(part.r[i].sum, whole->r[i].sum);
		}
	}
}

/* One event expected from in; checks kind, code and payload. */
static void expect_one(const uint8_t *in, size_t len, size_t cap, enum ws_ev_kind kind,
                       uint16_t code, const uint8_t *data, size_t dlen)
{
	struct run r;

	feed_all(&r, in, len, cap);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.r[0].kind, kind);
	assert_int_equal(r.r[0].code, code);
	if (data) {
		assert_int_equal(r.r[0].len, dlen);
		assert_int_equal(r.r[0].sum, fnv(data, dlen));
	}
}

static void test_rfc_examples(void **state)
{
	/* RFC 6455 §5.7, bytes as printed: a masked text "Hello" and a masked pong. */
	static const uint8_t masked_text[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	                                      0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const uint8_t masked_pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	                                      0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const uint8_t unmasked_text[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	uint8_t buf[64];
	size_t n;

	(void)state;
	expect_one(masked_text, sizeof(masked_text), 256, WS_EV_ERROR, WS_CLOSE_DATA, NULL, 0);
	expect_one(masked_pong, sizeof(masked_pong), 256, WS_EV_PONG, 0, hello, 5);
	expect_one(unmasked_text, sizeof(unmasked_text), 256, WS_EV_ERROR, WS_CLOSE_PROTOCOL, NULL,
	           0);
	/* The same example as binary, which is what TURN uses. */
	memcpy(buf, masked_text, sizeof(masked_text));
	buf[0] = 0x82;
	expect_one(buf, sizeof(masked_text), 256, WS_EV_DATA, 0, hello, 5);
	/* The fragmented "Hel" + "lo" and the ping, masked as a client must. */
	n = ws_test_frame(buf, 0x02, hello, 3, key, 0);
	n += ws_test_frame(buf + n, 0x80, hello + 3, 2, key, 0);
	expect_one(buf, n, 256, WS_EV_DATA, 0, hello, 5);
	n = ws_test_frame(buf, 0x89, hello, 5, key, 0);
	expect_one(buf, n, 256, WS_EV_PING, 0, hello, 5);
}

static void test_long_lengths(void **state)
{
	static const uint8_t hdr256[] = {0x82, 0xfe, 0x01, 0x00};
	static const uint8_t hdr64k[] = {0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0};
	size_t big = 65536;
	uint8_t *p = test_malloc(big), *f = test_malloc(big + 14);
	size_t n;

	(void)state;
	for (size_t i = 0; i < big; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	n = ws_test_frame(f, 0x82, p, 256, key, 0);
	assert_int_equal(n, 4 + 4 + 256);
	assert_memory_equal(f, hdr256, sizeof(hdr256));
	expect_one(f, n, WS_MSG_DEFAULT, WS_EV_DATA, 0, p, 256);
	n = ws_test_frame(f, 0x82, p, big, key, 0);
	assert_memory_equal(f, hdr64k, sizeof(hdr64k));
	expect_one(f, n, WS_MSG_DEFAULT, WS_EV_DATA, 0, p, big);
	/* One byte more than the buffer holds: 1009, and the payload is not read. */
	{
		struct run r;

		feed_all(&r, f, n, big - 1);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.r[0].kind, WS_EV_ERROR);
		assert_int_equal(r.r[0].code, WS_CLOSE_TOO_BIG);
		assert_int_equal(r.r[0].at, 14);
	}
	test_free(p);
	test_free(f);
}

/* clang-format off */
static const struct {
	const char *name;
	uint8_t b0;
	size_t len;
	bool masked;
	int lenform;
	uint16_t code;
} bad_hdr[] = {
	{"RSV1", 0xc2, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"RSV2", 0xa2, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"RSV3", 0x92, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"unmasked binary", 0x82, 1, false, 0, WS_CLOSE_PROTOCOL},
	{"unmasked ping", 0x89, 0, false, 0, WS_CLOSE_PROTOCOL},
	{"opcode 3", 0x83, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"opcode 7", 0x87, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"opcode 0xb", 0x8b, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"opcode 0xf", 0x8f, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"text", 0x81, 1, true, 0, WS_CLOSE_DATA},
	{"text fragment", 0x01, 1, true, 0, WS_CLOSE_DATA},
	{"continuation first", 0x80, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"ping of 126", 0x89, 126, true, 0, WS_CLOSE_PROTOCOL},
	{"pong of 126", 0x8a, 126, true, 0, WS_CLOSE_PROTOCOL},
	{"close of 126", 0x88, 126, true, 0, WS_CLOSE_PROTOCOL},
	{"fragmented ping", 0x09, 1, true, 0, WS_CLOSE_PROTOCOL},
	{"fragmented close", 0x08, 0, true, 0, WS_CLOSE_PROTOCOL},
	{"16-bit length of 125", 0x82, 125, true, 126, WS_CLOSE_PROTOCOL},
	{"16-bit length of 0", 0x82, 0, true, 126, WS_CLOSE_PROTOCOL},
	{"64-bit length of 65535", 0x82, 65535, true, 127, WS_CLOSE_PROTOCOL},
	{"64-bit length of 5", 0x82, 5, true, 127, WS_CLOSE_PROTOCOL},
	{"ping 16-bit length of 5", 0x89, 5, true, 126, WS_CLOSE_PROTOCOL},
};
/* clang-format on */

static void test_bad_headers(void **state)
{
	static uint8_t zero[65536], f[65536 + 14];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_hdr) / sizeof(bad_hdr[0]); i++) {
		size_t n = ws_test_frame(f, bad_hdr[i].b0, zero, bad_hdr[i].len,
		                         bad_hdr[i].masked ? key : NULL, bad_hdr[i].lenform);

		print_message("%s\n", bad_hdr[i].name);
		expect_one(f, n, WS_MSG_DEFAULT, WS_EV_ERROR, bad_hdr[i].code, NULL, 0);
	}
}

static void test_64bit_msb(void **state)
{
	uint8_t f[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 9};
	struct run r;

	(void)state;
	feed_all(&r, f, sizeof(f), WS_MSG_DEFAULT);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.r[0].code, WS_CLOSE_PROTOCOL);
	/* A huge length that is minimal and has the MSB clear: too big, not a protocol error. */
	f[2] = 0x7f;
	feed_all(&r, f, sizeof(f), WS_MSG_DEFAULT);
	assert_int_equal(r.r[0].code, WS_CLOSE_TOO_BIG);
	assert_int_equal(r.r[0].at, 14);
}

/* A binary message left open, then another start, or a text: both close 1002/1003. */
static void test_bad_sequences(void **state)
{
	uint8_t f[64];
	size_t n;
	struct run r;

	(void)state;
	n = ws_test_frame(f, 0x02, hello, 2, key, 0);
	n += ws_test_frame(f + n, 0x82, hello, 2, key, 0);
	feed_all(&r, f, n, 256);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.r[0].code, WS_CLOSE_PROTOCOL);
	n = ws_test_frame(f, 0x02, hello, 2, key, 0);
	n += ws_test_frame(f + n, 0x81, hello, 2, key, 0);
	feed_all(&r, f, n, 256);
	assert_int_equal(r.r[0].code, WS_CLOSE_PROTOCOL);
	/* A finished message, then a continuation: nothing to continue. */
	n = ws_test_frame(f, 0x82, hello, 2, key, 0);
	n += ws_test_frame(f + n, 0x80, hello, 2, key, 0);
	feed_all(&r, f, n, 256);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.r[0].kind, WS_EV_DATA);
	assert_int_equal(r.r[1].code, WS_CLOSE_PROTOCOL);
	/* The cap counts the whole message, not each frame. */
	n = ws_test_frame(f, 0x02, hello, 3, key, 0);
	n += ws_test_frame(f + n, 0x80, hello, 3, key, 0);
	feed_all(&r, f, n, 5);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.r[0].code, WS_CLOSE_TOO_BIG);
	feed_all(&r, f, n, 6);
	assert_int_equal(r.r[0].kind, WS_EV_DATA);
	assert_int_equal(r.r[0].len, 6);
}

/* clang-format off */
static const struct {
	const char *name;
	uint8_t body[16];
	size_t len;
	enum ws_ev_kind kind;
	uint16_t code;
	size_t rlen;
} closes[] = {
	{"empty", {0}, 0, WS_EV_CLOSE, WS_CLOSE_NO_STATUS, 0},
	{"1000", {0x03, 0xe8}, 2, WS_EV_CLOSE, 1000, 0},
	{"1000 bye", {0x03, 0xe8, 'b', 'y', 'e'}, 5, WS_EV_CLOSE, 1000, 3},
	{"1001", {0x03, 0xe9}, 2, WS_EV_CLOSE, 1001, 0},
	{"1003", {0x03, 0xeb}, 2, WS_EV_CLOSE, 1003, 0},
	{"1007", {0x03, 0xef}, 2, WS_EV_CLOSE, 1007, 0},
	{"1011", {0x03, 0xf3}, 2, WS_EV_CLOSE, 1011, 0},
	{"1014", {0x03, 0xf6}, 2, WS_EV_CLOSE, 1014, 0},
	{"3000", {0x0b, 0xb8}, 2, WS_EV_CLOSE, 3000, 0},
	{"4999", {0x13, 0x87}, 2, WS_EV_CLOSE, 4999, 0},
	{"utf-8 reason", {0x03, 0xe8, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80}, 11,
	 WS_EV_CLOSE, 1000, 9},
	{"one byte", {0x03}, 1, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"0", {0, 0}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"999", {0x03, 0xe7}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"1004", {0x03, 0xec}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"1005", {0x03, 0xed}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"1006", {0x03, 0xee}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"1015", {0x03, 0xf7}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"1016", {0x03, 0xf8}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"2999", {0x0b, 0xb7}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"5000", {0x13, 0x88}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"65535", {0xff, 0xff}, 2, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"bad code before bad utf-8", {0x03, 0xe7, 0xff}, 3, WS_EV_ERROR, WS_CLOSE_PROTOCOL, 0},
	{"reason 0xff", {0x03, 0xe8, 0xff}, 3, WS_EV_ERROR, WS_CLOSE_UTF8, 0},
	{"reason cut sequence", {0x03, 0xe8, 'a', 0xe2, 0x82}, 5, WS_EV_ERROR, WS_CLOSE_UTF8, 0},
	{"reason overlong", {0x03, 0xe8, 0xc0, 0xaf}, 4, WS_EV_ERROR, WS_CLOSE_UTF8, 0},
	{"reason surrogate", {0x03, 0xe8, 0xed, 0xa0, 0x80}, 5, WS_EV_ERROR, WS_CLOSE_UTF8, 0},
	{"reason above U+10FFFF", {0x03, 0xe8, 0xf4, 0x90, 0x80, 0x80}, 6, WS_EV_ERROR,
	 WS_CLOSE_UTF8, 0},
};
/* clang-format on */

static void test_close(void **state)
{
	uint8_t f[64];

	(void)state;
	for (size_t i = 0; i < sizeof(closes) / sizeof(closes[0]); i++) {
		size_t n = ws_test_frame(f, 0x88, closes[i].body, closes[i].len, key, 0);
		struct run r;

		print_message("close %s\n", closes[i].name);
		/* Bytes after a close are never read. */
		n += ws_test_frame(f + n, 0x82, hello, 5, key, 0);
		feed_all(&r, f, n, 256);
		assert_int_equal(r.n, 1);
		assert_true(r.done);
		assert_int_equal(r.r[0].kind, closes[i].kind);
		assert_int_equal(r.r[0].code, closes[i].code);
		assert_int_equal(r.r[0].at, 6 + closes[i].len);
		if (closes[i].kind == WS_EV_CLOSE) {
			assert_int_equal(r.r[0].len, closes[i].rlen);
			assert_int_equal(r.r[0].sum, fnv(closes[i].body + 2, closes[i].rlen));
		}
	}
}

/* A STUN Binding request (RFC 8489 §5) and a padded ChannelData frame. */
static const uint8_t stun_req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                                     3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
static const uint8_t chdata[8] = {0x40, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0};

static void test_two_turn_messages(void **state)
{
	uint8_t both[28], f[64];
	uint8_t *msg = test_malloc(WS_MSG_DEFAULT);
	struct ws_event ev;
	struct ws_rx rx;
	size_t n;

	(void)state;
	memcpy(both, stun_req, 20);
	memcpy(both + 20, chdata, 8);
	n = ws_test_frame(f, 0x82, both, sizeof(both), key, 0);
	expect_one(f, n, WS_MSG_DEFAULT, WS_EV_DATA, 0, both, sizeof(both));
	/* What a transport does with it: the stream framing splits the two. */
	ws_rx_init(&rx, msg, WS_MSG_DEFAULT);
	assert_int_equal(ws_rx_next(&rx, f, n, &ev), n);
	assert_int_equal(ev.kind, WS_EV_DATA);
	assert_int_equal(demux_frame_len(ev.data, ev.len), 20);
	assert_int_equal(demux_frame_len(ev.data + 20, ev.len - 20), 8);
	test_free(msg);
}

static void test_split_in_three(void **state)
{
	uint8_t f[96];
	size_t n;

	(void)state;
	n = ws_test_frame(f, 0x02, stun_req, 7, key, 0);
	n += ws_test_frame(f + n, 0x00, stun_req + 7, 6, key, 0);
	n += ws_test_frame(f + n, 0x80, stun_req + 13, 7, key, 0);
	expect_one(f, n, WS_MSG_DEFAULT, WS_EV_DATA, 0, stun_req, 20);
	/* Empty fragments are frames too. */
	n = ws_test_frame(f, 0x02, NULL, 0, key, 0);
	n += ws_test_frame(f + n, 0x00, stun_req, 20, key, 0);
	n += ws_test_frame(f + n, 0x80, NULL, 0, key, 0);
	expect_one(f, n, WS_MSG_DEFAULT, WS_EV_DATA, 0, stun_req, 20);
}

static void test_control_inside_fragments(void **state)
{
	uint8_t f[128];
	struct run r;
	size_t n;

	(void)state;
	n = ws_test_frame(f, 0x02, stun_req, 10, key, 0);
	n += ws_test_frame(f + n, 0x89, hello, 5, key, 0);
	n += ws_test_frame(f + n, 0x8a, hello, 2, key, 0);
	n += ws_test_frame(f + n, 0x80, stun_req + 10, 10, key, 0);
	n += ws_test_frame(f + n, 0x88, (const uint8_t[]){0x03, 0xe8}, 2, key, 0);
	feed_all(&r, f, n, WS_MSG_DEFAULT);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.r[0].kind, WS_EV_PING);
	assert_memory_equal(r.r[0].data, hello, 5);
	assert_int_equal(r.r[1].kind, WS_EV_PONG);
	assert_int_equal(r.r[1].len, 2);
	assert_int_equal(r.r[2].kind, WS_EV_DATA);
	assert_int_equal(r.r[2].sum, fnv(stun_req, 20));
	assert_int_equal(r.r[3].kind, WS_EV_CLOSE);
	assert_int_equal(r.r[3].code, 1000);
	assert_int_equal(r.consumed, n);
	/* A close inside a fragmented message ends it too. */
	n = ws_test_frame(f, 0x02, stun_req, 10, key, 0);
	n += ws_test_frame(f + n, 0x88, NULL, 0, key, 0);
	feed_all(&r, f, n, WS_MSG_DEFAULT);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.r[0].kind, WS_EV_CLOSE);
}

static void test_many_messages(void **state)
{
	uint8_t f[16 * 40];
	struct run r;
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 12; i++)
		n += ws_test_frame(f + n, 0x82, stun_req, (size_t)i, key, 0);
	feed_all(&r, f, n, 64);
	assert_int_equal(r.n, 12);
	for (size_t i = 0; i < 12; i++) {
		assert_int_equal(r.r[i].kind, WS_EV_DATA);
		assert_int_equal(r.r[i].len, i);
	}
	assert_false(r.done);
	assert_int_equal(r.consumed, n);
}

static void test_writer(void **state)
{
	static uint8_t out[65536 + 16], p[65536];
	static const uint8_t bin_hello[] = {0x82, 0x05, 'H', 'e', 'l', 'l', 'o'};
	static const uint8_t close_bye[] = {0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'};
	static const struct {
		size_t plen;
		int hlen;
		uint8_t b1;
	} lens[] = {{0, 2, 0}, {125, 2, 125}, {126, 4, 126}, {65535, 4, 126}, {65536, 10, 127}};
	long n;

	(void)state;
	assert_int_equal(ws_frame_write(out, sizeof(out), WS_OP_BINARY, hello, 5), 7);
	assert_memory_equal(out, bin_hello, sizeof(bin_hello));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = ws_frame_write(out, sizeof(out), WS_OP_BINARY, p, lens[i].plen);
		assert_int_equal(n, lens[i].hlen + (long)lens[i].plen);
		assert_int_equal(out[0], 0x82);
		assert_int_equal(out[1], lens[i].b1);
	}
	assert_memory_equal(out + 2, ((const uint8_t[]){0, 0, 0, 0, 0, 1, 0, 0}), 8);
	assert_int_equal(ws_frame_write(out, 6, WS_OP_BINARY, hello, 5), -ENOSPC);
	assert_int_equal(ws_frame_write(out, 1, WS_OP_BINARY, hello, 0), -ENOSPC);
	assert_int_equal(ws_frame_hdr_write(out, 3, WS_OP_BINARY, 126), -ENOSPC);
	assert_int_equal(ws_frame_write(out, sizeof(out), WS_OP_PING, p, 126), -EINVAL);
	assert_int_equal(ws_frame_write(out, sizeof(out), WS_OP_PONG, hello, 5), 7);
	assert_int_equal(out[0], 0x8a);
	assert_int_equal(ws_close_write(out, sizeof(out), 1000, "bye"), 7);
	assert_memory_equal(out, close_bye, sizeof(close_bye));
	assert_int_equal(ws_close_write(out, sizeof(out), WS_CLOSE_TOO_BIG, NULL), 4);
	assert_int_equal(ws_close_write(out, sizeof(out), WS_CLOSE_NO_STATUS, NULL), -EINVAL);
	assert_int_equal(ws_close_write(out, sizeof(out), 1000, "\xff"), -EINVAL);
	memset(p, 'x', 124);
	p[124] = 0;
	assert_int_equal(ws_close_write(out, sizeof(out), 1000, (const char *)p), -EINVAL);
	p[123] = 0;
	assert_int_equal(ws_close_write(out, sizeof(out), 1000, (const char *)p), 2 + 125);
	assert_int_equal(ws_close_write(out, 10, 1000, (const char *)p), -ENOSPC);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(ws_ev_name(WS_EV_DATA), "data");
	assert_string_equal(ws_ev_name(WS_EV_ERROR), "error");
	assert_true(ws_utf8_valid((const uint8_t *)"", 0));
	assert_true(ws_utf8_valid((const uint8_t *)"\xef\xbf\xbf", 3));
	assert_false(ws_utf8_valid((const uint8_t *)"\xe0\x80\x80", 3));
	assert_false(ws_utf8_valid((const uint8_t *)"\xf0\x80\x80\x80", 4));
	assert_true(ws_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4));
	assert_false(ws_utf8_valid((const uint8_t *)"\x80", 1));
	assert_false(ws_utf8_valid((const uint8_t *)"\xc1\xbf", 2));
	assert_false(ws_utf8_valid((const uint8_t *)"\xf5\x80\x80\x80", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc_examples),
	        cmocka_unit_test(test_long_lengths),
	        cmocka_unit_test(test_bad_headers),
	        cmocka_unit_test(test_64bit_msb),
	        cmocka_unit_test(test_bad_sequences),
	        cmocka_unit_test(test_close),
	        cmocka_unit_test(test_two_turn_messages),
	        cmocka_unit_test(test_split_in_three),
	        cmocka_unit_test(test_control_inside_fragments),
	        cmocka_unit_test(test_many_messages),
	        cmocka_unit_test(test_writer),
	        cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("proto/ws_frame", tests, NULL, NULL);
}
