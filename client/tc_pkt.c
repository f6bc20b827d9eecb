#include "client/tc_pkt.h"

#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/twist.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2

void tc_xlate_peer(const struct tc_xlate *x, const struct tw_addr *dst, struct tw_addr *peer)
{
	*peer = *dst;
	if (dst->family == TW_AF_INET6 && x->nat64 && tw_cidr_match(&x->nat64_pfx, dst)) {
		/* RFC 6052 §2.2: with a /96 the IPv4 address is the last 32 bits. */
		memset(peer->ip, 0, sizeof(peer->ip));
		memcpy(peer->ip, dst->ip + 12, 4);
		peer->family = TW_AF_INET;
		return;
	}
	for (size_t i = 0; i < x->nmap; i++) {
		if (tw_addr_ip_eq(&x->map[i].local, dst)) {
			*peer = x->map[i].peer;
			peer->port = dst->port;
			return;
		}
	}
}

size_t tc_ip_hdr_len(uint8_t family)
{
	return family == TW_AF_INET6 ? TC_IP6_HDR : TC_IP4_HDR;
}

uint16_t tc_mss_for(uint16_t mtu, uint8_t fam_a, uint8_t fam_b)
{
	size_t a = tc_ip_hdr_len(fam_a), b = tc_ip_hdr_len(fam_b);
	size_t hdr = (a > b ? a : b) + TC_TCP_HDR;

	return mtu > hdr ? (uint16_t)(mtu - hdr) : 0;
}

static int ports_set(uint8_t proto, uint8_t *seg, size_t len, uint16_t sport, uint16_t dport)
{
	struct twist_seg s;

	if (twist_seg_parse(seg, len, proto, &s) < 0)
		return -EBADMSG;
	put_u16(seg, sport);
	put_u16(seg + 2, dport);
	return 0;
}

int tc_pkt_out(const struct tc_map *m, uint8_t proto, uint8_t *seg, size_t len)
{
	if (ports_set(proto, seg, len, m->relayed.port, m->peer.port) < 0)
		return -EBADMSG;
	return twist_l4_csum_set(&m->relayed, &m->peer, proto, seg, len) < 0 ? -EBADMSG : 0;
}

int tc_pkt_in(const struct tc_map *m, uint8_t proto, const uint8_t *seg, size_t len, uint16_t mss,
              uint8_t *out, size_t cap)
{
	struct twist_seg s;
	int hl;

	if (twist_seg_parse(seg, len, proto, &s) < 0)
		return -EBADMSG;
	if (s.sport != m->peer.port || s.dport != m->relayed.port)
		return -EBADMSG;
	/* We recompute the checksum below: check the peer's first, or a
	 * segment damaged between peer and relay would leave here as good. */
	if (!twist_l4_csum_ok(&m->peer, &m->relayed, proto, seg, len))
		return -EBADMSG;
	if (cap < TC_IP6_HDR + len) /* twist_ip_hdr() wants room for either header */
		return -ENOSPC;
	hl = twist_ip_hdr(out, cap, &m->remote, &m->local, proto, len);
	if (hl < 0)
		return -EBADMSG;
	memcpy(out + hl, seg, len);
	put_u16(out + hl, m->remote.port);
	put_u16(out + hl + 2, m->local.port);
	if (mss && proto == STUN_PROTO_TCP && tc_mss_clamp(out + hl, len, mss) < 0)
		return -EBADMSG;
	if (twist_l4_csum_set(&m->remote, &m->local, proto, out + hl, len) < 0)
		return -EBADMSG;
	return hl + (int)len;
}

/* The MSS option's offset inside seg, 0 when there is none, -1 when the options are bad. */
static long mss_find(const uint8_t *seg, size_t len)
{
	struct cur c, opt;
	uint8_t kind, olen;
	size_t doff = (size_t)(seg[12] >> 4) * 4;

	if (doff < TC_TCP_HDR || doff > len)
		return -1;
	cur_init(&c, seg, doff);
	cur_skip(&c, TC_TCP_HDR);
	while (cur_get_u8(&c, &kind) == 0) {
		if (kind == TCPOPT_EOL)
			return 0;
		if (kind == TCPOPT_NOP)
			continue;
		if (cur_get_u8(&c, &olen) < 0 || olen < 2 || cur_get_sub(&c, olen - 2u, &opt) < 0)
			return -1;
		if (kind == TCPOPT_MSS)
			return olen == 4 ? (long)(c.pos - 4) : -1;
	}
	return 0;
}

int tc_mss_clamp(uint8_t *seg, size_t len, uint16_t mss)
{
	long off;
	uint16_t cur;

	if (len < TC_TCP_HDR)
		return -EBADMSG;
	if (!(seg[13] & 0x02)) /* SYN */
		return 0;
	off = mss_find(seg, len);
	if (off < 0)
		return -EBADMSG;
	if (off == 0)
		return 0;
	cur = (uint16_t)(seg[off + 2] << 8 | seg[off + 3]);
	if (cur <= mss)
		return 0;
	put_u16(seg + off + 2, mss);
	return 1;
}
