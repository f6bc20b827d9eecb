#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/demux.h"
#include "proto/stun.h"
#include "relay/alloc.h"
#include "common/log.h"
#include "relay/netaddr.h"
#include "relay/tcp.h"
#include "relay/turn.h"

#define IDLE_NO_ALLOC_S 60 /* a connection with no allocation may idle this long */
#define MAX_FRAME       (STUN_HDR_LEN + 65535)

struct tcp_conn {
	struct worker *w;
	struct bufferevent *bev;
	struct tw_addr client, local;
	struct allocation *a;
	struct tcp_conn *next, *prev;
};

static void set_idle_timeout(struct tcp_conn *tc, bool on)
{
	struct timeval tv = {IDLE_NO_ALLOC_S, 0};

	bufferevent_set_timeouts(tc->bev, on ? &tv : NULL, NULL);
}

static void conn_free(struct tcp_conn *tc)
{
	struct worker *w = tc->w;

	/* §3.1 (RFC 8656): closing the connection deletes its allocation. */
	if (tc->a) {
		STAT_INC(&w->st, allocs_deleted);
		alloc_delete(tc->a); /* calls back tcp_conn_alloc_gone */
	}
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		w->tcp_conns = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	bufferevent_free(tc->bev);
	STAT_ADD(&w->st, tcp_conns, -1);
	free(tc);
}

void tcp_conn_alloc_gone(struct tcp_conn *tc)
{
	tc->a = NULL;
	set_idle_timeout(tc, true);
}

void tcp_conn_set_alloc(struct tcp_conn *tc, struct allocation *a)
{
	tc->a = a;
	set_idle_timeout(tc, false);
}

int tcp_conn_send(struct tcp_conn *tc, const void *hdr, size_t hlen, const void *data, size_t dlen,
                  size_t pad)
{
	static const uint8_t zeros[4];
	struct evbuffer *out = bufferevent_get_output(tc->bev);

	if (evbuffer_get_length(out) > TCP_OUT_HIGH_WATER)
		return -ENOBUFS;
	if (evbuffer_add(out, hdr, hlen) < 0 || (dlen && evbuffer_add(out, data, dlen) < 0) ||
	    (pad && evbuffer_add(out, zeros, pad) < 0))
		return -ENOMEM;
	return 0;
}

/* Frames one message at a time out of the stream (RFC 8656 §12.5 padding). */
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *tc = arg;
	struct worker *w = tc->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct client_ctx cc = {
	        .transport = STUN_PROTO_TCP, .client = tc->client, .local = tc->local, .tc = tc};
	uint8_t head[4];
	long flen;

	w->now_ms = relay_now_ms();
	for (;;) {
		size_t have = evbuffer_get_length(in);

		if (have < sizeof(head))
			return;
		evbuffer_copyout(in, head, sizeof(head));
		flen = demux_frame_len(head, sizeof(head));
		if (flen < 0 || flen > MAX_FRAME) {
			/* Lost framing cannot be recovered on a stream. */
			worker_drop(w, DROP_NOT_STUN, &tc->client);
			conn_free(tc);
			return;
		}
		if (have < (size_t)flen)
			return;
		cc.a = tc->a;
		turn_client_input(w, &cc, evbuffer_pullup(in, flen), (size_t)flen);
		evbuffer_drain(in, (size_t)flen);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *tc = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (log_enabled(LOG_LVL_DEBUG)) {
			char a[TW_ADDR_STRLEN];

			log_debug("tcp %s closed (%s)", tw_addr_fmt(&tc->client, a, sizeof(a)),
			          what & BEV_EVENT_TIMEOUT ? "idle" : "eof/error");
		}
		tc->w->now_ms = relay_now_ms();
		conn_free(tc);
	}
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct worker *w = arg;
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	struct tcp_conn *tc;
	int one = 1;

	(void)l;
	(void)salen;
	tc = calloc(1, sizeof(*tc));
	if (!tc || netaddr_from_sa(sa, &tc->client) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    netaddr_from_sa((struct sockaddr *)&local, &tc->local) < 0) {
		free(tc);
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tc->w = w;
	tc->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!tc->bev) {
		free(tc);
		evutil_closesocket(fd);
		return;
	}
	tc->next = w->tcp_conns;
	if (w->tcp_conns)
		w->tcp_conns->prev = tc;
	w->tcp_conns = tc;
	STAT_INC(&w->st, tcp_conns_accepted);
	STAT_ADD(&w->st, tcp_conns, 1);
	bufferevent_setcb(tc->bev, read_cb, NULL, event_cb, tc);
	set_idle_timeout(tc, true);
	bufferevent_enable(tc->bev, EV_READ | EV_WRITE);
}

/* Our own socket rather than evconnlistener_new_bind: it needs IP_FREEBIND. */
static int listen_socket(const struct tw_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sa(addr, &ss);
	int fd, one = 1;

	fd = socket(netaddr_family(addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (addr->family == TW_AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* A standby listens on the VIP before it holds it (DESIGN decision 2). */
	netaddr_nonlocal(fd, addr, false);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int tcp_listen(struct worker *w, const struct tw_addr *addr)
{
	struct evconnlistener *l;
	int fd;

	if (w->n_tcp >= CFG_MAX_LISTEN)
		return -ENOSPC;
	fd = listen_socket(addr);
	if (fd < 0)
		return fd;
	l = evconnlistener_new(w->base, accept_cb, w, LEV_OPT_CLOSE_ON_FREE, 1024, fd);
	if (!l) {
		close(fd);
		return -EADDRNOTAVAIL;
	}
	w->tcp_addr[w->n_tcp] = *addr;
	w->tcp[w->n_tcp++] = l;
	return 0;
}

void tcp_close_all(struct worker *w)
{
	while (w->tcp_conns)
		conn_free(w->tcp_conns);
	for (unsigned i = 0; i < w->n_tcp; i++)
		evconnlistener_free(w->tcp[i]);
	w->n_tcp = 0;
}
