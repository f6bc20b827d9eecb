/* relay/control_parse.c: the control socket's lines, as a table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "relay/control_parse.h"

struct vec {
	const char *line;
	int rc;
	enum control_verb verb;
};

static const struct vec vecs[] = {
        {"ping", 0, CONTROL_PING},
        {"reload", 0, CONTROL_RELOAD},
        {"reload\r", 0, CONTROL_RELOAD},
        {"  status\t ", 0, CONTROL_STATUS},
        {"realm", 0, CONTROL_REALM},
        {"help", 0, CONTROL_HELP},
        {"quit", 0, CONTROL_QUIT},
        {"", -EINVAL, 0},
        {"   ", -EINVAL, 0},
        {"\r", -EINVAL, 0},
        {"reload now", -EINVAL, 0},
        {"re\x01load", -EINVAL, 0},
        {"reload\x7f", -EINVAL, 0},
        {"reloa", -ENOENT, 0},
        {"reloadx", -ENOENT, 0},
        {"RELOAD", -ENOENT, 0},
        {"shutdown", -ENOENT, 0},
        {"drain", 0, CONTROL_DRAIN},
        {"undrain", 0, CONTROL_UNDRAIN},
        {"role", 0, CONTROL_ROLE},
        {"state", 0, CONTROL_STATE},
        {"siblings", 0, CONTROL_SIBLINGS},
        {"sessions", 0, CONTROL_SESSIONS},
        {"sessions alice", -EINVAL, 0}, /* control_parse takes no argument */
        {"drain now", -EINVAL, 0},
};

/* control_parse_arg: only sessions takes one, trimmed. */
static void test_arg(void **state)
{
	static const struct {
		const char *line;
		int rc;
		const char *arg;
	} t[] = {
	        {"sessions", 0, ""},        {"sessions  alice \r", 0, "alice"},
	        {"sessions a b", 0, "a b"}, {"drain now", -EINVAL, NULL},
	        {"state x", -EINVAL, NULL}, {"sessionsx", -ENOENT, NULL},
	};
	char arg[16];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum control_verb v;
		int rc = control_parse_arg(t[i].line, strlen(t[i].line), &v, arg, sizeof(arg));

		assert_int_equal(rc, t[i].rc);
		if (rc == 0)
			assert_string_equal(arg, t[i].arg);
	}
	/* an argument longer than the buffer is refused, not cut */
	assert_int_equal(control_parse_arg("sessions 0123456789abcdefXYZ", 28,
	                                   &(enum control_verb){0}, arg, sizeof(arg)),
	                 -EINVAL);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		enum control_verb v = CONTROL_QUIT;
		int rc = control_parse(vecs[i].line, strlen(vecs[i].line), &v);

		assert_int_equal(rc, vecs[i].rc);
		if (rc == 0)
			assert_int_equal(v, vecs[i].verb);
	}
}

static void test_limits(void **state)
{
	char line[CONTROL_LINE_MAX + 1];
	enum control_verb v;

	(void)state;
	memset(line, ' ', sizeof(line));
	memcpy(line, "ping", 4);
	assert_int_equal(control_parse(line, CONTROL_LINE_MAX, &v), 0);
	assert_int_equal(control_parse(line, CONTROL_LINE_MAX + 1, &v), -E2BIG);
	/* a NUL inside the line is a control byte */
	assert_int_equal(control_parse("ping\0", 5, &v), -EINVAL);
	assert_string_equal(control_verb_name(CONTROL_RELOAD), "reload");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_arg),
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
