/*
 * The session machine between two nodes on a simulated link: handshake,
 * replication, coalescing, loss, reordering, duplicates, reconnects, the
 * window, bulk mark-and-sweep, split brain and sync-before-answer tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "syncd/rx.h"
#include "syncd/tx.h"
#include "tests/syncd/sim.h"
#include "tests/syncd/util.h"

#define MS 1000ull
#define A  0
#define B  1

static struct sim *sim_up(const struct session_cfg *cfg)
{
	struct sim *sim = calloc(1, sizeof(*sim));
	struct session_cfg c;

	assert_non_null(sim);
	if (!cfg) {
		session_cfg_defaults(&c);
		cfg = &c;
	}
	sim_init(sim, cfg);
	sim_set_master(sim, A, true);
	sim_run(sim, 50 * MS);
	assert_int_equal(sim->n[A].s->state, SESS_UP);
	assert_int_equal(sim->n[B].s->state, SESS_UP);
	return sim;
}

static void sim_down(struct sim *sim)
{
	sim_fini(sim);
	free(sim);
}

static void test_handshake(void **state)
{
	struct sim *sim = sim_up(NULL);

	(void)state;
	/* A is master and the source: its (empty) bulk makes B a synced copy. */
	assert_int_equal(sim->n[A].st.bulk_tx, 1);
	assert_int_equal(sim->n[B].st.bulk_rx, 1);
	assert_int_equal(sim->n[B].s->sync, SYNC_DONE);
	assert_int_equal(sim->n[B].synced, 1);
	assert_int_equal(sim->n[A].synced, 1);
	assert_true(sim->n[B].s->peer_master);
	assert_false(sim->n[A].s->peer_master);
	sim_down(sim);
}

static void test_replicate_and_delete(void **state)
{
	struct sim *sim = sim_up(NULL);
	Twist__Flow *d[10];

	(void)state;
	sim_local_range(sim, A, 0, 1000);
	sim_run(sim, 20 * MS);
	assert_int_equal(sim->n[B].t->live, 1000);
	assert_int_equal(sim->n[B].imports, 1000);
	assert_true(sim_tables_equal(sim));
	for (unsigned i = 0; i < 10; i++)
		d[i] = util_flow_delete(i * 7);
	sim_local(sim, A, d, 10, NULL, 0);
	for (unsigned i = 0; i < 10; i++)
		twist__flow__free_unpacked(d[i], flow_allocator());
	/* The delete leaves A's table at once and B's once replicated. */
	assert_int_equal(sim->n[A].t->live, 990);
	sim_run(sim, 20 * MS);
	assert_int_equal(sim->n[B].t->live, 990);
	assert_int_equal(sim->n[B].deletes, 10);
	assert_int_equal(sim->n[A].t->n, 990); /* tombstones gone once sent */
	assert_true(sim_tables_equal(sim));
	/* Nothing B applied went back to A. */
	assert_int_equal(sim->n[B].st.flows_tx, 0);
	sim_down(sim);
}

static void test_coalescing(void **state)
{
	struct sim *sim = sim_up(NULL);

	(void)state;
	/* One flow changed 50 times within the batching delay costs one send. */
	for (uint32_t k = 0; k < 50; k++) {
		Twist__Flow *f = util_flow_new(3, 1, 1, 100 + k);

		sim_local(sim, A, &f, 1, NULL, 0);
		twist__flow__free_unpacked(f, flow_allocator());
	}
	assert_int_equal(sim->n[A].t->queued, 1);
	sim_run(sim, 10 * MS);
	assert_int_equal(sim->n[A].st.flows_tx, 1);
	assert_int_equal(sim->n[B].t->live, 1);
	assert_int_equal(TAILQ_FIRST(&sim->n[B].t->all)->flow->lifetime, 149);
	sim_down(sim);
}

static struct session_cfg small_batches(void)
{
	struct session_cfg c;

	session_cfg_defaults(&c);
	c.batch_bytes = 512; /* a handful of flows per batch: many seqs */
	return c;
}

