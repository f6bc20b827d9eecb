/* TURN over TCP client connections (RFC 8656 §3.1): listeners, accept, backpressure. */
#ifndef TWIST_RELAY_TCP_H
#define TWIST_RELAY_TCP_H

#include "relay/conn.h"
#include "relay/relay.h"

/* Output above this many bytes drops peer data for the client (counted). */
#define TCP_OUT_HIGH_WATER (1u << 20)

int tcp_listen(struct worker *w, const struct tw_addr *addr);
void tcp_close_all(struct worker *w);
const struct conn_ops *tcp_conn_ops(void);

#endif
