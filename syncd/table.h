/*
 * The flow table: every flow this node knows, keyed by its 5-tuple, and the
 * coalescing queue of flows that changed locally (DESIGN decision 4, the
 * conntrackd FTFW lesson). A change queues a reference to the entry, not a
 * copy: whatever happens to the flow before the sender gets to it, one send
 * carries its state at that moment.
 *
 * Flows are stored as protobuf-c objects (taken over from the unpacked
 * message, so no copy is made). Their lifetimes are seconds remaining at
 * stored_us; table_age() brings them to the present.
 *
 * No I/O, no clock: callers pass the time (monotonic microseconds).
 */
#ifndef TWIST_SYNCD_TABLE_H
#define TWIST_SYNCD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "proto/flow.h"

struct flow_key {
	struct tw_addr client, local;
	uint8_t transport; /* 17 or 6 */
};

#define TE_QUEUED 0x01 /* in the dirty queue */
#define TE_TOMB   0x02 /* a delete waiting to be sent: not a live flow */

struct tentry {
	struct tentry *hnext;
	TAILQ_ENTRY(tentry) all; /* every entry, oldest first: bulk and dump walks */
	TAILQ_ENTRY(tentry) q;   /* the dirty queue, when TE_QUEUED */
	struct flow_key key;
	Twist__Flow *flow;  /* owned */
	uint64_t stored_us; /* the lifetimes in flow count from here */
	uint64_t dirty_us;  /* when it was queued: where replication lag starts */
	uint64_t ticket;    /* queue position; increases along the queue */
	uint64_t gen;       /* table generation when last written */
	uint32_t hash;
	uint8_t flags;
};

TAILQ_HEAD(tentry_list, tentry);

struct table {
	struct tentry **buckets;
	size_t nbuckets; /* a power of two */
	size_t n;        /* entries, tombstones included */
	size_t live;     /* flows */
	size_t queued;
	struct tentry_list all, queue;
	struct tentry *walk; /* next entry of the one resumable walk */
	bool walking;
	uint64_t tickets; /* the last ticket handed out */
	uint64_t gen;
	uint32_t seed;
};

struct table *table_new(uint32_t seed);
void table_free(struct table *t);

/* The 5-tuple of f; -EBADMSG if its identity is malformed. */
int flow_key_of(const Twist__Flow *f, struct flow_key *k);
/* A deep copy made through the codec; NULL on ENOMEM. */
Twist__Flow *flow_dup(const Twist__Flow *f);

struct tentry *table_find(struct table *t, const struct flow_key *k);
/*
 * Takes f (a live flow, or with TE_TOMB semantics when f->deleted) and
 * replaces whatever the entry held. On error f still belongs to the caller.
 */
int table_store(struct table *t, Twist__Flow *f, uint64_t now, struct tentry **out);
void table_remove(struct table *t, struct tentry *e);

void table_enqueue(struct table *t, struct tentry *e, uint64_t now);
void table_dequeue(struct table *t, struct tentry *e);
void table_queue_clear(struct table *t);
struct tentry *table_queue_head(struct table *t);

/* Takes secs off every lifetime of f, dropping what runs out; false if f itself does. */
bool flow_age(Twist__Flow *f, uint32_t secs);
/*
 * Brings the lifetimes of e to now: drops permissions and channels that ran
 * out. False if the flow itself has expired (the caller removes it).
 */
bool table_age(struct tentry *e, uint64_t now);
/* Removes expired live flows (not queued deletes); returns how many. */
size_t table_expire(struct table *t, uint64_t now);

/* Mark and sweep: a new generation, then remove live flows not written since. */
uint64_t table_gen_bump(struct table *t);
typedef void (*table_cb)(void *arg, struct tentry *e);
size_t table_sweep(struct table *t, uint64_t gen, table_cb cb, void *arg);

/* One resumable walk in insertion order that survives removals. */
void table_walk_start(struct table *t);
struct tentry *table_walk_next(struct table *t);
void table_walk_stop(struct table *t);

#endif
