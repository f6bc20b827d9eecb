/* relay/ratelimit.c: token buckets per source IP, over simulated time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "relay/ratelimit.h"

#define SEED       0x5eed1234u
#define T0         1000000u /* ms */
#define CENTURY_MS (100ull * 36525 * 24 * 3600 * 1000)

static struct tw_addr ip(const char *s, uint16_t port)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse_ip(s, &a), 0);
	a.port = port;
	return a;
}

/* Takes until refused; returns how many were granted (capped at max). */
static unsigned drain(struct ratelimit *r, const struct tw_addr *a, uint64_t now, unsigned max)
{
	unsigned n = 0;

	while (n < max && ratelimit_take(r, a, now))
		n++;
	return n;
}

static void test_burst_then_refuse(void **state)
{
	struct ratelimit *r = ratelimit_new(1024, 10, 5, SEED);
	struct tw_addr a = ip("192.0.2.1", 5000);

	(void)state;
	assert_non_null(r);
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_take(r, &a, T0));
	assert_false(ratelimit_take(r, &a, T0));
	assert_false(ratelimit_take(r, &a, T0));
	ratelimit_free(r);
}

static void test_refill(void **state)
{
	struct ratelimit *r = ratelimit_new(1024, 10, 5, SEED);
	struct tw_addr a = ip("192.0.2.1", 5000);

	(void)state;
	assert_non_null(r);
	assert_int_equal(drain(r, &a, T0, 100), 5);
	/* 10/s is one token per 100 ms */
	assert_false(ratelimit_take(r, &a, T0 + 99));
	assert_true(ratelimit_take(r, &a, T0 + 100));
	assert_false(ratelimit_take(r, &a, T0 + 100));
	/* partial refills add up: 4 x 50 ms = 2 tokens, nothing lost to rounding */
	assert_false(ratelimit_take(r, &a, T0 + 150));
	assert_true(ratelimit_take(r, &a, T0 + 200));
	assert_false(ratelimit_take(r, &a, T0 + 250));
	assert_true(ratelimit_take(r, &a, T0 + 300));
	/* a long pause refills to the burst, not beyond */
	assert_int_equal(drain(r, &a, T0 + 60000, 100), 5);
	ratelimit_free(r);
}

static void test_slow_rate(void **state)
{
	/* 1/s with bursts of 1: 999 ms is not enough */
	struct ratelimit *r = ratelimit_new(16, 1, 1, SEED);
	struct tw_addr a = ip("2001:db8::1", 1);

	(void)state;
	assert_non_null(r);
	assert_true(ratelimit_take(r, &a, T0));
	assert_false(ratelimit_take(r, &a, T0 + 999));
	assert_true(ratelimit_take(r, &a, T0 + 1000));
	ratelimit_free(r);
}

static void test_ips_independent(void **state)
{
	struct ratelimit *r = ratelimit_new(1u << 16, 10, 3, SEED);
	struct tw_addr a = ip("192.0.2.1", 5000), b = ip("192.0.2.2", 5000);
	struct tw_addr c = ip("2001:db8::1", 5000), d = ip("2001:db8::2", 5000);

	(void)state;
	assert_non_null(r);
	assert_int_equal(drain(r, &a, T0, 100), 3);
	assert_int_equal(drain(r, &b, T0, 100), 3);
	assert_int_equal(drain(r, &c, T0, 100), 3);
	assert_int_equal(drain(r, &d, T0, 100), 3);
	assert_false(ratelimit_take(r, &a, T0));
	ratelimit_free(r);
}

static void test_port_ignored(void **state)
{
	struct ratelimit *r = ratelimit_new(1024, 10, 3, SEED);
	struct tw_addr a1 = ip("198.51.100.9", 1111), a2 = ip("198.51.100.9", 2222);
	struct tw_addr v1 = ip("2001:db8::9", 1111), v2 = ip("2001:db8::9", 65535);

	(void)state;
	assert_non_null(r);
	assert_true(ratelimit_take(r, &a1, T0));
	assert_true(ratelimit_take(r, &a2, T0));
	assert_true(ratelimit_take(r, &a1, T0));
	assert_false(ratelimit_take(r, &a2, T0));
	assert_false(ratelimit_take(r, &a1, T0));
	assert_int_equal(drain(r, &v1, T0, 100), 3);
	assert_false(ratelimit_take(r, &v2, T0));
	ratelimit_free(r);
}

static void test_collision_shares(void **state)
{
	/* one slot: every source shares it, erring towards limiting */
	struct ratelimit *r = ratelimit_new(1, 10, 2, SEED);
	struct tw_addr a = ip("192.0.2.1", 1), b = ip("203.0.113.7", 1);

	(void)state;
	assert_non_null(r);
	assert_true(ratelimit_take(r, &a, T0));
	assert_true(ratelimit_take(r, &b, T0));
	assert_false(ratelimit_take(r, &a, T0));
	assert_false(ratelimit_take(r, &b, T0));
	ratelimit_free(r);
}

