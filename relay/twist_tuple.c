/*
 * TWIST flows <-> flow tuples (proto/flow.proto's Twist; docs/ha.md "TWIST
 * flows"). Pure: no sockets, no plane, so the fuzz target runs it
 * (tests/fuzz/fuzz_twist_import.c). relay/twist_sync.c builds the flows.
 */
#include <stdio.h>
#include <string.h>

#include "proto/stun.h"
#include "relay/flowconv.h"
#include "relay/twist_flow.h"

static uint32_t remaining_s(uint64_t deadline_ms, uint64_t now_ms)
{
	/* Round up, as for allocations: a flow with 0.4 s left is not dead yet. */
	return deadline_ms > now_ms ? (uint32_t)((deadline_ms - now_ms + 999) / 1000) : 0;
}

static uint64_t cookie_u64(const uint8_t c[TWIST_COOKIE_LEN])
{
	uint64_t v = 0;

	for (unsigned i = 0; i < TWIST_COOKIE_LEN; i++)
		v = v << 8 | c[i];
	return v;
}

static void cookie_bytes(uint64_t v, uint8_t c[TWIST_COOKIE_LEN])
{
	for (unsigned i = TWIST_COOKIE_LEN; i-- > 0; v >>= 8)
		c[i] = (uint8_t)v;
}

static void put_addr(ProtobufCBinaryData *b, uint8_t *buf, const struct tw_addr *a)
{
	b->data = buf;
	b->len = flow_addr_put(a, buf);
}

void twist_flow_export(const struct twist_flow *f, uint64_t now_ms, struct flow_out *o)
{
	Twist__Twist *t = &o->tw;

	flowconv_export_identity(&f->flow.key, o);
	put_addr(&o->rel[0], o->relayed[0], &f->relayed);
	o->f.relayed = o->rel;
	o->f.n_relayed = 1;
	o->f.lifetime = remaining_s(f->expires, now_ms);
	o->f.user = (char *)f->user;
	o->f.realm = (char *)"";
	twist__twist__init(t);
	t->type = f->type;
	t->transport = f->proto;
	/* Acquire: worker 0 writes peer before it sets latched (twist_peer.c match). */
	if (__atomic_load_n(&f->latched, __ATOMIC_ACQUIRE))
		put_addr(&t->peer, o->tw_peer, &f->peer);
	if (f->want.family)
		put_addr(&t->want, o->tw_want, &f->want);
	t->encap_mode =
	        f->encap_mode == TWIST_ENCAP_TUNNEL ? TWIST_ENCAP_TUNNEL : TWIST_ENCAP_TRANSPORT;
	t->spi = f->encap_mode == TWIST_ENCAP_TUNNEL ? f->spi : 0;
	t->keepalive = f->ka;
	if (f->type == TWIST_TYPE_LISTEN)
		t->cookie = cookie_u64(f->cookie);
	t->client_spoke = __atomic_load_n(&f->client_spoke, __ATOMIC_RELAXED) != 0;
	o->f.twist = t;
}

void twist_tuple_birth(struct twist_flow *f, const Twist__Flow *t)
{
	const Twist__Twist *tw = t->twist;

	f->type = (uint8_t)tw->type;
	f->proto = (uint8_t)tw->transport;
	f->ka = (uint8_t)tw->keepalive;
	/* import_check: tunnel mode with an SPI twist_spi_ok() takes, else transport and 0. */
	f->encap_mode =
	        tw->encap_mode == TWIST_ENCAP_TUNNEL ? TWIST_ENCAP_TUNNEL : TWIST_ENCAP_TRANSPORT;
	f->spi = tw->spi;
	snprintf(f->user, sizeof(f->user), "%s", t->user);
	flow_addr_get(&t->relayed[0], &f->relayed);
	if (tw->want.len)
		flow_addr_get(&tw->want, &f->want);
	if (tw->type == TWIST_TYPE_LISTEN)
		cookie_bytes(tw->cookie, f->cookie);
}

void twist_tuple_state(const Twist__Flow *t, uint64_t now_ms, struct twist_state *st)
{
	memset(st, 0, sizeof(*st));
	st->expires = now_ms + (uint64_t)t->lifetime * 1000;
	if (t->twist->peer.len && flow_addr_get(&t->twist->peer, &st->peer) < 0)
		st->peer.family = 0;
	st->client_spoke = t->twist->client_spoke;
}
