/* DESIGN decision 3: an IPv4 allocation with one permission and one channel in <= 64 bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ipv4_one_perm_one_chan),
	        cmocka_unit_test(test_ipv6_fits_a_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
