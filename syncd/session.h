/*
 * The peer protocol of twist-syncd as a pure state machine
 * (docs/sync-protocol.md). Inputs are decoded messages, the relay's local
 * changes, the role and the time; outputs go through session_ops. No I/O
 * and no clock, so the tests drive two machines through a lossy simulated
 * link and the fuzzer drives one with arbitrary bytes.
 *
 * Two state machines live here, each with one change function that logs:
 *  - the session with the peer: DOWN -> HELLO -> UP, keyed by both epochs;
 *  - this node's table: WAIT (not a known copy) -> RECEIVING (bulk) -> DONE.
 * The sender (tx.c) and the receiver (rx.c) are the two halves of the data
 * stream; this file holds the handshake, roles, split brain and timers.
 */
#ifndef TWIST_SYNCD_SESSION_H
#define TWIST_SYNCD_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/flow.h"
#include "syncd/stats.h"
#include "syncd/table.h"

#define SYNC_VERSION 1
/*
 * Sequenced messages in flight, fixed by the protocol so both ends agree.
 * The sender never has more than SESSION_WINDOW of them unacknowledged
 * (flow control, not eviction), so a receiver can call anything beyond
 * cum + SESSION_FAR impossible and drop it without harm.
 */
#define SESSION_WINDOW 4096u
#define SESSION_FAR    (2 * SESSION_WINDOW)
#define SESSION_NACKS  64 /* ranges in one ACK; proto/flow.c caps it there */

enum sess_state { SESS_DOWN, SESS_HELLO, SESS_UP };
enum sync_state { SYNC_WAIT, SYNC_RECEIVING, SYNC_DONE };

struct session_cfg {
	uint64_t node_id;
	uint64_t peer_id;       /* 0 = whoever says HELLO first */
	uint64_t epoch;         /* random, nonzero, new at every start */
	uint64_t batch_us;      /* how long a change may wait for others to share its batch */
	uint64_t ack_us;        /* how long an ACK may wait; 0 = end of the receive burst */
	unsigned ack_every;     /* ... but never more than this many batches */
	uint64_t alive_us;      /* ALIVE (and HELLO while not up) period */
	uint64_t dead_us;       /* silence that takes the session down */
	uint64_t resend_us;     /* the same seq is not resent sooner than this */
	uint64_t load_us;       /* a fresh syncd's longest wait for its relay's dump */
	uint64_t load_quiet_us; /* the dump is over after this long without a reply */
	uint64_t split_us;      /* both claim master this long: split brain */
	size_t batch_bytes;     /* target packed size of one Batch */
	size_t window_bytes;    /* packed bytes kept for resend */
	size_t rx_bytes;        /* packed bytes held out of order */
};

void session_cfg_defaults(struct session_cfg *c);

struct session_ops {
	/* 0, or -EAGAIN when the link cannot take it now (anything else: lost). */
	int (*peer_send)(void *arg, const uint8_t *buf, size_t len);
	void (*relay_flow)(void *arg, const Twist__Flow *f); /* import (or delete) */
	void (*relay_tokens)(void *arg, const uint64_t *tokens, size_t n);
	void (*relay_dump_end)(void *arg);
	void (*relay_synced)(void *arg, bool synced);
	void *arg;
};

struct tx_slot {
	uint8_t *buf; /* the packed Sync, kept for resends; NULL = free */
	size_t len;
	uint64_t seq;
	uint64_t change_us; /* oldest local change it carries (lag), 0 = none */
	uint64_t made_us;   /* when its lifetimes were true */
	uint64_t sent_us;   /* last (re)send */
};

/* A relay's token waiting for the peer's ACK (sync before answer). */
struct token_wait {
	uint64_t token;
	uint64_t ticket; /* queue position its flows had */
	uint64_t seq;    /* the batch that carried them; see TOKEN_* */
};

#define TOKEN_UNSENT 0          /* flows still queued */
#define TOKEN_BULK   UINT64_MAX /* carried by the running bulk: released at its end */

