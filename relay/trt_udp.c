/*
 * The translator's UDP relay (docs/trt.md "UDP"). One mapping per IPv6
 * client address and port: one IPv4 socket bound to the client's paired
 * source, whose port q the kernel picks once, so the client keeps Y4:q
 * toward every destination (RFC 4787 REQ-1, endpoint-independent
 * mapping). Only IPv4 addresses and ports the client has sent to get
 * through (REQ-8, address-and-port-dependent filtering); the rest is
 * counted and dropped.
 *
 * Replies must come from PREFIX::X4 port r. Each destination of a mapping
 * has a socket bound there (IPV6_TRANSPARENT) and connected to the
 * client; being connected, it also receives the client's next datagrams
 * to that destination (the kernel and TPROXY prefer it to the listener),
 * and the kernel fragments replies to the client's path MTU. The idle
 * timer is fed only by the client's datagrams (REQ-6: outbound refresh):
 * a server cannot keep a mapping alive by itself.
 *
 * ICMP: IP_RECVERR on the IPv4 socket; an error from X4 comes back to the
 * client as ICMPv6 from PREFIX::X4 quoting the datagram it sent
 * (proto/trt_pkt.c). IPv4 datagrams leave without DF
 * (IP_PMTUDISC_DONT): a datagram that fits the client's IPv6 path is
 * fragmented on the IPv4 side rather than lost.
 */
#include <errno.h>
#include <time.h>

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "proto/stun.h"
#include "relay/netaddr.h"
#include "relay/trt_int.h"
#include "relay/trt_tuple.h"

#define UDP_RCVBUF    (4 << 20) /* the transparent socket's receive buffer */
#define TRT_UDP_DESTS 16        /* destinations per mapping: sockets bound to each */
#define READ_BATCH    32
#define ERR_BATCH     8

struct trt_umap;

struct udest {
	struct trt_umap *m;
	struct tw_addr d4, d6;
	int fd6;
	struct event *ev;
};

struct trt_umap {
	struct flow flow; /* first */
	struct trt *t;
	struct trt_umap *hnext;
	struct tw_addr c6;
	int fd4;
	struct event *ev4;
	struct udest *dest; /* grown as the client reaches more: most reach one */
	unsigned n_dest, cap_dest;
	struct tw_addr s4; /* Y4:q, once known */
	uint64_t last_ms, exported_ms;
	bool linked;
};

static void client_read_cb(evutil_socket_t fd, short what, void *arg);

/* ---- the table of mappings, by client address and port ---- */

static struct trt_umap **bucket(struct trt *t, const struct tw_addr *c6)
{
	return &t->ubucket[tw_addr_hash(c6, t->seed) & t->umask];
}

static struct trt_umap *umap_find(struct trt *t, const struct tw_addr *c6)
{
	for (struct trt_umap *m = *bucket(t, c6); m; m = m->hnext)
		if (tw_addr_eq(&m->c6, c6))
			return m;
	return NULL;
}

static void umap_unlink(struct trt_umap *m)
{
	struct trt_umap **pp = bucket(m->t, &m->c6);

	while (*pp && *pp != m)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = m->hnext;
	m->linked = false;
}

/* ---- the flow kind ---- */

static void umap_close(struct flow *f)
{
	struct trt_umap *m = (struct trt_umap *)f;

	if (m->linked) {
		umap_unlink(m);
		m->t->n_udp--;
		trt_mapping_add(m->t, TRT_UDP, -1);
	}
	for (unsigned i = 0; i < m->n_dest; i++) {
		if (m->dest[i].ev)
			event_free(m->dest[i].ev);
		if (m->dest[i].fd6 >= 0)
			close(m->dest[i].fd6);
	}
	free(m->dest);
	m->dest = NULL;
	m->n_dest = m->cap_dest = 0;
	if (m->ev4)
		event_free(m->ev4);
	m->ev4 = NULL;
	if (m->fd4 >= 0)
		close(m->fd4);
	m->fd4 = -1;
}

static void umap_destroy(struct flow *f)
{
	free(f);
}

static uint64_t idle_ms(const struct trt_umap *m)
{
	return (uint64_t)m->t->cfg->trt_udp_idle_timeout * 1000;
}

static void umap_sweep(struct flow *f, uint64_t now)
{
	struct trt_umap *m = (struct trt_umap *)f;

	if (now >= m->last_ms + idle_ms(m)) {
		flow_delete(f);
		return;
	}
	/* The standby's idle timer runs from the last tuple: refresh it a few
	 * times per timeout while the client is active. */
	if (f->replicates && m->last_ms > m->exported_ms &&
	    now >= m->exported_ms + idle_ms(m) / 3) {
		m->exported_ms = now;
		flow_changed(f);
	}
}

