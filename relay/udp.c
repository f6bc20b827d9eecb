#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/stun.h"
#include "common/log.h"
#include "relay/netaddr.h"
#include "relay/turn.h"
#include "relay/udp.h"

#define READ_ROUNDS 8   /* batches per wake-up before yielding to other sockets */
#define DP_EVENTS   256 /* data-plane readiness events taken per pass */
#define DP_RELAY    1u  /* tag in epoll data: a relay_sock, else an allocation */

_Static_assert(_Alignof(struct relay_sock) > DP_RELAY && _Alignof(struct allocation) > DP_RELAY,
               "the tag needs the pointer's low bit");
/* UDP GSO (UDP_SEGMENT): at most 64 segments, 64 KiB, and segments small
 * enough for a 1500-byte path so that no route's MTU refuses them. */
#define GSO_MAX_SEGS  64
#define GSO_MAX_BYTES 65000
#define GSO_MAX_SEG   1400
#define LISTEN_BUF    (4 << 20)

static int udp_socket(const struct tw_addr *addr, bool reuseport)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sa(addr, &ss);
	int fd, one = 1, bufsz = LISTEN_BUF;

	fd = socket(netaddr_family(addr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (addr->family == TW_AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (reuseport) {
		/*
		 * SO_REUSEPORT only. With SO_REUSEADDR on the new socket too, the
		 * kernel's port-in-use check cannot stop at the first reuseport
		 * match and walks every socket on the address and port: each
		 * per-client socket then costs O(allocations) to bind, and a
		 * standby importing N flows O(N^2) (measured: 60% of its time).
		 */
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	}
	/* A standby binds, and connects per-client sockets from, the VIP
	 * before it holds it (DESIGN decision 2): connect() from a non-local
	 * source needs IP_TRANSPARENT, not just IP_FREEBIND. */
	netaddr_nonlocal(fd, addr, true);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/*
 * One recvmmsg into the batch buffers; datagrams land after the headroom.
 * Sends still queued from the last batch point into these buffers: they
 * leave first.
 */
static int rx_recv(struct worker *w, int fd)
{
	struct rx_batch *rx = &w->rx;
	int n;

	tx_flush(w);
	for (unsigned i = 0; i < RX_BATCH; i++) {
		rx->iov[i].iov_base = rx->buf[i] + RX_HEADROOM;
		rx->iov[i].iov_len = RX_BUFSZ;
		rx->msgs[i].msg_hdr = (struct msghdr){
		        .msg_name = &rx->src[i],
		        .msg_namelen = sizeof(rx->src[i]),
		        .msg_iov = &rx->iov[i],
		        .msg_iovlen = 1,
		};
	}
	do {
		n = recvmmsg(fd, rx->msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		/* A connected socket reports an earlier ICMP error once; read on. */
	} while (n < 0 && (errno == ECONNREFUSED || errno == EINTR));
	return n;
}

static bool rx_get(struct worker *w, unsigned i, struct tw_addr *src, uint8_t **buf, size_t *len)
{
	struct rx_batch *rx = &w->rx;

	if (netaddr_from_sa((struct sockaddr *)&rx->src[i], src) < 0)
		return false;
	if (rx->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
		worker_drop(w, DROP_OVERSIZE, src);
		return false;
	}
	*buf = rx->buf[i] + RX_HEADROOM;
	*len = rx->msgs[i].msg_len;
	return true;
}

/* Handles one datagram; false stops reading the socket (it was closed). */
typedef bool (*rx_fn)(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                      size_t len);

/*
 * Reads a readable socket in batches, a bounded number per wake-up. True
 * if it stopped at the bound with datagrams perhaps still queued; false if
 * the socket is drained, failed, or was closed by what it carried.
 */
static bool rx_drain(struct worker *w, int fd, rx_fn fn, void *ctx)
{
	struct tw_addr src;
	uint8_t *buf;
	size_t len;
	int n;

	w->now_ms = relay_now_ms();
	for (unsigned round = 0; round < READ_ROUNDS; round++) {
		n = rx_recv(w, fd);
		if (n <= 0)
			return false;
		for (int i = 0; i < n; i++)
			if (rx_get(w, (unsigned)i, &src, &buf, &len) && !fn(w, ctx, &src, buf, len))
				return false; /* deleted: alloc_delete_quiet flushed */
		/*
		 * What this batch brought leaves now, before anything else is read:
		 * one sendmmsg per destination socket, GSO runs where datagrams go
		 * to one destination. Holding sends to the end of the loop pass
		 * shared one sendmmsg across clients (about 3% less CPU at 50k
		 * pkt/s) but made the first datagram of a pass wait for the whole
		 * pass: +15 us at p50 at 50k pkt/s, and at 200k pkt/s a p99 round
		 * trip of 23-57 ms against 2-3 ms this way.
		 */
		tx_flush(w);
		if (n < RX_BATCH)
			return false;
	}
	return true;
}

static bool from_listener(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                          size_t len)
{
	struct listener *l = ctx;
	struct client_ctx cc = {
	        .transport = STUN_PROTO_UDP, .client = *src, .local = l->addr, .lst = l};
	struct alloc_key k = {.transport = STUN_PROTO_UDP, .client = *src, .local = l->addr};

	cc.a = alloc_find(w, &k);
	turn_client_input(w, &cc, buf, len);
	return true;
}

static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)what;
	rx_drain(l->w, fd, from_listener, l);
}

/*
 * The connected per-client socket. Between its bind and its connect it sat
 * unconnected in the reuseport group and may have caught other clients'
 * datagrams: those are handled as if the listener had read them.
 */
static bool from_client(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                        size_t len)
{
	struct allocation *a = ctx;
	struct client_ctx cc = {.transport = STUN_PROTO_UDP,
	                        .client = *src,
	                        .local = a->key.local,
	                        .lst = a->lst,
	                        .a = a};

	if (!tw_addr_eq(src, &a->key.client))
		return from_listener(w, a->lst, src, buf, len);
	turn_client_input(w, &cc, buf, len);
	/* A Refresh with lifetime 0 deleted a (and closed this socket). */
	return cc.a != NULL;
}

static bool from_peer(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                      size_t len)
{
	turn_peer_input(w, ctx, src, buf, len);
	return true;
}

/*
 * The data plane. Per-client and relayed sockets are in the worker's own
 * epoll set, edge-triggered, with the allocation or relay_sock (tagged) as
 * the event's data; libevent watches only the set's descriptor. This keeps
 * two struct events and two libevent fd maps (about 330 bytes) out of every
 * allocation, and a drained socket is not polled again until a datagram
 * arrives (a level-triggered set re-polls every socket it reported).
 *
 * Edge-triggered: a socket is read until a short batch shows it empty. One
 * that stopped at READ_ROUNDS is re-armed with EPOLL_CTL_MOD, which queues
 * it again at once if it is still readable.
 */
static int dp_ctl(struct worker *w, int op, int fd, uint64_t data)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = data};

	return epoll_ctl(w->dfd, op, fd, &ev) < 0 ? -errno : 0;
}

