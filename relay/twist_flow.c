#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "relay/netaddr.h"
#include "relay/siphash.h"
#include "relay/turn.h"
#include "relay/twist_flow.h"
#include "relay/twist_tun.h"
#include "relay/udp.h"

#define COOKIE_LINGER_MS 30000 /* spec §6: a cookie outlives its last flow by 30 s */
#define MAX_ARMED        8     /* spec §6: armed flows waiting on one port */
#define USER_BUCKETS     256
#define TUN_BATCH        64 /* packets read per wake-up */
#define TUN_BUF          65536
#define ENCAP_MAX        (1500 + TWIST_UDP_HDR) /* an answer behind a UDP header */

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
	struct twist_stats st;     /* atomic */
	uint8_t buf[TUN_BUF];      /* the reader's; one thread reads */
	uint8_t ind[TUN_BUF + 64]; /* the reader's: a Data indication around a segment */
};

const int twist_err_codes[TWIST_ERR_CODES] = {400, 401, 403, 437, 440, 441, 442, 443, 486, 508};

static const char *const drop_names[TWD__COUNT] = {
        [TWD_BAD] = "bad_datagram",      [TWD_NOT_LATCHED] = "not_latched",
        [TWD_WRONG_PEER] = "wrong_peer", [TWD_MALFORMED] = "malformed",
        [TWD_NO_FLOW] = "no_flow",       [TWD_TUN_WRITE] = "tun_write",
        [TWD_SEND] = "send_error",       [TWD_PROTO] = "other_protocol",
};

const char *twist_drop_name(enum twist_drop d)
{
	return drop_names[d];
}

#define TW_ADD(tp, field, n) __atomic_add_fetch(&(tp)->st.field, (n), __ATOMIC_RELAXED)

static void drop(struct twist_plane *tp, enum twist_drop d)
{
	TW_ADD(tp, drops[d], 1);
}

