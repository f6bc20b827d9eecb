/* relay/registry.c: 5-tuple ownership and quotas. */
#include <errno.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto/stun.h"
#include "relay/registry.h"

static struct alloc_key key(unsigned port)
{
	struct alloc_key k = {.transport = STUN_PROTO_UDP};

	tw_addr_parse("192.0.2.10", (uint16_t)port, &k.client);
	tw_addr_parse("203.0.113.1:3478", 0, &k.local);
	return k;
}

static void test_claim_release(void **state)
{
	struct registry *g = registry_new(0, 0, 1);
	struct alloc_key a = key(1000), b = key(1001);
	unsigned owner = 99;

	(void)state;
	assert_int_equal(registry_claim(g, &a, "alice", 3, true, &owner), 0);
	assert_int_equal(registry_claim(g, &a, "bob", 1, true, &owner), -EEXIST);
	assert_int_equal(owner, 3);
	assert_int_equal(registry_claim(g, &b, "alice", 1, true, &owner), 0);
	assert_int_equal(registry_count(g), 2);
	registry_release(g, &a, "alice");
	assert_int_equal(registry_count(g), 1);
	assert_int_equal(registry_claim(g, &a, "bob", 1, true, &owner), 0);
	/* the same address over TCP is another 5-tuple */
	a.transport = STUN_PROTO_TCP;
	assert_int_equal(registry_claim(g, &a, "bob", 1, true, &owner), 0);
	registry_free(g);
}

static void test_quotas(void **state)
{
	struct registry *g = registry_new(3, 2, 7);
	struct alloc_key k[5];
	unsigned owner;

	(void)state;
	for (unsigned i = 0; i < 5; i++)
		k[i] = key(2000 + i);
	assert_int_equal(registry_claim(g, &k[0], "alice", 0, true, &owner), 0);
	assert_int_equal(registry_claim(g, &k[1], "alice", 0, true, &owner), 0);
	assert_int_equal(registry_claim(g, &k[2], "alice", 0, true, &owner), -EDQUOT);
	assert_int_equal(registry_claim(g, &k[2], "bob", 0, true, &owner), 0);
	assert_int_equal(registry_claim(g, &k[3], "carol", 0, true, &owner), -ENOSPC);
	/* replicated flows: the active enforced the limits already */
	assert_int_equal(registry_claim(g, &k[3], "alice", 0, false, &owner), 0);
	assert_int_equal(registry_count(g), 4);
	registry_release(g, &k[0], "alice");
	registry_release(g, &k[1], "alice");
	registry_release(g, &k[3], "alice");
	assert_int_equal(registry_claim(g, &k[0], "alice", 0, true, &owner), 0);
	registry_free(g);
}

/* A held reservation (RFC 8656 §7.2) is one of the user's quota. */
static void test_holds(void **state)
{
	struct registry *g = registry_new(0, 2, 7);
	struct alloc_key a = key(3000), b = key(3001);
	unsigned owner;

	(void)state;
	assert_int_equal(registry_hold(g, "alice"), 0);
	assert_int_equal(registry_claim(g, &a, "alice", 0, true, &owner), 0);
	assert_int_equal(registry_claim(g, &b, "alice", 0, true, &owner), -EDQUOT);
	assert_int_equal(registry_hold(g, "alice"), -EDQUOT);
	/* holds are not allocations */
	assert_int_equal(registry_count(g), 1);
	registry_unhold(g, "alice");
	assert_int_equal(registry_claim(g, &b, "alice", 0, true, &owner), 0);
	registry_release(g, &a, "alice");
	registry_release(g, &b, "alice");
	/* holds alone fill the quota; an unknown user's unhold is a no-op */
	assert_int_equal(registry_hold(g, "bob"), 0);
	assert_int_equal(registry_hold(g, "bob"), 0);
	assert_int_equal(registry_hold(g, "bob"), -EDQUOT);
	registry_unhold(g, "carol");
	registry_unhold(g, "bob");
	registry_unhold(g, "bob");
	registry_unhold(g, "bob");
	assert_int_equal(registry_hold(g, "bob"), 0);
	registry_free(g);
}

/* A user's own quota (the user database) replaces the global one; 0 = unlimited. */
static void own_quota(void *arg, const char *user, unsigned *quota)
{
	(void)arg;
	if (strcmp(user, "alice") == 0)
		*quota = 1;
	else if (strcmp(user, "bob") == 0)
		*quota = 0;
}

static void test_user_quota(void **state)
{
	struct registry *g = registry_new(0, 2, 5);
	struct alloc_key k[4] = {key(4000), key(4001), key(4002), key(4003)};
	unsigned owner;

	(void)state;
	registry_set_quota_fn(g, own_quota, NULL);
	assert_int_equal(registry_claim(g, &k[0], "alice", 0, true, &owner), 0);
	assert_int_equal(registry_claim(g, &k[1], "alice", 0, true, &owner), -EDQUOT);
	assert_int_equal(registry_hold(g, "alice"), -EDQUOT);
	/* bob: unlimited, over the global 2 */
	for (int i = 1; i < 4; i++)
		assert_int_equal(registry_claim(g, &k[i], "bob", 0, true, &owner), 0);
	registry_release(g, &k[0], "alice");
	for (int i = 1; i < 4; i++)
		registry_release(g, &k[i], "bob");
	/* carol has none of her own: the global 2 */
	assert_int_equal(registry_claim(g, &k[0], "carol", 0, true, &owner), 0);
	assert_int_equal(registry_claim(g, &k[1], "carol", 0, true, &owner), 0);
	assert_int_equal(registry_claim(g, &k[2], "carol", 0, true, &owner), -EDQUOT);
	registry_free(g);
}

/* Enough entries to make the table grow several times; all must stay findable. */
static void test_growth(void **state)
{
	struct registry *g = registry_new(0, 0, 3);
	unsigned owner;

	(void)state;
	for (unsigned i = 0; i < 20000; i++) {
		struct alloc_key k = key(i);

		k.client.ip[3] = (uint8_t)(i >> 8);
		assert_int_equal(registry_claim(g, &k, "u", i % 4, true, &owner), 0);
	}
	for (unsigned i = 0; i < 20000; i += 997) {
		struct alloc_key k = key(i);

		k.client.ip[3] = (uint8_t)(i >> 8);
		assert_int_equal(registry_claim(g, &k, "u", 9, true, &owner), -EEXIST);
		assert_int_equal(owner, i % 4);
	}
	assert_int_equal(registry_count(g), 20000);
	registry_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_claim_release), cmocka_unit_test(test_quotas),
	        cmocka_unit_test(test_holds),         cmocka_unit_test(test_user_quota),
	        cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
