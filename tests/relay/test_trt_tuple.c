/*
 * relay/trt_tuple.c and the translator rows of relay/import_check.c: a
 * mapping goes out as a tuple, through protobuf-c and the checked
 * unpacker, and comes back the same; hostile tuples are refused, one rule
 * per row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/config.h"
#include "relay/import_check.h"
#include "relay/trt_tuple.h"

static const char yaml[] = "listen: [{address: 127.0.0.1}]\n"
                           "relay: {addresses: [127.0.0.1]}\n"
                           "auth: {users: [{name: a, password: b}]}\n"
                           "trt:\n"
                           "  enabled: true\n"
                           "  prefix: fd64:7472::/96\n"
                           "  ipv4_sources: [198.51.100.1]\n"
                           "  allow: [{src: \"2001:db8:12:1::/64\", dst: 198.51.100.0/24}]\n"
                           "  deny: [{src: \"2001:db8:12:1::66/128\", dst: 0.0.0.0/0}]\n";

static struct config cfg;
static struct import_limits lim;

static struct tw_addr addr(const char *s)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse(s, 0, &a), 0);
	return a;
}

static void good(struct trt_tuple *t)
{
	memset(t, 0, sizeof(*t));
	trt_tuple_key(&cfg, &(struct tw_addr){0}, &t->key);
	t->key.client = addr("[2001:db8:12:1::2]:40000");
	t->source = addr("198.51.100.1:50123");
	t->dests[0] = addr("198.51.100.10:7");
	t->dests[1] = addr("198.51.100.11:53");
	t->n_dests = 2;
	t->idle_s = 120;
}

/* Out through protobuf-c and the checked unpacker, as the standby reads it. */
static Twist__Flow *wire(const struct trt_tuple *t)
{
	static struct flow_out o;
	uint8_t buf[1024];
	size_t n;

	static ProtobufCBinaryData more[FLOW_TRT_DESTS + 1];

	memset(&o, 0, sizeof(o));
	trt_tuple_export(t, &o);
	if (t->n_dests > FLOW_TRT_DESTS) {
		/* The exporter never writes more; a hostile peer may. */
		memcpy(more, o.trt_dsts, sizeof(o.trt_dsts));
		more[FLOW_TRT_DESTS] = more[0];
		o.trt.dests = more;
		o.trt.n_dests = FLOW_TRT_DESTS + 1;
	}
	n = twist__flow__get_packed_size(&o.f);
	assert_true(n <= sizeof(buf));
	twist__flow__pack(&o.f, buf);
	return flow_tuple_unpack(buf, n);
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	import_limits_init(&lim, &cfg, NULL, (struct tw_addr[2]){{0}, {0}});
	return 0;
}

static void test_round_trip(void **state)
{
	struct trt_tuple t, back;
	Twist__Flow *f;

	(void)state;
	good(&t);
	assert_true(trt_tuple_is_mapping(&cfg, &t.key));
	f = wire(&t);
	assert_non_null(f);
	assert_true(flow_valid(f));
	assert_int_equal(import_check(f, &lim, NULL), IMPORT_OK);
	assert_int_equal(trt_tuple_parse(f, &back), 0);
	assert_true(tw_addr_eq(&back.key.client, &t.key.client));
	assert_true(tw_addr_eq(&back.key.local, &t.key.local));
	assert_int_equal(back.key.transport, t.key.transport);
	assert_true(tw_addr_eq(&back.source, &t.source));
	assert_int_equal(back.n_dests, 2);
	assert_true(tw_addr_eq(&back.dests[1], &t.dests[1]));
	assert_int_equal(back.idle_s, 120);
	twist__flow__free_unpacked(f, flow_allocator());
}

static void test_delete(void **state)
{
	struct trt_tuple t;
	struct flow_out o;
	Twist__Flow *f;
	uint8_t buf[256];
	size_t n;

	(void)state;
	good(&t);
	memset(&o, 0, sizeof(o));
	flowconv_export_delete(&t.key, &o);
	n = twist__flow__get_packed_size(&o.f);
	twist__flow__pack(&o.f, buf);
	f = flow_tuple_unpack(buf, n);
	assert_non_null(f);
	assert_int_equal(import_check(f, &lim, NULL), IMPORT_OK);
	/* A TURN allocation's key is no mapping. */
	assert_false(trt_tuple_is_mapping(
	        &cfg, &(struct alloc_key){.transport = 17,
	                                  .client = addr("[2001:db8:12:1::2]:1"),
	                                  .local = addr("[2001:db8::1]:3478")}));
	twist__flow__free_unpacked(f, flow_allocator());
}

static void bad_local(struct trt_tuple *t)
{
	t->key.local = addr("[fd64:7472::1]:4630");
}

