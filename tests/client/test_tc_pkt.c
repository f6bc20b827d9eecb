/*
 * client/tc_pkt.c: ports and checksums rewritten both ways (checked with
 * twist_l4_csum_ok and twist_ip_parse, not with the code under test), the
 * IPv4/IPv6 header swap of --nat64 and --map, and the MSS clamp.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client/tc_pkt.h"
#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/twist.h"

static struct tw_addr ip(const char *s, uint16_t port)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse_ip(s, &a), 0);
	a.port = port;
	return a;
}

/* A UDP datagram src -> dst with a right checksum. */
static size_t udp_seg(uint8_t *p, const struct tw_addr *src, const struct tw_addr *dst,
                      const char *payload)
{
	size_t n = strlen(payload), len = TWIST_UDP_HDR + n;

	memset(p, 0, TWIST_UDP_HDR);
	put_u16(p, src->port);
	put_u16(p + 2, dst->port);
	put_u16(p + 4, (uint16_t)len);
	memcpy(p + TWIST_UDP_HDR, payload, n);
	assert_int_equal(twist_l4_csum_set(src, dst, STUN_PROTO_UDP, p, len), 0);
	return len;
}

/* A TCP segment (flags given) with the options NOP NOP MSS(mss) EOL EOL and n bytes of data. */
static size_t tcp_seg(uint8_t *p, const struct tw_addr *src, const struct tw_addr *dst,
                      uint8_t flags, uint16_t mss, size_t n)
{
	size_t len = 28 + n;

	memset(p, 0, len);
	put_u16(p, src->port);
	put_u16(p + 2, dst->port);
	p[12] = 7 << 4;
	p[13] = flags;
	put_u16(p + 14, 64240);
	p[20] = 1;
	p[21] = 1;
	p[22] = 2;
	p[23] = 4;
	put_u16(p + 24, mss);
	assert_int_equal(twist_l4_csum_set(src, dst, STUN_PROTO_TCP, p, len), 0);
	return len;
}

static uint16_t seg_mss(const uint8_t *p)
{
	return (uint16_t)(p[24] << 8 | p[25]);
}

static struct tc_map map4(void)
{
	struct tc_map m = {
	        .local = ip("192.0.2.2", 40000),
	        .remote = ip("198.51.100.2", 7),
	        .relayed = ip("203.0.113.200", 50123),
	        .peer = ip("198.51.100.2", 7),
	};

	return m;
}

static void test_udp_out(void **state)
{
	struct tc_map m = map4();
	uint8_t p[256];
	size_t len = udp_seg(p, &m.local, &m.remote, "hello");

	(void)state;
	assert_int_equal(tc_pkt_out(&m, STUN_PROTO_UDP, p, len), 0);
	assert_int_equal(p[0] << 8 | p[1], 50123);
	assert_int_equal(p[2] << 8 | p[3], 7);
	assert_true(twist_l4_csum_ok(&m.relayed, &m.peer, STUN_PROTO_UDP, p, len));
	assert_false(twist_l4_csum_ok(&m.local, &m.remote, STUN_PROTO_UDP, p, len));
	assert_memory_equal(p + 8, "hello", 5);
	/* a UDP length that lies */
	put_u16(p + 4, 99);
	assert_int_equal(tc_pkt_out(&m, STUN_PROTO_UDP, p, len), -EBADMSG);
	assert_int_equal(tc_pkt_out(&m, STUN_PROTO_UDP, p, 3), -EBADMSG);
}

