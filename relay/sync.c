#include <errno.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/dataplane.h"
#include "relay/flow.h"
#include "relay/flowconv.h"
#include "relay/import_check.h"
#include "common/log.h"
#include "relay/standby.h"
#include "relay/sync.h"

#define FLUSH_BATCH   64   /* tuples per message */
#define MAX_DELETES   4096 /* delete tuples waiting for the ipc */
#define MAX_TOKENS    1024 /* held responses per worker */
#define RETRY_MS      5    /* after EAGAIN from the ipc */
#define SILENT_MS     1500 /* twist-syncd unheard this long: do not hold responses */
#define RECV_PER_CALL 256

/* A received message shared by the workers that apply its flows. */
struct shared_msg {
	Twist__Local *msg;
	int refs;
};

enum item_kind { ITEM_FLOW, ITEM_TOKEN, ITEM_DUMP };

struct item {
	struct item *next;
	enum item_kind kind;
	struct shared_msg *sm;
	const Twist__Flow *flow;
	uint64_t token;
};

struct held {
	struct held *next;
	uint64_t token, deadline;
	int fd;
	struct tw_addr dst;
	size_t len;
	uint8_t buf[];
};

struct sync_worker {
	pthread_mutex_t lock; /* inbox only: the main thread appends */
	struct item *in_head, *in_tail;
	struct event *ev_inbox, *ev_flush, *ev_held;
	/* Everything below belongs to the worker thread. */
	struct flow *dirty_head, *dirty_tail;
	struct alloc_key del[MAX_DELETES];
	unsigned n_del;
	uint64_t tokens[MAX_TOKENS];
	unsigned n_tokens;
	struct held *held_head, *held_tail;
	uint64_t token_seq;
	struct flow_out out[FLUSH_BATCH];
	Twist__Flow *flows[FLUSH_BATCH];
};

struct sync {
	struct relay *r;
	struct import_limits lim; /* decision 14: what the peer sends is checked */
	uint64_t refused_log;
	int push, pull;
	struct event *ev_pull, *ev_dump;
	bool dump_sent;
	int peer_synced;   /* atomic */
	uint64_t heard_ms; /* atomic */
};

static void held_arm(struct worker *w);

bool sync_connected(struct relay *r)
{
	struct sync *s = r->sync;

	return s && relay_now_ms() - __atomic_load_n(&s->heard_ms, __ATOMIC_RELAXED) < SILENT_MS;
}

bool sync_importing_done(struct relay *r)
{
	if (!r->sync)
		return true;
	return __atomic_load_n(&r->sync_loaded, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&r->import_backlog, __ATOMIC_ACQUIRE) == 0;
}

bool sync_peer_ready(struct relay *r)
{
	struct sync *s = r->sync;

	return sync_connected(r) && __atomic_load_n(&s->peer_synced, __ATOMIC_RELAXED);
}

/* Worker side -------------------------------------------------------------- */

static void dirty_unlink(struct sync_worker *sw, struct flow *f)
{
	struct flow **pp = &sw->dirty_head, *prev = NULL;

	while (*pp && *pp != f) {
		prev = *pp;
		pp = &(*pp)->dirty_next;
	}
	if (!*pp)
		return;
	*pp = f->dirty_next;
	if (sw->dirty_tail == f)
		sw->dirty_tail = prev;
	f->dirty = false;
	f->dump_pending = false;
	f->dirty_next = NULL;
}

static void dirty_push(struct worker *w, struct flow *f)
{
	struct sync_worker *sw = w->sw;

	if (f->dirty)
		return;
	f->dirty = true;
	f->dirty_next = NULL;
	if (sw->dirty_tail)
		sw->dirty_tail->dirty_next = f;
	else
		sw->dirty_head = f;
	sw->dirty_tail = f;
	event_active(sw->ev_flush, EV_TIMEOUT, 0);
}

void sync_flow_changed(struct flow *f)
{
	struct worker *w = f->w;

	if (!w->sw)
		return;
	f->dump_pending = false;
	dirty_push(w, f);
}

void sync_flow_gone(struct flow *f, bool tell)
{
	struct sync_worker *sw = f->w->sw;

	if (!sw)
		return;
	if (f->dirty)
		dirty_unlink(sw, f);
	if (!tell)
		return;
	if (sw->n_del == MAX_DELETES) {
		/* The peer will expire it by its lifetime instead. */
		STAT_INC(&f->w->st, sync_deletes_lost);
		return;
	}
	sw->del[sw->n_del++] = f->key;
	event_active(sw->ev_flush, EV_TIMEOUT, 0);
}

