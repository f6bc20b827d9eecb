/*
 * Token buckets keyed by source IP, for unauthenticated responses (401s).
 * One table for the whole process, shared by every worker without a lock:
 * each bucket is one 64-bit word updated by compare-and-swap, so the rate
 * holds per source whatever the number of workers. A fixed number of
 * slots, found by a keyed hash; a collision shares a bucket, which errs
 * towards limiting, never towards allocating memory for an attacker.
 */
#ifndef TWIST_RELAY_RATELIMIT_H
#define TWIST_RELAY_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/addr.h"

#define RATELIMIT_MAX 1000000u /* rate and burst above are taken as this (auth.unauth_*) */

struct ratelimit;

/*
 * rate: tokens per second; burst: bucket size; slots rounded up to a power
 * of 2. The hash key is drawn from getrandom() and mixed with seed.
 */
struct ratelimit *ratelimit_new(unsigned slots, unsigned rate, unsigned burst, uint32_t seed);
void ratelimit_free(struct ratelimit *r);
/*
 * Takes one token for the source's IP (port ignored); false when empty.
 * Thread-safe. now_ms is a monotonic clock; callers' clocks may lag each
 * other (each worker reads its own), and a lagging clock only limits more.
 */
bool ratelimit_take(struct ratelimit *r, const struct tw_addr *src, uint64_t now_ms);
/* Whether a token is there now, without taking it (a cheap check before crypto). */
bool ratelimit_ok(struct ratelimit *r, const struct tw_addr *src, uint64_t now_ms);

#endif