static void umap_export(const struct flow *f, uint64_t now_ms, struct flow_out *o)
{
	const struct trt_umap *m = (const struct trt_umap *)f;
	uint64_t end = m->last_ms + idle_ms(m);
	struct trt_tuple tu = {.key = f->key, .source = m->s4, .n_dests = m->n_dest};

	for (unsigned i = 0; i < m->n_dest; i++)
		tu.dests[i] = m->dest[i].d4;
	tu.idle_s = end > now_ms ? (uint32_t)((end - now_ms + 999) / 1000) : 0;
	trt_tuple_export(&tu, o);
}

static const struct flow_ops umap_ops = {
        .name = "trt_udp",
        .close = umap_close,
        .destroy = umap_destroy,
        .sweep = umap_sweep,
        .export = umap_export,
};

/* ---- ICMP errors from the IPv4 side ---- */

static struct udest *dest_find(struct trt_umap *m, const struct tw_addr *d4)
{
	for (unsigned i = 0; i < m->n_dest; i++)
		if (tw_addr_eq(&m->dest[i].d4, d4))
			return &m->dest[i];
	return NULL;
}

static void errqueue_one(struct trt_umap *m, struct msghdr *mh, size_t len)
{
	struct trt *t = m->t;
	struct sock_extended_err *ee = NULL;
	struct tw_addr d4;
	struct udest *d;
	struct trt_icmp6 e;
	uint8_t q[TRT_MIN_MTU6];
	int qn;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR)
			ee = (struct sock_extended_err *)CMSG_DATA(c);
	if (ee == NULL || ee->ee_origin != SO_EE_ORIGIN_ICMP ||
	    tw_addr_from_sa(mh->msg_name, &d4) < 0 || (d = dest_find(m, &d4)) == NULL)
		return;
	if (trt_pkt_icmp_map(ee->ee_type, ee->ee_code, ee->ee_info, &e) < 0)
		return;
	/* The client's datagram as it reached us: its addresses, what we sent on. */
	qn = trt_pkt_udp6(q, sizeof(q), &m->c6, &d->d6, t->buf, len);
	if (qn > 0)
		trt_icmp_send(t, &e, &d->d6, &m->c6, q, (size_t)qn);
}

/* One datagram into the plane's buffer, with its source and control data. */
struct rx {
	struct sockaddr_storage ss;
	char ctl[512];
	struct iovec iov;
	struct msghdr mh;
};

static ssize_t rx_one(struct trt *t, int fd, struct rx *r, int flags)
{
	r->iov.iov_base = t->buf;
	r->iov.iov_len = sizeof(t->buf);
	memset(&r->mh, 0, sizeof(r->mh));
	r->mh.msg_name = &r->ss;
	r->mh.msg_namelen = sizeof(r->ss);
	r->mh.msg_iov = &r->iov;
	r->mh.msg_iovlen = 1;
	r->mh.msg_control = r->ctl;
	r->mh.msg_controllen = sizeof(r->ctl);
	return recvmsg(fd, &r->mh, flags | MSG_DONTWAIT);
}

static void errqueue_drain(struct trt_umap *m)
{
	for (int i = 0; i < ERR_BATCH && m->fd4 >= 0; i++) {
		struct rx r;
		ssize_t n = rx_one(m->t, m->fd4, &r, MSG_ERRQUEUE);

		if (n < 0)
			return;
		errqueue_one(m, &r.mh, (size_t)n);
	}
}

/* ---- server to client ---- */

static void server_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trt_umap *m = arg;
	struct trt *t = m->t;

	(void)what;
	trt_now(t);
	for (int i = 0; i < READ_BATCH && m->fd4 >= 0; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct tw_addr s4;
		struct udest *d;
		ssize_t n = recvfrom(fd, t->buf, sizeof(t->buf), MSG_DONTWAIT,
		                     (struct sockaddr *)&ss, &sl);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				errqueue_drain(m);
			return;
		}
		if (tw_addr_from_sa((struct sockaddr *)&ss, &s4) < 0 ||
		    (d = dest_find(m, &s4)) == NULL) {
			trt_drop(t, TRT_DROP_FILTERED);
			continue;
		}
		if (send(d->fd6, t->buf, (size_t)n, MSG_DONTWAIT) < 0) {
			trt_drop(t, TRT_DROP_SEND);
			continue;
		}
		TRT_ADD(t, bytes[TRT_UDP][TRT_TO_V6], (uint64_t)n);
	}
}

/* ---- client to server ---- */

