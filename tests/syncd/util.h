/* Flow builders and comparisons shared by the syncd tests, the fuzz seeds and the tools. */
#ifndef TWIST_TESTS_SYNCD_UTIL_H
#define TWIST_TESTS_SYNCD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/flow.h"

/*
 * Flow number i (below UTIL_FLOWS_MAX): client 198.18.x.y (RFC 2544's test
 * range; 2001:db8::x:y when v6) port 10000 + i % 64 with x.y = i / 64 + 1,
 * to 203.0.113.1:3478, relayed 198.51.100.1 port 49152 + i % 16384, user
 * "demo". util_flow_new() returns a heap copy.
 */
#define UTIL_FLOWS_MAX (64u * 65535u)
struct util_flow {
	Twist__Flow f;
	Twist__Perm perm, *perms[1];
	Twist__Chan chan, *chans[1];
	ProtobufCBinaryData relayed[1];
	uint8_t client[18], local[18], rel[18], pip[16], cpeer[18];
};

void util_flow_init(struct util_flow *u, unsigned i, bool v6, unsigned nperm, unsigned nchan,
                    uint32_t lifetime);
Twist__Flow *util_flow_new(unsigned i, unsigned nperm, unsigned nchan, uint32_t lifetime);
/* The i of a flow built here, or -1. */
long util_flow_index(const Twist__Flow *f);
/* A delete for flow i. */
Twist__Flow *util_flow_delete(unsigned i);

/* A Local message carrying copies of flows (not taken), through the checked unpacker. */
Twist__Local *util_local(Twist__Flow **flows, size_t n, const uint64_t *tokens, size_t ntok,
                         bool dump_reply);

/* Same identity and state, lifetimes within slack seconds. */
bool util_flow_same(const Twist__Flow *a, const Twist__Flow *b, uint32_t slack);

/*
 * FLOW_MAX_MSG bytes of empty repeated Flows (issue 8): "0a 00" x N as a
 * Local, or a Sync from node_id with Batch{flows: "12 00" x N}. malloc'd.
 */
uint8_t *util_hostile_local(size_t *len);
uint8_t *util_hostile_sync(uint64_t node_id, size_t *len);

#endif
