/*
 * proto/flow.c's byte budget (DESIGN decision 14): hostile messages that
 * would make protobuf-c allocate ~100 times their size are refused, and the
 * biggest valid messages the senders can make still unpack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/flow.h"
#include "tests/syncd/util.h"

static void test_hostile_local_refused(void **state)
{
	size_t len;
	uint8_t *b = util_hostile_local(&len);
	bool over = false;

	(void)state;
	assert_null(flow_local_unpack(b, len));
	assert_null(flow_local_unpack_raw(b, len, &over));
	assert_true(over);
	free(b);
}

static void test_hostile_sync_refused(void **state)
{
	size_t len;
	uint8_t *b = util_hostile_sync(1, &len);
	bool over = false;

	(void)state;
	assert_true(len <= FLOW_MAX_MSG);
	assert_null(flow_sync_unpack(b, len));
	assert_null(flow_sync_unpack_raw(b, len, &over));
	assert_true(over);
	free(b);
}

/* A small hostile message is not over budget: the base covers it, and it is valid. */
static void test_small_empty_flows_not_over(void **state)
{
	static const uint8_t b[] = {0x0a, 0x00, 0x0a, 0x00};
	bool over = true;
	Twist__Local *l;

	(void)state;
	l = flow_local_unpack_raw(b, sizeof(b), &over);
	assert_non_null(l);
	assert_false(over);
	assert_int_equal(l->n_flows, 2);
	assert_false(flow_local_valid(l)); /* empty flows have no identity */
	twist__local__free_unpacked(l, flow_allocator());
}

static uint8_t *pack_local(Twist__Flow **flows, size_t n, size_t *len)
{
	Twist__Local m;
	uint8_t *b;

	twist__local__init(&m);
	m.flows = flows;
	m.n_flows = n;
	*len = twist__local__get_packed_size(&m);
	b = malloc(*len);
	assert_non_null(b);
	twist__local__pack(&m, b);
	return b;
}

/* FLOW_MAX_FLOWS realistic flows (1 permission, 1 channel) in one message. */
static void test_max_flows_unpack(void **state)
{
	struct util_flow *u = calloc(FLOW_MAX_FLOWS, sizeof(*u));
	Twist__Flow **f = calloc(FLOW_MAX_FLOWS, sizeof(*f));
	Twist__Local *l;
	uint8_t *b;
	size_t len;

	(void)state;
	assert_non_null(u);
	assert_non_null(f);
	for (unsigned i = 0; i < FLOW_MAX_FLOWS; i++) {
		util_flow_init(&u[i], i, i % 2, 1, 1, 600);
		f[i] = &u[i].f;
	}
	b = pack_local(f, FLOW_MAX_FLOWS, &len);
	l = flow_local_unpack(b, len);
	assert_non_null(l);
	assert_int_equal(l->n_flows, FLOW_MAX_FLOWS);
	assert_true(util_flow_same(l->flows[FLOW_MAX_FLOWS - 1], f[FLOW_MAX_FLOWS - 1], 0));
	twist__local__free_unpacked(l, flow_allocator());
	free(b);
	free(f);
	free(u);
}

/*
 * The costliest valid content per wire byte: IPv4 permissions with no
 * lifetime, FLOW_MAX_PERMS a flow, filling FLOW_BUDGET_SAFE_MSG.
 */
static void test_costliest_safe_size_unpacks(void **state)
{
	static struct util_flow u;
	static Twist__Perm perm[FLOW_MAX_PERMS], *pp[FLOW_MAX_PERMS];
	static uint8_t ip[FLOW_MAX_PERMS][4];
	Twist__Flow **f = calloc(FLOW_MAX_FLOWS, sizeof(*f));
	Twist__Local *l;
	size_t n = 0, len, one;
	uint8_t *b;

	(void)state;
	assert_non_null(f);
	util_flow_init(&u, 1, false, 0, 0, 600);
	for (unsigned i = 0; i < FLOW_MAX_PERMS; i++) {
		twist__perm__init(&perm[i]);
		ip[i][0] = 198;
		ip[i][1] = 51;
		ip[i][2] = 100;
		ip[i][3] = (uint8_t)i;
		perm[i].ip.data = ip[i];
		perm[i].ip.len = 4;
		pp[i] = &perm[i];
	}
	u.f.perms = pp;
	u.f.n_perms = FLOW_MAX_PERMS;
	one = twist__flow__get_packed_size(&u.f) + 3;
	while ((n + 1) * one <= FLOW_BUDGET_SAFE_MSG)
		f[n++] = &u.f; /* the same flow again: the budget does not care */
	b = pack_local(f, n, &len);
	assert_true(len <= FLOW_BUDGET_SAFE_MSG);
	assert_true(len > FLOW_BUDGET_SAFE_MSG - one);
	l = flow_local_unpack(b, len);
	assert_non_null(l);
	assert_int_equal(l->n_flows, n);
	assert_int_equal(l->flows[n - 1]->n_perms, FLOW_MAX_PERMS);
	twist__local__free_unpacked(l, flow_allocator());
	free(b);
	free(f);
}

