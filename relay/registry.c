#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "relay/registry.h"

struct reg_entry {
	struct reg_entry *next;
	struct alloc_key key;
	unsigned worker;
};

struct reg_user {
	struct reg_user *next;
	unsigned count;
	char name[];
};

struct registry {
	pthread_mutex_t lock;
	uint32_t seed;
	unsigned max_total, user_quota;
	registry_quota_fn *quota_fn; /* a user's own quota, or NULL */
	void *quota_arg;
	size_t count, nbuckets;
	struct reg_entry **buckets;
	/* users are few next to flows: a fixed bucket array is enough */
	struct reg_user *users[1024];
};

bool alloc_key_eq(const struct alloc_key *a, const struct alloc_key *b)
{
	return a->transport == b->transport && tw_addr_eq(&a->client, &b->client) &&
	       tw_addr_eq(&a->local, &b->local);
}

uint32_t alloc_key_hash(const struct alloc_key *k, uint32_t seed)
{
	uint32_t h = tw_addr_hash(&k->client, seed ^ k->transport);

	return h ^ (tw_addr_hash(&k->local, seed) * 0x9e3779b1u);
}

static uint32_t name_hash(const char *s, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

struct registry *registry_new(unsigned max_total, unsigned user_quota, uint32_t seed)
{
	struct registry *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->nbuckets = 4096;
	g->buckets = calloc(g->nbuckets, sizeof(*g->buckets));
	if (!g->buckets) {
		free(g);
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->seed = seed;
	g->max_total = max_total;
	g->user_quota = user_quota;
	return g;
}

void registry_free(struct registry *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nbuckets; i++) {
		struct reg_entry *e = g->buckets[i], *n;

		for (; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	for (size_t i = 0; i < 1024; i++) {
		struct reg_user *u = g->users[i], *n;

		for (; u; u = n) {
			n = u->next;
			free(u);
		}
	}
	pthread_mutex_destroy(&g->lock);
	free(g->buckets);
	free(g);
}

void registry_set_limits(struct registry *g, unsigned max_total, unsigned user_quota)
{
	pthread_mutex_lock(&g->lock);
	g->max_total = max_total;
	g->user_quota = user_quota;
	pthread_mutex_unlock(&g->lock);
}

void registry_set_quota_fn(struct registry *g, registry_quota_fn *fn, void *arg)
{
	pthread_mutex_lock(&g->lock);
	g->quota_fn = fn;
	g->quota_arg = arg;
	pthread_mutex_unlock(&g->lock);
}

/* Lock held; the quota function takes only its own (auth's) read lock. */
static unsigned quota_of(struct registry *g, const char *user)
{
	unsigned q = g->user_quota;

	if (g->quota_fn)
		g->quota_fn(g->quota_arg, user, &q);
	return q;
}

static void grow(struct registry *g)
{
	size_t n = g->nbuckets * 2;
	struct reg_entry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* keep the old table: longer chains, still correct */
	for (size_t i = 0; i < g->nbuckets; i++) {
		struct reg_entry *e = g->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			size_t b = alloc_key_hash(&e->key, g->seed) & (n - 1);

			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(g->buckets);
	g->buckets = nb;
	g->nbuckets = n;
}

static struct reg_user **user_slot(struct registry *g, const char *user)
{
	struct reg_user **pu = &g->users[name_hash(user, g->seed) & 1023];

	while (*pu && strcmp((*pu)->name, user) != 0)
		pu = &(*pu)->next;
	return pu;
}

/*
 * The user's entry, created on first use; NULL with *rc set when over the
 * quota (-EDQUOT) or out of memory. Called with the lock held.
 */
static struct reg_user *user_get(struct registry *g, const char *user, bool enforce, int *rc)
{
	struct reg_user **pu = user_slot(g, user), *u = *pu;
	size_t len;

	if (u) {
		unsigned q = enforce ? quota_of(g, user) : 0;

		if (q && u->count >= q) {
			*rc = -EDQUOT;
			return NULL;
		}
		return u;
	}
	len = strlen(user) + 1;
	u = calloc(1, sizeof(*u) + len);
	if (!u) {
		*rc = -ENOMEM;
		return NULL;
	}
	memcpy(u->name, user, len);
	*pu = u;
	return u;
}

/* Drops one of the user's counts; the entry goes with the last. Lock held. */
static void user_put(struct registry *g, const char *user)
{
	struct reg_user **pu = user_slot(g, user), *u = *pu;

	if (u && u->count > 0 && --u->count == 0) {
		*pu = u->next;
		free(u);
	}
}

int registry_claim(struct registry *g, const struct alloc_key *k, const char *user, unsigned worker,
                   bool enforce, unsigned *owner)
{
	struct reg_entry *e;
	struct reg_user *u;
	size_t b;
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	b = alloc_key_hash(k, g->seed) & (g->nbuckets - 1);
	for (e = g->buckets[b]; e; e = e->next) {
		if (alloc_key_eq(&e->key, k)) {
			*owner = e->worker;
			rc = -EEXIST;
			goto done;
		}
	}
	if (enforce && g->max_total && g->count >= g->max_total) {
		rc = -ENOSPC;
		goto done;
	}
	/* the entry first, so that a failure leaves no user entry at count 0 */
	e = calloc(1, sizeof(*e));
	if (!e) {
		rc = -ENOMEM;
		goto done;
	}
	u = user_get(g, user, enforce, &rc);
	if (!u) {
		free(e);
		goto done;
	}
	e->key = *k;
	e->worker = worker;
	e->next = g->buckets[b];
	g->buckets[b] = e;
	u->count++;
	if (++g->count > g->nbuckets)
		grow(g);
done:
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void registry_release(struct registry *g, const struct alloc_key *k, const char *user)
{
	struct reg_entry **pe, *e;

	pthread_mutex_lock(&g->lock);
	pe = &g->buckets[alloc_key_hash(k, g->seed) & (g->nbuckets - 1)];
	for (; (e = *pe) != NULL; pe = &e->next) {
		if (alloc_key_eq(&e->key, k)) {
			*pe = e->next;
			free(e);
			g->count--;
			user_put(g, user);
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
}

int registry_hold(struct registry *g, const char *user)
{
	struct reg_user *u;
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	u = user_get(g, user, true, &rc);
	if (u)
		u->count++;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void registry_unhold(struct registry *g, const char *user)
{
	pthread_mutex_lock(&g->lock);
	user_put(g, user);
	pthread_mutex_unlock(&g->lock);
}

size_t registry_count(struct registry *g)
{
	size_t n;

	pthread_mutex_lock(&g->lock);
	n = g->count;
	pthread_mutex_unlock(&g->lock);
	return n;
}
