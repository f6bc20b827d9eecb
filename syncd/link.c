#include <errno.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <nanomsg/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "proto/flow.h"
#include "common/log.h"
#include "syncd/link.h"
#include "syncd/nnutil.h"

#define RECV_PER_CALL 256 /* messages per callback; then the loop gets a turn */

struct link {
	int sock;
	struct event *ev_rd, *ev_wr;
	bool want_write;
	struct link_ops ops;
};

static void link_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	int i;

	(void)fd;
	(void)what;
	for (i = 0; i < RECV_PER_CALL; i++) {
		void *buf = NULL;
		int n = nn_recv(l->sock, &buf, NN_MSG, NN_DONTWAIT);

		if (n < 0) {
			if (nn_errno() != EAGAIN && nn_errno() != EINTR)
				log_warn("peer link: receive: %s", nn_strerror(nn_errno()));
			break;
		}
		l->ops.input(l->ops.arg, buf, (size_t)n);
		nn_freemsg(buf);
	}
	l->ops.drained(l->ops.arg);
	/* The fd is level-signalled: if more is waiting it fires again. */
}

static void link_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	(void)fd;
	(void)what;
	l->ops.writable(l->ops.arg);
}

struct link *link_open(struct event_base *base, const char *url, bool bind,
                       const struct link_ops *ops)
{
	struct link *l = calloc(1, sizeof(*l));
	int rfd, wfd;

	if (!l)
		return NULL;
	l->ops = *ops;
	l->sock = nnu_socket(NN_PAIR, 2 * (size_t)FLOW_MAX_MSG);
	if (l->sock < 0) {
		log_err("peer link: socket: %s", nn_strerror(-l->sock));
		free(l);
		return NULL;
	}
	/* Small messages must not wait for Nagle: the lag budget is 5 ms. */
	nnu_set_int(l->sock, NN_TCP, NN_TCP_NODELAY, 1);
	/*
	 * IPv6 only when the URL asks for it: nanomsg 1.1.5 aborts on a refused
	 * IPv4 connect from a dual-stack socket (usock_posix.inc:195).
	 */
	if (strchr(url, '['))
		nnu_set_int(l->sock, NN_SOL_SOCKET, NN_IPV4ONLY, 0);
	nnu_set_int(l->sock, NN_SOL_SOCKET, NN_SNDBUF, 4 << 20);
	nnu_set_int(l->sock, NN_SOL_SOCKET, NN_RCVBUF, 4 << 20);
	nnu_set_int(l->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, 50);
	nnu_set_int(l->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, 500);
	if ((bind ? nn_bind(l->sock, url) : nn_connect(l->sock, url)) < 0) {
		log_err("peer link: %s %s: %s", bind ? "bind" : "connect", url,
		        nn_strerror(nn_errno()));
		goto bad;
	}
	if ((rfd = nnu_fd(l->sock, NN_RCVFD)) < 0 || (wfd = nnu_fd(l->sock, NN_SNDFD)) < 0)
		goto bad;
	l->ev_rd = event_new(base, rfd, EV_READ | EV_PERSIST, link_read_cb, l);
	l->ev_wr = event_new(base, wfd, EV_READ | EV_PERSIST, link_write_cb, l);
	if (!l->ev_rd || !l->ev_wr || event_add(l->ev_rd, NULL) < 0)
		goto bad;
	log_info("peer link: %s %s", bind ? "listening on" : "connecting to", url);
	return l;
bad:
	link_close(l);
	return NULL;
}

void link_close(struct link *l)
{
	if (!l)
		return;
	if (l->ev_rd)
		event_free(l->ev_rd);
	if (l->ev_wr)
		event_free(l->ev_wr);
	if (l->sock >= 0)
		nn_close(l->sock);
	free(l);
}

int link_send(struct link *l, const uint8_t *buf, size_t len)
{
	if (nn_send(l->sock, buf, len, NN_DONTWAIT) < 0)
		return -nn_errno();
	return 0;
}

void link_want_write(struct link *l, bool on)
{
	if (on == l->want_write)
		return;
	l->want_write = on;
	if (on)
		event_add(l->ev_wr, NULL);
	else
		event_del(l->ev_wr);
}
