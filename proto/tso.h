/*
 * Cutting a TCP super-packet (what a TUN with TSO hands up, struct
 * virtio_net_hdr's gso_size) into the MSS-sized packets the sender's TCP
 * would have sent without the offload. Used by twist-client on what the
 * host sends and by twist-relay on what peers send (docs/architecture.md,
 * "TWIST data path").
 */
#ifndef TWIST_PROTO_TSO_H
#define TWIST_PROTO_TSO_H

#include <stddef.h>
#include <stdint.h>

/*
 * One cut packet: its IP header (iphl bytes, total or payload length set,
 * IPv4 ID moved on, IPv4 header checksum NOT set), then the TCP header and
 * payload; the TCP checksum is left as it was (the caller makes it whole).
 * last: no more follow. Return 0 to go on, anything else to stop.
 */
typedef int (*tso_seg_fn)(void *ctx, uint8_t *pkt, size_t len, size_t iphl, int last);

/*
 * Cuts pkt (an IPv4 or IPv6 TCP packet of len bytes, no IPv6 extension
 * headers) into packets of at most mss payload bytes, in place: packet i's
 * headers are written just in front of its payload, over the tail of
 * packet i-1, which fn has had. Sequence numbers move on; FIN and PSH stay
 * on the last packet only, CWR on the first only (RFC 3168 §6.1.2).
 * Returns the number of packets given to fn, -EINVAL for a packet that is
 * not such a TCP packet (fn not called), or -ECANCELED if fn stopped it.
 */
int tso_cut(uint8_t *pkt, size_t len, size_t mss, tso_seg_fn fn, void *ctx);

/* Sets the IPv4 header checksum of hdr (hl bytes; 0 for IPv6: nothing to do). */
void tso_ip4_csum_set(uint8_t *hdr, size_t hl);

#endif
