/*
 * The translator's TCP relay (docs/trt.md "TCP"): the transparent listener,
 * and each accepted IPv6 connection paired with an IPv4 connection to the
 * address embedded in its destination.
 *
 * Bytes move with splice() through a pipe: no copy through user space. A
 * direction borrows a pipe from the pool (relay/trt_pipe.c) when bytes
 * arrive and returns it once empty, so idle pairs hold only their two
 * sockets; with the pool spent, it copies through user space instead,
 * keeping only what the other socket did not take (freed once sent). A
 * direction reads only when nothing it read is still unsent and, when the
 * other side's socket is full, stops reading until it is writable again:
 * the pipe (64 KiB) or the copy is the whole buffer. Connections to a port in
 * trt.ftp_ports go through bufferevents and the filter hook instead
 * (libevent watermarks: a side is not read while the other's output holds
 * more than BUF_HIGH).
 *
 * Ends: EOF on one side is a shutdown(SHUT_WR) on the other once the pipe
 * is empty (half-close); the pair closes when both directions are shut. A
 * reset or error on either side, or the idle timeout, closes both with
 * SO_LINGER 0, so the other peer gets a RST too. Urgent data (SO_OOBINLINE
 * off): at the mark the byte is read with MSG_OOB and sent with MSG_OOB.
 * A socket holding only its urgent byte is not readable (EPOLLIN), only
 * EPOLLPRI, which libevent does not watch: every spliced socket is also
 * in an epoll set of our own for EPOLLPRI, which libevent watches. The
 * buffered (FTP) path does not forward urgent data.
 */
#include <errno.h>
#include <fcntl.h> /* splice */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/accept_pause.h"
#include "common/log.h"
#include "proto/stun.h"
#include "relay/netaddr.h"
#include "relay/trt_int.h"

#define PIPE_CHUNK      (1 << 16)
#define PUMP_ROUNDS     8
#define ACCEPT_BATCH    32
#define BUF_HIGH        (256 * 1024)
#define CONNECT_MS      30000 /* an IPv4 connect not done by then is given up */
#define KEEPALIVE_INTVL 75
#define KEEPALIVE_CNT   9
#define URG_STEP        4096

struct pair;

struct half {
	struct pair *p;
	enum trt_dir dir;
	int in, out;
	int pipe[2];    /* borrowed from the pool while bytes are in it */
	size_t pending; /* bytes in the pipe */
	uint8_t *copy;  /* without a pipe: what the other socket has not taken yet */
	size_t copy_off, copy_len;
	struct event *ev; /* reads in, or waits for room in out: one at a time */
	bool eof, shut;
};

struct pair {
	struct flow flow; /* first */
	struct trt *t;
	int fd6, fd4;
	struct tw_addr c6, d6, d4;
	struct half h[2];            /* [TRT_TO_V4]: fd6 -> fd4 */
	struct event *cev;           /* the IPv4 connect, when made after accept */
	struct bufferevent *b6, *b4; /* FTP ports: buffers and the filter */
	void *fctx;
	bool buffered;
	uint64_t last_ms, connect_by;
};

/* ---- the flow kind ---- */

static void half_close(struct half *h)
{
	if (h->ev && h->p->t->urg_fd >= 0)
		epoll_ctl(h->p->t->urg_fd, EPOLL_CTL_DEL, h->in, NULL);
	if (h->ev)
		event_free(h->ev);
	h->ev = NULL;
	if (h->p)
		trt_pipe_put(h->p->t->pipes, h->pipe, h->pending == 0);
	free(h->copy);
	h->copy = NULL;
	h->copy_off = h->copy_len = 0;
}

static void pair_close(struct flow *f)
{
	struct pair *p = (struct pair *)f;
	struct trt *t = p->t;

	half_close(&p->h[0]);
	half_close(&p->h[1]);
	if (p->cev)
		event_free(p->cev);
	if (p->b6)
		bufferevent_free(p->b6);
	if (p->b4)
		bufferevent_free(p->b4);
	if (p->fctx && t->filter)
		t->filter->close(p->fctx);
	if (p->fd6 >= 0)
		close(p->fd6);
	if (p->fd4 >= 0)
		close(p->fd4);
	p->fd6 = p->fd4 = -1;
	t->n_tcp--;
	trt_mapping_add(t, TRT_TCP, -1);
}

