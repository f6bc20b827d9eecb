#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay/alloc.h"
#include "common/log.h"
#include "relay/ports.h"
#include "relay/sync.h"
#include "relay/tcp.h"
#include "relay/udp.h"

struct alloc_table {
	uint32_t seed;
	size_t count, nbuckets;
	struct allocation **buckets;
	struct allocation *head; /* all allocations, for the sweep */
};

struct alloc_table *alloc_table_new(uint32_t seed)
{
	struct alloc_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->seed = seed;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	return t;
}

void alloc_table_free(struct alloc_table *t)
{
	if (!t)
		return;
	/* Quiet: a relay that stops must not delete its flows on the standby. */
	while (t->head)
		alloc_delete_quiet(t->head);
	free(t->buckets);
	free(t);
}

size_t alloc_table_count(const struct alloc_table *t)
{
	return t->count;
}

static size_t bucket_of(const struct alloc_table *t, const struct alloc_key *k)
{
	return alloc_key_hash(k, t->seed) & (t->nbuckets - 1);
}

struct allocation *alloc_find(struct worker *w, const struct alloc_key *k)
{
	struct alloc_table *t = w->allocs;
	struct allocation *a = t->buckets[bucket_of(t, k)];

	while (a && !alloc_key_eq(&a->key, k))
		a = a->hnext;
	return a;
}

