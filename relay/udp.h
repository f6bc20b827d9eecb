/* UDP clients: the worker's listeners and the per-client connection ops. */
#ifndef TWIST_RELAY_UDP_H
#define TWIST_RELAY_UDP_H

#include "relay/conn.h"
#include "relay/relay.h"

int udp_listener_open(struct worker *w, struct listener *l, const struct tw_addr *addr);
void udp_listener_close(struct listener *l);
/* stun.rfc5780: primary's three Binding-only siblings (RFC 5780 §4.1). */
int udp_rfc5780_open(struct worker *w, struct listener *primary, const struct tw_addr *other);
const struct conn_ops *udp_conn_ops(void);

#endif