static void pair_destroy(struct flow *f)
{
	free(f);
}

static void linger0(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* Both sides closed with a RST: a reset, an error, the idle timeout. */
static void pair_abort(struct pair *p)
{
	linger0(p->fd6);
	linger0(p->fd4);
	flow_delete(&p->flow);
}

static void pair_sweep(struct flow *f, uint64_t now)
{
	struct pair *p = (struct pair *)f;

	if (p->cev && now >= p->connect_by) {
		pair_abort(p);
		return;
	}
	if (now >= p->last_ms + (uint64_t)p->t->cfg->trt_tcp_idle_timeout * 1000)
		pair_abort(p);
}

static void pair_export(const struct flow *f, uint64_t now_ms, struct flow_out *o)
{
	(void)f;
	(void)now_ms;
	(void)o; /* never called: a TCP connection's state is in this kernel (docs/trt.md "HA") */
}

static const struct flow_ops pair_ops = {
        .name = "trt_tcp",
        .close = pair_close,
        .destroy = pair_destroy,
        .sweep = pair_sweep,
        .export = pair_export,
};

/* ---- splice ---- */

static void pair_maybe_done(struct pair *p)
{
	if (p->h[0].shut && p->h[1].shut)
		flow_delete(&p->flow);
}

static void half_count(struct half *h, size_t n)
{
	struct trt *t = h->p->t;

	TRT_ADD(t, bytes[TRT_TCP][h->dir], n);
	h->p->last_ms = t->w->now_ms;
}

/* Bytes read and not yet sent on. */
static bool half_busy(const struct half *h)
{
	return h->pending > 0 || h->copy_len > h->copy_off;
}

/* n bytes read without the pipe, appended to what waits for the other socket. */
static int half_keep(struct half *h, const uint8_t *b, size_t n)
{
	uint8_t *c;

	if (h->copy_off > 0 && h->copy_off == h->copy_len) {
		free(h->copy);
		h->copy = NULL;
		h->copy_off = h->copy_len = 0;
	}
	c = realloc(h->copy, h->copy_len + n);
	if (c == NULL)
		return -1;
	memcpy(c + h->copy_len, b, n);
	h->copy = c;
	h->copy_len += n;
	return 1;
}

/*
 * At the urgent mark splice() reads nothing more: take the byte with
 * MSG_OOB and send it the same way, then step over its place in the stream
 * with an ordinary read, whose bytes go into the pipe. 1 if it moved on.
 */
static int half_urgent(struct half *h)
{
	uint8_t b[URG_STEP];
	int at = 0;
	ssize_t n;

	if (ioctl(h->in, SIOCATMARK, &at) < 0 || !at)
		return 0;
	if (recv(h->in, b, 1, MSG_OOB | MSG_DONTWAIT) == 1)
		send(h->out, b, 1, MSG_OOB | MSG_DONTWAIT | MSG_NOSIGNAL);
	n = recv(h->in, b, sizeof(b), MSG_DONTWAIT);
	if (n == 0)
		h->eof = true;
	if (n <= 0)
		return n == 0 || errno == EAGAIN ? 1 : -1;
	return half_keep(h, b, (size_t)n);
}

/* A read that brought no bytes (n 0 or -1): 1 EOF or the urgent mark, -1 a reset. */
static int half_nothing(struct half *h, ssize_t n)
{
	if (n == 0) {
		h->eof = true;
		return 1;
	}
	if (errno == EAGAIN)
		return half_urgent(h);
	return errno == EINTR ? 1 : -1;
}

/* Without a pipe: one read through the shared buffer, kept for half_flush. */
static int half_copy(struct half *h)
{
	struct trt *t = h->p->t;
	ssize_t n = recv(h->in, t->buf, sizeof(t->buf), MSG_DONTWAIT), m;

	if (n > 0) {
		TRT_INC(t, splice_fallback);
		m = send(h->out, t->buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (m < 0 && errno != EAGAIN)
			return -1;
		m = m < 0 ? 0 : m;
		half_count(h, (size_t)m);
		return m == n ? 1 : half_keep(h, t->buf + m, (size_t)(n - m));
	}
	return half_nothing(h, n);
}

/* One read from the socket into an empty pipe: 1 read, 0 nothing now, -1 reset. */
static int half_fill(struct half *h)
{
	ssize_t n;
	int rc;

	if (h->pipe[0] < 0 && trt_pipe_get(h->p->t->pipes, h->pipe) < 0)
		return half_copy(h);
	n = splice(h->in, NULL, h->pipe[1], NULL, PIPE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		h->pending = (size_t)n;
		return 1;
	}
	rc = half_nothing(h, n);
	/* Nothing in flight: the pipe goes back for another pair. */
	trt_pipe_put(h->p->t->pipes, h->pipe, true);
	return rc;
}

/*
 * Sends what the direction holds (pipe or copy): 1 all sent, 0 the other
 * socket is full, -1 it failed.
 */
static int half_flush(struct half *h)
{
	ssize_t m;

	if (h->pending > 0) {
		m = splice(h->pipe[0], NULL, h->out, NULL, h->pending,
		           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (m < 0 && errno == EAGAIN)
			return 0;
		if (m <= 0)
			return -1;
		h->pending -= (size_t)m;
		half_count(h, (size_t)m);
		if (h->pending > 0)
			return 0;
		trt_pipe_put(h->p->t->pipes, h->pipe, true);
	}
	if (h->copy_len > h->copy_off) {
		m = send(h->out, h->copy + h->copy_off, h->copy_len - h->copy_off,
		         MSG_DONTWAIT | MSG_NOSIGNAL);
		if (m < 0 && errno == EAGAIN)
			return 0;
		if (m <= 0)
			return -1;
		h->copy_off += (size_t)m;
		half_count(h, (size_t)m);
		if (h->copy_off < h->copy_len)
			return 0;
		free(h->copy);
		h->copy = NULL;
		h->copy_off = h->copy_len = 0;
	}
	return 1;
}

static void half_read_cb(evutil_socket_t fd, short what, void *arg);
static void half_write_cb(evutil_socket_t fd, short what, void *arg);

/*
 * A direction either reads its input or waits for room in its output,
 * never both: one event, pointed at one or the other (an event per pair
 * and direction less, which 5,000 pairs feel).
 */
static void half_watch(struct half *h, bool out)
{
	event_del(h->ev);
	event_assign(h->ev, h->p->t->w->base, out ? h->out : h->in,
	             (out ? EV_WRITE : EV_READ) | EV_PERSIST, out ? half_write_cb : half_read_cb,
	             h);
	event_add(h->ev, NULL);
}

static void half_pump(struct half *h)
{
	struct pair *p = h->p;

	for (int i = 0; i < PUMP_ROUNDS; i++) {
		int rc = 0;

		if (!half_busy(h) && !h->eof && (rc = half_fill(h)) <= 0) {
			if (rc < 0) {
				pair_abort(p);
				return;
			}
			break;
		}
		rc = half_flush(h);
		if (rc < 0) {
			pair_abort(p);
			return;
		}
		if (rc == 0) {
			half_watch(h, true);
			return;
		}
		if (h->eof)
			break;
	}
	if (h->eof && !half_busy(h) && !h->shut) {
		shutdown(h->out, SHUT_WR);
		h->shut = true;
		event_del(h->ev);
		pair_maybe_done(p);
	}
}

static void half_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half *h = arg;

	(void)fd;
	(void)what;
	trt_now(h->p->t);
	half_pump(h);
}

static void half_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half *h = arg;

	(void)fd;
	(void)what;
	trt_now(h->p->t);
	if (!h->eof)
		half_watch(h, false);
	else
		event_del(h->ev);
	half_pump(h);
}

static int half_start(struct pair *p, enum trt_dir dir)
{
	struct half *h = &p->h[dir];
	struct event_base *base = p->t->w->base;

	h->p = p;
	h->dir = dir;
	h->in = dir == TRT_TO_V4 ? p->fd6 : p->fd4;
	h->out = dir == TRT_TO_V4 ? p->fd4 : p->fd6;
	h->ev = event_new(base, h->in, EV_READ | EV_PERSIST, half_read_cb, h);
	if (h->ev == NULL)
		return -ENOMEM;
	if (epoll_ctl(p->t->urg_fd, EPOLL_CTL_ADD, h->in,
	              &(struct epoll_event){.events = EPOLLPRI | EPOLLET, .data.ptr = h}) < 0)
		return -errno;
	return event_add(h->ev, NULL) < 0 ? -ENOMEM : 0;
}

/* Urgent data arrived on some half's socket: what precedes it first, then the byte. */
static void urgent_cb(evutil_socket_t fd, short what, void *arg)
{
	struct epoll_event ev[32];
	int n = epoll_wait(fd, ev, 32, 0);
	uint8_t b;

	(void)what;
	trt_now(arg);
	for (int i = 0; i < n; i++) {
		struct half *h = ev[i].data.ptr;

		/* A pair closed earlier in this batch keeps its memory until worker_reap. */
		if (h->p->flow.closed || h->eof)
			continue;
		if (!half_busy(h))
			half_pump(h);
		if (h->p->flow.closed)
			continue;
		if (recv(h->in, &b, 1, MSG_OOB | MSG_DONTWAIT) == 1)
			send(h->out, &b, 1, MSG_OOB | MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

/* ---- buffers (FTP ports) ---- */

static struct bufferevent *buf_other(struct pair *p, struct bufferevent *b)
{
	return b == p->b6 ? p->b4 : p->b6;
}

static void buf_shut_if_drained(struct pair *p, enum trt_dir d)
{
	struct bufferevent *out = d == TRT_TO_V4 ? p->b4 : p->b6;
	struct half *h = &p->h[d];

	if (!h->eof || h->shut || evbuffer_get_length(bufferevent_get_output(out)) > 0)
		return;
	shutdown(d == TRT_TO_V4 ? p->fd4 : p->fd6, SHUT_WR);
	h->shut = true;
	pair_maybe_done(p);
}

static void buf_read_cb(struct bufferevent *b, void *arg)
{
	struct pair *p = arg;
	struct evbuffer *i6 = bufferevent_get_input(p->b6), *i4 = bufferevent_get_input(p->b4);
	struct evbuffer *o4 = bufferevent_get_output(p->b4), *o6 = bufferevent_get_output(p->b6);
	size_t n6 = evbuffer_get_length(i6), n4 = evbuffer_get_length(i4);

	trt_now(p->t);
	if (p->fctx) {
		if (p->t->filter->input(p->fctx, i6, i4, o4, o6) < 0) {
			pair_abort(p);
			return;
		}
	} else {
		evbuffer_add_buffer(o4, i6);
		evbuffer_add_buffer(o6, i4);
	}
	half_count(&p->h[TRT_TO_V4], n6 - evbuffer_get_length(i6));
	half_count(&p->h[TRT_TO_V6], n4 - evbuffer_get_length(i4));
	if (evbuffer_get_length(bufferevent_get_output(buf_other(p, b))) > BUF_HIGH)
		bufferevent_disable(b, EV_READ);
}

/* An output drained to the low watermark: its reader may go on. */
static void buf_write_cb(struct bufferevent *b, void *arg)
{
	struct pair *p = arg;
	enum trt_dir d = b == p->b4 ? TRT_TO_V4 : TRT_TO_V6;

	trt_now(p->t);
	if (!p->h[d].eof)
		bufferevent_enable(buf_other(p, b), EV_READ);
	buf_shut_if_drained(p, d);
}

static void buf_event_cb(struct bufferevent *b, short what, void *arg)
{
	struct pair *p = arg;
	enum trt_dir d = b == p->b6 ? TRT_TO_V4 : TRT_TO_V6;

	trt_now(p->t);
	if (what & BEV_EVENT_ERROR) {
		pair_abort(p);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		p->h[d].eof = true;
		bufferevent_disable(b, EV_READ);
		buf_shut_if_drained(p, d);
	}
}

static int buf_start(struct pair *p)
{
	struct event_base *base = p->t->w->base;
	struct trt_filter_env env = {.client = p->c6, .server6 = p->d6, .server4 = p->d4};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(p->fd4, (struct sockaddr *)&ss, &sl) == 0)
		tw_addr_from_sa((struct sockaddr *)&ss, &env.source4);
	p->buffered = true;
	for (int i = 0; i < 2; i++) {
		p->h[i].p = p;
		p->h[i].dir = (enum trt_dir)i;
	}
	p->b6 = bufferevent_socket_new(base, p->fd6, 0);
	p->b4 = bufferevent_socket_new(base, p->fd4, 0);
	if (p->b6 == NULL || p->b4 == NULL)
		return -ENOMEM;
	if (p->t->filter && (p->fctx = p->t->filter->open(p->t, &env)) == NULL)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		struct bufferevent *b = i ? p->b4 : p->b6;

		bufferevent_setcb(b, buf_read_cb, buf_write_cb, buf_event_cb, p);
		bufferevent_setwatermark(b, EV_WRITE, BUF_HIGH / 2, 0);
		bufferevent_enable(b, EV_READ | EV_WRITE);
	}
	return 0;
}

/* ---- pairs ---- */

static bool is_ftp(const struct trt *t, uint16_t port)
{
	for (unsigned i = 0; i < t->cfg->n_trt_ftp_ports; i++)
		if (t->cfg->trt_ftp_ports[i] == port)
			return true;
	return false;
}

static void sock_tune(const struct config *c, int fd)
{
	int one = 1, idle = (int)c->trt_tcp_keepalive, cnt = KEEPALIVE_CNT;
	int intvl = idle < KEEPALIVE_INTVL ? idle : KEEPALIVE_INTVL;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* Segments leave as the client wrote them: interactive protocols stay interactive. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Both sides connected: relay. */
static void pair_run(struct pair *p)
{
	int rc;

	sock_tune(p->t->cfg, p->fd6);
	sock_tune(p->t->cfg, p->fd4);
	p->last_ms = p->t->w->now_ms;
	if (is_ftp(p->t, p->d4.port))
		rc = buf_start(p);
	else if ((rc = half_start(p, TRT_TO_V4)) == 0)
		rc = half_start(p, TRT_TO_V6);
	if (rc < 0)
		pair_abort(p);
}

static struct pair *pair_new(struct trt *t, int fd6, int fd4, const struct tw_addr *c6,
                             const struct tw_addr *d6, const struct tw_addr *d4)
{
	struct alloc_key key = {.transport = STUN_PROTO_TCP, .client = *c6, .local = *d6};
	struct pair *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->t = t;
	p->fd6 = fd6;
	p->fd4 = fd4;
	p->c6 = *c6;
	p->d6 = *d6;
	p->d4 = *d4;
	for (int i = 0; i < 2; i++)
		p->h[i].pipe[0] = p->h[i].pipe[1] = -1;
	flow_init(&p->flow, &pair_ops, t->w, &key, false);
	t->n_tcp++;
	trt_mapping_add(t, TRT_TCP, 1);
	flow_publish(&p->flow);
	return p;
}

void trt_tcp_pair_start(struct trt *t, int fd6, int fd4, const struct tw_addr *c6,
                        const struct tw_addr *d4)
{
	struct tw_addr d6;
	struct pair *p;

	trt_addr_embed(&t->cfg->trt_prefix, d4, &d6);
	p = pair_new(t, fd6, fd4, c6, &d6, d4);
	if (p == NULL) {
		linger0(fd6);
		close(fd6);
		close(fd4);
		return;
	}
	pair_run(p);
}

void trt_tcp_adopt(struct trt *t, int fd6, int fd4, const struct tw_addr *c6,
                   const struct tw_addr *d4)
{
	/* The held SYN was counted in n_tcp; the pair takes its place. */
	t->n_tcp--;
	trt_tcp_pair_start(t, fd6, fd4, c6, d4);
}

static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pair *p = arg;
	int err = 0;
	socklen_t el = sizeof(err);

	(void)what;
	trt_now(p->t);
	event_free(p->cev);
	p->cev = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
		pair_abort(p); /* without the SYN queue the client learns it by a RST */
		return;
	}
	pair_run(p);
}

/* No SYN queue (trt.nft off, or the queue bypassed): connect now, after accept. */
static void connect_late(struct trt *t, int fd6, const struct tw_addr *c6, const struct tw_addr *d6,
                         const struct tw_addr *d4)
{
	struct sockaddr_storage ss;
	socklen_t sl = tw_addr_to_sa(d4, &ss);
	struct pair *p;
	int fd4;

	fd4 = trt_v4_socket(t, SOCK_STREAM, c6);
	if (fd4 < 0) {
		linger0(fd6);
		close(fd6);
		return;
	}
	p = pair_new(t, fd6, fd4, c6, d6, d4);
	if (p == NULL) {
		linger0(fd6);
		close(fd6);
		close(fd4);
		return;
	}
	if (connect(fd4, (struct sockaddr *)&ss, sl) == 0) {
		pair_run(p);
		return;
	}
	if (errno != EINPROGRESS) {
		pair_abort(p);
		return;
	}
	p->connect_by = t->w->now_ms + CONNECT_MS;
	p->cev = event_new(t->w->base, fd4, EV_WRITE, connect_cb, p);
	if (p->cev == NULL || event_add(p->cev, NULL) < 0)
		pair_abort(p);
}

static void refuse(int fd6)
{
	linger0(fd6);
	close(fd6);
}

static void accept_one(struct trt *t, int fd6)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct tw_addr c6, d6, d4;
	enum trt_deny why;
	int fd4;

	if (getsockname(fd6, (struct sockaddr *)&ss, &sl) < 0 ||
	    tw_addr_from_sa((struct sockaddr *)&ss, &d6) < 0) {
		refuse(fd6);
		return;
	}
	sl = sizeof(ss);
	if (getpeername(fd6, (struct sockaddr *)&ss, &sl) < 0 ||
	    tw_addr_from_sa((struct sockaddr *)&ss, &c6) < 0) {
		refuse(fd6);
		return;
	}
	if (trt_addr_extract(&t->cfg->trt_prefix, &d6, &d4) < 0) {
		trt_drop(t, TRT_DROP_BAD); /* someone connected to trt.port itself */
		refuse(fd6);
		return;
	}
	if (t->syn && (fd4 = trt_syn_take(t->syn, &c6, &d6)) >= 0) {
		trt_tcp_adopt(t, fd6, fd4, &c6, &d4);
		return;
	}
	why = trt_check(t, &c6, &d4);
	if (why == TRT_OK && t->n_tcp >= t->cfg->trt_max_tcp)
		why = TRT_DENY_LIMIT;
	if (why != TRT_OK) {
		trt_denied(t, TRT_TCP, &c6, &d4, why);
		refuse(fd6);
		return;
	}
	connect_late(t, fd6, &c6, &d6, &d4);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	trt_now(arg);
	evutil_make_socket_nonblocking(fd);
	accept_one(arg, fd);
}

