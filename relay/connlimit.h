/*
 * Stream client connections counted per source for the whole process, so
 * that one host cannot hold every connection the relay can take, and can
 * hold only a few before it has authenticated (STYLE: caps stricter before
 * authentication). A source is an IPv4 address, or an IPv6 /64: a /64 is
 * what one subscriber or one host is usually given, and counting single
 * IPv6 addresses would let it open a connection from each of 2^64.
 *
 * Workers share one table under a mutex. It is taken at accept, at a
 * connection's first authentication and at close, never per packet. An
 * entry exists only while its source has a connection, so the table holds
 * at most `total` entries whatever the clients send.
 */
#ifndef TWIST_RELAY_CONNLIMIT_H
#define TWIST_RELAY_CONNLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/addr.h"

struct connlimit;

struct connlimit_caps {
	unsigned total;      /* open connections, all sources (limits.tcp_connections) */
	unsigned per_source; /* limits.tcp_per_source */
	unsigned unauth;     /* of which not yet authenticated (limits.tcp_unauth_per_source) */
};

enum connlimit_verdict {
	CONNLIMIT_OK,
	CONNLIMIT_TOTAL,
	CONNLIMIT_SOURCE,
	CONNLIMIT_UNAUTH,
};

struct connlimit *connlimit_new(const struct connlimit_caps *caps, uint32_t seed);
void connlimit_free(struct connlimit *l);
/* Counts a new, unauthenticated connection from src, or says which cap refuses it. */
enum connlimit_verdict connlimit_take(struct connlimit *l, const struct tw_addr *src);
/* A connection that connlimit_take counted has authenticated (once per connection). */
void connlimit_authed(struct connlimit *l, const struct tw_addr *src);
/* A connection that connlimit_take counted is gone. */
void connlimit_put(struct connlimit *l, const struct tw_addr *src, bool authed);
/* What is counted for src's source now (tests, logs). */
void connlimit_get(struct connlimit *l, const struct tw_addr *src, unsigned *conns,
                   unsigned *unauth);
/*
 * True once the open connections have fallen by `by` or more below their
 * peak since the last true: the relay then gives freed memory back
 * (malloc_trim), which glibc would otherwise keep after a flood.
 */
bool connlimit_shrunk(struct connlimit *l, unsigned by);

#endif
