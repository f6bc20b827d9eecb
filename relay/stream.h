/*
 * The framing stage shared by stream transports (TCP today; TLS and
 * WebSocket feed it too): STUN messages and ChannelData over a byte
 * stream, RFC 8656 §12.5 (ChannelData padded to 4 bytes). It knows nothing
 * of sockets: a transport hands it the buffer its bytes arrived in, and
 * asks it when the connection must be closed if nothing else happens.
 *
 * Deadlines a slow client cannot push back (docs/operations.md, "Hostile
 * clients: TCP"): a frame must be complete within limits.tcp_frame_
 * deadline_ms of its first byte, the first complete frame must come within
 * limits.tcp_request_deadline_ms of accept, and an authenticated request
 * within limits.tcp_auth_deadline_ms. Trickled bytes extend none of them.
 */
#ifndef TWIST_RELAY_STREAM_H
#define TWIST_RELAY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/stats.h"

struct conn;
struct evbuffer;

#define STREAM_MAX_FRAME (20 + 65535) /* a STUN header and the largest body */
/*
 * Before authentication a frame may announce no more than this: an
 * Allocate with every attribute a client sends fits in well under 1 KiB,
 * and ChannelData means nothing without an allocation.
 */
#define STREAM_MAX_FRAME_UNAUTH 2048

/* The stage's state, kept in the connection (a resumable parser). */
struct stream {
	uint64_t opened_ms;      /* accepted */
	uint64_t frame_since_ms; /* first byte of the unfinished frame; 0 = none */
	bool had_frame;          /* a complete frame has arrived */
};

void stream_init(struct stream *s, uint64_t now_ms);

/*
 * Hands every complete frame in `in` to the TURN core and drains it.
 * Returns 0, or the close reason as a negative number (-CLOSE_BAD_FRAME,
 * -CLOSE_FRAME_UNAUTH): a stream cannot resynchronise, so the caller
 * closes. The frame's drop is counted here.
 */
int stream_input(struct stream *s, struct conn *c, struct evbuffer *in);

/*
 * When the connection must close (monotonic ms) if nothing changes, and
 * why; 0 when no deadline runs (authenticated and no frame pending).
 */
uint64_t stream_deadline(const struct stream *s, const struct conn *c, enum conn_close *why);

#endif
