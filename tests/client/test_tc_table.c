/* client/tc_table.c: the 5-tuple table and the bounded queue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/tc_table.h"
#include "proto/stun.h"

static struct tc_key key(uint8_t proto, const char *local, uint16_t lport, const char *remote,
                         uint16_t rport)
{
	struct tc_key k;

	memset(&k, 0, sizeof(k));
	k.proto = proto;
	assert_int_equal(tw_addr_parse_ip(local, &k.local), 0);
	assert_int_equal(tw_addr_parse_ip(remote, &k.remote), 0);
	k.local.port = lport;
	k.remote.port = rport;
	return k;
}

static void test_table(void **state)
{
	struct tc_table t;
	struct tc_node n[40];
	struct tc_key k;

	(void)state;
	memset(n, 0, sizeof(n));
	assert_int_equal(tc_table_init(&t, 32, 7), 0);
	for (int i = 0; i < 32; i++) {
		n[i].key =
		        key(STUN_PROTO_TCP, "192.0.2.2", (uint16_t)(40000 + i), "198.51.100.2", 80);
		assert_int_equal(tc_table_add(&t, &n[i]), 0);
	}
	n[32].key = n[5].key;
	assert_int_equal(tc_table_add(&t, &n[32]), -EEXIST);
	n[33].key = key(STUN_PROTO_TCP, "192.0.2.2", 1, "198.51.100.2", 80);
	assert_int_equal(tc_table_add(&t, &n[33]), -ENOSPC);
	/* every field of the 5-tuple counts */
	k = n[7].key;
	assert_ptr_equal(tc_table_find(&t, &k), &n[7]);
	k.proto = STUN_PROTO_UDP;
	assert_null(tc_table_find(&t, &k));
	k = n[7].key;
	k.remote.port = 81;
	assert_null(tc_table_find(&t, &k));
	k = key(STUN_PROTO_TCP, "2001:db8:1::2", 40007, "198.51.100.2", 80);
	assert_null(tc_table_find(&t, &k));
	tc_table_del(&t, &n[7]);
	tc_table_del(&t, &n[7]); /* twice is harmless */
	assert_null(tc_table_find(&t, &n[7].key));
	assert_int_equal(t.count, 31);
	assert_int_equal(tc_table_add(&t, &n[33]), 0);
	assert_ptr_equal(tc_table_find(&t, &n[33].key), &n[33]);
	for (int i = 0; i < 32; i++)
		if (i != 7)
			assert_ptr_equal(tc_table_find(&t, &n[i].key), &n[i]);
	tc_table_fini(&t);
}

static void test_queue(void **state)
{
	struct tc_queue q;
	struct tc_qpkt *e;
	uint8_t buf[3000];

	(void)state;
	tc_queue_init(&q, 4, 5000);
	assert_null(tc_queue_pop(&q));
	for (int i = 0; i < 4; i++) {
		memset(buf, i, 10);
		assert_int_equal(tc_queue_push(&q, buf, 10), 0);
	}
	assert_int_equal(tc_queue_push(&q, buf, 10), -ENOBUFS);
	for (int i = 0; i < 4; i++) {
		e = tc_queue_pop(&q);
		assert_non_null(e);
		assert_int_equal(e->len, 10);
		assert_int_equal(e->data[0], i);
		free(e);
	}
	assert_null(tc_queue_pop(&q));
	/* the byte cap */
	assert_int_equal(tc_queue_push(&q, buf, 3000), 0);
	assert_int_equal(tc_queue_push(&q, buf, 2001), -ENOBUFS);
	assert_int_equal(tc_queue_push(&q, buf, 2000), 0);
	assert_int_equal(q.bytes, 5000);
	tc_queue_clear(&q);
	assert_int_equal(q.n, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(tc_queue_push(&q, buf, 1), 0);
	tc_queue_clear(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
