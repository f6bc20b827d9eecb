/*
 * The TWIST flow kind (docs/twist-protocol.md): one client 5-tuple with its
 * connected socket, its relayed port in the plane (relay/twist_plane.c),
 * its peer, lifetime and idle timer. Client datagrams are classified here;
 * segments go to the plane's TUN, STUN to the TURN request path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/udp_gso.h"
#include "proto/twist_esp.h"
#include "relay/netaddr.h"
#include "relay/turn.h"
#include "relay/twist_flow.h"
#include "relay/udp.h"

#define ENCAP_MAX (1500 + TWIST_UDP_HDR) /* an answer behind a UDP header */

/* ---- the flow kind ---- */

static void tw_close(struct flow *fl)
{
	struct twist_flow *f = (struct twist_flow *)fl;

	/* Out of the table first: worker 0 sends on h.fd only under the lock. */
	if (f->in_plane)
		twist_plane_unlink(f->tp, f);
	if (f->h.fd >= 0)
		dp_close(fl->w, &f->h);
}

static void tw_destroy(struct flow *fl)
{
	free(fl);
}

/*
 * The latch happens on worker 0 (the TUN's reader) and client_spoke under
 * the client's datagram; the replication queue belongs to the flow's own
 * worker, so the flow's worker queues them here: on the client's next
 * datagram (the answer to the peer's first packet) or at the next sweep.
 */
static void tell_standby(struct twist_flow *f)
{
	bool latched = __atomic_load_n(&f->latched, __ATOMIC_ACQUIRE);
	bool spoke = __atomic_load_n(&f->client_spoke, __ATOMIC_RELAXED);

	if ((latched && !f->latch_told) || (spoke && !f->spoke_told)) {
		f->latch_told = latched;
		f->spoke_told = spoke;
		flow_changed(&f->flow);
	}
}

static void tw_sweep(struct flow *fl, uint64_t now)
{
	struct twist_flow *f = (struct twist_flow *)fl;
	/* A standby's copy hears nothing of its client until the VIP moves:
	 * only its lifetime (refreshed by the active) ends it. */
	bool idle = !f->quiet_copy && now >= f->last_client_ms + twist_plane_idle_ms(f->tp);

	if (now < f->expires && !idle)
		return tell_standby(f);
	if (log_enabled(LOG_LVL_INFO)) {
		char rb[TW_ADDR_STRLEN];

		log_info("twist flow %s %s", tw_addr_fmt(&f->relayed, rb, sizeof(rb)),
		         idle ? "idle, expired" : "lifetime over");
	}
	flow_delete(fl);
}

static void tw_export(const struct flow *fl, uint64_t now_ms, struct flow_out *o)
{
	twist_flow_export((const struct twist_flow *)fl, now_ms, o);
}

static const struct flow_ops twist_flow_ops = {
        .name = "twist",
        .close = tw_close,
        .destroy = tw_destroy,
        .sweep = tw_sweep,
        .export = tw_export,
};

/* ---- client side: the flow's own conn ---- */

static struct twist_flow *flow_of_conn(struct conn *c)
{
	return c->tw;
}

