/*
 * WebSocket framing (RFC 6455 §5), server side. The header is taken one
 * byte at a time into a small buffer, and each check runs as soon as the
 * bytes it needs are there, before any payload is stored: so an error is
 * reported at the same byte however the input is split, and a message
 * that cannot fit is refused (1009) from its header alone.
 */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/ws_frame.h"

void ws_rx_init(struct ws_rx *rx, uint8_t *msg, size_t cap)
{
	memset(rx, 0, sizeof(*rx));
	rx->msg = msg;
	rx->cap = cap;
	rx->hdr_need = 2;
}

const char *ws_ev_name(enum ws_ev_kind k)
{
	switch (k) {
	case WS_EV_NONE:
		return "none";
	case WS_EV_DATA:
		return "data";
	case WS_EV_PING:
		return "ping";
	case WS_EV_PONG:
		return "pong";
	case WS_EV_CLOSE:
		return "close";
	case WS_EV_ERROR:
		return "error";
	}
	return "unknown";
}

/*
 * RFC 6455 §7.4.1 and §7.4.2, with the IANA registry's 1012..1014: 1004,
 * 1005, 1006 and 1015 are never sent on the wire, and 3000..4999 belong
 * to libraries and applications.
 */
bool ws_close_code_valid(uint16_t code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* Length of the UTF-8 sequence led by b, or 0 if b cannot lead one. */
static size_t utf8_seq_len(uint8_t b)
{
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

/*
 * Strict UTF-8 (RFC 3629 §4): no overlong forms, no surrogates, nothing
 * above U+10FFFF. Written here because only close reasons need it and no
 * library the relay links offers it.
 */
bool ws_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq_len(p[i]);
		uint8_t lo = 0x80, hi = 0xbf;

		if (n == 0 || len - i < n)
			return false;
		/* The second byte's range is what rules out overlongs and surrogates. */
		if (p[i] == 0xe0)
			lo = 0xa0;
		else if (p[i] == 0xed)
			hi = 0x9f;
		else if (p[i] == 0xf0)
			lo = 0x90;
		else if (p[i] == 0xf4)
			hi = 0x8f;
		for (size_t k = 1; k < n; k++) {
			if (p[i + k] < lo || p[i + k] > hi)
				return false;
			lo = 0x80;
			hi = 0xbf;
		}
		i += n;
	}
	return true;
}

static bool op_is_control(uint8_t op)
{
	return op & 0x8;
}

static void event(struct ws_event *ev, enum ws_ev_kind kind, const uint8_t *data, size_t len,
                  uint16_t code)
{
	ev->kind = kind;
	ev->data = data;
	ev->len = len;
	ev->code = code;
}

static void fail(struct ws_rx *rx, struct ws_event *ev, uint16_t code)
{
	rx->st = WS_RX_DONE;
	event(ev, WS_EV_ERROR, NULL, 0, code);
}

/* Checks on the first two bytes (RFC 6455 §5.2, §5.4, §5.5); 0 or a close code. */
static uint16_t hdr_first(struct ws_rx *rx)
{
	uint8_t b0 = rx->hdr[0], b1 = rx->hdr[1], len7 = b1 & 0x7f;

	rx->fin = b0 & 0x80;
	rx->op = b0 & 0x0f;
	/* No extension is ever negotiated, so no RSV bit may be set. */
	if (b0 & 0x70)
		return WS_CLOSE_PROTOCOL;
	/* §5.1: a server closes on an unmasked client frame. */
	if (!(b1 & 0x80))
		return WS_CLOSE_PROTOCOL;
	switch (rx->op) {
	case WS_OP_CONT:
		if (!rx->in_msg)
			return WS_CLOSE_PROTOCOL;
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (rx->in_msg)
			return WS_CLOSE_PROTOCOL;
		if (rx->op == WS_OP_TEXT)
			return WS_CLOSE_DATA;
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!rx->fin || len7 > WS_CTRL_MAX)
			return WS_CLOSE_PROTOCOL;
		break;
	default:
		return WS_CLOSE_PROTOCOL;
	}
	rx->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
	return 0;
}

/* The length (minimal encodings only, §5.2), the mask key, and the size cap. */
static uint16_t hdr_rest(struct ws_rx *rx)
{
	uint8_t len7 = rx->hdr[1] & 0x7f;
	struct cur c;

	cur_init(&c, rx->hdr + 2, rx->hdr_need - 2);
	if (len7 == 126) {
		uint16_t v = 0;

		cur_get_u16(&c, &v);
		if (v < 126)
			return WS_CLOSE_PROTOCOL;
		rx->plen = v;
	} else if (len7 == 127) {
		cur_get_u64(&c, &rx->plen);
		if (rx->plen >> 63 || rx->plen <= 0xffff)
			return WS_CLOSE_PROTOCOL;
	} else {
		rx->plen = len7;
	}
	cur_get_bytes(&c, rx->mask, 4);
	if (rx->op == WS_OP_BINARY)
		rx->msg_len = 0;
	if (!op_is_control(rx->op) && rx->plen > rx->cap - rx->msg_len)
		return WS_CLOSE_TOO_BIG;
	return 0;
}

