/*
 * The TWIST plane's peer-to-client side (worker 0): packets the kernel
 * routes into the TUN for a relayed address go to the flow that takes them,
 * under the plane's lock: a bare segment, a Data indication until a listen
 * flow's client has spoken, or ESP in tunnel mode. A TSO read is cut here
 * and its segments go out in one UDP GSO send (docs/architecture.md, "TWIST
 * data path").
 */
#include <endian.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/udp_gso.h"
#include "proto/stun.h"
#include "proto/tso.h"
#include "proto/twist_esp.h"
#include "relay/twist_plane_int.h"

/*
 * A listen flow with XOR-PEER-ADDRESS takes only that peer: its IP, and its
 * port unless 0 (a TCP peer connects from a port nobody knows in advance).
 */
static bool wanted(const struct twist_flow *f, const struct tw_addr *src)
{
	if (!f->want.family)
		return true;
	return tw_addr_ip_eq(&f->want, src) && (!f->want.port || f->want.port == src->port);
}

/* The flow that takes a peer packet: latched to that peer, else the oldest armed. */
static struct twist_flow *match(struct tw_port *p, const struct twist_ip *ip, bool opens)
{
	struct twist_flow *f, *armed = NULL;

	for (f = p->head; f; f = f->pnext) {
		if (f->proto != ip->proto || f->relayed.family != ip->dst.family)
			continue;
		if (__atomic_load_n(&f->latched, __ATOMIC_RELAXED)) {
			if (tw_addr_eq(&f->peer, &ip->src))
				return f;
			continue;
		}
		if (!wanted(f, &ip->src))
			continue;
		if (opens && (!armed || f->armed_seq < armed->armed_seq))
			armed = f;
	}
	if (!armed)
		return NULL;
	armed->peer = ip->src;
	__atomic_store_n(&armed->latched, 1, __ATOMIC_RELEASE);
	p->narmed--;
	return armed;
}

/* A TCP SYN without ACK, or any UDP datagram, may latch an armed listen flow. */
static bool opens_flow(const struct twist_ip *ip)
{
	struct twist_seg s;

	if (twist_seg_parse(ip->seg, ip->seg_len, ip->proto, &s) < 0)
		return false;
	return ip->proto == STUN_PROTO_UDP || (s.syn && !s.ack);
}

/*
 * A bare segment has no address, and a listen flow's client needs its
 * peer's: so until the client has sent a segment, the peer's packets go as
 * Data indications with XOR-PEER-ADDRESS (docs/twist-protocol.md §6).
 */
static ssize_t send_indication(struct twist_plane *tp, struct twist_flow *f,
                               const struct twist_ip *ip)
{
	struct stun_wr w;
	uint8_t tid[STUN_TID_LEN];
	int n;

	if (ip->seg_len > STUN_MAX_MSG - 64) /* the STUN length field must hold it */
		return -1;
	if (getrandom(tid, sizeof(tid), 0) != sizeof(tid))
		memset(tid, 0, sizeof(tid));
	stun_wr_init(&w, tp->ind, sizeof(tp->ind), STUN_DATA, STUN_INDICATION, tid);
	stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &ip->src);
	stun_wr_attr(&w, STUN_A_DATA, ip->seg, ip->seg_len);
	n = stun_wr_finish(&w);
	if (n < 0)
		return -1;
	return send(f->h.fd, tp->ind, (size_t)n, MSG_DONTWAIT);
}

/*
 * Tunnel mode: the peer's whole packet goes to the client in ESP, from
 * the first one on (its IP header names the peer, so a listen flow needs
 * no Data indication). pkt has TWIST_ESP_HDR bytes of room before it and
 * TWIST_ESP_OVERHEAD_MAX after (tun_cb reads that way); under the lock.
 */
_Static_assert(sizeof(struct virtio_net_hdr) >= TWIST_ESP_HDR, "ESP header room");

/* The inner packet at esp + TWIST_ESP_HDR (len bytes) wrapped with the flow's next sequence number.
 */
static int esp_wrap_next(struct twist_flow *f, uint8_t *esp, size_t len)
{
	/* No anti-replay at either end (§9), so the counter may wrap; 0 is skipped. */
	if (++f->esp_seq_out == 0)
		f->esp_seq_out = 1;
	return twist_esp_wrap(esp, len + TWIST_ESP_OVERHEAD_MAX, len, f->spi, f->esp_seq_out);
}

static ssize_t send_esp(struct twist_flow *f, uint8_t *pkt, size_t len)
{
	uint8_t *esp = pkt - TWIST_ESP_HDR;
	int n = esp_wrap_next(f, esp, len);

	if (n < 0)
		return -1;
	return send(f->h.fd, esp, (size_t)n, MSG_DONTWAIT);
}

