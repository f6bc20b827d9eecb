/*
 * TURN over WebSocket (docs/websocket.md), plain ws: a TCP conn (tcp.c)
 * whose input goes through the RFC 6455 handshake and framing
 * (proto/ws_*.c) before the TURN stream framing, and whose every STUN or
 * ChannelData message leaves as one binary WebSocket message.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/stun.h"
#include "proto/ws_frame.h"
#include "proto/ws_handshake.h"
#include "relay/stream.h"
#include "relay/tcp.h"
#include "relay/ws.h"

/* Reassembly buffer before authentication (see grow()). */
#define WS_MSG_UNAUTH (2 * STREAM_MAX_FRAME_UNAUTH)

_Static_assert(WS_REFUSE_N == WS_HS_NREFUSALS, "stats.h WS_REFUSE_N is out of date");

struct ws_conn {
	struct ws_hs hs;
	struct ws_rx rx;
	uint8_t *msg;            /* reassembly buffer; NULL until the handshake is accepted */
	size_t cap;              /* its size: WS_MSG_UNAUTH until the client authenticates */
	struct evbuffer *stream; /* binary payloads not yet framed as TURN */
};

struct ws_conn *ws_conn_new(void)
{
	struct ws_conn *ws = calloc(1, sizeof(*ws));

	if (!ws)
		return NULL;
	ws_hs_init(&ws->hs);
	return ws;
}

void ws_conn_free(struct ws_conn *ws, struct worker *w)
{
	if (!ws)
		return;
	if (ws->msg)
		STAT_ADD(&w->st, ws_conns, -1);
	if (ws->stream)
		evbuffer_free(ws->stream);
	free(ws->msg);
	free(ws);
}

/* The websocket.origins list; empty allows all. No Origin: not a browser. */
static bool origin_ok(void *arg, const char *origin, size_t len)
{
	const struct config *cfg = arg;

	if (!origin || cfg->n_ws_origins == 0)
		return true;
	for (unsigned i = 0; i < cfg->n_ws_origins; i++)
		if (strlen(cfg->ws_origins[i]) == len &&
		    strncasecmp(cfg->ws_origins[i], origin, len) == 0)
			return true;
	return false;
}

static int refuse(struct conn *c, enum ws_hs_refusal why)
{
	char out[WS_HS_RESPONSE_MAX];
	int n = ws_hs_refusal_write(why, out, sizeof(out));

	STAT_INC(&c->w->st, ws_refused[why]);
	if (n > 0)
		tcp_conn_out(c, NULL, 0, out, (size_t)n, 0);
	return -CLOSE_WS_REFUSED;
}

/*
 * The opening handshake (docs/websocket.md §4): 0 while it is incomplete,
 * 1 once accepted (what follows it in `in` is frames), or a close reason.
 * The head is read under websocket.max_header; its deadline is the
 * stream's first-request deadline, which no trickled byte extends.
 */
static int handshake(struct ws_conn *ws, struct conn *c, struct evbuffer *in)
{
	const struct config *cfg = &c->w->r->cfg;
	struct ws_hs_cfg hc = {
	        .path = cfg->ws_path,
	        .max_hdr = cfg->ws_max_header,
	        .origin_ok = origin_ok,
	        .origin_arg = (void *)cfg,
	};
	size_t n = evbuffer_get_length(in);
	char out[WS_HS_RESPONSE_MAX];
	const uint8_t *buf;
	long hlen;
	int k;

	if (n > cfg->ws_max_header)
		n = cfg->ws_max_header;
	buf = evbuffer_pullup(in, (ev_ssize_t)n);
	if (!buf)
		return n ? -CLOSE_WS_REFUSED : 0;
	hlen = ws_hs_parse(&ws->hs, &hc, buf, n);
	if (hlen == -EAGAIN)
		return 0;
	if (hlen < 0)
		return refuse(c, ws->hs.why);
	/* The reply quotes the key, which points into `in`: written before draining. */
	k = ws_hs_accept_write(&ws->hs, out, sizeof(out));
	ws->cap = cfg->ws_max_message < WS_MSG_UNAUTH ? cfg->ws_max_message : WS_MSG_UNAUTH;
	ws->msg = malloc(ws->cap);
	ws->stream = evbuffer_new();
	if (k < 0 || !ws->msg || !ws->stream || tcp_conn_out(c, NULL, 0, out, (size_t)k, 0) < 0) {
		free(ws->msg);
		ws->msg = NULL;
		return -CLOSE_WS_REFUSED;
	}
	evbuffer_drain(in, (size_t)hlen);
	ws_rx_init(&ws->rx, ws->msg, ws->cap);
	STAT_INC(&c->w->st, ws_upgraded);
	STAT_ADD(&c->w->st, ws_conns, 1);
	return 1;
}

