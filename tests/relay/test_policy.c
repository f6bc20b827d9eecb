/* relay/policy.c: RFC 8656 §21.3 peer address policy, every bypass form in a table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "relay/config.h"
#include "relay/policy.h"

struct vec {
	const char *addr;
	enum policy_verdict want;
};

static void cfg_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

static void cfg_cidr(struct tw_cidr *list, unsigned *n, const char *s)
{
	assert_int_equal(tw_cidr_parse(s, &list[*n]), 0);
	(*n)++;
}

static void run(const struct config *cfg, const struct vec *v, size_t n)
{
	struct policy *p = policy_new(cfg);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		struct tw_addr a;
		enum policy_verdict got;

		if (tw_addr_parse_ip(v[i].addr, &a) < 0)
			fail_msg("bad test address %s", v[i].addr);
		a.port = 3478;
		got = policy_check(p, &a);
		if (got != v[i].want)
			fail_msg("%s: %s, want %s", v[i].addr, policy_verdict_name(got),
			         policy_verdict_name(v[i].want));
	}
	policy_free(p);
}

#define RUN(cfg, v) run(cfg, v, sizeof(v) / sizeof(v[0]))

static const struct vec defaults[] = {
        /* IPv4 special-purpose */
        {"0.0.0.0", POLICY_DENY_SPECIAL},
        {"0.1.2.3", POLICY_DENY_SPECIAL},
        {"127.0.0.1", POLICY_DENY_SPECIAL},
        {"127.255.255.254", POLICY_DENY_SPECIAL},
        {"10.0.0.1", POLICY_DENY_SPECIAL},
        {"10.255.255.255", POLICY_DENY_SPECIAL},
        {"172.16.0.1", POLICY_DENY_SPECIAL},
        {"172.31.255.255", POLICY_DENY_SPECIAL},
        {"192.168.1.1", POLICY_DENY_SPECIAL},
        {"100.64.0.1", POLICY_DENY_SPECIAL},
        {"100.127.255.255", POLICY_DENY_SPECIAL},
        {"169.254.1.1", POLICY_DENY_SPECIAL},
        {"169.254.169.254", POLICY_DENY_SPECIAL},
        {"224.0.0.1", POLICY_DENY_SPECIAL},
        {"239.255.255.250", POLICY_DENY_SPECIAL},
        {"240.0.0.1", POLICY_DENY_SPECIAL},
        {"255.255.255.255", POLICY_DENY_SPECIAL},
        /* IPv6 special-purpose */
        {"::", POLICY_DENY_SPECIAL},
        {"::1", POLICY_DENY_SPECIAL},
        {"fc00::1", POLICY_DENY_SPECIAL},
        {"fd12:3456::1", POLICY_DENY_SPECIAL},
        {"fe80::1", POLICY_DENY_SPECIAL},
        {"febf::1", POLICY_DENY_SPECIAL},
        {"ff02::1", POLICY_DENY_SPECIAL},
        {"ff0e::1", POLICY_DENY_SPECIAL},
        /* IPv4 hidden in IPv6: IPv4-mapped */
        {"::ffff:127.0.0.1", POLICY_DENY_EMBEDDED},
        {"::ffff:10.0.0.1", POLICY_DENY_EMBEDDED},
        {"::ffff:0.0.0.0", POLICY_DENY_EMBEDDED},
        {"::ffff:169.254.169.254", POLICY_DENY_EMBEDDED},
        {"::ffff:255.255.255.255", POLICY_DENY_EMBEDDED},
        {"::ffff:224.0.0.1", POLICY_DENY_EMBEDDED},
        /* IPv4-translated (SIIT) */
        {"::ffff:0:127.0.0.1", POLICY_DENY_EMBEDDED},
        {"::ffff:0:192.168.0.1", POLICY_DENY_EMBEDDED},
        /* IPv4-compatible */
        {"::127.0.0.1", POLICY_DENY_EMBEDDED},
        {"::10.1.2.3", POLICY_DENY_EMBEDDED},
        {"::0.0.0.2", POLICY_DENY_EMBEDDED},
        /* NAT64 well-known prefix */
        {"64:ff9b::7f00:1", POLICY_DENY_EMBEDDED},
        {"64:ff9b::c0a8:101", POLICY_DENY_EMBEDDED},
        {"64:ff9b::a9fe:a9fe", POLICY_DENY_EMBEDDED},
        {"64:ff9b::6440:1", POLICY_DENY_EMBEDDED},
        /* local-use NAT64: layout unknown, so all of it */
        {"64:ff9b:1::7f00:1", POLICY_DENY_SPECIAL},
        {"64:ff9b:1:ffff::808:808", POLICY_DENY_SPECIAL},
        {"64:ff9b:2::1", POLICY_ALLOW},
        /* 6to4 */
        {"2002:7f00:1::1", POLICY_DENY_EMBEDDED},
        {"2002:a9fe:101::", POLICY_DENY_EMBEDDED},
        {"2002:c0a8:101:1::1", POLICY_DENY_EMBEDDED},
        {"2002:ac10::1", POLICY_DENY_EMBEDDED},
        /* Teredo: server 127.0.0.1, or client 10.0.0.1 (stored inverted) */
        {"2001:0:7f00:1::1", POLICY_DENY_EMBEDDED},
        {"2001:0:808:808::f5ff:fffe", POLICY_DENY_EMBEDDED},
        /* public and documentation addresses pass */
        {"8.8.8.8", POLICY_ALLOW},
        {"1.1.1.1", POLICY_ALLOW},
        {"192.0.2.1", POLICY_ALLOW},
        {"198.51.100.7", POLICY_ALLOW},
        {"203.0.113.9", POLICY_ALLOW},
        {"2001:db8::1", POLICY_ALLOW},
        {"2606:4700::1111", POLICY_ALLOW},
        /* just outside the special ranges */
        {"1.0.0.0", POLICY_ALLOW},
        {"9.255.255.255", POLICY_ALLOW},
        {"11.0.0.0", POLICY_ALLOW},
        {"100.63.255.255", POLICY_ALLOW},
        {"100.128.0.0", POLICY_ALLOW},
        {"126.255.255.255", POLICY_ALLOW},
        {"128.0.0.0", POLICY_ALLOW},
        {"169.253.255.255", POLICY_ALLOW},
        {"169.255.0.0", POLICY_ALLOW},
        {"172.15.255.255", POLICY_ALLOW},
        {"172.32.0.0", POLICY_ALLOW},
        {"192.167.255.255", POLICY_ALLOW},
        {"192.169.0.0", POLICY_ALLOW},
        {"223.255.255.255", POLICY_ALLOW},
        {"fbff::1", POLICY_ALLOW},
        {"fec0::1", POLICY_ALLOW},
        {"feff::1", POLICY_ALLOW},
        /* public IPv4 hidden in IPv6 is judged as that IPv4 */
        {"::ffff:8.8.8.8", POLICY_ALLOW},
        {"::ffff:192.0.2.1", POLICY_ALLOW},
        {"64:ff9b::808:808", POLICY_ALLOW},
        {"64:ff9b::c633:6407", POLICY_ALLOW},
        {"2002:808:808::1", POLICY_ALLOW},
        {"2001:0:808:808::f7f7:f7f7", POLICY_ALLOW},
        /* near misses of the embedded prefixes are ordinary IPv6 */
        {"64:ff9c::7f00:1", POLICY_ALLOW},
        {"2003:7f00:1::1", POLICY_ALLOW},
        {"1::ffff:7f00:1", POLICY_ALLOW},
};

