/*
 * A record is one 64-bit word: an 18-bit tag from the keyed hash (the set
 * index takes other bits, so with 2^15 slots 31 bits tell sources apart),
 * the failure count (6 bits, saturating), and the time of the last failure
 * in milliseconds modulo 2^40. Word 0 is an empty slot: a live record has
 * at least one failure.
 *
 * Clocks: each worker reads its own, so a caller may lag the one that
 * wrote a record. A time up to 2^39 ms ahead of now counts as now (age 0).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "relay/guard.h"

#define WAYS       4
#define TIME_BITS  40
#define TIME_MASK  ((1ull << TIME_BITS) - 1)
#define FAIL_BITS  6
#define FAIL_MAX   ((1u << FAIL_BITS) - 1)
#define TAG_SHIFT  (TIME_BITS + FAIL_BITS)
#define CAS_TRIES  64
#define SLOTS_MIN  WAYS
#define SLOTS_MAX  (1u << 24)
#define FORGET_MAX (1ull << (TIME_BITS - 1))

struct table {
	uint64_t *w;
	uint32_t mask; /* of the set index, in slots; a multiple of WAYS */
};

struct guard {
	struct guard_params p;
	struct table src, user;
	uint8_t user_key[SIPHASH_KEY_LEN]; /* another key: names and addresses never meet */
	struct guard_stats st;             /* counters only; atomic adds */
};

