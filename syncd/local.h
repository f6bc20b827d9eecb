/*
 * The local relay's end of replication (DESIGN decision 4): twist-syncd
 * binds a PULL on ipc://<dir>/sync-in.ipc (the relay pushes its changes)
 * and a PUSH on ipc://<dir>/sync-out.ipc (imports, acknowledged tokens,
 * dumps, heartbeats). Sends never block: what the relay cannot take yet
 * waits here, up to a cap, and a relay that lost messages gets the whole
 * table again.
 *
 * Outgoing messages are built by concatenating packed Local fragments:
 * protobuf appends repeated fields and keeps the last scalar when messages
 * are concatenated, so a flow can be packed the moment it is handed over.
 */
#ifndef TWIST_SYNCD_LOCAL_H
#define TWIST_SYNCD_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/flow.h"
#include "syncd/stats.h"

struct event_base;
struct local;

struct local_ops {
	void (*input)(void *arg, Twist__Local *m); /* decoded; the callee takes it */
	void (*drained)(void *arg);                /* after a burst of input */
	void (*dump_asked)(void *arg);             /* our dump request reached the relay */
	void *arg;
};

/* NULL on failure (logged). Asks the relay for its flows at once. */
struct local *local_open(struct event_base *base, const char *dir, struct sync_stats *st,
                         const struct local_ops *ops);
void local_close(struct local *l);

/* For the session's relay side (session_ops). */
void local_flow(struct local *l, const Twist__Flow *f);
void local_tokens(struct local *l, const uint64_t *tokens, size_t n);
void local_dump_end(struct local *l);
void local_synced(struct local *l, bool synced);

/* Sends what was built; call at the end of each loop pass. */
void local_flush(struct local *l);
/* Messages were dropped since the last call: the relay needs the whole table. */
bool local_take_lost(struct local *l);
size_t local_queued_bytes(const struct local *l);

#endif
