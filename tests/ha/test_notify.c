/* ha/notify.c: keepalived notify_fifo lines, good and hostile, in tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ha/notify.h"

struct good {
	const char *line;
	enum notify_kind kind;
	const char *name;
	enum vrrp_state state;
	unsigned prio;
};

static const struct good goods[] = {
        {"INSTANCE \"VI_1\" MASTER 100", NOTIFY_INSTANCE, "VI_1", VRRP_MASTER, 100},
        {"INSTANCE \"VI_1\" BACKUP 100", NOTIFY_INSTANCE, "VI_1", VRRP_BACKUP, 100},
        {"INSTANCE \"VI_TWIST\" FAULT 0", NOTIFY_INSTANCE, "VI_TWIST", VRRP_FAULT, 0},
        {"INSTANCE \"VI_1\" STOP 150", NOTIFY_INSTANCE, "VI_1", VRRP_STOP, 150},
        {"INSTANCE \"VI_1\" DELETED 150", NOTIFY_INSTANCE, "VI_1", VRRP_DELETED, 150},
        {"INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 255", NOTIFY_INSTANCE, "VI_1",
         VRRP_MASTER_RX_LOWER_PRI, 255},
        {"INSTANCE \"VI_1\" MASTER_PRIORITY 50", NOTIFY_INSTANCE, "VI_1", VRRP_MASTER_PRIORITY, 50},
        {"INSTANCE \"VI_1\" BACKUP_PRIORITY 1", NOTIFY_INSTANCE, "VI_1", VRRP_BACKUP_PRIORITY, 1},
        {"GROUP \"VG_1\" MASTER 0", NOTIFY_GROUP, "VG_1", VRRP_MASTER, 0},
        {"GROUP \"VG_1\" BACKUP 0", NOTIFY_GROUP, "VG_1", VRRP_BACKUP, 0},
        /* keepalived before 1.3 wrote the name unquoted */
        {"INSTANCE VI_1 MASTER 100", NOTIFY_INSTANCE, "VI_1", VRRP_MASTER, 100},
        /* a CRLF writer */
        {"INSTANCE \"VI_1\" MASTER 100\r", NOTIFY_INSTANCE, "VI_1", VRRP_MASTER, 100},
        {"INSTANCE \"a.b-c:d/e\" BACKUP 9", NOTIFY_INSTANCE, "a.b-c:d/e", VRRP_BACKUP, 9},
};

static const char *const bads[] = {
        "",
        "\r",
        " ",
        "INSTANCE",
        "INSTANCE ",
        "INSTANCE \"VI_1\"",
        "INSTANCE \"VI_1\" MASTER",
        "INSTANCE \"VI_1\" MASTER ",
        "INSTANCE \"VI_1\" MASTER 100 ",
        "INSTANCE \"VI_1\" MASTER 100 extra",
        "INSTANCE  \"VI_1\" MASTER 100",
        "INSTANCE \"VI_1\"  MASTER 100",
        "instance \"VI_1\" MASTER 100",
        "INSTANCE \"VI_1\" master 100",
        "INSTANCE \"VI_1\" MASTERX 100",
        "INSTANCE \"VI_1\" MASTE 100",
        "INSTANCE \"VI_1\" MASTER 256",
        "INSTANCE \"VI_1\" MASTER 1000",
        "INSTANCE \"VI_1\" MASTER -1",
        "INSTANCE \"VI_1\" MASTER +1",
        "INSTANCE \"VI_1\" MASTER 010",
        "INSTANCE \"VI_1\" MASTER 1a",
        "INSTANCE \"VI_1\" MASTER 0x10",
        "INSTANCE \"\" MASTER 100",
        "INSTANCE \" MASTER 100",
        "INSTANCE \"VI\"1\" MASTER 100",
        "INSTANCE \"VI_1 MASTER 100",
        "INSTANCE VI_1\" MASTER 100",
        "INSTANCE \"VI\t1\" MASTER 100",
        "INSTANCE \"VI_1\"\tMASTER 100",
        "INSTANCE \"VI_1\" MASTER 100\r\r",
        "INSTANCE \"VI_1\" MASTER\r100",
        "INSTANCES \"VI_1\" MASTER 100",
        "VS",
        "RS",
        "FAULT",
        "STOP",
        "MASTER",
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		struct notify_event ev;
		int rc = notify_parse((const uint8_t *)g->line, strlen(g->line), &ev);

		if (rc != 0)
			fail_msg("line %zu '%s': %d", i, g->line, rc);
		assert_int_equal(ev.kind, g->kind);
		assert_string_equal(ev.name, g->name);
		assert_int_equal(ev.state, g->state);
		assert_int_equal(ev.priority, g->prio);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct notify_event ev;
		int rc = notify_parse((const uint8_t *)bads[i], strlen(bads[i]), &ev);

		if (rc != -EINVAL)
			fail_msg("line %zu '%s': got %d, want -EINVAL", i, bads[i], rc);
	}
}

static void test_lvs_ignored(void **state)
{
	static const char *const lvs[] = {
	        "VS [192.0.2.15]:tcp:80 UP",
	        "RS [192.0.2.4]:tcp:80 [192.0.2.15]:tcp:80 DOWN",
	};
	struct notify_event ev;

	(void)state;
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(notify_parse((const uint8_t *)lvs[i], strlen(lvs[i]), &ev),
		                 -ENOMSG);
}

