/*
 * libFuzzer harness for proto/tso.c. An input is a 2-byte MSS and what a
 * TUN read could hand up as a TCP super-packet. Whatever the cut gives
 * must hold: every packet within MSS, IP lengths that match, sequence
 * numbers that follow the payload, and the payloads end to end are the
 * original's.
 */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/tso.h"

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PKT 65600

static uint8_t pkt[MAX_PKT], orig[MAX_PKT];

struct walk {
	size_t mss, hl, off; /* off: payload bytes seen so far */
	uint32_t seq;
	int last_seen;
};

static int seg(void *ctx, uint8_t *p, size_t len, size_t iphl, int last)
{
	struct walk *w = ctx;
	size_t thl = (size_t)(p[iphl + 12] >> 4) * 4, pay;

	CHECK(!w->last_seen);
	if (!w->hl) { /* the first packet's headers are the original's, where they were */
		CHECK(p == pkt);
		w->hl = iphl + thl;
		w->seq = peek_u32(orig + iphl + 4);
	}
	CHECK(iphl + thl == w->hl && len >= w->hl);
	pay = len - w->hl;
	CHECK(pay <= w->mss || (pay == 0 && w->off == 0));
	if (p[0] >> 4 == 4)
		CHECK(peek_u16(p + 2) == len);
	else
		CHECK(peek_u16(p + 4) == len - 40);
	CHECK(peek_u32(p + iphl + 4) == w->seq + (uint32_t)w->off);
	CHECK(memcmp(p + w->hl, orig + w->hl + w->off, pay) == 0);
	w->off += pay;
	w->last_seen = last;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk w = {0};
	int n;

	if (size < 2 || size - 2 > MAX_PKT)
		return 0;
	w.mss = peek_u16(data);
	memcpy(pkt, data + 2, size - 2);
	memcpy(orig, data + 2, size - 2);
	n = tso_cut(pkt, size - 2, w.mss, seg, &w);
	if (n == -EINVAL)
		return 0;
	CHECK(n >= 1);
	CHECK(w.last_seen);
	CHECK(w.hl + w.off == size - 2); /* every payload byte, once */
	return 0;
}
