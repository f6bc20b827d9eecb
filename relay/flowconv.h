/*
 * Allocations <-> flow tuples (proto/flow.proto). Lifetimes go out as
 * seconds remaining and come back as deadlines on this node's clock.
 */
#ifndef TWIST_RELAY_FLOWCONV_H
#define TWIST_RELAY_FLOWCONV_H

#include "proto/flow.h"
#include "relay/alloc.h"

/* Storage for one exported tuple: the protobuf-c struct points into it. */
struct flow_out {
	Twist__Flow f;
	uint8_t client[FLOW_ADDR_MAX], local[FLOW_ADDR_MAX];
	uint8_t relayed[2][FLOW_ADDR_MAX];
	ProtobufCBinaryData rel[2];
	Twist__Perm perm[ALLOC_MAX_PERMS];
	Twist__Perm *pperm[ALLOC_MAX_PERMS];
	uint8_t permip[ALLOC_MAX_PERMS][16];
	Twist__Chan chan[ALLOC_MAX_CHANS];
	Twist__Chan *pchan[ALLOC_MAX_CHANS];
	uint8_t chanpeer[ALLOC_MAX_CHANS][FLOW_ADDR_MAX];
	/* A translator mapping (relay/trt_tuple.h). */
	Twist__Trt trt;
	uint8_t trt_src[FLOW_ADDR_MAX], trt_dst[FLOW_TRT_DESTS][FLOW_ADDR_MAX];
	ProtobufCBinaryData trt_dsts[FLOW_TRT_DESTS];
	/* A TWIST flow (relay/twist_sync.c). */
	Twist__Twist tw;
	uint8_t tw_peer[FLOW_ADDR_MAX], tw_want[FLOW_ADDR_MAX];
};

void flowconv_export(const struct allocation *a, uint64_t now_ms, struct flow_out *o);
void flowconv_export_delete(const struct alloc_key *k, struct flow_out *o);
/* Only the identity (client, local, transport): what every kind's tuple starts with. */
void flowconv_export_identity(const struct alloc_key *k, struct flow_out *o);
/* The allocation's key from a validated tuple. */
int flowconv_key(const Twist__Flow *f, struct alloc_key *k);
/* Copies lifetimes, permissions, channels and flags of f into a (not sockets); -ENOMEM. */
int flowconv_apply(struct allocation *a, const Twist__Flow *f, uint64_t now_ms);

#endif
