#include "syncd/wire.h"

static bool flows_ok(Twist__Flow **flows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!flow_valid(flows[i]))
			return false;
	return true;
}

/* Decoded once, under the byte budget; the checks then name the reason. */
Twist__Sync *wire_sync_decode(const uint8_t *buf, size_t len, enum drop_reason *why)
{
	bool over;
	Twist__Sync *m;

	if (len > FLOW_MAX_MSG) {
		*why = DROP_OVERSIZED;
		return NULL;
	}
	m = flow_sync_unpack_raw(buf, len, &over);
	if (!m) {
		*why = over ? DROP_BUDGET : DROP_GARBAGE;
		return NULL;
	}
	if (flow_sync_valid(m))
		return m;
	if (m->body_case == TWIST__SYNC__BODY_BATCH &&
	    (m->batch->n_flows > FLOW_MAX_FLOWS || !flows_ok(m->batch->flows, m->batch->n_flows)))
		*why = DROP_INVALID_FLOW;
	else
		*why = DROP_INVALID;
	twist__sync__free_unpacked(m, flow_allocator());
	return NULL;
}

Twist__Local *wire_local_decode(const uint8_t *buf, size_t len, enum drop_reason *why)
{
	bool over;
	Twist__Local *l;

	if (len > FLOW_MAX_MSG) {
		*why = DROP_OVERSIZED;
		return NULL;
	}
	l = flow_local_unpack_raw(buf, len, &over);
	if (!l) {
		*why = over ? DROP_BUDGET : DROP_GARBAGE;
		return NULL;
	}
	if (flow_local_valid(l))
		return l;
	if (l->n_flows > FLOW_MAX_FLOWS || !flows_ok(l->flows, l->n_flows))
		*why = DROP_INVALID_FLOW;
	else
		*why = DROP_INVALID;
	twist__local__free_unpacked(l, flow_allocator());
	return NULL;
}

size_t wire_flow_cost(const Twist__Flow *f)
{
	size_t n = twist__flow__get_packed_size(f), v = 1;

	for (size_t x = n; x >= 0x80; x >>= 7)
		v++;
	return 1 + v + n;
}

uint64_t wire_sync_seq(const Twist__Sync *m)
{
	switch (m->body_case) {
	case TWIST__SYNC__BODY_BATCH:
		return m->batch->seq;
	case TWIST__SYNC__BODY_BULK_BEGIN:
		return m->bulk_begin->seq;
	case TWIST__SYNC__BODY_BULK_END:
		return m->bulk_end->seq;
	case TWIST__SYNC__BODY_HELLO:
	case TWIST__SYNC__BODY_ACK:
	case TWIST__SYNC__BODY_ALIVE:
	case TWIST__SYNC__BODY__NOT_SET:
	case _TWIST__SYNC__BODY__CASE_IS_INT_SIZE:
		break;
	}
	return 0;
}
