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
/*
 * The connected per-client socket (DESIGN decision 1): bound to local, a
 * listener's address, in its reuseport group, and connected to client, so
 * the kernel hands that client's datagrams to it. A descriptor or -errno.
 */
int udp_client_socket(const struct tw_addr *local, const struct tw_addr *client);
/* A datagram another per-client socket caught for the listener on local. */
void udp_stray_input(struct worker *w, const struct tw_addr *local, const struct tw_addr *src,
                     uint8_t *buf, size_t len);

#endif
