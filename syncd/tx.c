#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "syncd/tx.h"
#include "syncd/wire.h"

#define MAX_TOKENS   65536 /* waiting at once; beyond, answered unreplicated */
#define BULK_PER_RUN 8     /* batches per session_run: the loop keeps breathing */

int tx_init(struct tx *tx)
{
	memset(tx, 0, sizeof(*tx));
	tx->slots = calloc(SESSION_WINDOW, sizeof(*tx->slots));
	tx->scratch = calloc(FLOW_MAX_FLOWS, sizeof(*tx->scratch));
	tx->tombs = calloc(FLOW_MAX_FLOWS, sizeof(*tx->tombs));
	if (!tx->slots || !tx->scratch || !tx->tombs) {
		tx_free(tx);
		return -ENOMEM;
	}
	tx->base = tx->next = tx->sent_upto = 1;
	return 0;
}

static void window_clear(struct tx *tx)
{
	for (uint64_t seq = tx->base; seq < tx->next; seq++) {
		struct tx_slot *sl = &tx->slots[seq % SESSION_WINDOW];

		free(sl->buf);
		memset(sl, 0, sizeof(*sl));
	}
	tx->bytes = 0;
}

void tx_free(struct tx *tx)
{
	if (tx->slots)
		window_clear(tx);
	free(tx->slots);
	free(tx->scratch);
	free(tx->tombs);
	free(tx->tokens);
	memset(tx, 0, sizeof(*tx));
}

void tx_reset(struct session *s)
{
	struct tx *tx = &s->tx;

	window_clear(tx);
	tx->base = tx->next = tx->sent_upto = 1;
	if (tx->bulk)
		table_walk_stop(s->table);
	tx->bulk = tx->bulk_begun = false;
	tx->flush_at = table_queue_head(s->table) ? 1 : 0;
	tx_tokens_release_all(s, "new peer session");
}

void tx_changed(struct session *s, uint64_t now)
{
	if (!s->tx.flush_at)
		s->tx.flush_at = now + s->cfg.batch_us;
}

uint64_t tx_last_sent(const struct session *s)
{
	return s->tx.sent_upto - 1;
}

/* Room for one more sequenced message; a bulk leaves half for live changes. */
static bool tx_room(const struct session *s, bool bulk)
{
	const struct tx *tx = &s->tx;
	uint64_t limit = bulk ? SESSION_WINDOW / 2 : SESSION_WINDOW;
	size_t bytes = bulk ? s->cfg.window_bytes / 2 : s->cfg.window_bytes;

	return tx->next - tx->base < limit && tx->bytes < bytes;
}

/*
 * Lifetimes are seconds remaining when packed. A message that waited a
 * second or more (the peer was away, or the link said EAGAIN) is aged
 * before it goes again, or the peer would keep its flows too long.
 */
static void slot_refresh(struct session *s, struct tx_slot *sl, uint64_t now)
{
	uint64_t secs = now > sl->made_us ? (now - sl->made_us) / 1000000 : 0;
	Twist__Sync *m;
	size_t w = 0, len;
	uint8_t *buf;

	if (secs == 0)
		return;
	m = flow_sync_unpack_raw(sl->buf, sl->len, NULL); /* our own bytes */
	if (!m)
		return;
	if (m->body_case != TWIST__SYNC__BODY_BATCH) {
		sl->made_us = now; /* no lifetimes in it */
		goto done;
	}
	for (size_t i = 0; i < m->batch->n_flows; i++) {
		Twist__Flow *f = m->batch->flows[i];

		if (f->deleted || flow_age(f, secs > UINT32_MAX ? UINT32_MAX : (uint32_t)secs))
			m->batch->flows[w++] = f;
		else /* expired on the way: the peer ages it out */
			twist__flow__free_unpacked(f, flow_allocator());
	}
	m->batch->n_flows = w;
	len = twist__sync__get_packed_size(m);
	if (!(buf = malloc(len)))
		goto done;
	twist__sync__pack(m, buf);
	s->tx.bytes = s->tx.bytes - sl->len + len;
	free(sl->buf);
	sl->buf = buf;
	sl->len = len;
	sl->made_us += secs * 1000000;
done:
	twist__sync__free_unpacked(m, flow_allocator());
}

static int slot_send(struct session *s, struct tx_slot *sl, uint64_t now)
{
	int rc;

	slot_refresh(s, sl, now);
	rc = s->ops.peer_send(s->ops.arg, sl->buf, sl->len);

	if (rc == -EAGAIN) {
		if (!s->tx.blocked)
			s->st->tx_blocked++;
		s->tx.blocked = true;
		return rc;
	}
	/* Any other failure is a loss in flight: the peer's NACK brings it back. */
	sl->sent_us = now ? now : 1;
	return 0;
}