static int send_local(struct worker *w, Twist__Local *m)
{
	struct sync *s = w->r->sync;
	size_t len = twist__local__get_packed_size(m);
	void *buf = nn_allocmsg(len, 0);

	if (!buf)
		return -ENOMEM;
	twist__local__pack(m, buf);
	if (nn_send(s->push, &buf, NN_MSG, NN_DONTWAIT) < 0) {
		int e = nn_errno();

		nn_freemsg(buf);
		return -e;
	}
	return 0;
}

/* Deletes, then changed flows, then held-response tokens ride on the last message. */
static int flush_changes(struct worker *w)
{
	struct sync_worker *sw = w->sw;
	Twist__Local m;
	unsigned n = 0, dels = 0;
	struct flow *f = sw->dirty_head;
	int rc;

	twist__local__init(&m);
	for (; dels < sw->n_del && n < FLUSH_BATCH; dels++, n++) {
		flowconv_export_delete(&sw->del[dels], &sw->out[n]);
		sw->flows[n] = &sw->out[n].f;
	}
	for (; f && n < FLUSH_BATCH; f = f->dirty_next) {
		if (f->dump_pending)
			continue;
		f->ops->export(f, w->now_ms, &sw->out[n]);
		sw->flows[n] = &sw->out[n].f;
		n++;
	}
	if (n == 0 && sw->n_tokens == 0)
		return 0;
	m.n_flows = n;
	m.flows = sw->flows;
	if (n < FLUSH_BATCH) { /* last message of this pass */
		m.n_tokens = sw->n_tokens;
		m.tokens = sw->tokens;
	}
	rc = send_local(w, &m);
	if (rc < 0)
		return rc;
	STAT_ADD(&w->st, sync_exported, n);
	memmove(sw->del, sw->del + dels, (sw->n_del - dels) * sizeof(sw->del[0]));
	sw->n_del -= dels;
	for (unsigned i = dels; i < n;) {
		f = sw->dirty_head;
		while (f->dump_pending)
			f = f->dirty_next;
		dirty_unlink(sw, f);
		i++;
	}
	if (m.n_tokens)
		sw->n_tokens = 0;
	return n == FLUSH_BATCH ? 1 : 0;
}

/* Answers twist-syncd's dump request: loaded into its table, not replicated. */
static int flush_dump(struct worker *w)
{
	struct sync_worker *sw = w->sw;
	Twist__Local m;
	struct flow *f;
	unsigned n = 0;
	int rc;

	twist__local__init(&m);
	for (f = sw->dirty_head; f && n < FLUSH_BATCH; f = f->dirty_next) {
		if (!f->dump_pending)
			continue;
		f->ops->export(f, w->now_ms, &sw->out[n]);
		sw->flows[n] = &sw->out[n].f;
		n++;
	}
	if (n == 0)
		return 0;
	m.n_flows = n;
	m.flows = sw->flows;
	m.dump_reply = 1;
	rc = send_local(w, &m);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		f = sw->dirty_head;
		while (!f->dump_pending)
			f = f->dirty_next;
		dirty_unlink(sw, f);
	}
	return n == FLUSH_BATCH ? 1 : 0;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval retry = {0, RETRY_MS * 1000};
	int rc;

	(void)fd;
	(void)what;
	w->now_ms = relay_now_ms();
	while ((rc = flush_changes(w)) > 0)
		;
	while (rc == 0 && (rc = flush_dump(w)) > 0)
		;
	if (rc < 0) {
		/* Backpressure: everything stays queued; try again shortly. */
		STAT_INC(&w->st, sync_send_again);
		event_add(w->sw->ev_flush, &retry);
	}
}