static void test_loss_nack_resend(void **state)
{
	struct session_cfg c = small_batches();
	struct sim *sim = sim_up(&c);

	(void)state;
	sim->link[B].drop_pct = 30;
	sim->link[A].drop_pct = 30; /* ACKs and NACKs get lost too */
	sim_local_range(sim, A, 0, 2000);
	sim_run(sim, 3000 * MS);
	assert_int_equal(sim->n[B].t->live, 2000);
	assert_true(sim_tables_equal(sim));
	assert_true(sim->n[A].st.resends > 0);
	assert_true(sim->n[B].st.nacks_tx > 0);
	assert_int_equal(sim->n[A].s->tx.next, sim->n[A].s->tx.base); /* all acknowledged */
	assert_int_equal(sim->n[B].s->rx.held, 0);
	sim_down(sim);
}

static void test_reorder_duplicates(void **state)
{
	struct session_cfg c = small_batches();
	struct sim *sim = sim_up(&c);

	(void)state;
	sim->link[B].reorder = true;
	sim->link[B].dup = true;
	sim_local_range(sim, A, 0, 1500);
	/* Later changes to early flows must win over reordered earlier ones. */
	for (uint32_t k = 0; k < 20; k++) {
		Twist__Flow *f = util_flow_new(k, 1, 1, 400 + k);

		sim_run(sim, 2 * MS);
		sim_local(sim, A, &f, 1, NULL, 0);
		twist__flow__free_unpacked(f, flow_allocator());
	}
	sim_run(sim, 500 * MS);
	assert_int_equal(sim->n[B].t->live, 1500);
	assert_true(sim_tables_equal(sim));
	assert_true(sim->n[B].st.drops[SRC_PEER][DROP_REPLAYED_SEQ] > 0);
	sim_down(sim);
}

static void test_tail_loss_alive(void **state)
{
	struct sim *sim = sim_up(NULL);

	(void)state;
	sim->link[B].drop_next = 1; /* the only batch is lost: nothing follows to show the gap */
	sim_local_range(sim, A, 0, 5);
	sim_run(sim, 20 * MS);
	assert_int_equal(sim->n[B].t->live, 0);
	sim_run(sim, 200 * MS); /* an ALIVE announces the seq, B NACKs, A resends */
	assert_int_equal(sim->n[B].t->live, 5);
	assert_true(sim->n[A].st.resends >= 1);
	sim_down(sim);
}

static void test_restart_new_epoch(void **state)
{
	struct sim *sim = sim_up(NULL);
	uint64_t old_epoch = sim->n[B].cfg.epoch;

	(void)state;
	sim_local_range(sim, A, 0, 3000);
	sim_run(sim, 50 * MS);
	assert_int_equal(sim->n[B].t->live, 3000);
	sim_restart(sim, B); /* kill -9: B's table is gone, a new epoch */
	assert_int_equal(sim->n[B].t->live, 0);
	assert_int_not_equal(sim->n[B].cfg.epoch, old_epoch);
	sim_run(sim, 200 * MS);
	assert_int_equal(sim->n[A].st.peer_restarts, 1);
	assert_int_equal(sim->n[A].st.bulk_tx, 2);
	assert_int_equal(sim->n[B].st.bulk_rx, 1);
	assert_int_equal(sim->n[B].st.bulk_last_flows, 3000);
	assert_int_equal(sim->n[B].t->live, 3000);
	assert_int_equal(sim->n[B].s->sync, SYNC_DONE);
	assert_true(sim_tables_equal(sim));
	sim_down(sim);
}

static void test_wrong_epoch_dropped(void **state)
{
	struct sim *sim = sim_up(NULL);
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Alive al = TWIST__ALIVE__INIT;
	uint8_t buf[256];
	size_t len;

	(void)state;
	m.body_case = TWIST__SYNC__BODY_ALIVE;
	m.alive = &al;
	len = sim_pack(sim, A, &m, buf, sizeof(buf));
	/* The same message from a syncd of A's that is not the one B knows. */
	m.epoch++;
	len = twist__sync__pack(&m, buf);
	sim_inject(sim, B, buf, len);
	assert_int_equal(sim->n[B].st.drops[SRC_PEER][DROP_WRONG_EPOCH], 1);
	assert_int_equal(sim->n[B].s->state, SESS_UP);
	sim_down(sim);
}

