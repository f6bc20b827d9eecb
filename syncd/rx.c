#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "syncd/rx.h"
#include "syncd/wire.h"

int rx_init(struct rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->ring = calloc(SESSION_FAR, sizeof(*rx->ring));
	return rx->ring ? 0 : -ENOMEM;
}

static void ring_clear(struct rx *rx)
{
	for (size_t i = 0; rx->held && i < SESSION_FAR; i++) {
		if (!rx->ring[i].m)
			continue;
		twist__sync__free_unpacked(rx->ring[i].m, flow_allocator());
		rx->ring[i].m = NULL;
		rx->held--;
	}
	rx->held_bytes = 0;
}

void rx_free(struct rx *rx)
{
	if (rx->ring)
		ring_clear(rx);
	free(rx->ring);
	memset(rx, 0, sizeof(*rx));
}

void rx_reset(struct session *s)
{
	struct rx *rx = &s->rx;

	ring_clear(rx);
	rx->cum = rx->high = 0;
	rx->unacked = 0;
	rx->ack_owed = false;
}

static void owe_ack(struct session *s, uint64_t at)
{
	struct rx *rx = &s->rx;

	if (!rx->ack_owed || at < rx->ack_at)
		rx->ack_at = at;
	rx->ack_owed = true;
}

/* A flow from the peer: into the table and on to the local relay. */
static void apply_flow(struct session *s, Twist__Flow *f, uint64_t now)
{
	struct table *t = s->table;
	struct flow_key k;
	struct tentry *e;

	s->st->flows_rx++;
	if (f->deleted) {
		if (flow_key_of(f, &k) == 0 && (e = table_find(t, &k)))
			table_remove(t, e);
		s->ops.relay_flow(s->ops.arg, f);
		twist__flow__free_unpacked(f, flow_allocator());
		return;
	}
	if (table_store(t, f, now, &e) < 0) {
		log_warn("out of memory: a flow from the peer is lost until the next bulk");
		twist__flow__free_unpacked(f, flow_allocator());
		return;
	}
	/* The peer's state wins, and is never queued back to it. */
	table_dequeue(t, e);
	s->ops.relay_flow(s->ops.arg, e->flow);
}

static void apply_batch(struct session *s, Twist__Batch *b, uint64_t now)
{
	s->st->batches_rx++;
	if (b->bulk && s->sync == SYNC_RECEIVING)
		s->rx.bulk_flows += b->n_flows;
	for (size_t i = 0; i < b->n_flows; i++) {
		Twist__Flow *f = b->flows[i];

		b->flows[i] = NULL; /* taken: protobuf-c skips NULL elements when freeing */
		apply_flow(s, f, now);
	}
}

static void bulk_begin(struct session *s, const Twist__BulkBegin *bb, uint64_t now)
{
	struct rx *rx = &s->rx;

	rx->bulk_gen = table_gen_bump(s->table);
	rx->bulk_start_us = now;
	rx->bulk_flows = 0;
	rx->bulk_expect = bb->count;
	s->need_bulk = false; /* the peer is this session's source */
	log_info("bulk resync from peer node %llu: %llu flows announced",
	         (unsigned long long)s->peer_id, (unsigned long long)bb->count);
	session_change_sync(s, SYNC_RECEIVING, "bulk begins");
}

static void sweep_one(void *arg, struct tentry *e)
{
	struct session *s = arg;

	e->flow->deleted = true;
	s->ops.relay_flow(s->ops.arg, e->flow);
}

static void bulk_end(struct session *s, const Twist__BulkEnd *be, uint64_t now)
{
	struct rx *rx = &s->rx;
	uint64_t dur;
	size_t swept;

	if (s->sync != SYNC_RECEIVING)
		return; /* its BulkBegin was overtaken by a newer session */
	swept = table_sweep(s->table, rx->bulk_gen, sweep_one, s);
	dur = now - rx->bulk_start_us;
	s->st->bulk_rx++;
	s->st->bulk_last_us = dur;
	s->st->bulk_last_flows = rx->bulk_flows;
	s->st->swept += swept;
	if (be->count != rx->bulk_flows)
		log_warn("bulk resync: peer sent %llu flows, %llu arrived",
		         (unsigned long long)be->count, (unsigned long long)rx->bulk_flows);
	log_info("bulk resync complete: %llu flows in %llu.%03llu ms, %zu stale flows deleted",
	         (unsigned long long)rx->bulk_flows, (unsigned long long)(dur / 1000),
	         (unsigned long long)(dur % 1000), swept);
	session_change_sync(s, SYNC_DONE, "bulk complete");
}

static void apply(struct session *s, Twist__Sync *m, uint64_t now)
{
	switch (m->body_case) {
	case TWIST__SYNC__BODY_BATCH:
		apply_batch(s, m->batch, now);
		break;
	case TWIST__SYNC__BODY_BULK_BEGIN:
		bulk_begin(s, m->bulk_begin, now);
		break;
	case TWIST__SYNC__BODY_BULK_END:
		bulk_end(s, m->bulk_end, now);
		break;
	case TWIST__SYNC__BODY_HELLO:
	case TWIST__SYNC__BODY_ACK:
	case TWIST__SYNC__BODY_ALIVE:
	case TWIST__SYNC__BODY__NOT_SET:
	case _TWIST__SYNC__BODY__CASE_IS_INT_SIZE:
		break;
	}
	twist__sync__free_unpacked(m, flow_allocator());
}