/* A close frame's body: nothing, or a valid code and a UTF-8 reason (§5.5.1). */
static void close_done(struct ws_rx *rx, struct ws_event *ev)
{
	size_t n = (size_t)rx->plen;
	uint16_t code;

	if (n == 0) {
		rx->st = WS_RX_DONE;
		event(ev, WS_EV_CLOSE, rx->ctrl, 0, WS_CLOSE_NO_STATUS);
		return;
	}
	code = n >= 2 ? peek_u16(rx->ctrl) : 0;
	if (!ws_close_code_valid(code))
		fail(rx, ev, WS_CLOSE_PROTOCOL);
	else if (!ws_utf8_valid(rx->ctrl + 2, n - 2))
		fail(rx, ev, WS_CLOSE_UTF8);
	else
		event(ev, WS_EV_CLOSE, rx->ctrl + 2, n - 2, code);
	rx->st = WS_RX_DONE;
}

static void frame_done(struct ws_rx *rx, struct ws_event *ev)
{
	rx->st = WS_RX_HDR;
	rx->hdr_have = 0;
	rx->hdr_need = 2;
	switch (rx->op) {
	case WS_OP_CONT:
	case WS_OP_BINARY:
		rx->msg_len += (size_t)rx->plen;
		rx->in_msg = !rx->fin;
		if (rx->fin)
			event(ev, WS_EV_DATA, rx->msg, rx->msg_len, 0);
		break;
	case WS_OP_PING:
		event(ev, WS_EV_PING, rx->ctrl, (size_t)rx->plen, 0);
		break;
	case WS_OP_PONG:
		event(ev, WS_EV_PONG, rx->ctrl, (size_t)rx->plen, 0);
		break;
	default:
		close_done(rx, ev);
		break;
	}
}

static void hdr_byte(struct ws_rx *rx, uint8_t b, struct ws_event *ev)
{
	uint16_t code = 0;

	rx->hdr[rx->hdr_have++] = b;
	if (rx->hdr_have == 2)
		code = hdr_first(rx);
	if (!code && rx->hdr_have == rx->hdr_need) {
		code = hdr_rest(rx);
		rx->st = WS_RX_PAYLOAD;
		rx->pgot = 0;
	}
	if (code)
		fail(rx, ev, code);
	else if (rx->st == WS_RX_PAYLOAD && rx->plen == 0)
		frame_done(rx, ev);
}

/* Copies and unmasks (§5.3) what is there of the payload; returns the bytes taken. */
static size_t payload(struct ws_rx *rx, const uint8_t *buf, size_t len, struct ws_event *ev)
{
	uint8_t *dst = op_is_control(rx->op) ? rx->ctrl : rx->msg + rx->msg_len;
	uint64_t left = rx->plen - rx->pgot;
	size_t n = left < len ? (size_t)left : len;

	dst += rx->pgot;
	memcpy(dst, buf, n);
	for (size_t k = 0; k < n; k++)
		dst[k] ^= rx->mask[(rx->pgot + k) & 3];
	rx->pgot += n;
	if (rx->pgot == rx->plen)
		frame_done(rx, ev);
	return n;
}

size_t ws_rx_next(struct ws_rx *rx, const uint8_t *buf, size_t len, struct ws_event *ev)
{
	size_t i = 0;

	event(ev, WS_EV_NONE, NULL, 0, 0);
	while (i < len && rx->st != WS_RX_DONE && ev->kind == WS_EV_NONE) {
		if (rx->st == WS_RX_HDR)
			hdr_byte(rx, buf[i++], ev);
		else
			i += payload(rx, buf + i, len - i, ev);
	}
	return i;
}

int ws_frame_hdr_write(uint8_t *out, size_t cap, enum ws_op op, size_t plen)
{
	size_t n = plen < 126 ? 2 : plen <= 0xffff ? 4 : 10;

	if (op_is_control(op) && plen > WS_CTRL_MAX)
		return -EINVAL;
	if (cap < n)
		return -ENOSPC;
	out[0] = (uint8_t)(0x80 | op);
	if (n == 2) {
		out[1] = (uint8_t)plen;
	} else if (n == 4) {
		out[1] = 126;
		put_u16(out + 2, (uint16_t)plen);
	} else {
		out[1] = 127;
		put_u32(out + 2, (uint32_t)((uint64_t)plen >> 32));
		put_u32(out + 6, (uint32_t)plen);
	}
	return (int)n;
}

long ws_frame_write(uint8_t *out, size_t cap, enum ws_op op, const uint8_t *p, size_t plen)
{
	int n = ws_frame_hdr_write(out, cap, op, plen);

	if (n < 0)
		return n;
	if (cap - (size_t)n < plen)
		return -ENOSPC;
	if (plen)
		memcpy(out + n, p, plen);
	return (long)((size_t)n + plen);
}

int ws_close_write(uint8_t *out, size_t cap, uint16_t code, const char *reason)
{
	uint8_t body[WS_CTRL_MAX];
	size_t rlen = reason ? strlen(reason) : 0;

	if (rlen > WS_CTRL_MAX - 2 || !ws_close_code_valid(code) ||
	    !ws_utf8_valid((const uint8_t *)reason, rlen))
		return -EINVAL;
	put_u16(body, code);
	if (rlen)
		memcpy(body + 2, reason, rlen);
	return (int)ws_frame_write(out, cap, WS_OP_CLOSE, body, rlen + 2);
}
