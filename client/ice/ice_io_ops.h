/*
 * How the ICE engine reaches the outside: one table, implemented by
 * ice_io.c on libevent and by fakes in the unit tests.
 */
#ifndef TWIST_CLIENT_ICE_IO_OPS_H
#define TWIST_CLIENT_ICE_IO_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct ice_io_ops {
	/* A datagram from socket sock to dst (dst is ignored on a TCP socket). */
	int (*send)(void *ctx, int sock, const struct tw_addr *dst, const void *buf, size_t len);
	void (*random)(void *ctx, void *buf, size_t len);
	uint64_t (*now)(void *ctx); /* monotonic ms */
	/* A TCP socket connected anew to dst (a TURN redirect); NULL: not possible. */
	int (*reconnect)(void *ctx, int sock, const struct tw_addr *dst);
};

#endif