bool sync_hold(struct worker *w, const struct conn_return *rp, const uint8_t *buf, size_t len)
{
	struct sync_worker *sw = w->sw;
	struct held *h;

	if (!sw || !sync_peer_ready(w->r) || sw->n_tokens == MAX_TOKENS)
		return false;
	h = malloc(sizeof(*h) + len);
	if (!h)
		return false;
	h->next = NULL;
	h->token = (uint64_t)w->id << 48 | (++sw->token_seq & 0xffffffffffffull);
	h->deadline = w->now_ms + w->r->cfg.ha_sync_deadline_ms;
	h->fd = rp->fd;
	h->dst = rp->dst;
	h->len = len;
	memcpy(h->buf, buf, len);
	if (sw->held_tail)
		sw->held_tail->next = h;
	else
		sw->held_head = h;
	sw->held_tail = h;
	sw->tokens[sw->n_tokens++] = h->token;
	STAT_INC(&w->st, sync_held);
	event_active(sw->ev_flush, EV_TIMEOUT, 0);
	if (sw->held_head == h)
		held_arm(w);
	return true;
}

static void held_send(struct worker *w, struct held *h)
{
	tx_now(w, h->fd, &h->dst, h->buf, h->len);
	free(h);
}

static void held_release(struct worker *w, uint64_t token)
{
	struct sync_worker *sw = w->sw;
	struct held **pp = &sw->held_head, *prev = NULL, *h;

	for (; (h = *pp) != NULL; prev = h, pp = &h->next) {
		if (h->token != token)
			continue;
		*pp = h->next;
		if (sw->held_tail == h)
			sw->held_tail = prev;
		STAT_INC(&w->st, sync_acked);
		held_send(w, h);
		return;
	}
}

static void held_arm(struct worker *w)
{
	struct sync_worker *sw = w->sw;
	struct timeval tv = {0, 0};
	uint64_t wait;

	if (!sw->held_head)
		return;
	wait = sw->held_head->deadline > w->now_ms ? sw->held_head->deadline - w->now_ms : 0;
	tv.tv_usec = (suseconds_t)(wait * 1000);
	event_add(sw->ev_held, &tv);
}

/* Deadline passed: answer anyway (the standby may be gone), and count it. */
static void held_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct sync_worker *sw = w->sw;
	struct held *h;

	(void)fd;
	(void)what;
	w->now_ms = relay_now_ms();
	while ((h = sw->held_head) != NULL && h->deadline <= w->now_ms) {
		sw->held_head = h->next;
		if (!sw->held_head)
			sw->held_tail = NULL;
		STAT_INC(&w->st, sync_deadline_expired);
		held_send(w, h);
	}
	held_arm(w);
}

static void shared_put(struct shared_msg *sm)
{
	if (__atomic_sub_fetch(&sm->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		twist__local__free_unpacked(sm->msg, NULL);
		free(sm);
	}
}

static void dump_mark_all(struct worker *w);

static void inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct sync_worker *sw = w->sw;
	struct item *it, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&sw->lock);
	it = sw->in_head;
	sw->in_head = sw->in_tail = NULL;
	pthread_mutex_unlock(&sw->lock);
	w->now_ms = relay_now_ms();
	for (; it; it = next) {
		next = it->next;
		switch (it->kind) {
		case ITEM_FLOW:
			standby_import(w, it->flow);
			shared_put(it->sm);
			__atomic_sub_fetch(&w->r->import_backlog, 1, __ATOMIC_RELEASE);
			break;
		case ITEM_TOKEN:
			held_release(w, it->token);
			break;
		case ITEM_DUMP:
			dump_mark_all(w);
			break;
		}
		free(it);
	}
	tx_flush(w);
}

int sync_worker_init(struct worker *w)
{
	struct sync_worker *sw;

	if (!w->r->cfg.ha_enabled)
		return 0;
	sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	pthread_mutex_init(&sw->lock, NULL);
	sw->ev_inbox = event_new(w->base, -1, 0, inbox_cb, w);
	sw->ev_flush = event_new(w->base, -1, 0, flush_cb, w);
	sw->ev_held = event_new(w->base, -1, 0, held_cb, w);
	w->sw = sw;
	if (!sw->ev_inbox || !sw->ev_flush || !sw->ev_held)
		return -ENOMEM;
	return 0;
}

void sync_worker_fini(struct worker *w)
{
	struct sync_worker *sw = w->sw;
	struct item *it, *next;
	struct held *h, *hn;

	if (!sw)
		return;
	for (it = sw->in_head; it; it = next) {
		next = it->next;
		if (it->kind == ITEM_FLOW)
			shared_put(it->sm);
		free(it);
	}
	for (h = sw->held_head; h; h = hn) {
		hn = h->next;
		free(h);
	}
	if (sw->ev_inbox)
		event_free(sw->ev_inbox);
	if (sw->ev_flush)
		event_free(sw->ev_flush);
	if (sw->ev_held)
		event_free(sw->ev_held);
	pthread_mutex_destroy(&sw->lock);
	free(sw);
	w->sw = NULL;
}

