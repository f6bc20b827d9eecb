/*
 * Flow tuples and sync messages (proto/flow.proto, protobuf-c). Everything
 * that arrives from a relay or a sync peer goes through the checked
 * unpackers here: size capped before protobuf-c allocates, then every field
 * validated, so callers never see an address of the wrong length or a
 * count past the caps.
 */
#ifndef TWIST_PROTO_FLOW_H
#define TWIST_PROTO_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"
#include "proto/flow.pb-c.h"

#define FLOW_MAX_MSG    (1u << 20) /* bytes of one Sync or Local message */
#define FLOW_MAX_FLOWS  8192       /* flows in one message */
#define FLOW_MAX_PERMS  256        /* per flow */
#define FLOW_MAX_CHANS  256        /* per flow */
#define FLOW_MAX_TOKENS 8192
#define FLOW_MAX_USER   255
#define FLOW_ADDR_MAX   18 /* 16-byte IP + 2-byte port */
#define FLOW_TRT_DESTS  16 /* destinations of one translator mapping */

/* ip+port bytes <-> tw_addr. put returns the length (6 or 18). */
size_t flow_addr_put(const struct tw_addr *a, uint8_t out[FLOW_ADDR_MAX]);
int flow_addr_get(const ProtobufCBinaryData *b, struct tw_addr *a);
/* IP only (permissions): 4 or 16 bytes. */
size_t flow_ip_put(const struct tw_addr *a, uint8_t out[16]);
int flow_ip_get(const ProtobufCBinaryData *b, struct tw_addr *a);

/* The 5-tuple of a flow; -EBADMSG if malformed. */
int flow_identity(const Twist__Flow *f, struct tw_addr *client, struct tw_addr *local,
                  uint8_t *transport);

/* Every field of a flow within its bounds. */
bool flow_valid(const Twist__Flow *f);

/*
 * The byte budget (DESIGN decision 14). protobuf-c allocates before anything
 * can be checked: 1 MiB of "0a 00" is 524,288 empty Flows, about 110 MiB
 * with protobuf-c's scan slabs. Every unpack here therefore runs with an
 * allocator that grants at most FLOW_BUDGET(len) bytes of requests in all
 * (freed or not; malloc's own overhead is not counted), and the unpack fails
 * cleanly when it runs out.
 *
 * The constants: the costliest valid content (IPv4 permissions without a
 * lifetime, 8 bytes on the wire each) takes up to 15 bytes per wire byte,
 * scan slabs included; realistic flows take about 6. 4 x len + 1.5 MiB
 * covers 15 x len up to 139 KiB, so every message of FLOW_BUDGET_SAFE_MSG
 * (128 KiB) or less fits whatever it holds, and bigger ones fit unless
 * they are mostly such permissions. The senders stay within that: syncd
 * cuts its messages to the relay at 128 KiB and --batch-bytes at 128 KiB;
 * the relay sends 64 flows, at most 218 KB when all of them carry 64 IPv6
 * permissions and channels, which take about 5 bytes per byte. A hostile
 * 1 MiB message costs at most 5.5 MiB before it is refused.
 */
#define FLOW_BUDGET_FACTOR   4u
#define FLOW_BUDGET_BASE     (3u << 19)
#define FLOW_BUDGET_SAFE_MSG (128u << 10)
#define FLOW_BUDGET(len)     (FLOW_BUDGET_FACTOR * (size_t)(len) + FLOW_BUDGET_BASE)

/*
 * The allocator to free what the unpackers return, or any part taken out
 * of it (a Flow, a Perm). It frees with free(), so memory from these
 * unpackers may also be freed with the NULL (default) allocator.
 */
ProtobufCAllocator *flow_allocator(void);

/* NULL on oversized, undecodable, over-budget or invalid input. Free with flow_allocator(). */
Twist__Sync *flow_sync_unpack(const uint8_t *buf, size_t len);
Twist__Local *flow_local_unpack(const uint8_t *buf, size_t len);

/*
 * The same without the field checks, to name a refusal: NULL when
 * undecodable or over budget (then *over_budget is true). len must already
 * be within FLOW_MAX_MSG.
 */
Twist__Sync *flow_sync_unpack_raw(const uint8_t *buf, size_t len, bool *over_budget);
Twist__Local *flow_local_unpack_raw(const uint8_t *buf, size_t len, bool *over_budget);
bool flow_sync_valid(const Twist__Sync *s);
bool flow_local_valid(const Twist__Local *l);

/* One Flow from our own packed bytes (copies, resends), under the budget too. */
Twist__Flow *flow_tuple_unpack(const uint8_t *buf, size_t len);

#endif