/* Sends, in order, what was handed a seq but met EAGAIN. */
static void push_unsent(struct session *s, uint64_t now)
{
	struct tx *tx = &s->tx;

	while (!tx->blocked && tx->sent_upto < tx->next) {
		if (slot_send(s, &tx->slots[tx->sent_upto % SESSION_WINDOW], now) < 0)
			return;
		tx->sent_upto++;
		s->st->batches_tx++;
	}
}

/* Hands m the next seq, keeps its packed bytes, sends it if nothing waits before it. */
static int tx_push(struct session *s, Twist__Sync *m, uint64_t change_us, uint64_t now)
{
	struct tx *tx = &s->tx;
	struct tx_slot *sl = &tx->slots[tx->next % SESSION_WINDOW];
	size_t len;

	m->node_id = s->cfg.node_id;
	m->epoch = s->cfg.epoch;
	len = twist__sync__get_packed_size(m);
	if (!(sl->buf = malloc(len)))
		return -ENOMEM;
	sl->len = twist__sync__pack(m, sl->buf);
	sl->seq = tx->next++;
	sl->change_us = change_us;
	sl->made_us = now;
	sl->sent_us = 0;
	tx->bytes += sl->len;
	push_unsent(s, now);
	return 0;
}

static int push_batch(struct session *s, size_t n, bool bulk, uint64_t change_us, uint64_t now)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Batch b = TWIST__BATCH__INIT;

	b.seq = s->tx.next;
	b.n_flows = n;
	b.flows = s->tx.scratch;
	b.bulk = bulk;
	m.body_case = TWIST__SYNC__BODY_BATCH;
	m.batch = &b;
	s->st->flows_tx += n;
	return tx_push(s, &m, change_us, now);
}

/*
 * One batch from the head of the dirty queue. Each entry is serialized as
 * it is now, however many changes it took since it was queued. Returns the
 * number of flows sent, 0 when the queue is empty, or -errno.
 */
static int flush_one(struct session *s, uint64_t now)
{
	struct table *t = s->table;
	size_t n = 0, ntomb = 0, bytes = 0;
	uint64_t change = 0;
	struct tentry *e;
	int rc;

	while ((e = table_queue_head(t)) && n < FLOW_MAX_FLOWS) {
		size_t cost;

		if (!table_age(e, now)) {
			table_remove(t, e); /* expired: the peer ages it out as well */
			s->st->expired++;
			continue;
		}
		cost = wire_flow_cost(e->flow);
		if (n && bytes + cost > s->cfg.batch_bytes)
			break;
		bytes += cost;
		if (!change || e->dirty_us < change)
			change = e->dirty_us;
		s->tx.scratch[n++] = e->flow;
		table_dequeue(t, e);
		if (e->flags & TE_TOMB)
			s->tx.tombs[ntomb++] = e;
	}
	if (n == 0)
		return 0;
	rc = push_batch(s, n, false, change, now);
	/* A sent delete has done its work; if the push failed it is lost like a dropped batch. */
	for (size_t i = 0; i < ntomb; i++)
		table_remove(t, s->tx.tombs[i]);
	return rc < 0 ? rc : (int)n;
}

/*
 * When the queue goes: a token waits on it, batch_us has passed since the
 * first change, or a full batch is queued (a flow is about 64 bytes,
 * DESIGN decision 3). Returns that time.
 */
static uint64_t flush_time(const struct session *s)
{
	const struct tx *tx = &s->tx;

	if (tx->flush_now || !tx->flush_at || s->table->queued * 64 >= s->cfg.batch_bytes)
		return 0;
	return tx->flush_at;
}

static void flush(struct session *s, uint64_t now)
{
	struct tx *tx = &s->tx;

	if (now < flush_time(s))
		return;
	while (!tx->blocked && tx_room(s, false) && table_queue_head(s->table))
		if (flush_one(s, now) <= 0)
			break;
	if (!table_queue_head(s->table)) {
		tx->flush_at = 0;
		tx->flush_now = false;
	}
}

void tx_bulk_start(struct session *s)
{
	struct tx *tx = &s->tx;

	if (tx->bulk)
		table_walk_stop(s->table);
	tx->bulk = true;
	tx->bulk_begun = false;
	tx->bulk_flows = 0;
	table_walk_start(s->table);
	log_info("bulk resync to peer node %llu: %zu flows", (unsigned long long)s->peer_id,
	         s->table->live);
}

static int push_marker(struct session *s, bool begin, uint64_t count, uint64_t now)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__BulkBegin bb = TWIST__BULK_BEGIN__INIT;
	Twist__BulkEnd be = TWIST__BULK_END__INIT;

	if (begin) {
		bb.count = count;
		bb.seq = s->tx.next;
		m.body_case = TWIST__SYNC__BODY_BULK_BEGIN;
		m.bulk_begin = &bb;
	} else {
		be.count = count;
		be.seq = s->tx.next;
		m.body_case = TWIST__SYNC__BODY_BULK_END;
		m.bulk_end = &be;
	}
	return tx_push(s, &m, 0, now);
}

