/*
 * client/tc_srv.c, twist-client's server selection (draft §12): the
 * --server list in order, back-off for the failed, a server learned from
 * a 300 and the one before it. Pure state, a clock the test moves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "client/tc_srv.h"

static struct tw_addr A, B, C, L1, L2;

static struct tw_addr ip(const char *s)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse(s, 3478, &a), 0);
	return a;
}

static int setup(void **state)
{
	(void)state;
	A = ip("192.0.2.1:3478");
	B = ip("192.0.2.2:3478");
	C = ip("192.0.2.3:3478");
	L1 = ip("203.0.113.7:3478");
	L2 = ip("203.0.113.8:3478");
	return 0;
}

static void init3(struct tc_srvsel *s)
{
	struct tw_addr l[3] = {A, B, C};

	tc_srv_init(s, l, 3);
	assert_true(tw_addr_eq(&s->cur, &A));
}

/* In order, wrapping; a failure only counts for the current server. */
static void test_list_order(void **state)
{
	struct tc_srvsel s;

	(void)state;
	init3(&s);
	assert_int_equal(tc_srv_failed(&s, &A, 1000), TC_SRV_NEXT);
	assert_true(tw_addr_eq(&s.cur, &B));
	assert_int_equal(s.list[0].fails, 1);
	assert_int_equal(s.list[0].retry_ms, 1000 + TC_SRV_BACKOFF0);
	/* a second flow that found A dead after the move changes nothing */
	assert_int_equal(tc_srv_failed(&s, &A, 1000), TC_SRV_STALE);
	assert_true(tw_addr_eq(&s.cur, &B));
	assert_int_equal(s.list[0].fails, 1);
	assert_int_equal(tc_srv_failed(&s, &B, 1000), TC_SRV_NEXT);
	assert_true(tw_addr_eq(&s.cur, &C));
	/* all three backing off alike: the next in order, A */
	assert_int_equal(tc_srv_failed(&s, &C, 1000), TC_SRV_NEXT);
	assert_true(tw_addr_eq(&s.cur, &A));
}

/* A failed server is skipped until its back-off ends; it doubles, capped. */
static void test_backoff(void **state)
{
	struct tc_srvsel s;

	(void)state;
	init3(&s);
	tc_srv_failed(&s, &A, 0);  /* A back until 1000 */
	tc_srv_failed(&s, &B, 10); /* B back until 1010: C is usable */
	assert_true(tw_addr_eq(&s.cur, &C));
	/* C fails at 500: A and B still back off; A's ends first */
	assert_int_equal(tc_srv_failed(&s, &C, 500), TC_SRV_NEXT);
	assert_true(tw_addr_eq(&s.cur, &A));
	/* at 2000 A fails a second time: B (back since 1010) is usable */
	assert_int_equal(tc_srv_failed(&s, &A, 2000), TC_SRV_NEXT);
	assert_int_equal(s.list[0].fails, 2);
	assert_int_equal(s.list[0].retry_ms, 2000 + 2 * TC_SRV_BACKOFF0);
	assert_true(tw_addr_eq(&s.cur, &B));
	for (int i = 0; i < 20; i++)
		s.list[0].fails++;
	s.cur = A;
	s.home = 0;
	tc_srv_failed(&s, &A, 0);
	assert_int_equal(s.list[0].retry_ms, TC_SRV_BACKOFF_MAX);
	/* an answer ends it */
	tc_srv_ok(&s, &A);
	assert_int_equal(s.list[0].fails, 0);
	assert_int_equal(s.list[0].retry_ms, 0);
}

/* One server: nowhere else to go. */
static void test_single(void **state)
{
	struct tc_srvsel s;

	(void)state;
	tc_srv_init(&s, &A, 1);
	assert_int_equal(tc_srv_failed(&s, &A, 0), TC_SRV_SAME);
	assert_true(tw_addr_eq(&s.cur, &A));
	assert_int_equal(tc_srv_failed(&s, &B, 0), TC_SRV_STALE);
	tc_srv_init(&s, &A, 0);
	assert_int_equal(tc_srv_failed(&s, &A, 0), TC_SRV_STALE);
}

/* A learned server that fails: the one before the 300, then the list. */
static void test_learned(void **state)
{
	struct tc_srvsel s;

	(void)state;
	init3(&s);
	tc_srv_start(&s, 1);
	tc_srv_redirect(&s, &L1);
	assert_true(s.learned && tw_addr_eq(&s.cur, &L1));
	assert_int_equal(tc_srv_failed(&s, &L1, 0), TC_SRV_PREVIOUS);
	assert_true(tw_addr_eq(&s.cur, &B));
	assert_false(s.learned);
	assert_int_equal(s.list[1].fails, 0); /* B did not fail */
	assert_int_equal(tc_srv_failed(&s, &B, 0), TC_SRV_NEXT);
	assert_true(tw_addr_eq(&s.cur, &C));

	/* two 300s in a row: back one step, then to the list entry they left */
	init3(&s);
	tc_srv_redirect(&s, &L1);
	tc_srv_redirect(&s, &L2);
	assert_int_equal(tc_srv_failed(&s, &L2, 0), TC_SRV_PREVIOUS);
	assert_true(s.learned && tw_addr_eq(&s.cur, &L1));
	assert_int_equal(tc_srv_failed(&s, &L1, 0), TC_SRV_NEXT);
	assert_true(!s.learned && tw_addr_eq(&s.cur, &A));
	assert_int_equal(s.list[0].fails, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_list_order, setup),
	        cmocka_unit_test_setup(test_backoff, setup),
	        cmocka_unit_test_setup(test_single, setup),
	        cmocka_unit_test_setup(test_learned, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
