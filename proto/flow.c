#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/flow.h"
#include "proto/twist.h"

size_t flow_addr_put(const struct tw_addr *a, uint8_t out[FLOW_ADDR_MAX])
{
	size_t n = tw_addr_iplen(a);

	memcpy(out, a->ip, n);
	put_u16(out + n, a->port);
	return n + 2;
}

int flow_addr_get(const ProtobufCBinaryData *b, struct tw_addr *a)
{
	struct cur c;
	size_t n;

	if (b->len != 6 && b->len != 18)
		return -EBADMSG;
	n = b->len - 2;
	memset(a, 0, sizeof(*a));
	a->family = n == 4 ? TW_AF_INET : TW_AF_INET6;
	cur_init(&c, b->data, b->len);
	if (cur_get_bytes(&c, a->ip, n) < 0 || cur_get_u16(&c, &a->port) < 0)
		return -EBADMSG;
	return 0;
}

size_t flow_ip_put(const struct tw_addr *a, uint8_t out[16])
{
	size_t n = tw_addr_iplen(a);

	memcpy(out, a->ip, n);
	return n;
}

int flow_ip_get(const ProtobufCBinaryData *b, struct tw_addr *a)
{
	if (b->len != 4 && b->len != 16)
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	a->family = b->len == 4 ? TW_AF_INET : TW_AF_INET6;
	memcpy(a->ip, b->data, b->len);
	return 0;
}

int flow_identity(const Twist__Flow *f, struct tw_addr *client, struct tw_addr *local,
                  uint8_t *transport)
{
	if (flow_addr_get(&f->client, client) < 0 || flow_addr_get(&f->local, local) < 0)
		return -EBADMSG;
	if (client->family != local->family)
		return -EBADMSG;
	if (f->transport != 0 && f->transport != 17 && f->transport != 6)
		return -EBADMSG;
	*transport = f->transport == 6 ? 6 : 17;
	return 0;
}

static bool perms_valid(const Twist__Flow *f)
{
	struct tw_addr a;

	if (f->n_perms > FLOW_MAX_PERMS)
		return false;
	for (size_t i = 0; i < f->n_perms; i++)
		if (!f->perms[i] || flow_ip_get(&f->perms[i]->ip, &a) < 0)
			return false;
	return true;
}

static bool chans_valid(const Twist__Flow *f)
{
	struct tw_addr a;

	if (f->n_chans > FLOW_MAX_CHANS)
		return false;
	for (size_t i = 0; i < f->n_chans; i++) {
		const Twist__Chan *c = f->chans[i];

		if (!c || c->number < 0x4000 || c->number > 0x7FFF)
			return false;
		if (flow_addr_get(&c->peer, &a) < 0)
			return false;
	}
	return true;
}

/* A translator mapping: IPv6 client, an IPv4 source and IPv4 destinations, nothing of TURN. */
static bool trt_valid(const Twist__Flow *f, const struct tw_addr *client, uint8_t transport)
{
	const Twist__Trt *m = f->trt;
	struct tw_addr a;

	if (client->family != TW_AF_INET6 || transport != 17 || f->n_relayed || f->n_perms ||
	    f->n_chans || m->n_dests > FLOW_TRT_DESTS)
		return false;
	if (flow_addr_get(&m->source, &a) < 0 || a.family != TW_AF_INET)
		return false;
	for (size_t i = 0; i < m->n_dests; i++)
		if (flow_addr_get(&m->dests[i], &a) < 0 || a.family != TW_AF_INET)
			return false;
	return true;
}

/* An optional address: absent, or ip + port of the relayed family. */
static bool twist_addr_ok(const ProtobufCBinaryData *b, const struct tw_addr *rel, bool *present)
{
	struct tw_addr a;

	*present = b->len != 0;
	return !*present || (flow_addr_get(b, &a) == 0 && a.family == rel->family);
}

/* The modes and the cookie agree with the flow's type (docs/twist-protocol.md). */
static bool twist_modes_ok(const Twist__Twist *t, uint16_t port)
{
	if (t->keepalive != TWIST_KA_NATT && t->keepalive != TWIST_KA_BINDING)
		return false;
	/* RFC 4303 §2.1: SPIs 1..255 are reserved, 0 is never on the wire. */
	if (t->encap_mode == TWIST_ENCAP_TRANSPORT && t->spi != 0)
		return false;
	if (t->encap_mode == TWIST_ENCAP_TUNNEL && t->spi < 256)
		return false;
	if (t->encap_mode != TWIST_ENCAP_TRANSPORT && t->encap_mode != TWIST_ENCAP_TUNNEL)
		return false;
	if (t->type == TWIST_TYPE_CONNECT)
		return t->cookie == 0;
	return (uint16_t)(t->cookie >> 48) == port;
}

/*
 * A TWIST flow: a UDP client 5-tuple, one relayed address, a peer of its
 * family (connect: always), nothing of TURN.
 */