static void dump_mark_all(struct worker *w)
{
	unsigned n = 0;

	for (struct flow *f = flow_first(w); f; f = f->next) {
		if (!f->replicates || f->dirty)
			continue;
		f->dump_pending = true;
		dirty_push(w, f);
		n++;
	}
	log_info("worker %u: %u flows sent to twist-syncd's dump request", w->id, n);
}

/* Main thread side ---------------------------------------------------------- */

static void inbox_put(struct worker *w, struct item *it)
{
	struct sync_worker *sw = w->sw;

	it->next = NULL;
	pthread_mutex_lock(&sw->lock);
	if (sw->in_tail)
		sw->in_tail->next = it;
	else
		sw->in_head = it;
	sw->in_tail = it;
	pthread_mutex_unlock(&sw->lock);
	event_active(sw->ev_inbox, EV_TIMEOUT, 0);
}

static struct worker *flow_owner(struct relay *r, const Twist__Flow *f)
{
	struct alloc_key k;

	if (flowconv_key(f, &k) < 0)
		return NULL;
	/* The same worker every time, on every node: imports of one flow never race. */
	return r->workers[alloc_key_hash(&k, 0x74777374u) % r->n_workers];
}

/*
 * The sync link has no authentication: a tuple is checked like a client's
 * request before any worker builds it (lifetimes clamped, peers through
 * the policy, channels unique, relayed addresses ours).
 */
_Static_assert(IMPORT__COUNT <= sizeof(((struct relay *)0)->sync_refused) / sizeof(uint64_t),
               "struct relay counts every import_reason");

static bool refused(struct sync *s, Twist__Flow *f)
{
	unsigned clamped = 0;
	int why = import_check(f, &s->lim, &clamped);

	if (clamped)
		__atomic_add_fetch(&s->r->sync_clamped, clamped, __ATOMIC_RELAXED);
	if (why == IMPORT_OK)
		return false;
	__atomic_add_fetch(&s->r->sync_refused[why], 1, __ATOMIC_RELAXED);
	if (log_ratelimit(&s->refused_log, relay_now_ms(), 1000))
		log_warn("twist-syncd sent a flow this node refuses: %s (counted; logged once a "
		         "second)",
		         import_reason_name((enum import_reason)why));
	return true;
}

static void dispatch_flows(struct sync *s, Twist__Local *m)
{
	struct relay *r = s->r;
	struct shared_msg *sm = malloc(sizeof(*sm));

	if (!sm) {
		twist__local__free_unpacked(m, NULL);
		return;
	}
	sm->msg = m;
	sm->refs = 1; /* ours, dropped below */
	for (size_t i = 0; i < m->n_flows; i++) {
		struct worker *w;
		struct item *it;

		if (refused(s, m->flows[i]))
			continue;
		w = flow_owner(r, m->flows[i]);
		it = calloc(1, sizeof(*it));
		if (!w || !it) {
			free(it);
			continue;
		}
		it->kind = ITEM_FLOW;
		it->sm = sm;
		it->flow = m->flows[i];
		__atomic_add_fetch(&sm->refs, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&r->import_backlog, 1, __ATOMIC_RELAXED);
		inbox_put(w, it);
	}
	shared_put(sm);
}

static void dispatch(struct sync *s, Twist__Local *m)
{
	struct relay *r = s->r;

	__atomic_store_n(&s->heard_ms, relay_now_ms(), __ATOMIC_RELAXED);
	__atomic_store_n(&s->peer_synced, m->peer_synced ? 1 : 0, __ATOMIC_RELAXED);
	for (size_t i = 0; i < m->n_tokens; i++) {
		unsigned wid = (unsigned)(m->tokens[i] >> 48);
		struct item *it;

		if (wid >= r->n_workers || !(it = calloc(1, sizeof(*it))))
			continue;
		it->kind = ITEM_TOKEN;
		it->token = m->tokens[i];
		inbox_put(r->workers[wid], it);
	}
	if (m->dump) {
		log_info("twist-syncd asks for every flow (it restarted)");
		for (unsigned i = 0; i < r->n_workers; i++) {
			struct item *it = calloc(1, sizeof(*it));

			if (it) {
				it->kind = ITEM_DUMP;
				inbox_put(r->workers[i], it);
			}
		}
	}
	if (m->dump_end && !__atomic_exchange_n(&r->sync_loaded, 1, __ATOMIC_ACQ_REL))
		log_info("twist-syncd has sent every flow it holds");
	if (m->n_flows) {
		dispatch_flows(s, m); /* takes m */
		return;
	}
	twist__local__free_unpacked(m, NULL);
}