/*
 * A BulkBegin resends the whole table, so whatever the receiver still
 * misses before it is superseded: skip to it rather than wait.
 */
static void skip_to(struct rx *rx, uint64_t seq)
{
	for (; rx->cum + 1 < seq; rx->cum++) {
		struct rx_slot *sl = &rx->ring[(rx->cum + 1) % SESSION_FAR];

		if (!sl->m)
			continue;
		twist__sync__free_unpacked(sl->m, flow_allocator());
		sl->m = NULL;
		rx->held--;
		rx->held_bytes -= sl->len;
	}
}

void rx_on_seq(struct session *s, Twist__Sync *m, size_t len, uint64_t now)
{
	struct rx *rx = &s->rx;
	uint64_t seq = wire_sync_seq(m);
	struct rx_slot *sl;

	if (seq == 0) {
		session_drop(s, DROP_INVALID, now);
		goto drop;
	}
	if (seq <= rx->cum) {
		session_drop(s, DROP_REPLAYED_SEQ, now);
		owe_ack(s, now); /* the sender may have missed our ACK */
		goto drop;
	}
	if (seq - rx->cum > SESSION_FAR) {
		session_drop(s, DROP_FAR_FUTURE_SEQ, now);
		goto drop;
	}
	sl = &rx->ring[seq % SESSION_FAR];
	if (sl->m) {
		session_drop(s, DROP_REPLAYED_SEQ, now);
		goto drop;
	}
	if (m->body_case == TWIST__SYNC__BODY_BULK_BEGIN)
		skip_to(rx, seq);
	if (seq > rx->high)
		rx->high = seq;
	if (seq != rx->cum + 1) {
		if (rx->held_bytes + len > s->cfg.rx_bytes) {
			session_drop(s, DROP_OVERFLOW, now);
			goto drop;
		}
		sl->m = m;
		sl->len = len;
		rx->held++;
		rx->held_bytes += len;
		owe_ack(s, now); /* a gap: NACK it at once */
		return;
	}
	apply(s, m, now);
	rx->cum = seq;
	rx->unacked++;
	while ((sl = &rx->ring[(rx->cum + 1) % SESSION_FAR])->m) {
		m = sl->m;
		sl->m = NULL;
		rx->held--;
		rx->held_bytes -= sl->len;
		apply(s, m, now);
		rx->cum++;
		rx->unacked++;
	}
	owe_ack(s, rx->unacked >= s->cfg.ack_every ? now : now + s->cfg.ack_us);
	return;
drop:
	twist__sync__free_unpacked(m, flow_allocator());
}

void rx_on_alive(struct session *s, const Twist__Alive *a, uint64_t now)
{
	struct rx *rx = &s->rx;

	s->st->alives_rx++;
	if (a->last_seq > rx->cum && a->last_seq - rx->cum > SESSION_FAR) {
		session_drop(s, DROP_FAR_FUTURE_SEQ, now);
		return;
	}
	if (a->last_seq > rx->high)
		rx->high = a->last_seq; /* a lost tail shows up as a gap to NACK */
	owe_ack(s, now);                /* and a lost ACK is made good */
}

/* The gaps between cum and the highest seq known, as at most SESSION_NACKS ranges. */
static size_t nack_ranges(const struct rx *rx, Twist__Range *r, size_t max)
{
	uint64_t hi = rx->high, seq = rx->cum + 1;
	size_t n = 0;

	while (seq <= hi && n < max) {
		uint64_t first;

		if (rx->ring[seq % SESSION_FAR].m) {
			seq++;
			continue;
		}
		first = seq;
		while (seq <= hi && !rx->ring[seq % SESSION_FAR].m)
			seq++;
		twist__range__init(&r[n]);
		r[n].first = first;
		r[n].last = seq - 1;
		n++;
	}
	return n;
}

void rx_run(struct session *s, uint64_t now)
{
	struct rx *rx = &s->rx;
	Twist__Range ranges[SESSION_NACKS], *rp[SESSION_NACKS];
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Ack a = TWIST__ACK__INIT;

	if (!rx->ack_owed || now < rx->ack_at || s->state != SESS_UP)
		return;
	a.cum_seq = rx->cum;
	a.n_nack = nack_ranges(rx, ranges, SESSION_NACKS);
	for (size_t i = 0; i < a.n_nack; i++)
		rp[i] = &ranges[i];
	a.nack = rp;
	m.body_case = TWIST__SYNC__BODY_ACK;
	m.ack = &a;
	if (session_send(s, &m, now) < 0)
		return; /* still owed: the next run tries again */
	rx->ack_owed = false;
	rx->unacked = 0;
	s->st->acks_tx++;
	s->st->nacks_tx += a.n_nack;
}

uint64_t rx_next_run(const struct session *s)
{
	if (!s->rx.ack_owed || s->state != SESS_UP || s->tx.blocked)
		return UINT64_MAX;
	return s->rx.ack_at;
}
