/*
 * ICE checks answered with short-term credentials (relay/turn_ice.c,
 * relay/stcred.h) through the fake transport: the store is filled here as
 * the M-ICE home agent would fill it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/stcred.h"
#include "relay/stats.h"
#include "relay/worker.h"
#include "tests/relay/harness.h"

#define CLIENT "198.51.100.7:5000"
#define HAFRAG "HaFr4g01"
#define MNFRAG "mn01"
#define HAPWD  "HomeAgentPassword+24chr"
#define LIFE   30000

static int setup(void **state)
{
	struct harness_ctx *x;

	if (harness_ctx_setup(state, NULL, CLIENT) < 0)
		return -1;
	x = *state;
	x->h.frozen_ms = 1000000;
	/* relay_fini frees it, as it does the home agent's. */
	x->h.r.stcred = stcred_new(4);
	if (!x->h.r.stcred ||
	    stcred_set(x->h.r.stcred, 1, HAFRAG, MNFRAG, HAPWD, x->h.frozen_ms + LIFE) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	return harness_ctx_teardown(state);
}

enum role { CONTROLLING, CONTROLLED, NO_ROLE };

/* A check from the node: user, signed with pwd; PRIORITY unless !prio. */
static size_t check_as(struct treq *q, uint16_t method, const char *user, const char *pwd,
                       bool prio, enum role r)
{
	treq_begin(q, method, STUN_REQUEST, 9);
	if (method == STUN_ALLOCATE)
		stun_wr_u32(&q->wr, STUN_A_REQUESTED_TRANSPORT, 17u << 24);
	stun_wr_attr(&q->wr, STUN_A_USERNAME, user, strlen(user));
	if (prio)
		stun_wr_u32(&q->wr, STUN_A_PRIORITY, 0x6effffffu);
	if (r == CONTROLLING)
		stun_wr_u64(&q->wr, STUN_A_ICE_CONTROLLING, 0x1234);
	else if (r == CONTROLLED)
		stun_wr_u64(&q->wr, STUN_A_ICE_CONTROLLED, UINT64_MAX);
	if (r == CONTROLLING)
		stun_wr_attr(&q->wr, STUN_A_USE_CANDIDATE, NULL, 0);
	stun_wr_integrity(&q->wr, (const uint8_t *)pwd, strlen(pwd));
	stun_wr_fingerprint(&q->wr);
	return treq_end(q);
}

static size_t check(struct treq *q, const char *user, const char *pwd, bool prio, enum role r)
{
	return check_as(q, STUN_BINDING, user, pwd, prio, r);
}

static uint64_t checks(struct harness_ctx *x, enum ice_check r)
{
	return STAT_GET(&x->h.w->st, ice_checks[r]);
}

/* The last answer: its code; *signed whether the HA's key verifies it. */
static int answer(struct harness_ctx *x, bool *signed_ok)
{
	struct stun_msg m;

	assert_true(fake_last(&x->fc, &m));
	assert_true(m.fp >= 0 && stun_msg_fingerprint_ok(&m));
	*signed_ok = m.mi >= 0 && stun_msg_integrity_ok(&m, (const uint8_t *)HAPWD, strlen(HAPWD));
	assert_null(stun_msg_find(&m, STUN_A_USERNAME));
	return fake_last_code(&x->fc);
}

static void send_check(struct harness_ctx *x, const char *user, const char *pwd, bool prio,
                       enum role r)
{
	struct treq q;

	fake_input(&x->h, &x->fc, q.buf, check(&q, user, pwd, prio, r));
}

static void test_good_check(void **state)
{
	struct harness_ctx *x = *state;
	struct tw_addr mapped, client;
	struct stun_msg m;
	bool ok;

	send_check(x, HAFRAG ":" MNFRAG, HAPWD, true, CONTROLLING);
	assert_int_equal(answer(x, &ok), 0);
	assert_true(ok);
	assert_true(fake_last(&x->fc, &m));
	assert_int_equal(stun_attr_xaddr(&m, stun_msg_find(&m, STUN_A_XOR_MAPPED_ADDRESS), &mapped),
	                 0);
	tw_addr_parse(CLIENT, 0, &client);
	assert_true(tw_addr_eq(&mapped, &client));
	assert_int_equal(checks(x, ICE_CHECK_OK), 1);
}