int trt_tcp_start(struct trt *t, char *err, size_t errlen)
{
	struct tw_addr any = {.family = TW_AF_INET6, .port = t->cfg->trt_port};
	int fd, one = 1;

	fd = netaddr_socket(&any, SOCK_STREAM);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0)
			fd = netaddr_close_err(fd);
	}
	if (fd >= 0)
		fd = netaddr_bind(fd, &any, true);
	if (fd >= 0 && listen(fd, 4096) < 0)
		fd = netaddr_close_err(fd);
	if (fd < 0) {
		snprintf(err, errlen, "trt: transparent TCP listener on [::]:%u: %s",
		         t->cfg->trt_port, strerror(-fd));
		return fd;
	}
	t->tcp_fd = fd;
	t->tcp_l = evconnlistener_new(t->w->base, accept_cb, t, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (t->tcp_l == NULL) {
		close(fd);
		snprintf(err, errlen, "trt: out of memory");
		return -ENOMEM;
	}
	t->tcp_pause = accept_pause_attach(t->tcp_l, "trt", NULL, NULL);
	t->urg_fd = epoll_create1(EPOLL_CLOEXEC);
	if (t->urg_fd < 0 ||
	    (t->urg_ev = event_new(t->w->base, t->urg_fd, EV_READ | EV_PERSIST, urgent_cb, t)) ==
	            NULL ||
	    event_add(t->urg_ev, NULL) < 0) {
		snprintf(err, errlen, "trt: epoll for urgent data: %s", strerror(errno));
		return -ENOMEM;
	}
	return 0;
}

void trt_tcp_stop(struct trt *t)
{
	accept_pause_free(t->tcp_pause);
	t->tcp_pause = NULL;
	if (t->tcp_l)
		evconnlistener_free(t->tcp_l);
	t->tcp_l = NULL;
	t->tcp_fd = -1;
	if (t->urg_ev)
		event_free(t->urg_ev);
	t->urg_ev = NULL;
	/* The set's descriptor stays until trt_free: pairs freed later still leave it. */
}
