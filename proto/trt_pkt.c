/*
 * The translator's own IPv6 packets (proto/trt_pkt.h).
 */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/trt_pkt.h"
#include "proto/twist.h"

#define PROTO_ICMP6 58
#define ICMP6_HDR   8
#define TCP_RST     0x04
#define TCP_ACK     0x10

int trt_pkt_rst6(uint8_t *out, size_t cap, const struct tw_addr *from, const struct tw_addr *to,
                 uint32_t syn_seq)
{
	uint8_t *t = out + TRT_IP6_HDR;

	if (cap < TRT_RST6_LEN || from->family != TW_AF_INET6 || to->family != TW_AF_INET6)
		return -ENOSPC;
	if (twist_ip_hdr(out, cap, from, to, STUN_PROTO_TCP, 20) < 0)
		return -EINVAL;
	memset(t, 0, 20);
	put_u16(t, from->port);
	put_u16(t + 2, to->port);
	put_u32(t + 8, syn_seq + 1);
	t[12] = 5 << 4;
	t[13] = TCP_RST | TCP_ACK;
	twist_l4_csum_set(from, to, STUN_PROTO_TCP, t, 20);
	return TRT_RST6_LEN;
}

int trt_pkt_udp6(uint8_t *out, size_t cap, const struct tw_addr *src, const struct tw_addr *dst,
                 const uint8_t *payload, size_t len)
{
	size_t ulen = 8 + len, n;
	uint8_t *u = out + TRT_IP6_HDR;

	if (cap < TRT_IP6_HDR + 8 || ulen > UINT16_MAX || src->family != TW_AF_INET6)
		return -ENOSPC;
	if (twist_ip_hdr(out, cap, src, dst, STUN_PROTO_UDP, ulen) < 0)
		return -EINVAL;
	put_u16(u, src->port);
	put_u16(u + 2, dst->port);
	put_u16(u + 4, (uint16_t)ulen);
	put_u16(u + 6, 0);
	n = cap - TRT_IP6_HDR - 8 < len ? cap - TRT_IP6_HDR - 8 : len;
	memcpy(u + 8, payload, n);
	/* The sum is over the whole datagram; a cut one gets what the bytes give. */
	if (n == len)
		twist_l4_csum_set(src, dst, STUN_PROTO_UDP, u, ulen);
	return (int)(TRT_IP6_HDR + 8 + n);
}

int trt_pkt_icmp_map(uint8_t type4, uint8_t code4, uint32_t mtu4, struct trt_icmp6 *out)
{
	memset(out, 0, sizeof(*out));
	if (type4 != 3) /* destination unreachable; the rest is not carried back */
		return -ENOENT;
	out->type = 1;
	out->kind = TRT_ICMP_HOST_UNREACH;
	switch (code4) {
	case 3: /* port unreachable */
		out->code = 4;
		out->kind = TRT_ICMP_PORT_UNREACH;
		return 0;
	case 1: /* host unreachable: the contract's address unreachable */
		out->code = 3;
		return 0;
	case 9:
	case 10:
	case 13: /* administratively prohibited (RFC 7915 §4.2) */
		out->code = 1;
		return 0;
	case 4: /* fragmentation needed: packet too big, never below IPv6's minimum */
		out->type = 2;
		out->code = 0;
		out->kind = TRT_ICMP_TOO_BIG;
		out->param = mtu4 + 20 < TRT_MIN_MTU6 ? TRT_MIN_MTU6 : mtu4 + 20;
		return 0;
	case 2: /* protocol unreachable: we only send UDP and TCP */
		return -ENOENT;
	default: /* network unreachable and the rest: no route (RFC 7915 §4.2) */
		out->code = 0;
		return 0;
	}
}

int trt_pkt_icmp6(uint8_t *out, size_t cap, const struct tw_addr *from, const struct tw_addr *to,
                  const struct trt_icmp6 *e, const uint8_t *quote, size_t qlen)
{
	size_t room = (cap < TRT_MIN_MTU6 ? cap : TRT_MIN_MTU6), body;
	uint8_t *m = out + TRT_IP6_HDR;
	struct tw_addr f = *from, t = *to;

	if (room < TRT_IP6_HDR + ICMP6_HDR || from->family != TW_AF_INET6 ||
	    to->family != TW_AF_INET6)
		return -ENOSPC;
	if (qlen > room - TRT_IP6_HDR - ICMP6_HDR)
		qlen = room - TRT_IP6_HDR - ICMP6_HDR;
	body = ICMP6_HDR + qlen;
	if (twist_ip_hdr(out, cap, from, to, PROTO_ICMP6, body) < 0)
		return -EINVAL;
	m[0] = e->type;
	m[1] = e->code;
	put_u16(m + 2, 0);
	put_u32(m + 4, e->param);
	memcpy(m + ICMP6_HDR, quote, qlen);
	/* The ICMPv6 checksum covers the same pseudo-header as UDP's (RFC 4443 §2.3). */
	f.port = t.port = 0;
	put_u16(m + 2, twist_l4_csum(&f, &t, PROTO_ICMP6, m, body));
	return (int)(TRT_IP6_HDR + body);
}

const char *trt_icmp_kind_name(enum trt_icmp_kind k)
{
	switch (k) {
	case TRT_ICMP_PORT_UNREACH:
		return "port_unreachable";
	case TRT_ICMP_HOST_UNREACH:
		return "host_unreachable";
	case TRT_ICMP_TOO_BIG:
		return "packet_too_big";
	case TRT_ICMP__COUNT:
		break;
	}
	return "?";
}
