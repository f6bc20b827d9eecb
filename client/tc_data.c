/*
 * The shim's data path: IP packets from the TUN become bare segments on
 * their flow's socket, and the relay's segments become IP packets on the
 * TUN again (docs/twist-protocol.md §4). Per-packet problems are counted,
 * never logged one by one.
 */
#include <errno.h>
#include <string.h>

#include "client/tc_client.h"
#include "common/log.h"
#include "proto/cursor.h"
#include "proto/twist.h"
#include "proto/twist_esp.h"

static uint8_t txbuf[TC_MAX_PKT + TC_IP6_HDR];
/* Tunnel mode: ESP header, the relayed family's IP header, the segment, trailer. */
static uint8_t espbuf[TWIST_ESP_HDR + TC_IP6_HDR + TC_MAX_PKT + TWIST_ESP_OVERHEAD_MAX];

static struct tc_flow *flow_of(struct tc_node *n)
{
	return n ? (struct tc_flow *)((char *)n - offsetof(struct tc_flow, node)) : NULL;
}

static uint16_t flow_mss(const struct tc_flow *f)
{
	return tc_mss_for(f->c->conf->mtu, f->map.local.family, f->map.peer.family);
}

static bool opens(const struct twist_ip *ip)
{
	if (ip->proto == STUN_PROTO_UDP)
		return true;
	/* Only a SYN without ACK starts a TCP connection (RFC 9293 §3.5). */
	return ip->seg_len >= TC_TCP_HDR && (ip->seg[13] & 0x12) == 0x02;
}

void tc_data_from_tun(struct tc_client *c, uint8_t *pkt, size_t len)
{
	struct twist_ip ip;
	struct tc_key k;
	struct tw_addr peer;
	struct tc_flow *f;
	uint8_t *seg;

	if (twist_ip_parse(pkt, len, &ip) < 0) {
		c->st.drops[TC_DROP_NOT_IP]++;
		return;
	}
	memset(&k, 0, sizeof(k));
	k.proto = ip.proto;
	k.local = ip.src;
	k.remote = ip.dst;
	f = flow_of(tc_table_find(&c->table, &k));
	if (!f) {
		if (!opens(&ip)) {
			c->st.drops[TC_DROP_NOT_NEW]++;
			return;
		}
		tc_xlate_peer(&c->conf->xlate, &ip.dst, &peer);
		f = tc_flow_connect(c, &k, &peer);
		if (!f) {
			c->st.drops[TC_DROP_TABLE_FULL]++;
			return;
		}
	}
	seg = pkt + (ip.seg - pkt);
	switch (f->state) {
	case TC_ALLOCATING:
		if (tc_queue_push(&f->q, seg, ip.seg_len) < 0)
			c->st.drops[TC_DROP_QUEUE_FULL]++;
		return;
	case TC_ACTIVE:
		tc_data_to_relay(f, seg, ip.seg_len);
		return;
	case TC_CLOSING:
	case TC_FAILED:
		c->st.drops[TC_DROP_FLOW_FAILED]++;
		return;
	}
}

/*
 * Tunnel mode (docs/twist-protocol.md §9): the segment, already on the
 * relay's ports and checksum, behind the IP header the relay would put in
 * front of it (relayed address to peer), in ESP. The application's own IP
 * header may be of the other family, so it is rebuilt, not rewritten.
 */
static int esp_send(struct tc_flow *f, const uint8_t *seg, size_t len)
{
	uint8_t *inner = espbuf + TWIST_ESP_HDR;
	int hl, n;

	hl = twist_ip_hdr(inner, TC_IP6_HDR, &f->map.relayed, &f->map.peer, f->proto, len);
	if (hl < 0 || len > TC_MAX_PKT)
		return -EMSGSIZE;
	memcpy(inner + hl, seg, len);
	/* No anti-replay at the relay (§9.3): the counter may wrap; 0 is skipped. */
	if (++f->esp_seq == 0)
		f->esp_seq = 1;
	n = twist_esp_wrap(espbuf, sizeof(espbuf), (size_t)hl + len, f->spi, f->esp_seq);
	if (n < 0)
		return n;
	return tc_flow_send(f, espbuf, (size_t)n);
}

void tc_data_to_relay(struct tc_flow *f, uint8_t *seg, size_t len)
{
	struct tc_client *c = f->c;

	if (f->proto == STUN_PROTO_TCP && tc_mss_clamp(seg, len, flow_mss(f)) < 0) {
		c->st.drops[TC_DROP_BAD_SEGMENT]++;
		return;
	}
	if (tc_pkt_out(&f->map, f->proto, seg, len) < 0) {
		c->st.drops[TC_DROP_BAD_SEGMENT]++;
		return;
	}
	tc_flow_tcp_track(f, seg, len, true);
	if ((f->encap.mode == TWIST_ENCAP_TUNNEL ? esp_send(f, seg, len)
	                                         : tc_flow_send(f, seg, len)) == 0) {
		f->last_data_ms = f->last_tx_ms;
		c->st.pkts_out++;
		c->st.bytes_out += len;
	}
}

