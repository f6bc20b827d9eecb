/*
 * Allocations pinned to this node (docs/operations.md, "Multi-site"). An
 * anycast address is routed to whichever site BGP prefers at the moment;
 * an allocation made on it breaks as soon as the route moves (a drain, a
 * failed site), because the other site has no such allocation. So a new
 * Allocate that arrives on an anycast address is answered 300 naming this
 * node's own unicast address, which stays routed here whatever BGP does.
 * Binding and everything else keep working on the anycast address.
 */
#ifndef TWIST_RELAY_ANYCAST_H
#define TWIST_RELAY_ANYCAST_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/addr.h"
#include "relay/config.h"

/* local (the request's destination) is one of cluster.anycast's IPs. */
bool anycast_is_service(const struct config *cfg, const struct tw_addr *local);
/*
 * Where a new Allocate that arrived on local goes instead: true with *to
 * set to cluster.unicast's address of family fam, or false when it is
 * served here (local is not anycast, or no unicast address of fam).
 */
bool anycast_pin(const struct config *cfg, const struct tw_addr *local, uint8_t fam,
                 struct tw_addr *to);

#endif
