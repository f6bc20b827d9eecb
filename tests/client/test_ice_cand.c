/* client/ice/ice_cand.c: priorities, foundations, candidate lines, check list, roles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/ice/ice_cand.h"

static struct ice_cand cand(enum ice_cand_type t, const char *ip, uint16_t port, uint8_t comp,
                            uint16_t lp, int base)
{
	struct ice_cand c = {.type = t, .comp = comp, .base = base};

	assert_int_equal(tw_addr_parse_ip(ip, &c.addr), 0);
	c.addr.port = port;
	c.prio = ice_cand_priority(t, lp, comp);
	ice_cand_foundation(&c, &c.addr, NULL);
	return c;
}

static void test_priority(void **state)
{
	(void)state;
	/* RFC 8445 §5.1.2.1: (2^24)*type + (2^8)*local + (256 - comp) */
	assert_int_equal(ice_cand_priority(ICE_CAND_HOST, 65535, 1), 2130706431u);
	assert_int_equal(ice_cand_priority(ICE_CAND_RELAY, 65535, 1), 16777215u);
	assert_int_equal(ice_cand_priority(ICE_CAND_SRFLX, 65535, 2), 1694498814u);
	assert_true(ice_cand_priority(ICE_CAND_PRFLX, 1, 1) >
	            ice_cand_priority(ICE_CAND_SRFLX, 65535, 1));
	/* §6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0) */
	assert_true(ice_pair_priority(10, 5) == (5ull << 32) + 20 + 1);
	assert_true(ice_pair_priority(5, 10) == (5ull << 32) + 20);
}

static void test_foundation(void **state)
{
	struct ice_cand a = cand(ICE_CAND_HOST, "192.0.2.1", 1000, 1, 65535, 0);
	struct ice_cand b = cand(ICE_CAND_HOST, "192.0.2.1", 2000, 2, 65535, 1);
	struct ice_cand c = cand(ICE_CAND_HOST, "192.0.2.2", 1000, 1, 65535, 2);
	struct ice_cand s = a;
	struct tw_addr srv;
	(void)state;

	/* same type and base IP: same foundation, whatever the port or component */
	assert_string_equal(a.foundation, b.foundation);
	assert_string_not_equal(a.foundation, c.foundation);
	s.type = ICE_CAND_SRFLX;
	tw_addr_parse_ip("203.0.113.10", &srv);
	ice_cand_foundation(&s, &a.addr, &srv);
	assert_string_not_equal(a.foundation, s.foundation);
	assert_true(strlen(s.foundation) >= 1 && strlen(s.foundation) <= ICE_FOUNDATION_MAX);
}

static void test_parse_fmt(void **state)
{
	struct ice_cand c, d;
	char buf[ICE_CAND_STRLEN];
	(void)state;

	assert_int_equal(ice_cand_parse("candidate:abc+/1 1 UDP 1694498815 203.0.113.5 40000 typ "
	                                "srflx raddr 192.0.2.1 rport 5000 generation 0",
	                                &c),
	                 0);
	assert_int_equal(c.type, ICE_CAND_SRFLX);
	assert_int_equal(c.comp, 1);
	assert_int_equal(c.prio, 1694498815u);
	assert_int_equal(c.addr.port, 40000);
	assert_int_equal(c.rel.port, 5000);
	assert_true(ice_cand_fmt(&c, buf, sizeof(buf)) > 0);
	assert_int_equal(ice_cand_parse(buf, &d), 0);
	assert_true(tw_addr_eq(&c.addr, &d.addr) && tw_addr_eq(&c.rel, &d.rel));
	assert_string_equal(c.foundation, d.foundation);
	assert_int_equal(ice_cand_parse("1 1 udp 5 2001:db8::1 9 typ host", &d), 0);
	assert_int_equal(d.addr.family, TW_AF_INET6);
}

static void test_parse_bad(void **state)
{
	static const char *bad[] = {
	        "",
	        "1 1 udp 5 192.0.2.1 9 typ",
	        "1 1 udp 5 192.0.2.1 9 type host",
	        "1 0 udp 5 192.0.2.1 9 typ host",
	        "1 3 udp 5 192.0.2.1 9 typ host",
	        "1 1 udp 0 192.0.2.1 9 typ host",
	        "1 1 udp 4294967296 192.0.2.1 9 typ host",
	        "1 1 udp 5 192.0.2.1 0 typ host",
	        "1 1 udp 5 192.0.2.1 65536 typ host",
	        "1 1 udp 5 host.example 9 typ host",
	        "1 1 udp 5 192.0.2.1 9 typ bogus",
	        "1 1 udp 5 192.0.2.1 9 typ srflx raddr 192.0.2.2",
	        "1 1 udp 5 192.0.2.1 9 typ srflx raddr 192.0.2.2 rport",
	        "1 1 udp -5 192.0.2.1 9 typ host",
	        "f\"o 1 udp 5 192.0.2.1 9 typ host",
	        "123456789012345678901234567890123 1 udp 5 192.0.2.1 9 typ host",
	};
	struct ice_cand c;
	char big[2000];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ice_cand_parse(bad[i], &c), -EINVAL);
	assert_int_equal(ice_cand_parse("1 1 tcp 5 192.0.2.1 9 typ host tcptype active", &c),
	                 -EPROTONOSUPPORT);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ice_cand_parse(big, &c), -EINVAL);
}

