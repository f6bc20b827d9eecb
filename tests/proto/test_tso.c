/*
 * proto/tso.c and proto/tso_gather.c: a TCP super-packet cut into the
 * segments its sender's TCP would have sent, and segments gathered back
 * into one TSO write. The expected headers are built here field by field.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/tso.h"
#include "proto/tso_gather.h"
#include "proto/twist.h"

#define PAY   3000
#define MSS   1400
#define SEQ   0xfffff000u /* wraps inside the packet */
#define IP_ID 0xfffe      /* wraps too */
#define F_FIN 0x01
#define F_PSH 0x08
#define F_ACK 0x10
#define F_CWR 0x80

static uint8_t pkt[40 + 20 + PAY], orig[sizeof(pkt)];

/* 203.0.113.7:40000 -> 198.51.100.2:80 (or 2001:db8::7 -> 2001:db8::2). */
static size_t build(int v6, uint8_t flags)
{
	size_t iphl = v6 ? 40 : 20, len = iphl + 20 + PAY;

	memset(pkt, 0, sizeof(pkt));
	if (v6) {
		pkt[0] = 0x60;
		put_u16(pkt + 4, 20 + PAY);
		pkt[6] = STUN_PROTO_TCP;
		pkt[7] = 64;
		pkt[8] = 0x20, pkt[9] = 0x01, pkt[10] = 0x0d, pkt[11] = 0xb8, pkt[23] = 7;
		pkt[24] = 0x20, pkt[25] = 0x01, pkt[26] = 0x0d, pkt[27] = 0xb8, pkt[39] = 2;
	} else {
		pkt[0] = 0x45;
		put_u16(pkt + 2, (uint16_t)len);
		put_u16(pkt + 4, IP_ID);
		pkt[8] = 64;
		pkt[9] = STUN_PROTO_TCP;
		pkt[12] = 203, pkt[13] = 0, pkt[14] = 113, pkt[15] = 7;
		pkt[16] = 198, pkt[17] = 51, pkt[18] = 100, pkt[19] = 2;
	}
	put_u16(pkt + iphl, 40000);
	put_u16(pkt + iphl + 2, 80);
	put_u32(pkt + iphl + 4, SEQ);
	put_u32(pkt + iphl + 8, 0x01020304);
	pkt[iphl + 12] = 5 << 4;
	pkt[iphl + 13] = flags;
	put_u16(pkt + iphl + 14, 0xffff);
	for (size_t i = 0; i < PAY; i++)
		pkt[iphl + 20 + i] = (uint8_t)(i * 7 + 3);
	memcpy(orig, pkt, len);
	return len;
}

struct seen {
	unsigned n, stop_after;
	size_t len[8], iphl[8];
	uint8_t hdr[8][60];
	uint8_t pay[PAY];
	size_t pay_len;
	int last[8];
};

static int collect(void *ctx, uint8_t *p, size_t len, size_t iphl, int last)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	s->len[s->n] = len;
	s->iphl[s->n] = iphl;
	s->last[s->n] = last;
	memcpy(s->hdr[s->n], p, iphl + 20);
	memcpy(s->pay + s->pay_len, p + iphl + 20, len - iphl - 20);
	s->pay_len += len - iphl - 20;
	s->n++;
	return s->stop_after && s->n == s->stop_after;
}

static void check_cut(int v6)
{
	struct seen s = {0};
	size_t iphl = v6 ? 40 : 20, len = build(v6, F_ACK | F_PSH | F_FIN | F_CWR);
	const size_t want[3] = {MSS, MSS, PAY - 2 * MSS};

	assert_int_equal(tso_cut(pkt, len, MSS, collect, &s), 3);
	assert_int_equal(s.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *h = s.hdr[i];
		uint8_t fl = h[iphl + 13];

		assert_int_equal(s.len[i], iphl + 20 + want[i]);
		assert_int_equal(s.iphl[i], iphl);
		assert_int_equal(s.last[i], i == 2);
		if (v6) {
			assert_int_equal(peek_u16(h + 4), 20 + want[i]);
		} else {
			assert_int_equal(peek_u16(h + 2), 20 + 20 + want[i]);
			assert_int_equal(peek_u16(h + 4), (uint16_t)(IP_ID + i));
		}
		assert_int_equal(peek_u32(h + iphl + 4), (uint32_t)(SEQ + i * MSS));
		assert_int_equal(fl & F_ACK, F_ACK);
		assert_int_equal(fl & (F_FIN | F_PSH), i == 2 ? F_FIN | F_PSH : 0);
		assert_int_equal(fl & F_CWR, i == 0 ? F_CWR : 0);
		/* Everything else in the headers is the original's. */
		assert_memory_equal(h + iphl, orig + iphl, 4);
		assert_memory_equal(h + iphl + 8, orig + iphl + 8, 5);
		assert_memory_equal(h + iphl + 14, orig + iphl + 14, 6);
		assert_memory_equal(h + 8, orig + 8, iphl - 8);
	}
	assert_int_equal(s.pay_len, PAY);
	assert_memory_equal(s.pay, orig + iphl + 20, PAY);
}