/*
 * docs/websocket.md §2: a ChannelData message that ends exactly where its
 * WebSocket message ends is complete without its padding, for clients
 * that treat messages as datagrams.
 */
static bool pad_unpadded_tail(struct evbuffer *s)
{
	static const uint8_t zeros[4];
	size_t have = evbuffer_get_length(s), n;
	uint8_t h[4];

	if (have < sizeof(h) || evbuffer_copyout(s, h, sizeof(h)) != sizeof(h))
		return false;
	if ((h[0] & 0xc0) != 0x40) /* RFC 7983: 64..127 is ChannelData */
		return false;
	n = 4 + ((size_t)h[2] << 8 | h[3]);
	if (n != have || n % 4 == 0)
		return false;
	return evbuffer_add(s, zeros, 4 - n % 4) == 0;
}

/* A ConnectionBind was read (RFC 6062): what follows is not TURN frames. */
static bool binding(const struct conn *c)
{
	return c->tcpr_bind || c->tcpr_owner;
}

static int data(struct ws_conn *ws, struct conn *c, struct stream *st, const struct ws_event *ev)
{
	int rc;

	if (evbuffer_add(ws->stream, ev->data, ev->len) < 0)
		return -CLOSE_WS_ERROR;
	rc = stream_input(st, c, ws->stream);
	if (rc == 0 && !binding(c) && pad_unpadded_tail(ws->stream))
		rc = stream_input(st, c, ws->stream);
	return rc;
}

static enum ws_err err_slot(uint16_t code)
{
	switch (code) {
	case WS_CLOSE_PROTOCOL:
		return WS_ERR_PROTOCOL;
	case WS_CLOSE_DATA:
		return WS_ERR_DATA;
	case WS_CLOSE_UTF8:
		return WS_ERR_UTF8;
	case WS_CLOSE_TOO_BIG:
		return WS_ERR_TOO_BIG;
	}
	return WS_ERR_OTHER;
}

/* A close frame carrying code into out; 1005 ("none") is an empty close. */
static long close_frame(uint8_t out[WS_HDR_MAX + 2], uint16_t code)
{
	if (code == WS_CLOSE_NO_STATUS)
		return ws_frame_write(out, WS_HDR_MAX + 2, WS_OP_CLOSE, NULL, 0);
	return ws_close_write(out, WS_HDR_MAX + 2, code, NULL);
}

typedef int (*ws_out_fn)(void *arg, const uint8_t *buf, size_t len);

/*
 * Ping, close and error: the same rules on control and data connections.
 * Pongs are best effort: a client that does not read its output gets none.
 */
static int control(struct worker *w, const struct ws_event *ev, ws_out_fn out, void *arg)
{
	uint8_t f[WS_HDR_MAX + WS_CTRL_MAX];
	long n;

	switch (ev->kind) {
	case WS_EV_PING:
		n = ws_frame_write(f, sizeof(f), WS_OP_PONG, ev->data, ev->len);
		if (n > 0 && out(arg, f, (size_t)n) == 0)
			STAT_INC(&w->st, ws_pings);
		return 0;
	case WS_EV_CLOSE:
	case WS_EV_ERROR:
		n = close_frame(f, ev->code); /* RFC 6455 §5.5.1: echo, then close */
		if (n > 0)
			out(arg, f, (size_t)n);
		if (ev->kind == WS_EV_CLOSE)
			return -CLOSE_WS_CLOSED;
		STAT_INC(&w->st, ws_errors[err_slot(ev->code)]);
		return -CLOSE_WS_ERROR;
	case WS_EV_NONE:
	case WS_EV_PONG:
	case WS_EV_DATA:
		break;
	}
	return 0;
}

