/*
 * DESIGN decision 3: an IPv4 allocation with one permission and one channel
 * in <= 64 bytes; issue 10: an IPv4 TWIST flow in <= 96 bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto/twist.h"
#include "tests/syncd/util.h"

static void test_ipv4_one_perm_one_chan(void **state)
{
	struct util_flow u;
	size_t n;

	(void)state;
	util_flow_init(&u, 1234, false, 1, 1, 600);
	u.f.lifetime = 600;
	u.perm.lifetime = 300;
	u.chan.lifetime = 600;
	u.chan.number = 0x7fff;    /* the largest channel number */
	u.f.client.data[4] = 0xff; /* the longest ports */
	u.f.relayed[0].data[4] = 0xff;
	n = twist__flow__get_packed_size(&u.f);
	print_message("IPv4 flow, 1 permission, 1 channel, user \"demo\": %zu bytes\n", n);
	assert_true(flow_valid(&u.f));
	assert_true(n <= 64);
}

static void test_ipv6_fits_a_batch(void **state)
{
	struct util_flow u;

	(void)state;
	util_flow_init(&u, 1, true, 1, 1, 600);
	assert_true(flow_valid(&u.f));
	print_message("IPv6 flow, 1 permission, 1 channel: %zu bytes\n",
	              twist__flow__get_packed_size(&u.f));
	assert_true(twist__flow__get_packed_size(&u.f) <= 128);
}

/* The costliest IPv4 TWIST tuples: every optional field set, the longest values. */
struct twist_case {
	const char *name;
	uint32_t type, encap, spi;
	const char *user;
};

static size_t twist_size(const struct twist_case *c)
{
	static const uint8_t peer[6] = {198, 51, 100, 10, 0xff, 0xff};
	static const uint8_t want[6] = {198, 51, 100, 10, 0, 0};
	struct util_flow u;
	Twist__Twist t;
	size_t n;

	util_flow_init(&u, 1234, false, 0, 0, 600);
	u.f.client.data[4] = 0xff; /* the longest ports */
	u.f.relayed[0].data[4] = 0xff;
	u.f.lifetime = 3600;
	u.f.user = (char *)c->user;
	twist__twist__init(&t);
	t.type = c->type;
	t.transport = 6;
	t.peer.data = (uint8_t *)peer;
	t.peer.len = sizeof(peer);
	if (c->type == TWIST_TYPE_LISTEN) {
		t.want.data = (uint8_t *)want;
		t.want.len = sizeof(want);
		/* The cookie names the relayed port in its first two bytes. */
		t.cookie = (uint64_t)u.f.relayed[0].data[4] << 56 |
		           (uint64_t)u.f.relayed[0].data[5] << 48 | 0xffffffffffffull;
		t.client_spoke = 1;
	}
	t.encap_mode = c->encap;
	t.spi = c->spi;
	t.keepalive = TWIST_KA_BINDING;
	u.f.twist = &t;
	assert_true(flow_valid(&u.f));
	n = twist__flow__get_packed_size(&u.f);
	print_message("IPv4 TWIST flow, %s, user \"%s\": %zu bytes\n", c->name, c->user, n);
	return n;
}

static void test_twist_ipv4(void **state)
{
	static const struct twist_case cases[] = {
	        {"listen, latched, transport mode", TWIST_TYPE_LISTEN, TWIST_ENCAP_TRANSPORT, 0,
	         "demo"},
	        {"listen, latched, tunnel mode", TWIST_TYPE_LISTEN, TWIST_ENCAP_TUNNEL, 0xffffffffu,
	         "demo"},
	        {"connect, tunnel mode", TWIST_TYPE_CONNECT, TWIST_ENCAP_TUNNEL, 0xffffffffu,
	         "demo"},
	        /* A REST username (expiry:user) leaves room for a 20-byte name. */
	        {"listen, tunnel mode, REST user", TWIST_TYPE_LISTEN, TWIST_ENCAP_TUNNEL,
	         0xffffffffu, "1798761600:alice"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_true(twist_size(&cases[i]) <= 96);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ipv4_one_perm_one_chan),
	        cmocka_unit_test(test_ipv6_fits_a_batch),
	        cmocka_unit_test(test_twist_ipv4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
