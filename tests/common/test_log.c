/* common/log.c: levels, the per-site rate limit (milliseconds) and the escaper. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static void test_level_names(void **state)
{
	enum log_level l = LOG_LVL_OFF;

	(void)state;
	assert_string_equal(log_level_name(LOG_LVL_OFF), "off");
	assert_string_equal(log_level_name(LOG_LVL_ERR), "error");
	assert_string_equal(log_level_name(LOG_LVL_WARN), "warn");
	assert_string_equal(log_level_name(LOG_LVL_INFO), "info");
	assert_string_equal(log_level_name(LOG_LVL_DEBUG), "debug");
	assert_string_equal(log_level_name((enum log_level)42), "?");
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("off", &l), -EINVAL);
	assert_int_equal(log_level_parse("DEBUG", &l), -EINVAL);
	assert_int_equal(log_level_parse("", &l), -EINVAL);
	assert_int_equal(l, LOG_LVL_DEBUG);
}

static void test_levels(void **state)
{
	(void)state;
	log_set_level(LOG_LVL_OFF);
	assert_false(log_enabled(LOG_LVL_ERR));
	log_set_level(LOG_LVL_WARN);
	assert_true(log_enabled(LOG_LVL_ERR));
	assert_true(log_enabled(LOG_LVL_WARN));
	assert_false(log_enabled(LOG_LVL_INFO));
	log_set_level(LOG_LVL_DEBUG);
	assert_true(log_enabled(LOG_LVL_DEBUG));
}

/* What one log call writes to stderr. */
static void capture(char *out, size_t len, void (*fn)(void))
{
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(f), 2) >= 0);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void say_warn(void)
{
	log_warn("peer %s said %d", "x", 42);
}

static void say_debug(void)
{
	log_debug("not shown %d", 1);
}

static void test_stderr_line(void **state)
{
	char line[256];

	(void)state;
	log_init("test", LOG_LVL_INFO, false);
	capture(line, sizeof(line), say_warn);
	/* 2024-01-02T03:04:05.678Z warn  peer x said 42 */
	assert_int_equal(strlen(line), 24 + strlen(" warn  peer x said 42\n"));
	assert_int_equal(line[10], 'T');
	assert_int_equal(line[23], 'Z');
	assert_string_equal(line + 24, " warn  peer x said 42\n");
	capture(line, sizeof(line), say_debug);
	assert_string_equal(line, "");
}

/* One site's timestamp, in milliseconds. */
static void test_ratelimit(void **state)
{
	uint64_t last = 0, other = 0;

	(void)state;
	assert_true(log_ratelimit(&last, 5000, 1000));
	assert_int_equal(last, 5000);
	assert_false(log_ratelimit(&last, 5000, 1000));
	assert_false(log_ratelimit(&last, 5999, 1000));
	assert_int_equal(last, 5000);
	assert_true(log_ratelimit(&last, 6000, 1000));
	assert_int_equal(last, 6000);
	/* A second is 1000, not 1000000: 1.5 s later the site logs again. */
	assert_true(log_ratelimit(&last, 7500, 1000));
	/* Sites are independent. */
	assert_true(log_ratelimit(&other, 7500, 1000));
	assert_false(log_ratelimit(&last, 7501, 1000));
	/* Ten seconds. */
	last = 0;
	assert_true(log_ratelimit(&last, 100, 10000));
	assert_false(log_ratelimit(&last, 10099, 10000));
	assert_true(log_ratelimit(&last, 10100, 10000));
}

/* A clock that reads 0 at the first call must not leave the site unlimited. */
static void test_ratelimit_zero(void **state)
{
	uint64_t last = 0;

	(void)state;
	assert_true(log_ratelimit(&last, 0, 1000));
	assert_int_not_equal(last, 0);
	assert_false(log_ratelimit(&last, 0, 1000));
	assert_false(log_ratelimit(&last, 999, 1000));
	assert_true(log_ratelimit(&last, 1001, 1000));
}