static void data_cb(evutil_socket_t dfd, short what, void *arg)
{
	struct worker *w = arg;
	int n;

	(void)what;
	n = epoll_wait(dfd, w->dp_evs, DP_EVENTS, 0);
	w->dp_n = n > 0 ? n : 0;
	for (w->dp_i = 0; w->dp_i < w->dp_n; w->dp_i++) {
		uint64_t d = w->dp_evs[w->dp_i].data.u64;
		bool more;
		int fd;

		if (d == 0) /* forgotten: its allocation was deleted in this batch */
			continue;
		if (d & DP_RELAY) {
			struct relay_sock *rs =
			        (struct relay_sock *)(uintptr_t)(d & ~(uint64_t)DP_RELAY);

			fd = rs->fd;
			more = rx_drain(w, fd, from_peer, rs);
		} else {
			struct allocation *a = (struct allocation *)(uintptr_t)d;

			fd = a->cfd;
			more = rx_drain(w, fd, from_client, a);
		}
		if (more)
			dp_ctl(w, EPOLL_CTL_MOD, fd, d);
	}
	/* A full batch: the set is still readable and libevent calls again. */
	w->dp_n = 0;
}

int udp_dataplane_open(struct worker *w)
{
	w->dfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->dfd < 0)
		return -errno;
	w->dp_evs = calloc(DP_EVENTS, sizeof(*w->dp_evs));
	w->dev = event_new(w->base, w->dfd, EV_READ | EV_PERSIST, data_cb, w);
	if (!w->dp_evs || !w->dev || event_add(w->dev, NULL) < 0)
		return -ENOMEM; /* udp_dataplane_close frees what is there */
	return 0;
}

