/*
 * ha/announce.c: the anycast decision, over every combination of its
 * inputs. Each probe takes one of five histories, and the expected answer
 * is computed by a second, plainly written statement of the rule; a few
 * hand-written rows pin the reasons and the hysteresis.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ha/announce.h"

enum hist {
	H_NEVER, /* no answer yet */
	H_OK1,   /* one 200 */
	H_OK3,   /* three 200s in a row */
	H_NO,    /* 200s, then a 503 (draining, resyncing) */
	H_DOWN,  /* 200, then three misses */
	H_N_HIST,
};

static const char *hist_name[] = {"never", "ok1", "ok3", "503", "down"};

static void make(struct ha_probe *p, enum hist h)
{
	static const int codes[][4] = {
	        [H_NEVER] = {0},           [H_OK1] = {200},
	        [H_OK3] = {200, 200, 200}, [H_NO] = {200, 200, 200, 503},
	        [H_DOWN] = {200, 0, 0, 0},
	};
	static const size_t n[] = {1, 1, 3, 4, 4};

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < n[h]; i++)
		ha_probe_result(p, codes[h][i]);
}

/*
 * The rule as the docs state it, with fail_after 3: alive unless never 200
 * or 3 misses in a row; to announce again, 3 200s in a row.
 */
static bool alive(enum hist h, bool announced)
{
	if (h == H_NEVER || h == H_DOWN)
		return false;
	return announced || h == H_OK3;
}

static bool yes(enum hist h, bool announced)
{
	return alive(h, announced) && h != H_NO;
}

static bool want(const enum hist *v, bool syncd, enum ha_state st, bool announced)
{
	if (!alive(v[0], announced) || !yes(v[1], announced) || !yes(v[2], announced))
		return false;
	if (!syncd)
		return true;
	return st == HA_MASTER && alive(v[3], announced) && yes(v[4], announced) &&
	       yes(v[5], announced);
}

/* p: relay, relay_ready, serving, syncd_health, syncd_ready, standby. */
static struct ha_anycast_in input(const struct ha_probe *p, bool syncd, bool announced,
                                  enum ha_state st)
{
	struct ha_anycast_in in = {
	        .fail_after = 3,
	        .syncd = syncd,
	        .announced = announced,
	        .relay = &p[0],
	        .relay_ready = &p[1],
	        .serving = &p[2],
	        .syncd_health = &p[3],
	        .syncd_ready = &p[4],
	        .standby = &p[5],
	        .state = st,
	};

	return in;
}

static void test_every_combination(void **state)
{
	static const enum ha_state states[] = {HA_INIT, HA_BACKUP, HA_MASTER, HA_FAULT, HA_STOPPED};
	struct ha_probe p[6];
	enum hist v[6];
	unsigned rows = 0, announced_rows = 0;

	(void)state;
	/* 5^6 probe histories x 5 states x syncd x announced: 781,250 rows. */
	for (unsigned code = 0; code < 15625; code++) {
		unsigned c = code;

		for (int i = 0; i < 6; i++) {
			v[i] = (enum hist)(c % H_N_HIST);
			c /= H_N_HIST;
			make(&p[i], v[i]);
		}
		for (int syncd = 0; syncd < 2; syncd++)
			for (size_t s = 0; s < 5; s++)
				for (int ann = 0; ann < 2; ann++) {
					struct ha_anycast_in in = input(p, syncd, ann, states[s]);
					bool got = ha_anycast_decide(&in) == ANYCAST_ANNOUNCE;
					bool exp = want(v, syncd, states[s], ann);

					rows++;
					announced_rows += exp;
					if (got != exp)
						fail_msg("relay %s ready %s serving %s syncd %s/%s "
						         "standby %s state %s syncd=%d "
						         "announced=%d: "
						         "got %s",
						         hist_name[v[0]], hist_name[v[1]],
						         hist_name[v[2]], hist_name[v[3]],
						         hist_name[v[4]], hist_name[v[5]],
						         ha_state_name(states[s]), syncd, ann,
						         ha_anycast_name(ha_anycast_decide(&in)));
				}
	}
	assert_int_equal(rows, 15625 * 2 * 5 * 2);
	/* The table is not trivially all-withdraw. */
	assert_true(announced_rows > 1000);
}

