/*
 * The cluster: this node's load report published to its siblings, theirs
 * received, and the choice of where a new Allocate goes instead
 * (ALTERNATE-SERVER, RFC 8489 §10; docs/cluster-protocol.md). The sockets
 * live on the main thread's loop; workers only ask cluster_pick(), which
 * takes the sibling table's lock, and only when they redirect.
 */
#ifndef TWIST_RELAY_CLUSTER_H
#define TWIST_RELAY_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"
#include "proto/cluster.h"
#include "relay/config.h"

struct event_base;
struct relay;
struct evbuffer;

enum redirect_reason {
	REDIRECT_HIGH_WATER,
	REDIRECT_DRAINING,
	REDIRECT_ANYCAST, /* pinned to our unicast address (relay/anycast.h) */
	REDIRECT__COUNT,
};

/* What a worker needs to write the 300. */
struct cluster_target {
	struct tw_addr alt;
	char domain[CFG_STR]; /* "" = none */
	char name[CLUSTER_NAME_MAX + 1];
};

/* A sibling as the operator sees it (twistctl status). */
struct cluster_sibling_view {
	char name[CLUSTER_NAME_MAX + 1];
	bool up, heard;
	bool eligible;   /* could take new clients now (up, not draining nor redirecting) */
	uint64_t age_ms; /* since its last good report */
	struct cluster_report last;
};

/* Starts when cluster.node is set; 0 otherwise too. -errno, logged. */
int cluster_start(struct relay *r, struct event_base *base);
void cluster_stop(struct relay *r);

/*
 * Whether this new Allocate should go elsewhere, and why. Keeps the
 * high/low water hysteresis; lock-free (atomics).
 */
bool cluster_should_redirect(struct relay *r, enum redirect_reason *why);
/*
 * The least-loaded healthy sibling that is neither draining nor
 * redirecting, has an alternate in family fam, and has not just
 * redirected client itself. 0 with *t set (and the redirect remembered
 * for the next report), or -ENOENT.
 */
int cluster_pick(struct relay *r, const struct tw_addr *client, uint8_t fam,
                 struct cluster_target *t);
/* Healthy siblings that could take this node's clients now (drain's warning). */
unsigned cluster_available(struct relay *r);

/* Snapshot for the control socket; returns how many were written. */
unsigned cluster_siblings(struct relay *r, struct cluster_sibling_view *out, unsigned max);
enum cluster_role cluster_role_now(struct relay *r);
enum cluster_sync cluster_sync_now(struct relay *r);
/* The metrics page's cluster families. */
void cluster_metrics(struct relay *r, struct evbuffer *b);

#endif