static int conn_out(void *arg, const uint8_t *buf, size_t len)
{
	return tcp_conn_out(arg, NULL, 0, buf, len, 0);
}

static int event(struct ws_conn *ws, struct conn *c, struct stream *st, const struct ws_event *ev)
{
	if (ev->kind == WS_EV_DATA)
		return data(ws, c, st, ev);
	return control(c->w, ev, conn_out, c);
}

/* A WebSocket frame or a TURN frame is unfinished. */
static bool busy(const struct ws_conn *ws)
{
	return ws->rx.st != WS_RX_HDR || ws->rx.hdr_have || ws->rx.in_msg ||
	       evbuffer_get_length(ws->stream);
}

/*
 * Once the client has authenticated, the reassembly buffer grows to
 * websocket.max_message. Before, the TURN framing refuses anything over
 * STREAM_MAX_FRAME_UNAUTH anyway, so idle or hostile connections that never
 * authenticate hold WS_MSG_UNAUTH each, not max_message. Between events
 * only: a message being reassembled keeps its bytes.
 */
static void grow_to(struct ws_conn *ws, size_t max)
{
	uint8_t *p;

	if (ws->cap >= max || !(p = realloc(ws->msg, max)))
		return; /* out of memory: the small buffer still works */
	ws->msg = ws->rx.msg = p;
	ws->cap = ws->rx.cap = max;
}

static void grow(struct ws_conn *ws, const struct conn *c)
{
	if (c->authed)
		grow_to(ws, c->w->r->cfg.ws_max_message);
}

static int frames(struct ws_conn *ws, struct conn *c, struct stream *st, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	struct ws_event ev;
	size_t used;
	int rc;

	while (evbuffer_get_length(in) && !ws_rx_done(&ws->rx)) {
		grow(ws, c);
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		used = ws_rx_next(&ws->rx, v.iov_base, v.iov_len, &ev);
		evbuffer_drain(in, used);
		rc = event(ws, c, st, &ev);
		if (rc < 0)
			return rc;
		if (binding(c))
			return 0; /* the rest is for the data connection's pipe */
		if (used == 0 && ev.kind == WS_EV_NONE)
			break;
	}
	/*
	 * The stream's frame deadline sees only TURN frames; a WebSocket frame
	 * trickled in byte by byte must not outlive it either.
	 */
	if (!busy(ws))
		st->frame_since_ms = 0;
	else if (!st->frame_since_ms)
		st->frame_since_ms = c->w->now_ms;
	return 0;
}

int ws_conn_input(struct ws_conn *ws, struct conn *c, struct stream *st, struct evbuffer *in)
{
	int rc;

	if (!ws->msg) {
		rc = handshake(ws, c, in);
		if (rc <= 0)
			return rc;
	}
	/* A ConnectionBind handed over by another worker waits unframed here. */
	if (evbuffer_get_length(ws->stream)) {
		rc = stream_input(st, c, ws->stream);
		if (rc < 0 || binding(c))
			return rc;
	}
	return frames(ws, c, st, in);
}

bool ws_conn_open(const struct ws_conn *ws)
{
	return ws->msg != NULL;
}

void ws_conn_move(struct ws_conn *ws, struct worker *from, struct worker *to)
{
	if (!ws)
		return;
	if (from)
		STAT_ADD(&from->st, ws_conns, -1);
	if (to)
		STAT_ADD(&to->st, ws_conns, 1);
}

/*
 * A bound data connection's control frames go straight to its output,
 * but no pong is queued behind WS_PIPE_CTRL_MAX of unsent bytes (over
 * the pipe's own cap, so a close frame always is).
 */
#define WS_PIPE_CTRL_MAX (1 << 20)

static int pipe_out(void *arg, const uint8_t *buf, size_t len)
{
	struct evbuffer *b = arg;

	if (evbuffer_get_length(b) >= WS_PIPE_CTRL_MAX)
		return -ENOBUFS;
	return evbuffer_add(b, buf, len);
}

