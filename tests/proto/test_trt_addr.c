/* proto/trt_addr.c: the /96 mapping, the refused IPv4 ranges, the ACL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/trt_addr.h"

static struct tw_cidr cidr(const char *s)
{
	struct tw_cidr c;

	assert_int_equal(tw_cidr_parse(s, &c), 0);
	return c;
}

static struct tw_addr ip(const char *s)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse_ip(s, &a), 0);
	return a;
}

static void test_embed_extract(void **state)
{
	struct tw_cidr p = cidr("fd64:7472::/96");
	struct tw_addr v4 = ip("198.51.100.10"), v6, back;
	struct tw_addr want = ip("fd64:7472::c633:640a");

	(void)state;
	v4.port = 80;
	trt_addr_embed(&p, &v4, &v6);
	assert_true(tw_addr_ip_eq(&v6, &want));
	assert_int_equal(v6.port, 80);
	assert_int_equal(trt_addr_extract(&p, &v6, &back), 0);
	assert_true(tw_addr_eq(&back, &v4));
	/* Outside the prefix, or not IPv6. */
	v6 = ip("fd64:7473::c633:640a");
	assert_int_equal(trt_addr_extract(&p, &v6, &back), -EINVAL);
	assert_int_equal(trt_addr_extract(&p, &v4, &back), -EINVAL);
}