/* A Sync batch of the largest --batch-bytes, of realistic flows, also passes. */
static void test_max_batch_unpacks(void **state)
{
	static struct util_flow u[FLOW_MAX_FLOWS];
	Twist__Flow *f[FLOW_MAX_FLOWS];
	Twist__Sync s;
	Twist__Batch batch;
	Twist__Sync *back;
	size_t n = 0, len = 0;
	uint8_t *b;

	(void)state;
	twist__sync__init(&s);
	twist__batch__init(&batch);
	s.node_id = 1;
	s.body_case = TWIST__SYNC__BODY_BATCH;
	s.batch = &batch;
	batch.seq = 1;
	batch.flows = f;
	while (n < FLOW_MAX_FLOWS) {
		util_flow_init(&u[n], n, true, 1, 1, 600);
		f[n] = &u[n].f;
		batch.n_flows = n + 1;
		if (twist__sync__get_packed_size(&s) > FLOW_BUDGET_SAFE_MSG)
			break;
		n++;
	}
	batch.n_flows = n;
	len = twist__sync__get_packed_size(&s);
	b = malloc(len);
	assert_non_null(b);
	twist__sync__pack(&s, b);
	back = flow_sync_unpack(b, len);
	assert_non_null(back);
	assert_int_equal(back->batch->n_flows, n);
	twist__sync__free_unpacked(back, flow_allocator());
	free(b);
}

/* The relay's biggest message: 64 flows of 64 IPv6 permissions and 64 channels (relay/sync.c). */
static void test_relay_max_message(void **state)
{
	static struct util_flow u[64];
	static Twist__Perm perm[64], *pp[64];
	static Twist__Chan chan[64], *pc[64];
	static uint8_t ip[64][18];
	Twist__Flow *f[64];
	Twist__Local *l;
	uint8_t *b;
	size_t len;

	(void)state;
	for (unsigned i = 0; i < 64; i++) {
		memset(ip[i], 0xfe, sizeof(ip[i]));
		ip[i][0] = 0x20;
		ip[i][15] = (uint8_t)i;
		twist__perm__init(&perm[i]);
		perm[i].ip.data = ip[i];
		perm[i].ip.len = 16;
		perm[i].lifetime = 300;
		pp[i] = &perm[i];
		twist__chan__init(&chan[i]);
		chan[i].number = 0x4000 + i;
		chan[i].peer.data = ip[i];
		chan[i].peer.len = 18;
		chan[i].lifetime = 600;
		pc[i] = &chan[i];
	}
	for (unsigned i = 0; i < 64; i++) {
		util_flow_init(&u[i], i, true, 0, 0, 3600);
		u[i].f.perms = pp;
		u[i].f.n_perms = 64;
		u[i].f.chans = pc;
		u[i].f.n_chans = 64;
		f[i] = &u[i].f;
	}
	b = pack_local(f, 64, &len);
	assert_true(len > FLOW_BUDGET_SAFE_MSG);
	l = flow_local_unpack(b, len);
	assert_non_null(l);
	assert_int_equal(l->flows[63]->n_chans, 64);
	twist__local__free_unpacked(l, flow_allocator());
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hostile_local_refused),
	        cmocka_unit_test(test_hostile_sync_refused),
	        cmocka_unit_test(test_small_empty_flows_not_over),
	        cmocka_unit_test(test_max_flows_unpack),
	        cmocka_unit_test(test_costliest_safe_size_unpacks),
	        cmocka_unit_test(test_max_batch_unpacks),
	        cmocka_unit_test(test_relay_max_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