static void test_form_prune(void **state)
{
	struct ice_cand loc[3], rem[2];
	struct ice_pair out[16];
	struct tw_addr srv;
	size_t n;
	(void)state;

	loc[0] = cand(ICE_CAND_HOST, "192.0.2.1", 1000, 1, 65535, 0);
	/* srflx on the same base: pairs from it are the host's pairs, pruned */
	loc[1] = cand(ICE_CAND_SRFLX, "203.0.113.1", 7000, 1, 65535, 0);
	tw_addr_parse_ip("203.0.113.10", &srv);
	ice_cand_foundation(&loc[1], &loc[0].addr, &srv);
	loc[2] = cand(ICE_CAND_HOST, "2001:db8::1", 1000, 1, 65534, 1);
	rem[0] = cand(ICE_CAND_HOST, "198.51.100.1", 2000, 1, 65535, -1);
	rem[1] = cand(ICE_CAND_SRFLX, "198.51.100.2", 2001, 1, 65535, -1);
	n = ice_checklist_form(loc, 3, rem, 2, true, 100, out, 16);
	/* v6 has no v6 remote; srflx pairs fold into host pairs: 2 pairs */
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out[i].local, 0);
	assert_true(out[0].prio >= out[1].prio);
	/* different remote foundations: both Waiting */
	assert_int_equal(out[0].state, ICE_PAIR_WAITING);
	assert_int_equal(out[1].state, ICE_PAIR_WAITING);
}

static void test_form_cap_frozen(void **state)
{
	struct ice_cand loc[2], rem[60];
	struct ice_pair out[ICE_MAX_PAIRS];
	size_t n, waiting = 0;
	char ip[32];
	(void)state;

	loc[0] = cand(ICE_CAND_HOST, "192.0.2.1", 1000, 1, 65535, 0);
	loc[1] = cand(ICE_CAND_HOST, "192.0.2.2", 1000, 1, 65534, 1);
	for (int i = 0; i < 60; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		rem[i] = cand(ICE_CAND_HOST, ip, (uint16_t)(3000 + i), 1, (uint16_t)(1000 + i), -1);
		/* one foundation for all: a single Waiting pair per local foundation */
		strcpy(rem[i].foundation, "r");
	}
	n = ice_checklist_form(loc, 2, rem, 60, false, ICE_MAX_PAIRS, out, ICE_MAX_PAIRS);
	assert_int_equal(n, ICE_MAX_PAIRS);
	for (size_t i = 1; i < n; i++)
		assert_true(out[i - 1].prio >= out[i].prio);
	for (size_t i = 0; i < n; i++)
		waiting += out[i].state == ICE_PAIR_WAITING;
	assert_int_equal(waiting, 2);
	/* the pair priority is led by the smaller (remote) priority: the 20 pairs
	 * of the 10 lowest remotes were dropped */
	for (size_t i = 0; i < n; i++)
		assert_true(out[i].remote >= 10);
}

static void test_role(void **state)
{
	(void)state;
	assert_int_equal(ice_role_check(true, 5, false, 9), ICE_ROLE_OK);
	assert_int_equal(ice_role_check(false, 5, true, 9), ICE_ROLE_OK);
	/* both controlling: the larger tie-breaker keeps the role */
	assert_int_equal(ice_role_check(true, 9, true, 5), ICE_ROLE_487);
	assert_int_equal(ice_role_check(true, 9, true, 9), ICE_ROLE_487);
	assert_int_equal(ice_role_check(true, 5, true, 9), ICE_ROLE_SWITCH);
	/* both controlled: the larger one becomes controlling */
	assert_int_equal(ice_role_check(false, 9, false, 5), ICE_ROLE_SWITCH);
	assert_int_equal(ice_role_check(false, 5, false, 9), ICE_ROLE_487);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_priority),   cmocka_unit_test(test_foundation),
	        cmocka_unit_test(test_parse_fmt),  cmocka_unit_test(test_parse_bad),
	        cmocka_unit_test(test_form_prune), cmocka_unit_test(test_form_cap_frozen),
	        cmocka_unit_test(test_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