static unsigned clampu(unsigned v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int table_init(struct table *t, unsigned slots)
{
	t->w = calloc(slots, sizeof(*t->w));
	t->mask = slots - WAYS;
	return t->w ? 0 : -1;
}

struct guard *guard_new(const struct guard_params *gp)
{
	struct guard *g = calloc(1, sizeof(*g));
	unsigned n = SLOTS_MIN;

	if (!g)
		return NULL;
	g->p = *gp;
	while (n < clampu(gp->slots, SLOTS_MIN, SLOTS_MAX))
		n *= 2;
	g->p.slots = n;
	g->p.src_free = clampu(gp->src_free, 1, FAIL_MAX);
	g->p.user_free = clampu(gp->user_free, 1, FAIL_MAX);
	/* A source that retries as soon as it may must keep its count. */
	if (g->p.forget_ms / 2 < g->p.cap_ms)
		g->p.forget_ms = g->p.cap_ms > UINT32_MAX / 2 ? UINT32_MAX : 2 * g->p.cap_ms;
	memcpy(g->user_key, gp->key, sizeof(g->user_key));
	g->user_key[0] ^= 0x55;
	if (table_init(&g->src, n) < 0 || table_init(&g->user, n) < 0) {
		guard_free(g);
		return NULL;
	}
	return g;
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	free(g->src.w);
	free(g->user.w);
	free(g);
}

size_t guard_mem(const struct guard *g)
{
	return sizeof(*g) + 2 * (size_t)g->p.slots * sizeof(uint64_t);
}

static unsigned w_fails(uint64_t w)
{
	return (unsigned)(w >> TIME_BITS) & FAIL_MAX;
}

static uint32_t w_tag(uint64_t w)
{
	return (uint32_t)(w >> TAG_SHIFT);
}

/* Milliseconds since the record's last failure; 0 when it is ahead of now. */
static uint64_t w_age(uint64_t w, uint64_t now_ms)
{
	uint64_t age = (now_ms - w) & TIME_MASK;

	return age >= FORGET_MAX ? 0 : age;
}

static bool w_live(const struct guard *g, uint64_t w, uint64_t now_ms)
{
	return w != 0 && w_age(w, now_ms) < g->p.forget_ms;
}

static uint64_t w_pack(uint32_t tag, unsigned fails, uint64_t t_ms)
{
	return (uint64_t)tag << TAG_SHIFT | (uint64_t)fails << TIME_BITS | (t_ms & TIME_MASK);
}

/* base * 2^(fails - free), capped; 0 below free failures. */
static uint64_t backoff_ms(const struct guard *g, unsigned fails, unsigned free_fails)
{
	unsigned shift;

	if (fails < free_fails)
		return 0;
	shift = fails - free_fails;
	if (shift >= 32 || ((uint64_t)g->p.base_ms << shift) > g->p.cap_ms)
		return g->p.cap_ms;
	return (uint64_t)g->p.base_ms << shift;
}

static bool blocked(const struct guard *g, uint64_t w, unsigned free_fails, uint64_t now_ms)
{
	return w_live(g, w, now_ms) && w_age(w, now_ms) < backoff_ms(g, w_fails(w), free_fails);
}

/* The set for hash h, and the tag that tells records in it apart. */
static uint64_t *set_of(const struct table *t, uint64_t h, uint32_t *tag)
{
	*tag = (uint32_t)(h >> TAG_SHIFT);
	return &t->w[h & t->mask];
}

/* The live word for tag in set s (0 if none), and its way in *way (-1 if none). */
static uint64_t find(const struct guard *g, uint64_t *s, uint32_t tag, uint64_t now_ms, int *way)
{
	for (int i = 0; i < WAYS; i++) {
		uint64_t w = __atomic_load_n(&s[i], __ATOMIC_RELAXED);

		if (w_live(g, w, now_ms) && w_tag(w) == tag) {
			*way = i;
			return w;
		}
	}
	*way = -1;
	return 0;
}

/* The way to take for a new record: a free one, else the least failed (then the oldest). */
static int victim(const struct guard *g, uint64_t *s, uint64_t now_ms, uint64_t *old)
{
	int best = 0;

	for (int i = 0; i < WAYS; i++) {
		uint64_t w = __atomic_load_n(&s[i], __ATOMIC_RELAXED);

		if (!w_live(g, w, now_ms)) {
			*old = w;
			return i;
		}
		if (i == 0 || w_fails(w) < w_fails(*old) ||
		    (w_fails(w) == w_fails(*old) && w_age(w, now_ms) > w_age(*old, now_ms))) {
			best = i;
			*old = w;
		}
	}
	return best;
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* One more failure for hash h; a lost race re-reads the set and tries again. */
static void record_fail(struct guard *g, struct table *t, uint64_t h, uint64_t now_ms)
{
	uint32_t tag;
	uint64_t *s = set_of(t, h, &tag), old, next;
	bool evict;
	int way;

	for (unsigned i = 0; i < CAS_TRIES; i++) {
		old = find(g, s, tag, now_ms, &way);
		evict = false;
		if (way >= 0) {
			unsigned n = w_fails(old) < FAIL_MAX ? w_fails(old) + 1 : FAIL_MAX;
			/* a lagging caller does not move the last failure back */
			uint64_t t_ms = w_age(old, now_ms) == 0 ? old : now_ms;

			next = w_pack(tag, n, t_ms);
		} else {
			way = victim(g, s, now_ms, &old);
			evict = w_live(g, old, now_ms);
			next = w_pack(tag, 1, now_ms);
		}
		if (__atomic_compare_exchange_n(&s[way], &old, next, false, __ATOMIC_RELAXED,
		                                __ATOMIC_RELAXED)) {
			if (evict)
				count(&g->st.evicted);
			return;
		}
	}
	count(&g->st.contended);
}

static uint64_t src_hash(const struct guard *g, const struct tw_addr *src)
{
	uint8_t k[1 + sizeof(src->ip)];
	/* An IPv6 client is its /64: whoever holds one holds them all. */
	size_t n = src->family == TW_AF_INET6 ? 8 : tw_addr_iplen(src);

	k[0] = src->family;
	memcpy(k + 1, src->ip, n);
	return siphash(g->p.key, k, 1 + n);
}

static uint64_t user_hash(const struct guard *g, const char *user)
{
	return siphash(g->user_key, user, strlen(user));
}

enum guard_verdict guard_check(struct guard *g, const struct tw_addr *src, const char *user,
                               uint64_t now_ms)
{
	uint32_t tag;
	uint64_t *s = set_of(&g->src, src_hash(g, src), &tag), w;
	int way;

	w = find(g, s, tag, now_ms, &way);
	if (way < 0)
		return GUARD_CHECK; /* the normal path: no failures, nothing written */
	if (blocked(g, w, g->p.src_free, now_ms)) {
		count(&g->st.refused_source);
		return GUARD_REFUSE_SOURCE;
	}
	if (!user)
		return GUARD_CHECK;
	s = set_of(&g->user, user_hash(g, user), &tag);
	w = find(g, s, tag, now_ms, &way);
	if (way >= 0 && blocked(g, w, g->p.user_free, now_ms)) {
		count(&g->st.refused_user);
		return GUARD_REFUSE_USER;
	}
	return GUARD_CHECK;
}

void guard_failed(struct guard *g, const struct tw_addr *src, const char *user, uint64_t now_ms)
{
	count(&g->st.failures);
	record_fail(g, &g->src, src_hash(g, src), now_ms);
	if (user)
		record_fail(g, &g->user, user_hash(g, user), now_ms);
}

void guard_passed(struct guard *g, const struct tw_addr *src, uint64_t now_ms)
{
	uint32_t tag;
	uint64_t *s = set_of(&g->src, src_hash(g, src), &tag), w;
	int way;

	/* A lost race means the record changed: whatever it became, it stays. */
	w = find(g, s, tag, now_ms, &way);
	if (way >= 0 &&
	    __atomic_compare_exchange_n(&s[way], &w, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		count(&g->st.cleared);
}

static unsigned live_records(const struct guard *g, const struct table *t, uint64_t now_ms)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->p.slots; i++)
		n += w_live(g, __atomic_load_n(&t->w[i], __ATOMIC_RELAXED), now_ms);
	return n;
}

void guard_stats(struct guard *g, uint64_t now_ms, struct guard_stats *st)
{
	st->refused_source = __atomic_load_n(&g->st.refused_source, __ATOMIC_RELAXED);
	st->refused_user = __atomic_load_n(&g->st.refused_user, __ATOMIC_RELAXED);
	st->failures = __atomic_load_n(&g->st.failures, __ATOMIC_RELAXED);
	st->cleared = __atomic_load_n(&g->st.cleared, __ATOMIC_RELAXED);
	st->evicted = __atomic_load_n(&g->st.evicted, __ATOMIC_RELAXED);
	st->contended = __atomic_load_n(&g->st.contended, __ATOMIC_RELAXED);
	st->sources = live_records(g, &g->src, now_ms);
	st->users = live_records(g, &g->user, now_ms);
}
