/* ha/state.c: the role transitions and the health verdict, in tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ha/state.h"

static void test_transitions(void **state)
{
	static const struct {
		enum ha_state from;
		enum vrrp_state ev;
		enum ha_state to;
	} t[] = {
	        {HA_INIT, VRRP_BACKUP, HA_BACKUP},
	        {HA_INIT, VRRP_MASTER, HA_MASTER},
	        {HA_BACKUP, VRRP_MASTER, HA_MASTER},
	        {HA_MASTER, VRRP_BACKUP, HA_BACKUP},
	        {HA_MASTER, VRRP_FAULT, HA_FAULT},
	        {HA_FAULT, VRRP_BACKUP, HA_BACKUP},
	        {HA_MASTER, VRRP_STOP, HA_STOPPED},
	        {HA_BACKUP, VRRP_DELETED, HA_STOPPED},
	        {HA_STOPPED, VRRP_BACKUP, HA_BACKUP},
	        {HA_MASTER, VRRP_MASTER_RX_LOWER_PRI, HA_MASTER},
	        {HA_BACKUP, VRRP_MASTER_RX_LOWER_PRI, HA_BACKUP},
	        {HA_MASTER, VRRP_MASTER_PRIORITY, HA_MASTER},
	        {HA_BACKUP, VRRP_BACKUP_PRIORITY, HA_BACKUP},
	        {HA_INIT, VRRP_BACKUP_PRIORITY, HA_INIT},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (ha_state_next(t[i].from, t[i].ev) != t[i].to)
			fail_msg("row %zu: %s + %s -> %s, want %s", i, ha_state_name(t[i].from),
			         vrrp_state_name(t[i].ev),
			         ha_state_name(ha_state_next(t[i].from, t[i].ev)),
			         ha_state_name(t[i].to));
}

static void test_roles(void **state)
{
	(void)state;
	/* Only a VRRP master is a master; everything else must not act as one. */
	assert_string_equal(ha_state_role(HA_MASTER), "master");
	assert_string_equal(ha_state_role(HA_BACKUP), "backup");
	assert_string_equal(ha_state_role(HA_FAULT), "backup");
	assert_string_equal(ha_state_role(HA_STOPPED), "backup");
	assert_string_equal(ha_state_role(HA_INIT), "backup");
}

static void feed(struct ha_probe *p, const int *codes, size_t n)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < n; i++)
		ha_probe_result(p, codes[i]);
}

static void test_verdict(void **state)
{
	static const int ok[] = {200};
	static const int none[] = {0};
	static const int never[] = {0, 0, 0, 0};
	static const int flap1[] = {200, 0};
	static const int flap2[] = {200, 0, 0};
	static const int down3[] = {200, 0, 0, 0};
	static const int back[] = {200, 0, 0, 0, 200};
	static const int unready[] = {200, 503};
	static const struct {
		const int *relay, *health, *ready;
		size_t nrelay, nhealth, nready;
		bool syncd;
		enum ha_verdict want;
	} t[] = {
	        /* nothing checked yet: not electable */
	        {none, ok, ok, 0, 1, 1, true, VERDICT_FAULT},
	        {never, ok, ok, 4, 1, 1, true, VERDICT_FAULT},
	        {ok, ok, ok, 1, 1, 1, true, VERDICT_OK},
	        {ok, NULL, NULL, 1, 0, 0, false, VERDICT_OK},
	        /* a relay blip is tolerated, three misses are a fault */
	        {flap1, ok, ok, 2, 1, 1, true, VERDICT_OK},
	        {flap2, ok, ok, 3, 1, 1, true, VERDICT_OK},
	        {down3, ok, ok, 4, 1, 1, true, VERDICT_FAULT},
	        {down3, NULL, NULL, 4, 0, 0, false, VERDICT_FAULT},
	        {back, ok, ok, 5, 1, 1, true, VERDICT_OK},
	        /* syncd: not ready (resyncing) demotes at once */
	        {ok, ok, unready, 1, 1, 2, true, VERDICT_DEMOTE},
	        {ok, ok, none, 1, 1, 1, true, VERDICT_DEMOTE},
	        {ok, ok, flap1, 1, 1, 2, true, VERDICT_OK},
	        {ok, down3, ok, 1, 4, 1, true, VERDICT_DEMOTE},
	        {ok, down3, ok, 1, 4, 1, false, VERDICT_OK},
	        /* the relay outranks syncd */
	        {down3, down3, unready, 4, 4, 2, true, VERDICT_FAULT},
	};
	struct ha_verdict_cfg cfg = {.fail_after = 3};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ha_probe r, h, y;
		enum ha_verdict got;

		feed(&r, t[i].relay, t[i].nrelay);
		feed(&h, t[i].health, t[i].nhealth);
		feed(&y, t[i].ready, t[i].nready);
		cfg.syncd = t[i].syncd;
		/* the relay's /ready answers like syncd's in these rows */
		got = ha_verdict(&cfg, &r, &y, &h, &y);
		if (got != t[i].want)
			fail_msg("row %zu: %s, want %s", i, ha_verdict_name(got),
			         ha_verdict_name(t[i].want));
	}
}

/* A standby whose relay still builds replicated allocations is not electable. */
static void test_relay_importing_demotes(void **state)
{
	struct ha_verdict_cfg cfg = {.fail_after = 3, .syncd = true};
	struct ha_probe alive, ready, importing;

	(void)state;
	memset(&alive, 0, sizeof(alive));
	memset(&ready, 0, sizeof(ready));
	memset(&importing, 0, sizeof(importing));
	ha_probe_result(&alive, 200);
	ha_probe_result(&ready, 200);
	ha_probe_result(&importing, 503);
	assert_int_equal(ha_verdict(&cfg, &alive, &importing, &alive, &ready), VERDICT_DEMOTE);
	assert_int_equal(ha_verdict(&cfg, &alive, &ready, &alive, &ready), VERDICT_OK);
	/* without replication the relay's readiness is not consulted */
	cfg.syncd = false;
	assert_int_equal(ha_verdict(&cfg, &alive, &importing, &alive, &ready), VERDICT_OK);
}

static void test_probe_saturates(void **state)
{
	struct ha_probe p;

	(void)state;
	memset(&p, 0, sizeof(p));
	for (unsigned i = 0; i < 2000000; i++)
		ha_probe_result(&p, 0);
	assert_int_equal(p.fails, 1000000);
	ha_probe_result(&p, 200);
	assert_int_equal(p.fails, 0);
	assert_int_equal(p.oks, 1);
	assert_true(p.ever_ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_transitions),
	        cmocka_unit_test(test_roles),
	        cmocka_unit_test(test_verdict),
	        cmocka_unit_test(test_relay_importing_demotes),
	        cmocka_unit_test(test_probe_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
