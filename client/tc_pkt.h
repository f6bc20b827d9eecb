/*
 * twist-client's packet rewriting, with no I/O: what happens to a packet
 * between the TUN device and a TWIST flow (docs/twist-protocol.md §4).
 *
 * The shim behaves like a NAT that moves the IP header into the STUN
 * flow: out of the TUN, the IP header is dropped, the ports become the
 * relayed port and the peer's port, and the checksum is made over the
 * relayed and peer addresses. Back from the relay, the ports are the
 * application's again, the checksum covers the addresses the application
 * sees, and an IP header in the application's family goes in front. The
 * host's TCP is never terminated.
 */
#ifndef TWIST_CLIENT_TC_PKT_H
#define TWIST_CLIENT_TC_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

#define TC_IP4_HDR 20
#define TC_IP6_HDR 40
#define TC_TCP_HDR 20
#define TC_MAX_PKT 65535
#define TC_MAX_MAP 16

/*
 * One flow's four addresses. local and remote are what the application
 * sees on the TUN (its own address and port, the destination it used);
 * relayed and peer are what the peer sees. Their families differ under
 * --nat64 and --map.
 */
struct tc_map {
	struct tw_addr local;
	struct tw_addr remote;
	struct tw_addr relayed;
	struct tw_addr peer;
};

/*
 * --nat64 PREFIX/96: an IPv6 destination inside it is its embedded IPv4
 * address (RFC 6052 §2.2, /96 only). --map LOCAL=PEER: an IPv4 LOCAL is
 * relayed to PEER.
 */
struct tc_xlate {
	bool nat64;
	struct tw_cidr nat64_pfx;
	size_t nmap;
	struct {
		struct tw_addr local, peer;
	} map[TC_MAX_MAP];
};

/* The peer an application's destination stands for (ports kept). */
void tc_xlate_peer(const struct tc_xlate *x, const struct tw_addr *dst, struct tw_addr *peer);

/* IP header length of a family: 20 or 40. */
size_t tc_ip_hdr_len(uint8_t family);

/*
 * Toward the relay: seg (a UDP or TCP segment read from the TUN) gets the
 * relayed and peer ports and its checksum over relayed -> peer, in place.
 * Returns 0 or -EBADMSG.
 */
int tc_pkt_out(const struct tc_map *m, uint8_t proto, uint8_t *seg, size_t len);

/*
 * From the relay: seg must come from the peer's port to the relayed port
 * and carry a checksum that is right for peer -> relayed (else -EBADMSG).
 * Writes the IP packet for the TUN to out: remote -> local, with the
 * application's ports, and a SYN's MSS lowered to mss (0: left alone).
 * Returns its length, -EBADMSG or -ENOSPC.
 */
int tc_pkt_in(const struct tc_map *m, uint8_t proto, const uint8_t *seg, size_t len, uint16_t mss,
              uint8_t *out, size_t cap);

/*
 * Lowers the MSS option of a TCP SYN to mss when it is larger (RFC 9293
 * §3.7.1), so that segments fit the other side of a family change or the
 * TUN's MTU. The checksum is left to the caller. Returns 1 when changed,
 * 0 when not (not a SYN, no option, small enough), -EBADMSG on bad options.
 */
int tc_mss_clamp(uint8_t *seg, size_t len, uint16_t mss);

/*
 * The MSS both ends of a flow are held to: a segment must fit the MTU
 * behind the larger of the two IP headers, the application's or the
 * peer's, so that a family change (IPv4 app, IPv6 peer) adds nothing that
 * would not fit. With one family it is what the host's TCP picks itself.
 */
uint16_t tc_mss_for(uint16_t mtu, uint8_t fam_a, uint8_t fam_b);

#endif
