/*
 * Two session machines on a simulated link with a simulated clock: loss,
 * duplication, reordering, EAGAIN and cuts per direction, all
 * deterministic. Each node's relay is a recorder.
 */
#ifndef TWIST_TESTS_SYNCD_SIM_H
#define TWIST_TESTS_SYNCD_SIM_H

#include "syncd/session.h"

struct simmsg {
	struct simmsg *next;
	size_t len;
	uint8_t buf[];
};

struct simnode {
	struct sim *sim;
	int idx;
	struct table *t;
	struct sync_stats st;
	struct session *s;
	struct session_cfg cfg;
	/* what its relay was told */
	size_t imports, deletes, dump_ends;
	uint64_t tokens[4096];
	size_t n_tokens;
	int synced;
};

/* Link behaviour for messages going TO node i. */
struct simlink {
	unsigned drop_pct;  /* random loss */
	unsigned drop_next; /* drop this many, then deliver */
	bool cut;           /* drop everything */
	bool dup;           /* deliver every message twice */
	bool reorder;       /* shuffle each delivery round */
	bool eagain;        /* the sender's link says EAGAIN */
	size_t sent, dropped;
};

struct sim {
	struct simnode n[2];
	struct simlink link[2];
	struct simmsg *q[2]; /* waiting for delivery to node i */
	uint64_t now;
	uint32_t rng;
};

/* Node 0 has id 1, node 1 id 2; epochs are fixed per (node, incarnation). */
void sim_init(struct sim *sim, const struct session_cfg *base);
void sim_fini(struct sim *sim);
/* Throws node i's syncd away (table and all) and starts a fresh one: a new epoch. */
void sim_restart(struct sim *sim, int i);
void sim_set_master(struct sim *sim, int i, bool master);
/* Runs both machines for us microseconds of simulated time, in steps. */
void sim_run(struct sim *sim, uint64_t us);
/* A local change on node i (copies of flows are taken). */
void sim_local(struct sim *sim, int i, Twist__Flow **flows, size_t n, const uint64_t *tok,
               size_t ntok);
/* Flows 0..n-1 through node i's relay, in chunks. */
void sim_local_range(struct sim *sim, int i, unsigned first, unsigned n);
/* Delivers raw bytes to node i as if from the link. */
void sim_inject(struct sim *sim, int i, const uint8_t *buf, size_t len);
/* Both tables hold the same flows. */
bool sim_tables_equal(struct sim *sim);
/* A packed Sync from node from's identity (node id, epoch), for forging. */
size_t sim_pack(struct sim *sim, int from, Twist__Sync *m, uint8_t *buf, size_t cap);

#endif