/* An answer to an encapsulated request goes back behind a UDP header (spec §4, case 3). */
static int encap_send(struct twist_flow *f, const void *buf, size_t len)
{
	uint8_t hdr[TWIST_UDP_HDR], seg[ENCAP_MAX];
	size_t n = TWIST_UDP_HDR + len;

	if (n > sizeof(seg))
		return -EMSGSIZE;
	hdr[0] = (uint8_t)(f->c.local.port >> 8);
	hdr[1] = (uint8_t)f->c.local.port;
	hdr[2] = (uint8_t)(f->relayed.port >> 8);
	hdr[3] = (uint8_t)f->relayed.port;
	hdr[4] = (uint8_t)(n >> 8);
	hdr[5] = (uint8_t)n;
	hdr[6] = hdr[7] = 0;
	memcpy(seg, hdr, sizeof(hdr));
	memcpy(seg + TWIST_UDP_HDR, buf, len);
	/* Interworking: no pseudo-header spans two families; IPv4 allows 0. */
	if (f->server.family == f->relayed.family)
		twist_l4_csum_set(&f->server, &f->relayed, STUN_PROTO_UDP, seg, n);
	return send(f->h.fd, seg, n, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static int tw_conn_send(struct conn *c, const void *buf, size_t len)
{
	struct twist_flow *f = flow_of_conn(c);

	if (f->h.fd < 0)
		return -EBADF;
	if (f->encap_reply)
		return encap_send(f, buf, len);
	return send(f->h.fd, buf, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static int tw_conn_send_data(struct conn *c, const uint8_t *pkt, size_t len, size_t pad)
{
	(void)c;
	(void)pkt;
	(void)len;
	(void)pad;
	return -EOPNOTSUPP; /* no TURN data on a TWIST 5-tuple */
}

static bool tw_return_path(const struct conn *c, struct conn_return *rp)
{
	(void)c;
	(void)rp;
	return false;
}

static const struct conn_ops twist_conn_ops = {
        .name = "twist",
        .transport = STUN_PROTO_UDP,
        .stream = false,
        .replicates = false,
        .send = tw_conn_send,
        .send_data = tw_conn_send_data,
        .return_path = tw_return_path,
};

/* A segment from the client for the peer, checked against the flow. */
static void to_peer(struct twist_flow *f, const uint8_t *seg, size_t len)
{
	struct twist_seg s;

	if (!__atomic_load_n(&f->latched, __ATOMIC_ACQUIRE))
		return twist_plane_drop(f->tp, TWD_NOT_LATCHED);
	if (twist_seg_parse(seg, len, f->proto, &s) < 0)
		return twist_plane_drop(f->tp, TWD_MALFORMED);
	if (s.dport != f->peer.port)
		return twist_plane_drop(f->tp, TWD_WRONG_PEER);
	__atomic_store_n(&f->client_spoke, 1, __ATOMIC_RELAXED);
	twist_plane_to_peer(f->tp, f, seg, len);
}

static enum twist_drop esp_drop(int err)
{
	if (err == -ENODATA)
		return TWD_ESP_DUMMY;
	return err == -EPROTONOSUPPORT ? TWD_INNER_PROTO : TWD_ESP;
}

/*
 * An inner header byte for byte the one the relay builds in transport mode
 * (twist_ip_hdr: TTL 64, ID 0, DF, no options; twist-client sends these):
 * its segment may then take transport mode's path, gathered into TSO
 * writes, and the packet written is still the very one the client sent.
 */
static bool inner_hdr_is_plain(const struct twist_flow *f, const struct twist_esp *e,
                               const struct twist_ip *ip)
{
	uint8_t hdr[40];
	int hl = twist_ip_hdr(hdr, sizeof(hdr), &f->relayed, &f->peer, f->proto, ip->seg_len);

	return hl > 0 && (size_t)hl == (size_t)(ip->seg - e->inner) &&
	       memcmp(hdr, e->inner, (size_t)hl) == 0;
}

/*
 * Tunnel mode: the inner packet must be what the relay itself would send
 * the peer (docs/twist-protocol.md §9): from the relayed address and
 * port, to the latched peer, in the flow's protocol. It goes to the TUN
 * as it is.
 */
static void esp_to_peer(struct twist_flow *f, const uint8_t *buf, size_t len)
{
	struct twist_esp e;
	struct twist_ip ip;
	int ret = twist_esp_parse(buf, len, &e);

	if (ret < 0)
		return twist_plane_drop(f->tp, esp_drop(ret));
	if (e.spi != f->spi)
		return twist_plane_drop(f->tp, TWD_SPI);
	ret = twist_esp_inner(&e, &ip);
	if (ret < 0)
		return twist_plane_drop(f->tp,
		                        ret == -EPROTONOSUPPORT ? TWD_INNER_PROTO : TWD_INNER);
	if (ip.proto != f->proto)
		return twist_plane_drop(f->tp, TWD_INNER_PROTO);
	if (!tw_addr_eq(&ip.src, &f->relayed))
		return twist_plane_drop(f->tp, TWD_INNER_SRC);
	if (!__atomic_load_n(&f->latched, __ATOMIC_ACQUIRE))
		return twist_plane_drop(f->tp, TWD_NOT_LATCHED);
	if (!tw_addr_eq(&ip.dst, &f->peer))
		return twist_plane_drop(f->tp, TWD_INNER_DST);
	__atomic_store_n(&f->client_spoke, 1, __ATOMIC_RELAXED);
	if (inner_hdr_is_plain(f, &e, &ip))
		twist_plane_to_peer(f->tp, f, ip.seg, ip.seg_len);
	else
		twist_plane_to_peer_ip(f->tp, e.inner, e.inner_len, ip.seg_len);
}

/* Tunnel mode's demultiplexing: keepalive, raw STUN, ESP; no encapsulated STUN. */
static void from_client_esp(struct worker *w, struct twist_flow *f, uint8_t *buf, size_t len)
{
	switch (twist_esp_classify(buf, len)) {
	case TWIST_ESP_KEEPALIVE:
		f->last_client_ms = w->now_ms;
		return;
	case TWIST_ESP_STUN:
		f->last_client_ms = w->now_ms;
		return turn_client_input(w, &f->c, buf, len);
	case TWIST_ESP_PKT:
		f->last_client_ms = w->now_ms;
		return esp_to_peer(f, buf, len);
	default:
		return twist_plane_drop(f->tp, TWD_BAD);
	}
}

static void from_client(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                        size_t len)
{
	struct twist_flow *f = ctx;
	size_t off = 0;

	/* Caught between bind and connect: another client's, for the listener. */
	if (!tw_addr_eq(src, &f->c.client))
		return udp_stray_input(w, &f->c.local, src, buf, len);
	f->quiet_copy = false;
	tell_standby(f);
	if (f->encap_mode == TWIST_ENCAP_TUNNEL)
		return from_client_esp(w, f, buf, len);
	switch (twist_classify(buf, len, f->proto, f->relayed.port, f->c.local.port, &off)) {
	case TWIST_PKT_KEEPALIVE:
		f->last_client_ms = w->now_ms;
		return;
	case TWIST_PKT_STUN:
		f->last_client_ms = w->now_ms;
		return turn_client_input(w, &f->c, buf, len);
	case TWIST_PKT_STUN_ENCAP:
		f->last_client_ms = w->now_ms;
		f->encap_reply = true;
		turn_client_input(w, &f->c, buf + off, len - off);
		f->encap_reply = false; /* f is closed at most: freed at worker_reap */
		return;
	case TWIST_PKT_SEGMENT:
		f->last_client_ms = w->now_ms;
		return to_peer(f, buf, len);
	default:
		return twist_plane_drop(f->tp, TWD_BAD);
	}
}

/*
 * UDP_GRO on the client socket: a burst the client sent with UDP GSO (its
 * TSO reads, client/tc_flow.c) arrives as one skb and leaves the socket in
 * one read, instead of being cut into up to 64 skbs by the kernel and read
 * back one by one. The datagrams are handled in place: nothing the client
 * path does keeps a pointer into them (segments are copied into the TSO
 * gather, answers are built apart) or writes in front of them.
 */
#define GRO_BUFSZ  65536
#define GRO_ROUNDS 8 /* reads per wake-up before yielding, as dp_drain */

static _Thread_local uint8_t gro_buf[RX_HEADROOM + GRO_BUFSZ];

static bool client_readable(struct worker *w, struct dp_handle *h)
{
	struct twist_flow *f = (struct twist_flow *)((char *)h - offsetof(struct twist_flow, h));
	uint8_t *buf = gro_buf + RX_HEADROOM;
	bool more = true;

	w->now_ms = relay_now_ms();
	for (unsigned round = 0; round < GRO_ROUNDS; round++) {
		struct sockaddr_storage ss;
		struct tw_addr src;
		ssize_t n;
		size_t seg;

		tx_flush(w);
		n = udp_recv_gro(h->fd, buf, GRO_BUFSZ, &ss, &seg);
		if (n == -ECONNREFUSED || n == -EINTR)
			continue; /* an earlier ICMP error, reported once */
		if (n < 0 && n != -EMSGSIZE) {
			more = false; /* drained (EAGAIN), or an error the next datagram repeats */
			break;
		}
		if (tw_addr_from_sa((struct sockaddr *)&ss, &src) < 0)
			continue;
		if (n < 0) { /* truncated */
			worker_drop(w, DROP_OVERSIZE, &src);
			continue;
		}
		if (seg < (size_t)n)
			twist_count_gro(f->tp, ((size_t)n + seg - 1) / seg);
		for (size_t off = 0; off < (size_t)n && h->fd >= 0; off += seg) {
			size_t len = (size_t)n - off < seg ? (size_t)n - off : seg;

			if (len > RX_BUFSZ)
				worker_drop(w, DROP_OVERSIZE, &src);
			else
				from_client(w, f, &src, buf + off, len);
		}
		if (h->fd < 0)
			return false; /* closed by what it carried; dp_close flushed */
		twist_plane_flush(f->tp, w);
	}
	tx_flush(w);
	twist_plane_flush(f->tp, w);
	return more; /* true: stopped at GRO_ROUNDS, dp re-arms it (edge-triggered) */
}

#define TWIST_RCVBUF (4 << 20)

/* The connected per-client socket (decision 1), from the listener's address. */
int twist_flow_connect(struct twist_flow *f)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = udp_client_socket(&f->c.local, &f->c.client), rcvbuf = TWIST_RCVBUF;

	if (fd < 0)
		return fd;
	/*
	 * A client's UDP GSO send lands here as up to 64 datagrams at once;
	 * with the default buffer (about 200 KB of skb truesize) a bulk TCP
	 * flow lost one datagram in five to UdpRcvbufErrors. Best effort:
	 * FORCE needs CAP_NET_ADMIN, which the TUN already wanted.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* Best effort too: without it the kernel cuts bursts up (client_readable). */
	(void)udp_gro_on(fd);
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    tw_addr_from_sa((struct sockaddr *)&ss, &f->server) < 0)
		f->server = f->c.local;
	f->h.fd = fd;
	f->h.readable = client_readable;
	return dp_watch(f->flow.w, &f->h);
}

static uint32_t spi_random(void)
{
	uint32_t r;

	/* Never fails for 4 bytes; a fixed SPI would still work, only guessably. */
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0x5a5a5a5a;
	return r;
}

struct twist_flow *twist_flow_alloc(struct worker *w, const struct alloc_key *k)
{
	struct twist_flow *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	flow_init(&f->flow, &twist_flow_ops, w, k, true);
	f->h.fd = -1;
	f->tp = w->r->twist;
	f->c = (struct conn){
	        .ops = &twist_conn_ops, .w = w, .client = k->client, .local = k->local};
	f->c.tw = f;
	f->c.authed = true;
	return f;
}

struct twist_flow *twist_flow_find(struct worker *w, const struct alloc_key *k)
{
	/* A walk over the worker's flows: only the standby's imports look. */
	for (struct flow *fl = flow_first(w); fl; fl = fl->next)
		if (fl->ops == &twist_flow_ops && alloc_key_eq(&fl->key, k))
			return (struct twist_flow *)fl;
	return NULL;
}

int twist_flow_new(struct worker *w, const struct conn *c, const struct twist_ask *ask,
                   struct twist_flow **out)
{
	struct twist_plane *tp = w->r->twist;
	struct alloc_key k = {.transport = STUN_PROTO_UDP, .client = c->client, .local = c->local};
	struct twist_flow *f;
	int code;

	if (!twist_plane_up(tp))
		return 508;
	f = twist_flow_alloc(w, &k);
	if (!f)
		return 508;
	f->type = ask->type;
	f->proto = ask->proto;
	f->ka = ask->ka;
	f->encap_mode = ask->mode;
	if (ask->mode == TWIST_ENCAP_TUNNEL)
		f->spi = twist_spi_from(spi_random());
	snprintf(f->user, sizeof(f->user), "%s", ask->user);
	memcpy(f->tid, ask->tid, STUN_TID_LEN);
	f->expires = w->now_ms + ask->lifetime_s * 1000;
	f->last_client_ms = w->now_ms;
	if (ask->type == TWIST_TYPE_CONNECT) {
		f->peer = ask->peer;
		f->latched = 1;
		f->latch_told = true; /* in the first tuple */
	} else {
		f->want = ask->peer;
	}
	code = twist_plane_link(tp, f, ask);
	if (!code && twist_flow_connect(f) < 0)
		code = 508;
	if (code) {
		flow_free(&f->flow);
		return code;
	}
	flow_publish(&f->flow);
	*out = f;
	return 0;
}

uint32_t twist_flow_left_s(const struct twist_flow *f, uint64_t now_ms)
{
	return f->expires > now_ms ? (uint32_t)((f->expires - now_ms) / 1000) : 0;
}

void twist_flow_release(struct twist_flow *f)
{
	if (f->in_plane)
		twist_plane_unlink(f->tp, f);
}

void twist_flow_set_expiry(struct twist_flow *f, uint64_t expires_ms)
{
	f->expires = expires_ms;
	flow_changed(&f->flow);
}