static void test_edges(void **state)
{
	struct tw_addr a = ip("192.0.2.1", 1);
	struct ratelimit *r;

	(void)state;
	/* rate 0: no limit */
	r = ratelimit_new(8, 0, 1, SEED);
	assert_non_null(r);
	assert_int_equal(drain(r, &a, T0, 1000), 1000);
	ratelimit_free(r);

	/* burst 0 acts as 1 */
	r = ratelimit_new(8, 10, 0, SEED);
	assert_non_null(r);
	assert_int_equal(drain(r, &a, T0, 100), 1);
	ratelimit_free(r);

	/*
	 * Rates and bursts beyond RATELIMIT_MAX are clamped (one 64-bit word
	 * per bucket bounds the domain); a century's gap at the top rate
	 * neither overflows nor overfills: still capped at the burst.
	 */
	r = ratelimit_new(0, 4000000000u, 7, SEED);
	assert_non_null(r);
	assert_int_equal(drain(r, &a, 0, 100), 7);
	assert_int_equal(drain(r, &a, CENTURY_MS, 100), 7);
	assert_int_equal(drain(r, &a, 2 * CENTURY_MS, 100), 7);
	/* the clock stepping back refills nothing */
	assert_int_equal(drain(r, &a, 5, 100), 0);
	ratelimit_free(r);
	r = ratelimit_new(8, 1, 4000000000u, SEED);
	assert_non_null(r);
	assert_int_equal(drain(r, &a, T0, 2 * RATELIMIT_MAX), RATELIMIT_MAX);
	ratelimit_free(r);

	/* starting at time 0 a bucket is full */
	r = ratelimit_new(3, 1, 4, SEED);
	assert_non_null(r);
	assert_int_equal(drain(r, &a, 0, 100), 4);
	ratelimit_free(r);
	ratelimit_free(NULL);
}

/*
 * Issue 17: each worker had its own limiter, so a source whose packets
 * the kernel spread over 4 workers got 4 bursts. One limiter is now
 * shared: threads standing in for workers take for one source (from
 * different ports, as SO_REUSEPORT spreads them), in lock step over an
 * injected clock, each until refused at every millisecond. The total must
 * be exactly the bucket's: burst + rate * elapsed, in whole tokens.
 */
#define THREADS 4

struct hammer {
	struct ratelimit *r;
	pthread_barrier_t *bar;
	unsigned id, steps, lag_ms;
	uint64_t granted;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct tw_addr src;

	tw_addr_parse_ip("198.51.100.77", &src);
	src.port = (uint16_t)(40000 + h->id);
	for (unsigned k = 0; k < h->steps; k++) {
		uint64_t now = T0 + k - (h->id ? h->lag_ms * h->id : 0);

		pthread_barrier_wait(h->bar);
		while (ratelimit_take(h->r, &src, now))
			h->granted++;
	}
	return NULL;
}

/* The tokens THREADS threads get from one limiter over steps milliseconds. */
static uint64_t hammer(unsigned rate, unsigned burst, unsigned steps, unsigned lag_ms)
{
	struct ratelimit *r = ratelimit_new(4096, rate, burst, SEED);
	struct hammer h[THREADS];
	pthread_t t[THREADS];
	pthread_barrier_t bar;
	uint64_t total = 0;

	assert_non_null(r);
	assert_int_equal(pthread_barrier_init(&bar, NULL, THREADS), 0);
	for (unsigned i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){
		        .r = r, .bar = &bar, .id = i, .steps = steps, .lag_ms = lag_ms};
		assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += h[i].granted;
	}
	pthread_barrier_destroy(&bar);
	ratelimit_free(r);
	return total;
}

static void test_shared_threads(void **state)
{
	(void)state;
	/* 20/s, burst 40, over 9,999 ms: 40 + 199.98 tokens, 239 whole ones */
	assert_int_equal(hammer(20, 40, 10000, 0), 40 + 20 * 9999 / 1000);
	/* contended: 1,000 tokens a millisecond for the 4 threads to fight over */
	assert_int_equal(hammer(RATELIMIT_MAX, 1000, 5000, 0), 1000 + 1000 * 4999);
}

/*
 * Workers read the clock at different moments: a lagging caller sees less
 * credit, never more, so the total stays within the bucket's bound from
 * the earliest clock that took to the latest.
 */
static void test_lagging_clocks(void **state)
{
	uint64_t got = hammer(20, 40, 10000, 3);

	(void)state;
	assert_true(got <= 40 + 20 * (9999 + 3 * (THREADS - 1)) / 1000);
	assert_true(got >= 40 + 20 * 9999 / 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_burst_then_refuse),
	        cmocka_unit_test(test_refill),
	        cmocka_unit_test(test_slow_rate),
	        cmocka_unit_test(test_ips_independent),
	        cmocka_unit_test(test_port_ignored),
	        cmocka_unit_test(test_collision_shares),
	        cmocka_unit_test(test_edges),
	        cmocka_unit_test(test_shared_threads),
	        cmocka_unit_test(test_lagging_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
