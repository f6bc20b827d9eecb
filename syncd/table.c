#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "syncd/table.h"

#define TABLE_MIN_BUCKETS 1024

static uint32_t key_hash(const struct table *t, const struct flow_key *k)
{
	uint32_t h = tw_addr_hash(&k->client, t->seed);

	return h * 31 + tw_addr_hash(&k->local, t->seed ^ k->transport);
}

static bool key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return a->transport == b->transport && tw_addr_eq(&a->client, &b->client) &&
	       tw_addr_eq(&a->local, &b->local) && a->client.family == b->client.family;
}

int flow_key_of(const Twist__Flow *f, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	return flow_identity(f, &k->client, &k->local, &k->transport);
}

Twist__Flow *flow_dup(const Twist__Flow *f)
{
	size_t len = twist__flow__get_packed_size(f);
	uint8_t *buf = malloc(len ? len : 1);
	Twist__Flow *c;

	if (!buf)
		return NULL;
	twist__flow__pack(f, buf);
	c = flow_tuple_unpack(buf, len);
	free(buf);
	return c;
}

struct table *table_new(uint32_t seed)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = TABLE_MIN_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	TAILQ_INIT(&t->all);
	TAILQ_INIT(&t->queue);
	t->seed = seed;
	t->gen = 1;
	return t;
}

void table_free(struct table *t)
{
	struct tentry *e;

	if (!t)
		return;
	while ((e = TAILQ_FIRST(&t->all)))
		table_remove(t, e);
	free(t->buckets);
	free(t);
}

struct tentry *table_find(struct table *t, const struct flow_key *k)
{
	uint32_t h = key_hash(t, k);

	for (struct tentry *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && key_eq(&e->key, k))
			return e;
	return NULL;
}