static void test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	cfg_init(&cfg);
	RUN(&cfg, defaults);
}

static void test_deny_overrides_allow(void **state)
{
	static const struct vec v[] = {
	        {"203.0.113.5", POLICY_DENY_CONFIG},
	        {"203.0.113.200", POLICY_ALLOW}, /* allowed, and not special */
	        {"::ffff:203.0.113.5", POLICY_DENY_CONFIG},
	        {"64:ff9b::cb00:7105", POLICY_DENY_CONFIG},
	        {"2002:cb00:7105::1", POLICY_DENY_CONFIG},
	        {"2001:db8:1::1", POLICY_DENY_CONFIG},
	        {"2001:db8:2::1", POLICY_ALLOW},
	        {"8.8.4.4", POLICY_DENY_CONFIG},
	        {"::ffff:8.8.4.4", POLICY_DENY_CONFIG},
	        {"8.8.8.8", POLICY_ALLOW},
	};
	struct config cfg;

	(void)state;
	cfg_init(&cfg);
	cfg_cidr(cfg.deny, &cfg.n_deny, "203.0.113.0/25");
	cfg_cidr(cfg.deny, &cfg.n_deny, "2001:db8:1::/48");
	cfg_cidr(cfg.deny, &cfg.n_deny, "8.8.4.4");
	cfg_cidr(cfg.allow, &cfg.n_allow, "203.0.113.0/24");
	cfg_cidr(cfg.allow, &cfg.n_allow, "2001:db8::/32");
	cfg_cidr(cfg.allow, &cfg.n_allow, "8.8.4.0/24");
	RUN(&cfg, v);
}

