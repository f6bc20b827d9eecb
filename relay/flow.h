/*
 * The one lifecycle of everything a worker relays for a client (DESIGN
 * decision 11): a TURN allocation today; an RFC 6062 connection, a TWIST
 * flow and a translator mapping are further kinds. A kind embeds struct
 * flow first and supplies a flow_ops table; the worker, replication and
 * the sweep see only struct flow.
 *
 * Lifecycle: the kind's constructor calls flow_init(), builds what it
 * needs, and flow_publish() makes it visible (worker list, replication).
 * flow_delete() tells the standby and frees; flow_free() frees quietly
 * (shutdown, deletes that came from the standby, half-built objects).
 * Freeing closes every socket at once but gives the memory back only at
 * the end of the worker's loop pass (worker_reap), so an epoll event still
 * queued for one of its sockets finds a closed handle, not freed memory.
 *
 * Replication: a mutator of a kind calls flow_changed(); nobody else has
 * to remember to. Changes applied from the peer's tuples are made with
 * f->importing set and are not sent back.
 */
#ifndef TWIST_RELAY_FLOW_H
#define TWIST_RELAY_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/registry.h"

struct flow;
struct flow_out;
struct worker;

struct flow_ops {
	const char *name;
	/* Gives back sockets, ports and claims; must cope with a half-built
	 * object (what it frees is marked as held). Called once. */
	void (*close)(struct flow *f);
	/* Frees the memory; called from worker_reap. */
	void (*destroy)(struct flow *f);
	/* Expires what has run out; called once a second. May free f. */
	void (*sweep)(struct flow *f, uint64_t now_ms);
	/* Packs the current state for the standby (replicating flows only). */
	void (*export)(const struct flow *f, uint64_t now_ms, struct flow_out *o);
};

struct flow {
	const struct flow_ops *ops;
	struct worker *w;
	struct alloc_key key;     /* the client's 5-tuple and transport */
	struct flow *next, *prev; /* the worker's published flows */
	struct flow *dirty_next;  /* replication queue (relay/sync.c) */
	struct flow *dead_next;   /* closed, memory freed at worker_reap */
	bool replicates;          /* decision 8: survives a failover */
	bool published, closed;
	bool importing;           /* being written from a peer tuple */
	bool dirty, dump_pending; /* relay/sync.c */
};

void flow_init(struct flow *f, const struct flow_ops *ops, struct worker *w,
               const struct alloc_key *key, bool replicates);
/* Links a built flow into the worker; replicated unless importing. */
void flow_publish(struct flow *f);
/* A replicated field changed: queue the flow's tuple for the standby. */
void flow_changed(struct flow *f);
/* Tells the standby the flow is gone, then frees it. */
void flow_delete(struct flow *f);
/* Frees without telling the standby. flow_free(NULL) is a no-op. */
void flow_free(struct flow *f);

struct flow *flow_first(struct worker *w);
/* Gives back the memory of flows closed during the pass. */
void worker_reap(struct worker *w);
/* Runs every flow's sweep. */
void flow_sweep_all(struct worker *w);

#endif
