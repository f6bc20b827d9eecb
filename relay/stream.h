/*
 * The framing stage shared by stream transports (TCP today; TLS and
 * WebSocket feed it too): STUN messages and ChannelData over a byte
 * stream, RFC 8656 §12.5 (ChannelData padded to 4 bytes). It knows nothing
 * of sockets: a transport hands it the buffer its bytes arrived in.
 */
#ifndef TWIST_RELAY_STREAM_H
#define TWIST_RELAY_STREAM_H

#include <stddef.h>

struct conn;
struct evbuffer;

#define STREAM_MAX_FRAME (20 + 65535) /* a STUN header and the largest body */

/*
 * Hands every complete frame in `in` to the TURN core and drains it.
 * -EPROTO when the framing is lost (not STUN, not ChannelData, or too
 * long): a stream cannot resynchronise, so the caller closes.
 */
int stream_input(struct conn *c, struct evbuffer *in);

#endif
