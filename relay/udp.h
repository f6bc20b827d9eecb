/* UDP sockets of a worker: listeners, per-client sockets, relay sockets. */
#ifndef TWIST_RELAY_UDP_H
#define TWIST_RELAY_UDP_H

#include "relay/alloc.h"
#include "relay/relay.h"

int udp_listener_open(struct worker *w, struct listener *l, const struct tw_addr *addr);
void udp_listener_close(struct listener *l);
/* The connected per-client socket of a UDP allocation (DESIGN decision 1). */
int udp_client_open(struct worker *w, struct allocation *a);
int udp_relay_watch(struct worker *w, struct relay_sock *rs);
/* The worker's data-plane epoll set, watched through one libevent event. */
int udp_dataplane_open(struct worker *w);
void udp_dataplane_close(struct worker *w);
/* a is going away: events for its sockets still in data_cb's batch are dropped. */
void udp_forget(struct worker *w, const struct allocation *a);

/* Queues a datagram; buf must stay valid until tx_flush. dst NULL: connected. */
void tx_push(struct worker *w, int fd, const struct tw_addr *dst, const void *buf, size_t len);
void tx_flush(struct worker *w);
/* Sends now (responses built on the stack). */
void tx_now(struct worker *w, int fd, const struct tw_addr *dst, const void *buf, size_t len);

#endif