/* The mapping's IPv4 socket: on the client's paired source, or exactly on s4 (an import). */
static int v4_socket(struct trt *t, const struct tw_addr *c6, const struct tw_addr *s4)
{
	int fd;

	if (s4 == NULL)
		return trt_v4_socket(t, SOCK_DGRAM, c6);
	fd = netaddr_socket(s4, SOCK_DGRAM);
	return fd < 0 ? fd : netaddr_bind(fd, s4, false);
}

static struct trt_umap *umap_new(struct trt *t, const struct tw_addr *c6, const struct tw_addr *s4,
                                 bool importing)
{
	struct trt_umap *m = calloc(1, sizeof(*m));
	int off = IP_PMTUDISC_DONT, one = 1;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct alloc_key key;
	struct trt_umap **b;

	if (m == NULL)
		return NULL;
	m->t = t;
	m->c6 = *c6;
	trt_tuple_key(t->cfg, c6, &key);
	/* Only a mapping on a configured source can be rebuilt on the standby. */
	flow_init(&m->flow, &umap_ops, t->w, &key, t->cfg->n_trt_sources > 0);
	m->flow.importing = importing;
	m->fd4 = v4_socket(t, c6, s4);
	if (m->fd4 < 0) {
		flow_free(&m->flow);
		return NULL;
	}
	if (getsockname(m->fd4, (struct sockaddr *)&ss, &sl) == 0)
		tw_addr_from_sa((struct sockaddr *)&ss, &m->s4);
	setsockopt(m->fd4, IPPROTO_IP, IP_MTU_DISCOVER, &off, sizeof(off));
	setsockopt(m->fd4, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	m->ev4 = event_new(t->w->base, m->fd4, EV_READ | EV_PERSIST, server_read_cb, m);
	if (m->ev4 == NULL || event_add(m->ev4, NULL) < 0) {
		flow_free(&m->flow);
		return NULL;
	}
	b = bucket(t, c6);
	m->hnext = *b;
	*b = m;
	m->linked = true;
	m->last_ms = m->exported_ms = t->w->now_ms;
	t->n_udp++;
	trt_mapping_add(t, TRT_UDP, 1);
	flow_publish(&m->flow);
	return m;
}

/* A socket bound to PREFIX::X4:r and connected to the client. */
static int dest_socket(const struct tw_addr *d6, const struct tw_addr *c6)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = netaddr_socket(d6, SOCK_DGRAM), one = 1;

	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one));
	fd = netaddr_bind(fd, d6, true);
	if (fd < 0)
		return fd;
	sl = tw_addr_to_sa(c6, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return netaddr_close_err(fd);
	return fd;
}

static struct udest *dest_add(struct trt_umap *m, const struct tw_addr *d6,
                              const struct tw_addr *d4)
{
	struct trt *t = m->t;
	struct udest *d;

	if (m->n_dest == TRT_UDP_DESTS) {
		trt_drop(t, TRT_DROP_DESTS);
		return NULL;
	}
	if (m->n_dest == m->cap_dest) {
		unsigned cap = m->cap_dest ? m->cap_dest * 2 : 1;

		d = realloc(m->dest, cap * sizeof(*d));
		if (d == NULL)
			return NULL;
		m->dest = d;
		m->cap_dest = cap;
	}
	d = &m->dest[m->n_dest];
	d->m = m;
	d->d4 = *d4;
	d->d6 = *d6;
	d->fd6 = dest_socket(d6, &m->c6);
	if (d->fd6 < 0) {
		trt_drop(t, TRT_DROP_SEND);
		return NULL;
	}
	d->ev = event_new(t->w->base, d->fd6, EV_READ | EV_PERSIST, client_read_cb, t);
	if (d->ev == NULL || event_add(d->ev, NULL) < 0) {
		if (d->ev)
			event_free(d->ev);
		close(d->fd6);
		return NULL;
	}
	m->n_dest++;
	return d;
}