/* Binary payloads are the peer's bytes; control frames keep their rules. */
static int pipe_event(struct worker *w, const struct ws_event *ev, struct evbuffer *to_peer,
                      struct evbuffer *to_client)
{
	if (ev->kind == WS_EV_DATA)
		return evbuffer_add(to_peer, ev->data, ev->len) < 0 ? -CLOSE_WS_ERROR : 0;
	return control(w, ev, pipe_out, to_client);
}

int ws_conn_pipe_in(struct ws_conn *ws, struct worker *w, struct evbuffer *in,
                    struct evbuffer *to_peer, struct evbuffer *to_client)
{
	struct evbuffer_iovec v;
	struct ws_event ev;
	size_t used;
	int rc;

	/* Bytes that came in the ConnectionBind's own message, behind it. */
	if (evbuffer_get_length(ws->stream) && evbuffer_add_buffer(to_peer, ws->stream) < 0)
		return -CLOSE_WS_ERROR;
	grow_to(ws, w->r->cfg.ws_max_message); /* bound: authenticated */
	while (evbuffer_get_length(in) && !ws_rx_done(&ws->rx)) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		used = ws_rx_next(&ws->rx, v.iov_base, v.iov_len, &ev);
		evbuffer_drain(in, used);
		rc = pipe_event(w, &ev, to_peer, to_client);
		if (rc < 0)
			return rc;
		if (used == 0 && ev.kind == WS_EV_NONE)
			break;
	}
	return 0;
}

void ws_conn_pipe_end(struct evbuffer *to_client)
{
	uint8_t out[WS_HDR_MAX + 2];
	long n = close_frame(out, WS_CLOSE_NORMAL);

	if (n > 0)
		evbuffer_add(to_client, out, (size_t)n);
}

int ws_conn_pipe_out(struct evbuffer *from_peer, struct evbuffer *to_client)
{
	size_t len = evbuffer_get_length(from_peer);
	uint8_t hdr[WS_HDR_MAX];
	int n;

	if (!len)
		return 0;
	n = ws_frame_hdr_write(hdr, sizeof(hdr), WS_OP_BINARY, len);
	if (n < 0)
		return n;
	if (evbuffer_add(to_client, hdr, (size_t)n) < 0 ||
	    evbuffer_add_buffer(to_client, from_peer) < 0)
		return -ENOMEM;
	return 0;
}

/* draft-chenxin §5: each STUN or ChannelData message is one binary message. */
static int ws_send_data(struct conn *c, const uint8_t *pkt, size_t len, size_t pad)
{
	uint8_t hdr[WS_HDR_MAX];
	int n = ws_frame_hdr_write(hdr, sizeof(hdr), WS_OP_BINARY, len + pad);

	if (n < 0)
		return n;
	return tcp_conn_out(c, hdr, (size_t)n, pkt, len, pad);
}

static int ws_send(struct conn *c, const void *buf, size_t len)
{
	return ws_send_data(c, buf, len, 0);
}

/* The allocation's app-connection is ws (draft-chenxin §4): counted while it lives. */
static struct conn *ws_attach(struct conn *c, struct allocation *a)
{
	STAT_ADD(&c->w->st, ws_allocs, 1);
	return tcp_conn_attach(c, a);
}

static void ws_detach(struct conn *c)
{
	STAT_ADD(&c->w->st, ws_allocs, -1);
	tcp_conn_detach(c);
}

/* Decision 8: like TCP, a WebSocket dies with its kernel; not replicated. */
#define WS_OPS(n)                                                                            \
	{                                                                                    \
		.name = n, .transport = STUN_PROTO_TCP, .stream = true, .replicates = false, \
		.send = ws_send, .send_data = ws_send_data, .attach = ws_attach,             \
		.detach = ws_detach,                                                         \
	}
static const struct conn_ops ws_ops = WS_OPS("ws");
static const struct conn_ops wss_ops = WS_OPS("wss");

const struct conn_ops *ws_conn_ops(bool tls)
{
	return tls ? &wss_ops : &ws_ops;
}
