/* TURN over TCP client connections (RFC 8656 §3.1): framing and backpressure. */
#ifndef TWIST_RELAY_TCP_H
#define TWIST_RELAY_TCP_H

#include <stddef.h>

#include "relay/relay.h"

struct tcp_conn;
struct allocation;

/* Output above this many bytes drops peer data for the client (counted). */
#define TCP_OUT_HIGH_WATER (1u << 20)

int tcp_listen(struct worker *w, const struct tw_addr *addr);
void tcp_close_all(struct worker *w);
/* The allocation is gone; the connection stays until the client closes it. */
void tcp_conn_alloc_gone(struct tcp_conn *tc);
/* Ties an allocation to the connection: closing the connection deletes it (§3.1). */
void tcp_conn_set_alloc(struct tcp_conn *tc, struct allocation *a);
/* Queues hdr+data+zero padding; -ENOBUFS over the high-water mark. */
int tcp_conn_send(struct tcp_conn *tc, const void *hdr, size_t hlen, const void *data, size_t dlen,
                  size_t pad);

#endif