static void from_tun(struct twist_plane *tp, uint8_t *pkt, size_t len)
{
	struct twist_ip ip;
	struct twist_flow *f;
	struct tw_port *p;
	ssize_t n = -1;

	n = twist_ip_parse(pkt, len, &ip);
	/* IPv6 with extension headers first (MLD's hop-by-hop) is not ours either. */
	if (n == -EPROTONOSUPPORT || (n < 0 && len >= 40 && pkt[0] >> 4 == 6 &&
	                              pkt[6] != STUN_PROTO_UDP && pkt[6] != STUN_PROTO_TCP))
		return twist_plane_drop(tp, TWD_PROTO);
	if (n < 0)
		return twist_plane_drop(tp, TWD_MALFORMED);
	n = -1;
	pthread_mutex_lock(&tp->mu);
	p = tw_addr_ip_eq(&ip.dst, &tp->relay[ip.dst.family == TW_AF_INET6])
	            ? twist_port_of(tp, ip.dst.port)
	            : NULL;
	f = p ? match(p, &ip, opens_flow(&ip)) : NULL;
	if (f && f->encap_mode == TWIST_ENCAP_TUNNEL)
		n = send_esp(f, pkt, len);
	else if (f && f->type == TWIST_TYPE_LISTEN &&
	         !__atomic_load_n(&f->client_spoke, __ATOMIC_RELAXED))
		n = send_indication(tp, f, &ip);
	else if (f)
		n = send(f->h.fd, ip.seg, ip.seg_len, MSG_DONTWAIT);
	pthread_mutex_unlock(&tp->mu);
	if (!f)
		return twist_plane_drop(tp, TWD_NO_FLOW);
	if (n < 0)
		return twist_plane_drop(tp, TWD_SEND);
	TW_ADD(tp, pkts[1], 1);
	TW_ADD(tp, bytes[1], ip.seg_len);
}

/* A checksum the TUN left partial (NEEDS_CSUM) made whole: the client checks it. */
static int csum_whole(uint8_t *pkt, size_t len)
{
	struct twist_ip ip;

	if (twist_ip_parse(pkt, len, &ip) < 0)
		return -1;
	return twist_l4_csum_set(&ip.src, &ip.dst, ip.proto, pkt + (ip.seg - pkt), ip.seg_len);
}

/* The cutting of one TSO read for its flow (from_tun_tso), under the lock. */
struct tso_run {
	struct twist_plane *tp;
	struct twist_flow *f;
	const struct twist_ip *ip; /* the read's addresses */
	size_t len, seg;           /* gathered bytes in tp->out, their datagram size */
	unsigned n, sent, bytes, failed;
};

static void tso_flush(struct tso_run *r)
{
	int rc;

	if (!r->n)
		return;
	rc = udp_send_segs(r->f->h.fd, r->tp->out, r->len, r->seg, &r->tp->no_gso);
	if (rc < 0)
		r->failed += r->n;
	else
		r->sent += r->n;
	r->len = r->n = 0;
}

/* Room for a datagram of up to max bytes at the run's end (sending the run first if full). */
static uint8_t *run_room(struct tso_run *r, size_t max)
{
	if (r->n && (r->len + max > TSO_OUT_MAX || r->n == TSO_OUT_SEGS))
		tso_flush(r);
	return max <= sizeof(r->tp->out) - r->len ? r->tp->out + r->len : NULL;
}

/*
 * The dl-byte datagram just written at the run's end joins it. UDP GSO
 * wants every datagram but the last of one size: a larger one starts a
 * new run, a shorter one ends this one.
 */
static void run_add(struct tso_run *r, size_t dl, size_t seg_len)
{
	if (r->n && dl > r->seg) {
		uint8_t *d = r->tp->out + r->len;

		tso_flush(r);
		memmove(r->tp->out, d, dl);
	}
	if (!r->n)
		r->seg = dl;
	r->len += dl;
	r->n++;
	r->bytes += (unsigned)seg_len;
	if (dl < r->seg)
		tso_flush(r);
}

/* Transport mode: the bare segment, checksum made whole, gathered for one send. */
static int tso_gather(void *ctx, uint8_t *pkt, size_t len, size_t iphl, int last)
{
	struct tso_run *r = ctx;
	uint8_t *seg = pkt + iphl, *d;
	size_t sl = len - iphl;

	(void)last;
	if (twist_l4_csum_set(&r->ip->src, &r->ip->dst, STUN_PROTO_TCP, seg, sl) < 0 ||
	    !(d = run_room(r, sl)))
		return r->failed++, 0;
	memcpy(d, seg, sl);
	run_add(r, sl, sl);
	return 0;
}

/*
 * Tunnel mode: the cut packet, its checksums made whole, in ESP (as
 * send_esp), gathered for one send like transport mode's segments: equal
 * inner packets make equal ESP datagrams.
 */