void tc_data_from_relay(struct tc_flow *f, const uint8_t *seg, size_t len)
{
	struct tc_client *c = f->c;
	int n = tc_pkt_in(&f->map, f->proto, seg, len, flow_mss(f), txbuf, sizeof(txbuf));

	if (n < 0) {
		c->st.drops[TC_DROP_BAD_SEGMENT]++;
		return;
	}
	tc_flow_tcp_track(f, seg, len, false);
	if (c->ops->tun_write(c, txbuf, (size_t)n) < 0) {
		c->st.drops[TC_DROP_SEND]++;
		return;
	}
	f->last_data_ms = c->ops->now_ms(c);
	c->st.pkts_in++;
	c->st.bytes_in += len;
}

/*
 * Tunnel mode: the relay's ESP must carry the flow's SPI and a packet
 * from the peer to the relayed address in the flow's protocol. A listen
 * flow learns its peer here, from the first packet's inner source.
 */
void tc_data_from_relay_esp(struct tc_flow *f, const uint8_t *p, size_t len)
{
	struct tc_client *c = f->c;
	struct twist_esp e;
	struct twist_ip ip;

	if (twist_esp_classify(p, len) != TWIST_ESP_PKT || twist_esp_parse(p, len, &e) < 0 ||
	    e.spi != f->spi || twist_esp_inner(&e, &ip) < 0 || ip.proto != f->proto ||
	    !tw_addr_eq(&ip.dst, &f->map.relayed)) {
		c->st.drops[TC_DROP_ESP]++;
		return;
	}
	if (!f->latched && (!f->listener || tc_data_latch(f, &ip.src) < 0))
		return; /* counted by tc_data_latch, or a connect flow that cannot be unlatched */
	if (!tw_addr_eq(&ip.src, &f->map.peer)) {
		c->st.drops[TC_DROP_ESP]++;
		return;
	}
	tc_data_from_relay(f, ip.seg, ip.seg_len);
}

int tc_data_latch(struct tc_flow *f, const struct tw_addr *peer)
{
	struct tc_client *c = f->c;
	struct tc_listener *l = f->listener;
	struct tc_flow *old;
	char a[TW_ADDR_STRLEN];

	if (peer->family != c->conf->tun_addr4.family || f->state != TC_ACTIVE) {
		c->st.drops[TC_DROP_PEER_UNKNOWN]++;
		return -EINVAL;
	}
	f->map.peer = *peer;
	f->map.remote = *peer;
	f->map.local = c->conf->tun_addr4;
	f->map.local.port = l->spec.port;
	f->node.key.proto = f->proto;
	f->node.key.local = f->map.local;
	f->node.key.remote = f->map.remote;
	/* The same peer and port again: the old flow's connection is over. */
	old = flow_of(tc_table_find(&c->table, &f->node.key));
	if (old)
		tc_table_del(&c->table, &old->node);
	if (tc_table_add(&c->table, &f->node) < 0) {
		c->st.drops[TC_DROP_TABLE_FULL]++;
		return -ENOSPC;
	}
	f->latched = true;
	f->last_data_ms = c->ops->now_ms(c);
	log_info("flow %u: listen %u latched peer %s", f->id, l->spec.port,
	         tw_addr_fmt(peer, a, sizeof(a)));
	if (l->armed == f) {
		l->armed = NULL;
		tc_flow_listen(c, l);
	}
	return 0;
}

/*
 * A refused connect flow: the application's SYN gets an RST back at once
 * (RFC 9293 §3.10.7.1, as from a closed port), so connect() fails now
 * instead of after its own retries. UDP gets nothing.
 */
void tc_data_refuse(struct tc_flow *f)
{
	const struct tc_qpkt *e = f->q.head;
	uint8_t *rst = txbuf + TC_IP6_HDR;
	uint32_t seq;
	int hl;

	if (f->listener || f->proto != STUN_PROTO_TCP || !e || e->len < TC_TCP_HDR ||
	    (e->data[13] & 0x12) != 0x02)
		return;
	seq = (uint32_t)e->data[4] << 24 | (uint32_t)e->data[5] << 16 | (uint32_t)e->data[6] << 8 |
	      e->data[7];
	memset(rst, 0, TC_TCP_HDR);
	put_u16(rst, f->map.remote.port);
	put_u16(rst + 2, f->map.local.port);
	put_u32(rst + 8, seq + 1);
	rst[12] = 5 << 4;
	rst[13] = 0x14; /* RST, ACK */
	if (twist_l4_csum_set(&f->map.remote, &f->map.local, STUN_PROTO_TCP, rst, TC_TCP_HDR) < 0)
		return;
	hl = twist_ip_hdr(txbuf, TC_IP6_HDR, &f->map.remote, &f->map.local, STUN_PROTO_TCP,
	                  TC_TCP_HDR);
	if (hl < 0)
		return;
	memmove(txbuf + hl, rst, TC_TCP_HDR);
	if (f->c->ops->tun_write(f->c, txbuf, (size_t)hl + TC_TCP_HDR) < 0)
		f->c->st.drops[TC_DROP_SEND]++;
}
