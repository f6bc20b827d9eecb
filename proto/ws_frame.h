/*
 * WebSocket framing (RFC 6455 §5) on the server side: an incremental parser
 * for client frames that reassembles messages into a caller buffer, and a
 * writer for server frames. No I/O and no allocation.
 */
#ifndef TWIST_PROTO_WS_FRAME_H
#define TWIST_PROTO_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_op {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

/* Close codes (RFC 6455 §7.4.1) that twist sends. */
#define WS_CLOSE_NORMAL     1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL   1002
#define WS_CLOSE_DATA       1003 /* a text frame: TURN is binary */
#define WS_CLOSE_NO_STATUS  1005 /* reported, never sent: a close without a code */
#define WS_CLOSE_UTF8       1007
#define WS_CLOSE_TOO_BIG    1009

#define WS_CTRL_MAX    125              /* RFC 6455 §5.5 */
#define WS_HDR_MAX     14               /* 2 + 8 of length + 4 of mask */
#define WS_MSG_DEFAULT (65536 + 4 + 16) /* a TCP-framed STUN message and then some */

enum ws_ev_kind {
	WS_EV_NONE,  /* all input consumed, no event yet: feed more */
	WS_EV_DATA,  /* a whole binary message in data/len */
	WS_EV_PING,  /* answer with a pong carrying data/len */
	WS_EV_PONG,  /* nothing to do */
	WS_EV_CLOSE, /* the peer closed with code (1005: none) and reason: echo, then finish */
	WS_EV_ERROR, /* fail the connection: send a close with code, then finish */
};

struct ws_event {
	enum ws_ev_kind kind;
	const uint8_t *data; /* DATA: the caller's buffer; PING/PONG/CLOSE reason: rx's own */
	size_t len;
	uint16_t code;
};

enum ws_rx_state {
	WS_RX_HDR,
	WS_RX_PAYLOAD,
	WS_RX_DONE, /* after CLOSE or ERROR: nothing more is read */
};

struct ws_rx {
	uint8_t *msg; /* reassembly buffer, the caller's */
	size_t cap;
	enum ws_rx_state st;
	uint8_t hdr[WS_HDR_MAX];
	size_t hdr_have, hdr_need;
	uint8_t op; /* this frame's opcode */
	bool fin;
	uint8_t mask[4];
	uint64_t plen, pgot;
	bool in_msg; /* a fragmented binary message is open */
	size_t msg_len;
	uint8_t ctrl[WS_CTRL_MAX];
};

/* msg/cap: where messages are reassembled; a longer message gets 1009. */
void ws_rx_init(struct ws_rx *rx, uint8_t *msg, size_t cap);

/*
 * Reads frames from buf until one event is ready or buf is used up.
 * Returns the bytes consumed; the caller drops them and calls again with
 * the rest (and later bytes), after handling ev. Event data stays valid
 * until the next call. Payload is unmasked in the reassembly buffer; any
 * split of the same bytes gives the same events. After CLOSE or ERROR,
 * ws_rx_done() is true and nothing more is consumed.
 */
size_t ws_rx_next(struct ws_rx *rx, const uint8_t *buf, size_t len, struct ws_event *ev);

static inline bool ws_rx_done(const struct ws_rx *rx)
{
	return rx->st == WS_RX_DONE;
}

const char *ws_ev_name(enum ws_ev_kind k);

/* RFC 6455 §7.4: whether a close frame may carry code. */
bool ws_close_code_valid(uint16_t code);
bool ws_utf8_valid(const uint8_t *p, size_t len);

/* The header of an unmasked server frame with FIN set: its length, or -ENOSPC/-EINVAL. */
int ws_frame_hdr_write(uint8_t *out, size_t cap, enum ws_op op, size_t plen);
/* A whole server frame: header and payload. */
long ws_frame_write(uint8_t *out, size_t cap, enum ws_op op, const uint8_t *p, size_t plen);
/* A close frame with code and reason (NULL, or at most 123 bytes of UTF-8). */
int ws_close_write(uint8_t *out, size_t cap, uint16_t code, const char *reason);

#endif