static int tso_esp(void *ctx, uint8_t *pkt, size_t len, size_t iphl, int last)
{
	struct tso_run *r = ctx;
	struct twist_flow *f = r->f;
	uint8_t *d = run_room(r, len + TWIST_ESP_OVERHEAD_MAX), *in;
	int n;

	(void)last;
	if (!d)
		return r->failed++, 0;
	in = d + TWIST_ESP_HDR;
	memcpy(in, pkt, len);
	tso_ip4_csum_set(in, iphl);
	if (twist_l4_csum_set(&r->ip->src, &r->ip->dst, STUN_PROTO_TCP, in + iphl, len - iphl) < 0)
		return r->failed++, 0;
	n = esp_wrap_next(f, d, len);
	if (n < 0)
		return r->failed++, 0;
	run_add(r, (size_t)n, len - iphl);
	return 0;
}

/*
 * A listen flow still in Data indications: each cut packet alone, as
 * from_tun sends one.
 */
static int tso_each(void *ctx, uint8_t *pkt, size_t len, size_t iphl, int last)
{
	struct tso_run *r = ctx;
	struct twist_ip ip;

	(void)last;
	/* In place: only the segment is sent, so the IP header's checksum does not matter. */
	if (twist_ip_parse(pkt, len, &ip) < 0 ||
	    twist_l4_csum_set(&ip.src, &ip.dst, ip.proto, pkt + iphl, len - iphl) < 0 ||
	    send_indication(r->tp, r->f, &ip) < 0)
		return r->failed++, 0;
	r->sent++;
	r->bytes += (unsigned)ip.seg_len;
	return 0;
}

/*
 * A TCP super-packet from the TUN (TSO toward us, twist_tun.c): cut into
 * the peer's segments, which go to the client as one UDP GSO send (in
 * ESP in tunnel mode). Only a latched flow takes it: a super-packet never opens
 * one (a SYN is never one).
 */
static void from_tun_tso(struct twist_plane *tp, uint8_t *pkt, size_t len, size_t mss)
{
	struct twist_ip ip;
	struct tso_run r = {.tp = tp, .ip = &ip};
	struct tw_port *p;
	int rc;

	if (twist_ip_parse(pkt, len, &ip) < 0 || ip.proto != STUN_PROTO_TCP)
		return twist_plane_drop(tp, TWD_MALFORMED);
	len = (size_t)(ip.seg - pkt) + ip.seg_len; /* nothing past the IP length */
	pthread_mutex_lock(&tp->mu);
	p = tw_addr_ip_eq(&ip.dst, &tp->relay[ip.dst.family == TW_AF_INET6])
	            ? twist_port_of(tp, ip.dst.port)
	            : NULL;
	r.f = p ? match(p, &ip, false) : NULL;
	if (!r.f) {
		pthread_mutex_unlock(&tp->mu);
		return twist_plane_drop(tp, TWD_NO_FLOW);
	}
	if (r.f->encap_mode == TWIST_ENCAP_TUNNEL)
		rc = tso_cut(pkt, len, mss, tso_esp, &r);
	else if (r.f->type != TWIST_TYPE_LISTEN ||
	         __atomic_load_n(&r.f->client_spoke, __ATOMIC_RELAXED))
		rc = tso_cut(pkt, len, mss, tso_gather, &r);
	else
		rc = tso_cut(pkt, len, mss, tso_each, &r);
	tso_flush(&r);
	pthread_mutex_unlock(&tp->mu);
	if (rc < 0)
		twist_plane_drop(tp, TWD_MALFORMED);
	TW_ADD(tp, tso_reads, 1);
	TW_ADD(tp, tso_segs, rc > 0 ? (uint64_t)rc : 0);
	for (unsigned i = 0; i < r.failed; i++)
		twist_plane_drop(tp, TWD_SEND);
	TW_ADD(tp, pkts[1], r.sent);
	TW_ADD(tp, bytes[1], r.bytes);
}

/* One read: a whole packet, one with its checksum left partial, or a TSO super-packet. */
static void tun_packet(struct twist_plane *tp, const struct virtio_net_hdr *vh, uint8_t *pkt,
                       size_t len)
{
	switch (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && csum_whole(pkt, len) < 0)
			return twist_plane_drop(tp, TWD_MALFORMED);
		return from_tun(tp, pkt, len);
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return from_tun_tso(tp, pkt, len, le16toh(vh->gso_size));
	default:
		return twist_plane_drop(tp, TWD_MALFORMED);
	}
}

void twist_tun_cb(evutil_socket_t fd, short what, void *arg)
{
	struct twist_plane *tp = arg;

	(void)what;
	for (unsigned i = 0; i < TUN_BATCH; i++) {
		struct virtio_net_hdr vh;
		/* Room behind the packet for an ESP trailer (send_esp). */
		ssize_t n = read(fd, tp->buf, sizeof(tp->buf) - TWIST_ESP_OVERHEAD_MAX);

		if (n <= 0)
			return;
		if ((size_t)n <= sizeof(struct virtio_net_hdr)) {
			twist_plane_drop(tp, TWD_MALFORMED);
			continue;
		}
		memcpy(&vh, tp->buf, sizeof(vh));
		tun_packet(tp, &vh, tp->buf + sizeof(vh), (size_t)n - sizeof(vh));
	}
}