static void test_udp_in(void **state)
{
	struct tc_map m = map4();
	uint8_t seg[256], out[512];
	struct twist_ip pi;
	size_t len = udp_seg(seg, &m.peer, &m.relayed, "world!");
	int n;

	(void)state;
	n = tc_pkt_in(&m, STUN_PROTO_UDP, seg, len, 0, out, sizeof(out));
	assert_int_equal(n, 20 + (int)len);
	assert_int_equal(twist_ip_parse(out, (size_t)n, &pi), 0);
	assert_int_equal(pi.proto, STUN_PROTO_UDP);
	assert_true(tw_addr_eq(&pi.src, &m.remote));
	assert_true(tw_addr_eq(&pi.dst, &m.local));
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_UDP, pi.seg, pi.seg_len));
	assert_memory_equal(pi.seg + 8, "world!", 6);
	/* damaged between peer and relay: caught, not re-checksummed */
	seg[9] ^= 1;
	assert_int_equal(tc_pkt_in(&m, STUN_PROTO_UDP, seg, len, 0, out, sizeof(out)), -EBADMSG);
	/* not from the peer's port to the relayed port */
	len = udp_seg(seg, &m.peer, &m.local, "x");
	assert_int_equal(tc_pkt_in(&m, STUN_PROTO_UDP, seg, len, 0, out, sizeof(out)), -EBADMSG);
	len = udp_seg(seg, &m.peer, &m.relayed, "x");
	assert_int_equal(tc_pkt_in(&m, STUN_PROTO_UDP, seg, len, 0, out, 40), -ENOSPC);
}

static void test_tcp_both_ways(void **state)
{
	struct tc_map m = map4();
	uint8_t seg[2048], out[2100];
	struct twist_ip pi;
	size_t len;
	int n;

	(void)state;
	m.local.port = 51000;
	m.remote.port = m.peer.port = 8080;
	len = tcp_seg(seg, &m.local, &m.remote, 0x18, 0, 1000);
	assert_int_equal(tc_pkt_out(&m, STUN_PROTO_TCP, seg, len), 0);
	assert_true(twist_l4_csum_ok(&m.relayed, &m.peer, STUN_PROTO_TCP, seg, len));
	len = tcp_seg(seg, &m.peer, &m.relayed, 0x12, 1460, 0);
	n = tc_pkt_in(&m, STUN_PROTO_TCP, seg, len, tc_mss_for(1400, TW_AF_INET, TW_AF_INET), out,
	              sizeof(out));
	assert_true(n > 0);
	assert_int_equal(twist_ip_parse(out, (size_t)n, &pi), 0);
	assert_int_equal(pi.src.port, 8080);
	assert_int_equal(pi.dst.port, 51000);
	assert_int_equal(seg_mss(pi.seg), 1360);
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_TCP, pi.seg, pi.seg_len));
}

/* --nat64: the application speaks IPv6 to 64:ff9b::198.51.100.2, the peer is IPv4. */
static void test_nat64(void **state)
{
	struct tc_xlate x = {0};
	struct tw_addr dst = ip("64:ff9b::c633:6402", 80), peer;
	struct tc_map m;
	uint8_t seg[256], out[512];
	struct twist_ip pi;
	size_t len;
	int n;

	(void)state;
	assert_int_equal(tw_cidr_parse("64:ff9b::/96", &x.nat64_pfx), 0);
	x.nat64 = true;
	struct tw_addr want = ip("198.51.100.2", 80);

	tc_xlate_peer(&x, &dst, &peer);
	assert_true(tw_addr_eq(&peer, &want));
	m.local = ip("2001:db8:1::3", 45000);
	m.remote = dst;
	m.relayed = ip("203.0.113.200", 50200);
	m.peer = peer;
	len = tcp_seg(seg, &m.local, &m.remote, 0x02, 1340, 0);
	assert_int_equal(tc_pkt_out(&m, STUN_PROTO_TCP, seg, len), 0);
	assert_true(twist_l4_csum_ok(&m.relayed, &m.peer, STUN_PROTO_TCP, seg, len));
	len = tcp_seg(seg, &m.peer, &m.relayed, 0x12, 1460, 0);
	n = tc_pkt_in(&m, STUN_PROTO_TCP, seg, len, tc_mss_for(1400, TW_AF_INET6, TW_AF_INET), out,
	              sizeof(out));
	assert_int_equal(n, 40 + (int)len);
	assert_int_equal(out[0] >> 4, 6);
	assert_int_equal(twist_ip_parse(out, (size_t)n, &pi), 0);
	assert_true(tw_addr_eq(&pi.src, &dst));
	assert_true(tw_addr_eq(&pi.dst, &m.local));
	assert_int_equal(seg_mss(pi.seg), 1340);
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_TCP, pi.seg, pi.seg_len));
	/* outside the prefix: unchanged */
	dst = ip("2001:db8:3::2", 80);
	tc_xlate_peer(&x, &dst, &peer);
	assert_true(tw_addr_eq(&peer, &dst));
}