static void pull_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync *s = arg;
	uint64_t last = 0;

	(void)fd;
	(void)what;
	for (int i = 0; i < RECV_PER_CALL; i++) {
		void *buf = NULL;
		int n = nn_recv(s->pull, &buf, NN_MSG, NN_DONTWAIT);
		Twist__Local *m;

		if (n < 0)
			break;
		m = flow_local_unpack(buf, (size_t)n);
		nn_freemsg(buf);
		if (!m) {
			if (log_ratelimit(&last, relay_now_ms(), 1000))
				log_warn("twist-syncd sent an undecodable message (%d bytes), "
				         "dropped",
				         n);
			__atomic_add_fetch(&s->r->sync_bad_msgs, 1, __ATOMIC_RELAXED);
			continue;
		}
		dispatch(s, m);
	}
}

/* The first message: ask twist-syncd for every flow it holds (relay restart). */
static void dump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync *s = arg;
	struct timeval again = {0, 100000};
	Twist__Local m;
	uint8_t buf[16];
	size_t len;

	(void)fd;
	(void)what;
	twist__local__init(&m);
	m.dump = 1;
	len = twist__local__pack(&m, buf);
	if (nn_send(s->push, buf, len, NN_DONTWAIT) < 0) {
		event_add(s->ev_dump, &again); /* syncd not there yet */
		return;
	}
	log_info("asked twist-syncd for its flows");
}

static int nn_open(int type, const char *dir, const char *name)
{
	char url[CFG_STR + 32];
	int sock = nn_socket(AF_SP, type), max = FLOW_MAX_MSG, buf = 4 << 20;

	if (sock < 0)
		return -1;
	snprintf(url, sizeof(url), "ipc://%s/%s", dir, name);
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max));
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDBUF, &buf, sizeof(buf));
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof(buf));
	if (nn_connect(sock, url) < 0) {
		log_err("nanomsg connect %s: %s", url, nn_strerror(nn_errno()));
		nn_close(sock);
		return -1;
	}
	return sock;
}

int sync_start(struct relay *r, struct event_base *base)
{
	struct sync *s;
	int rcvfd;
	size_t sz = sizeof(rcvfd);

	if (!r->cfg.ha_enabled)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->r = r;
	import_limits_init(&s->lim, &r->cfg, r->policy, r->relay_addr);
	s->push = nn_open(NN_PUSH, r->cfg.ha_ipc_dir, "sync-in.ipc");
	s->pull = nn_open(NN_PULL, r->cfg.ha_ipc_dir, "sync-out.ipc");
	r->sync = s;
	if (s->push < 0 || s->pull < 0)
		return -EIO;
	if (nn_getsockopt(s->pull, NN_SOL_SOCKET, NN_RCVFD, &rcvfd, &sz) < 0)
		return -EIO;
	s->ev_pull = event_new(base, rcvfd, EV_READ | EV_PERSIST, pull_cb, s);
	s->ev_dump = event_new(base, -1, 0, dump_cb, s);
	if (!s->ev_pull || !s->ev_dump || event_add(s->ev_pull, NULL) < 0)
		return -ENOMEM;
	event_active(s->ev_dump, EV_TIMEOUT, 0);
	log_info("ha: replicating through twist-syncd at %s", r->cfg.ha_ipc_dir);
	return 0;
}

void sync_stop(struct relay *r)
{
	struct sync *s = r->sync;

	if (!s)
		return;
	if (s->ev_pull)
		event_free(s->ev_pull);
	if (s->ev_dump)
		event_free(s->ev_dump);
	if (s->push >= 0)
		nn_close(s->push);
	if (s->pull >= 0)
		nn_close(s->pull);
	free(s);
	r->sync = NULL;
}