static void bad_port(struct trt_tuple *t)
{
	t->key.local.port = 4631;
}

static void bad_source(struct trt_tuple *t)
{
	t->source = addr("203.0.113.9:50123");
}

static void source_port0(struct trt_tuple *t)
{
	t->source.port = 0;
}

static void source_v6(struct trt_tuple *t)
{
	t->source = addr("[2001:db8::1]:50123");
}

static void dest_loopback(struct trt_tuple *t)
{
	t->dests[1] = addr("127.0.0.1:53");
}

static void dest_outside(struct trt_tuple *t)
{
	t->dests[0] = addr("192.0.2.1:7");
}

static void denied_client(struct trt_tuple *t)
{
	t->key.client = addr("[2001:db8:12:1::66]:40000");
}

static void dest_v6(struct trt_tuple *t)
{
	t->dests[0] = addr("[2001:db8::1]:7");
}

static void too_many(struct trt_tuple *t)
{
	t->n_dests = FLOW_TRT_DESTS + 1;
}

static void tcp(struct trt_tuple *t)
{
	t->key.transport = 6;
}

static void long_idle(struct trt_tuple *t)
{
	t->idle_s = UINT32_MAX;
}

static void test_hostile(void **state)
{
	static const struct {
		const char *name;
		void (*mutate)(struct trt_tuple *t);
		int want;
		unsigned clamped;
	} rows[] = {
	        {"another local address", bad_local, IMPORT_TRT_IDENTITY, 0},
	        {"another local port", bad_port, IMPORT_TRT_IDENTITY, 0},
	        {"a source not ours", bad_source, IMPORT_TRT_SOURCE, 0},
	        {"a source without its port", source_port0, IMPORT_TRT_SOURCE, 0},
	        {"an IPv6 source", source_v6, IMPORT_MALFORMED, 0},
	        {"a loopback destination", dest_loopback, IMPORT_TRT_DENIED, 0},
	        {"a destination the rules refuse", dest_outside, IMPORT_TRT_DENIED, 0},
	        {"a denied client", denied_client, IMPORT_TRT_DENIED, 0},
	        {"an IPv6 destination", dest_v6, IMPORT_MALFORMED, 0},
	        {"17 destinations", too_many, IMPORT_MALFORMED, 0},
	        {"TCP", tcp, IMPORT_MALFORMED, 0},
	        {"an idle time past ours", long_idle, IMPORT_OK, 1},
	};
	struct trt_tuple t;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		Twist__Flow *f;
		unsigned clamped = 0;
		int got;

		good(&t);
		for (unsigned d = 2; d < FLOW_TRT_DESTS; d++)
			t.dests[d] = addr("198.51.100.12:9");
		rows[i].mutate(&t);
		f = wire(&t);
		assert_non_null(f);
		got = import_check(f, &lim, &clamped);
		if (got != rows[i].want || clamped != rows[i].clamped)
			fail_msg("%s: %s with %u clamped, want %s", rows[i].name,
			         import_reason_name((enum import_reason)got), clamped,
			         import_reason_name((enum import_reason)rows[i].want));
		if (got == IMPORT_OK)
			assert_int_equal(f->lifetime, cfg.trt_udp_idle_timeout);
		twist__flow__free_unpacked(f, flow_allocator());
	}
}

/* An allocation's tuple that claims the prefix, and a node with the translator off. */
static void test_kinds(void **state)
{
	struct import_limits off = lim;
	struct trt_tuple t;
	Twist__Flow *f;

	(void)state;
	static struct flow_out o;
	uint8_t rel[FLOW_ADDR_MAX];
	ProtobufCBinaryData r;

	good(&t);
	f = wire(&t);
	off.trt = false;
	assert_int_equal(import_check(f, &off, NULL), IMPORT_TRT_OFF);
	twist__flow__free_unpacked(f, flow_allocator());
	/* A well-formed allocation whose listener address is inside the prefix. */
	memset(&o, 0, sizeof(o));
	flowconv_export_identity(&t.key, &o);
	r.data = rel;
	r.len = flow_addr_put(
	        &(struct tw_addr){.family = TW_AF_INET, .port = 50000, .ip = {127, 0, 0, 1}}, rel);
	o.f.relayed = &r;
	o.f.n_relayed = 1;
	o.f.user = (char *)"a";
	o.f.realm = (char *)"";
	assert_true(flow_valid(&o.f));
	assert_int_equal(import_check(&o.f, &lim, NULL), IMPORT_TRT_IDENTITY);
}

static int teardown(void **state)
{
	(void)state;
	config_clear(&cfg);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_delete),
	        cmocka_unit_test(test_hostile),
	        cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests_name("relay/trt_tuple", tests, setup, teardown);
}