/*
 * BulkBegin may let the peer skip seqs it never got (rx.c), so a token
 * already mapped to one of those waits for the end of the bulk instead.
 */
static void tokens_to_bulk(struct tx *tx)
{
	for (size_t i = 0; i < tx->n_tokens; i++)
		if (tx->tokens[i].seq != TOKEN_UNSENT)
			tx->tokens[i].seq = TOKEN_BULK;
}

static void tokens_bulk_done(struct tx *tx, uint64_t end_seq)
{
	for (size_t i = 0; i < tx->n_tokens; i++)
		if (tx->tokens[i].seq == TOKEN_BULK)
			tx->tokens[i].seq = end_seq;
}

/* One batch of the bulk walk, or the marker that opens or closes it. */
static int bulk_one(struct session *s, uint64_t now)
{
	struct tx *tx = &s->tx;
	struct table *t = s->table;
	size_t n = 0, bytes = 0;
	struct tentry *e;

	if (!tx->bulk_begun) {
		tokens_to_bulk(tx);
		tx->bulk_begun = true;
		return push_marker(s, true, t->live, now);
	}
	while ((e = t->walk) && n < FLOW_MAX_FLOWS) {
		size_t cost;

		if (e->flags & TE_TOMB) {
			table_walk_next(t);
			continue;
		}
		if (!table_age(e, now)) {
			table_walk_next(t);
			table_remove(t, e);
			s->st->expired++;
			continue;
		}
		cost = wire_flow_cost(e->flow);
		if (n && bytes + cost > s->cfg.batch_bytes)
			break;
		table_walk_next(t);
		table_dequeue(t, e); /* this batch carries its current state */
		bytes += cost;
		tx->scratch[n++] = e->flow;
	}
	if (n) {
		tx->bulk_flows += n;
		return push_batch(s, n, true, 0, now);
	}
	tokens_bulk_done(tx, tx->next);
	tx->bulk = false;
	table_walk_stop(t);
	s->st->bulk_tx++;
	log_info("bulk resync to peer node %llu sent: %llu flows", (unsigned long long)s->peer_id,
	         (unsigned long long)tx->bulk_flows);
	return push_marker(s, false, tx->bulk_flows, now);
}

static void bulk(struct session *s, uint64_t now)
{
	for (int i = 0; i < BULK_PER_RUN && s->tx.bulk; i++) {
		if (s->tx.blocked || !tx_room(s, true))
			return;
		if (bulk_one(s, now) < 0)
			return;
	}
	/* The source's own table is the reference: once sent, the pair is in sync. */
	if (!s->tx.bulk && s->sync != SYNC_DONE)
		session_change_sync(s, SYNC_DONE, "bulk sent");
}

static void tokens_give(struct session *s, const uint64_t *tok, size_t n, bool acked)
{
	if (n == 0)
		return;
	if (acked)
		s->st->tokens_acked += n;
	else
		s->st->tokens_unreplicated += n;
	s->ops.relay_tokens(s->ops.arg, tok, n);
}

/*
 * A token's flows are all serialized once no queued entry is older than
 * the token (the queue is in ticket order); from then on the last seq
 * handed out covers them. It goes back when the peer's ACK passes that seq.
 */
static void tokens_settle(struct session *s)
{
	struct tx *tx = &s->tx;
	struct tentry *head = table_queue_head(s->table);
	uint64_t out[64];
	size_t n = 0, w = 0;

	for (size_t i = 0; i < tx->n_tokens; i++) {
		struct token_wait tw = tx->tokens[i];
		bool acked = false;

		if (tw.seq == TOKEN_UNSENT && (!head || head->ticket > tw.ticket)) {
			if (tx->next - 1 < tx->base)
				acked = true; /* all that was ever sent is acknowledged */
			else
				tw.seq = tx->next - 1;
		}
		if (tw.seq != TOKEN_UNSENT && tw.seq != TOKEN_BULK && tw.seq < tx->base)
			acked = true;
		if (acked) {
			out[n++] = tw.token;
			if (n == sizeof(out) / sizeof(out[0])) {
				tokens_give(s, out, n, true);
				n = 0;
			}
			continue;
		}
		tx->tokens[w++] = tw;
	}
	tx->n_tokens = w;
	tokens_give(s, out, n, true);
}

