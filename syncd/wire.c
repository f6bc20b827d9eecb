#include "syncd/wire.h"

static bool flows_ok(Twist__Flow **flows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!flow_valid(flows[i]))
			return false;
	return true;
}

Twist__Sync *wire_sync_decode(const uint8_t *buf, size_t len, enum drop_reason *why)
{
	Twist__Sync *m;

	if (len > FLOW_MAX_MSG) {
		*why = DROP_OVERSIZED;
		return NULL;
	}
	if ((m = flow_sync_unpack(buf, len)))
		return m;
	/* Refused: decode again without the checks, only to name the reason. */
	m = twist__sync__unpack(NULL, len, buf);
	if (!m)
		*why = DROP_GARBAGE;
	else if (m->body_case == TWIST__SYNC__BODY_BATCH &&
	         (m->batch->n_flows > FLOW_MAX_FLOWS ||
	          !flows_ok(m->batch->flows, m->batch->n_flows)))
		*why = DROP_INVALID_FLOW;
	else
		*why = DROP_INVALID;
	twist__sync__free_unpacked(m, NULL);
	return NULL;
}

Twist__Local *wire_local_decode(const uint8_t *buf, size_t len, enum drop_reason *why)
{
	Twist__Local *l;

	if (len > FLOW_MAX_MSG) {
		*why = DROP_OVERSIZED;
		return NULL;
	}
	if ((l = flow_local_unpack(buf, len)))
		return l;
	l = twist__local__unpack(NULL, len, buf);
	if (!l)
		*why = DROP_GARBAGE;
	else if (l->n_flows > FLOW_MAX_FLOWS || !flows_ok(l->flows, l->n_flows))
		*why = DROP_INVALID_FLOW;
	else
		*why = DROP_INVALID;
	twist__local__free_unpacked(l, NULL);
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
