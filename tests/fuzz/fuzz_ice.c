/*
 * fuzz_ice: what the ICE agent (client/ice, ice_core) reads from outside.
 * The first byte picks the path:
 *   0  a candidate line from the signalling peer (ice_cand_parse); what
 *      parses must print and parse back to the same candidate
 *   1  datagrams on a host socket (checks, answers, data), each prefixed by
 *      a 16-bit length, from the known remote or, when the length's top
 *      bit is set, from an address nobody announced; a Ta tick after each
 *   2  the same from the TURN server (Data indications, ChannelData,
 *      answers to the Allocate)
 * The agent has fixed credentials (ufrag "fuzzufrag", pwd
 * "fuzzpassword0123456789") and one remote candidate 198.51.100.7:4000.
 * Seeds: tests/fuzz/corpus/fuzz_ice, written by gen_ice_seeds.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "client/ice/ice_core.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t clk;
static uint32_t rnd;

static int f_send(void *ctx, int sock, const struct tw_addr *dst, const void *buf, size_t len)
{
	(void)ctx;
	(void)sock;
	(void)dst;
	(void)buf;
	CHECK(len <= 1600);
	return 0;
}

static void f_random(void *ctx, void *buf, size_t len)
{
	uint8_t *b = buf;
	(void)ctx;

	for (size_t i = 0; i < len; i++) {
		rnd = rnd * 1103515245u + 12345u;
		b[i] = (uint8_t)(rnd >> 16);
	}
}

static uint64_t f_now(void *ctx)
{
	(void)ctx;
	return clk;
}

static const struct ice_io_ops fops = {f_send, f_random, f_now, NULL};

static void fuzz_cand(const uint8_t *p, size_t n)
{
	char s[600], out[ICE_CAND_STRLEN];
	struct ice_cand c, d;

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, p, n);
	s[n] = '\0';
	if (ice_cand_parse(s, &c) != 0)
		return;
	CHECK(ice_cand_fmt(&c, out, sizeof(out)) > 0);
	CHECK(ice_cand_parse(out, &d) == 0);
	CHECK(d.type == c.type && d.comp == c.comp && d.prio == c.prio);
	CHECK(tw_addr_eq(&d.addr, &c.addr) && tw_addr_eq(&d.rel, &c.rel));
	CHECK(strcmp(d.foundation, c.foundation) == 0);
}

static struct ice_agent *agent_new(bool turn)
{
	struct ice_agent *a = calloc(1, sizeof(*a));
	struct ice_config cfg = {
	        .controlling = false,
	        .tie_breaker = 5,
	        .ufrag = "fuzzufrag",
	        .pwd = "fuzzpassword0123456789",
	        .turn_user = "demo",
	        .turn_pass = "demo",
	};
	struct ice_cand r = {.type = ICE_CAND_HOST, .comp = 1, .prio = 2130706431, .base = -1};
	struct tw_addr host;

	if (!a)
		return NULL;
	if (turn)
		tw_addr_parse("198.51.100.1:3478", 0, &cfg.turn_server);
	CHECK(ice_core_init(a, &cfg, &fops, a) == 0);
	tw_addr_parse("192.0.2.1:5000", 0, &host);
	ice_core_add_host(a, 0, 1, &host);
	if (turn)
		ice_core_add_turn(a, 1, 1, false);
	ice_core_gather(a);
	tw_addr_parse("198.51.100.7:4000", 0, &r.addr);
	strcpy(r.foundation, "r1");
	CHECK(ice_set_remote(a, "peer", "peerpassword0123456789", &r, 1) == 0);
	return a;
}

static void fuzz_datagrams(const uint8_t *p, size_t n, bool turn)
{
	struct ice_agent *a = agent_new(turn);
	struct tw_addr known, stranger;

	if (!a)
		return;
	tw_addr_parse("198.51.100.7:4000", 0, &known);
	tw_addr_parse("203.0.113.9:6000", 0, &stranger);
	while (n >= 2) {
		uint16_t l = (uint16_t)(p[0] << 8 | p[1]);
		bool other = l & 0x8000;

		l &= 0x7fff;
		p += 2;
		n -= 2;
		if (l > n)
			l = (uint16_t)n;
		if (turn)
			ice_core_turn_recv(a, 0, p, l);
		else
			ice_core_recv(a, 0, other ? &stranger : &known, p, l);
		p += l;
		n -= l;
		clk += 50;
		ice_core_tick(a);
		CHECK(a->npair <= a->cfg.max_pairs && a->nrem <= ICE_MAX_REMOTE);
		CHECK(a->st.checks_same_tick == 0);
	}
	free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;

	if (!init) {
		log_init("fuzz_ice", LOG_LVL_OFF, false);
		init = true;
	}
	if (size < 1)
		return 0;
	clk = 1000;
	rnd = 1;
	switch (data[0] % 3) {
	case 0:
		fuzz_cand(data + 1, size - 1);
		break;
	case 1:
		fuzz_datagrams(data + 1, size - 1, false);
		break;
	case 2:
		fuzz_datagrams(data + 1, size - 1, true);
		break;
	}
	return 0;
}
