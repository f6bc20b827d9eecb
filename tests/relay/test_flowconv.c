/* relay/flowconv.c: allocation -> tuple -> allocation, and the 64-byte target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/flowconv.h"

#define NOW 5000000u

static void addr(const char *s, struct tw_addr *a)
{
	assert_int_equal(tw_addr_parse(s, 0, a), 0);
}

/* An IPv4 allocation with one permission and one channel (DESIGN decision 3). */
static struct allocation *sample(void)
{
	struct allocation *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	a->flow.key.transport = STUN_PROTO_UDP;
	addr("203.0.113.10:40000", &a->flow.key.client);
	addr("203.0.113.1:3478", &a->flow.key.local);
	addr("198.51.100.1:50002", &a->rs[0].addr);
	a->n_rs = 1;
	a->expires = NOW + 599400;
	assert_int_equal(alloc_set_user(a, "demo"), 0);
	assert_int_equal(alloc_reserve(a, 1, 1), 0);
	addr("198.51.100.10", &a->perms[0].ip);
	a->perms[0].expires = NOW + 300000;
	a->n_perms = 1;
	addr("198.51.100.10:5000", &a->chans[0].peer);
	a->chans[0].num = 0x4001;
	a->chans[0].cooling = false;
	a->chans[0].expires = NOW + 600000;
	a->n_chans = 1;
	return a;
}

static void drop(struct allocation *a)
{
	free(a->user);
	free(a->perms);
	free(a->chans);
	free(a);
}

static void test_size_target(void **state)
{
	struct allocation *a = sample();
	struct flow_out *o = calloc(1, sizeof(*o));

	(void)state;
	flowconv_export(a, NOW, o);
	assert_true(twist__flow__get_packed_size(&o->f) <= 64);
	print_message("IPv4 allocation, 1 permission, 1 channel: %zu bytes\n",
	              twist__flow__get_packed_size(&o->f));
	free(o);
	drop(a);
}

static void test_round_trip(void **state)
{
	struct allocation *a = sample(), *b = calloc(1, sizeof(*b));
	struct flow_out *o = calloc(1, sizeof(*o));
	Twist__Flow *flows[1];
	Twist__Local m, *back;
	uint8_t buf[512];
	size_t len;
	struct alloc_key k;

	(void)state;
	flowconv_export(a, NOW, o);
	twist__local__init(&m);
	flows[0] = &o->f;
	m.flows = flows;
	m.n_flows = 1;
	len = twist__local__pack(&m, buf);
	back = flow_local_unpack(buf, len);
	assert_non_null(back);
	assert_int_equal(back->n_flows, 1);
	assert_int_equal(flowconv_key(back->flows[0], &k), 0);
	assert_true(alloc_key_eq(&k, &a->flow.key));
	/* Another node, another clock: lifetimes arrive as time remaining. */
	assert_int_equal(flowconv_apply(b, back->flows[0], 1000), 0);
	assert_string_equal(b->user, "demo");
	assert_int_equal(b->expires, 1000 + 600000); /* 599.4 s rounds up */
	assert_int_equal(b->n_perms, 1);
	assert_true(tw_addr_ip_eq(&b->perms[0].ip, &a->perms[0].ip));
	assert_int_equal(b->perms[0].expires, 1000 + 300000);
	assert_int_equal(b->n_chans, 1);
	assert_int_equal(b->chans[0].num, 0x4001);
	assert_true(tw_addr_eq(&b->chans[0].peer, &a->chans[0].peer));
	assert_false(b->chans[0].cooling);
	twist__local__free_unpacked(back, flow_allocator());
	free(o);
	drop(a);
	drop(b);
}

static void test_expired_and_cooling(void **state)
{
	struct allocation *a = sample(), *b = calloc(1, sizeof(*b));
	struct flow_out *o = calloc(1, sizeof(*o));

	(void)state;
	a->perms[0].expires = NOW; /* expired permissions are not sent */
	a->chans[0].cooling = true;
	flowconv_export(a, NOW, o);
	assert_int_equal(o->f.n_perms, 0);
	assert_int_equal(o->f.n_chans, 1);
	assert_int_equal(o->f.chans[0]->lifetime, 0);
	assert_int_equal(flowconv_apply(b, &o->f, 7), 0);
	assert_true(b->chans[0].cooling);
	free(o);
	drop(a);
	drop(b);
}

static void test_delete_and_invalid(void **state)
{
	struct allocation *a = sample();
	struct flow_out *o = calloc(1, sizeof(*o));
	Twist__Flow *flows[1] = {&o->f};
	Twist__Local m;
	uint8_t buf[512];
	size_t len;

	(void)state;
	flowconv_export_delete(&a->flow.key, o);
	assert_true(flow_valid(&o->f));
	/* a tuple whose client address is 5 bytes never reaches the relay */
	flowconv_export(a, NOW, o);
	o->f.client.len = 5;
	twist__local__init(&m);
	m.flows = flows;
	m.n_flows = 1;
	len = twist__local__pack(&m, buf);
	assert_null(flow_local_unpack(buf, len));
	/* nor a channel number past 0x7FFF */
	flowconv_export(a, NOW, o);
	o->chan[0].number = 0x8000;
	len = twist__local__pack(&m, buf);
	assert_null(flow_local_unpack(buf, len));
	free(o);
	drop(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_size_target),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_expired_and_cooling),
	        cmocka_unit_test(test_delete_and_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
