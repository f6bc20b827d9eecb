/*
 * The ChannelData fast path (docs/fastpath.md): the TC programs of
 * bpf/fastpath.bpf.c, attached at clsact ingress of the configured
 * interfaces, and the maps that tell them which channels they may carry.
 *
 * The relay stays the authority: an entry is a copy of a channel the
 * allocation table holds, with a deadline a guard before the channel or
 * its permission expires, so the program never forwards what user space
 * would refuse. Maps are shared by all workers; each worker writes only the
 * entries of its own allocations (the map syscalls need no lock).
 */
#ifndef TWIST_RELAY_FASTPATH_H
#define TWIST_RELAY_FASTPATH_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/fastpath.h"
#include "proto/addr.h"

#define FASTPATH_MAX_IFS 8

struct fastpath;

/* One channel as both maps see it; every address of one family. */
struct fastpath_tuple {
	struct tw_addr client, listen; /* the client's 5-tuple (UDP) */
	struct tw_addr relayed, peer;
	uint16_t chan;
};

/*
 * Loads the programs and attaches them to the n interfaces. 0, or a
 * negative errno with why (a sentence for the log) filled.
 */
int fastpath_open(const char (*ifs)[16], unsigned n, struct fastpath **out, char *why,
                  size_t whylen);
/* Detaches, unloads; fastpath_close(NULL) is a no-op. */
void fastpath_close(struct fastpath *fp);

/*
 * Installs or refreshes both directions of t until deadline_ms (monotonic).
 * The channel's counters start at zero when it is new and are kept on a
 * refresh.
 */
int fastpath_set(struct fastpath *fp, const struct fastpath_tuple *t, uint64_t deadline_ms);
/*
 * Removes both directions of t and then its counters, whose last values
 * go to last (zero if none); -ENOENT if the entries were not there.
 */
int fastpath_del(struct fastpath *fp, const struct fastpath_tuple *t, struct fp_chan_ctr *last);
/* t's counters since it was installed; -ENOENT if it has none. */
int fastpath_chan_read(struct fastpath *fp, const struct fastpath_tuple *t,
                       struct fp_chan_ctr *out);

/* The program's counters summed over the CPUs (enum fp_stat). */
void fastpath_stats(struct fastpath *fp, uint64_t out[FP_ST__COUNT]);
/* Channels installed now. */
uint64_t fastpath_entries(const struct fastpath *fp);
const char *fastpath_stat_name(enum fp_stat s);

#endif
