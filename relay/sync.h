/*
 * The relay's end of replication (DESIGN "Data flow", decisions 4 and 5).
 *
 * Every state change of an allocation marks it dirty on its worker; at the
 * end of the worker's loop pass its current tuple is packed and pushed to
 * the local twist-syncd (nanomsg PUSH over ipc, never blocking: on EAGAIN
 * the flow stays dirty and goes later). Tuples from twist-syncd (the peer's
 * flows, or our own after a restart) arrive on the main thread and are
 * handed to the owning worker, which builds or updates the allocation with
 * its sockets bound (relay/standby.c).
 *
 * Sync before answer: a success response to a state-changing request is
 * held until twist-syncd says the standby has the tuple, or until
 * ha.sync_deadline_ms passes.
 */
#ifndef TWIST_RELAY_SYNC_H
#define TWIST_RELAY_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/conn.h"
#include "relay/relay.h"

struct flow;

int sync_start(struct relay *r, struct event_base *main_base);
void sync_stop(struct relay *r);
int sync_worker_init(struct worker *w);
void sync_worker_fini(struct worker *w);

/* f (a replicating flow) changed: queue its tuple; no-op without HA. */
void sync_flow_changed(struct flow *f);
/* f is going: leave the queue, and with tell queue a delete tuple. */
void sync_flow_gone(struct flow *f, bool tell);

/*
 * Sync before answer. True when the response was taken and will be sent
 * once the standby has acknowledged (or at the deadline); false means the
 * caller sends it now (no HA, no standby in sync, or no room).
 */
bool sync_hold(struct worker *w, const struct conn_return *rp, const uint8_t *buf, size_t len);

/*
 * For /ready: twist-syncd has answered the start-up dump and every tuple it
 * sent is built (sockets bound). Always true without HA.
 */
bool sync_importing_done(struct relay *r);

/* Gauges for /metrics. */
bool sync_peer_ready(struct relay *r);
bool sync_connected(struct relay *r);

#endif
