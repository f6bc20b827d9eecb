/*
 * TURN over DTLS (RFC 7350): a UDP listener whose datagrams are DTLS 1.2
 * records. Unknown sources get only a stateless cookie exchange (RFC 6347
 * §4.2.1): no session is made, and nothing bigger than the ClientHello is
 * sent, until the client proves it receives at its address. A session is
 * then a conn (relay/conn.h) whose plaintext datagrams are STUN and
 * ChannelData messages, as on UDP.
 *
 * One socket per listener and worker, demultiplexed by the client's
 * address in a per-worker table (SO_REUSEPORT keeps a client on one
 * worker). Not a connected socket per session as UDP allocations have:
 * DTLS already costs a session object per client, its allocation is not
 * replicated, and one socket keeps the cookie step from binding anything.
 */
#ifndef TWIST_RELAY_DTLS_H
#define TWIST_RELAY_DTLS_H

#include "relay/conn.h"
#include "relay/relay.h"

#define DTLS_HANDSHAKE_S 10   /* a handshake past the cookie must finish within this */
#define DTLS_IDLE_S      60   /* a session without an allocation may idle this long */
#define DTLS_MTU         1200 /* records fit in this without path MTU discovery */

/* The worker's dtls listener on addr (a dtls transport entry); 0 or -errno. */
int dtls_listen(struct worker *w, const struct tw_addr *addr);
/* Each second: handshake retransmissions and deadlines, idle sessions. */
void dtls_sweep(struct worker *w);
/* Closes every session, then the listeners. */
void dtls_close_all(struct worker *w);

#endif