static void test_allow_opens_special(void **state)
{
	static const struct vec v[] = {
	        {"10.1.2.3", POLICY_ALLOW},
	        {"10.2.0.1", POLICY_DENY_SPECIAL},
	        {"fd00:1::5", POLICY_ALLOW},
	        {"fd00:2::5", POLICY_DENY_SPECIAL},
	        /* the allow is for the plain form only */
	        {"::ffff:10.1.2.3", POLICY_DENY_EMBEDDED},
	        {"64:ff9b::a01:203", POLICY_DENY_EMBEDDED},
	        /* unless the IPv6 form itself is allowed */
	        {"::ffff:192.168.7.7", POLICY_ALLOW},
	        {"::ffff:192.168.8.7", POLICY_DENY_EMBEDDED},
	};
	struct config cfg;

	(void)state;
	cfg_init(&cfg);
	cfg_cidr(cfg.allow, &cfg.n_allow, "10.1.0.0/16");
	cfg_cidr(cfg.allow, &cfg.n_allow, "fd00:1::/32");
	cfg_cidr(cfg.allow, &cfg.n_allow, "::ffff:192.168.7.0/120");
	RUN(&cfg, v);
}

static void test_allow_loopback(void **state)
{
	static const struct vec v[] = {
	        {"127.0.0.1", POLICY_ALLOW},
	        {"127.1.2.3", POLICY_ALLOW},
	        {"::1", POLICY_ALLOW},
	        /* embedded loopback stays denied: see policy.c */
	        {"::ffff:127.0.0.1", POLICY_DENY_EMBEDDED},
	        {"::127.0.0.1", POLICY_DENY_EMBEDDED},
	        {"64:ff9b::7f00:1", POLICY_DENY_EMBEDDED},
	        {"2002:7f00:1::1", POLICY_DENY_EMBEDDED},
	        /* nothing else opens */
	        {"::", POLICY_DENY_SPECIAL},
	        {"0.0.0.0", POLICY_DENY_SPECIAL},
	        {"10.0.0.1", POLICY_DENY_SPECIAL},
	        {"fe80::1", POLICY_DENY_SPECIAL},
	};
	struct config cfg;

	(void)state;
	cfg_init(&cfg);
	cfg.allow_loopback = true;
	RUN(&cfg, v);
}

static void test_deny_beats_loopback(void **state)
{
	static const struct vec v[] = {
	        {"127.0.0.1", POLICY_DENY_CONFIG},
	        {"127.0.0.2", POLICY_ALLOW},
	};
	struct config cfg;

	(void)state;
	cfg_init(&cfg);
	cfg.allow_loopback = true;
	cfg_cidr(cfg.deny, &cfg.n_deny, "127.0.0.1");
	RUN(&cfg, v);
}

/*
 * Issue 17: the relay's own addresses are never peers unless allow_self,
 * whatever the port (other services share the IP), even with loopback or
 * the range explicitly allowed.
 */