void udp_dataplane_close(struct worker *w)
{
	if (w->dev)
		event_free(w->dev);
	if (w->dfd >= 0)
		close(w->dfd);
	free(w->dp_evs);
	w->dev = NULL;
	w->dfd = -1;
	w->dp_evs = NULL;
}

void udp_forget(struct worker *w, const struct allocation *a)
{
	uintptr_t lo = (uintptr_t)a, hi = lo + sizeof(*a);

	for (int i = w->dp_i + 1; i < w->dp_n; i++) {
		uintptr_t p = (uintptr_t)(w->dp_evs[i].data.u64 & ~(uint64_t)DP_RELAY);

		if (p >= lo && p < hi)
			w->dp_evs[i].data.u64 = 0;
	}
}

int udp_listener_open(struct worker *w, struct listener *l, const struct tw_addr *addr)
{
	int fd = udp_socket(addr, true);

	if (fd < 0)
		return fd;
	l->w = w;
	l->fd = fd;
	l->addr = *addr;
	l->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, listener_cb, l);
	if (!l->ev || event_add(l->ev, NULL) < 0) {
		udp_listener_close(l);
		return -ENOMEM;
	}
	return 0;
}

void udp_listener_close(struct listener *l)
{
	if (l->ev)
		event_free(l->ev);
	if (l->fd >= 0)
		close(l->fd);
	l->ev = NULL;
	l->fd = -1;
}

int udp_client_open(struct worker *w, struct allocation *a)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = udp_socket(&a->key.local, true);

	if (fd < 0)
		return fd;
	sl = netaddr_to_sa(&a->key.client, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	a->cfd = fd;
	return dp_ctl(w, EPOLL_CTL_ADD, fd, (uintptr_t)a); /* alloc_delete closes fd */
}

