/*
 * Which server new and reopened flows use (draft §12): the --server list
 * in order, a server learned from an ALTERNATE-SERVER in front of it, and
 * a back-off for those that failed. Pure state: no I/O, the caller's clock.
 */
#ifndef TWIST_CLIENT_TC_SRV_H
#define TWIST_CLIENT_TC_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

#define TC_MAX_SERVERS     8
#define TC_SRV_BACKOFF0    1000 /* the first failure's back-off (ms) */
#define TC_SRV_BACKOFF_MAX 64000

struct tc_srv {
	struct tw_addr addr;
	unsigned fails;    /* failures in a row */
	uint64_t retry_ms; /* not chosen again before this, while others are usable */
};

struct tc_srvsel {
	struct tc_srv list[TC_MAX_SERVERS];
	size_t n;
	size_t home;        /* the list entry in use, or the one a 300 led away from */
	struct tw_addr cur; /* where new flows go */
	bool learned;       /* cur came from a 300 */
	bool has_prev;      /* prev: the server before the last followed 300 */
	bool prev_learned;
	struct tw_addr prev;
};

/* What tc_srv_failed() did. */
enum tc_srv_move {
	TC_SRV_STALE,    /* that server was no longer the current one: nothing */
	TC_SRV_SAME,     /* no other server to go to: cur unchanged */
	TC_SRV_PREVIOUS, /* the learned server failed: back to the one before the 300 */
	TC_SRV_NEXT,     /* the next usable entry of the list */
};

void tc_srv_init(struct tc_srvsel *s, const struct tw_addr *addrs, size_t n);
/* Start on list entry i (the first that answered the start-up probe). */
void tc_srv_start(struct tc_srvsel *s, size_t i);
/* A followed 300: alt becomes current, the current one is remembered. */
void tc_srv_redirect(struct tc_srvsel *s, const struct tw_addr *alt);
/* Server a did not answer (or its socket failed) at now: choose another. */
enum tc_srv_move tc_srv_failed(struct tc_srvsel *s, const struct tw_addr *a, uint64_t now);
/* Server a answered an Allocate: its back-off ends. */
void tc_srv_ok(struct tc_srvsel *s, const struct tw_addr *a);
const char *tc_srv_move_name(enum tc_srv_move m);

#endif
