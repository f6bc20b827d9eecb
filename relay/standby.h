/*
 * The hot standby (DESIGN decision 2): allocations built from flow tuples,
 * with relay sockets and connected per-client sockets bound in advance
 * (IP_FREEBIND, so the VIP need not be here yet) and timers running. At
 * failover nothing is created: the VIP arrives and packets flow.
 */
#ifndef TWIST_RELAY_STANDBY_H
#define TWIST_RELAY_STANDBY_H

#include "proto/flow.h"
#include "relay/relay.h"

/* Applies one validated tuple on the worker that owns its 5-tuple. */
void standby_import(struct worker *w, const Twist__Flow *f);

#endif
