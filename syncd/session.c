#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "syncd/rx.h"
#include "syncd/session.h"
#include "syncd/tx.h"
#include "syncd/wire.h"

#define EXPIRE_US 1000000 /* how often expired flows leave the table */

void session_cfg_defaults(struct session_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->batch_us = 1000;
	c->ack_us = 0;
	c->ack_every = 16;
	c->alive_us = 100000;
	c->dead_us = 1000000;
	c->resend_us = 20000;
	c->load_us = 2000000;
	c->load_quiet_us = 200000;
	c->split_us = 300000;
	c->batch_bytes = 65536;
	c->window_bytes = 64u << 20;
	c->rx_bytes = 64u << 20;
}

const char *session_state_name(enum sess_state st)
{
	switch (st) {
	case SESS_DOWN:
		return "down";
	case SESS_HELLO:
		return "hello";
	case SESS_UP:
		return "up";
	}
	return "?";
}

const char *session_sync_name(enum sync_state st)
{
	switch (st) {
	case SYNC_WAIT:
		return "wait";
	case SYNC_RECEIVING:
		return "receiving";
	case SYNC_DONE:
		return "done";
	}
	return "?";
}

struct session *session_new(const struct session_cfg *cfg, struct table *t, struct sync_stats *st,
                            const struct session_ops *ops, uint64_t now)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->ops = *ops;
	s->table = t;
	s->st = st;
	if (tx_init(&s->tx) < 0 || rx_init(&s->rx) < 0) {
		session_free(s);
		return NULL;
	}
	s->state = SESS_DOWN;
	s->sync = SYNC_WAIT;
	s->need_bulk = true;
	s->reported_synced = -1;
	s->started_us = now;
	s->hello_at = now;
	s->expire_at = now + EXPIRE_US;
	return s;
}

void session_free(struct session *s)
{
	if (!s)
		return;
	tx_free(&s->tx);
	rx_free(&s->rx);
	free(s);
}

bool session_synced(const struct session *s)
{
	return s->master || s->sync == SYNC_DONE;
}

/*
 * DESIGN decision 7, for /ready and so for VRRP priority: a backup cut off
 * from its master misses its changes from that moment, so it is ready only
 * while the session is up. Its copy stays (session_synced): when the link
 * returns, resends catch it up without a bulk.
 */
bool session_ready(const struct session *s)
{
	return s->master || (s->sync == SYNC_DONE && s->state == SESS_UP);
}

/* Tells the relay when the answer of session_synced() changes. */
void session_report(struct session *s)
{
	bool synced = session_synced(s);

	if (s->reported_synced == (int)synced)
		return;
	s->reported_synced = synced;
	s->ops.relay_synced(s->ops.arg, synced);
}

static void change_state(struct session *s, enum sess_state to, uint64_t now, const char *why)
{
	if (s->state == to)
		return;
	log_info("session with peer node %llu: %s -> %s (%s)", (unsigned long long)s->peer_id,
	         session_state_name(s->state), session_state_name(to), why);
	s->state = to;
	if (to == SESS_UP)
		s->alive_at = now;
	else
		s->hello_at = now;
}

void session_change_sync(struct session *s, enum sync_state to, const char *why)
{
	if (s->sync == to)
		return;
	log_info("table: %s -> %s (%s)", session_sync_name(s->sync), session_sync_name(to), why);
	s->sync = to;
	session_report(s);
}

void session_drop(struct session *s, enum drop_reason r, uint64_t now)
{
	s->st->drops[SRC_PEER][r]++;
	if (log_ratelimit(&s->log_last_ms, now / 1000, 1000))
		log_warn("peer: message dropped (%s)", stats_drop_name(r));
}

int session_send(struct session *s, Twist__Sync *m, uint64_t now)
{
	uint8_t buf[4096];
	size_t len;
	int rc;

	(void)now;
	m->node_id = s->cfg.node_id;
	m->epoch = s->cfg.epoch;
	if (twist__sync__get_packed_size(m) > sizeof(buf))
		return -EMSGSIZE;
	len = twist__sync__pack(m, buf);
	rc = s->ops.peer_send(s->ops.arg, buf, len);
	if (rc == -EAGAIN && !s->tx.blocked) {
		/* The same link as the data: wait for it to drain, do not spin. */
		s->tx.blocked = true;
		s->st->tx_blocked++;
	}
	return rc;
}

