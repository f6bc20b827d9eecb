/*
 * The allocation table's side of the fast path: which channels of an
 * allocation belong in the maps (relay/fastpath.h), and until when.
 * Called by the worker that owns the allocation, after each change.
 */
#ifndef TWIST_RELAY_FASTPATH_ALLOC_H
#define TWIST_RELAY_FASTPATH_ALLOC_H

#include <stdint.h>

#include "bpf/fastpath.h"
#include "proto/addr.h"

struct allocation;

/* A channel installed in the maps, as the allocation remembers it. */
struct fp_inst {
	struct tw_addr peer;
	uint16_t num;
	struct fp_chan_ctr seen; /* its counters when last added to the allocation's */
};

/*
 * Makes the maps hold exactly a's channels that may take the fast path,
 * each until a guard before min(channel, permission, allocation expiry).
 * A no-op without a fast path.
 */
void fastpath_alloc_sync(struct allocation *a);
/* Removes all of a's entries (close), counting what they carried. */
void fastpath_alloc_clear(struct allocation *a);
/*
 * Adds what the program relayed on a's channels since the last call to
 * a's own byte counters (twistctl sessions). The totals of /metrics come
 * from the program's per-CPU counters and need no such call.
 */
void fastpath_alloc_count(struct allocation *a);

#endif