static void test_prefix_check(void **state)
{
	static const struct {
		const char *p;
		int ok;
		bool wkp;
	} rows[] = {
	        {"64:ff9b::/96", 0, true},           {"fd64:7472::/96", 0, false},
	        {"2001:db8::/64", -EINVAL, false},   {"::ffff:0:0/96", -EINVAL, false},
	        {"::/96", -EINVAL, false},           {"64:ff9b:1::/96", 0, false},
	        {"198.51.100.0/24", -EINVAL, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct tw_cidr c = cidr(rows[i].p);

		print_message("%s\n", rows[i].p);
		assert_int_equal(trt_prefix_check(&c), rows[i].ok);
		assert_int_equal(trt_prefix_is_wkp(&c), rows[i].wkp);
	}
}

static void test_classify(void **state)
{
	static const struct {
		const char *ip;
		enum trt_deny own, own_priv, wkp;
	} rows[] = {
	        {"8.8.8.8", TRT_OK, TRT_OK, TRT_OK},
	        {"0.1.2.3", TRT_DENY_RESERVED, TRT_DENY_RESERVED, TRT_DENY_RESERVED},
	        {"127.0.0.1", TRT_DENY_LOOPBACK, TRT_DENY_LOOPBACK, TRT_DENY_LOOPBACK},
	        {"169.254.1.1", TRT_DENY_LINKLOCAL, TRT_DENY_LINKLOCAL, TRT_DENY_LINKLOCAL},
	        {"224.0.0.1", TRT_DENY_MULTICAST, TRT_DENY_MULTICAST, TRT_DENY_MULTICAST},
	        {"239.255.255.250", TRT_DENY_MULTICAST, TRT_DENY_MULTICAST, TRT_DENY_MULTICAST},
	        {"240.0.0.1", TRT_DENY_RESERVED, TRT_DENY_RESERVED, TRT_DENY_RESERVED},
	        {"255.255.255.255", TRT_DENY_BROADCAST, TRT_DENY_BROADCAST, TRT_DENY_BROADCAST},
	        {"10.1.2.3", TRT_DENY_PRIVATE, TRT_OK, TRT_DENY_PRIVATE},
	        {"172.31.255.255", TRT_DENY_PRIVATE, TRT_OK, TRT_DENY_PRIVATE},
	        {"172.32.0.1", TRT_OK, TRT_OK, TRT_OK},
	        {"192.168.0.1", TRT_DENY_PRIVATE, TRT_OK, TRT_DENY_PRIVATE},
	        {"100.64.0.1", TRT_DENY_PRIVATE, TRT_OK, TRT_DENY_PRIVATE},
	        {"100.128.0.1", TRT_OK, TRT_OK, TRT_OK},
	        {"198.51.100.10", TRT_OK, TRT_OK, TRT_DENY_NONGLOBAL_WKP},
	        {"192.0.2.1", TRT_OK, TRT_OK, TRT_DENY_NONGLOBAL_WKP},
	        {"203.0.113.7", TRT_OK, TRT_OK, TRT_DENY_NONGLOBAL_WKP},
	        {"198.18.0.1", TRT_OK, TRT_OK, TRT_DENY_NONGLOBAL_WKP},
	        {"198.19.255.1", TRT_OK, TRT_OK, TRT_DENY_NONGLOBAL_WKP},
	        {"198.20.0.1", TRT_OK, TRT_OK, TRT_OK},
	        {"192.0.0.8", TRT_OK, TRT_OK, TRT_DENY_NONGLOBAL_WKP},
	        {"192.0.0.9", TRT_OK, TRT_OK, TRT_OK},
	        {"192.0.0.10", TRT_OK, TRT_OK, TRT_OK},
	        {"192.88.99.1", TRT_OK, TRT_OK, TRT_DENY_NONGLOBAL_WKP},
	        {"192.31.196.1", TRT_OK, TRT_OK, TRT_OK},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct tw_addr a = ip(rows[i].ip);

		print_message("%s\n", rows[i].ip);
		assert_int_equal(trt_addr_classify(&a, false, false), rows[i].own);
		assert_int_equal(trt_addr_classify(&a, true, false), rows[i].own_priv);
		assert_int_equal(trt_addr_classify(&a, false, true), rows[i].wkp);
	}
	/* allow_private never opens RFC 1918 behind the well-known prefix. */
	struct tw_addr a = ip("10.0.0.1");
	assert_int_equal(trt_addr_classify(&a, true, true), TRT_DENY_NONGLOBAL_WKP);
	a = ip("2001:db8::1");
	assert_int_equal(trt_addr_classify(&a, false, false), TRT_DENY_RESERVED);
}

static void test_acl(void **state)
{
	struct trt_rule allow[] = {{cidr("2001:db8:12:1::/64"), cidr("198.51.100.0/24")}};
	struct trt_rule deny[] = {{cidr("2001:db8:12:1::66/128"), cidr("0.0.0.0/0")}};
	struct tw_addr self = ip("198.51.100.1");
	struct trt_policy p = {.prefix = cidr("fd64:7472::/96"),
	                       .allow = allow,
	                       .n_allow = 1,
	                       .deny = deny,
	                       .n_deny = 1,
	                       .self = &self,
	                       .n_self = 1};
	struct tw_addr cli = ip("2001:db8:12:1::2"), bad = ip("2001:db8:12:1::66");
	struct tw_addr other = ip("2001:db8:99::2"), srv = ip("198.51.100.10");
	struct tw_addr far = ip("8.8.8.8"), lo = ip("127.0.0.1"), mc = ip("224.0.0.1");

	(void)state;
	assert_int_equal(trt_policy_check(&p, &cli, &srv), TRT_OK);
	assert_int_equal(trt_policy_check(&p, &bad, &srv), TRT_DENY_ACL);
	assert_int_equal(trt_policy_check(&p, &other, &srv), TRT_DENY_ACL);
	assert_int_equal(trt_policy_check(&p, &cli, &far), TRT_DENY_ACL);
	assert_int_equal(trt_policy_check(&p, &cli, &self), TRT_DENY_SELF);
	assert_int_equal(trt_policy_check(&p, &cli, &lo), TRT_DENY_LOOPBACK);
	assert_int_equal(trt_policy_check(&p, &cli, &mc), TRT_DENY_MULTICAST);
	/* Default deny: no rules, nothing relayed. */
	p.n_allow = p.n_deny = 0;
	assert_int_equal(trt_policy_check(&p, &cli, &srv), TRT_DENY_ACL);
	assert_false(trt_acl_permits(&p, &cli, &srv));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(trt_deny_name(TRT_DENY_NONGLOBAL_WKP), "nonglobal_wkp");
	for (int d = 0; d < TRT_DENY__COUNT; d++)
		assert_string_not_equal(trt_deny_name((enum trt_deny)d), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_embed_extract), cmocka_unit_test(test_prefix_check),
	        cmocka_unit_test(test_classify),      cmocka_unit_test(test_acl),
	        cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("proto/trt_addr", tests, NULL, NULL);
}
