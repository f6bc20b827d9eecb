/*
 * relay/fastpath_deadline.c: a fast-path entry lasts until a guard before
 * the first of its channel's, its permission's and its allocation's
 * expiry, and a refresh of the one that comes first moves it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relay/fastpath_deadline.h"

#define NOW 7000000u /* ms, an arbitrary monotonic instant */
#define G   FASTPATH_GUARD_MS

static const struct {
	const char *what;
	uint64_t chan, perm, alloc; /* expiries, relative to NOW */
	uint64_t want;              /* relative to NOW; 0 = stays in user space */
} cases[] = {
        {"channel first", 200000, 300000, 600000, 200000 - G},
        {"permission first", 600000, 300000, 600000, 300000 - G},
        {"allocation first", 600000, 300000, 120000, 120000 - G},
        {"all equal", 300000, 300000, 300000, 300000 - G},
        {"one ms beyond the guard", G + 1, 300000, 600000, 1},
        {"exactly the guard", G, 300000, 600000, 0},
        {"permission inside the guard", 600000, G / 2, 600000, 0},
        {"allocation inside the guard", 600000, 300000, 1, 0},
        {"channel already expired", 0, 300000, 600000, 0},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t d = fastpath_deadline(NOW, NOW + cases[i].chan, NOW + cases[i].perm,
		                               NOW + cases[i].alloc);
		uint64_t want = cases[i].want ? NOW + cases[i].want : 0;

		if (d != want)
			fail_msg("%s: deadline %llu, want %llu", cases[i].what,
			         (unsigned long long)d, (unsigned long long)want);
	}
}

/* An expiry that is not the first moves nothing; the first one does. */
static void test_refresh_moves(void **state)
{
	uint64_t chan = NOW + 600000, perm = NOW + 300000, alloc = NOW + 350000, now = NOW;

	(void)state;
	assert_int_equal(fastpath_deadline(now, chan, perm, alloc), perm - G);
	/* 100 s on, a ChannelBind refresh (§11.2: 600 s): the permission still
	 * comes first. */
	now += 100000;
	chan = now + 600000;
	assert_int_equal(fastpath_deadline(now, chan, perm, alloc), perm - G);
	/* A CreatePermission refresh (300 s): now the allocation is first. */
	perm = now + 300000;
	assert_int_equal(fastpath_deadline(now, chan, perm, alloc), alloc - G);
	/* A Refresh of the allocation (600 s): back to the permission. */
	alloc = now + 600000;
	assert_int_equal(fastpath_deadline(now, chan, perm, alloc), perm - G);
	/* Time passes without a refresh: the deadline stays put until the
	 * permission is inside the guard, then the channel leaves the maps. */
	now = perm - G - 1;
	assert_int_equal(fastpath_deadline(now, chan, perm, alloc), perm - G);
	now = perm - G;
	assert_int_equal(fastpath_deadline(now, chan, perm, alloc), 0);
	/* A late refresh brings it back. */
	perm = now + 300000;
	assert_int_equal(fastpath_deadline(now, chan, perm, alloc), perm - G);
}

/* Never past any of the three, whatever the order. */
static void test_never_past_an_expiry(void **state)
{
	static const uint64_t t[] = {0, 1, G - 1, G, G + 1, 5000, 300000, 600000, 3600000};
	const size_t n = sizeof(t) / sizeof(t[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			for (size_t k = 0; k < n; k++) {
				uint64_t c = NOW + t[i], p = NOW + t[j], a = NOW + t[k];
				uint64_t d = fastpath_deadline(NOW, c, p, a);

				if (!d)
					continue;
				assert_true(d > NOW);
				assert_true(d + G <= c && d + G <= p && d + G <= a);
				assert_true(d + G == c || d + G == p || d + G == a);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_refresh_moves),
	        cmocka_unit_test(test_never_past_an_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
