#include <stdlib.h>
#include <string.h>

#include "tests/syncd/util.h"

static size_t put_addr(uint8_t *out, bool v6, const uint8_t *ip4, uint16_t low, uint16_t port)
{
	size_t n = v6 ? 16 : 4;

	if (v6) {
		static const uint8_t pfx[] = {0x20, 0x01, 0x0d, 0xb8};

		memset(out, 0, 16);
		memcpy(out, pfx, 4);
		out[14] = (uint8_t)(low >> 8);
		out[15] = (uint8_t)low;
	} else {
		memcpy(out, ip4, 4);
		if (low) {
			out[2] = (uint8_t)(low >> 8);
			out[3] = (uint8_t)low;
		}
	}
	out[n] = (uint8_t)(port >> 8);
	out[n + 1] = (uint8_t)port;
	return n + 2;
}

void util_flow_init(struct util_flow *u, unsigned i, bool v6, unsigned nperm, unsigned nchan,
                    uint32_t lifetime)
{
	static const uint8_t c4[] = {198, 18, 0, 0}, l4[] = {203, 0, 113, 1},
	                     r4[] = {198, 51, 100, 1};
	size_t n;

	memset(u, 0, sizeof(*u));
	twist__flow__init(&u->f);
	i %= UTIL_FLOWS_MAX;
	n = put_addr(u->client, v6, c4, (uint16_t)(i / 64 + 1), (uint16_t)(10000 + i % 64));
	u->f.client.data = u->client;
	u->f.client.len = n;
	u->f.local.data = u->local;
	u->f.local.len = put_addr(u->local, v6, l4, v6 ? 1 : 0, 3478);
	u->relayed[0].data = u->rel;
	u->relayed[0].len = put_addr(u->rel, v6, r4, v6 ? 2 : 0, (uint16_t)(49152 + i % 16384));
	u->f.n_relayed = 1;
	u->f.relayed = u->relayed;
	u->f.transport = 17;
	u->f.lifetime = lifetime;
	u->f.user = "demo";
	u->f.realm = "";
	if (nperm) {
		twist__perm__init(&u->perm);
		memcpy(u->pip, u->rel, v6 ? 16 : 4);
		u->pip[v6 ? 15 : 3] = 9;
		u->perm.ip.data = u->pip;
		u->perm.ip.len = v6 ? 16 : 4;
		u->perm.lifetime = lifetime < 300 ? lifetime : 300;
		u->perms[0] = &u->perm;
		u->f.n_perms = 1;
		u->f.perms = u->perms;
	}
	if (nchan) {
		twist__chan__init(&u->chan);
		u->chan.number = 0x4000;
		memcpy(u->cpeer, u->pip, v6 ? 16 : 4);
		u->cpeer[v6 ? 15 : 3] = 9;
		u->cpeer[v6 ? 16 : 4] = 0x13;
		u->cpeer[v6 ? 17 : 5] = 0x88;
		u->chan.peer.data = u->cpeer;
		u->chan.peer.len = v6 ? 18 : 6;
		u->chan.lifetime = lifetime;
		u->chans[0] = &u->chan;
		u->f.n_chans = 1;
		u->f.chans = u->chans;
	}
}

static Twist__Flow *dup_flow(const Twist__Flow *f)
{
	size_t len = twist__flow__get_packed_size(f);
	uint8_t *buf = malloc(len + 1);
	Twist__Flow *c;

	if (!buf)
		abort();
	twist__flow__pack(f, buf);
	c = flow_tuple_unpack(buf, len);
	free(buf);
	if (!c)
		abort();
	return c;
}

Twist__Flow *util_flow_new(unsigned i, unsigned nperm, unsigned nchan, uint32_t lifetime)
{
	struct util_flow u;

	util_flow_init(&u, i, false, nperm, nchan, lifetime);
	return dup_flow(&u.f);
}

long util_flow_index(const Twist__Flow *f)
{
	const ProtobufCBinaryData *c = &f->client;
	size_t n = c->len - 2;
	unsigned hi, port;

	if (c->len != 6 && c->len != 18)
		return -1;
	hi = (unsigned)c->data[n - 2] << 8 | c->data[n - 1];
	port = (unsigned)c->data[n] << 8 | c->data[n + 1];
	if (hi == 0 || port < 10000 || port >= 10064)
		return -1;
	return (long)(hi - 1) * 64 + (long)(port - 10000);
}

