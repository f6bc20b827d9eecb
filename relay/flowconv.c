#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/stun.h"
#include "relay/flowconv.h"

static uint32_t remaining_s(uint64_t deadline_ms, uint64_t now_ms)
{
	/* Round up: a permission with 0.4 s left must not arrive already dead. */
	return deadline_ms > now_ms ? (uint32_t)((deadline_ms - now_ms + 999) / 1000) : 0;
}

void flowconv_export_identity(const struct alloc_key *k, struct flow_out *o)
{
	twist__flow__init(&o->f);
	o->f.client.data = o->client;
	o->f.client.len = flow_addr_put(&k->client, o->client);
	o->f.local.data = o->local;
	o->f.local.len = flow_addr_put(&k->local, o->local);
	/* UDP is the proto3 default and costs nothing on the wire. */
	o->f.transport = k->transport == STUN_PROTO_TCP ? STUN_PROTO_TCP : 0;
}

void flowconv_export_delete(const struct alloc_key *k, struct flow_out *o)
{
	flowconv_export_identity(k, o);
	o->f.deleted = 1;
}

void flowconv_export(const struct allocation *a, uint64_t now_ms, struct flow_out *o)
{
	size_t np = 0, nc = 0;

	flowconv_export_identity(&a->flow.key, o);
	for (unsigned i = 0; i < a->n_rs; i++) {
		o->rel[i].data = o->relayed[i];
		o->rel[i].len = flow_addr_put(&a->rs[i].addr, o->relayed[i]);
	}
	o->f.n_relayed = a->n_rs;
	o->f.relayed = o->rel;
	o->f.lifetime = remaining_s(a->expires, now_ms);
	o->f.user = (char *)a->user;
	o->f.realm = (char *)""; /* the cluster's realm */
	o->f.reservation = a->reservation;
	o->f.dont_fragment = a->dont_fragment;
	for (unsigned i = 0; i < a->n_perms; i++) {
		if (a->perms[i].expires <= now_ms)
			continue;
		twist__perm__init(&o->perm[np]);
		o->perm[np].ip.data = o->permip[np];
		o->perm[np].ip.len = flow_ip_put(&a->perms[i].ip, o->permip[np]);
		o->perm[np].lifetime = remaining_s(a->perms[i].expires, now_ms);
		o->pperm[np] = &o->perm[np];
		np++;
	}
	for (unsigned i = 0; i < a->n_chans; i++) {
		const struct chan *c = &a->chans[i];

		twist__chan__init(&o->chan[nc]);
		o->chan[nc].number = c->num;
		o->chan[nc].peer.data = o->chanpeer[nc];
		o->chan[nc].peer.len = flow_addr_put(&c->peer, o->chanpeer[nc]);
		o->chan[nc].lifetime = c->cooling ? 0 : remaining_s(c->expires, now_ms);
		o->pchan[nc] = &o->chan[nc];
		nc++;
	}
	o->f.n_perms = np;
	o->f.perms = o->pperm;
	o->f.n_chans = nc;
	o->f.chans = o->pchan;
}

int flowconv_key(const Twist__Flow *f, struct alloc_key *k)
{
	memset(k, 0, sizeof(*k));
	return flow_identity(f, &k->client, &k->local, &k->transport);
}

int flowconv_apply(struct allocation *a, const Twist__Flow *f, uint64_t now_ms)
{
	size_t np = f->n_perms < ALLOC_MAX_PERMS ? f->n_perms : ALLOC_MAX_PERMS;
	size_t nc = f->n_chans < ALLOC_MAX_CHANS ? f->n_chans : ALLOC_MAX_CHANS;
	unsigned n;

	if (alloc_set_user(a, f->user) < 0 || alloc_reserve(a, (unsigned)np, (unsigned)nc) < 0)
		return -ENOMEM;
	a->expires = now_ms + (uint64_t)f->lifetime * 1000;
	a->reservation = f->reservation;
	a->dont_fragment = f->dont_fragment;
	n = 0;
	for (size_t i = 0; i < f->n_perms && n < ALLOC_MAX_PERMS; i++) {
		if (f->perms[i]->lifetime == 0 ||
		    flow_ip_get(&f->perms[i]->ip, &a->perms[n].ip) < 0)
			continue;
		a->perms[n].expires = now_ms + (uint64_t)f->perms[i]->lifetime * 1000;
		n++;
	}
	a->n_perms = (uint16_t)n;
	n = 0;
	for (size_t i = 0; i < f->n_chans && n < ALLOC_MAX_CHANS; i++) {
		const Twist__Chan *c = f->chans[i];
		struct chan *d = &a->chans[n];

		if (flow_addr_get(&c->peer, &d->peer) < 0)
			continue;
		d->num = (uint16_t)c->number;
		/* 0 = cooling down: the remaining cool-down is not sent, so it starts again. */
		d->cooling = c->lifetime == 0;
		d->expires = now_ms + (uint64_t)c->lifetime * 1000;
		n++;
	}
	a->n_chans = (uint16_t)n;
	return 0;
}