/* Doubles the buckets; on ENOMEM the table just stays denser. */
static void table_grow(struct table *t)
{
	size_t n = t->nbuckets * 2;
	struct tentry **b = calloc(n, sizeof(*b));
	struct tentry *e;

	if (!b)
		return;
	TAILQ_FOREACH(e, &t->all, all)
	{
		e->hnext = b[e->hash & (n - 1)];
		b[e->hash & (n - 1)] = e;
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

int table_store(struct table *t, Twist__Flow *f, uint64_t now, struct tentry **out)
{
	struct flow_key k;
	struct tentry *e;

	if (flow_key_of(f, &k) < 0)
		return -EBADMSG;
	e = table_find(t, &k);
	if (!e) {
		if (!(e = calloc(1, sizeof(*e))))
			return -ENOMEM;
		e->key = k;
		e->hash = key_hash(t, &k);
		e->flags = TE_TOMB; /* counted as live below if f is */
		if (t->n >= t->nbuckets)
			table_grow(t);
		e->hnext = t->buckets[e->hash & (t->nbuckets - 1)];
		t->buckets[e->hash & (t->nbuckets - 1)] = e;
		TAILQ_INSERT_TAIL(&t->all, e, all);
		t->n++;
	} else {
		twist__flow__free_unpacked(e->flow, flow_allocator());
	}
	if ((e->flags & TE_TOMB) && !f->deleted)
		t->live++;
	else if (!(e->flags & TE_TOMB) && f->deleted)
		t->live--;
	e->flags = (uint8_t)((e->flags & ~TE_TOMB) | (f->deleted ? TE_TOMB : 0));
	e->flow = f;
	e->stored_us = now;
	e->gen = t->gen;
	if (out)
		*out = e;
	return 0;
}

void table_remove(struct table *t, struct tentry *e)
{
	struct tentry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (t->walking && t->walk == e)
		t->walk = TAILQ_NEXT(e, all);
	TAILQ_REMOVE(&t->all, e, all);
	table_dequeue(t, e);
	if (!(e->flags & TE_TOMB))
		t->live--;
	t->n--;
	twist__flow__free_unpacked(e->flow, flow_allocator());
	free(e);
}

void table_enqueue(struct table *t, struct tentry *e, uint64_t now)
{
	if (e->flags & TE_QUEUED)
		return; /* coalesced: the queued reference will carry the new state */
	e->flags |= TE_QUEUED;
	e->ticket = ++t->tickets;
	e->dirty_us = now;
	TAILQ_INSERT_TAIL(&t->queue, e, q);
	t->queued++;
}

void table_dequeue(struct table *t, struct tentry *e)
{
	if (!(e->flags & TE_QUEUED))
		return;
	e->flags &= (uint8_t)~TE_QUEUED;
	TAILQ_REMOVE(&t->queue, e, q);
	t->queued--;
}

void table_queue_clear(struct table *t)
{
	struct tentry *e;

	while ((e = TAILQ_FIRST(&t->queue))) {
		if (e->flags & TE_TOMB)
			table_remove(t, e); /* a delete nobody will send */
		else
			table_dequeue(t, e);
	}
}

struct tentry *table_queue_head(struct table *t)
{
	return TAILQ_FIRST(&t->queue);
}

/* Drops the permissions that run out within secs, ages the rest. */
static void age_perms(Twist__Flow *f, uint32_t secs)
{
	size_t w = 0;

	for (size_t i = 0; i < f->n_perms; i++) {
		Twist__Perm *p = f->perms[i];

		if (p->lifetime <= secs) {
			twist__perm__free_unpacked(p, flow_allocator());
			continue;
		}
		p->lifetime -= secs;
		f->perms[w++] = p;
	}
	f->n_perms = w;
}

/*
 * The same for channels, except that a channel at 0 is cooling down (RFC
 * 8656 §12: its number and peer are not rebound for 5 minutes). That is the
 * relay's state to report, so it stays as sent.
 */
static void age_chans(Twist__Flow *f, uint32_t secs)
{
	size_t w = 0;

	for (size_t i = 0; i < f->n_chans; i++) {
		Twist__Chan *c = f->chans[i];

		if (c->lifetime != 0 && c->lifetime <= secs) {
			twist__chan__free_unpacked(c, flow_allocator());
			continue;
		}
		if (c->lifetime != 0)
			c->lifetime -= secs;
		f->chans[w++] = c;
	}
	f->n_chans = w;
}

bool flow_age(Twist__Flow *f, uint32_t secs)
{
	/* A flow that arrived with 0 s left is as good as gone. */
	if (f->lifetime <= secs)
		return false;
	if (secs == 0)
		return true;
	f->lifetime -= secs;
	age_perms(f, secs);
	age_chans(f, secs);
	return true;
}

bool table_age(struct tentry *e, uint64_t now)
{
	uint64_t secs64 = now > e->stored_us ? (now - e->stored_us) / 1000000 : 0;
	uint32_t secs = secs64 > UINT32_MAX ? UINT32_MAX : (uint32_t)secs64;

	if (e->flags & TE_TOMB)
		return true;
	if (!flow_age(e->flow, secs))
		return false;
	e->stored_us += (uint64_t)secs * 1000000;
	return true;
}

size_t table_expire(struct table *t, uint64_t now)
{
	struct tentry *e, *next;
	size_t n = 0;

	for (e = TAILQ_FIRST(&t->all); e; e = next) {
		next = TAILQ_NEXT(e, all);
		if (!table_age(e, now)) {
			table_remove(t, e);
			n++;
		}
	}
	return n;
}

uint64_t table_gen_bump(struct table *t)
{
	return ++t->gen;
}

size_t table_sweep(struct table *t, uint64_t gen, table_cb cb, void *arg)
{
	struct tentry *e, *next;
	size_t n = 0;

	for (e = TAILQ_FIRST(&t->all); e; e = next) {
		next = TAILQ_NEXT(e, all);
		if ((e->flags & TE_TOMB) || e->gen >= gen)
			continue;
		if (cb)
			cb(arg, e);
		table_remove(t, e);
		n++;
	}
	return n;
}

void table_walk_start(struct table *t)
{
	t->walking = true;
	t->walk = TAILQ_FIRST(&t->all);
}

struct tentry *table_walk_next(struct table *t)
{
	struct tentry *e = t->walking ? t->walk : NULL;

	if (e)
		t->walk = TAILQ_NEXT(e, all);
	return e;
}

void table_walk_stop(struct table *t)
{
	t->walking = false;
	t->walk = NULL;
}