Twist__Flow *util_flow_delete(unsigned i)
{
	struct util_flow u;
	Twist__Flow d = TWIST__FLOW__INIT;

	util_flow_init(&u, i, false, 0, 0, 0);
	d.client = u.f.client;
	d.local = u.f.local;
	d.transport = u.f.transport;
	d.deleted = 1;
	return dup_flow(&d);
}

Twist__Local *util_local(Twist__Flow **flows, size_t n, const uint64_t *tokens, size_t ntok,
                         bool dump_reply)
{
	Twist__Local m = TWIST__LOCAL__INIT;
	Twist__Local *l;
	uint8_t *buf;
	size_t len;

	m.n_flows = n;
	m.flows = flows;
	m.n_tokens = ntok;
	m.tokens = (uint64_t *)tokens;
	m.dump_reply = dump_reply;
	len = twist__local__get_packed_size(&m);
	if (!(buf = malloc(len + 1)))
		abort();
	twist__local__pack(&m, buf);
	l = flow_local_unpack(buf, len);
	free(buf);
	return l;
}

static bool bin_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool life_near(uint32_t a, uint32_t b, uint32_t slack)
{
	return a > b ? a - b <= slack : b - a <= slack;
}

bool util_flow_same(const Twist__Flow *a, const Twist__Flow *b, uint32_t slack)
{
	if (!bin_eq(&a->client, &b->client) || !bin_eq(&a->local, &b->local) ||
	    a->transport != b->transport || a->deleted != b->deleted)
		return false;
	if (a->deleted)
		return true;
	if (a->n_relayed != b->n_relayed || a->n_perms != b->n_perms || a->n_chans != b->n_chans ||
	    strcmp(a->user, b->user) || strcmp(a->realm, b->realm) ||
	    a->reservation != b->reservation || a->dont_fragment != b->dont_fragment ||
	    !life_near(a->lifetime, b->lifetime, slack))
		return false;
	for (size_t i = 0; i < a->n_relayed; i++)
		if (!bin_eq(&a->relayed[i], &b->relayed[i]))
			return false;
	for (size_t i = 0; i < a->n_perms; i++)
		if (!bin_eq(&a->perms[i]->ip, &b->perms[i]->ip) ||
		    !life_near(a->perms[i]->lifetime, b->perms[i]->lifetime, slack))
			return false;
	for (size_t i = 0; i < a->n_chans; i++)
		if (a->chans[i]->number != b->chans[i]->number ||
		    !bin_eq(&a->chans[i]->peer, &b->chans[i]->peer) ||
		    !life_near(a->chans[i]->lifetime, b->chans[i]->lifetime, slack))
			return false;
	return true;
}

uint8_t *util_hostile_local(size_t *len)
{
	uint8_t *m = malloc(FLOW_MAX_MSG);

	if (!m)
		abort();
	for (size_t i = 0; i < FLOW_MAX_MSG; i += 2) {
		m[i] = 0x0a;
		m[i + 1] = 0x00;
	}
	*len = FLOW_MAX_MSG;
	return m;
}

uint8_t *util_hostile_sync(uint64_t node_id, size_t *len)
{
	size_t body = (FLOW_MAX_MSG - 6) & ~(size_t)1, i = 0;
	uint8_t *m = malloc(FLOW_MAX_MSG);

	if (!m || node_id == 0 || node_id > 0x7f)
		abort();
	m[i++] = 0x08; /* node_id, a one-byte varint */
	m[i++] = (uint8_t)node_id;
	m[i++] = 0x22; /* batch, a three-byte length */
	m[i++] = (uint8_t)(0x80 | (body & 0x7f));
	m[i++] = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
	m[i++] = (uint8_t)(body >> 14);
	for (size_t k = 0; k < body; k += 2) {
		m[i++] = 0x12;
		m[i++] = 0x00;
	}
	*len = i;
	return m;
}