static void test_wrong_password(void **state)
{
	struct harness_ctx *x = *state;
	bool ok;

	send_check(x, HAFRAG ":" MNFRAG, "NotTheHomeAgentPassword", true, CONTROLLING);
	assert_int_equal(answer(x, &ok), 401);
	assert_false(ok);
	assert_int_equal(checks(x, ICE_CHECK_INTEGRITY), 1);
}

static void test_unknown_ufrag(void **state)
{
	struct harness_ctx *x = *state;
	bool ok;

	send_check(x, "HaOther1:" MNFRAG, HAPWD, true, CONTROLLING);
	assert_int_equal(answer(x, &ok), 401);
	assert_false(ok);
	/* The node's own ufrag must match too: "HAFRAG:other" is another pair. */
	send_check(x, HAFRAG ":mn02", HAPWD, true, CONTROLLING);
	assert_int_equal(answer(x, &ok), 401);
	send_check(x, HAFRAG, HAPWD, true, CONTROLLING);
	assert_int_equal(answer(x, &ok), 401);
	assert_int_equal(checks(x, ICE_CHECK_UNKNOWN_USER), 3);
}

static void test_missing_priority_or_role(void **state)
{
	struct harness_ctx *x = *state;
	bool ok;

	send_check(x, HAFRAG ":" MNFRAG, HAPWD, false, CONTROLLING);
	assert_int_equal(answer(x, &ok), 400);
	assert_true(ok); /* authenticated: the error is signed */
	send_check(x, HAFRAG ":" MNFRAG, HAPWD, true, NO_ROLE);
	assert_int_equal(answer(x, &ok), 400);
	assert_int_equal(checks(x, ICE_CHECK_BAD_REQUEST), 2);
}

static void test_role_conflict(void **state)
{
	struct harness_ctx *x = *state;
	bool ok;

	send_check(x, HAFRAG ":" MNFRAG, HAPWD, true, CONTROLLED);
	assert_int_equal(answer(x, &ok), 487);
	assert_true(ok);
	assert_int_equal(checks(x, ICE_CHECK_ROLE_CONFLICT), 1);
}

static void test_expired(void **state)
{
	struct harness_ctx *x = *state;
	bool ok;

	x->h.frozen_ms += LIFE;
	send_check(x, HAFRAG ":" MNFRAG, HAPWD, true, CONTROLLING);
	assert_int_equal(answer(x, &ok), 401);
	/* Deregistered before its time: gone at once. */
	assert_int_equal(stcred_set(x->h.r.stcred, 1, HAFRAG, MNFRAG, HAPWD, x->h.frozen_ms + LIFE),
	                 0);
	stcred_drop(x->h.r.stcred, 1);
	send_check(x, HAFRAG ":" MNFRAG, HAPWD, true, CONTROLLING);
	assert_int_equal(answer(x, &ok), 401);
	assert_int_equal(checks(x, ICE_CHECK_UNKNOWN_USER), 2);
}

/* No USERNAME: answered as ever, unsigned; long-term requests unchanged. */
static void test_others_unaffected(void **state)
{
	struct harness_ctx *x = *state;
	struct stun_msg m;
	struct treq q;

	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 3);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 0);
	assert_true(fake_last(&x->fc, &m));
	assert_true(m.mi < 0);
	/* A Binding with long-term attributes is still answered without them. */
	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 4);
	fake_input(&x->h, &x->fc, q.buf, treq_sign(&x->h, &q, &x->fc, "demo", "wrong"));
	assert_int_equal(fake_last_code(&x->fc), 0);
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 5);
	stun_wr_u32(&q.wr, STUN_A_REQUESTED_TRANSPORT, 17u << 24);
	fake_input(&x->h, &x->fc, q.buf, treq_sign(&x->h, &q, &x->fc, "demo", "demo"));
	assert_int_equal(fake_last_code(&x->fc), 0);
	/* An Allocate signed like a check is long-term's 400. */
	fake_input(&x->h, &x->fc, q.buf,
	           check_as(&q, STUN_ALLOCATE, HAFRAG ":" MNFRAG, HAPWD, true, CONTROLLING));
	assert_int_equal(fake_last_code(&x->fc), 400);
	for (int i = 0; i < ICE_CHECK__COUNT; i++)
		assert_int_equal(checks(x, (enum ice_check)i), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_good_check, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_ufrag, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_priority_or_role, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_role_conflict, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_others_unaffected, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