void twist_count_error(struct twist_plane *tp, int code)
{
	for (unsigned i = 0; tp && i < TWIST_ERR_CODES; i++)
		if (twist_err_codes[i] == code)
			TW_ADD(tp, errors[i], 1);
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

static int user_take(struct twist_plane *tp, uint64_t h)
{
	struct tw_user **u = user_slot(tp, h);

	if (*u && tp->max_per_user && (*u)->n >= tp->max_per_user)
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
static int plane_link(struct twist_plane *tp, struct twist_flow *f, const struct twist_ask *ask)
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
	else if (user_take(tp, uh) < 0)
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

static void plane_unlink(struct twist_plane *tp, struct twist_flow *f)
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

/* ---- the flow kind ---- */

static void tw_close(struct flow *fl)
{
	struct twist_flow *f = (struct twist_flow *)fl;

	/* Out of the table first: worker 0 sends on h.fd only under the lock. */
	if (f->in_plane)
		plane_unlink(f->tp, f);
	if (f->h.fd >= 0)
		dp_close(fl->w, &f->h);
}

static void tw_destroy(struct flow *fl)
{
	free(fl);
}

static void tw_sweep(struct flow *fl, uint64_t now)
{
	struct twist_flow *f = (struct twist_flow *)fl;
	bool idle = now >= f->last_client_ms + f->tp->idle_ms;

	if (now < f->expires && !idle)
		return;
	if (log_enabled(LOG_LVL_INFO)) {
		char rb[TW_ADDR_STRLEN];

		log_info("twist flow %s %s", tw_addr_fmt(&f->relayed, rb, sizeof(rb)),
		         idle ? "idle, expired" : "lifetime over");
	}
	flow_delete(fl);
}

static void tw_export(const struct flow *fl, uint64_t now_ms, struct flow_out *o)
{
	(void)fl;
	(void)now_ms;
	(void)o; /* never called: TWIST flows do not replicate yet (issue 10) */
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

/* A segment from the client for the peer: an IP header in front, into the TUN. */
static void to_peer(struct twist_flow *f, const uint8_t *seg, size_t len)
{
	struct twist_plane *tp = f->tp;
	struct twist_seg s;
	uint8_t hdr[40];
	struct iovec iov[2];
	int hl;

	if (!__atomic_load_n(&f->latched, __ATOMIC_ACQUIRE))
		return drop(tp, TWD_NOT_LATCHED);
	if (twist_seg_parse(seg, len, f->proto, &s) < 0)
		return drop(tp, TWD_MALFORMED);
	if (s.dport != f->peer.port)
		return drop(tp, TWD_WRONG_PEER);
	hl = twist_ip_hdr(hdr, sizeof(hdr), &f->relayed, &f->peer, f->proto, len);
	if (hl < 0)
		return drop(tp, TWD_MALFORMED);
	__atomic_store_n(&f->client_spoke, 1, __ATOMIC_RELAXED);
	iov[0] = (struct iovec){.iov_base = hdr, .iov_len = (size_t)hl};
	iov[1] = (struct iovec){.iov_base = (void *)seg, .iov_len = len};
	if (writev(tp->fd, iov, 2) < 0)
		return drop(tp, TWD_TUN_WRITE);
	TW_ADD(tp, pkts[0], 1);
	TW_ADD(tp, bytes[0], len);
}

static void from_client(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                        size_t len)
{
	struct twist_flow *f = ctx;
	size_t off = 0;

	/* Caught between bind and connect: another client's, for the listener. */
	if (!tw_addr_eq(src, &f->c.client))
		return udp_stray_input(w, &f->c.local, src, buf, len);
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
		return drop(f->tp, TWD_BAD);
	}
}

static bool client_readable(struct worker *w, struct dp_handle *h)
{
	struct twist_flow *f = (struct twist_flow *)((char *)h - offsetof(struct twist_flow, h));

	return dp_drain(w, h->fd, h, from_client, f);
}

/* The connected per-client socket (decision 1), from the listener's address. */
static int connect_client(struct twist_flow *f)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = netaddr_socket(&f->c.local, SOCK_DGRAM), one = 1;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return netaddr_close_err(fd);
	fd = netaddr_bind(fd, &f->c.local, true);
	if (fd < 0)
		return fd;
	sl = netaddr_to_sa(&f->c.client, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return netaddr_close_err(fd);
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    netaddr_from_sa((struct sockaddr *)&ss, &f->server) < 0)
		f->server = f->c.local;
	f->h.fd = fd;
	f->h.readable = client_readable;
	return dp_watch(f->flow.w, &f->h);
}

int twist_flow_new(struct worker *w, const struct conn *c, const struct twist_ask *ask,
                   struct twist_flow **out)
{
	struct twist_plane *tp = w->r->twist;
	struct alloc_key k = {.transport = STUN_PROTO_UDP, .client = c->client, .local = c->local};
	struct twist_flow *f;
	int code;

	if (!tp || tp->fd < 0)
		return 508;
	f = calloc(1, sizeof(*f));
	if (!f)
		return 508;
	flow_init(&f->flow, &twist_flow_ops, w, &k, false);
	f->h.fd = -1;
	f->tp = tp;
	f->c = (struct conn){
	        .ops = &twist_conn_ops, .w = w, .client = c->client, .local = c->local};
	f->c.tw = f;
	f->c.authed = true;
	f->type = ask->type;
	f->proto = ask->proto;
	f->ka = ask->ka;
	snprintf(f->user, sizeof(f->user), "%s", ask->user);
	memcpy(f->tid, ask->tid, STUN_TID_LEN);
	f->expires = w->now_ms + ask->lifetime_s * 1000;
	f->last_client_ms = w->now_ms;
	if (ask->type == TWIST_TYPE_CONNECT) {
		f->peer = ask->peer;
		f->latched = 1;
	} else {
		f->want = ask->peer;
	}
	code = plane_link(tp, f, ask);
	if (!code && connect_client(f) < 0)
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
		plane_unlink(f->tp, f);
}

void twist_flow_set_expiry(struct twist_flow *f, uint64_t expires_ms)
{
	f->expires = expires_ms;
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

static void from_tun(struct twist_plane *tp, const uint8_t *pkt, size_t len)
{
	struct twist_ip ip;
	struct twist_flow *f;
	struct tw_port *p;
	ssize_t n = -1;

	n = twist_ip_parse(pkt, len, &ip);
	/* IPv6 with extension headers first (MLD's hop-by-hop) is not ours either. */
	if (n == -EPROTONOSUPPORT || (n < 0 && len >= 40 && pkt[0] >> 4 == 6 &&
	                              pkt[6] != STUN_PROTO_UDP && pkt[6] != STUN_PROTO_TCP))
		return drop(tp, TWD_PROTO);
	if (n < 0)
		return drop(tp, TWD_MALFORMED);
	n = -1;
	pthread_mutex_lock(&tp->mu);
	p = tw_addr_ip_eq(&ip.dst, &tp->relay[ip.dst.family == TW_AF_INET6])
	            ? port_of(tp, ip.dst.port)
	            : NULL;
	f = p ? match(p, &ip, opens_flow(&ip)) : NULL;
	if (f && f->type == TWIST_TYPE_LISTEN &&
	    !__atomic_load_n(&f->client_spoke, __ATOMIC_RELAXED))
		n = send_indication(tp, f, &ip);
	else if (f)
		n = send(f->h.fd, ip.seg, ip.seg_len, MSG_DONTWAIT);
	pthread_mutex_unlock(&tp->mu);
	if (!f)
		return drop(tp, TWD_NO_FLOW);
	if (n < 0)
		return drop(tp, TWD_SEND);
	TW_ADD(tp, pkts[1], 1);
	TW_ADD(tp, bytes[1], ip.seg_len);
}

static void tun_cb(evutil_socket_t fd, short what, void *arg)
{
	struct twist_plane *tp = arg;

	(void)what;
	for (unsigned i = 0; i < TUN_BATCH; i++) {
		ssize_t n = read(fd, tp->buf, sizeof(tp->buf));

		if (n <= 0)
			return;
		from_tun(tp, tp->buf, (size_t)n);
	}
}

struct twist_plane *twist_plane_new(const struct config *cfg, char *err, size_t errlen)
{
	struct twist_plane *tp = calloc(1, sizeof(*tp));
	unsigned n = (unsigned)(cfg->twist_port_max - cfg->twist_port_min) + 1;

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
	pthread_mutex_destroy(&tp->mu);
	free(tp->ports);
	free(tp);
}
