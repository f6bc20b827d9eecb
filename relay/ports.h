/*
 * Relay ports: a bitmap per family of the configured range, and the ports
 * held for RESERVATION-TOKENs (RFC 8656 §7.2, EVEN-PORT with the R bit).
 * Shared by all workers under one mutex; used only when allocations are
 * created or deleted.
 */
#ifndef TWIST_RELAY_PORTS_H
#define TWIST_RELAY_PORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/addr.h"

struct registry;

#define PORTS_RESERVE_MS 30000 /* RFC 8656 §7.2: hold a reserved port ~30 s */

struct ports;

/*
 * reg, when not NULL, is charged for reservations (registry_hold): a held
 * port counts against its user's quota until it is claimed or expires.
 */
struct ports *ports_new(uint16_t min, uint16_t max, struct registry *reg);
void ports_free(struct ports *p);

/*
 * Opens a non-blocking UDP socket on ip with a free port (even if asked),
 * picked at random in the range (RFC 8656 §7.2, RFC 6056 §3.3.2). With
 * reserve, port+1 is bound as well and held under *token for user.
 * Returns the fd, or -EADDRNOTAVAIL when no port is left, -EDQUOT when the
 * reservation would put user over the quota, -ENOSPC when the reservation
 * table is full, or -errno.
 */
int ports_open(struct ports *p, const struct tw_addr *ip, bool even, bool reserve, const char *user,
               uint64_t *token, struct tw_addr *bound, uint64_t now_ms);
/*
 * RFC 6062 §5.1: a listening TCP socket on ip with a free port of the
 * same pool (its number is then taken for UDP too); the fd or -errno.
 */
int ports_open_stream(struct ports *p, const struct tw_addr *ip, struct tw_addr *bound);
/* Binds exactly bound (a replicated relayed address); -EADDRINUSE if taken. */
int ports_bind(struct ports *p, const struct tw_addr *bound);
/* The socket held for token, now the caller's; -ENOENT if unknown or expired. */
int ports_take(struct ports *p, uint64_t token, struct tw_addr *bound);
/* Returns the port to the pool; the caller has closed the socket. */
void ports_release(struct ports *p, const struct tw_addr *bound);
/* Closes reservations past their 30 seconds and returns their quota. */
void ports_reap(struct ports *p, uint64_t now_ms);
unsigned ports_in_use(struct ports *p, uint8_t family);
/* Whether a's port (of a's family) is one of the relay's bound ports; no lock. */
bool ports_bound(const struct ports *p, const struct tw_addr *a);

#endif
