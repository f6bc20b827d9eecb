/*
 * Hostile input to a synced node: every message is refused, counted under
 * its reason, and the table stays exactly the peer's copy. Then the real
 * peer's next change still goes through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "syncd/wire.h"
#include "tests/syncd/sim.h"
#include "tests/syncd/util.h"

#define MS 1000ull
#define A  0
#define B  1

static struct sim *sim;

static int setup(void **state)
{
	struct session_cfg c;

	(void)state;
	sim = calloc(1, sizeof(*sim));
	session_cfg_defaults(&c);
	sim_init(sim, &c);
	sim_set_master(sim, A, true);
	sim_run(sim, 50 * MS);
	sim_local_range(sim, A, 0, 100);
	sim_run(sim, 50 * MS);
	assert_int_equal(sim->n[B].t->live, 100);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sim_fini(sim);
	free(sim);
	return 0;
}

static uint64_t base[DROP__COUNT];

/* Counts since the start of the current test (the pair lives through the file). */
static void snap(void)
{
	memcpy(base, sim->n[B].st.drops[SRC_PEER], sizeof(base));
}

static uint64_t drops(enum drop_reason r)
{
	return sim->n[B].st.drops[SRC_PEER][r] - base[r];
}

/* The table is A's, and the session did not move. */
static void assert_intact(uint64_t cum)
{
	assert_int_equal(sim->n[B].t->live, 100);
	assert_true(sim_tables_equal(sim));
	assert_int_equal(sim->n[B].s->rx.cum, cum);
	assert_int_equal(sim->n[B].s->state, SESS_UP);
}

/* A Batch as A would send it, with one flow, at seq. */
static size_t batch(uint8_t *buf, size_t cap, uint64_t seq, Twist__Flow *f)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Batch b = TWIST__BATCH__INIT;

	b.seq = seq;
	b.n_flows = 1;
	b.flows = &f;
	m.body_case = TWIST__SYNC__BODY_BATCH;
	m.batch = &b;
	return sim_pack(sim, A, &m, buf, cap);
}

static void test_garbage_truncated_oversized(void **state)
{
	static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
	static const uint8_t badwire[] = {0x0f, 0x01, 0x02}; /* wire type 7 */
	uint64_t cum = sim->n[B].s->rx.cum;
	struct util_flow u;
	uint8_t buf[512], *big;
	size_t len;

	(void)state;
	snap();
	sim_inject(sim, B, garbage, sizeof(garbage));
	sim_inject(sim, B, badwire, sizeof(badwire));
	assert_int_equal(drops(DROP_GARBAGE), 2);
	util_flow_init(&u, 500, false, 1, 1, 600);
	len = batch(buf, sizeof(buf), cum + 1, &u.f);
	for (size_t cut = 1; cut < len; cut += 7)
		sim_inject(sim, B, buf, len - cut); /* truncated anywhere */
	assert_true(drops(DROP_GARBAGE) + drops(DROP_INVALID) + drops(DROP_INVALID_FLOW) >=
	            2 + len / 7);
	big = calloc(1, FLOW_MAX_MSG + 1);
	assert_non_null(big);
	memcpy(big, buf, len);
	sim_inject(sim, B, big, FLOW_MAX_MSG + 1);
	free(big);
	assert_int_equal(drops(DROP_OVERSIZED), 1);
	assert_intact(cum);
}

static void test_wrong_epoch_replay_far_future(void **state)
{
	uint64_t cum = sim->n[B].s->rx.cum;
	struct util_flow u;
	uint8_t buf[512];
	size_t len;

	(void)state;
	snap();
	util_flow_init(&u, 3, false, 0, 0, 9); /* would change flow 3 */
	/* Right seq, but from an A that is not the session B knows. */
	len = batch(buf, sizeof(buf), cum + 1, &u.f);
	sim->n[A].cfg.epoch ^= 1;
	len = batch(buf, sizeof(buf), cum + 1, &u.f);
	sim->n[A].cfg.epoch ^= 1;
	sim_inject(sim, B, buf, len);
	assert_int_equal(drops(DROP_WRONG_EPOCH), 1);
	/* A replay of an applied seq, and of every older one. */
	for (uint64_t s = 1; s <= cum; s++) {
		len = batch(buf, sizeof(buf), s, &u.f);
		sim_inject(sim, B, buf, len);
	}
	assert_int_equal(drops(DROP_REPLAYED_SEQ), cum);
	/* Far beyond the window, and at the very top of the space. */
	len = batch(buf, sizeof(buf), cum + SESSION_FAR + 1, &u.f);
	sim_inject(sim, B, buf, len);
	len = batch(buf, sizeof(buf), UINT64_MAX, &u.f);
	sim_inject(sim, B, buf, len);
	assert_int_equal(drops(DROP_FAR_FUTURE_SEQ), 2);
	/* Seq 0 does not exist. */
	len = batch(buf, sizeof(buf), 0, &u.f);
	sim_inject(sim, B, buf, len);
	assert_int_equal(drops(DROP_INVALID), 1);
	assert_intact(cum);
}

