/*
 * RFC 6062 TCP relay allocations: the peer data connections of an
 * allocation made with REQUESTED-TRANSPORT TCP (relay/tcp_relay.c).
 */
#ifndef TWIST_RELAY_TCP_RELAY_H
#define TWIST_RELAY_TCP_RELAY_H

#include <stdbool.h>
#include <stdint.h>

struct allocation;
struct bufferevent;
struct dp_handle;
struct tcpr_conn;
struct worker;
struct ws_conn;

/* The allocation's listening relayed address is readable: accept peers. */
bool tcp_relay_readable(struct worker *w, struct dp_handle *h);
/* The connection with this CONNECTION-ID on w, or NULL. */
struct tcpr_conn *tcp_relay_find(struct worker *w, uint32_t id);
/* After a ConnectionBind answered on it: the data connection's bufferevent
 * is t's client side from now on, a raw byte pipe to the peer; ws (taken
 * over, or NULL): a WebSocket data connection, its bytes framed. */
void tcp_relay_take(struct tcpr_conn *t, struct bufferevent *bev, struct ws_conn *ws);
/* Connect timeouts (447) and unbound ids past 30 s (RFC 6062 §5.3). */
void tcp_relay_sweep(struct allocation *a, uint64_t now);
/* The allocation is closing: so are all its connections. */
void tcp_relay_close_all(struct allocation *a);

#endif