static void cfg_self(struct config *cfg)
{
	static const char *const listen[] = {"127.0.0.1", "203.0.113.7", "2001:db8::7"};

	cfg_init(cfg);
	for (size_t i = 0; i < sizeof(listen) / sizeof(listen[0]); i++) {
		assert_int_equal(tw_addr_parse_ip(listen[i], &cfg->listen[i].addr), 0);
		cfg->listen[i].addr.port = 3478;
		cfg->listen[i].udp = true;
	}
	cfg->n_listen = 3;
	assert_int_equal(tw_addr_parse_ip("198.51.100.1", &cfg->relay[0]), 0);
	assert_int_equal(tw_addr_parse_ip("2001:db8:1::1", &cfg->relay[1]), 0);
	cfg->n_relay = 2;
	cfg->metrics_enabled = true;
	assert_int_equal(tw_addr_parse_ip("192.0.2.9", &cfg->metrics), 0);
	cfg->metrics.port = 9641;
	cfg->allow_loopback = true;
	cfg_cidr(cfg->allow, &cfg->n_allow, "198.51.100.0/24");
	cfg_cidr(cfg->allow, &cfg->n_allow, "2001:db8:1::/48");
}

static void test_self_denied(void **state)
{
	static const struct vec v[] = {
	        {"127.0.0.1", POLICY_DENY_SELF},     /* listener, despite allow_loopback */
	        {"127.0.0.2", POLICY_ALLOW},         /* another loopback address */
	        {"203.0.113.7", POLICY_DENY_SELF},   /* public listener */
	        {"203.0.113.8", POLICY_ALLOW},       /* its neighbour */
	        {"2001:db8::7", POLICY_DENY_SELF},   /* IPv6 listener */
	        {"2001:db8::8", POLICY_ALLOW},       /* its neighbour */
	        {"198.51.100.1", POLICY_DENY_SELF},  /* relay address, despite peers.allow */
	        {"198.51.100.2", POLICY_ALLOW},      /* allowed by peers.allow */
	        {"2001:db8:1::1", POLICY_DENY_SELF}, /* IPv6 relay address, same */
	        {"2001:db8:1::2", POLICY_ALLOW},
	        {"192.0.2.9", POLICY_DENY_SELF}, /* metrics */
	        {"192.0.2.10", POLICY_ALLOW},
	        /* the same addresses spelt in IPv6 */
	        {"::ffff:203.0.113.7", POLICY_DENY_SELF},
	        {"64:ff9b::c633:6401", POLICY_DENY_SELF},
	        {"2002:c633:6401::1", POLICY_DENY_SELF},
	        {"::ffff:203.0.113.8", POLICY_ALLOW},
	};
	struct config cfg;

	(void)state;
	cfg_self(&cfg);
	RUN(&cfg, v);
}

static void test_self_any_port(void **state)
{
	struct config cfg;
	struct policy *p;
	struct tw_addr a;

	(void)state;
	cfg_self(&cfg);
	p = policy_new(&cfg);
	assert_non_null(p);
	assert_int_equal(tw_addr_parse_ip("198.51.100.1", &a), 0);
	for (unsigned port = 0; port <= 65535; port += 4369) {
		a.port = (uint16_t)port;
		assert_int_equal(policy_check(p, &a), POLICY_DENY_SELF);
	}
	policy_free(p);
}

static void test_self_metrics_off(void **state)
{
	static const struct vec v[] = {
	        {"192.0.2.9", POLICY_ALLOW}, /* nothing of ours listens there */
	        {"203.0.113.7", POLICY_DENY_SELF},
	};
	struct config cfg;

	(void)state;
	cfg_self(&cfg);
	cfg.metrics_enabled = false;
	RUN(&cfg, v);
}