static void send_hello(struct session *s, uint64_t now)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Hello h = TWIST__HELLO__INIT;

	h.version = SYNC_VERSION;
	h.master = s->master;
	h.peer_epoch = s->peer_epoch;
	m.body_case = TWIST__SYNC__BODY_HELLO;
	m.hello = &h;
	if (session_send(s, &m, now) == 0)
		s->st->hellos_tx++;
}

static void send_alive(struct session *s, uint64_t now)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Alive a = TWIST__ALIVE__INIT;

	a.last_seq = tx_last_sent(s);
	m.body_case = TWIST__SYNC__BODY_ALIVE;
	m.alive = &a;
	if (session_send(s, &m, now) == 0)
		s->st->alives_tx++;
}

/*
 * Whose table is the reference for a bulk: the master's; with no master
 * (both backup at start) the lower node id's; with two masters nobody's
 * until the split brain heals.
 */
bool session_is_source(const struct session *s)
{
	if (s->master != s->peer_master)
		return s->master;
	return !s->master && s->cfg.node_id < s->peer_id;
}

/*
 * Both nodes claiming the VIP for a moment is a switchover in flight (the
 * role files change a poll apart, HELLOs cross); for split_us it is a
 * split brain: the sync link was cut while both held the VIP.
 */
static void split_brain_check(struct session *s, uint64_t now)
{
	bool both = s->master && s->peer_master;

	if (both && !s->split) {
		if (s->state != SESS_UP)
			return; /* only a live session can tell */
		if (!s->split_since)
			s->split_since = now ? now : 1;
		if (now - s->split_since < s->cfg.split_us)
			return;
		s->split = true;
		s->st->split_brain++;
		log_err("SPLIT BRAIN: node %llu (epoch %016llx) and peer node %llu (epoch %016llx) "
		        "both hold the VIP; replication stops until one of them is backup",
		        (unsigned long long)s->cfg.node_id, (unsigned long long)s->cfg.epoch,
		        (unsigned long long)s->peer_id, (unsigned long long)s->peer_epoch);
		tx_tokens_release_all(s, "split brain");
		return;
	}
	if (both)
		return;
	s->split_since = 0;
	if (!s->split)
		return;
	s->split = false;
	log_warn("split brain over: node %llu is master, its table wins",
	         (unsigned long long)(s->master ? s->cfg.node_id : s->peer_id));
	if (s->master) {
		s->need_bulk = true;
	} else {
		/* What we changed while we also held the VIP loses to the master's bulk. */
		table_queue_clear(s->table);
		s->need_bulk = false;
		session_change_sync(s, SYNC_WAIT, "split brain healed, waiting for the master");
	}
}

/* A peer we did not know, or the same one restarted: a fresh session. */
static void new_peer(struct session *s, const Twist__Sync *m)
{
	if (s->peer_epoch) {
		s->st->peer_restarts++;
		log_warn("peer node %llu restarted (epoch %016llx -> %016llx)",
		         (unsigned long long)m->node_id, (unsigned long long)s->peer_epoch,
		         (unsigned long long)m->epoch);
	} else {
		log_info("peer node %llu says hello (epoch %016llx)",
		         (unsigned long long)m->node_id, (unsigned long long)m->epoch);
	}
	s->peer_id = m->node_id;
	s->peer_epoch = m->epoch;
	s->peer_knows_us = false;
	s->split = false;
	s->split_since = 0;
	s->need_bulk = true;
	rx_reset(s);
	tx_reset(s);
	session_change_sync(s, SYNC_WAIT, "new peer session");
}

static void go_up(struct session *s, uint64_t now, const char *why)
{
	change_state(s, SESS_UP, now, why);
	send_hello(s, now); /* the peer's proof that we know its epoch */
	if (table_queue_head(s->table))
		tx_changed(s, now);
}

static void on_hello(struct session *s, const Twist__Sync *m, uint64_t now)
{
	const Twist__Hello *h = m->hello;

	s->st->hellos_rx++;
	if (h->version != SYNC_VERSION) {
		session_drop(s, DROP_VERSION, now);
		return;
	}
	if (s->cfg.peer_id && m->node_id != s->cfg.peer_id) {
		session_drop(s, DROP_WRONG_EPOCH, now);
		return;
	}
	if (m->node_id != s->peer_id || m->epoch != s->peer_epoch)
		new_peer(s, m);
	s->heard_us = now;
	if (h->master != s->peer_master) {
		s->peer_master = h->master;
		log_info("peer node %llu is %s", (unsigned long long)s->peer_id,
		         h->master ? "master" : "backup");
	}
	if (h->peer_epoch != s->cfg.epoch) {
		/* It does not know us (yet): tell it. Never answered twice, so no ping-pong. */
		s->peer_knows_us = false;
		change_state(s, SESS_HELLO, now, "peer does not know our epoch");
		send_hello(s, now);
	} else if (!s->peer_knows_us || s->state != SESS_UP) {
		s->peer_knows_us = true;
		go_up(s, now, "both epochs known");
	}
	split_brain_check(s, now);
}

