/* proto/trt_pkt.c: the translator's RST, ICMPv6 errors and rebuilt quotes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/trt_pkt.h"
#include "proto/twist.h"

static const struct tw_addr dummy = {
        .family = TW_AF_INET6, .port = 80, .ip = {0xfd, 0x64, 0x74, 0x72, [12] = 198, 51, 100, 10}};
static const struct tw_addr client = {.family = TW_AF_INET6,
                                      .port = 40000,
                                      .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0x12, 0, 1, [15] = 2}};

static void test_rst(void **state)
{
	uint8_t p[TRT_RST6_LEN + 4];
	struct twist_ip ip;
	struct twist_seg s;

	(void)state;
	assert_int_equal(trt_pkt_rst6(p, TRT_RST6_LEN - 1, &dummy, &client, 7), -ENOSPC);
	assert_int_equal(trt_pkt_rst6(p, sizeof(p), &dummy, &client, 0xffffffff), TRT_RST6_LEN);
	assert_int_equal(twist_ip_parse(p, TRT_RST6_LEN, &ip), 0);
	assert_true(tw_addr_eq(&ip.src, &dummy));
	assert_true(tw_addr_eq(&ip.dst, &client));
	assert_int_equal(twist_seg_parse(ip.seg, ip.seg_len, STUN_PROTO_TCP, &s), 0);
	assert_true(s.rst && s.ack && !s.syn && !s.fin);
	assert_int_equal(peek_u32(ip.seg + 4), 0);
	assert_int_equal(peek_u32(ip.seg + 8), 0); /* SYN's seq + 1, wrapped */
	assert_true(twist_l4_csum_ok(&dummy, &client, STUN_PROTO_TCP, ip.seg, ip.seg_len));
}

static void test_icmp_map(void **state)
{
	static const struct {
		uint8_t t4, c4;
		uint32_t mtu4;
		int rc;
		uint8_t t6, c6;
		uint32_t param;
		enum trt_icmp_kind kind;
	} rows[] = {
	        {3, 3, 0, 0, 1, 4, 0, TRT_ICMP_PORT_UNREACH},
	        {3, 1, 0, 0, 1, 3, 0, TRT_ICMP_HOST_UNREACH},
	        {3, 0, 0, 0, 1, 0, 0, TRT_ICMP_HOST_UNREACH},
	        {3, 13, 0, 0, 1, 1, 0, TRT_ICMP_HOST_UNREACH},
	        {3, 4, 1400, 0, 2, 0, 1420, TRT_ICMP_TOO_BIG},
	        {3, 4, 576, 0, 2, 0, 1280, TRT_ICMP_TOO_BIG},
	        {3, 4, 0, 0, 2, 0, 1280, TRT_ICMP_TOO_BIG},
	        {3, 2, 0, -ENOENT, 0, 0, 0, 0},
	        {11, 0, 0, -ENOENT, 0, 0, 0, 0},
	        {0, 0, 0, -ENOENT, 0, 0, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct trt_icmp6 e;

		print_message("%u/%u\n", rows[i].t4, rows[i].c4);
		assert_int_equal(trt_pkt_icmp_map(rows[i].t4, rows[i].c4, rows[i].mtu4, &e),
		                 rows[i].rc);
		if (rows[i].rc < 0)
			continue;
		assert_int_equal(e.type, rows[i].t6);
		assert_int_equal(e.code, rows[i].c6);
		assert_int_equal(e.param, rows[i].param);
		assert_int_equal(e.kind, rows[i].kind);
	}
	assert_string_equal(trt_icmp_kind_name(TRT_ICMP_TOO_BIG), "packet_too_big");
}

static void test_icmp6_quote(void **state)
{
	static uint8_t payload[1472], q[2000], p[2000];
	struct tw_addr from = dummy, to = client;
	struct trt_icmp6 e;
	int qn, n;

	(void)state;
	memset(payload, 0xab, sizeof(payload));
	qn = trt_pkt_udp6(q, sizeof(q), &client, &dummy, payload, sizeof(payload));
	assert_int_equal(qn, 40 + 8 + 1472);
	assert_true(twist_l4_csum_ok(&client, &dummy, STUN_PROTO_UDP, q + 40, 8 + 1472));
	assert_int_equal(peek_u16(q + 4), 8 + 1472); /* IPv6 payload length */
	/* A cut quote keeps the full length fields. */
	assert_int_equal(trt_pkt_udp6(q, 100, &client, &dummy, payload, sizeof(payload)), 100);
	assert_int_equal(peek_u16(q + 40 + 4), 8 + 1472);
	qn = trt_pkt_udp6(q, sizeof(q), &client, &dummy, payload, sizeof(payload));

	assert_int_equal(trt_pkt_icmp_map(3, 3, 0, &e), 0);
	n = trt_pkt_icmp6(p, sizeof(p), &from, &to, &e, q, (size_t)qn);
	assert_int_equal(n, TRT_MIN_MTU6);
	assert_int_equal(p[6], 58);
	assert_int_equal(p[40], 1);
	assert_int_equal(p[41], 4);
	assert_memory_equal(p + 48, q, TRT_MIN_MTU6 - 48);
	from.port = to.port = 0;
	/* Summed with its own checksum, the message sums to zero. */
	assert_int_equal(twist_l4_csum(&from, &to, 58, p + 40, (size_t)n - 40), 0);
	/* A short quote is sent whole; a tiny buffer is refused. */
	assert_int_equal(trt_pkt_icmp6(p, sizeof(p), &dummy, &client, &e, q, 60), 40 + 8 + 60);
	assert_int_equal(trt_pkt_icmp6(p, 47, &dummy, &client, &e, q, 60), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rst),
	        cmocka_unit_test(test_icmp_map),
	        cmocka_unit_test(test_icmp6_quote),
	};

	return cmocka_run_group_tests_name("proto/trt_pkt", tests, NULL, NULL);
}
