/*
 * Token buckets keyed by source IP, for unauthenticated responses (401s).
 * One table per worker thread: no locks. A fixed number of slots; a
 * collision shares a bucket, which errs towards limiting, never towards
 * allocating memory for an attacker.
 */
#ifndef TWIST_RELAY_RATELIMIT_H
#define TWIST_RELAY_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/addr.h"

struct ratelimit;

/* rate: tokens per second; burst: bucket size; slots rounded up to a power of 2. */
struct ratelimit *ratelimit_new(unsigned slots, unsigned rate, unsigned burst, uint32_t seed);
void ratelimit_free(struct ratelimit *r);
/* Takes one token for the source's IP (port ignored); false when empty. */
bool ratelimit_take(struct ratelimit *r, const struct tw_addr *src, uint64_t now_ms);

#endif
