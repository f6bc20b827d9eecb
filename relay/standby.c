#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/stun.h"
#include "relay/flowconv.h"
#include "common/log.h"
#include "relay/ports.h"
#include "relay/standby.h"
#include "relay/udp.h"

static struct listener *listener_for(struct worker *w, const struct tw_addr *local)
{
	for (unsigned i = 0; i < w->n_udp; i++)
		if (tw_addr_eq(&w->udp[i].addr, local))
			return &w->udp[i];
	return NULL;
}

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
	STAT_ADD(&a->w->st, permissions, sign * (int64_t)a->n_perms);
	STAT_ADD(&a->w->st, channels, sign * chans);
}

static struct allocation *import_new(struct worker *w, const Twist__Flow *f,
                                     const struct alloc_key *k)
{
	struct relay *r = w->r;
	struct allocation *a;
	unsigned owner;
	int rc;

	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->key = *k;
	a->cfd = -1;
	a->w = w;
	a->lst = listener_for(w, &k->local);
	if (!a->lst) {
		free(a);
		import_failed(w, k, "no UDP listener on that address here", 0);
		return NULL;
	}
	rc = registry_claim(r->reg, k, f->user, w->id, false, &owner);
	if (rc < 0) {
		free(a);
		import_failed(w, k, "registry", rc);
		return NULL;
	}
	for (size_t i = 0; i < f->n_relayed; i++) {
		struct relay_sock *rs = &a->rs[a->n_rs];

		flow_addr_get(&f->relayed[i], &rs->addr);
		rc = ports_bind(r->ports, &rs->addr);
		if (rc < 0) {
			import_failed(w, k, "relayed address busy", rc);
			goto bad;
		}
		rs->fd = rc;
		rs->a = a;
		a->n_rs++;
	}
	if ((rc = flowconv_apply(a, f, w->now_ms)) < 0) {
		import_failed(w, k, "memory", rc);
		goto bad;
	}
	gauges(a, +1);
	alloc_insert(w, a);
	for (unsigned i = 0; i < a->n_rs; i++)
		if ((rc = udp_relay_watch(w, &a->rs[i])) < 0)
			goto bad_inserted;
	/* Bound to and connected from the VIP before it arrives (IP_TRANSPARENT). */
	if ((rc = udp_client_open(w, a)) < 0)
		goto bad_inserted;
	return a;
bad_inserted:
	import_failed(w, k, "sockets", rc);
	alloc_delete_quiet(a);
	return NULL;
bad:
	for (unsigned i = 0; i < a->n_rs; i++) {
		close(a->rs[i].fd);
		ports_release(r->ports, &a->rs[i].addr);
	}
	registry_release(r->reg, k, f->user);
	free(a->user);
	free(a->perms);
	free(a->chans);
	free(a);
	return NULL;
}

void standby_import(struct worker *w, const Twist__Flow *f)
{
	struct alloc_key k;
	struct allocation *a;

	if (flowconv_key(f, &k) < 0) {
		STAT_INC(&w->st, sync_import_failed);
		return;
	}
	/* Decision 8: a TCP client's state lives in the failed kernel. */
	if (k.transport != STUN_PROTO_UDP) {
		STAT_INC(&w->st, sync_tcp_skipped);
		return;
	}
	a = alloc_find(w, &k);
	if (f->deleted) {
		if (a)
			alloc_delete_quiet(a);
		return;
	}
	if (!a) {
		a = import_new(w, f, &k);
		if (!a)
			return;
	} else {
		/* The relayed addresses of a 5-tuple never change: only state is copied. */
		gauges(a, -1);
		if (flowconv_apply(a, f, w->now_ms) < 0)
			STAT_INC(&w->st, sync_import_failed);
		gauges(a, +1);
	}
	a->imported = true;
	STAT_INC(&w->st, sync_imported);
}
