/*
 * Routes over rtnetlink, without `ip`: the TWIST device's host routes
 * (relay/twist_tun.c) and the translator's local route for its prefix
 * (relay/trt_nft.c). One request, the kernel's ack as the answer.
 */
#ifndef TWIST_RELAY_RTNL_H
#define TWIST_RELAY_RTNL_H

#include <stdbool.h>

#include "proto/addr.h"

struct rtnl_route {
	struct tw_cidr dst;
	unsigned char table; /* RT_TABLE_MAIN, RT_TABLE_LOCAL */
	unsigned char type;  /* RTN_UNICAST, RTN_LOCAL */
	unsigned char scope; /* RT_SCOPE_LINK, RT_SCOPE_HOST */
	int oif;
};

/* Adds (replacing one with the same key) or deletes the route: 0 or -errno. */
int rtnl_route_set(const struct rtnl_route *rt, bool add);

#endif