static bool twist_valid(const Twist__Flow *f, uint8_t transport)
{
	const Twist__Twist *t = f->twist;
	struct tw_addr rel;
	bool peer, want;

	if (transport != 17 || f->n_relayed != 1 || f->n_perms || f->n_chans || f->reservation)
		return false;
	if (flow_addr_get(&f->relayed[0], &rel) < 0 || rel.port == 0)
		return false;
	if (t->type != TWIST_TYPE_CONNECT && t->type != TWIST_TYPE_LISTEN)
		return false;
	if (t->transport != 17 && t->transport != 6)
		return false;
	if (!twist_addr_ok(&t->peer, &rel, &peer) || !twist_addr_ok(&t->want, &rel, &want))
		return false;
	if (t->type == TWIST_TYPE_CONNECT && (!peer || want))
		return false;
	return twist_modes_ok(t, rel.port);
}

static bool user_realm_valid(const Twist__Flow *f)
{
	return f->user && strlen(f->user) <= FLOW_MAX_USER && f->realm &&
	       strlen(f->realm) <= FLOW_MAX_USER;
}

bool flow_valid(const Twist__Flow *f)
{
	struct tw_addr c, l, r;
	uint8_t t;

	if (!f || flow_identity(f, &c, &l, &t) < 0)
		return false;
	if (f->deleted)
		return true;
	if (f->trt)
		return !f->twist && trt_valid(f, &c, t);
	if (f->twist)
		return user_realm_valid(f) && twist_valid(f, t);
	if (f->n_relayed < 1 || f->n_relayed > 2)
		return false;
	for (size_t i = 0; i < f->n_relayed; i++)
		if (flow_addr_get(&f->relayed[i], &r) < 0)
			return false;
	return user_realm_valid(f) && perms_valid(f) && chans_valid(f);
}

static bool flows_valid(Twist__Flow **flows, size_t n)
{
	if (n > FLOW_MAX_FLOWS)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!flow_valid(flows[i]))
			return false;
	return true;
}

static bool sync_valid(const Twist__Sync *s)
{
	switch (s->body_case) {
	case TWIST__SYNC__BODY_HELLO:
	case TWIST__SYNC__BODY_BULK_BEGIN:
	case TWIST__SYNC__BODY_BULK_END:
	case TWIST__SYNC__BODY_ALIVE:
		return true;
	case TWIST__SYNC__BODY_BATCH:
		return flows_valid(s->batch->flows, s->batch->n_flows);
	case TWIST__SYNC__BODY_ACK:
		if (s->ack->n_nack > 64)
			return false;
		for (size_t i = 0; i < s->ack->n_nack; i++)
			if (!s->ack->nack[i] || s->ack->nack[i]->first > s->ack->nack[i]->last)
				return false;
		return true;
	case TWIST__SYNC__BODY__NOT_SET:
	case _TWIST__SYNC__BODY__CASE_IS_INT_SIZE:
		break;
	}
	return false;
}

/* What is left of one unpack's budget. */
struct budget {
	size_t left;
	bool over;
};

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;

	if (b) {
		if (size > b->left) {
			b->over = true;
			return NULL;
		}
		b->left -= size;
	}
	return malloc(size);
}

static void budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

/* For frees only: no budget to charge, and free() needs none. */
static ProtobufCAllocator free_allocator = {budget_alloc, budget_free, NULL};

ProtobufCAllocator *flow_allocator(void)
{
	return &free_allocator;
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                                bool *over_budget)
{
	struct budget b = {FLOW_BUDGET(len), false};
	ProtobufCAllocator a = {budget_alloc, budget_free, &b};
	ProtobufCMessage *m = protobuf_c_message_unpack(d, &a, len, buf);

	/* protobuf-c fails on any refused allocation; this is only belt and braces. */
	if (m && b.over) {
		protobuf_c_message_free_unpacked(m, &free_allocator);
		m = NULL;
	}
	if (over_budget)
		*over_budget = b.over;
	return m;
}

Twist__Sync *flow_sync_unpack_raw(const uint8_t *buf, size_t len, bool *over_budget)
{
	return (Twist__Sync *)unpack(&twist__sync__descriptor, buf, len, over_budget);
}

Twist__Local *flow_local_unpack_raw(const uint8_t *buf, size_t len, bool *over_budget)
{
	return (Twist__Local *)unpack(&twist__local__descriptor, buf, len, over_budget);
}

Twist__Flow *flow_tuple_unpack(const uint8_t *buf, size_t len)
{
	return (Twist__Flow *)unpack(&twist__flow__descriptor, buf, len, NULL);
}

bool flow_sync_valid(const Twist__Sync *s)
{
	return s->node_id != 0 && sync_valid(s);
}

bool flow_local_valid(const Twist__Local *l)
{
	return flows_valid(l->flows, l->n_flows) && l->n_tokens <= FLOW_MAX_TOKENS;
}

Twist__Sync *flow_sync_unpack(const uint8_t *buf, size_t len)
{
	Twist__Sync *s;

	if (len > FLOW_MAX_MSG)
		return NULL;
	s = flow_sync_unpack_raw(buf, len, NULL);
	if (s && !flow_sync_valid(s)) {
		twist__sync__free_unpacked(s, flow_allocator());
		return NULL;
	}
	return s;
}

Twist__Local *flow_local_unpack(const uint8_t *buf, size_t len)
{
	Twist__Local *l;

	if (len > FLOW_MAX_MSG)
		return NULL;
	l = flow_local_unpack_raw(buf, len, NULL);
	if (l && !flow_local_valid(l)) {
		twist__local__free_unpacked(l, flow_allocator());
		return NULL;
	}
	return l;
}