static void cut_ipv4(void **state)
{
	(void)state;
	check_cut(0);
}

static void cut_ipv6(void **state)
{
	(void)state;
	check_cut(1);
}

static void cut_rejects(void **state)
{
	struct seen s = {0};
	size_t len = build(0, F_ACK);

	(void)state;
	assert_int_equal(tso_cut(pkt, len, 0, collect, &s), -EINVAL);
	assert_int_equal(tso_cut(pkt, 39, MSS, collect, &s), -EINVAL); /* no whole TCP header */
	pkt[9] = STUN_PROTO_UDP;
	assert_int_equal(tso_cut(pkt, len, MSS, collect, &s), -EINVAL);
	pkt[9] = STUN_PROTO_TCP;
	pkt[0] = 0x55;
	assert_int_equal(tso_cut(pkt, len, MSS, collect, &s), -EINVAL);
	pkt[0] = 0x44; /* IHL below 5 */
	assert_int_equal(tso_cut(pkt, len, MSS, collect, &s), -EINVAL);
	pkt[0] = 0x45;
	pkt[20 + 12] = 0x40; /* a TCP data offset of 4 words */
	assert_int_equal(tso_cut(pkt, len, MSS, collect, &s), -EINVAL);
	assert_int_equal(s.n, 0);
}

static void cut_stops(void **state)
{
	struct seen s = {.stop_after = 1};
	size_t len = build(0, F_ACK);

	(void)state;
	assert_int_equal(tso_cut(pkt, len, MSS, collect, &s), -ECANCELED);
	assert_int_equal(s.n, 1);
}

/* A packet without payload still gets its length set (found by fuzz_tso). */
static void cut_no_payload(void **state)
{
	struct seen s = {0};

	(void)state;
	build(0, F_ACK);
	put_u16(pkt + 2, 42); /* says two bytes more than there are */
	assert_int_equal(tso_cut(pkt, 40, MSS, collect, &s), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.len[0], 40);
	assert_int_equal(peek_u16(s.hdr[0] + 2), 40);
	assert_int_equal(s.last[0], 1);
}

static void ip4_checksum(void **state)
{
	uint32_t sum = 0;

	(void)state;
	build(0, F_ACK);
	put_u16(pkt + 10, 0x1234);
	tso_ip4_csum_set(pkt, 20);
	for (size_t i = 0; i < 20; i += 2)
		sum += peek_u16(pkt + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(sum, 0xffff);
}

/* Cut, then gathered again: one TSO write of the same bytes. */
struct regather_ctx {
	struct tso_gather *g;
	int fd;
};

static int regather(void *ctx, uint8_t *p, size_t len, size_t iphl, int last)
{
	struct regather_ctx *r = ctx;
	struct twist_ip ip;

	(void)last;
	assert_int_equal(twist_ip_parse(p, len, &ip), 0);
	assert_int_equal(iphl, (size_t)(ip.seg - p));
	return tso_gather_put(r->g, r->fd, r, &ip.src, &ip.dst, ip.proto, ip.seg, ip.seg_len);
}

static void cut_then_gather(void **state)
{
	static uint8_t back[sizeof(struct virtio_net_hdr) + sizeof(pkt) + 64];
	struct regather_ctx r = {tso_gather_new(), -1};
	struct virtio_net_hdr vh;
	const uint8_t *ip4;
	int fds[2];
	size_t len = build(0, F_ACK);
	ssize_t n;

	(void)state;
	assert_non_null(r.g);
	assert_int_equal(pipe(fds), 0);
	r.fd = fds[1];
	assert_int_equal(tso_cut(pkt, len, MSS, regather, &r), 3);
	assert_int_equal(tso_gather_flush(r.g, r.fd), 0);
	n = read(fds[0], back, sizeof(back));
	assert_int_equal(n, (ssize_t)(sizeof(vh) + len));
	memcpy(&vh, back, sizeof(vh));
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, MSS);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.csum_start, 20);
	assert_int_equal(vh.csum_offset, 16);
	ip4 = back + sizeof(vh);
	assert_int_equal(peek_u16(ip4 + 2), len);
	assert_memory_equal(ip4 + 12, orig + 12, 8);   /* addresses */
	assert_memory_equal(ip4 + 20, orig + 20, 14);  /* ports, seq, ack, offset, flags */
	assert_memory_equal(ip4 + 40, orig + 40, PAY); /* the payload, whole */
	tso_gather_free(r.g);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(cut_ipv4),        cmocka_unit_test(cut_ipv6),
	        cmocka_unit_test(cut_rejects),     cmocka_unit_test(cut_stops),
	        cmocka_unit_test(cut_no_payload),  cmocka_unit_test(ip4_checksum),
	        cmocka_unit_test(cut_then_gather),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
