/*
 * The TWIST plane, shared by every worker: the relayed ports with their
 * flows and cookies, the per-user counts, and the TUN device both ways.
 * Flows live on their workers (relay/twist_flow.c); the plane's lock
 * guards the port table, the user counts, each flow's pnext and latching.
 * Worker 0 reads the TUN and sends peer packets to a flow's client socket
 * under that lock; a flow leaves the table before its socket closes.
 */
#include <endian.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/udp_gso.h"
#include "proto/tso.h"
#include "proto/twist_esp.h"
#include "relay/siphash.h"
#include "relay/twist_flow.h"
#include "proto/tso_gather.h"
#include "relay/twist_tun.h"

#define COOKIE_LINGER_MS 30000 /* spec §6: a cookie outlives its last flow by 30 s */
#define MAX_ARMED        8     /* spec §6: armed flows waiting on one port */
#define USER_BUCKETS     256
#define TUN_BATCH        64             /* packets read per wake-up */
#define TUN_BUF          (65536 + 1024) /* a TSO read: up to 64 KB of IP packet */
#define TSO_OUT_MAX      65000          /* bytes per UDP GSO send (64 KB with headers) */
#define TSO_OUT_SEGS     64             /* datagrams per UDP GSO send (the kernel's most) */
#define GSO_SLOTS        1024           /* config_check.c's MAX_WORKERS */

/* One relayed port: its flows, and the cookie that re-arms it. */
struct tw_port {
	struct twist_flow *head;
	uint64_t user_h; /* who holds the cookie */
	uint64_t linger_until;
	uint8_t cookie[TWIST_COOKIE_LEN];
	uint8_t narmed;
	bool cookie_live;
};

struct tw_user {
	struct tw_user *next;
	uint64_t h;
	unsigned n;
};

/*
 * A worker's own gathering of segments for the TUN, and its client-to-peer
 * counts since its last flush: one atomic add per flush instead of two per
 * segment on the cache line every worker and the TUN reader share (5 % of
 * the relay's time in one bulk TCP flow). A line each: workers write only
 * their own.
 */
struct tp_slot {
	_Alignas(64) struct tso_gather *gso; /* made on first use */
	uint64_t pkts, bytes;
};

struct twist_plane {
	pthread_mutex_t mu; /* ports, users, flows' pnext and latching */
	int fd;
	struct event *ev;
	struct tw_addr relay[2];
	uint16_t pmin, pmax, cursor;
	struct tw_port *ports;
	struct tw_user *users[USER_BUCKETS];
	unsigned max_per_user;
	uint64_t idle_ms, seq;
	uint8_t key[16];
	struct twist_stats st; /* atomic */
	struct tp_slot slot[GSO_SLOTS];
	uint8_t buf[TUN_BUF];      /* the reader's; one thread reads */
	uint8_t ind[TUN_BUF + 64]; /* the reader's: a Data indication around a segment */
	uint8_t out[TUN_BUF];      /* the reader's: a TSO read's segments for one send */
	bool no_gso;               /* the reader's: the kernel refused UDP GSO for good */
};

const int twist_err_codes[TWIST_ERR_CODES] = {400, 401, 403, 437, 440, 441, 442, 443, 486, 508};

static const char *const drop_names[TWD__COUNT] = {
        [TWD_BAD] = "bad_datagram",
        [TWD_NOT_LATCHED] = "not_latched",
        [TWD_WRONG_PEER] = "wrong_peer",
        [TWD_MALFORMED] = "malformed",
        [TWD_NO_FLOW] = "no_flow",
        [TWD_TUN_WRITE] = "tun_write",
        [TWD_SEND] = "send_error",
        [TWD_PROTO] = "other_protocol",
        [TWD_ESP] = "esp_malformed",
        [TWD_ESP_DUMMY] = "esp_dummy",
        [TWD_SPI] = "wrong_spi",
        [TWD_INNER] = "inner_malformed",
        [TWD_INNER_SRC] = "inner_source",
        [TWD_INNER_DST] = "inner_destination",
        [TWD_INNER_PROTO] = "inner_protocol",
};

const char *twist_drop_name(enum twist_drop d)
{
	return drop_names[d];
}

#define TW_ADD(tp, field, n) __atomic_add_fetch(&(tp)->st.field, (n), __ATOMIC_RELAXED)

void twist_plane_drop(struct twist_plane *tp, enum twist_drop d)
{
	TW_ADD(tp, drops[d], 1);
}

