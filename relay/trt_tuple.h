/*
 * A translator UDP mapping <-> its flow tuple (proto/flow.proto, message
 * Trt; docs/trt.md "HA"). Pure: relay/trt_udp.c exports and imports with
 * it, and the unit test checks both ways.
 *
 * Identity: client A6:p, local PREFIX::0 port trt.port, UDP. No TURN
 * allocation has a local address inside the translator's prefix, so
 * trt_tuple_is_mapping() tells the kinds apart also for deletes, which
 * carry only the identity.
 */
#ifndef TWIST_RELAY_TRT_TUPLE_H
#define TWIST_RELAY_TRT_TUPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/flow.h"
#include "relay/config.h"
#include "relay/flowconv.h"
#include "relay/registry.h"

struct trt_tuple {
	struct alloc_key key;
	struct tw_addr source; /* Y4:q */
	struct tw_addr dests[FLOW_TRT_DESTS];
	unsigned n_dests;
	uint32_t idle_s; /* seconds left before the idle timeout */
};

/* The identity of client's mapping under cfg's prefix and port. */
void trt_tuple_key(const struct config *cfg, const struct tw_addr *client, struct alloc_key *k);
/* Whether a flow of this key is a translator mapping (its local address is in the prefix). */
bool trt_tuple_is_mapping(const struct config *cfg, const struct alloc_key *k);
void trt_tuple_export(const struct trt_tuple *t, struct flow_out *o);
/* From a tuple flow_valid() accepted with trt set: 0, or -EBADMSG. */
int trt_tuple_parse(const Twist__Flow *f, struct trt_tuple *t);

#endif
