#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/stun.h"
#include "relay/log.h"
#include "relay/netaddr.h"
#include "relay/turn.h"
#include "relay/udp.h"

#define READ_ROUNDS 8 /* batches per wake-up before yielding to other sockets */
#define LISTEN_BUF  (4 << 20)

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
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	}
	/* A standby binds the VIP before it holds it (DESIGN decision 2). */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* One recvmmsg into the worker's batch; datagrams land after the headroom. */
static int rx_recv(struct worker *w, int fd)
{
	struct rx_batch *rx = &w->rx;
	int n;

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

static void from_listener(struct worker *w, struct listener *l, const struct tw_addr *src,
                          uint8_t *buf, size_t len)
{
	struct client_ctx cc = {
	        .transport = STUN_PROTO_UDP, .client = *src, .local = l->addr, .lst = l};
	struct alloc_key k = {.transport = STUN_PROTO_UDP, .client = *src, .local = l->addr};

	cc.a = alloc_find(w, &k);
	turn_client_input(w, &cc, buf, len);
}

static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct worker *w = l->w;
	struct tw_addr src;
	uint8_t *buf;
	size_t len;
	int n;

	(void)what;
	w->now_ms = relay_now_ms();
	for (unsigned round = 0; round < READ_ROUNDS; round++) {
		n = rx_recv(w, fd);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			if (rx_get(w, (unsigned)i, &src, &buf, &len))
				from_listener(w, l, &src, buf, len);
		tx_flush(w);
		if (n < RX_BATCH)
			break;
	}
}

/*
 * The connected per-client socket. Between its bind and its connect it sat
 * unconnected in the reuseport group and may have caught other clients'
 * datagrams: those are handled as if the listener had read them.
 */
static void client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct allocation *a = arg;
	struct worker *w = a->w;
	struct client_ctx cc = {
	        .transport = STUN_PROTO_UDP, .local = a->key.local, .lst = a->lst, .a = a};
	struct tw_addr src;
	uint8_t *buf;
	size_t len;
	int n;

	(void)what;
	w->now_ms = relay_now_ms();
	for (unsigned round = 0; round < READ_ROUNDS && cc.a; round++) {
		n = rx_recv(w, fd);
		if (n <= 0)
			break;
		for (int i = 0; i < n && cc.a; i++) {
			if (!rx_get(w, (unsigned)i, &src, &buf, &len))
				continue;
			if (!tw_addr_eq(&src, &a->key.client)) {
				from_listener(w, a->lst, &src, buf, len);
				continue;
			}
			cc.client = src;
			/* A Refresh with lifetime 0 deletes a and clears cc.a. */
			turn_client_input(w, &cc, buf, len);
		}
		tx_flush(w);
		if (n < RX_BATCH)
			break;
	}
}

static void relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_sock *rs = arg;
	struct worker *w = rs->a->w;
	struct tw_addr src;
	uint8_t *buf;
	size_t len;
	int n;

	(void)what;
	w->now_ms = relay_now_ms();
	for (unsigned round = 0; round < READ_ROUNDS; round++) {
		n = rx_recv(w, fd);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			if (rx_get(w, (unsigned)i, &src, &buf, &len))
				turn_peer_input(w, rs, &src, buf, len);
		tx_flush(w);
		if (n < RX_BATCH)
			break;
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
	a->cev = event_new(w->base, fd, EV_READ | EV_PERSIST, client_cb, a);
	if (!a->cev || event_add(a->cev, NULL) < 0)
		return -ENOMEM; /* alloc_delete closes what is open */
	return 0;
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
	rs->ev = event_new(w->base, rs->fd, EV_READ | EV_PERSIST, relay_cb, rs);
	if (!rs->ev || event_add(rs->ev, NULL) < 0)
		return -ENOMEM;
	return 0;
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
	tx->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &tx->iov[i], .msg_iovlen = 1};
	if (dst) {
		tx->msgs[i].msg_hdr.msg_name = &tx->dst[i];
		tx->msgs[i].msg_hdr.msg_namelen = netaddr_to_sa(dst, &tx->dst[i]);
	}
}

/* Consecutive datagrams for one socket leave in one sendmmsg. */
void tx_flush(struct worker *w)
{
	struct tx_queue *tx = &w->tx;
	unsigned i = 0, j;
	int n;

	while (i < tx->n) {
		for (j = i + 1; j < tx->n && tx->fd[j] == tx->fd[i]; j++)
			;
		while (i < j) {
			n = sendmmsg(tx->fd[i], &tx->msgs[i], j - i, MSG_DONTWAIT);
			if (n > 0) {
				i += (unsigned)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			/* The first one failed (full buffer, unreachable): drop it, go on. */
			STAT_INC(&w->st, drops[DROP_SEND_ERROR]);
			i++;
		}
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
