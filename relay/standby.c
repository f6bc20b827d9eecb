#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/stun.h"
#include "relay/alloc.h"
#include "relay/flowconv.h"
#include "common/log.h"
#include "relay/ports.h"
#include "relay/standby.h"
#include "relay/trt.h"
#include "relay/trt_tuple.h"
#include "relay/turn.h"
#include "relay/twist_flow.h"

static void import_failed(struct worker *w, const struct alloc_key *k, const char *why, int err)
{
	char c[TW_ADDR_STRLEN], l[TW_ADDR_STRLEN];

	STAT_INC(&w->st, sync_import_failed);
	if (log_ratelimit(&w->log_import, w->now_ms, 1000))
		log_warn("cannot import flow %s -> %s: %s%s%s (counted; logged once a second)",
		         tw_addr_fmt(&k->client, c, sizeof(c)),
		         tw_addr_fmt(&k->local, l, sizeof(l)), why, err ? ": " : "",
		         err ? strerror(-err) : "");
}

/* Gauges follow the permissions and channels that a tuple replaces. */
static void gauges(struct allocation *a, int sign)
{
	int64_t chans = 0;

	for (unsigned i = 0; i < a->n_chans; i++)
		chans += !a->chans[i].cooling;
	STAT_ADD(&a->flow.w->st, permissions, sign * (int64_t)a->n_perms);
	STAT_ADD(&a->flow.w->st, channels, sign * chans);
}

/* Relay sockets on the replicated addresses, timers from the tuple. */
static int import_build(struct worker *w, struct allocation *a, const Twist__Flow *f,
                        const char **why)
{
	struct tw_addr bound;
	int rc;

	for (size_t i = 0; i < f->n_relayed && i < 2; i++) {
		flow_addr_get(&f->relayed[i], &bound);
		rc = ports_bind(w->r->ports, &bound);
		if (rc < 0) {
			*why = "relayed address busy";
			return rc;
		}
		alloc_relay_add(a, rc, &bound);
	}
	if ((rc = flowconv_apply(a, f, w->now_ms)) < 0) {
		*why = "memory";
		return rc;
	}
	gauges(a, +1);
	*why = "sockets";
	if ((rc = alloc_relay_watch(a, turn_relay_readable)) < 0)
		return rc;
	return 0;
}

static struct allocation *import_new(struct worker *w, const Twist__Flow *f,
                                     const struct alloc_key *k, const struct conn_ops *ops)
{
	struct allocation *a;
	const char *why;
	struct conn *c;
	int rc;

	rc = alloc_new(w, k, f->user, true, false, &a);
	if (rc < 0) {
		import_failed(w, k, "registry", rc);
		return NULL;
	}
	a->flow.importing = true;
	rc = import_build(w, a, f, &why);
	if (rc < 0)
		goto bad;
	/* Bound to and connected from the VIP before it arrives (IP_TRANSPARENT). */
	why = "no listener on that address here";
	rc = 0;
	c = ops->restore(w, a);
	if (!c)
		goto bad;
	a->conn = c;
	alloc_publish(a);
	return a;
bad:
	import_failed(w, k, why, rc);
	alloc_free(a);
	return NULL;
}

/* A TWIST flow, or the delete of one (a delete names only the 5-tuple). */
static void import_twist(struct worker *w, const Twist__Flow *f, const struct alloc_key *k)
{
	const char *why;
	int rc = twist_flow_import(w, f, &why);

	if (rc < 0)
		return import_failed(w, k, why, rc);
	STAT_INC(&w->st, sync_imported);
}

void standby_import(struct worker *w, const Twist__Flow *f)
{
	const struct conn_ops *ops;
	struct alloc_key k;
	struct allocation *a;

	if (flowconv_key(f, &k) < 0) {
		STAT_INC(&w->st, sync_import_failed);
		return;
	}
	if (trt_tuple_is_mapping(&w->r->cfg, &k)) {
		if (!w->r->trt || trt_udp_import(w->r->trt, f) < 0)
			STAT_INC(&w->st, sync_import_failed);
		else
			STAT_INC(&w->st, sync_imported);
		return;
	}
	if (f->twist || (f->deleted && twist_flow_find(w, &k)))
		return import_twist(w, f, &k);
	/* Decision 8: only transports whose state can live on the standby. */
	ops = conn_ops_for(k.transport);
	if (!ops || !ops->replicates || !ops->restore) {
		STAT_INC(&w->st, sync_tcp_skipped);
		return;
	}
	a = alloc_find(w, &k);
	if (f->deleted) {
		if (a)
			alloc_free(a);
		return;
	}
	if (!a) {
		a = import_new(w, f, &k, ops);
		if (!a)
			return;
	} else {
		/* The relayed addresses of a 5-tuple never change: only state is copied. */
		a->flow.importing = true;
		gauges(a, -1);
		if (flowconv_apply(a, f, w->now_ms) < 0)
			STAT_INC(&w->st, sync_import_failed);
		gauges(a, +1);
	}
	a->flow.importing = false;
	/* The fast path is in place before the VIP moves here (docs/fastpath.md). */
	fastpath_alloc_sync(a);
	STAT_INC(&w->st, sync_imported);
}