void twist_count_error(struct twist_plane *tp, int code)
{
	for (unsigned i = 0; tp && i < TWIST_ERR_CODES; i++)
		if (twist_err_codes[i] == code)
			TW_ADD(tp, errors[i], 1);
}

void twist_count_gro(struct twist_plane *tp, uint64_t n)
{
	TW_ADD(tp, gro_reads, 1);
	TW_ADD(tp, gro_dgrams, n);
}

void twist_plane_stats(struct twist_plane *tp, struct twist_stats *out)
{
	const uint64_t *src = (const uint64_t *)&tp->st;
	uint64_t *dst = (uint64_t *)out;

	/* Every field is 64 bits wide: copy them one relaxed load each. */
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* Quotas: flows per user, under the plane's lock. */
static struct tw_user **user_slot(struct twist_plane *tp, uint64_t h)
{
	struct tw_user **u = &tp->users[h % USER_BUCKETS];

	while (*u && (*u)->h != h)
		u = &(*u)->next;
	return u;
}

static uint64_t user_hash(const struct twist_plane *tp, const char *user)
{
	return siphash(tp->key, user, strlen(user));
}

static int user_take(struct twist_plane *tp, uint64_t h, bool enforce)
{
	struct tw_user **u = user_slot(tp, h);

	if (enforce && *u && tp->max_per_user && (*u)->n >= tp->max_per_user)
		return -EDQUOT;
	if (!*u) {
		*u = calloc(1, sizeof(**u));
		if (!*u)
			return -ENOMEM;
		(*u)->h = h;
	}
	(*u)->n++;
	return 0;
}

static void user_give(struct twist_plane *tp, uint64_t h)
{
	struct tw_user **u = user_slot(tp, h), *dead;

	if (!*u || --(*u)->n)
		return;
	dead = *u;
	*u = dead->next;
	free(dead);
}

static struct tw_port *port_of(struct twist_plane *tp, uint16_t port)
{
	if (port < tp->pmin || port > tp->pmax)
		return NULL;
	return &tp->ports[port - tp->pmin];
}

static bool port_free(const struct tw_port *p, uint64_t now)
{
	return !p->head && (!p->cookie_live || now >= p->linger_until);
}

/* A free port, round robin, so that a port just given back is not reused at once. */
static int port_pick(struct twist_plane *tp, uint64_t now)
{
	unsigned n = (unsigned)(tp->pmax - tp->pmin) + 1;

	for (unsigned i = 0; i < n; i++) {
		uint16_t port = (uint16_t)(tp->pmin + (tp->cursor + i) % n);

		if (port_free(port_of(tp, port), now)) {
			tp->cursor = (uint16_t)((tp->cursor + i + 1) % n);
			return port;
		}
	}
	return -ENOSPC;
}

/* The cookie names its port in the first two bytes; the rest is random. */
static int cookie_port(struct twist_plane *tp, const struct twist_ask *ask, uint64_t uh,
                       uint64_t now)
{
	uint16_t port = (uint16_t)(ask->cookie[0] << 8 | ask->cookie[1]);
	struct tw_port *p = port_of(tp, port);

	if (!p || !p->cookie_live || (!p->head && now >= p->linger_until) ||
	    memcmp(p->cookie, ask->cookie, TWIST_COOKIE_LEN) != 0)
		return -403;
	if (p->user_h != uh)
		return -441;
	if (p->narmed >= MAX_ARMED)
		return -486;
	return port;
}

static void cookie_new(struct tw_port *p, uint16_t port, uint64_t uh)
{
	if (getrandom(p->cookie, sizeof(p->cookie), 0) != sizeof(p->cookie))
		memset(p->cookie, 0x5a, sizeof(p->cookie)); /* never fails for 8 bytes */
	p->cookie[0] = (uint8_t)(port >> 8);
	p->cookie[1] = (uint8_t)port;
	p->user_h = uh;
	p->cookie_live = true;
}

static int64_t *flows_gauge(struct twist_plane *tp, const struct twist_flow *f)
{
	return &tp->st.flows[f->type == TWIST_TYPE_LISTEN][f->proto == STUN_PROTO_TCP];
}

/* Takes a port (new, or the cookie's) and links f there; a STUN error code. */
int twist_plane_link(struct twist_plane *tp, struct twist_flow *f, const struct twist_ask *ask)
{
	uint64_t now = relay_now_ms(), uh = user_hash(tp, f->user);
	struct tw_port *p;
	int port, code = 0;

	pthread_mutex_lock(&tp->mu);
	port = ask->has_cookie ? cookie_port(tp, ask, uh, now) : port_pick(tp, now);
	if (port == -ENOSPC)
		code = 508;
	else if (port < 0)
		code = -port;
	else if (user_take(tp, uh, true) < 0)
		code = 486;
	if (code) {
		pthread_mutex_unlock(&tp->mu);
		return code;
	}
	p = port_of(tp, (uint16_t)port);
	f->relayed = tp->relay[ask->family == TW_AF_INET6];
	f->relayed.port = (uint16_t)port;
	if (f->type == TWIST_TYPE_LISTEN) {
		if (!ask->has_cookie)
			cookie_new(p, (uint16_t)port, uh);
		memcpy(f->cookie, p->cookie, TWIST_COOKIE_LEN);
		f->armed_seq = ++tp->seq;
		p->narmed++;
	}
	f->pnext = p->head;
	p->head = f;
	f->in_plane = true;
	__atomic_add_fetch(flows_gauge(tp, f), 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&tp->mu);
	return 0;
}

/*
 * The standby's side: the port and cookie the active chose. No quota (the
 * active enforced it), and the port may already hold the cookie's other
 * flows.
 */
int twist_plane_adopt(struct twist_plane *tp, struct twist_flow *f)
{
	struct tw_port *p;
	int rc = 0;

	pthread_mutex_lock(&tp->mu);
	p = port_of(tp, f->relayed.port);
	if (!p || !tw_addr_ip_eq(&f->relayed, &tp->relay[f->relayed.family == TW_AF_INET6])) {
		rc = -ERANGE;
		goto done;
	}
	if (user_take(tp, user_hash(tp, f->user), false) < 0) {
		rc = -ENOMEM;
		goto done;
	}
	if (f->type == TWIST_TYPE_LISTEN) {
		memcpy(p->cookie, f->cookie, TWIST_COOKIE_LEN);
		p->user_h = user_hash(tp, f->user);
		p->cookie_live = true;
		f->armed_seq = ++tp->seq;
		if (!__atomic_load_n(&f->latched, __ATOMIC_RELAXED))
			p->narmed++;
	}
	f->pnext = p->head;
	p->head = f;
	f->in_plane = true;
	__atomic_add_fetch(flows_gauge(tp, f), 1, __ATOMIC_RELAXED);
done:
	pthread_mutex_unlock(&tp->mu);
	return rc;
}

void twist_plane_latch(struct twist_plane *tp, struct twist_flow *f, const struct tw_addr *peer)
{
	pthread_mutex_lock(&tp->mu);
	if (!__atomic_load_n(&f->latched, __ATOMIC_RELAXED)) {
		f->peer = *peer;
		__atomic_store_n(&f->latched, 1, __ATOMIC_RELEASE);
		if (f->in_plane && f->type == TWIST_TYPE_LISTEN)
			port_of(tp, f->relayed.port)->narmed--;
	}
	pthread_mutex_unlock(&tp->mu);
}

void twist_plane_unlink(struct twist_plane *tp, struct twist_flow *f)
{
	struct tw_port *p;
	struct twist_flow **pp;

	pthread_mutex_lock(&tp->mu);
	p = port_of(tp, f->relayed.port);
	for (pp = &p->head; *pp && *pp != f; pp = &(*pp)->pnext)
		;
	if (*pp)
		*pp = f->pnext;
	if (f->type == TWIST_TYPE_LISTEN && !__atomic_load_n(&f->latched, __ATOMIC_RELAXED))
		p->narmed--;
	if (!p->head)
		p->linger_until = relay_now_ms() + COOKIE_LINGER_MS;
	user_give(tp, user_hash(tp, f->user));
	__atomic_sub_fetch(flows_gauge(tp, f), 1, __ATOMIC_RELAXED);
	f->in_plane = false;
	pthread_mutex_unlock(&tp->mu);
}

/*
 * A segment from a flow's client for its peer: an IP header in front, into
 * the TUN, now or gathered with the next ones (proto/tso_gather.h) until
 * twist_plane_flush().
 */
void twist_plane_to_peer(struct twist_plane *tp, const struct twist_flow *f, const uint8_t *seg,
                         size_t len)
{
	unsigned id = f->flow.w->id;
	struct tp_slot *sl = &tp->slot[id < GSO_SLOTS ? id : 0];

	if (!sl->gso && !(sl->gso = tso_gather_new()))
		return twist_plane_drop(tp, TWD_TUN_WRITE);
	if (tso_gather_put(sl->gso, tp->fd, f, &f->relayed, &f->peer, f->proto, seg, len) < 0)
		twist_plane_drop(tp, TWD_TUN_WRITE);
	sl->pkts++;
	sl->bytes += len;
}

void twist_plane_to_peer_ip(struct twist_plane *tp, const uint8_t *pkt, size_t len, size_t seg_len)
{
	struct virtio_net_hdr vh = {.gso_type = VIRTIO_NET_HDR_GSO_NONE};
	struct iovec iov[2] = {{&vh, sizeof(vh)}, {(void *)pkt, len}};

	if (writev(tp->fd, iov, 2) < 0)
		return twist_plane_drop(tp, TWD_TUN_WRITE);
	TW_ADD(tp, pkts[0], 1);
	TW_ADD(tp, bytes[0], seg_len);
}

void twist_plane_flush(struct twist_plane *tp, const struct worker *w)
{
	struct tp_slot *sl = &tp->slot[w->id < GSO_SLOTS ? w->id : 0];

	if (sl->gso && tso_gather_flush(sl->gso, tp->fd) < 0)
		twist_plane_drop(tp, TWD_TUN_WRITE);
	if (sl->pkts) {
		TW_ADD(tp, pkts[0], sl->pkts);
		TW_ADD(tp, bytes[0], sl->bytes);
		sl->pkts = sl->bytes = 0;
	}
}

bool twist_plane_up(const struct twist_plane *tp)
{
	return tp && tp->fd >= 0;
}

uint64_t twist_plane_idle_ms(const struct twist_plane *tp)
{
	return tp->idle_ms;
}

/* ---- the TUN side (worker 0) ---- */

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
	            ? port_of(tp, ip.dst.port)
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
	            ? port_of(tp, ip.dst.port)
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

static void tun_cb(evutil_socket_t fd, short what, void *arg)
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

struct twist_plane *twist_plane_new(const struct config *cfg, char *err, size_t errlen)
{
	/* aligned: the slots are a cache line each */
	struct twist_plane *tp = aligned_alloc(_Alignof(struct twist_plane), sizeof(*tp));
	unsigned n = (unsigned)(cfg->twist_port_max - cfg->twist_port_min) + 1;

	if (tp)
		memset(tp, 0, sizeof(*tp));
	if (!tp || !(tp->ports = calloc(n, sizeof(*tp->ports)))) {
		snprintf(err, errlen, "twist: out of memory");
		free(tp);
		return NULL;
	}
	pthread_mutex_init(&tp->mu, NULL);
	tp->relay[0] = cfg->twist_relay4;
	tp->relay[1] = cfg->twist_relay6;
	tp->pmin = cfg->twist_port_min;
	tp->pmax = cfg->twist_port_max;
	tp->max_per_user = cfg->twist_max_flows_per_user;
	tp->idle_ms = (uint64_t)cfg->twist_idle_timeout * 1000;
	if (getrandom(tp->key, sizeof(tp->key), 0) != sizeof(tp->key))
		memset(tp->key, 0x42, sizeof(tp->key));
	tp->fd = twist_tun_open(cfg->twist_tun, &tp->relay[0], &tp->relay[1], err, errlen);
	if (tp->fd < 0) {
		twist_plane_free(tp);
		return NULL;
	}
	return tp;
}

int twist_plane_watch(struct twist_plane *tp, struct worker *w)
{
	tp->ev = event_new(w->base, tp->fd, EV_READ | EV_PERSIST, tun_cb, tp);
	if (!tp->ev || event_add(tp->ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void twist_plane_unwatch(struct twist_plane *tp)
{
	if (tp && tp->ev) {
		event_free(tp->ev);
		tp->ev = NULL;
	}
}

void twist_plane_free(struct twist_plane *tp)
{
	if (!tp)
		return;
	twist_plane_unwatch(tp);
	/* Closing the device's descriptor removes it and its routes. */
	if (tp->fd >= 0)
		close(tp->fd);
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		while (tp->users[i]) {
			struct tw_user *u = tp->users[i];

			tp->users[i] = u->next;
			free(u);
		}
	for (unsigned i = 0; i < GSO_SLOTS; i++)
		tso_gather_free(tp->slot[i].gso);
	pthread_mutex_destroy(&tp->mu);
	free(tp->ports);
	free(tp);
}
