/*
 * Which channels take the fast path (docs/fastpath.md, "What falls back"):
 * a plain UDP client (never DTLS or a stream), no bandwidth cap (the cap is
 * enforced in user space), client and peer of one family (RFC 6156
 * cross-family relaying stays in user space), a peer that is not one of
 * the relay's own addresses, a live channel and a live permission for its
 * peer. The deadline stops the program a guard before user space would
 * refuse, so the program never forwards what the relay would drop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "relay/alloc.h"
#include "relay/fastpath.h"
#include "relay/fastpath_alloc.h"
#include "relay/fastpath_deadline.h"

static bool alloc_eligible(const struct allocation *a)
{
	static const uint8_t zero[16];
	const struct tw_addr *l = &a->flow.key.local;

	return a->flow.w->r->fp && !a->flow.closed && a->conn && a->conn->ops->fastpath &&
	       !a->tcp && a->bw_rate == 0 && memcmp(l->ip, zero, sizeof(zero)) != 0;
}

static const struct perm *perm_of(const struct allocation *a, const struct tw_addr *peer)
{
	for (unsigned i = 0; i < a->n_perms; i++)
		if (tw_addr_ip_eq(&a->perms[i].ip, peer))
			return &a->perms[i];
	return NULL;
}

/* 0 if c stays in user space; else the deadline in monotonic ms. */
static uint64_t chan_deadline(struct allocation *a, const struct chan *c, struct fastpath_tuple *t)
{
	const struct relay_sock *rs;
	const struct perm *p;
	uint64_t d, now = a->flow.w->now_ms;

	if (c->cooling || !chan_live(c, now) || c->peer.family != a->flow.key.client.family)
		return 0;
	if (relay_is_relay_ip(a->flow.w->r, &c->peer))
		return 0;
	rs = alloc_relay_for(a, c->peer.family);
	p = perm_of(a, &c->peer);
	if (!rs || !p)
		return 0;
	d = fastpath_deadline(now, c->expires, p->expires, a->expires);
	if (!d)
		return 0;
	*t = (struct fastpath_tuple){.client = a->flow.key.client,
	                             .listen = a->flow.key.local,
	                             .relayed = rs->addr,
	                             .peer = c->peer,
	                             .chan = c->num};
	return d;
}

static void inst_tuple(const struct allocation *a, const struct fp_inst *in,
                       struct fastpath_tuple *t)
{
	const struct relay_sock *rs = NULL;

	for (unsigned i = 0; i < a->n_rs; i++)
		if (a->rs[i].addr.family == in->peer.family)
			rs = &a->rs[i];
	*t = (struct fastpath_tuple){.client = a->flow.key.client,
	                             .listen = a->flow.key.local,
	                             .relayed = rs ? rs->addr : in->peer,
	                             .peer = in->peer,
	                             .chan = in->num};
}

/* Adds what in's channel carried since the last look to a's counters. */
static void inst_account(struct allocation *a, struct fp_inst *in, const struct fp_chan_ctr *now)
{
	/* The counters only grow while the entry lives; it is created and
	 * deleted only here, so a smaller figure never comes. */
	if (now->c2p_bytes > in->seen.c2p_bytes)
		a->bytes_to_peer += now->c2p_bytes - in->seen.c2p_bytes;
	if (now->p2c_bytes > in->seen.p2c_bytes)
		a->bytes_to_client += now->p2c_bytes - in->seen.p2c_bytes;
	in->seen = *now;
}

static void inst_remove(struct allocation *a, unsigned i)
{
	struct fastpath_tuple t;
	struct fp_chan_ctr last;

	inst_tuple(a, &a->fp[i], &t);
	fastpath_del(a->flow.w->r->fp, &t, &last);
	inst_account(a, &a->fp[i], &last);
	a->fp[i] = a->fp[--a->n_fp];
}

void fastpath_alloc_count(struct allocation *a)
{
	struct fastpath *fp = a->flow.w->r->fp;
	struct fastpath_tuple t;
	struct fp_chan_ctr now;

	if (!fp)
		return;
	for (unsigned i = 0; i < a->n_fp; i++) {
		inst_tuple(a, &a->fp[i], &t);
		if (fastpath_chan_read(fp, &t, &now) == 0)
			inst_account(a, &a->fp[i], &now);
	}
}

static bool inst_wanted(struct allocation *a, const struct fp_inst *in)
{
	struct chan *c = alloc_chan_by_num(a, in->num);
	struct fastpath_tuple t;

	return c && tw_addr_eq(&c->peer, &in->peer) && chan_deadline(a, c, &t) != 0;
}

static int inst_add(struct allocation *a, const struct chan *c)
{
	struct fp_inst *n;

	for (unsigned i = 0; i < a->n_fp; i++)
		if (a->fp[i].num == c->num)
			return 0;
	if (a->n_fp == a->cap_fp) {
		unsigned cap = a->cap_fp ? a->cap_fp * 2u : 2u;

		n = reallocarray(a->fp, cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		a->fp = n;
		a->cap_fp = (uint8_t)cap;
	}
	/* Its counters start at zero with its entries (fastpath_set). */
	a->fp[a->n_fp++] = (struct fp_inst){.peer = c->peer, .num = c->num};
	return 0;
}

void fastpath_alloc_sync(struct allocation *a)
{
	struct fastpath *fp = a->flow.w->r->fp;
	struct fastpath_tuple t;
	uint64_t d;

	if (!alloc_eligible(a))
		return fastpath_alloc_clear(a);
	fastpath_alloc_count(a);
	for (unsigned i = 0; i < a->n_fp;) {
		if (inst_wanted(a, &a->fp[i]))
			i++;
		else
			inst_remove(a, i);
	}
	for (unsigned i = 0; i < a->n_chans; i++) {
		if (!(d = chan_deadline(a, &a->chans[i], &t)))
			continue;
		/* Remembered first: an entry is never in the maps unrecorded. */
		if (inst_add(a, &a->chans[i]) < 0)
			continue; /* stays in user space */
		if (fastpath_set(fp, &t, d) < 0) {
			if (log_ratelimit(&a->flow.w->log_fastpath, a->flow.w->now_ms, 10000))
				log_warn("fastpath: a map is full or failing; channels stay in "
				         "user space (logged once per 10 s)");
		}
	}
}

void fastpath_alloc_clear(struct allocation *a)
{
	if (!a->flow.w->r->fp) {
		a->n_fp = 0;
		return;
	}
	while (a->n_fp)
		inst_remove(a, a->n_fp - 1u);
}
