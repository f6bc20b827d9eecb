/*
 * Translator mappings as flow tuples (relay/trt_tuple.h).
 */
#include <errno.h>
#include <string.h>

#include "proto/stun.h"
#include "relay/trt_tuple.h"

void trt_tuple_key(const struct config *cfg, const struct tw_addr *client, struct alloc_key *k)
{
	memset(k, 0, sizeof(*k));
	k->transport = STUN_PROTO_UDP;
	k->client = *client;
	k->local = cfg->trt_prefix.net;
	k->local.port = cfg->trt_port;
}

bool trt_tuple_is_mapping(const struct config *cfg, const struct alloc_key *k)
{
	return cfg->trt_enabled && k->transport == STUN_PROTO_UDP &&
	       tw_cidr_match(&cfg->trt_prefix, &k->local);
}

void trt_tuple_export(const struct trt_tuple *t, struct flow_out *o)
{
	flowconv_export_identity(&t->key, o);
	twist__trt__init(&o->trt);
	o->trt.source.data = o->trt_src;
	o->trt.source.len = flow_addr_put(&t->source, o->trt_src);
	for (unsigned i = 0; i < t->n_dests && i < FLOW_TRT_DESTS; i++) {
		o->trt_dsts[i].data = o->trt_dst[i];
		o->trt_dsts[i].len = flow_addr_put(&t->dests[i], o->trt_dst[i]);
	}
	o->trt.n_dests = t->n_dests < FLOW_TRT_DESTS ? t->n_dests : FLOW_TRT_DESTS;
	o->trt.dests = o->trt_dsts;
	o->f.trt = &o->trt;
	o->f.lifetime = t->idle_s; /* aged by twist-syncd like any lifetime */
}

int trt_tuple_parse(const Twist__Flow *f, struct trt_tuple *t)
{
	const Twist__Trt *m = f->trt;

	memset(t, 0, sizeof(*t));
	if (m == NULL || flowconv_key(f, &t->key) < 0 || m->n_dests > FLOW_TRT_DESTS ||
	    flow_addr_get(&m->source, &t->source) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < m->n_dests; i++)
		if (flow_addr_get(&m->dests[i], &t->dests[i]) < 0)
			return -EBADMSG;
	t->n_dests = (unsigned)m->n_dests;
	t->idle_s = f->lifetime;
	return 0;
}
