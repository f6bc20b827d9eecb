/*
 * A worker's datagram plane: the epoll set of its data-plane sockets
 * (per-client and relayed), batch receive and batched sends.
 *
 * Every socket in the set is a struct dp_handle with its own callback
 * (the Redis ae.c / relayd lesson): nothing is told apart by tag bits or
 * address ranges. A handle whose socket was closed during a batch has
 * fd -1 and is skipped; its memory outlives the batch (relay/flow.h).
 */
#ifndef TWIST_RELAY_DATAPLANE_H
#define TWIST_RELAY_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct worker;
struct dp_handle;

/* The socket is readable; true if reading stopped at the per-wake-up
 * bound with datagrams perhaps still queued. */
typedef bool (*dp_readable_fn)(struct worker *w, struct dp_handle *h);

struct dp_handle {
	int fd; /* -1 once closed */
	dp_readable_fn readable;
};

/* One datagram; buf has RX_HEADROOM writable bytes in front of it. */
typedef void (*dp_datagram_fn)(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                               size_t len);

int dp_open(struct worker *w);
void dp_close_all(struct worker *w);
/* Adds h (fd and callback set) to the worker's set, edge-triggered. */
int dp_watch(struct worker *w, struct dp_handle *h);
/* Flushes queued sends (they name fds), closes the socket, marks h closed. */
void dp_close(struct worker *w, struct dp_handle *h);

/*
 * Reads fd in batches, a bounded number per wake-up, calling fn for each
 * datagram; stops early once h (if given) is closed by what it carried.
 */
bool dp_drain(struct worker *w, int fd, struct dp_handle *h, dp_datagram_fn fn, void *ctx);

/* Queues a datagram; buf must stay valid until tx_flush. dst NULL: connected. */
void tx_push(struct worker *w, int fd, const struct tw_addr *dst, const void *buf, size_t len);
void tx_flush(struct worker *w);
/* Sends now (messages built on the stack). */
int tx_now(struct worker *w, int fd, const struct tw_addr *dst, const void *buf, size_t len);

#endif