static void test_link_cut_resume(void **state)
{
	struct sim *sim = sim_up(NULL);
	uint64_t bulks = sim->n[A].st.bulk_tx;

	(void)state;
	sim->link[A].cut = sim->link[B].cut = true;
	sim_local_range(sim, A, 0, 100);
	sim_run(sim, 1500 * MS);
	assert_int_equal(sim->n[A].s->state, SESS_DOWN);
	assert_int_equal(sim->n[B].s->state, SESS_DOWN);
	/* B's copy stays while the peer is away, but B misses changes from now
	 * on: not ready, so twist-ha lowers its VRRP priority (decision 7). */
	assert_int_equal(sim->n[B].s->sync, SYNC_DONE);
	assert_true(session_synced(sim->n[B].s));
	assert_false(session_ready(sim->n[B].s));
	sim_local_range(sim, A, 100, 100);
	sim->link[A].cut = sim->link[B].cut = false;
	sim_run(sim, 500 * MS);
	assert_int_equal(sim->n[A].s->state, SESS_UP);
	assert_int_equal(sim->n[B].t->live, 200);
	assert_true(sim_tables_equal(sim));
	assert_true(session_ready(sim->n[B].s));
	/* Same epochs: resends and the queue did it, no bulk. */
	assert_int_equal(sim->n[A].st.bulk_tx, bulks);
	sim_down(sim);
}

static void test_window_full_stalls(void **state)
{
	struct session_cfg c;
	struct sim *sim;
	unsigned n = SESSION_WINDOW + 500;

	(void)state;
	session_cfg_defaults(&c);
	c.batch_bytes = 1; /* one flow per batch */
	sim = sim_up(&c);
	sim->link[A].cut = true; /* B gets everything, its ACKs are lost */
	sim_local_range(sim, A, 0, n);
	sim_run(sim, 300 * MS);
	/* Flow control: never more than the window in flight; the rest waits, coalesced. */
	assert_int_equal(sim->n[A].s->tx.next - sim->n[A].s->tx.base, SESSION_WINDOW);
	assert_true(sim->n[A].t->queued >= 500);
	assert_int_equal(sim->n[B].st.drops[SRC_PEER][DROP_FAR_FUTURE_SEQ], 0);
	/* More changes to flows already queued cost nothing more. */
	sim_local_range(sim, A, SESSION_WINDOW, 500);
	assert_true(sim->n[A].t->queued <= 500);
	sim->link[A].cut = false;
	sim_run(sim, 500 * MS);
	assert_int_equal(sim->n[B].t->live, n);
	assert_true(sim_tables_equal(sim));
	sim_down(sim);
}

static void send_ack(struct sim *sim, int from, uint64_t cum, uint64_t first, uint64_t last)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Ack a = TWIST__ACK__INIT;
	Twist__Range r = TWIST__RANGE__INIT, *rp = &r;
	uint8_t buf[256];

	r.first = first;
	r.last = last;
	a.cum_seq = cum;
	a.n_nack = 1;
	a.nack = &rp;
	m.body_case = TWIST__SYNC__BODY_ACK;
	m.ack = &a;
	sim_inject(sim, 1 - from, buf, sim_pack(sim, from, &m, buf, sizeof(buf)));
}

static void test_nack_below_window_bulk(void **state)
{
	struct sim *sim = sim_up(NULL);
	uint64_t cum;

	(void)state;
	sim_local_range(sim, A, 0, 300);
	sim_run(sim, 20 * MS);
	cum = sim->n[A].s->tx.base - 1;
	/* B claims to miss what it acknowledged: nothing in the window can fix that. */
	send_ack(sim, B, cum, 1, 1);
	assert_true(sim->n[A].s->tx.bulk);
	sim_run(sim, 100 * MS);
	assert_int_equal(sim->n[A].st.bulk_tx, 2);
	assert_int_equal(sim->n[B].st.bulk_rx, 2);
	assert_true(sim_tables_equal(sim));
	/* An ACK beyond anything sent is refused. */
	send_ack(sim, B, sim->n[A].s->tx.next + 10, sim->n[A].s->tx.next + 11,
	         sim->n[A].s->tx.next + 12);
	assert_int_equal(sim->n[A].st.drops[SRC_PEER][DROP_FAR_FUTURE_SEQ], 1);
	sim_down(sim);
}

/* Node i's relay answers its start-up dump request with flows [first, first+n). */
static void dump_reply(struct sim *sim, int i, unsigned first, unsigned n, bool end)
{
	Twist__Flow *f[64];
	Twist__Local *l;

	assert_true(n <= 64);
	for (unsigned k = 0; k < n; k++)
		f[k] = util_flow_new(first + k, 0, 0, 600);
	l = util_local(f, n, NULL, 0, true);
	assert_non_null(l);
	l->dump_end = end;
	session_local_input(sim->n[i].s, l, sim->now);
	for (unsigned k = 0; k < n; k++)
		twist__flow__free_unpacked(f[k], flow_allocator());
}

