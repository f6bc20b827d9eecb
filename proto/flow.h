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

/* NULL on oversized, undecodable or invalid input. Free with the _free_unpacked calls. */
Twist__Sync *flow_sync_unpack(const uint8_t *buf, size_t len);
Twist__Local *flow_local_unpack(const uint8_t *buf, size_t len);

#endif