static void table_grow(struct alloc_table *t)
{
	size_t n = t->nbuckets * 2;
	struct allocation **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (struct allocation *a = t->head; a; a = a->next) {
		size_t b = alloc_key_hash(&a->key, t->seed) & (n - 1);

		a->hnext = nb[b];
		nb[b] = a;
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

void alloc_insert(struct worker *w, struct allocation *a)
{
	struct alloc_table *t = w->allocs;
	size_t b = bucket_of(t, &a->key);

	a->w = w;
	a->hnext = t->buckets[b];
	t->buckets[b] = a;
	a->prev = NULL;
	a->next = t->head;
	if (t->head)
		t->head->prev = a;
	t->head = a;
	if (++t->count > t->nbuckets)
		table_grow(t);
	STAT_INC(&w->st, allocs_created);
}

static void unlink_alloc(struct alloc_table *t, struct allocation *a)
{
	struct allocation **pa = &t->buckets[bucket_of(t, &a->key)];

	while (*pa && *pa != a)
		pa = &(*pa)->hnext;
	if (*pa)
		*pa = a->hnext;
	if (a->prev)
		a->prev->next = a->next;
	else
		t->head = a->next;
	if (a->next)
		a->next->prev = a->prev;
	t->count--;
}

struct allocation *alloc_first(struct worker *w)
{
	return w->allocs->head;
}

struct allocation *alloc_next(struct allocation *a)
{
	return a->next;
}

void alloc_delete(struct allocation *a)
{
	sync_deleted(a);
	alloc_delete_quiet(a);
}

void alloc_delete_quiet(struct allocation *a)
{
	struct worker *w = a->w;
	struct relay *r = w->r;
	int64_t live_chans = 0;

	/* Queued datagrams name these sockets by fd: send them before the fds
	 * close and their numbers go to the next socket opened. */
	tx_flush(w);
	udp_forget(w, a);
	unlink_alloc(w->allocs, a);
	if (a->dirty)
		sync_deleted(a); /* unlinks it from the dirty queue */
	/* Closing takes them out of the data-plane epoll set too. */
	for (unsigned i = 0; i < a->n_rs; i++) {
		close(a->rs[i].fd);
		ports_release(r->ports, &a->rs[i].addr);
	}
	if (a->cfd >= 0)
		close(a->cfd);
	if (a->tc)
		tcp_conn_alloc_gone(a->tc);
	for (unsigned i = 0; i < a->n_chans; i++)
		live_chans += !a->chans[i].cooling;
	STAT_ADD(&w->st, permissions, -(int64_t)a->n_perms);
	STAT_ADD(&w->st, channels, -live_chans);
	registry_release(r->reg, &a->key, a->user ? a->user : "");
	free(a->perms);
	free(a->chans);
	free(a->user);
	free(a);
}

static void sweep_one(struct worker *w, struct allocation *a, uint64_t now)
{
	for (unsigned i = 0; i < a->n_perms;) {
		if (a->perms[i].expires > now) {
			i++;
			continue;
		}
		a->perms[i] = a->perms[--a->n_perms];
		STAT_ADD(&w->st, permissions, -1);
	}
	for (unsigned i = 0; i < a->n_chans;) {
		struct chan *c = &a->chans[i];

		if (!c->cooling && c->expires <= now) {
			c->cooling = true;
			STAT_ADD(&w->st, channels, -1);
		}
		if (c->cooling && c->expires + CHAN_COOLDOWN_MS <= now) {
			*c = a->chans[--a->n_chans];
			continue;
		}
		i++;
	}
}

void alloc_sweep(struct worker *w)
{
	uint64_t now = w->now_ms;
	struct allocation *a = w->allocs->head, *next;

	for (; a; a = next) {
		next = a->next;
		if (a->expires <= now) {
			char buf[TW_ADDR_STRLEN];

			log_info("allocation of %s (%s) expired",
			         tw_addr_fmt(&a->key.client, buf, sizeof(buf)), a->user);
			STAT_INC(&w->st, allocs_expired);
			alloc_delete(a);
			continue;
		}
		sweep_one(w, a, now);
	}
}

int alloc_set_user(struct allocation *a, const char *user)
{
	char *u;

	if (a->user && strcmp(a->user, user) == 0)
		return 0;
	u = strdup(user);
	if (!u)
		return -ENOMEM;
	free(a->user);
	a->user = u;
	return 0;
}

static int grow(void **arr, uint16_t *cap, size_t elem, unsigned want)
{
	unsigned n = *cap ? *cap : 1; /* most allocations keep one or two */
	void *p;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	p = reallocarray(*arr, n, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = (uint16_t)n;
	return 0;
}

int alloc_reserve(struct allocation *a, unsigned n, unsigned m)
{
	if (n > ALLOC_MAX_PERMS || m > ALLOC_MAX_CHANS)
		return -ENOSPC;
	if (grow((void **)&a->perms, &a->cap_perms, sizeof(*a->perms), n) < 0 ||
	    grow((void **)&a->chans, &a->cap_chans, sizeof(*a->chans), m) < 0)
		return -ENOMEM;
	return 0;
}

struct perm *alloc_perm_find(struct allocation *a, const struct tw_addr *peer)
{
	uint64_t now = a->w->now_ms;

	for (unsigned i = 0; i < a->n_perms; i++)
		if (a->perms[i].expires > now && tw_addr_ip_eq(&a->perms[i].ip, peer))
			return &a->perms[i];
	return NULL;
}

int alloc_perm_add(struct allocation *a, const struct tw_addr *peer)
{
	uint64_t exp = a->w->now_ms + PERM_LIFETIME_MS;

	for (unsigned i = 0; i < a->n_perms; i++) {
		if (tw_addr_ip_eq(&a->perms[i].ip, peer)) {
			a->perms[i].expires = exp;
			return 0;
		}
	}
	if (a->n_perms >= ALLOC_MAX_PERMS)
		return -ENOSPC;
	if (alloc_reserve(a, a->n_perms + 1u, a->n_chans) < 0)
		return -ENOMEM;
	a->perms[a->n_perms].ip = *peer;
	a->perms[a->n_perms].ip.port = 0;
	a->perms[a->n_perms].expires = exp;
	a->n_perms++;
	STAT_ADD(&a->w->st, permissions, 1);
	return 0;
}

struct chan *alloc_chan_by_num(struct allocation *a, uint16_t num)
{
	for (unsigned i = 0; i < a->n_chans; i++)
		if (a->chans[i].num == num)
			return &a->chans[i];
	return NULL;
}

struct chan *alloc_chan_by_peer(struct allocation *a, const struct tw_addr *peer)
{
	for (unsigned i = 0; i < a->n_chans; i++)
		if (tw_addr_eq(&a->chans[i].peer, peer))
			return &a->chans[i];
	return NULL;
}

int alloc_chan_bind(struct allocation *a, uint16_t num, const struct tw_addr *peer)
{
	struct chan *by_num = alloc_chan_by_num(a, num);
	struct chan *by_peer = alloc_chan_by_peer(a, peer);
	uint64_t exp = a->w->now_ms + CHAN_LIFETIME_MS;

	/* §12: a number and a peer are bound to each other and nothing else,
	 * also while cooling down after expiry. */
	if (by_num != by_peer)
		return -EBUSY;
	if (by_num) {
		if (by_num->cooling) {
			by_num->cooling = false;
			STAT_ADD(&a->w->st, channels, 1);
		}
		by_num->expires = exp;
		return 0;
	}
	if (a->n_chans >= ALLOC_MAX_CHANS)
		return -ENOSPC;
	if (alloc_reserve(a, a->n_perms, a->n_chans + 1u) < 0)
		return -ENOMEM;
	a->chans[a->n_chans] = (struct chan){.peer = *peer, .expires = exp, .num = num};
	a->n_chans++;
	STAT_ADD(&a->w->st, channels, 1);
	return 0;
}

struct relay_sock *alloc_relay_for(struct allocation *a, uint8_t family)
{
	for (unsigned i = 0; i < a->n_rs; i++)
		if (a->rs[i].addr.family == family)
			return &a->rs[i];
	return NULL;
}

bool alloc_bw_take(struct allocation *a, size_t len)
{
	uint64_t rate = a->w->r->cfg.bandwidth, now = a->w->now_ms, burst;

	if (rate == 0)
		return true;
	burst = rate; /* one second's worth */
	if (now > a->bw_last_ms) {
		a->bw_tokens += (now - a->bw_last_ms) * rate / 1000;
		if (a->bw_tokens > burst)
			a->bw_tokens = burst;
		a->bw_last_ms = now;
	}
	if (a->bw_tokens < len)
		return false;
	a->bw_tokens -= len;
	return true;
}
