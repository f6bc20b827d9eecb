/* relay/guard.c: failed-authentication back-off, over an injected clock. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "relay/guard.h"

#define T0 5000000u /* ms */

static struct tw_addr ip(const char *s)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse_ip(s, &a), 0);
	return a;
}

static struct guard *guard_default(void)
{
	struct guard_params gp = GUARD_PARAMS_DEFAULT;
	struct guard *g;

	for (unsigned i = 0; i < sizeof(gp.key); i++)
		gp.key[i] = (uint8_t)(0xa0 + i);
	g = guard_new(&gp);
	assert_non_null(g);
	return g;
}

/* What the relay does with one request whose password is good or not. */
static enum guard_verdict attempt(struct guard *g, const struct tw_addr *src, const char *user,
                                  bool good, uint64_t now)
{
	enum guard_verdict v = guard_check(g, src, user, now);

	if (v != GUARD_CHECK)
		return v;
	if (good)
		guard_passed(g, src, now);
	else
		guard_failed(g, src, user, now);
	return v;
}

/*
 * 3,000 wrong guesses, one a millisecond: 5 free, then back-offs of 250,
 * 500, 1,000 and 2,000 ms leave 3 more checks in 3 seconds.
 */
static void test_guessing_source(void **state)
{
	struct guard *g = guard_default();
	struct tw_addr bad = ip("203.0.113.66"), good = ip("198.51.100.5");
	struct guard_stats st;
	unsigned checked = 0;

	(void)state;
	for (unsigned i = 0; i < 3000; i++) {
		if (attempt(g, &bad, "alice", false, T0 + i) == GUARD_CHECK)
			checked++;
		/* alice herself, from her own address, every 100 ms */
		if (i % 100 == 0)
			assert_int_equal(attempt(g, &good, "alice", true, T0 + i), GUARD_CHECK);
	}
	assert_int_equal(checked, 8);
	guard_stats(g, T0 + 3000, &st);
	assert_int_equal(st.refused_source, 2992);
	assert_int_equal(st.failures, 8);
	assert_int_equal(st.refused_user, 0);
	assert_int_equal(st.sources, 1);
	assert_int_equal(st.users, 1);
	guard_free(g);
}

/* Many sources guessing one username: only sources that failed are slowed. */
static void test_distributed_guessing(void **state)
{
	struct guard *g = guard_default();
	struct tw_addr bot = ip("192.0.2.0"), alice = ip("198.51.100.5");
	struct tw_addr typo = ip("198.51.100.6");
	char name[32];

	(void)state;
	/* typo fails once on alice before the attack */
	assert_int_equal(attempt(g, &typo, "alice", false, T0), GUARD_CHECK);
	for (unsigned i = 0; i < 200; i++) {
		bot.ip[2] = (uint8_t)(i >> 8);
		bot.ip[3] = (uint8_t)i;
		assert_int_equal(attempt(g, &bot, "alice", false, T0 + i), GUARD_CHECK);
	}
	/* a bot's second guess on alice waits: it has failed, alice is backed off */
	bot.ip[3] = 7;
	assert_int_equal(guard_check(g, &bot, "alice", T0 + 300), GUARD_REFUSE_USER);
	/* ...but only on alice */
	assert_int_equal(guard_check(g, &bot, "bob", T0 + 300), GUARD_CHECK);
	/* a source that has not failed is always checked */
	assert_int_equal(guard_check(g, &alice, "alice", T0 + 300), GUARD_CHECK);
	/* one that has is subject to the username's back-off (per source first) */
	assert_int_equal(guard_check(g, &typo, "alice", T0 + 300), GUARD_REFUSE_USER);
	/* other usernames are not affected by alice's */
	for (unsigned i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		assert_int_equal(guard_check(g, &bot, name, T0 + 300), GUARD_CHECK);
	}
	/* once the username's back-off has run out (capped at 60 s), the bot may try again */
	assert_int_equal(guard_check(g, &bot, "alice", T0 + 199 + 60000), GUARD_CHECK);
	guard_free(g);
}