static void test_bulk_mark_and_sweep(void **state)
{
	struct session_cfg c;
	struct sim *sim = calloc(1, sizeof(*sim));

	(void)state;
	assert_non_null(sim);
	session_cfg_defaults(&c);
	sim_init(sim, &c);
	sim->link[A].cut = sim->link[B].cut = true; /* not up yet */
	sim_set_master(sim, A, true);
	sim_local_range(sim, A, 0, 200); /* A: flows 0..199 */
	/* B restarted; its relay still holds 150..249, and 200..249 are stale. */
	sim->n[B].s->loaded = false;
	dump_reply(sim, B, 150, 50, false);
	dump_reply(sim, B, 200, 50, true); /* dump_end: B is loaded */
	assert_true(sim->n[B].s->loaded);
	assert_int_equal(sim->n[B].t->live, 100);
	assert_int_equal(sim->n[B].t->queued, 0); /* a dump reply is never replicated */
	sim->link[A].cut = sim->link[B].cut = false;
	sim_run(sim, 100 * MS);
	/* B now holds exactly A's table: 200..249 swept and deleted at B's relay. */
	assert_int_equal(sim->n[B].st.bulk_rx, 1);
	assert_int_equal(sim->n[B].st.swept, 50);
	assert_int_equal(sim->n[B].deletes, 50);
	assert_int_equal(sim->n[B].t->live, 200);
	assert_true(sim_tables_equal(sim));
	assert_int_equal(sim->n[A].t->live, 200); /* the source never takes B's extras */
	sim_down(sim);
}

static void test_split_brain(void **state)
{
	struct sim *sim = sim_up(NULL);
	uint64_t tok = 77;

	(void)state;
	sim_local_range(sim, A, 0, 100);
	sim_run(sim, 20 * MS);
	sim_set_master(sim, B, true); /* the sync link said nothing, both took the VIP */
	sim_run(sim, 100 * MS);
	assert_false(sim->n[A].s->split); /* could still be a switchover in flight */
	sim_run(sim, 300 * MS);
	assert_true(sim->n[A].s->split);
	assert_true(sim->n[B].s->split);
	assert_int_equal(sim->n[A].st.split_brain, 1);
	assert_int_equal(sim->n[B].st.split_brain, 1);
	/* While split, nothing is replicated and tokens come back at once. */
	sim_local_range(sim, A, 100, 10);
	sim_local_range(sim, B, 1000, 20);
	{
		Twist__Flow *f = util_flow_new(5000, 0, 0, 600);

		sim_local(sim, B, &f, 1, &tok, 1);
		twist__flow__free_unpacked(f, flow_allocator());
	}
	assert_int_equal(sim->n[B].n_tokens, 1);
	assert_int_equal(sim->n[B].st.tokens_unreplicated, 1);
	sim_run(sim, 50 * MS);
	assert_int_equal(sim->n[A].t->live, 110);
	assert_int_equal(sim->n[B].t->live, 121);
	/* Heal: B goes back to backup; A's bulk is authoritative. */
	sim_set_master(sim, B, false);
	sim_run(sim, 100 * MS);
	assert_false(sim->n[A].s->split);
	assert_false(sim->n[B].s->split);
	assert_int_equal(sim->n[B].t->live, 110);
	assert_int_equal(sim->n[A].t->live, 110);
	assert_true(sim_tables_equal(sim));
	assert_int_equal(sim->n[B].s->sync, SYNC_DONE);
	sim_down(sim);
}