static void client_datagram(struct trt *t, const struct tw_addr *c6, const struct tw_addr *d6,
                            size_t len)
{
	struct trt_umap *m = umap_find(t, c6);
	struct sockaddr_storage ss;
	struct tw_addr d4;
	enum trt_deny why;
	socklen_t sl;

	if (trt_addr_extract(&t->cfg->trt_prefix, d6, &d4) < 0) {
		trt_drop(t, TRT_DROP_BAD);
		return;
	}
	if (m == NULL || dest_find(m, &d4) == NULL) {
		why = trt_check(t, c6, &d4);
		if (why == TRT_OK && m == NULL && t->n_udp >= t->cfg->trt_max_udp)
			why = TRT_DENY_LIMIT;
		if (why != TRT_OK) {
			trt_denied(t, TRT_UDP, c6, &d4, why);
			return;
		}
		if (m == NULL && (m = umap_new(t, c6, NULL, false)) == NULL) {
			trt_drop(t, TRT_DROP_SEND);
			return;
		}
		if (dest_add(m, d6, &d4) == NULL)
			return;
		flow_changed(&m->flow);
	}
	m->last_ms = t->w->now_ms;
	sl = tw_addr_to_sa(&d4, &ss);
	if (sendto(m->fd4, t->buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
		if (errno != EAGAIN && errno != ENOBUFS)
			errqueue_drain(m);
		trt_drop(t, TRT_DROP_SEND);
		return;
	}
	TRT_ADD(t, bytes[TRT_UDP][TRT_TO_V4], len);
}

static int orig_dst(struct msghdr *mh, struct tw_addr *d6)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR)
			return tw_addr_from_sa((struct sockaddr *)CMSG_DATA(c), d6);
	return -ENOENT;
}

/* The listener and every destination socket: datagrams from clients. */
static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trt *t = arg;

	(void)what;
	trt_now(t);
	for (int i = 0; i < READ_BATCH; i++) {
		struct rx r;
		struct tw_addr c6, d6;
		ssize_t n = rx_one(t, fd, &r, 0);

		if (n < 0)
			return; /* EAGAIN; a connected socket's ICMP error is not ours to act on */
		if (tw_addr_from_sa((struct sockaddr *)&r.ss, &c6) < 0 ||
		    orig_dst(&r.mh, &d6) < 0) {
			trt_drop(t, TRT_DROP_BAD);
			continue;
		}
		client_datagram(t, &c6, &d6, (size_t)n);
	}
}

int trt_udp_start(struct trt *t, char *err, size_t errlen)
{
	struct tw_addr any = {.family = TW_AF_INET6, .port = t->cfg->trt_port};
	int fd, one = 1, rcvbuf = UDP_RCVBUF;

	fd = netaddr_socket(&any, SOCK_DGRAM);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Every client's first datagram, of the whole prefix, lands on this
		 * one socket: the kernel's 208 KiB default overflowed at a burst of
		 * new mappings (the trt_load test's 5,000). FORCE passes
		 * net.core.rmem_max with CAP_NET_ADMIN; costs nothing until used. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one)) < 0)
			fd = netaddr_close_err(fd);
	}
	if (fd >= 0)
		fd = netaddr_bind(fd, &any, true);
	if (fd < 0) {
		snprintf(err, errlen, "trt: transparent UDP socket on [::]:%u: %s",
		         t->cfg->trt_port, strerror(-fd));
		return fd;
	}
	t->udp_fd = fd;
	t->udp_ev = event_new(t->w->base, fd, EV_READ | EV_PERSIST, client_read_cb, t);
	if (t->udp_ev == NULL || event_add(t->udp_ev, NULL) < 0) {
		snprintf(err, errlen, "trt: out of memory");
		return -ENOMEM;
	}
	return 0;
}

void trt_udp_stop(struct trt *t)
{
	if (t->udp_ev)
		event_free(t->udp_ev);
	t->udp_ev = NULL;
	if (t->udp_fd >= 0)
		close(t->udp_fd);
	t->udp_fd = -1;
}

int trt_udp_import(struct trt *t, const struct Twist__Flow *f)
{
	struct trt_tuple tu;
	struct trt_umap *m;
	struct tw_addr d6;
	uint64_t now = trt_now(t), left, gone;

	if (f->deleted) {
		flowconv_key(f, &tu.key);
		if ((m = umap_find(t, &tu.key.client)) != NULL)
			flow_free(&m->flow);
		return 0;
	}
	if (trt_tuple_parse(f, &tu) < 0)
		return -EBADMSG;
	m = umap_find(t, &tu.key.client);
	if (m == NULL && t->n_udp >= t->cfg->trt_max_udp)
		return -ENOSPC;
	if (m == NULL && (m = umap_new(t, &tu.key.client, &tu.source, true)) == NULL)
		return -ENOMEM;
	m->flow.importing = true;
	for (unsigned i = 0; i < tu.n_dests; i++) {
		if (dest_find(m, &tu.dests[i]))
			continue;
		trt_addr_embed(&t->cfg->trt_prefix, &tu.dests[i], &d6);
		dest_add(m, &d6, &tu.dests[i]);
	}
	/* The idle timer as the active left it: tu.idle_s of idle_ms() remain. */
	left = (uint64_t)tu.idle_s * 1000;
	gone = idle_ms(m) - (left < idle_ms(m) ? left : idle_ms(m));
	m->last_ms = now > gone ? now - gone : 0;
	m->flow.importing = false;
	return 0;
}