/* The source's back-off doubles from base_ms, caps at cap_ms, and a success resets it. */
static void test_backoff_doubles_caps(void **state)
{
	struct guard_params gp = {.slots = 64,
	                          .src_free = 3,
	                          .user_free = 63,
	                          .base_ms = 100,
	                          .cap_ms = 1000,
	                          .forget_ms = 5000};
	struct guard *g = guard_new(&gp);
	struct tw_addr a = ip("2001:db8:1:2::1"), same64 = ip("2001:db8:1:2::99");
	struct tw_addr other64 = ip("2001:db8:1:3::1");
	const uint64_t want[] = {100, 200, 400, 800, 1000, 1000, 1000};
	uint64_t t = T0;

	(void)state;
	assert_non_null(g);
	for (unsigned i = 0; i < 2; i++)
		guard_failed(g, &a, NULL, t);
	assert_int_equal(guard_check(g, &a, "x", t), GUARD_CHECK);
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		guard_failed(g, &a, NULL, t);
		assert_int_equal(guard_check(g, &a, "x", t + want[i] - 1), GUARD_REFUSE_SOURCE);
		/* an IPv6 source is its /64 */
		assert_int_equal(guard_check(g, &same64, NULL, t + want[i] - 1),
		                 GUARD_REFUSE_SOURCE);
		assert_int_equal(guard_check(g, &other64, NULL, t + want[i] - 1), GUARD_CHECK);
		t += want[i];
		assert_int_equal(guard_check(g, &a, "x", t), GUARD_CHECK);
	}
	/* the count saturates without wrapping: still the cap */
	for (unsigned i = 0; i < 200; i++)
		guard_failed(g, &a, NULL, t);
	assert_int_equal(guard_check(g, &a, "x", t + 999), GUARD_REFUSE_SOURCE);
	assert_int_equal(guard_check(g, &a, "x", t + 1000), GUARD_CHECK);
	/* a success starts the count again: two more failures are free */
	guard_passed(g, &a, t + 1000);
	guard_failed(g, &a, NULL, t + 1000);
	guard_failed(g, &a, NULL, t + 1000);
	assert_int_equal(guard_check(g, &a, "x", t + 1000), GUARD_CHECK);
	/* and so is forgetting: forget_ms without a failure */
	guard_failed(g, &a, NULL, t + 1000);
	assert_int_equal(guard_check(g, &a, "x", t + 1001), GUARD_REFUSE_SOURCE);
	guard_failed(g, &a, NULL, t + 6000);
	assert_int_equal(guard_check(g, &a, "x", t + 6001), GUARD_CHECK);
	guard_free(g);
}

/* A flood of one-shot sources fills a small table but neither grows it nor frees the worst. */
static void test_memory_bounded(void **state)
{
	struct guard_params gp = GUARD_PARAMS_DEFAULT;
	struct tw_addr heavy = ip("203.0.113.9"), a = ip("10.0.0.0");
	struct guard_stats st;
	struct guard *g;
	size_t mem;

	(void)state;
	gp.slots = 1000; /* rounded up to 1,024 */
	g = guard_new(&gp);
	assert_non_null(g);
	mem = guard_mem(g);
	assert_true(mem < 2 * 1024 * 8 + 1024);
	for (unsigned i = 0; i < 20; i++)
		guard_failed(g, &heavy, "root", T0);
	for (unsigned i = 0; i < 100000; i++) {
		a.ip[1] = (uint8_t)(i >> 16);
		a.ip[2] = (uint8_t)(i >> 8);
		a.ip[3] = (uint8_t)i;
		guard_failed(g, &a, NULL, T0 + 1);
	}
	assert_int_equal(guard_mem(g), mem);
	guard_stats(g, T0 + 1, &st);
	assert_true(st.sources <= 1024);
	assert_true(st.sources > 900);
	assert_true(st.evicted > 90000);
	/* the heavy guesser outlived the flood: the least failed are evicted first */
	assert_int_equal(guard_check(g, &heavy, "root", T0 + 30000), GUARD_REFUSE_SOURCE);
	guard_free(g);
}

/* Workers fail the same source at once: no failure is lost to a race. */
struct racer {
	struct guard *g;
	struct tw_addr src;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	for (unsigned i = 0; i < 15; i++)
		guard_failed(r->g, &r->src, "u", T0);
	return NULL;
}

static void test_threads(void **state)
{
	struct guard_params gp = {
	        .slots = 64, .src_free = 61, .user_free = 63, .base_ms = 100, .cap_ms = 100};
	struct racer r = {.g = guard_new(&gp), .src = ip("192.0.2.44")};
	pthread_t t[4];
	struct guard_stats st;

	(void)state;
	assert_non_null(r.g);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer_main, &r), 0);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* 60 failures: one short of the back-off */
	assert_int_equal(guard_check(r.g, &r.src, NULL, T0), GUARD_CHECK);
	guard_failed(r.g, &r.src, NULL, T0);
	assert_int_equal(guard_check(r.g, &r.src, NULL, T0), GUARD_REFUSE_SOURCE);
	guard_stats(r.g, T0, &st);
	assert_int_equal(st.failures, 61);
	assert_int_equal(st.contended, 0);
	guard_free(r.g);
	guard_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_guessing_source),
	        cmocka_unit_test(test_distributed_guessing),
	        cmocka_unit_test(test_backoff_doubles_caps),
	        cmocka_unit_test(test_memory_bounded),
	        cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