static void test_nul_and_binary(void **state)
{
	static const uint8_t nul[] = "INSTANCE \"VI\0_1\" MASTER 100";
	static const uint8_t high[] = "INSTANCE \"VI\xff_1\" MASTER 100";
	static const uint8_t tail[] = "INSTANCE \"VI_1\" MASTER 100\0";
	struct notify_event ev;

	(void)state;
	assert_int_equal(notify_parse(nul, sizeof(nul) - 1, &ev), -EINVAL);
	assert_int_equal(notify_parse(high, sizeof(high) - 1, &ev), -EINVAL);
	assert_int_equal(notify_parse(tail, sizeof(tail) - 1, &ev), -EINVAL);
	/* A length shorter than the text: only those bytes are read. */
	assert_int_equal(notify_parse((const uint8_t *)"INSTANCE \"VI_1\" MASTER 100", 24, &ev), 0);
	assert_int_equal(ev.priority, 1);
	assert_int_equal(notify_parse((const uint8_t *)"X", 0, &ev), -EINVAL);
}

static void test_name_limits(void **state)
{
	char line[NOTIFY_NAME_MAX + 64], name[NOTIFY_NAME_MAX + 1];
	struct notify_event ev;

	(void)state;
	memset(name, 'n', NOTIFY_NAME_MAX - 1);
	name[NOTIFY_NAME_MAX - 1] = '\0';
	snprintf(line, sizeof(line), "INSTANCE \"%s\" MASTER 1", name);
	assert_int_equal(notify_parse((const uint8_t *)line, strlen(line), &ev), 0);
	assert_string_equal(ev.name, name);
	memset(name, 'n', NOTIFY_NAME_MAX);
	name[NOTIFY_NAME_MAX] = '\0';
	snprintf(line, sizeof(line), "INSTANCE \"%s\" MASTER 1", name);
	assert_int_equal(notify_parse((const uint8_t *)line, strlen(line), &ev), -EINVAL);
}

struct collected {
	char lines[8][NOTIFY_LINE_MAX + 1];
	size_t n;
};

static void collect(const uint8_t *line, size_t len, void *arg)
{
	struct collected *c = arg;

	assert_true(len <= NOTIFY_LINE_MAX);
	assert_true(c->n < 8);
	memcpy(c->lines[c->n], line, len);
	c->lines[c->n][len] = '\0';
	c->n++;
}

static void test_lines_split(void **state)
{
	static const char in[] = "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\n"
	                         "GROUP \"G\" MAS";
	struct notify_lines nl;
	struct collected c = {.n = 0};

	(void)state;
	notify_lines_init(&nl);
	/* One byte at a time: framing must not depend on read() sizes. */
	for (size_t i = 0; i < sizeof(in) - 1; i++)
		notify_lines_feed(&nl, (const uint8_t *)in + i, 1, collect, &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.lines[0], "INSTANCE \"VI_1\" BACKUP 100");
	assert_string_equal(c.lines[1], "INSTANCE \"VI_1\" MASTER 100");
	notify_lines_feed(&nl, (const uint8_t *)"TER 0\n", 6, collect, &c);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.lines[2], "GROUP \"G\" MASTER 0");
	/* An empty line is delivered as such (and rejected by the parser). */
	notify_lines_feed(&nl, (const uint8_t *)"\n", 1, collect, &c);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.lines[3], "");
}

static void test_lines_overlong(void **state)
{
	static uint8_t big[3 * NOTIFY_LINE_MAX];
	static const char after[] = "INSTANCE \"VI_1\" MASTER 100\n";
	struct notify_lines nl;
	struct collected c = {.n = 0};

	(void)state;
	memset(big, 'x', sizeof(big));
	notify_lines_init(&nl);
	notify_lines_feed(&nl, big, sizeof(big), collect, &c);
	notify_lines_feed(&nl, (const uint8_t *)"yyy\n", 4, collect, &c);
	assert_int_equal(c.n, 0);
	assert_int_equal(nl.overlong, 1);
	/* The next line after the dropped one is intact. */
	notify_lines_feed(&nl, (const uint8_t *)after, sizeof(after) - 1, collect, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.lines[0], "INSTANCE \"VI_1\" MASTER 100");
	/* Exactly NOTIFY_LINE_MAX bytes still fit. */
	memset(big, 'z', NOTIFY_LINE_MAX);
	big[NOTIFY_LINE_MAX] = '\n';
	notify_lines_feed(&nl, big, NOTIFY_LINE_MAX + 1, collect, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(strlen(c.lines[1]), NOTIFY_LINE_MAX);
	assert_int_equal(nl.overlong, 1);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vrrp_state_name(VRRP_MASTER), "MASTER");
	assert_string_equal(vrrp_state_name(VRRP_BACKUP_PRIORITY), "BACKUP_PRIORITY");
	assert_string_equal(notify_kind_name(NOTIFY_GROUP), "GROUP");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good),           cmocka_unit_test(test_bad),
	        cmocka_unit_test(test_lvs_ignored),    cmocka_unit_test(test_nul_and_binary),
	        cmocka_unit_test(test_name_limits),    cmocka_unit_test(test_lines_split),
	        cmocka_unit_test(test_lines_overlong), cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