void tx_tokens_add(struct session *s, const uint64_t *tokens, size_t n)
{
	struct tx *tx = &s->tx;

	if (tx->n_tokens + n > tx->cap_tokens && tx->n_tokens + n <= MAX_TOKENS) {
		size_t cap = tx->cap_tokens ? tx->cap_tokens : 64;
		struct token_wait *p;

		while (cap < tx->n_tokens + n)
			cap *= 2;
		if ((p = realloc(tx->tokens, cap * sizeof(*p)))) {
			tx->tokens = p;
			tx->cap_tokens = cap;
		}
	}
	if (tx->n_tokens + n > tx->cap_tokens) {
		tokens_give(s, tokens, n, false); /* no room to wait: answer now */
		return;
	}
	for (size_t i = 0; i < n; i++)
		tx->tokens[tx->n_tokens++] = (struct token_wait){
		        .token = tokens[i], .ticket = s->table->tickets, .seq = TOKEN_UNSENT};
	tx->flush_now = true;
}

void tx_tokens_release_all(struct session *s, const char *why)
{
	struct tx *tx = &s->tx;
	uint64_t out[64];
	size_t n = 0;

	if (tx->n_tokens)
		log_debug("%zu tokens answered unreplicated: %s", tx->n_tokens, why);
	for (size_t i = 0; i < tx->n_tokens; i++) {
		out[n++] = tx->tokens[i].token;
		if (n == sizeof(out) / sizeof(out[0])) {
			tokens_give(s, out, n, false);
			n = 0;
		}
	}
	tokens_give(s, out, n, false);
	tx->n_tokens = 0;
}

static void resend_range(struct session *s, uint64_t first, uint64_t last, uint64_t now,
                         unsigned *budget)
{
	struct tx *tx = &s->tx;

	if (last >= tx->sent_upto)
		last = tx->sent_upto - 1; /* not sent yet: goes out in order anyway */
	for (uint64_t seq = first; seq <= last && *budget; seq++) {
		struct tx_slot *sl = &tx->slots[seq % SESSION_WINDOW];

		if (now - sl->sent_us < s->cfg.resend_us)
			continue; /* the last copy may still be on its way */
		if (slot_send(s, sl, now) < 0)
			return;
		s->st->resends++;
		(*budget)--;
	}
}

/* The peer lost what it acknowledged: only a complete copy can fix that. */
static void resync(struct session *s, uint64_t now)
{
	struct tentry *e;

	if (session_is_source(s)) {
		tx_bulk_start(s);
		return;
	}
	TAILQ_FOREACH(e, &s->table->all, all)
	if (!(e->flags & TE_TOMB))
		table_enqueue(s->table, e, now);
	tx_changed(s, now);
}

void tx_on_ack(struct session *s, const Twist__Ack *a, uint64_t now)
{
	struct tx *tx = &s->tx;
	uint64_t cum = a->cum_seq;
	unsigned budget = SESSION_WINDOW;
	bool stale;

	if (cum >= tx->next) {
		session_drop(s, DROP_FAR_FUTURE_SEQ, now); /* acknowledges what we never sent */
		return;
	}
	s->st->acks_rx++;
	stale = cum + 1 < tx->base; /* overtaken by a later ACK */
	for (; !stale && tx->base <= cum; tx->base++) {
		struct tx_slot *sl = &tx->slots[tx->base % SESSION_WINDOW];

		if (sl->change_us && sl->sent_us)
			stats_lag_add(s->st, now > sl->change_us ? now - sl->change_us : 0);
		tx->bytes -= sl->len;
		free(sl->buf);
		memset(sl, 0, sizeof(*sl));
	}
	if (tx->sent_upto < tx->base)
		tx->sent_upto = tx->base;
	for (size_t i = 0; i < a->n_nack && !stale; i++) {
		const Twist__Range *r = a->nack[i];

		s->st->nacks_rx++;
		if (r->first <= cum) {
			/* A gap below its own cumulative ACK: beyond anything we keep. */
			log_warn("peer node %llu asks for seq %llu below its ACK %llu: resync",
			         (unsigned long long)s->peer_id, (unsigned long long)r->first,
			         (unsigned long long)cum);
			resync(s, now);
			break;
		}
		resend_range(s, r->first, r->last, now, &budget);
	}
	tokens_settle(s);
}

void tx_run(struct session *s, uint64_t now)
{
	push_unsent(s, now);
	if (s->state == SESS_UP && !s->split) {
		flush(s, now);
		if (s->tx.bulk)
			bulk(s, now);
	}
	tokens_settle(s);
}

uint64_t tx_next_run(const struct session *s, uint64_t now)
{
	const struct tx *tx = &s->tx;

	if (tx->blocked)
		return UINT64_MAX; /* session_tx_ready wakes us */
	if (tx->sent_upto < tx->next)
		return now;
	if (s->state != SESS_UP || s->split)
		return UINT64_MAX;
	if (tx->bulk && tx_room(s, true))
		return now;
	if (table_queue_head(s->table) && tx_room(s, false))
		return flush_time(s) > now ? flush_time(s) : now;
	return UINT64_MAX;
}