static void test_self_allowed(void **state)
{
	static const struct vec v[] = {
	        {"127.0.0.1", POLICY_ALLOW},
	        {"203.0.113.7", POLICY_ALLOW},
	        {"2001:db8::7", POLICY_ALLOW},
	        {"198.51.100.1", POLICY_ALLOW},
	        {"2001:db8:1::1", POLICY_ALLOW},
	        {"192.0.2.9", POLICY_ALLOW},
	        {"::ffff:203.0.113.7", POLICY_ALLOW},
	        /* allow_self opens our addresses, not the special ranges */
	        {"10.0.0.1", POLICY_DENY_SPECIAL},
	        {"::ffff:127.0.0.1", POLICY_DENY_EMBEDDED},
	};
	struct config cfg;

	(void)state;
	cfg_self(&cfg);
	cfg.allow_self = true;
	RUN(&cfg, v);
}

static void test_self_config_deny_first(void **state)
{
	static const struct vec v[] = {
	        {"198.51.100.1", POLICY_DENY_CONFIG},
	        {"203.0.113.7", POLICY_DENY_SELF},
	};
	struct config cfg;

	(void)state;
	cfg_self(&cfg);
	cfg_cidr(cfg.deny, &cfg.n_deny, "198.51.100.1");
	RUN(&cfg, v);
}

/* A wildcard listener answers on every loopback address of its family. */
static void test_self_wildcard(void **state)
{
	static const struct vec v[] = {
	        {"127.0.0.1", POLICY_DENY_SELF},
	        {"127.9.9.9", POLICY_DENY_SELF},
	        {"::1", POLICY_ALLOW}, /* no IPv6 wildcard: sockets are IPV6_V6ONLY */
	        {"8.8.8.8", POLICY_ALLOW},
	};
	static const struct vec v6[] = {
	        {"127.0.0.1", POLICY_DENY_SELF},
	        {"::1", POLICY_DENY_SELF},
	};
	static const struct vec opted_in[] = {
	        {"127.9.9.9", POLICY_ALLOW},
	        {"::1", POLICY_ALLOW},
	};
	struct config cfg;

	(void)state;
	cfg_self(&cfg);
	assert_int_equal(tw_addr_parse_ip("0.0.0.0", &cfg.listen[0].addr), 0);
	RUN(&cfg, v);
	assert_int_equal(tw_addr_parse_ip("::", &cfg.listen[2].addr), 0);
	RUN(&cfg, v6);
	cfg.allow_self = true;
	cfg.n_allow = 0;
	RUN(&cfg, opted_in);
}

static void test_unset_family(void **state)
{
	struct config cfg;
	struct policy *p;
	struct tw_addr a;

	(void)state;
	cfg_init(&cfg);
	p = policy_new(&cfg);
	assert_non_null(p);
	memset(&a, 0, sizeof(a));
	a.ip[0] = 8;
	assert_int_equal(policy_check(p, &a), POLICY_DENY_SPECIAL);
	a.family = 7;
	assert_int_equal(policy_check(p, &a), POLICY_DENY_SPECIAL);
	policy_free(p);
	policy_free(NULL);
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(policy_verdict_name(POLICY_ALLOW), "allow");
	assert_string_not_equal(policy_verdict_name(POLICY_DENY_CONFIG),
	                        policy_verdict_name(POLICY_DENY_SPECIAL));
	assert_string_not_equal(policy_verdict_name(POLICY_DENY_SPECIAL),
	                        policy_verdict_name(POLICY_DENY_EMBEDDED));
	assert_string_equal(policy_verdict_name(POLICY_DENY_SELF), "deny-self");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_deny_overrides_allow),
	        cmocka_unit_test(test_allow_opens_special),
	        cmocka_unit_test(test_allow_loopback),
	        cmocka_unit_test(test_deny_beats_loopback),
	        cmocka_unit_test(test_self_denied),
	        cmocka_unit_test(test_self_any_port),
	        cmocka_unit_test(test_self_metrics_off),
	        cmocka_unit_test(test_self_allowed),
	        cmocka_unit_test(test_self_config_deny_first),
	        cmocka_unit_test(test_self_wildcard),
	        cmocka_unit_test(test_unset_family),
	        cmocka_unit_test(test_verdict_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
