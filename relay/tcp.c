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

#include "proto/stun.h"
#include "relay/alloc.h"
#include "common/log.h"
#include "relay/netaddr.h"
#include "relay/stream.h"
#include "relay/tcp.h"

#define IDLE_NO_ALLOC_S 60 /* a connection with no allocation may idle this long */

/* A TURN-over-TCP client (RFC 8656 §3.1): it owns its allocation. */
struct tcp_conn {
	struct conn c;
	struct bufferevent *bev;
	struct tcp_conn *next, *prev;
};

static const struct conn_ops tcp_ops;

static void set_idle_timeout(struct tcp_conn *tc, bool on)
{
	struct timeval tv = {IDLE_NO_ALLOC_S, 0};

	bufferevent_set_timeouts(tc->bev, on ? &tv : NULL, NULL);
}

static void conn_free(struct tcp_conn *tc)
{
	struct worker *w = tc->c.w;

	/* §3.1 (RFC 8656): closing the connection deletes its allocation. */
	if (tc->c.a) {
		STAT_INC(&w->st, allocs_deleted);
		alloc_delete(tc->c.a); /* calls back tcp_detach */
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

static int tcp_send_data(struct conn *c, const uint8_t *pkt, size_t len, size_t pad)
{
	static const uint8_t zeros[4];
	struct tcp_conn *tc = (struct tcp_conn *)c;
	struct evbuffer *out = bufferevent_get_output(tc->bev);

	if (evbuffer_get_length(out) > TCP_OUT_HIGH_WATER)
		return -ENOBUFS;
	if (evbuffer_add(out, pkt, len) < 0 || (pad && evbuffer_add(out, zeros, pad) < 0))
		return -ENOMEM;
	return 0;
}

static int tcp_send(struct conn *c, const void *buf, size_t len)
{
	return tcp_send_data(c, buf, len, 0);
}

static struct conn *tcp_attach(struct conn *c, struct allocation *a)
{
	c->a = a;
	set_idle_timeout((struct tcp_conn *)c, false);
	return c;
}

static void tcp_detach(struct conn *c)
{
	c->a = NULL;
	set_idle_timeout((struct tcp_conn *)c, true);
}

/* Decision 8: the connection's state dies with its kernel; not replicated. */
static const struct conn_ops tcp_ops = {
        .name = "tcp",
        .transport = STUN_PROTO_TCP,
        .stream = true,
        .replicates = false,
        .send = tcp_send,
        .send_data = tcp_send_data,
        .attach = tcp_attach,
        .detach = tcp_detach,
};

const struct conn_ops *tcp_conn_ops(void)
{
	return &tcp_ops;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *tc = arg;

	tc->c.w->now_ms = relay_now_ms();
	if (stream_input(&tc->c, bufferevent_get_input(bev)) < 0)
		conn_free(tc);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *tc = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (log_enabled(LOG_LVL_DEBUG)) {
			char a[TW_ADDR_STRLEN];

			log_debug("tcp %s closed (%s)", tw_addr_fmt(&tc->c.client, a, sizeof(a)),
			          what & BEV_EVENT_TIMEOUT ? "idle" : "eof/error");
		}
		tc->c.w->now_ms = relay_now_ms();
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
	if (!tc || netaddr_from_sa(sa, &tc->c.client) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    netaddr_from_sa((struct sockaddr *)&local, &tc->c.local) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		free(tc);
		evutil_closesocket(fd);
		return;
	}
	tc->c.ops = &tcp_ops;
	tc->c.w = w;
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
	int fd, one = 1, e;

	fd = socket(netaddr_family(addr), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (addr->family == TW_AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0))
		goto bad;
	/* A standby listens on the VIP before it holds it (DESIGN decision 2). */
	netaddr_nonlocal(fd, addr, false);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto bad;
	return fd;
bad:
	e = -errno;
	close(fd);
	return e;
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
