#include <errno.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "syncd/local.h"
#include "syncd/nnutil.h"
#include "syncd/wire.h"

#define MSG_TARGET    FLOW_BUDGET_SAFE_MSG /* bytes of one message to the relay */
#define QUEUE_CAP     (64u << 20)          /* bytes waiting for a slow or absent relay */
#define HEARTBEAT_MS  250                  /* the relay wants one at least every 500 ms */
#define RECV_PER_CALL 256
#define URL_MAX       256

struct outmsg {
	struct outmsg *next;
	size_t len;
	bool dump_req;
	uint8_t buf[];
};

struct local {
	int pull, push;
	struct event *ev_rd, *ev_wr, *ev_hb;
	struct local_ops ops;
	struct sync_stats *st;
	uint8_t *cur; /* the message being built */
	size_t cur_len, cur_cap;
	size_t cur_flows;
	struct outmsg *head, **tail;
	size_t queued;
	bool synced, lost, want_write;
	uint64_t log_last_ms;
};

static int queue_msg(struct local *l, const uint8_t *buf, size_t len, bool dump_req)
{
	struct outmsg *m;

	if (l->queued + len > QUEUE_CAP || !(m = malloc(sizeof(*m) + len))) {
		l->st->relay_overflow++;
		l->lost = true;
		return -ENOBUFS;
	}
	m->next = NULL;
	m->len = len;
	m->dump_req = dump_req;
	memcpy(m->buf, buf, len);
	*l->tail = m;
	l->tail = &m->next;
	l->queued += len;
	return 0;
}

/* Closes the message being built; the relay's peer_synced rides on every one. */
static void finish(struct local *l)
{
	Twist__Local m = TWIST__LOCAL__INIT;
	uint8_t tail[8];
	size_t n = 0;

	if (l->cur_len == 0)
		return;
	if (l->synced) {
		m.peer_synced = 1;
		n = twist__local__pack(&m, tail);
	}
	if (l->cur_len + n <= l->cur_cap) {
		memcpy(l->cur + l->cur_len, tail, n);
		l->cur_len += n;
	}
	queue_msg(l, l->cur, l->cur_len, false);
	l->cur_len = 0;
	l->cur_flows = 0;
}

static void frag_add(struct local *l, const Twist__Local *m, size_t flows)
{
	size_t n = twist__local__get_packed_size(m);

	if (l->cur_len && (l->cur_len + n > MSG_TARGET || l->cur_flows + flows > FLOW_MAX_FLOWS))
		finish(l);
	if (l->cur_len + n + 8 > l->cur_cap) {
		size_t cap = l->cur_cap ? l->cur_cap : 4096;
		uint8_t *p;

		while (cap < l->cur_len + n + 8)
			cap *= 2;
		if (!(p = realloc(l->cur, cap))) {
			l->st->relay_overflow++;
			l->lost = true;
			return;
		}
		l->cur = p;
		l->cur_cap = cap;
	}
	l->cur_len += twist__local__pack(m, l->cur + l->cur_len);
	l->cur_flows += flows;
}

void local_flow(struct local *l, const Twist__Flow *f)
{
	Twist__Local m = TWIST__LOCAL__INIT;
	Twist__Flow *one = (Twist__Flow *)f; /* packing only reads it */

	m.n_flows = 1;
	m.flows = &one;
	frag_add(l, &m, 1);
	l->st->relay_flows++;
}

void local_tokens(struct local *l, const uint64_t *tokens, size_t n)
{
	Twist__Local m = TWIST__LOCAL__INIT;

	for (size_t off = 0; off < n; off += FLOW_MAX_TOKENS) {
		m.n_tokens = n - off < FLOW_MAX_TOKENS ? n - off : FLOW_MAX_TOKENS;
		m.tokens = (uint64_t *)tokens + off;
		frag_add(l, &m, 0);
		finish(l); /* tokens are someone's held response: no waiting */
	}
}

void local_dump_end(struct local *l)
{
	Twist__Local m = TWIST__LOCAL__INIT;

	m.dump_end = 1;
	frag_add(l, &m, 0);
	finish(l);
}

static void heartbeat(struct local *l)
{
	Twist__Local m = TWIST__LOCAL__INIT;

	m.heartbeat = 1;
	frag_add(l, &m, 0);
	finish(l);
}

void local_synced(struct local *l, bool synced)
{
	l->synced = synced;
	heartbeat(l); /* carries the news */
}

static void want_write(struct local *l, bool on)
{
	if (on == l->want_write)
		return;
	l->want_write = on;
	if (on)
		event_add(l->ev_wr, NULL);
	else
		event_del(l->ev_wr);
}