static void test_reasons(void **state)
{
	static const struct {
		enum hist relay, ready, serving, shealth, sready, standby;
		bool syncd;
		enum ha_state st;
		enum ha_anycast want;
	} t[] = {
	        {H_OK3, H_OK3, H_OK3, H_NEVER, H_NEVER, H_NEVER, false, HA_INIT, ANYCAST_ANNOUNCE},
	        {H_DOWN, H_OK3, H_OK3, H_OK3, H_OK3, H_OK3, false, HA_MASTER, ANYCAST_RELAY_DOWN},
	        {H_NEVER, H_OK3, H_OK3, H_OK3, H_OK3, H_OK3, false, HA_MASTER, ANYCAST_RELAY_DOWN},
	        {H_OK3, H_NO, H_OK3, H_OK3, H_OK3, H_OK3, false, HA_MASTER, ANYCAST_RELAY_UNREADY},
	        /* draining: /serving 503 withdraws at once */
	        {H_OK3, H_OK3, H_NO, H_OK3, H_OK3, H_OK3, false, HA_MASTER, ANYCAST_NOT_SERVING},
	        /* a relay without /serving (404) is not taken as serving */
	        {H_OK3, H_OK3, H_NEVER, H_OK3, H_OK3, H_OK3, false, HA_MASTER, ANYCAST_NOT_SERVING},
	        {H_OK3, H_OK3, H_OK3, H_OK3, H_OK3, H_OK3, true, HA_BACKUP, ANYCAST_NOT_MASTER},
	        {H_OK3, H_OK3, H_OK3, H_DOWN, H_OK3, H_OK3, true, HA_MASTER, ANYCAST_SYNCD_DOWN},
	        {H_OK3, H_OK3, H_OK3, H_OK3, H_NO, H_OK3, true, HA_MASTER, ANYCAST_UNSYNCED},
	        {H_OK3, H_OK3, H_OK3, H_OK3, H_OK3, H_NO, true, HA_MASTER, ANYCAST_NO_STANDBY},
	        {H_OK3, H_OK3, H_OK3, H_OK3, H_OK3, H_OK3, true, HA_MASTER, ANYCAST_ANNOUNCE},
	};
	struct ha_probe p[6];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct ha_anycast_in in = input(p, t[i].syncd, false, t[i].st);
		enum ha_anycast got;

		make(&p[0], t[i].relay);
		make(&p[1], t[i].ready);
		make(&p[2], t[i].serving);
		make(&p[3], t[i].shealth);
		make(&p[4], t[i].sready);
		make(&p[5], t[i].standby);
		got = ha_anycast_decide(&in);
		if (got != t[i].want)
			fail_msg("row %zu: %s, want %s", i, ha_anycast_name(got),
			         ha_anycast_name(t[i].want));
	}
}

/* Rise and fall: a flapping relay does not flap the route. */
static void test_hysteresis(void **state)
{
	struct ha_probe relay, ok;
	struct ha_anycast_in in = {.fail_after = 3,
	                           .relay = &relay,
	                           .relay_ready = &ok,
	                           .serving = &ok,
	                           .syncd_health = &ok,
	                           .syncd_ready = &ok,
	                           .standby = &ok};
	static const struct {
		int code;
		bool want;
	} seq[] = {
	        {200, false}, {200, false}, {200, true}, /* three 200s: announce */
	        {0, true},    {0, true},    {200, true}, /* two misses: keep it */
	        {0, true},    {0, true},    {0, false},  /* three: withdraw */
	        {200, false}, {0, false},   {200, false}, {200, false}, {200, true},
	};

	(void)state;
	make(&ok, H_OK3);
	memset(&relay, 0, sizeof(relay));
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		bool got;

		ha_probe_result(&relay, seq[i].code);
		got = ha_anycast_decide(&in) == ANYCAST_ANNOUNCE;
		if (got != seq[i].want)
			fail_msg("step %zu (code %d): %d, want %d", i, seq[i].code, got,
			         seq[i].want);
		in.announced = got;
	}
}

static void test_names(void **state)
{
	(void)state;
	for (int a = 0; a < HA_N_ANYCAST; a++)
		assert_string_not_equal(ha_anycast_name((enum ha_anycast)a), "?");
	assert_string_equal(ha_anycast_name(ANYCAST_ANNOUNCE), "announced");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_combination),
	        cmocka_unit_test(test_reasons),
	        cmocka_unit_test(test_hysteresis),
	        cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
