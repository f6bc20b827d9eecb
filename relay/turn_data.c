/*
 * Relayed data in both directions (RFC 8656 §10-§12): Send indications and
 * ChannelData from the client, datagrams from peers on the relay sockets.
 * Per packet: no allocation, no lock, no log.
 */
#include <errno.h>

#include "proto/chdata.h"
#include "proto/stun.h"
#include "relay/dataplane.h"
#include "relay/ports.h"
#include "relay/turn.h"
#include "relay/turn_int.h"

bool turn_relayed_peer_ok(const struct allocation *a, const struct tw_addr *peer)
{
	const struct relay *r = a->flow.w->r;

	if (!ports_bound(r->ports, peer))
		return false;
	for (unsigned i = 0; i < a->n_rs; i++)
		if (tw_addr_eq(&a->rs[i].addr, peer))
			return false; /* to itself: a loop */
	return true;
}

/* Client to peer: the same checks for Send indications and ChannelData. */
static void to_peer(struct worker *w, struct conn *c, const struct tw_addr *peer,
                    const uint8_t *data, size_t len)
{
	struct allocation *a = c->a;
	struct relay_sock *rs = alloc_relay_for(a, peer->family);

	STAT_INC(&w->st, rx_client_pkts);
	STAT_ADD(&w->st, rx_client_bytes, len);
	if (!rs || !alloc_perm_find(a, peer))
		return worker_drop(w, DROP_NO_PERMISSION, peer);
	/* A permission for the relay's own IP reaches only other clients'
	 * relayed ports, never a listener or another service (turn_alloc.c). */
	if (relay_is_relay_ip(w->r, peer) && !w->r->cfg.allow_self &&
	    !turn_relayed_peer_ok(a, peer))
		return worker_drop(w, DROP_POLICY, peer);
	if (!alloc_bw_take(a, len))
		return worker_drop(w, DROP_BANDWIDTH, &c->client);
	a->bytes_to_peer += len;
	STAT_INC(&w->st, tx_peer_pkts);
	STAT_ADD(&w->st, tx_peer_bytes, len);
	/* A stream's frames live in the connection's buffer, which moves on: send now. */
	if (c->ops->stream)
		tx_now(w, rs->h.fd, peer, data, len);
	else
		tx_push(w, rs->h.fd, peer, data, len);
}

void turn_do_send(struct worker *w, struct conn *c, const struct stun_msg *m)
{
	const struct stun_attr *pa = stun_msg_find(m, STUN_A_XOR_PEER_ADDRESS);
	const struct stun_attr *da = stun_msg_find(m, STUN_A_DATA);
	struct tw_addr peer;

	if (!c->a)
		return worker_drop(w, DROP_NO_ALLOCATION, &c->client);
	if (c->a->tcp) /* RFC 6062 §5: data goes over data connections */
		return worker_drop(w, DROP_UNEXPECTED, &c->client);
	if (!pa || !da || stun_attr_xaddr(m, pa, &peer) < 0)
		return worker_drop(w, DROP_MALFORMED, &c->client);
	to_peer(w, c, &peer, stun_attr_val(m, da), da->len);
}

void turn_chdata_input(struct worker *w, struct conn *c, const uint8_t *buf, size_t len)
{
	const uint8_t *data;
	size_t dlen, used;
	uint16_t num;
	struct chan *ch;

	if (chdata_parse(buf, len, c->ops->stream, &num, &data, &dlen, &used) < 0)
		return worker_drop(w, DROP_MALFORMED, &c->client);
	if (!c->a)
		return worker_drop(w, DROP_NO_ALLOCATION, &c->client);
	ch = alloc_chan_by_num(c->a, num);
	if (!ch || !chan_live(ch, w->now_ms))
		return worker_drop(w, DROP_NO_CHANNEL, &c->client);
	to_peer(w, c, &ch->peer, data, dlen);
}

static void send_data_indication(struct worker *w, struct allocation *a, const struct tw_addr *peer,
                                 const uint8_t *data, size_t len)
{
	uint8_t buf[RX_BUFSZ + 64], tid[STUN_TID_LEN];
	struct stun_wr wr;
	int n;

	/* Indications need no unguessable id: nothing answers them. */
	for (unsigned i = 0; i < STUN_TID_LEN; i++)
		tid[i] = (uint8_t)(w->now_ms >> (i % 8) ^ i);
	stun_wr_init(&wr, buf, sizeof(buf), STUN_DATA, STUN_INDICATION, tid);
	stun_wr_xaddr(&wr, STUN_A_XOR_PEER_ADDRESS, peer);
	stun_wr_attr(&wr, STUN_A_DATA, data, len);
	n = stun_wr_finish(&wr);
	if (n < 0)
		return worker_drop(w, DROP_OVERSIZE, peer);
	if (a->conn->ops->send(a->conn, buf, (size_t)n) == -ENOBUFS)
		return worker_drop(w, DROP_BACKPRESSURE, &a->flow.key.client);
	STAT_INC(&w->st, tx_client_pkts);
	STAT_ADD(&w->st, tx_client_bytes, (uint64_t)n);
}

static void from_peer(struct worker *w, void *ctx, const struct tw_addr *peer, uint8_t *buf,
                      size_t len)
{
	struct relay_sock *rs = ctx;
	struct allocation *a = rs->a;
	struct chan *c;
	uint8_t *hdr = buf - CHDATA_HDR_LEN;

	STAT_INC(&w->st, rx_peer_pkts);
	STAT_ADD(&w->st, rx_peer_bytes, len);
	if (!alloc_perm_find(a, peer))
		return worker_drop(w, DROP_NO_PERMISSION, peer);
	if (!alloc_bw_take(a, len))
		return worker_drop(w, DROP_BANDWIDTH, peer);
	a->bytes_to_client += len;
	c = alloc_chan_by_peer(a, peer);
	if (!c || !chan_live(c, w->now_ms))
		return send_data_indication(w, a, peer, buf, len);
	if (len > 0xffff - CHDATA_HDR_LEN)
		return worker_drop(w, DROP_OVERSIZE, peer);
	/* The header goes into the headroom in front of the payload: no copy. */
	chdata_hdr_write(hdr, c->num, (uint16_t)len);
	if (a->conn->ops->send_data(a->conn, hdr, len + CHDATA_HDR_LEN,
	                            a->conn->ops->stream ? chdata_pad(len, true) : 0) < 0)
		return worker_drop(w, DROP_BACKPRESSURE, &a->flow.key.client);
	STAT_INC(&w->st, tx_client_pkts);
	STAT_ADD(&w->st, tx_client_bytes, len + CHDATA_HDR_LEN);
}

bool turn_relay_readable(struct worker *w, struct dp_handle *h)
{
	struct relay_sock *rs = (struct relay_sock *)h; /* h is its first member */

	return dp_drain(w, h->fd, h, from_peer, rs);
}