/* --map: the application speaks IPv4 to 192.0.2.66, the peer is IPv6. */
static void test_map(void **state)
{
	struct tc_xlate x = {0};
	struct tw_addr dst = ip("192.0.2.66", 8081), peer;
	struct tc_map m;
	uint8_t seg[256], out[512];
	struct twist_ip pi;
	size_t len;
	int n;

	(void)state;
	x.map[0].local = ip("192.0.2.66", 0);
	x.map[0].peer = ip("2001:db8:3::2", 0);
	x.nmap = 1;
	struct tw_addr want = ip("2001:db8:3::2", 8081);

	tc_xlate_peer(&x, &dst, &peer);
	assert_true(tw_addr_eq(&peer, &want));
	m.local = ip("192.0.2.2", 45001);
	m.remote = dst;
	m.relayed = ip("2001:db8:4::200", 50300);
	m.peer = peer;
	/* The app's SYN says 1360 (IPv4 on MTU 1400): the IPv6 side needs 1340. */
	len = tcp_seg(seg, &m.local, &m.remote, 0x02, 1360, 0);
	assert_int_equal(tc_mss_clamp(seg, len, tc_mss_for(1400, TW_AF_INET, TW_AF_INET6)), 1);
	assert_int_equal(tc_pkt_out(&m, STUN_PROTO_TCP, seg, len), 0);
	assert_int_equal(seg_mss(seg), 1340);
	assert_true(twist_l4_csum_ok(&m.relayed, &m.peer, STUN_PROTO_TCP, seg, len));
	len = udp_seg(seg, &m.peer, &m.relayed, "v6 answer");
	n = tc_pkt_in(&m, STUN_PROTO_UDP, seg, len, 0, out, sizeof(out));
	assert_int_equal(n, 20 + (int)len);
	assert_int_equal(out[0] >> 4, 4);
	assert_int_equal(twist_ip_parse(out, (size_t)n, &pi), 0);
	assert_true(tw_addr_eq(&pi.src, &dst));
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_UDP, pi.seg, pi.seg_len));
}

static void test_mss_clamp(void **state)
{
	struct tw_addr a = ip("192.0.2.2", 1), b = ip("198.51.100.2", 2);
	uint8_t seg[128];
	size_t len;

	(void)state;
	assert_int_equal(tc_mss_for(1400, TW_AF_INET, TW_AF_INET), 1360);
	assert_int_equal(tc_mss_for(1400, TW_AF_INET, TW_AF_INET6), 1340);
	assert_int_equal(tc_mss_for(1400, TW_AF_INET6, TW_AF_INET6), 1340);
	len = tcp_seg(seg, &a, &b, 0x02, 1460, 0);
	assert_int_equal(tc_mss_clamp(seg, len, 1340), 1);
	assert_int_equal(seg_mss(seg), 1340);
	assert_int_equal(tc_mss_clamp(seg, len, 1340), 0);
	len = tcp_seg(seg, &a, &b, 0x02, 1200, 0);
	assert_int_equal(tc_mss_clamp(seg, len, 1340), 0);
	assert_int_equal(seg_mss(seg), 1200);
	/* not a SYN: the option is not read */
	len = tcp_seg(seg, &a, &b, 0x10, 1460, 0);
	assert_int_equal(tc_mss_clamp(seg, len, 1340), 0);
	/* an option whose length runs past the header */
	len = tcp_seg(seg, &a, &b, 0x02, 1460, 0);
	seg[23] = 9;
	assert_int_equal(tc_mss_clamp(seg, len, 1340), -EBADMSG);
	/* an option length of 1 */
	seg[23] = 1;
	assert_int_equal(tc_mss_clamp(seg, len, 1340), -EBADMSG);
	/* a data offset beyond the segment */
	seg[12] = 15 << 4;
	assert_int_equal(tc_mss_clamp(seg, len, 1340), -EBADMSG);
	assert_int_equal(tc_mss_clamp(seg, 10, 1340), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_udp_out),       cmocka_unit_test(test_udp_in),
	        cmocka_unit_test(test_tcp_both_ways), cmocka_unit_test(test_nat64),
	        cmocka_unit_test(test_map),           cmocka_unit_test(test_mss_clamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