static void test_tokens_after_ack(void **state)
{
	struct sim *sim = sim_up(NULL);
	Twist__Flow *f = util_flow_new(42, 1, 1, 600);
	uint64_t tok = 0xabc;

	(void)state;
	sim_local(sim, A, &f, 1, &tok, 1);
	twist__flow__free_unpacked(f, flow_allocator());
	/* Flushed at once (no batching delay), but not acknowledged yet. */
	session_run(sim->n[A].s, sim->now);
	assert_int_equal(sim->n[A].n_tokens, 0);
	assert_non_null(sim->q[B]);
	/* B applies it; the token returns only with B's ACK. */
	sim->link[A].cut = true;
	sim_run(sim, 50 * MS);
	assert_int_equal(sim->n[B].t->live, 1);
	assert_int_equal(sim->n[A].n_tokens, 0);
	sim->link[A].cut = false;
	sim_run(sim, 150 * MS); /* the next ALIVE draws a fresh ACK */
	assert_int_equal(sim->n[A].n_tokens, 1);
	assert_int_equal(sim->n[A].tokens[0], 0xabc);
	assert_int_equal(sim->n[A].st.tokens_acked, 1);
	assert_int_equal(sim->n[A].st.tokens_unreplicated, 0);
	assert_true(sim->n[A].st.lag_n >= 1);
	sim_down(sim);
}

static void test_tokens_peer_lost(void **state)
{
	struct sim *sim = sim_up(NULL);
	Twist__Flow *f = util_flow_new(1, 0, 0, 600);
	uint64_t tok = 5;

	(void)state;
	sim->link[B].cut = true;
	sim->link[A].cut = true;
	sim_local(sim, A, &f, 1, &tok, 1);
	sim_run(sim, 500 * MS);
	assert_int_equal(sim->n[A].n_tokens, 0); /* still waiting */
	sim_run(sim, 800 * MS);                  /* the peer is declared down */
	assert_int_equal(sim->n[A].s->state, SESS_DOWN);
	assert_int_equal(sim->n[A].n_tokens, 1);
	assert_int_equal(sim->n[A].st.tokens_unreplicated, 1);
	/* With no session a token comes straight back. */
	tok = 6;
	sim_local(sim, A, &f, 1, &tok, 1);
	assert_int_equal(sim->n[A].n_tokens, 2);
	assert_int_equal(sim->n[A].st.tokens_unreplicated, 2);
	twist__flow__free_unpacked(f, flow_allocator());
	sim_down(sim);
}

static void test_both_backup_lower_id_source(void **state)
{
	struct session_cfg c;
	struct sim *sim = calloc(1, sizeof(*sim));

	(void)state;
	assert_non_null(sim);
	session_cfg_defaults(&c);
	sim_init(sim, &c);
	sim->n[A].s->loaded = false;
	dump_reply(sim, A, 9, 1, true);
	sim_run(sim, 50 * MS);
	assert_int_equal(sim->n[A].st.bulk_tx, 1); /* node id 1 < 2 */
	assert_int_equal(sim->n[B].st.bulk_tx, 0);
	assert_int_equal(sim->n[B].t->live, 1);
	assert_int_equal(sim->n[A].s->sync, SYNC_DONE);
	assert_int_equal(sim->n[B].s->sync, SYNC_DONE);
	sim_down(sim);
}

static void test_eagain_backpressure(void **state)
{
	struct sim *sim = sim_up(NULL);

	(void)state;
	sim->link[B].eagain = true;
	sim_local_range(sim, A, 0, 50);
	sim_run(sim, 20 * MS);
	assert_true(session_wants_write(sim->n[A].s));
	assert_int_equal(sim->n[B].t->live, 0);
	sim_local_range(sim, A, 50, 50);
	sim->link[B].eagain = false;
	session_tx_ready(sim->n[A].s, sim->now);
	sim_run(sim, 20 * MS);
	assert_false(session_wants_write(sim->n[A].s));
	assert_int_equal(sim->n[B].t->live, 100);
	assert_true(sim_tables_equal(sim));
	sim_down(sim);
}

static void test_eagain_no_spin(void **state)
{
	struct sim *sim = sim_up(NULL);

	(void)state;
	sim->link[A].eagain = true; /* B cannot send: its ACKs wait */
	sim_local_range(sim, A, 0, 10);
	sim_run(sim, 5 * MS);
	assert_int_equal(sim->n[B].t->live, 10);
	assert_true(sim->n[B].s->rx.ack_owed);
	assert_true(session_wants_write(sim->n[B].s));
	/* Owing an ACK on a full link must not make the loop spin. */
	assert_true(session_next_run(sim->n[B].s, sim->now) > sim->now);
	sim->link[A].eagain = false;
	session_tx_ready(sim->n[B].s, sim->now);
	assert_false(sim->n[B].s->rx.ack_owed);
	sim_run(sim, 5 * MS);
	assert_int_equal(sim->n[A].s->tx.base, sim->n[A].s->tx.next);
	sim_down(sim);
}

