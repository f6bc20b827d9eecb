/*
 * TURN over WebSocket client connections (draft-chenxin-behave-turn-
 * websocket, docs/websocket.md). A ws connection is a TCP connection
 * (relay/tcp.c: caps, backpressure, deadlines, allocation ownership)
 * whose bytes pass through this layer: first the opening handshake, then
 * WebSocket frames, whose binary payloads join the TURN stream framing
 * (relay/stream.h). Built on the connection's bufferevent only, so the
 * stream below may later be TLS (wss).
 */
#ifndef TWIST_RELAY_WS_H
#define TWIST_RELAY_WS_H

#include "relay/conn.h"
#include "relay/relay.h"

struct evbuffer;
struct stream;
struct ws_conn;

/*
 * The ops of a ws connection ("ws", or "wss" over TLS): the TCP conn's
 * own with framed sends.
 */
const struct conn_ops *ws_conn_ops(bool tls);

/* Per-connection state; nothing large until the handshake is accepted. */
struct ws_conn *ws_conn_new(void);
void ws_conn_free(struct ws_conn *ws, struct worker *w);

/*
 * Consumes what arrived in `in`. Returns 0, or a close reason as a
 * negative number once the connection must close; the refusal or close
 * frame is queued by then and the caller flushes it before closing.
 */
int ws_conn_input(struct ws_conn *ws, struct conn *c, struct stream *st, struct evbuffer *in);

/* The opening handshake has been accepted: frames follow. */
bool ws_conn_open(const struct ws_conn *ws);
/* The connection changes workers (RFC 6062 hand-over): its gauge follows. */
void ws_conn_move(struct ws_conn *ws, struct worker *from, struct worker *to);

/*
 * RFC 6062 over WebSocket (docs/websocket.md §1): a bound data connection.
 * pipe_in unwraps the client's frames from `in`: binary payloads (and
 * any bytes behind the ConnectionBind) go to to_peer; a pong, or the
 * close frame that ends it, to to_client. 0, or a close reason as a
 * negative number once the pipe must close (counted like a control
 * connection's). pipe_out wraps all of from_peer as one binary message
 * to to_client; 0 or -errno.
 */
int ws_conn_pipe_in(struct ws_conn *ws, struct worker *w, struct evbuffer *in,
                    struct evbuffer *to_peer, struct evbuffer *to_client);
int ws_conn_pipe_out(struct evbuffer *from_peer, struct evbuffer *to_client);
/* The peer closed: a close frame (1000) follows its last bytes. */
void ws_conn_pipe_end(struct evbuffer *to_client);

#endif
