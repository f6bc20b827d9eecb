/*
 * The FTP ALG (proto/ftp_alg.h, docs/trt.md "FTP") as the translator's TCP
 * filter (struct trt_filter_ops): the control connection's bytes through
 * the ALG, and its active-mode proxies. The ALG does no I/O; this file
 * feeds it from the two input buffers and opens the listeners it asks for.
 *
 * Feeding: client bytes are fed until the ALG holds them back, then the
 * server's, and again, until nothing moves (the order ftp_alg.h asks for:
 * which reply answers which command must not depend on how reads
 * interleave). What the ALG keeps stays in libevent's input buffer.
 *
 * Active mode (EPRT, LPRT): a listener on the control connection's IPv4
 * address Y4 and a fresh port q, named to the server by the ALG's PORT.
 * The first connection from the control connection's server address is
 * taken; the relay connects to the client's [A6]:p from PREFIX::X4 and the
 * two are relayed like any TCP pair. Anything else that connects is
 * refused. A listener goes after its connection, when the server refuses
 * the PORT (ACTIVE_CANCEL), after PROXY_MS, or with the control connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "proto/ftp_alg.h"
#include "relay/netaddr.h"
#include "relay/trt_int.h"

#define FEED_CHUNK 4096
#define OUT_CAP    (2 * FTP_ALG_STEP_MAX)
#define MAX_PROXY  4
#define PROXY_MS   60000
#define FEED_GUARD                                                                    \
	100000 /* calls per input; each moves something, so only a stuck pump hits it \
	        */

_Static_assert((int)FTP_ALG_RW_COUNT == TRT_ALG_KINDS,
               "trt_alg_kind_names follows enum ftp_alg_rw");

struct ftp;

/* One active-mode data connection being set up. */
struct proxy {
	struct ftp *f;
	uint32_t id;
	int lfd, fd4, fd6; /* the listener, the server's connection, ours to the client */
	struct event *ev, *timer;
	struct tw_addr client; /* [A6]:p from EPRT/LPRT */
	bool used;
};

struct ftp {
	struct trt *t;
	struct trt_filter_env env;
	struct ftp_alg a;
	uint64_t counted[FTP_ALG_RW_COUNT];
	struct proxy px[MAX_PROXY];
	uint8_t sb[OUT_CAP], cb[OUT_CAP];
};

/* ---- active-mode proxies ---- */

static void proxy_close(struct proxy *x)
{
	if (x->ev)
		event_free(x->ev);
	if (x->timer)
		event_free(x->timer);
	for (int *fd = &x->lfd; fd <= &x->fd6; fd++)
		if (*fd >= 0)
			close(*fd);
	memset(x, 0, sizeof(*x));
	x->lfd = x->fd4 = x->fd6 = -1;
}

static void proxy_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proxy_close(arg);
}

/* Our connection to the client is up (or failed): relay, or give both up. */
static void client_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *x = arg;
	struct trt *t = x->f->t;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct tw_addr d4;
	int err = 0, fd4 = x->fd4;
	socklen_t el = sizeof(err);

	(void)what;
	trt_now(t);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0 ||
	    getpeername(fd4, (struct sockaddr *)&ss, &sl) < 0 ||
	    tw_addr_from_sa((struct sockaddr *)&ss, &d4) < 0) {
		proxy_close(x);
		return;
	}
	x->fd4 = x->fd6 = -1; /* the pair owns them now */
	proxy_close(x);
	trt_tcp_pair_start(t, fd, fd4, &x->client, &d4);
}

static int connect_client(struct proxy *x)
{
	struct trt *t = x->f->t;
	struct tw_addr from = x->f->env.server6;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	from.port = 0;
	fd = netaddr_socket(&from, SOCK_STREAM);
	if (fd < 0 || (fd = netaddr_bind(fd, &from, true)) < 0)
		return fd;
	x->fd6 = fd;
	sl = tw_addr_to_sa(&x->client, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
		return -errno;
	x->ev = event_new(t->w->base, fd, EV_WRITE, client_connected_cb, x);
	return x->ev && event_add(x->ev, NULL) == 0 ? 0 : -ENOMEM;
}

static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *x = arg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct tw_addr from;
	int c;

	(void)what;
	trt_now(x->f->t);
	c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	/* Only the control connection's server: the listener is no open door. */
	if (tw_addr_from_sa((struct sockaddr *)&ss, &from) < 0 ||
	    !tw_addr_ip_eq(&from, &x->f->env.server4)) {
		close(c);
		return;
	}
	event_free(x->ev);
	x->ev = NULL;
	close(x->lfd);
	x->lfd = -1;
	x->fd4 = c;
	if (connect_client(x) < 0)
		proxy_close(x);
}

