/*
 * The two message streams twist-syncd reads, decoded through proto/flow.c's
 * checked unpackers, with the reason of a refusal for the drop counters.
 * The size is capped and protobuf-c runs under the byte budget before
 * anything is allocated; every field is then validated, and on the error
 * path alone the reason is worked out.
 */
#ifndef TWIST_SYNCD_WIRE_H
#define TWIST_SYNCD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/flow.h"
#include "syncd/stats.h"

/* NULL with *why set when buf is refused. Free with flow_allocator(). */
Twist__Sync *wire_sync_decode(const uint8_t *buf, size_t len, enum drop_reason *why);
Twist__Local *wire_local_decode(const uint8_t *buf, size_t len, enum drop_reason *why);

/* What one flow adds to a repeated field: tag, length varint, body. */
size_t wire_flow_cost(const Twist__Flow *f);

/* The seq of a sequenced message (Batch, BulkBegin, BulkEnd); 0 otherwise. */
uint64_t wire_sync_seq(const Twist__Sync *m);

#endif
