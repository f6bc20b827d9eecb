/*
 * RFC 6062 data connections moving between workers: a ConnectionBind read
 * on one worker names a CONNECTION-ID that another worker owns, so the
 * socket and the bytes already read from it go to that worker's inbox.
 */
#ifndef TWIST_RELAY_TCP_HANDOVER_H
#define TWIST_RELAY_TCP_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/netaddr.h"

struct ssl_st;
struct worker;
struct ws_conn;

struct tcp_handover {
	struct tcp_handover *next;
	int fd;
	struct ssl_st *ssl; /* TLS: the established session; in and out are plaintext */
	struct ws_conn *ws; /* ws/wss: the framing state, holding the unread request */
	struct tw_addr client;
	bool counted_authed; /* connlimit's count of it moves along */
	size_t in_len;       /* unread input (the ConnectionBind first), then */
	size_t out_len;      /* output not yet written, in data[] */
	uint8_t data[];
};

int tcp_handover_init(struct worker *w);
/* Closes what is still queued: the workers have stopped. */
void tcp_handover_fini(struct worker *w);
/* From any thread: to adopts h (tcp_conn_adopt) in its own loop. */
void tcp_handover_post(struct worker *to, struct tcp_handover *h);

#endif
