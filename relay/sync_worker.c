/*
 * Replication, the worker's side: the dirty queue and its flushes to
 * twist-syncd, held answers (sync before answer), and the inbox of tuples
 * and tokens the main thread hands over.
 */
#include <errno.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "relay/dataplane.h"
#include "relay/flow.h"
#include "relay/standby.h"
#include "relay/sync.h"
#include "relay/sync_int.h"

#define RETRY_MS 5 /* after EAGAIN from the ipc */

static void held_arm(struct worker *w);

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

void sync_shared_put(struct shared_msg *sm)
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
			sync_shared_put(it->sm);
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
			sync_shared_put(it->sm);
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