struct tx {
	struct tx_slot *slots; /* SESSION_WINDOW, by seq % SESSION_WINDOW */
	uint64_t base;         /* oldest unacknowledged seq */
	uint64_t next;         /* next seq to hand out */
	uint64_t sent_upto;    /* seqs below were sent at least once */
	size_t bytes;
	bool blocked;      /* the link said EAGAIN: wait for session_tx_ready */
	uint64_t flush_at; /* when the queue must go; 0 = no deadline */
	bool flush_now;    /* a token is waiting: do not wait for batch_us */
	bool bulk;         /* a bulk is being sent */
	bool bulk_begun;
	uint64_t bulk_flows;
	struct token_wait *tokens;
	size_t n_tokens, cap_tokens;
	Twist__Flow **scratch; /* FLOW_MAX_FLOWS */
	struct tentry **tombs;
};

struct rx_slot {
	Twist__Sync *m;
	size_t len;
};

struct rx {
	uint64_t cum;         /* every seq up to here is applied */
	uint64_t high;        /* highest seq known to exist */
	struct rx_slot *ring; /* SESSION_FAR, by seq % SESSION_FAR */
	size_t held, held_bytes;
	unsigned unacked; /* sequenced messages taken since the last ACK */
	bool ack_owed;
	uint64_t ack_at;
	uint64_t bulk_gen, bulk_start_us, bulk_flows, bulk_expect;
};

struct session {
	struct session_cfg cfg;
	struct session_ops ops;
	struct table *table;
	struct sync_stats *st;
	enum sess_state state;
	enum sync_state sync;
	uint64_t peer_id, peer_epoch; /* 0 = not known */
	bool peer_knows_us;           /* the peer's last HELLO carried our epoch */
	bool master, peer_master;
	bool split;           /* both claim the VIP */
	uint64_t split_since; /* both claim it since, 0 = they do not */
	bool need_bulk;       /* this session has had no bulk yet */
	bool loaded;          /* the relay's dump is in (or we gave up waiting) */
	bool dump_asked;
	int reported_synced; /* -1 = never reported */
	uint64_t started_us, dump_asked_us, dump_reply_us;
	uint64_t heard_us, hello_at, alive_at, expire_at;
	uint64_t log_last_ms; /* log_ratelimit() of session_drop() */
	struct tx tx;
	struct rx rx;
};

struct session *session_new(const struct session_cfg *cfg, struct table *t, struct sync_stats *st,
                            const struct session_ops *ops, uint64_t now);
void session_free(struct session *s);

/* One message from the peer, as read off the link. */
void session_peer_input(struct session *s, const uint8_t *buf, size_t len, uint64_t now);
/* One message from the local relay, decoded; the session takes it. */
void session_local_input(struct session *s, Twist__Local *l, uint64_t now);
/* The relay has our dump request (we started with an empty table). */
void session_dump_asked(struct session *s, uint64_t now);
/* Every live flow to the relay, then dump_end (it restarted, or lost messages). */
void session_relay_dump(struct session *s, uint64_t now);
void session_set_master(struct session *s, bool master, uint64_t now);

/* Timers, flushes, ACKs, bulk progress: call after input and at session_next_run. */
void session_run(struct session *s, uint64_t now);
uint64_t session_next_run(const struct session *s, uint64_t now);
/* The link can take messages again after an EAGAIN. */
void session_tx_ready(struct session *s, uint64_t now);
bool session_wants_write(const struct session *s);

/* This node's table is a complete copy of the peer's, or this node is master. */
bool session_synced(const struct session *s);
bool session_ready(const struct session *s);
const char *session_state_name(enum sess_state st);
const char *session_sync_name(enum sync_state st);

/* Shared by session.c, tx.c and rx.c. */
int session_send(struct session *s, Twist__Sync *m, uint64_t now);
bool session_is_source(const struct session *s);
void session_change_sync(struct session *s, enum sync_state to, const char *why);
void session_report(struct session *s);
void session_drop(struct session *s, enum drop_reason r, uint64_t now);

#endif
