/*
 * Packets the translator writes itself, from a dummy address PREFIX::X4 to
 * an IPv6 client: the TCP RST that refuses a held SYN, ICMPv6 errors
 * (RFC 4443) that carry an IPv4 error back (RFC 7915 §4.2's mapping), and
 * the client's own datagram rebuilt for their quote. Pure: the relay sends
 * them on a raw socket (relay/trt_syn.c, relay/trt_udp.c).
 */
#ifndef TWIST_PROTO_TRT_PKT_H
#define TWIST_PROTO_TRT_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

#define TRT_IP6_HDR  40
#define TRT_MIN_MTU6 1280 /* RFC 8200 §5: an ICMPv6 error fits in it */
#define TRT_RST6_LEN (TRT_IP6_HDR + 20)

/* What an ICMPv4 error becomes. */
enum trt_icmp_kind {
	TRT_ICMP_PORT_UNREACH,
	TRT_ICMP_HOST_UNREACH,
	TRT_ICMP_TOO_BIG,
	TRT_ICMP__COUNT,
};

struct trt_icmp6 {
	enum trt_icmp_kind kind;
	uint8_t type, code;
	uint32_t param; /* the MTU of a packet too big */
};

/*
 * A TCP RST|ACK from `from` to `to` answering a SYN whose sequence number
 * was syn_seq (RFC 9293 §3.10.7.1: SEQ 0, ACK SEG.SEQ+1). Writes
 * TRT_RST6_LEN bytes; returns that or -ENOSPC.
 */
int trt_pkt_rst6(uint8_t *out, size_t cap, const struct tw_addr *from, const struct tw_addr *to,
                 uint32_t syn_seq);

/*
 * The IPv6 packet the client sent, rebuilt from what the relay knows (its
 * addresses, ports and payload), as much as fits in cap. The length fields
 * give the whole datagram. Returns the bytes written or -ENOSPC.
 */
int trt_pkt_udp6(uint8_t *out, size_t cap, const struct tw_addr *src, const struct tw_addr *dst,
                 const uint8_t *payload, size_t len);

/*
 * An ICMPv4 error's type and code (and next-hop MTU) as the ICMPv6 error
 * to send: 0, or -ENOENT for errors that are not carried back.
 */
int trt_pkt_icmp_map(uint8_t type4, uint8_t code4, uint32_t mtu4, struct trt_icmp6 *out);

/*
 * An ICMPv6 error from `from` to `to` quoting as much of quote as keeps the
 * packet within TRT_MIN_MTU6 (RFC 4443 §2.4 (c)). Returns the length or
 * -ENOSPC (cap below TRT_MIN_MTU6 is allowed; the quote is cut to fit).
 */
int trt_pkt_icmp6(uint8_t *out, size_t cap, const struct tw_addr *from, const struct tw_addr *to,
                  const struct trt_icmp6 *e, const uint8_t *quote, size_t qlen);

const char *trt_icmp_kind_name(enum trt_icmp_kind k);

#endif