/* A listener on Y4 and a fresh port; the port, or -errno. */
static int proxy_open(struct ftp *f, const struct ftp_alg_event *ev)
{
	struct trt *t = f->t;
	struct tw_addr src = f->env.source4;
	struct timeval tv = {PROXY_MS / 1000, 0};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct proxy *x = NULL;

	for (int i = 0; i < MAX_PROXY && !x; i++)
		if (!f->px[i].used)
			x = &f->px[i];
	if (x == NULL)
		return -ENOSPC;
	x->used = true;
	x->f = f;
	x->id = ev->id;
	x->client = ev->addr;
	src.port = 0;
	x->lfd = netaddr_socket(&src, SOCK_STREAM);
	if (x->lfd < 0 || (x->lfd = netaddr_bind(x->lfd, &src, false)) < 0 ||
	    listen(x->lfd, 1) < 0 || getsockname(x->lfd, (struct sockaddr *)&ss, &sl) < 0 ||
	    tw_addr_from_sa((struct sockaddr *)&ss, &src) < 0)
		goto bad;
	x->ev = event_new(t->w->base, x->lfd, EV_READ | EV_PERSIST, listener_cb, x);
	x->timer = evtimer_new(t->w->base, proxy_timeout_cb, x);
	if (!x->ev || !x->timer || event_add(x->ev, NULL) < 0 || evtimer_add(x->timer, &tv) < 0)
		goto bad;
	return src.port;
bad:
	proxy_close(x);
	return -EADDRNOTAVAIL;
}

static void proxy_cancel(struct ftp *f, uint32_t id)
{
	for (int i = 0; i < MAX_PROXY; i++)
		if (f->px[i].used && f->px[i].id == id && f->px[i].lfd >= 0)
			proxy_close(&f->px[i]);
}

/* ---- feeding the ALG ---- */

static void flush(struct ftp_alg_buf *b, struct evbuffer *out)
{
	if (b->len)
		evbuffer_add(out, b->p, b->len);
	b->len = 0;
}

static void on_event(struct ftp *f, struct evbuffer *to_v4)
{
	const struct ftp_alg_event *ev = ftp_alg_event(&f->a);
	struct ftp_alg_buf s = {f->sb, sizeof(f->sb), 0};
	int port;

	switch (ev->kind) {
	case FTP_ALG_EV_NONE:
		return;
	case FTP_ALG_EV_ACTIVE_OPEN:
		port = proxy_open(f, ev);
		if (port > 0)
			ftp_alg_active_ready(&f->a, (uint16_t)port, &s);
		else
			ftp_alg_active_failed(&f->a, &s);
		break;
	case FTP_ALG_EV_ACTIVE_CANCEL:
		proxy_cancel(f, ev->id);
		break;
	}
	flush(&s, to_v4);
}

/* One call on one side; whether anything moved. */
static bool feed_once(struct ftp *f, bool client, struct evbuffer *in, struct evbuffer *to_v4,
                      struct evbuffer *to_v6)
{
	struct ftp_alg_buf s = {f->sb, sizeof(f->sb), 0}, c = {f->cb, sizeof(f->cb), 0};
	size_t n = evbuffer_get_length(in), used;
	const uint8_t *p;
	bool ev;

	if (n == 0)
		return false;
	n = n < FEED_CHUNK ? n : FEED_CHUNK;
	p = evbuffer_pullup(in, (ev_ssize_t)n);
	if (p == NULL)
		return false;
	used = client ? ftp_alg_from_client(&f->a, p, n, &s, &c)
	              : ftp_alg_from_server(&f->a, p, n, &s, &c);
	evbuffer_drain(in, used);
	ev = ftp_alg_event(&f->a)->kind != FTP_ALG_EV_NONE;
	bool moved = used || s.len || c.len || ev;

	flush(&s, to_v4);
	flush(&c, to_v6);
	on_event(f, to_v4);
	return moved;
}

static void count_rewrites(struct ftp *f)
{
	for (unsigned k = 0; k < FTP_ALG_RW_COUNT; k++)
		for (; f->counted[k] < f->a.rewrites[k]; f->counted[k]++)
			trt_count_alg(f->t, k);
}

static int ftp_input(void *ctx, struct evbuffer *from_v6, struct evbuffer *from_v4,
                     struct evbuffer *to_v4, struct evbuffer *to_v6)
{
	struct ftp *f = ctx;

	for (unsigned guard = 0; guard < FEED_GUARD;) {
		bool moved = false;

		while (guard++ < FEED_GUARD && feed_once(f, true, from_v6, to_v4, to_v6))
			moved = true;
		moved |= feed_once(f, false, from_v4, to_v4, to_v6);
		guard++;
		if (!moved) {
			count_rewrites(f);
			return 0;
		}
	}
	return -1;
}

static void *ftp_open(struct trt *t, const struct trt_filter_env *env)
{
	struct ftp *f = calloc(1, sizeof(*f));
	struct ftp_alg_env ae = {
	        .client = env->client, .server6 = env->server6, .source4 = env->source4};

	if (f == NULL)
		return NULL;
	f->t = t;
	f->env = *env;
	for (int i = 0; i < MAX_PROXY; i++)
		f->px[i].lfd = f->px[i].fd4 = f->px[i].fd6 = -1;
	ftp_alg_init(&f->a, &ae);
	return f;
}

static void ftp_close(void *ctx)
{
	struct ftp *f = ctx;

	for (int i = 0; i < MAX_PROXY; i++)
		if (f->px[i].used)
			proxy_close(&f->px[i]);
	free(f);
}

const struct trt_filter_ops trt_ftp_ops = {
        .open = ftp_open,
        .input = ftp_input,
        .close = ftp_close,
};
