/*
 * Allocations on an anycast address are pinned to this node's unicast
 * address (relay/anycast.h): the decision alone, then through the TURN
 * core with a fake client transport (tests/relay/harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/anycast.h"
#include "relay/cluster.h"
#include "tests/relay/harness.h"

#define ANY4 "192.0.2.100:3478"
#define ANY6 "[2001:db8:14::100]:3478"
#define UNI4 "198.51.100.11:3478"
#define UNI6 "[2001:db8:14:a::11]:3478"
#define CLUSTER                                                          \
	"relay:\n  addresses: [127.0.0.1, \"::1\"]\n  port_min: 47000\n" \
	"  port_max: 47999\n"                                            \
	"cluster:\n  anycast: [192.0.2.100, \"2001:db8:14::100\"]\n"     \
	"  unicast: [" UNI4 ", \"" UNI6 "\"]\n"

static struct tw_addr addr(const char *s)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse(s, 0, &a), 0);
	return a;
}

/* The decision: only an anycast destination, only with a unicast address of the family. */
static void test_pin_decision(void **state)
{
	static const struct {
		const char *local;
		uint8_t fam;
		const char *want; /* NULL: served here */
	} cases[] = {
	        {ANY4, TW_AF_INET, UNI4},
	        {"192.0.2.100:443", TW_AF_INET, UNI4}, /* any port of the address */
	        {ANY6, TW_AF_INET6, UNI6},
	        {UNI4, TW_AF_INET, NULL},
	        {"192.0.2.101:3478", TW_AF_INET, NULL},
	        {"[2001:db8:14::101]:3478", TW_AF_INET6, NULL},
	        {ANY4, 0, NULL},
	};
	struct config cfg;
	struct tw_addr to, local, want;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.cluster_anycast[0] = addr(ANY4);
	cfg.cluster_anycast[1] = addr(ANY6);
	cfg.n_cluster_anycast = 2;
	cfg.cluster_unicast[0] = addr(UNI4);
	cfg.cluster_unicast[1] = addr(UNI6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		local = addr(cases[i].local);
		memset(&to, 0, sizeof(to));
		if (anycast_pin(&cfg, &local, cases[i].fam, &to) != (cases[i].want != NULL))
			fail_msg("case %zu (%s): wrong decision", i, cases[i].local);
		want = cases[i].want ? addr(cases[i].want) : to;
		if (!tw_addr_eq(&to, &want))
			fail_msg("case %zu (%s): wrong address", i, cases[i].local);
	}
	/* No IPv6 unicast address: an IPv6 client is served on the anycast address. */
	memset(&cfg.cluster_unicast[1], 0, sizeof(cfg.cluster_unicast[1]));
	local = addr(ANY6);
	assert_false(anycast_pin(&cfg, &local, TW_AF_INET6, &to));
}

static int setup4(void **state)
{
	struct harness_ctx *x;

	if (harness_ctx_setup(state, CLUSTER, "192.0.2.10:5000") < 0)
		return -1;
	x = *state;
	x->fc.c.local = addr(ANY4);
	return 0;
}

static int teardown(void **state)
{
	return harness_ctx_teardown(state);
}

static int allocate(struct harness_ctx *x, struct fake_conn *fc, uint8_t tid, bool sign)
{
	struct treq q;
	uint8_t v[4] = {STUN_PROTO_UDP, 0, 0, 0};
	size_t n;

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, tid);
	stun_wr_attr(&q.wr, STUN_A_REQUESTED_TRANSPORT, v, sizeof(v));
	n = sign ? treq_sign(&x->h, &q, fc, "demo", "demo") : treq_end(&q);
	assert_true(n > 0);
	fake_input(&x->h, fc, q.buf, n);
	return fake_last_code(fc);
}

/* The last answer is a 300 with integrity naming want. */
static void assert_300(struct fake_conn *fc, const char *want)
{
	struct stun_msg m;
	struct tw_addr alt, w = addr(want);

	assert_int_equal(fake_last_code(fc), 300);
	assert_true(fake_last(fc, &m));
	assert_int_equal(stun_attr_addr(&m, stun_msg_find(&m, STUN_A_ALTERNATE_SERVER), &alt), 0);
	assert_true(tw_addr_eq(&alt, &w));
	assert_non_null(stun_msg_find(&m, STUN_A_MESSAGE_INTEGRITY));
	assert_null(fc->c.a);
}

static uint64_t redirects(struct harness_ctx *x, enum redirect_reason why)
{
	return __atomic_load_n(&x->h.r.redirects[why], __ATOMIC_RELAXED);
}

/* An Allocate on the anycast address: 300 to our unicast, after authentication. */
static void test_allocate_on_anycast(void **state)
{
	struct harness_ctx *x = *state;

	assert_int_equal(allocate(x, &x->fc, 1, false), 401);
	assert_int_equal(redirects(x, REDIRECT_ANYCAST), 0);
	assert_int_equal(allocate(x, &x->fc, 2, true), 300);
	assert_300(&x->fc, UNI4);
	assert_int_equal(redirects(x, REDIRECT_ANYCAST), 1);
	assert_int_equal(x->h.w->st.allocs_created, 0);
}

/* Binding keeps working on the anycast address. */
static void test_binding_on_anycast(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 3);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 0);
	assert_int_equal(redirects(x, REDIRECT_ANYCAST), 0);
}

/* The same client, following the 300 to the unicast address, is served. */
static void test_allocate_on_unicast(void **state)
{
	struct harness_ctx *x = *state;

	x->fc.c.local = addr(UNI4);
	assert_int_equal(allocate(x, &x->fc, 4, true), 0);
	assert_non_null(x->fc.c.a);
	assert_int_equal(redirects(x, REDIRECT_ANYCAST), 0);
}

/* ALTERNATE-SERVER is in the client's family. */
static void test_allocate_on_anycast6(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn fc6;

	fake_conn_init(&fc6, &x->h, "[2001:db8:14:c1::10]:5000", false);
	fc6.c.local = addr(ANY6);
	assert_int_equal(allocate(x, &fc6, 5, true), 300);
	assert_300(&fc6, UNI6);
}

/*
 * Draining with no sibling to take it: still pinned (the route is being
 * withdrawn, so an allocation on the anycast address would break soon).
 */
static void test_draining_without_sibling(void **state)
{
	struct harness_ctx *x = *state;

	__atomic_store_n(&x->h.r.draining, 1, __ATOMIC_RELAXED);
	assert_int_equal(allocate(x, &x->fc, 6, true), 300);
	assert_300(&x->fc, UNI4);
	assert_int_equal(redirects(x, REDIRECT_ANYCAST), 1);
	assert_int_equal(redirects(x, REDIRECT_DRAINING), 0);
	assert_int_equal(__atomic_load_n(&x->h.r.redirects_none, __ATOMIC_RELAXED), 1);
	/* On the unicast address, with nowhere to go, it is served here. */
	x->fc.c.local = addr(UNI4);
	assert_int_equal(allocate(x, &x->fc, 7, true), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pin_decision),
	        cmocka_unit_test_setup_teardown(test_allocate_on_anycast, setup4, teardown),
	        cmocka_unit_test_setup_teardown(test_binding_on_anycast, setup4, teardown),
	        cmocka_unit_test_setup_teardown(test_allocate_on_unicast, setup4, teardown),
	        cmocka_unit_test_setup_teardown(test_allocate_on_anycast6, setup4, teardown),
	        cmocka_unit_test_setup_teardown(test_draining_without_sibling, setup4, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
