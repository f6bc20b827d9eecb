/*
 * TCP listeners and accept: the caps on connections (relay/connlimit.h),
 * checked before anything is allocated for a connection, and what happens
 * when the process runs out of descriptors.
 *
 * Out of descriptors, a listener pauses (common/accept_pause.h), and, so
 * that the waiting client is told rather than left in the backlog, the
 * worker gives up a spare descriptor it holds for this, accepts, closes at
 * once and takes the spare again (the nginx and libuv practice). Counted
 * every time.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/accept_pause.h"
#include "common/log.h"
#include "relay/connlimit.h"
#include "relay/netaddr.h"
#include "relay/tcp.h"

struct tcp_worker {
	int spare; /* /dev/null, given up to accept when out of descriptors */
	struct accept_pause *pause[CFG_MAX_LISTEN];
	uint64_t refuse_log[REFUSE__COUNT];
};

static const enum conn_refuse verdict_reason[] = {
        [CONNLIMIT_TOTAL] = REFUSE_TOTAL,
        [CONNLIMIT_SOURCE] = REFUSE_SOURCE,
        [CONNLIMIT_UNAUTH] = REFUSE_UNAUTH,
};

static void refused(struct worker *w, enum conn_refuse why, const struct tw_addr *from)
{
	STAT_INC(&w->st, tcp_refused[why]);
	if (log_enabled(LOG_LVL_DEBUG) &&
	    log_ratelimit(&w->tcpw->refuse_log[why], w->now_ms, 1000)) {
		char a[TW_ADDR_STRLEN];

		log_debug("worker %u: tcp connection from %s refused: %s (counted; logged once a "
		          "second)",
		          w->id, from ? tw_addr_fmt(from, a, sizeof(a)) : "?",
		          stats_refuse_name(why));
	}
}

enum stream_kind tcp_listen_kind(const struct cfg_listen *l)
{
	if (l->tls && l->wss)
		return STREAM_TLS_WSS;
	if (l->tcp && l->ws)
		return STREAM_TCP_WS;
	if (l->tls)
		return STREAM_TLS;
	if (l->wss)
		return STREAM_WSS;
	return l->ws ? STREAM_WS : STREAM_TCP;
}

const char *stream_kind_name(enum stream_kind kind)
{
	switch (kind) {
	case STREAM_TCP:
		return "tcp";
	case STREAM_TLS:
		return "tls";
	case STREAM_WS:
		return "ws";
	case STREAM_WSS:
		return "wss";
	case STREAM_TCP_WS:
		return "tcp+ws";
	case STREAM_TLS_WSS:
		return "tls+wss";
	}
	return "?";
}

static enum stream_kind listener_kind(const struct worker *w, const struct evconnlistener *l)
{
	for (unsigned i = 0; i < w->n_tcp; i++)
		if (w->tcp[i] == l)
			return (enum stream_kind)w->tcp_kind[i];
	return STREAM_TCP;
}

/* TCP, TLS and ws share the caps: a handshake is a connection like any other. */
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct worker *w = arg;
	struct tw_addr client;
	enum connlimit_verdict v;

	(void)salen;
	w->now_ms = relay_now_ms();
	if (w->tcpw->spare < 0)
		w->tcpw->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (tw_addr_from_sa(sa, &client) < 0) {
		evutil_closesocket(fd);
		return;
	}
	/* Cheap before expensive: counted or refused before any allocation. */
	v = connlimit_take(w->r->conns, &client);
	if (v != CONNLIMIT_OK) {
		evutil_closesocket(fd);
		refused(w, verdict_reason[v], &client);
		return;
	}
	tcp_conn_open(w, fd, &client, listener_kind(w, l));
}

/* Frees a descriptor for one accept() and refuses that client cleanly. */
static void refuse_on_spare(struct worker *w, int lfd)
{
	struct tcp_worker *tw = w->tcpw;
	int fd;

	if (tw->spare < 0)
		return;
	close(tw->spare);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		refused(w, REFUSE_NOFILE, NULL);
	}
	tw->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_error(struct evconnlistener *l, int err, void *arg)
{
	struct worker *w = arg;

	w->now_ms = relay_now_ms();
	if (err == EMFILE || err == ENFILE)
		refuse_on_spare(w, evconnlistener_get_fd(l));
	STAT_INC(&w->st, tcp_accept_paused);
}

static struct tcp_worker *tcp_worker_get(struct worker *w)
{
	struct tcp_worker *tw = w->tcpw;

	if (tw)
		return tw;
	tw = calloc(1, sizeof(*tw));
	if (!tw)
		return NULL;
	tw->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (tw->spare < 0) {
		free(tw);
		return NULL;
	}
	w->tcpw = tw;
	return tw;
}

/* Our own socket rather than evconnlistener_new_bind: it needs IP_FREEBIND. */
static int listen_socket(const struct tw_addr *addr)
{
	int fd = netaddr_socket(addr, SOCK_STREAM), one = 1;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return netaddr_close_err(fd);
	/* A standby listens on the VIP before it holds it (DESIGN decision 2). */
	return netaddr_bind(fd, addr, false);
}

int tcp_listen(struct worker *w, const struct tw_addr *addr, enum stream_kind kind)
{
	struct evconnlistener *l;
	char a[TW_ADDR_STRLEN], what[32 + TW_ADDR_STRLEN];
	int fd;

	if (w->n_tcp >= CFG_MAX_LISTEN)
		return -ENOSPC;
	if (!tcp_worker_get(w))
		return -ENOMEM;
	fd = listen_socket(addr);
	if (fd < 0)
		return fd;
	l = evconnlistener_new(w->base, accept_cb, w, LEV_OPT_CLOSE_ON_FREE, 1024, fd);
	if (!l) {
		close(fd);
		return -EADDRNOTAVAIL;
	}
	snprintf(what, sizeof(what), "worker %u: %s %s", w->id, stream_kind_name(kind),
	         tw_addr_fmt(addr, a, sizeof(a)));
	w->tcpw->pause[w->n_tcp] = accept_pause_attach(l, what, accept_error, w);
	if (!w->tcpw->pause[w->n_tcp]) {
		evconnlistener_free(l);
		return -ENOMEM;
	}
	w->tcp_addr[w->n_tcp] = *addr;
	w->tcp_kind[w->n_tcp] = (uint8_t)kind;
	w->tcp[w->n_tcp++] = l;
	return 0;
}

void tcp_listen_close_all(struct worker *w)
{
	for (unsigned i = 0; i < w->n_tcp; i++) {
		accept_pause_free(w->tcpw->pause[i]);
		evconnlistener_free(w->tcp[i]);
	}
	w->n_tcp = 0;
	if (w->tcpw) {
		if (w->tcpw->spare >= 0)
			close(w->tcpw->spare);
		free(w->tcpw);
		w->tcpw = NULL;
	}
}
