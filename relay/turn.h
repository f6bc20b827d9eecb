/*
 * STUN/TURN request handling (RFC 8489, RFC 8656) and the relaying of data
 * in both directions. Transport-neutral: udp.c and tcp.c hand in messages
 * with a client_ctx that says where they came from and how to answer.
 */
#ifndef TWIST_RELAY_TURN_H
#define TWIST_RELAY_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/alloc.h"
#include "relay/relay.h"

struct client_ctx {
	uint8_t transport; /* STUN_PROTO_UDP or STUN_PROTO_TCP */
	struct tw_addr client;
	struct tw_addr local;
	struct listener *lst; /* UDP: the listener the 5-tuple belongs to */
	struct tcp_conn *tc;  /* TCP */
	struct allocation *a; /* the 5-tuple's allocation on this worker, or NULL */
};

/* One datagram or one TCP frame from a client; buf has RX_HEADROOM before it. */
void turn_client_input(struct worker *w, struct client_ctx *cc, uint8_t *buf, size_t len);
/* A datagram from a peer on relay socket rs; buf has RX_HEADROOM before it. */
void turn_peer_input(struct worker *w, struct relay_sock *rs, const struct tw_addr *peer,
                     uint8_t *buf, size_t len);

#endif