int udp_relay_watch(struct worker *w, struct relay_sock *rs)
{
	int on = 1;

	if (rs->a->dont_fragment) {
		int v = IP_PMTUDISC_DO;

		/* DONT-FRAGMENT (RFC 8656 §14.8): DF on everything sent to peers. */
		if (rs->addr.family == TW_AF_INET)
			setsockopt(rs->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
		else
			setsockopt(rs->fd, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof(on));
	}
	return dp_ctl(w, EPOLL_CTL_ADD, rs->fd, (uintptr_t)rs | DP_RELAY);
}

void tx_push(struct worker *w, int fd, const struct tw_addr *dst, const void *buf, size_t len)
{
	struct tx_queue *tx = &w->tx;
	unsigned i;

	if (tx->n == TX_BATCH)
		tx_flush(w);
	i = tx->n++;
	tx->fd[i] = fd;
	tx->iov[i].iov_base = (void *)buf;
	tx->iov[i].iov_len = len;
	tx->has_dst[i] = dst != NULL;
	if (dst)
		tx->dst[i] = *dst;
}

/* Datagrams i.. that can leave as one GSO send: same socket and destination, same size. */
static unsigned gso_run(const struct tx_queue *tx, unsigned i, unsigned end)
{
	size_t len = tx->iov[i].iov_len, total = len;
	unsigned k = i + 1;

	if (len > GSO_MAX_SEG)
		return 1;
	for (; k < end && k - i < GSO_MAX_SEGS; k++) {
		if (tx->fd[k] != tx->fd[i] || tx->iov[k].iov_len != len ||
		    tx->has_dst[k] != tx->has_dst[i] ||
		    (tx->has_dst[i] && !tw_addr_eq(&tx->dst[k], &tx->dst[i])) ||
		    total + len > GSO_MAX_BYTES)
			break;
		total += len;
	}
	return k - i;
}

/* One outgoing message from iov[i] on, segs datagrams long. */
static void out_build(struct tx_queue *tx, unsigned m, unsigned i, unsigned segs)
{
	struct msghdr *h = &tx->out[m].msg_hdr;

	*h = (struct msghdr){.msg_iov = &tx->iov[i], .msg_iovlen = segs};
	if (tx->has_dst[i]) {
		h->msg_name = &tx->sa[m];
		h->msg_namelen = netaddr_to_sa(&tx->dst[i], &tx->sa[m]);
	}
	if (segs > 1) {
		struct cmsghdr *c;
		uint16_t gso = (uint16_t)tx->iov[i].iov_len;

		h->msg_control = tx->ctl[m];
		h->msg_controllen = CMSG_SPACE(sizeof(gso));
		c = CMSG_FIRSTHDR(h);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(gso));
		memcpy(CMSG_DATA(c), &gso, sizeof(gso));
	}
}

/* Sends out[0..n) on fd; a message the kernel refuses is dropped and counted. */
static void out_send(struct worker *w, int fd, unsigned n, const unsigned *segs)
{
	struct tx_queue *tx = &w->tx;
	unsigned m = 0;
	int rc;

	while (m < n) {
		rc = sendmmsg(fd, &tx->out[m], n - m, MSG_DONTWAIT);
		if (rc > 0) {
			m += (unsigned)rc;
			continue;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0 && segs[m] > 1 &&
		    (errno == EINVAL || errno == EIO || errno == ENOPROTOOPT)) {
			/* No GSO here (old kernel, odd device): plain sends from now on. */
			struct msghdr *h = &tx->out[m].msg_hdr;

			w->gso_off = true;
			log_warn("worker %u: UDP GSO refused (%s), sending datagrams one by one",
			         w->id, strerror(errno));
			for (size_t k = 0; k < h->msg_iovlen; k++)
				if (sendto(fd, h->msg_iov[k].iov_base, h->msg_iov[k].iov_len,
				           MSG_DONTWAIT, h->msg_name, h->msg_namelen) < 0)
					STAT_INC(&w->st, drops[DROP_SEND_ERROR]);
			m++;
			continue;
		}
		/* Full buffer, unreachable: drop this message, go on. */
		STAT_ADD(&w->st, drops[DROP_SEND_ERROR], segs[m]);
		m++;
	}
}

/* Each run of datagrams for one socket leaves in one sendmmsg. */
void tx_flush(struct worker *w)
{
	struct tx_queue *tx = &w->tx;
	unsigned segs[TX_BATCH];
	unsigned i = 0;

	while (i < tx->n) {
		int fd = tx->fd[i];
		unsigned m = 0;

		while (i < tx->n && tx->fd[i] == fd) {
			unsigned k = w->gso_off ? 1 : gso_run(tx, i, tx->n);

			out_build(tx, m, i, k);
			segs[m++] = k;
			i += k;
		}
		out_send(w, fd, m, segs);
	}
	tx->n = 0;
}

void tx_now(struct worker *w, int fd, const struct tw_addr *dst, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;

	if (dst)
		sl = netaddr_to_sa(dst, &ss);
	if (sendto(fd, buf, len, MSG_DONTWAIT, dst ? (struct sockaddr *)&ss : NULL, sl) < 0)
		STAT_INC(&w->st, drops[DROP_SEND_ERROR]);
}
