/*
 * Each bucket is a generic cell rate algorithm: one 64-bit word holds the
 * theoretical arrival time (TAT) of the next token, in units where a rate
 * of r tokens per second advances the clock r units per millisecond and a
 * token costs 1000 units. That is the millitoken bucket this file kept
 * before, exactly: tokens = (burst * 1000 - (TAT - now)) / 1000, integers
 * only, nothing lost to rounding. A take is a load, some arithmetic and
 * one compare-and-swap; a refusal writes nothing.
 *
 * Time in units is now_ms * rate modulo 2^64 and TAT is compared by signed
 * difference, so the arithmetic wraps harmlessly as long as two callers'
 * clocks differ by less than 2^63 units: 292 years at RATELIMIT_MAX.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "relay/ratelimit.h"
#include "relay/siphash.h"

#define SLOTS_MAX (1u << 24)
#define COST      1000u /* units per token: 1 token/s is 1 unit/ms */

struct ratelimit {
	uint64_t *tat; /* 0 = never used: full */
	uint32_t mask;
	uint64_t rate;  /* units per ms */
	uint64_t burst; /* units */
	uint8_t key[SIPHASH_KEY_LEN];
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
	r->tat = calloc(n, sizeof(*r->tat));
	if (!r->tat) {
		free(r);
		return NULL;
	}
	/* Without the kernel's key the seed alone keys the hash: weaker, still working. */
	if (getrandom(r->key, sizeof(r->key), 0) != (ssize_t)sizeof(r->key))
		memset(r->key, 0, sizeof(r->key));
	for (unsigned i = 0; i < 4; i++)
		r->key[i] ^= (uint8_t)(seed >> (8 * i));
	r->mask = n - 1;
	r->rate = rate < RATELIMIT_MAX ? rate : RATELIMIT_MAX;
	burst = burst ? burst : 1;
	r->burst = (uint64_t)(burst < RATELIMIT_MAX ? burst : RATELIMIT_MAX) * COST;
	return r;
}

void ratelimit_free(struct ratelimit *r)
{
	if (!r)
		return;
	free(r->tat);
	free(r);
}

static uint64_t *slot(struct ratelimit *r, const struct tw_addr *src)
{
	uint8_t k[1 + sizeof(src->ip)];
	size_t n = tw_addr_iplen(src);

	k[0] = src->family;
	memcpy(k + 1, src->ip, n);
	return &r->tat[siphash(r->key, k, 1 + n) & r->mask];
}

bool ratelimit_take(struct ratelimit *r, const struct tw_addr *src, uint64_t now_ms)
{
	uint64_t *w, old, now, start, next;

	if (r->rate == 0)
		return true;
	w = slot(r, src);
	now = now_ms * r->rate; /* wraps: only differences count */
	old = __atomic_load_n(w, __ATOMIC_RELAXED);
	do {
		/* A bucket ahead of now owes TAT - now; one behind is full. */
		start = old != 0 && (int64_t)(old - now) > 0 ? old : now;
		if (start - now + COST > r->burst)
			return false;
		next = start + COST;
		if (next == 0) /* 0 marks an unused slot; one unit late is no harm */
			next = 1;
	} while (!__atomic_compare_exchange_n(w, &old, next, true, __ATOMIC_RELAXED,
	                                      __ATOMIC_RELAXED));
	return true;
}

bool ratelimit_ok(struct ratelimit *r, const struct tw_addr *src, uint64_t now_ms)
{
	uint64_t old, now, start;

	if (r->rate == 0)
		return true;
	now = now_ms * r->rate;
	old = __atomic_load_n(slot(r, src), __ATOMIC_RELAXED);
	start = old != 0 && (int64_t)(old - now) > 0 ? old : now;
	return start - now + COST <= r->burst;
}