void local_flush(struct local *l)
{
	struct outmsg *m;

	finish(l);
	while ((m = l->head)) {
		if (nn_send(l->push, m->buf, m->len, NN_DONTWAIT) < 0) {
			if (nn_errno() == EAGAIN)
				break; /* no relay, or it is behind: the SNDFD tells us when */
			log_warn("relay ipc: send: %s", nn_strerror(nn_errno()));
			l->st->relay_overflow++;
			l->lost = true;
		} else {
			l->st->relay_msgs++;
			if (m->dump_req) {
				log_info("relay ipc: asked the relay for its flows");
				l->ops.dump_asked(l->ops.arg);
			}
		}
		l->head = m->next;
		if (!l->head)
			l->tail = &l->head;
		l->queued -= m->len;
		free(m);
	}
	want_write(l, l->head != NULL);
}

bool local_take_lost(struct local *l)
{
	bool lost = l->lost && !l->head;

	if (lost)
		l->lost = false;
	return lost;
}

size_t local_queued_bytes(const struct local *l)
{
	return l->queued + l->cur_len;
}

static void local_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local *l = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < RECV_PER_CALL; i++) {
		void *buf = NULL;
		int n = nn_recv(l->pull, &buf, NN_MSG, NN_DONTWAIT);
		enum drop_reason why = DROP_GARBAGE;
		Twist__Local *m;

		if (n < 0)
			break;
		m = wire_local_decode(buf, (size_t)n, &why);
		nn_freemsg(buf);
		if (!m) {
			l->st->drops[SRC_RELAY][why]++;
			if (log_ratelimit(&l->log_last_ms, clock_mono_ms(), 1000))
				log_warn("relay ipc: message dropped (%s, %d bytes)",
				         stats_drop_name(why), n);
			continue;
		}
		l->ops.input(l->ops.arg, m);
	}
	l->ops.drained(l->ops.arg);
}

static void local_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	local_flush(arg);
}

static void local_hb_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local *l = arg;

	(void)fd;
	(void)what;
	if (!l->head)
		heartbeat(l);
	local_flush(l);
}

static int ipc_open(int proto, const char *dir, const char *name)
{
	char url[URL_MAX];
	int s;

	if ((size_t)snprintf(url, sizeof(url), "ipc://%s/%s", dir, name) >= sizeof(url)) {
		log_err("relay ipc: path too long: %s/%s", dir, name);
		return -ENAMETOOLONG;
	}
	if ((s = nnu_socket(proto, 2 * (size_t)FLOW_MAX_MSG)) < 0) {
		log_err("relay ipc: socket: %s", nn_strerror(-s));
		return s;
	}
	nnu_set_int(s, NN_SOL_SOCKET, NN_SNDBUF, 4 << 20);
	nnu_set_int(s, NN_SOL_SOCKET, NN_RCVBUF, 4 << 20);
	if (nn_bind(s, url) < 0) {
		int e = nn_errno();

		log_err("relay ipc: bind %s: %s", url, nn_strerror(e));
		nn_close(s);
		return -e;
	}
	log_info("relay ipc: bound %s", url);
	return s;
}

struct local *local_open(struct event_base *base, const char *dir, struct sync_stats *st,
                         const struct local_ops *ops)
{
	struct local *l = calloc(1, sizeof(*l));
	struct timeval hb = {0, HEARTBEAT_MS * 1000};
	Twist__Local m = TWIST__LOCAL__INIT;
	uint8_t buf[8];
	int rfd, wfd;

	if (!l)
		return NULL;
	l->ops = *ops;
	l->st = st;
	l->tail = &l->head;
	l->pull = l->push = -1;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_err("relay ipc: cannot create %s: %s", dir, strerror(errno));
		goto bad;
	}
	if ((l->pull = ipc_open(NN_PULL, dir, "sync-in.ipc")) < 0 ||
	    (l->push = ipc_open(NN_PUSH, dir, "sync-out.ipc")) < 0)
		goto bad;
	if ((rfd = nnu_fd(l->pull, NN_RCVFD)) < 0 || (wfd = nnu_fd(l->push, NN_SNDFD)) < 0)
		goto bad;
	l->ev_rd = event_new(base, rfd, EV_READ | EV_PERSIST, local_read_cb, l);
	l->ev_wr = event_new(base, wfd, EV_READ | EV_PERSIST, local_write_cb, l);
	l->ev_hb = event_new(base, -1, EV_PERSIST, local_hb_cb, l);
	if (!l->ev_rd || !l->ev_wr || !l->ev_hb || event_add(l->ev_rd, NULL) < 0 ||
	    event_add(l->ev_hb, &hb) < 0)
		goto bad;
	/* We start empty: the relay, if it runs, holds the truth (proto: Local.dump). */
	m.dump = 1;
	queue_msg(l, buf, twist__local__pack(&m, buf), true);
	local_flush(l);
	return l;
bad:
	local_close(l);
	return NULL;
}

void local_close(struct local *l)
{
	struct outmsg *m;

	if (!l)
		return;
	if (l->ev_rd)
		event_free(l->ev_rd);
	if (l->ev_wr)
		event_free(l->ev_wr);
	if (l->ev_hb)
		event_free(l->ev_hb);
	if (l->pull >= 0)
		nn_close(l->pull);
	if (l->push >= 0)
		nn_close(l->push);
	while ((m = l->head)) {
		l->head = m->next;
		free(m);
	}
	free(l->cur);
	free(l);
}
