/*
 * TURN over TCP client connections (RFC 8656 §3.1), and over TLS (§3.2:
 * the same connection reading through a TLS bufferevent). tcp.c: one connection,
 * its backpressure and deadlines; tcp_accept.c: listeners, the caps checked
 * at accept, and the back-off when descriptors run out.
 */
#ifndef TWIST_RELAY_TCP_H
#define TWIST_RELAY_TCP_H

#include "relay/conn.h"
#include "relay/relay.h"

/*
 * Output queued for one client, at most; data beyond it is dropped
 * (counted as tcp_backpressure). Reading from the client stops at a
 * quarter of it and resumes once an eighth is left, so a client that does
 * not read its answers stops being read (the libevent le-proxy lesson).
 */
#define TCP_OUT_MAX        (1u << 20)
#define TCP_OUT_MAX_UNAUTH (16u << 10) /* before authentication: a few answers */

/*
 * What a stream listener serves: one kind per listen entry (config_check
 * refuses two entries on one address and port). The shared kinds decide
 * per connection (docs/websocket.md §3).
 */
enum stream_kind {
	STREAM_TCP,
	STREAM_TLS,     /* TURN over TLS (relay/tls.h), with w->r->tls */
	STREAM_WS,      /* TURN over WebSocket (relay/ws.h) */
	STREAM_WSS,     /* TURN over WebSocket over TLS */
	STREAM_TCP_WS,  /* tcp or ws: the first byte decides */
	STREAM_TLS_WSS, /* tls or wss: ALPN decides, else the first byte inside TLS */
};

/* The kind a listen entry's stream transports make (config_check allowed them). */
enum stream_kind tcp_listen_kind(const struct cfg_listen *l);
const char *stream_kind_name(enum stream_kind kind);
int tcp_listen(struct worker *w, const struct tw_addr *addr, enum stream_kind kind);
/* Closes every connection, then the listeners. */
void tcp_close_all(struct worker *w);
void tcp_listen_close_all(struct worker *w);
const struct conn_ops *tcp_conn_ops(void);

/* tcp_accept.c hands over an accepted socket that connlimit counted; 0 or -1. */
int tcp_conn_open(struct worker *w, int fd, const struct tw_addr *client, enum stream_kind kind);
/* A plain TCP client connection another worker handed over (tcp_handover.h). */
struct tcp_handover;
void tcp_conn_adopt(struct worker *w, const struct tcp_handover *h);
/* Frees a connection as the relay closes it, counting why. */
void tcp_conn_close(struct tcp_conn *tc, enum conn_close why);

/*
 * For transports layered on a TCP connection (relay/ws.c): queue pre,
 * then pkt, then pad zero bytes, all or nothing, under the connection's
 * output cap (-ENOBUFS); and the TCP conn's attach and detach.
 */
int tcp_conn_out(struct conn *c, const void *pre, size_t plen, const void *pkt, size_t len,
                 size_t pad);
/* 0 if c can become an RFC 6062 data connection (plain TCP), or -EOPNOTSUPP. */
int tcp_conn_bindable(const struct conn *c);
struct conn *tcp_conn_attach(struct conn *c, struct allocation *a);
void tcp_conn_detach(struct conn *c);

#endif