static void test_relay_dump(void **state)
{
	struct sim *sim = sim_up(NULL);
	Twist__Local *l = util_local(NULL, 0, NULL, 0, false);

	(void)state;
	sim_local_range(sim, A, 0, 30);
	sim_run(sim, 20 * MS);
	l->dump = 1; /* B's relay restarted */
	session_local_input(sim->n[B].s, l, sim->now);
	assert_int_equal(sim->n[B].imports, 60);
	assert_int_equal(sim->n[B].dump_ends, 1);
	sim_down(sim);
}

static void test_late_dump_reply(void **state)
{
	struct sim *sim = sim_up(NULL);

	(void)state;
	/* After the session started, a backup's late reply is stale: dropped... */
	dump_reply(sim, B, 0, 5, false);
	assert_int_equal(sim->n[B].t->live, 0);
	/* ...and a master's is the truth: kept and replicated. */
	dump_reply(sim, A, 0, 5, false);
	sim_run(sim, 20 * MS);
	assert_int_equal(sim->n[B].t->live, 5);
	assert_int_equal(sim->n[A].st.dump_late, 5); /* flows */
	assert_int_equal(sim->n[B].st.dump_late, 5);
	sim_down(sim);
}

static void test_not_loaded_stays_out(void **state)
{
	struct session_cfg c;
	struct sim *sim = calloc(1, sizeof(*sim));

	(void)state;
	assert_non_null(sim);
	session_cfg_defaults(&c);
	sim_init(sim, &c);
	sim->n[B].s->loaded = false;
	sim->n[B].s->dump_asked = false; /* the relay never answers */
	sim->n[B].s->started_us = sim->now;
	sim_run(sim, 1000 * MS);
	assert_int_equal(sim->n[A].s->state, SESS_DOWN);
	assert_true(sim->n[B].st.drops[SRC_PEER][DROP_NO_SESSION] > 0);
	sim_run(sim, 1100 * MS); /* load_us (2 s) without an answer: B goes ahead */
	assert_true(sim->n[B].s->loaded);
	assert_int_equal(sim->n[A].s->state, SESS_UP);
	sim_down(sim);
}

static void test_role_change_no_bulk(void **state)
{
	struct sim *sim = sim_up(NULL);

	(void)state;
	sim_local_range(sim, A, 0, 10);
	sim_run(sim, 20 * MS);
	/* A graceful switchover with the link up: tables match, no bulk needed. */
	sim_set_master(sim, A, false);
	sim_set_master(sim, B, true);
	sim_run(sim, 50 * MS);
	assert_false(sim->n[A].s->split);
	assert_true(sim->n[A].s->peer_master);
	assert_int_equal(sim->n[B].st.bulk_tx, 0);
	sim_local_range(sim, B, 100, 10); /* the new master replicates to the old one */
	sim_run(sim, 20 * MS);
	assert_int_equal(sim->n[A].t->live, 20);
	assert_true(sim_tables_equal(sim));
	sim_down(sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_handshake),
	        cmocka_unit_test(test_replicate_and_delete),
	        cmocka_unit_test(test_coalescing),
	        cmocka_unit_test(test_loss_nack_resend),
	        cmocka_unit_test(test_reorder_duplicates),
	        cmocka_unit_test(test_tail_loss_alive),
	        cmocka_unit_test(test_restart_new_epoch),
	        cmocka_unit_test(test_wrong_epoch_dropped),
	        cmocka_unit_test(test_link_cut_resume),
	        cmocka_unit_test(test_window_full_stalls),
	        cmocka_unit_test(test_nack_below_window_bulk),
	        cmocka_unit_test(test_bulk_mark_and_sweep),
	        cmocka_unit_test(test_split_brain),
	        cmocka_unit_test(test_tokens_after_ack),
	        cmocka_unit_test(test_tokens_peer_lost),
	        cmocka_unit_test(test_both_backup_lower_id_source),
	        cmocka_unit_test(test_eagain_backpressure),
	        cmocka_unit_test(test_eagain_no_spin),
	        cmocka_unit_test(test_relay_dump),
	        cmocka_unit_test(test_late_dump_reply),
	        cmocka_unit_test(test_not_loaded_stays_out),
	        cmocka_unit_test(test_role_change_no_bulk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
