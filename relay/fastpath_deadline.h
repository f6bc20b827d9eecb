/*
 * Until when a channel may take the fast path (docs/fastpath.md, "Maps and
 * lifetimes"): pure, so that its unit test needs no maps and no worker.
 */
#ifndef TWIST_RELAY_FASTPATH_DEADLINE_H
#define TWIST_RELAY_FASTPATH_DEADLINE_H

#include <stdint.h>

/* Entries stop this long before user space's own expiry. */
#define FASTPATH_GUARD_MS 1000

/*
 * The deadline (monotonic ms) of a channel whose channel binding, whose
 * peer's permission and whose allocation expire at the given times: a
 * guard before the first of them. 0 when that leaves nothing (the first
 * expiry is within the guard of now): the channel stays in user space.
 */
uint64_t fastpath_deadline(uint64_t now_ms, uint64_t chan_expires, uint64_t perm_expires,
                           uint64_t alloc_expires);

#endif