static const struct {
	const char *in;
	size_t len, outsz;
	const char *want;
} esc[] = {
        {"alice", 5, 64, "alice"},
        {"", 0, 64, ""},
        {"a b~", 4, 64, "a b~"},
        {"a\0b", 3, 64, "a\\x00b"},
        {"a\nb", 3, 64, "a\\x0ab"},
        {"\r\t\x1b", 3, 64, "\\x0d\\x09\\x1b"},
        {"\x7f", 1, 64, "\\x7f"},
        {"a\\b", 3, 64, "a\\x5cb"},
        {"\xff\x80", 2, 64, "\\xff\\x80"},
        {"\xc3\xa9t\xc3\xa9", 5, 64, "\\xc3\\xa9t\\xc3\\xa9"},
        /* len, not the NUL, ends the input. */
        {"ab\0cd", 5, 64, "ab\\x00cd"},
        {"abcdef", 2, 64, "ab"},
        /* Exactly fits: no cut. */
        {"abcdefg", 7, 8, "abcdefg"},
        {"a\n", 2, 6, "a\\x0a"},
        /* One byte short: cut, with "...". */
        {"abcdefgh", 8, 8, "abcd..."},
        {"a\n", 2, 5, "a..."},
        /* The cut never splits an escape. */
        {"ab\ncd", 5, 8, "ab..."},
        {"\n\n\n", 3, 11, "\\x0a..."},
        /* Tiny buffers: as much of "..." as fits. */
        {"abcdef", 6, 5, "a..."},
        {"abcdef", 6, 4, "..."},
        {"abcdef", 6, 3, ".."},
        {"abcdef", 6, 2, "."},
        {"abcdef", 6, 1, ""},
        {"", 0, 1, ""},
};

static void test_esc_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		char out[64];
		const char *r;

		memset(out, 'Z', sizeof(out));
		r = log_esc(esc[i].in, esc[i].len, out, esc[i].outsz);
		if (strcmp(r, esc[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, r, esc[i].want);
		assert_ptr_equal(r, out);
		/* Nothing written past outsz. */
		if (esc[i].outsz < sizeof(out))
			assert_int_equal(out[esc[i].outsz], 'Z');
	}
}

static void test_esc_zero_size(void **state)
{
	char out[4] = "ZZZ";

	(void)state;
	assert_string_equal(log_esc("abc", 3, out, 0), "");
	assert_string_equal(out, "ZZZ");
	assert_string_equal(log_esc(NULL, 0, out, sizeof(out)), "");
}

/* Every size: terminated inside outsz, and a prefix of the full escape, cut with "...". */
static void test_esc_bounds(void **state)
{
	static const char in[] = "us\ner\\\x7f\xff\0name";
	char full[LOG_ESC_SIZE(sizeof(in) - 1)];
	bool whole[sizeof(full)] = {false};
	size_t flen;

	(void)state;
	flen = strlen(log_esc(in, sizeof(in) - 1, full, sizeof(full)));
	assert_string_equal(full, "us\\x0aer\\x5c\\x7f\\xff\\x00name");
	for (size_t i = 0; i <= flen; i += full[i] == '\\' ? 4 : 1)
		whole[i] = true;
	for (size_t sz = 1; sz <= sizeof(full) + 2; sz++) {
		char out[sizeof(full) + 8];
		size_t n, body;

		memset(out, 'Z', sizeof(out));
		log_esc(in, sizeof(in) - 1, out, sz);
		n = strlen(out);
		assert_true(n < sz);
		assert_int_equal(out[sz], 'Z');
		if (sz > flen) {
			assert_string_equal(out, full);
			continue;
		}
		body = n >= 3 ? n - 3 : 0;
		assert_memory_equal(out, full, body);
		assert_memory_equal(out + body, "...", n - body);
		/* The body ends on a whole character of the full escape. */
		assert_true(whole[body]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_level_names),    cmocka_unit_test(test_levels),
	        cmocka_unit_test(test_stderr_line),    cmocka_unit_test(test_ratelimit),
	        cmocka_unit_test(test_ratelimit_zero), cmocka_unit_test(test_esc_table),
	        cmocka_unit_test(test_esc_zero_size),  cmocka_unit_test(test_esc_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