/* Data and control from the known peer session only. */
static bool peer_check(struct session *s, const Twist__Sync *m, uint64_t now)
{
	if (!s->peer_epoch || m->node_id != s->peer_id || m->epoch != s->peer_epoch) {
		session_drop(s, DROP_WRONG_EPOCH, now);
		return false;
	}
	s->heard_us = now;
	if (s->state == SESS_UP)
		return true;
	if (s->state == SESS_DOWN && s->peer_knows_us) {
		go_up(s, now, "peer back");
		split_brain_check(s, now);
		return true;
	}
	session_drop(s, DROP_NO_SESSION, now);
	return false;
}

void session_peer_input(struct session *s, const uint8_t *buf, size_t len, uint64_t now)
{
	enum drop_reason why = DROP_GARBAGE;
	Twist__Sync *m;

	if (!s->loaded) {
		/* Not in the session until the relay's flows are in: see load_check(). */
		s->st->drops[SRC_PEER][DROP_NO_SESSION]++;
		return;
	}
	if (!(m = wire_sync_decode(buf, len, &why))) {
		session_drop(s, why, now);
		return;
	}
	if (m->node_id == s->cfg.node_id) {
		session_drop(s, DROP_SELF, now);
		goto done;
	}
	switch (m->body_case) {
	case TWIST__SYNC__BODY_HELLO:
		on_hello(s, m, now);
		break;
	case TWIST__SYNC__BODY_BATCH:
	case TWIST__SYNC__BODY_BULK_BEGIN:
	case TWIST__SYNC__BODY_BULK_END:
		if (peer_check(s, m, now)) {
			rx_on_seq(s, m, len, now);
			return; /* taken */
		}
		break;
	case TWIST__SYNC__BODY_ACK:
		if (peer_check(s, m, now))
			tx_on_ack(s, m->ack, now);
		break;
	case TWIST__SYNC__BODY_ALIVE:
		if (peer_check(s, m, now))
			rx_on_alive(s, m->alive, now);
		break;
	case TWIST__SYNC__BODY__NOT_SET:
	case _TWIST__SYNC__BODY__CASE_IS_INT_SIZE:
		session_drop(s, DROP_INVALID, now); /* flow_sync_unpack refuses these */
		break;
	}
done:
	twist__sync__free_unpacked(m, flow_allocator());
}

void session_relay_dump(struct session *s, uint64_t now)
{
	struct tentry *e, *next;
	size_t n = 0;

	for (e = TAILQ_FIRST(&s->table->all); e; e = next) {
		next = TAILQ_NEXT(e, all);
		if (e->flags & TE_TOMB)
			continue;
		if (!table_age(e, now)) {
			table_remove(s->table, e);
			s->st->expired++;
			continue;
		}
		s->ops.relay_flow(s->ops.arg, e->flow);
		n++;
	}
	s->ops.relay_dump_end(s->ops.arg);
	log_info("relay asked for the table: %zu flows sent", n);
}

/*
 * A flow from the relay. A change is queued for the peer whatever our role:
 * only the VIP holder's relay has changes to make. A dump reply (the relay
 * answering our own start-up request) only loads the table: those flows
 * may be copies the peer gave us, and the next bulk carries them anyway.
 * One that comes late, after the session started, is the truth on a master
 * (so it is replicated) and stale on a backup (the master's bulk wins).
 */
static void local_flow(struct session *s, Twist__Flow *f, bool reply, uint64_t now)
{
	struct flow_key k;
	struct tentry *e;

	s->st->local_flows++;
	if (reply && s->loaded) {
		s->st->dump_late++;
		if (!s->master) {
			twist__flow__free_unpacked(f, flow_allocator());
			return;
		}
		reply = false;
	}
	if (reply && f->deleted) {
		if (flow_key_of(f, &k) == 0 && (e = table_find(s->table, &k)) &&
		    !(e->flags & TE_QUEUED))
			table_remove(s->table, e);
		twist__flow__free_unpacked(f, flow_allocator());
		return;
	}
	if (table_store(s->table, f, now, &e) < 0) {
		s->st->drops[SRC_RELAY][DROP_OVERFLOW]++;
		twist__flow__free_unpacked(f, flow_allocator());
		return;
	}
	if (reply)
		return;
	table_enqueue(s->table, e, now);
	tx_changed(s, now);
}

