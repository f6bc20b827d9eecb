/*
 * libFuzzer harness for proto/ws_frame.c. Input: one byte picks the
 * reassembly buffer's size, three pick the sizes of the pieces the stream
 * arrives in, and the rest is what a client sent. The stream is parsed
 * whole and in those pieces (and byte by byte when short): the events,
 * their data and where they happen must agree. Then the input's tail goes
 * through a client frame and must come back as the same message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws_frame.h"
#include "ws_util.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN   (WS_MSG_DEFAULT + 64)
#define MAX_RECS (MAX_IN / 6 + 2) /* a frame is at least 6 bytes */

struct rec {
	enum ws_ev_kind kind;
	uint16_t code;
	size_t len, at;
	uint32_t sum;
};

struct run {
	struct rec r[MAX_RECS];
	size_t n, consumed;
};

static struct run runs[2];

static uint32_t fnv(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* What any event must look like, whatever the input. */
static void check_event(const struct ws_event *ev, size_t cap, const uint8_t *msg)
{
	switch (ev->kind) {
	case WS_EV_NONE:
		break;
	case WS_EV_DATA:
		CHECK(ev->len <= cap && ev->data == msg);
		break;
	case WS_EV_PING:
	case WS_EV_PONG:
		CHECK(ev->len <= WS_CTRL_MAX);
		break;
	case WS_EV_CLOSE:
		CHECK(ev->len <= WS_CTRL_MAX - 2);
		CHECK(ev->code == WS_CLOSE_NO_STATUS || ws_close_code_valid(ev->code));
		CHECK(ws_utf8_valid(ev->data, ev->len));
		break;
	case WS_EV_ERROR:
		CHECK(ev->code == WS_CLOSE_PROTOCOL || ev->code == WS_CLOSE_DATA ||
		      ev->code == WS_CLOSE_UTF8 || ev->code == WS_CLOSE_TOO_BIG);
		break;
	}
	CHECK(ws_ev_name(ev->kind) != NULL);
}

/* Feeds in pieces whose sizes cycle through sizes[] (each at least 1). */
static void feed(struct run *out, const uint8_t *in, size_t len, const size_t sizes[3], size_t cap)
{
	uint8_t *msg = malloc(cap ? cap : 1);
	struct ws_rx rx;
	size_t off = 0, have, turn = 0;

	CHECK(msg);
	out->n = 0;
	ws_rx_init(&rx, msg, cap);
	have = sizes[0] < len ? sizes[0] : len;
	for (;;) {
		struct ws_event ev;
		size_t n = ws_rx_next(&rx, in + off, have - off, &ev);

		CHECK(n <= have - off);
		off += n;
		check_event(&ev, cap, msg);
		if (ev.kind == WS_EV_NONE) {
			if (ws_rx_done(&rx) || have == len)
				break;
			CHECK(off == have);
			turn++;
			have = len - have > sizes[turn % 3] ? have + sizes[turn % 3] : len;
			continue;
		}
		CHECK(out->n < MAX_RECS);
		out->r[out->n] = (struct rec){ev.kind, ev.code, ev.len, off, fnv(ev.data, ev.len)};
		out->n++;
		if (ws_rx_done(&rx)) {
			CHECK(ev.kind == WS_EV_CLOSE || ev.kind == WS_EV_ERROR);
			CHECK(ws_rx_next(&rx, in, len, &ev) == 0 && ev.kind == WS_EV_NONE);
			break;
		}
		CHECK(ev.kind != WS_EV_CLOSE && ev.kind != WS_EV_ERROR);
	}
	out->consumed = off;
	free(msg);
}

static void same(const struct run *a, const struct run *b)
{
	CHECK(a->n == b->n && a->consumed == b->consumed);
	for (size_t i = 0; i < a->n; i++)
		CHECK(memcmp(&a->r[i], &b->r[i], sizeof(a->r[i])) == 0);
}

/* The tail as one masked binary frame: it must come back unchanged. */
static void roundtrip(const uint8_t *p, size_t len)
{
	static uint8_t f[MAX_IN + 14], msg[MAX_IN];
	static const uint8_t zero[4];
	const uint8_t *key = len >= 4 ? p : zero;
	struct ws_event ev;
	struct ws_rx rx;
	size_t n = ws_test_frame(f, 0x82, p, len, key, 0);

	ws_rx_init(&rx, msg, len);
	CHECK(ws_rx_next(&rx, f, n, &ev) == n);
	CHECK(ev.kind == WS_EV_DATA && ev.len == len && memcmp(ev.data, p, len) == 0);
	/* One byte less room: refused from the header, before the payload. */
	if (len) {
		ws_rx_init(&rx, msg, len - 1);
		CHECK(ws_rx_next(&rx, f, n, &ev) == n - len && ev.kind == WS_EV_ERROR);
		CHECK(ev.code == WS_CLOSE_TOO_BIG);
	}
	/* The server writer frames the same length the same way, unmasked. */
	CHECK(ws_frame_hdr_write(msg, sizeof(msg), WS_OP_BINARY, len) == (int)(n - len - 4));
	CHECK((msg[1] & 0x7f) == (f[1] & 0x7f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {0, 1, 5, 125, 1000, WS_MSG_DEFAULT};
	static const size_t one[3] = {1, 1, 1};
	size_t sizes[3], cap;

	if (size < 4 || size > MAX_IN)
		return 0;
	cap = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
	for (int i = 0; i < 3; i++)
		sizes[i] = (size_t)data[1 + i] + 1;
	data += 4;
	size -= 4;
	feed(&runs[0], data, size, (const size_t[3]){size + 1, size + 1, size + 1}, cap);
	feed(&runs[1], data, size, sizes, cap);
	same(&runs[0], &runs[1]);
	if (size <= 4096) {
		feed(&runs[1], data, size, one, cap);
		same(&runs[0], &runs[1]);
	}
	roundtrip(data, size > 200 ? 200 : size);
	return 0;
}