static void test_invalid_flows(void **state)
{
	uint64_t cum = sim->n[B].s->rx.cum;
	struct util_flow u;
	ProtobufCBinaryData three[3];
	uint8_t buf[512];

	(void)state;
	snap();
	util_flow_init(&u, 600, false, 1, 1, 600);
	u.f.client.len = 5; /* bad address length */
	sim_inject(sim, B, buf, batch(buf, sizeof(buf), cum + 1, &u.f));
	u.f.client.len = 6;
	u.perm.ip.len = 6; /* a permission is an IP without a port */
	sim_inject(sim, B, buf, batch(buf, sizeof(buf), cum + 1, &u.f));
	u.perm.ip.len = 4;
	u.chan.number = 0x8000; /* beyond RFC 8656's channel range */
	sim_inject(sim, B, buf, batch(buf, sizeof(buf), cum + 1, &u.f));
	u.chan.number = 0x4000;
	three[0] = three[1] = three[2] = u.relayed[0]; /* three relayed addresses */
	u.f.relayed = three;
	u.f.n_relayed = 3;
	sim_inject(sim, B, buf, batch(buf, sizeof(buf), cum + 1, &u.f));
	u.f.n_relayed = 1;
	u.f.relayed = u.relayed;
	u.f.transport = 1; /* neither UDP nor TCP */
	sim_inject(sim, B, buf, batch(buf, sizeof(buf), cum + 1, &u.f));
	assert_int_equal(drops(DROP_INVALID_FLOW), 5);
	assert_int_equal(sim->n[B].t->live, 100);
	assert_intact(cum);
}

static void test_bad_headers(void **state)
{
	uint64_t cum = sim->n[B].s->rx.cum;
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Hello h = TWIST__HELLO__INIT;
	Twist__Ack a = TWIST__ACK__INIT;
	Twist__Range r = TWIST__RANGE__INIT, *rp = &r;
	uint8_t buf[512];
	size_t len;

	(void)state;
	snap();
	m.body_case = TWIST__SYNC__BODY_HELLO;
	m.hello = &h;
	h.version = 2;
	sim_inject(sim, B, buf, sim_pack(sim, A, &m, buf, sizeof(buf)));
	assert_int_equal(drops(DROP_VERSION), 1);
	h.version = 1;
	/* Node id 0 never exists; our own id is a loop. */
	len = sim_pack(sim, A, &m, buf, sizeof(buf));
	m.node_id = 0;
	len = twist__sync__pack(&m, buf);
	sim_inject(sim, B, buf, len);
	assert_int_equal(drops(DROP_INVALID), 1);
	m.node_id = 2;
	len = twist__sync__pack(&m, buf);
	sim_inject(sim, B, buf, len);
	assert_int_equal(drops(DROP_SELF), 1);
	/* A third node that is not our configured peer. */
	m.node_id = 3;
	len = twist__sync__pack(&m, buf);
	sim_inject(sim, B, buf, len);
	assert_int_equal(drops(DROP_WRONG_EPOCH), 1);
	/* No body at all; an ACK range upside down. */
	m.body_case = TWIST__SYNC__BODY__NOT_SET;
	sim_inject(sim, B, buf, sim_pack(sim, A, &m, buf, sizeof(buf)));
	m.body_case = TWIST__SYNC__BODY_ACK;
	m.ack = &a;
	r.first = 10;
	r.last = 5;
	a.n_nack = 1;
	a.nack = &rp;
	sim_inject(sim, B, buf, sim_pack(sim, A, &m, buf, sizeof(buf)));
	assert_int_equal(drops(DROP_INVALID), 3);
	assert_intact(cum);
}

static void test_still_works(void **state)
{
	(void)state;
	/* After all that, A's real changes still replicate. */
	sim_local_range(sim, A, 1000, 10);
	sim_run(sim, 50 * MS);
	assert_int_equal(sim->n[B].t->live, 110);
	assert_true(sim_tables_equal(sim));
}

static void test_local_decode_reasons(void **state)
{
	static const uint8_t garbage[] = {0x12, 0x80};
	struct util_flow u;
	Twist__Flow *fp = &u.f;
	Twist__Local m = TWIST__LOCAL__INIT;
	enum drop_reason why;
	uint8_t buf[512], *big;
	size_t len;

	(void)state;
	/* why starts out of range before each call: the decoder must set it. */
	why = DROP__COUNT;
	assert_null(wire_local_decode(garbage, sizeof(garbage), &why));
	assert_int_equal(why, DROP_GARBAGE);
	big = calloc(1, FLOW_MAX_MSG + 1);
	assert_non_null(big);
	why = DROP__COUNT;
	assert_null(wire_local_decode(big, FLOW_MAX_MSG + 1, &why));
	assert_int_equal(why, DROP_OVERSIZED);
	/* 1 MiB of empty flows: refused by the byte budget, not decoded (issue 8). */
	for (size_t i = 0; i < FLOW_MAX_MSG; i += 2)
		big[i] = 0x0a;
	assert_null(wire_local_decode(big, FLOW_MAX_MSG, &why));
	assert_int_equal(why, DROP_BUDGET);
	free(big);
	util_flow_init(&u, 1, false, 1, 1, 600);
	u.chan.number = 0x8000;
	m.n_flows = 1;
	m.flows = &fp;
	len = twist__local__pack(&m, buf);
	why = DROP__COUNT;
	assert_null(wire_local_decode(buf, len, &why));
	assert_int_equal(why, DROP_INVALID_FLOW);
	u.chan.number = 0x4000;
	len = twist__local__pack(&m, buf);
	Twist__Local *ok = wire_local_decode(buf, len, &why);
	assert_non_null(ok);
	twist__local__free_unpacked(ok, flow_allocator());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_garbage_truncated_oversized),
	        cmocka_unit_test(test_wrong_epoch_replay_far_future),
	        cmocka_unit_test(test_invalid_flows),
	        cmocka_unit_test(test_bad_headers),
	        cmocka_unit_test(test_still_works),
	        cmocka_unit_test(test_local_decode_reasons),
	};

	/* One node pair for the whole file: each test adds to the attack. */
	return cmocka_run_group_tests(tests, setup, teardown);
}
