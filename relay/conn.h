/*
 * The client-connection seam (DESIGN decision 11). A client reaches the
 * relay over one transport; the TURN core sees only struct conn and its
 * ops table, one implementation per transport (relay/udp.c, relay/tcp.c;
 * TLS, DTLS and WebSocket are further files). Stream transports share one
 * framing stage (relay/stream.h).
 *
 * Ownership differs by transport and the ops hide it. A TCP connection
 * owns its allocation: closing it deletes the allocation (RFC 8656 §3.1).
 * A UDP "connection" is the client's address on a listener; once it has an
 * allocation, attach() gives it a connection of its own (the connected
 * per-client socket of decision 1), owned by the allocation.
 */
#ifndef TWIST_RELAY_CONN_H
#define TWIST_RELAY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct conn;
struct worker;
struct allocation;
struct tcpr_conn;
struct twist_flow;

/* Where an answer sent later goes (sync before answer, decision 5). */
struct conn_return {
	int fd;
	struct tw_addr dst;
};

struct conn_ops {
	const char *name;  /* "udp", "tcp": logs and metrics */
	uint8_t transport; /* STUN_PROTO_*: the allocation key's transport */
	bool stream;       /* a byte stream: ChannelData padded (RFC 8656 §12.5),
	                    * and input frames do not outlive their callback */
	bool replicates;   /* allocations survive a failover (decision 8) */
	bool fastpath;     /* plain ChannelData datagrams the TC fast path may carry
	                    * (relay/fastpath.h): never an encrypted transport */
	/* A control message (response, indication): sent or copied now. */
	int (*send)(struct conn *c, const void *buf, size_t len);
	/*
	 * Relayed data for the client: pkt stays valid until tx_flush, so a
	 * datagram transport may queue it without a copy; pad zero bytes
	 * follow it on a stream. -ENOBUFS when the client does not keep up.
	 */
	int (*send_data)(struct conn *c, const uint8_t *pkt, size_t len, size_t pad);
	/* The connection a's client side lives on from now; NULL on failure. */
	struct conn *(*attach)(struct conn *c, struct allocation *a);
	/* a is closing: the connection lets go of it. */
	void (*detach)(struct conn *c);
	/* a's memory goes: free a connection that a owned (may be NULL). */
	void (*release)(struct conn *c);
	/* Fills where a later answer goes; false if this transport cannot. */
	bool (*return_path)(const struct conn *c, struct conn_return *rp);
	/* The standby's side: a connection for an imported a whose client
	 * has not been heard from here (replicating transports only). */
	struct conn *(*restore)(struct worker *w, struct allocation *a);
	/*
	 * RFC 5780 (optional; NULL is "never"): the address an answer leaves
	 * from when CHANGE-REQUEST asks for change (STUN_CHANGE_* bits; 0 is
	 * the socket the request came on), and sending it from there to the
	 * client's IP at port (RESPONSE-PORT; 0 is the client's own port).
	 * -EOPNOTSUPP when the connection has no alternate address.
	 */
	int (*alt_addr)(const struct conn *c, unsigned change, struct tw_addr *from);
	int (*send_alt)(struct conn *c, unsigned change, uint16_t port, const void *buf,
	                size_t len);
};

struct conn {
	const struct conn_ops *ops;
	struct worker *w;
	struct tw_addr client, local;
	struct allocation *a; /* the 5-tuple's allocation, or NULL */
	bool authed;          /* a request passed long-term authentication on it
	                       * (set by the TURN core; transports loosen caps) */
	bool binding_only;    /* an RFC 5780 alternate socket: no TURN on it */
	/* RFC 6062 ConnectionBind answered: the transport stops framing and
	 * hands its byte stream to this TCP relay connection (tcp_relay.h). */
	struct tcpr_conn *tcpr_bind;
	/* A ConnectionBind whose id another worker owns: that worker's index
	 * + 1; the transport hands the connection over, the request unread. */
	unsigned tcpr_owner;
	bool tcpr_moved; /* handed over once already: never again */
	/* The TWIST flow whose client 5-tuple this is (relay/twist_flow.h). */
	struct twist_flow *tw;
};

/* The transport whose allocation keys carry this STUN_PROTO_* number, or NULL. */
const struct conn_ops *conn_ops_for(uint8_t transport);

#endif
