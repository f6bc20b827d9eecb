/*
 * Failed-authentication back-off (issue 17). Pure: no sockets, no I/O, the
 * clock passed in. Failed integrity checks are counted per source (an
 * IPv4 address or an IPv6 /64) and per username; after src_free failures
 * a source is refused without checking for base_ms, doubling with each
 * further failure up to cap_ms.
 *
 * Per source first: a username's back-off (failures on it from all
 * sources, user_free before it starts) refuses only sources that have
 * failures of their own, so guessing someone's username from elsewhere
 * never locks out a client that has not failed.
 *
 * Bounded memory: two fixed tables of 64-bit words, 4-way sets indexed by
 * a keyed hash; a full set evicts its least-failed record. Thread-safe
 * without locks: words change by compare-and-swap, and the normal path (a
 * source with no failures that authenticates) only reads.
 */
#ifndef TWIST_RELAY_GUARD_H
#define TWIST_RELAY_GUARD_H

#include <stdint.h>

#include "proto/addr.h"
#include "relay/siphash.h"

struct guard;

struct guard_params {
	unsigned slots;     /* per table (sources, usernames), rounded up to a power of 2 */
	unsigned src_free;  /* failures from a source before it backs off, 1..63 */
	unsigned user_free; /* failures on a username before it backs off, 1..63 */
	uint32_t base_ms;   /* the first back-off */
	uint32_t cap_ms;    /* the longest */
	uint32_t forget_ms; /* a record this long without a failure is gone; >= 2 * cap_ms */
	uint8_t key[SIPHASH_KEY_LEN]; /* for the hash: random, from the caller */
};

#define GUARD_PARAMS_DEFAULT                                                       \
	{                                                                          \
		.slots = 1u << 15, .src_free = 5, .user_free = 20, .base_ms = 250, \
		.cap_ms = 60000, .forget_ms = 600000                               \
	}

enum guard_verdict {
	GUARD_CHECK,         /* go on: check the integrity */
	GUARD_REFUSE_SOURCE, /* refuse without checking: this source is backed off */
	GUARD_REFUSE_USER,   /* refuse without checking: a failing source, a guessed username */
};

struct guard_stats {
	uint64_t refused_source, refused_user; /* refused without checking */
	uint64_t failures;                     /* guard_failed calls */
	uint64_t cleared;                      /* records a success reset */
	uint64_t evicted;                      /* live records pushed out by a full set */
	uint64_t contended;                    /* updates given up after many lost races */
	unsigned sources, users;               /* live records (a scan: for metrics only) */
};

struct guard *guard_new(const struct guard_params *gp);
void guard_free(struct guard *g);

/* Before the HMAC: may src (authenticating as user, NUL-terminated; NULL = unknown) be checked? */
enum guard_verdict guard_check(struct guard *g, const struct tw_addr *src, const char *user,
                               uint64_t now_ms);
/* The integrity check failed. user NULL counts the source only. */
void guard_failed(struct guard *g, const struct tw_addr *src, const char *user, uint64_t now_ms);
/* The integrity check passed: the source's count starts again. */
void guard_passed(struct guard *g, const struct tw_addr *src, uint64_t now_ms);

void guard_stats(struct guard *g, uint64_t now_ms, struct guard_stats *st);
size_t guard_mem(const struct guard *g); /* bytes held, fixed at guard_new */

#endif
