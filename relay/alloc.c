#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "relay/alloc.h"
#include "relay/tcp_relay.h"
#include "relay/auth.h"
#include "relay/flowconv.h"
#include "common/log.h"
#include "relay/ports.h"

struct alloc_table {
	uint32_t seed;
	size_t count, nbuckets;
	struct allocation **buckets;
};

static const struct flow_ops alloc_flow_ops;

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

/* The worker frees its flows first (worker_free). */
void alloc_table_free(struct alloc_table *t)
{
	if (!t)
		return;
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

	while (a && !alloc_key_eq(&a->flow.key, k))
		a = a->hnext;
	return a;
}

static void table_grow(struct alloc_table *t)
{
	size_t n = t->nbuckets * 2;
	struct allocation **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct allocation *a = t->buckets[b], *next;

		for (; a; a = next) {
			size_t nbk = alloc_key_hash(&a->flow.key, t->seed) & (n - 1);

			next = a->hnext;
			a->hnext = nb[nbk];
			nb[nbk] = a;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

static void table_unlink(struct alloc_table *t, struct allocation *a)
{
	struct allocation **pa = &t->buckets[bucket_of(t, &a->flow.key)];

	while (*pa && *pa != a)
		pa = &(*pa)->hnext;
	if (*pa)
		*pa = a->hnext;
	t->count--;
}

int alloc_new(struct worker *w, const struct alloc_key *k, const char *user, bool replicates,
              bool enforce_quota, struct allocation **out)
{
	struct allocation *a = calloc(1, sizeof(*a));
	unsigned owner;
	int rc;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	flow_init(&a->flow, &alloc_flow_ops, w, k, replicates);
	for (unsigned i = 0; i < 2; i++)
		a->rs[i].h.fd = -1;
	if (alloc_set_user(a, user) < 0) {
		rc = -ENOMEM;
		goto bad;
	}
	a->bw_rate = w->r->cfg.bandwidth;
	a->created_ms = w->now_ms;
	if (w->r->auth) {
		uint32_t quota = 0;

		auth_user_limits(w->r->auth, user, &quota, &a->bw_rate);
	}
	rc = registry_claim(w->r->reg, k, user, w->id, enforce_quota, &owner);
	if (rc < 0)
		goto bad;
	a->claimed = true;
	*out = a;
	return 0;
bad:
	alloc_free(a);
	return rc;
}

void alloc_relay_add(struct allocation *a, int fd, const struct tw_addr *addr)
{
	struct relay_sock *rs = &a->rs[a->n_rs++];

	rs->h.fd = fd;
	rs->addr = *addr;
	rs->a = a;
}

static int set_df(const struct relay_sock *rs)
{
	int v = IP_PMTUDISC_DO, on = 1, rc;

	if (rs->addr.family == TW_AF_INET)
		rc = setsockopt(rs->h.fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	else
		rc = setsockopt(rs->h.fd, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof(on));
	return rc < 0 ? -EOPNOTSUPP : 0;
}

int alloc_relay_watch(struct allocation *a, dp_readable_fn fn)
{
	int rc;

	for (unsigned i = 0; i < a->n_rs; i++) {
		struct relay_sock *rs = &a->rs[i];

		/* DONT-FRAGMENT (RFC 8656 §14.8): DF on everything sent to peers. */
		if (a->dont_fragment && (rc = set_df(rs)) < 0)
			return rc;
		rs->h.readable = fn;
		if ((rc = dp_watch(a->flow.w, &rs->h)) < 0)
			return rc;
	}
	return 0;
}

int alloc_attach(struct allocation *a, struct conn *c)
{
	a->conn = c->ops->attach(c, a);
	return a->conn ? 0 : -ENOMEM;
}

void alloc_publish(struct allocation *a)
{
	struct worker *w = a->flow.w;
	struct alloc_table *t = w->allocs;
	size_t b = bucket_of(t, &a->flow.key);

	a->hnext = t->buckets[b];
	t->buckets[b] = a;
	a->in_table = true;
	if (++t->count > t->nbuckets)
		table_grow(t);
	STAT_INC(&w->st, allocs_created);
	flow_publish(&a->flow);
}

void alloc_delete(struct allocation *a)
{
	if (a)
		flow_delete(&a->flow);
}

void alloc_free(struct allocation *a)
{
	if (a)
		flow_free(&a->flow);
}

/* One teardown for every path: whatever a half-built allocation holds. */
static void alloc_close(struct flow *f)
{
	struct allocation *a = (struct allocation *)f;
	struct worker *w = f->w;
	struct relay *r = w->r;
	int64_t live_chans = 0;

	if (a->in_table) {
		table_unlink(w->allocs, a);
		a->in_table = false;
	}
	tcp_relay_close_all(a);
	for (unsigned i = 0; i < a->n_rs; i++) {
		if (a->rs[i].h.fd < 0)
			continue;
		dp_close(w, &a->rs[i].h);
		ports_release(r->ports, &a->rs[i].addr);
	}
	fastpath_alloc_clear(a);
	if (a->conn) {
		a->conn->ops->detach(a->conn);
		/* A connection a does not own (TCP) may be gone by worker_reap. */
		if (!a->conn->ops->release)
			a->conn = NULL;
	}
	for (unsigned i = 0; i < a->n_chans; i++)
		live_chans += !a->chans[i].cooling;
	STAT_ADD(&w->st, permissions, -(int64_t)a->n_perms);
	STAT_ADD(&w->st, channels, -live_chans);
	if (a->claimed)
		registry_release(r->reg, &f->key, a->user ? a->user : "");
	a->claimed = false;
}

static void alloc_destroy(struct flow *f)
{
	struct allocation *a = (struct allocation *)f;

	if (a->conn)
		a->conn->ops->release(a->conn);
	free(a->perms);
	free(a->chans);
	free(a->fp);
	free(a->user);
	free(a);
}

/* true if a permission or channel ran out. */
static bool sweep_one(struct worker *w, struct allocation *a, uint64_t now)
{
	bool changed = false;

	for (unsigned i = 0; i < a->n_perms;) {
		if (a->perms[i].expires > now) {
			i++;
			continue;
		}
		a->perms[i] = a->perms[--a->n_perms];
		STAT_ADD(&w->st, permissions, -1);
		changed = true;
	}
	for (unsigned i = 0; i < a->n_chans;) {
		struct chan *c = &a->chans[i];

		if (!c->cooling && c->expires <= now) {
			c->cooling = true;
			STAT_ADD(&w->st, channels, -1);
			changed = true;
		}
		if (c->cooling && c->expires + CHAN_COOLDOWN_MS <= now) {
			*c = a->chans[--a->n_chans];
			continue;
		}
		i++;
	}
	return changed;
}

static void alloc_sweep(struct flow *f, uint64_t now)
{
	struct allocation *a = (struct allocation *)f;
	struct worker *w = f->w;

	if (a->expires <= now) {
		char buf[TW_ADDR_STRLEN], u[LOG_ESC_SIZE(64)];

		log_info("allocation of %s (%s) expired",
		         tw_addr_fmt(&f->key.client, buf, sizeof(buf)),
		         log_esc(a->user, strlen(a->user), u, sizeof(u)));
		STAT_INC(&w->st, allocs_expired);
		alloc_delete(a);
		return;
	}
	tcp_relay_sweep(a, now);
	/* The maps' entries stopped at their deadlines already; this frees them. */
	if (sweep_one(w, a, now))
		fastpath_alloc_sync(a);
}

static void alloc_export(const struct flow *f, uint64_t now_ms, struct flow_out *o)
{
	flowconv_export((const struct allocation *)f, now_ms, o);
}

static const struct flow_ops alloc_flow_ops = {
        .name = "turn-allocation",
        .close = alloc_close,
        .destroy = alloc_destroy,
        .sweep = alloc_sweep,
        .export = alloc_export,
};

void alloc_set_expiry(struct allocation *a, uint64_t expires_ms)
{
	a->expires = expires_ms;
	flow_changed(&a->flow);
	fastpath_alloc_sync(a);
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
	uint64_t now = a->flow.w->now_ms;

	for (unsigned i = 0; i < a->n_perms; i++)
		if (a->perms[i].expires > now && tw_addr_ip_eq(&a->perms[i].ip, peer))
			return &a->perms[i];
	return NULL;
}

int alloc_perm_add(struct allocation *a, const struct tw_addr *peer)
{
	uint64_t exp = a->flow.w->now_ms + PERM_LIFETIME_MS;

	for (unsigned i = 0; i < a->n_perms; i++) {
		if (tw_addr_ip_eq(&a->perms[i].ip, peer)) {
			a->perms[i].expires = exp;
			flow_changed(&a->flow);
			fastpath_alloc_sync(a);
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
	STAT_ADD(&a->flow.w->st, permissions, 1);
	flow_changed(&a->flow);
	fastpath_alloc_sync(a);
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
	uint64_t exp = a->flow.w->now_ms + CHAN_LIFETIME_MS;

	/* §12: a number and a peer are bound to each other and nothing else,
	 * also while cooling down after expiry. */
	if (by_num != by_peer)
		return -EBUSY;
	if (by_num) {
		if (by_num->cooling) {
			by_num->cooling = false;
			STAT_ADD(&a->flow.w->st, channels, 1);
		}
		by_num->expires = exp;
		flow_changed(&a->flow);
		fastpath_alloc_sync(a);
		return 0;
	}
	if (a->n_chans >= ALLOC_MAX_CHANS)
		return -ENOSPC;
	if (alloc_reserve(a, a->n_perms, a->n_chans + 1u) < 0)
		return -ENOMEM;
	a->chans[a->n_chans] = (struct chan){.peer = *peer, .expires = exp, .num = num};
	a->n_chans++;
	STAT_ADD(&a->flow.w->st, channels, 1);
	flow_changed(&a->flow);
	fastpath_alloc_sync(a);
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
	uint64_t rate = a->bw_rate, now = a->flow.w->now_ms, burst;

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

void alloc_each(struct worker *w, void (*fn)(struct allocation *a, void *arg), void *arg)
{
	struct alloc_table *t = w->allocs;

	for (size_t b = 0; b < t->nbuckets; b++)
		for (struct allocation *a = t->buckets[b]; a; a = a->hnext)
			fn(a, arg);
}
