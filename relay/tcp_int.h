/*
 * Inside the stream transport: struct tcp_conn and what relay/tcp.c and
 * relay/tcp_data.c (RFC 6062 data connections) share. Nobody else.
 */
#ifndef TWIST_RELAY_TCP_INT_H
#define TWIST_RELAY_TCP_INT_H

#include <stdbool.h>

#include "relay/stream.h"
#include "relay/tcp.h"

struct bufferevent;
struct ssl_st;
struct ws_conn;

/* A TURN-over-TCP client (RFC 8656 §3.1): it owns its allocation. */
struct tcp_conn {
	struct conn c;
	struct bufferevent *bev;
	struct event *deadline; /* stream_deadline(), armed for deadline_ms */
	uint64_t deadline_ms;   /* 0 = not armed */
	struct stream st;
	bool counted_authed; /* connlimit knows it authenticated */
	bool paused;         /* reading stopped until the output drains */
	struct ws_conn *ws;  /* TURN over WebSocket: its bytes go through ws.c first */
	int linger;          /* closing once the output drains: enum conn_close + 1 */
	bool handshaking;    /* TLS: the handshake has not completed yet */
	bool tls;            /* reads through a TLS bufferevent */
	bool undecided;      /* shared port: TURN or WebSocket not known yet */
	bool moved;          /* handed to another worker: connlimit's count went along */
	struct tcp_conn *next, *prev;
};

/* A connection on fd, on w's loop; NULL (fd closed) if it cannot be had.
 * ssl: an established session another worker handed over with fd, or NULL. */
struct tcp_conn *tcp_conn_new(struct worker *w, int fd, const struct tw_addr *client,
                              enum stream_kind kind, struct ssl_st *ssl);
void tcp_conn_free(struct tcp_conn *tc);
void tcp_read_cb(struct bufferevent *bev, void *arg);
void tcp_set_notsent(struct tcp_conn *tc, int bytes);
/* TCP or TLS (not yet, or never, a WebSocket). */
bool tcp_conn_plain(const struct conn *c);
/* tcp_data.c: the ConnectionBind was answered; the connection becomes a pipe. */
void tcp_conn_handoff(struct tcp_conn *tc);
/* tcp_data.c: the ConnectionBind names another worker's id; the connection goes there. */
void tcp_conn_hand_over(struct tcp_conn *tc);

#endif