void session_local_input(struct session *s, Twist__Local *l, uint64_t now)
{
	s->st->local_msgs++;
	for (size_t i = 0; i < l->n_flows; i++) {
		Twist__Flow *f = l->flows[i];

		l->flows[i] = NULL;
		local_flow(s, f, l->dump_reply, now);
	}
	if (l->dump_reply)
		s->dump_reply_us = now;
	if (l->dump_end && !s->loaded && s->dump_asked) {
		s->loaded = true;
		log_info("table loaded: %zu flows from the relay", s->table->live);
	}
	if (l->n_tokens) {
		if (s->state == SESS_UP && !s->split) {
			tx_tokens_add(s, l->tokens, l->n_tokens);
		} else {
			s->st->tokens_unreplicated += l->n_tokens;
			s->ops.relay_tokens(s->ops.arg, l->tokens, l->n_tokens);
		}
	}
	if (l->dump)
		session_relay_dump(s, now);
	twist__local__free_unpacked(l, flow_allocator());
}

void session_dump_asked(struct session *s, uint64_t now)
{
	s->dump_asked = true;
	s->dump_asked_us = now;
}

void session_set_master(struct session *s, bool master, uint64_t now)
{
	if (s->master == master)
		return;
	log_info("role: %s", master ? "master" : "backup");
	s->master = master;
	if (s->state != SESS_DOWN)
		send_hello(s, now);
	split_brain_check(s, now);
	session_report(s);
}

/*
 * A syncd joins the session only once its relay's flows are in (or the
 * relay did not answer in load_us): a bulk sent before would sweep the
 * peer empty, one received before would leave the relay's stale copies.
 */
static void load_check(struct session *s, uint64_t now)
{
	uint64_t last = s->dump_reply_us > s->dump_asked_us ? s->dump_reply_us : s->dump_asked_us;

	if (s->loaded)
		return;
	if ((s->dump_asked && now - last >= s->cfg.load_quiet_us) ||
	    now - s->started_us >= s->cfg.load_us) {
		s->loaded = true;
		s->hello_at = now;
		log_info("table loaded: %zu flows from the relay", s->table->live);
	}
}

void session_run(struct session *s, uint64_t now)
{
	load_check(s, now);
	if (!s->loaded)
		return;
	if (s->state != SESS_DOWN && now - s->heard_us >= s->cfg.dead_us) {
		s->st->peer_down++;
		change_state(s, SESS_DOWN, now, "peer silent");
		tx_tokens_release_all(s, "peer down");
	}
	if (s->state != SESS_UP && now >= s->hello_at) {
		send_hello(s, now);
		s->hello_at = now + s->cfg.alive_us;
	}
	if (s->state == SESS_UP && now >= s->alive_at) {
		send_alive(s, now);
		s->alive_at = now + s->cfg.alive_us;
	}
	split_brain_check(s, now);
	if (now >= s->expire_at) {
		s->st->expired += table_expire(s->table, now);
		s->expire_at = now + EXPIRE_US;
	}
	if (s->state == SESS_UP && !s->split && s->need_bulk && s->loaded &&
	    s->sync != SYNC_RECEIVING && session_is_source(s)) {
		s->need_bulk = false;
		tx_bulk_start(s);
	}
	rx_run(s, now);
	tx_run(s, now);
	session_report(s);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t session_next_run(const struct session *s, uint64_t now)
{
	uint64_t t;

	if (!s->loaded) {
		t = s->started_us + s->cfg.load_us;
		if (s->dump_asked)
			t = min_u64(t, (s->dump_reply_us > s->dump_asked_us ? s->dump_reply_us
			                                                    : s->dump_asked_us) +
			                       s->cfg.load_quiet_us);
		return t;
	}
	t = min_u64(tx_next_run(s, now), rx_next_run(s));

	t = min_u64(t, s->state == SESS_UP ? s->alive_at : s->hello_at);
	if (s->state != SESS_DOWN)
		t = min_u64(t, s->heard_us + s->cfg.dead_us);
	t = min_u64(t, s->expire_at);
	if (s->split_since && !s->split)
		t = min_u64(t, s->split_since + s->cfg.split_us);
	return t;
}

void session_tx_ready(struct session *s, uint64_t now)
{
	s->tx.blocked = false;
	session_run(s, now);
}

bool session_wants_write(const struct session *s)
{
	return s->tx.blocked;
}
