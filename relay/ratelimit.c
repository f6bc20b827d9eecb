/*
 * Token buckets in millitokens, so a rate in tokens per second refills
 * exactly rate millitokens per millisecond: integers only, nothing lost to
 * rounding. One table per worker, so no locks.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/ratelimit.h"

#define SLOTS_MAX (1u << 24)
#define MILLI     1000u

struct bucket {
	uint64_t tokens; /* millitokens */
	uint64_t last_ms;
};

struct ratelimit {
	struct bucket *b;
	uint32_t mask;
	uint32_t seed;
	uint64_t rate;    /* tokens/s == millitokens/ms */
	uint64_t burst;   /* millitokens */
	uint64_t fill_ms; /* an empty bucket is full again after this long */
};

/*
 * rate 0 means no limit, like the other zero-valued limits in the config.
 * burst 0 is taken as 1: a limiter that never answers is a config mistake.
 */
struct ratelimit *ratelimit_new(unsigned slots, unsigned rate, unsigned burst, uint32_t seed)
{
	struct ratelimit *r;
	uint32_t n = 1;

	if (slots > SLOTS_MAX)
		slots = SLOTS_MAX;
	while (n < slots)
		n *= 2;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->b = calloc(n, sizeof(*r->b));
	if (!r->b) {
		free(r);
		return NULL;
	}
	r->mask = n - 1;
	r->seed = seed;
	r->rate = rate;
	r->burst = (uint64_t)(burst ? burst : 1) * MILLI;
	r->fill_ms = rate ? r->burst / rate + 1 : 0;
	/* Start full, so the first packet of a source is never refused. */
	for (uint32_t i = 0; i < n; i++)
		r->b[i].tokens = r->burst;
	return r;
}

void ratelimit_free(struct ratelimit *r)
{
	if (!r)
		return;
	free(r->b);
	free(r);
}

bool ratelimit_take(struct ratelimit *r, const struct tw_addr *src, uint64_t now_ms)
{
	struct tw_addr key = *src;
	struct bucket *b;
	uint64_t elapsed;

	if (r->rate == 0)
		return true;
	key.port = 0;
	b = &r->b[tw_addr_hash(&key, r->seed) & r->mask];
	/* A clock that steps back refills nothing; fill_ms caps the product below. */
	elapsed = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
	if (elapsed >= r->fill_ms)
		b->tokens = r->burst;
	else if (b->tokens + elapsed * r->rate > r->burst)
		b->tokens = r->burst;
	else
		b->tokens += elapsed * r->rate;
	if (now_ms > b->last_ms)
		b->last_ms = now_ms;
	if (b->tokens < MILLI)
		return false;
	b->tokens -= MILLI;
	return true;
}
