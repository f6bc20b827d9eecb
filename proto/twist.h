/*
 * TWIST (draft-kaplan-behave-twist-00): the code points and wire formats
 * twist chose where the draft says TBD, all in one place. The spec an
 * implementer follows is docs/twist-protocol.md; this header and that
 * document change together.
 *
 * No I/O. Attribute values are parsed from a struct stun_msg and written
 * through struct stun_wr (proto/stun.h). The transport-mode encapsulation
 * is an inner UDP or TCP header, without an IP header, whose checksum
 * covers the pseudo-header of the relayed and peer addresses (§6 of the
 * draft): the relay forwards the segment verbatim behind an IP header it
 * builds, and never recomputes a checksum.
 */
#ifndef TWIST_PROTO_TWIST_H
#define TWIST_PROTO_TWIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"
#include "proto/stun.h"

/*
 * Attributes: comprehension-required, from 0x4000-0x7FFF (Expert Review),
 * where IANA has assigned nothing, so a server without TWIST answers 420
 * and the client learns that it cannot use TWIST there. 0x5457 is "TW".
 */
#define TWIST_A_CAPS           0x5457 /* Binding request and response */
#define TWIST_A_REQUESTED_TYPE 0x5458 /* Allocate request: connect or listen */
#define TWIST_A_ENCAP_TYPE     0x5459 /* Allocate request (wish), response (choice) */
#define TWIST_A_COOKIE         0x545A /* listen: re-arm the same relayed port */
#define TWIST_A_SPI            0x545B /* tunnel mode: the flow's SPI (success response) */

/* TWIST-CAPS: a 32-bit field of what the sender can do. */
#define TWIST_CAP_TRANSPORT    0x00000001u /* transport-mode encapsulation */
#define TWIST_CAP_TUNNEL       0x00000002u /* tunnel mode (RFC 3948 ESP, NULL) */
#define TWIST_CAP_KA_NATT      0x00000004u /* keepalive: one byte 0xFF */
#define TWIST_CAP_KA_BINDING   0x00000008u /* keepalive: STUN Binding */
#define TWIST_CAP_CONNECT      0x00000010u
#define TWIST_CAP_LISTEN       0x00000020u
#define TWIST_CAP_INTERWORKING 0x00000040u /* relayed family may differ from the client's */

/* REQUESTED-TYPE: 1 byte type, 3 bytes RFFU (zero on send, ignored). */
#define TWIST_TYPE_CONNECT 1
#define TWIST_TYPE_LISTEN  2

/* ENCAP-TYPE: 1 byte mode, 1 byte keepalive, 2 bytes keepalive interval (s). */
#define TWIST_ENCAP_TRANSPORT 1
#define TWIST_ENCAP_TUNNEL    2
#define TWIST_KA_NATT         1 /* RFC 3948 §4: one byte 0xFF, no answer */
#define TWIST_KA_BINDING      2 /* a STUN Binding request, answered */

#define TWIST_COOKIE_LEN 8

/* The keepalive byte (RFC 3948 NAT-keepalive). */
#define TWIST_KEEPALIVE_BYTE 0xFF
/* Keepalives after this long without client traffic (draft §10). */
#define TWIST_KEEPALIVE_S 20
/*
 * Relayed ports are never below this: an encapsulated segment starts with
 * the relayed port, so its first byte is >= 0x40 and never looks like STUN
 * (first byte 0x00-0x3F). The default range is 49152-65535.
 */
#define TWIST_MIN_RELAY_PORT 16384

#define TWIST_UDP_HDR     8
#define TWIST_TCP_HDR_MIN 20

struct twist_encap {
	uint8_t mode;        /* TWIST_ENCAP_* */
	uint8_t keepalive;   /* TWIST_KA_* */
	uint16_t interval_s; /* keepalive interval the client should use */
};

/*
 * The STUN codec lists TWIST attributes among m->unknown, which is what a
 * server with TWIST off answers 420 with (§2). A server with TWIST on calls
 * this after stun_msg_parse(): it takes them out of m->unknown and returns
 * how many it took.
 */
int twist_unknown_drop(struct stun_msg *m);

/*
 * Attribute values. Parsers return 0, or -EBADMSG when malformed, which
 * includes a REQUESTED-TYPE, ENCAP-TYPE mode or keepalive we do not know.
 */
int twist_attr_caps(const struct stun_msg *m, const struct stun_attr *a, uint32_t *caps);
int twist_attr_type(const struct stun_msg *m, const struct stun_attr *a, uint8_t *type);
int twist_attr_encap(const struct stun_msg *m, const struct stun_attr *a, struct twist_encap *e);
int twist_attr_cookie(const struct stun_msg *m, const struct stun_attr *a,
                      uint8_t cookie[TWIST_COOKIE_LEN]);
