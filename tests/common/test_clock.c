/*
 * common/clock.c: the clocks never go back and agree on their units. No
 * durations are measured: the machine is shared, so only the order of reads
 * is checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/clock.h"

static void test_mono_order(void **state)
{
	uint64_t ms = clock_mono_ms(), us = clock_mono_us();

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint64_t ms2 = clock_mono_ms(), us2 = clock_mono_us();

		assert_true(ms2 >= ms);
		assert_true(us2 >= us);
		ms = ms2;
		us = us2;
	}
}

/* ms and us read the same clock: a us read falls between the ms reads around it. */
static void test_mono_units(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++) {
		uint64_t before = clock_mono_ms(), us = clock_mono_us(), after = clock_mono_ms();

		assert_true(before <= us / 1000);
		assert_true(us / 1000 <= after);
	}
}

/* Seconds since 1970, not milliseconds: between 2020 and the year 5000. */
static void test_wall_units(void **state)
{
	uint64_t s = clock_wall_s();

	(void)state;
	assert_true(s > 1577836800u);
	assert_true(s < 95617584000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mono_order),
	        cmocka_unit_test(test_mono_units),
	        cmocka_unit_test(test_wall_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