/* 4 bytes; an SPI twist would never hand out (proto/twist_esp.h) is -EBADMSG. */
int twist_attr_spi(const struct stun_msg *m, const struct stun_attr *a, uint32_t *spi);
void twist_wr_caps(struct stun_wr *w, uint32_t caps);
void twist_wr_type(struct stun_wr *w, uint8_t type);
void twist_wr_encap(struct stun_wr *w, const struct twist_encap *e);
void twist_wr_cookie(struct stun_wr *w, const uint8_t cookie[TWIST_COOKIE_LEN]);
void twist_wr_spi(struct stun_wr *w, uint32_t spi);

/*
 * What one datagram on a TWIST flow's client 5-tuple is (docs/twist-protocol.md
 * "Demultiplexing"), given the flow's relayed port and the server's STUN port.
 */
enum twist_kind {
	TWIST_PKT_KEEPALIVE,  /* exactly one byte 0xFF */
	TWIST_PKT_STUN,       /* a raw STUN message (first byte 0x00-0x3F) */
	TWIST_PKT_STUN_ENCAP, /* inner UDP header to the STUN port, STUN behind it */
	TWIST_PKT_SEGMENT,    /* an encapsulated segment for the peer */
	TWIST_PKT_BAD,        /* none of these: a counted drop */
};

/*
 * Client to relay. relay_port is the flow's relayed port (the inner source
 * port), stun_port the server's (3478). proto is STUN_PROTO_UDP or _TCP.
 * For TWIST_PKT_STUN_ENCAP, *inner_off is where the STUN message starts.
 * A stun_port of 0 turns case 3 off: a flow whose peer port is the STUN
 * port (another host's STUN server) cannot tell encapsulated STUN from a
 * segment for its peer by ports alone, so all of it goes to the peer.
 * TWIST_PKT_SEGMENT implies that twist_seg_parse() accepts the datagram.
 */
enum twist_kind twist_classify(const uint8_t *p, size_t len, uint8_t proto, uint16_t relay_port,
                               uint16_t stun_port, size_t *inner_off);

/*
 * The inner header of an encapsulated segment: ports, and for UDP that the
 * length field matches len. Returns 0 or -EBADMSG (too short, UDP length
 * wrong, TCP data offset outside the segment).
 */
struct twist_seg {
	uint16_t sport, dport;
	uint8_t proto;
	bool syn, ack, rst, fin; /* TCP flags; false for UDP */
};
int twist_seg_parse(const uint8_t *p, size_t len, uint8_t proto, struct twist_seg *s);

/*
 * The Internet checksum of a UDP or TCP segment over the pseudo-header of
 * src and dst (RFC 768, RFC 9293, RFC 8200 §8.1); the segment's own
 * checksum field must be zero or is included as it stands. Returns the
 * value to store (0xFFFF for a UDP result of 0).
 */
uint16_t twist_l4_csum(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                       const uint8_t *seg, size_t len);
/*
 * The pseudo-header's sum alone, folded and not complemented: what the
 * checksum field holds when the kernel finishes the sum (checksum offload,
 * a TSO packet written to a TUN device with VIRTIO_NET_HDR_F_NEEDS_CSUM).
 */
uint16_t twist_l4_pseudo(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                         size_t len);
/* Writes the checksum field of seg (UDP offset 6, TCP offset 16) for src -> dst. */
int twist_l4_csum_set(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                      uint8_t *seg, size_t len);
/* True when seg's checksum is right for src -> dst (a UDP checksum of 0 over IPv4 passes). */
bool twist_l4_csum_ok(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                      const uint8_t *seg, size_t len);

/* True when an IPv4 header of hlen bytes (options included) sums right. */
bool twist_ip4_csum_ok(const uint8_t *hdr, size_t hlen);

/*
 * An IPv4 or IPv6 header for a segment from src to dst (the relay puts it
 * in front of an encapsulated segment before the TUN device): 20 or 40
 * bytes written to out (cap at least 40), TTL/hop limit 64. Returns the
 * header length, or -EINVAL (families differ, segment too long).
 */
int twist_ip_hdr(uint8_t *out, size_t cap, const struct tw_addr *src, const struct tw_addr *dst,
                 uint8_t proto, size_t seg_len);
/*
 * The reverse: an IP packet read from a TUN device, split into addresses
 * (ports from the segment), protocol and the segment. Returns 0, -EBADMSG
 * (truncated, bad version or length, fragment, IPv4 options are allowed
 * and skipped, IPv6 extension headers are not), or -EPROTONOSUPPORT for a
 * protocol other than UDP and TCP.
 */
struct twist_ip {
	struct tw_addr src, dst; /* with the segment's ports */
	uint8_t proto;
	const uint8_t *seg;
	size_t seg_len;
};
int twist_ip_parse(const uint8_t *p, size_t len, struct twist_ip *out);

#endif
