/*
 * The server side of the WebSocket opening handshake (RFC 6455 §4.2) for
 * TURN over WebSocket (docs/websocket.md). No I/O and no allocation: the
 * parser reads the caller's receive buffer, and what it reports points
 * into that buffer.
 */
#ifndef TWIST_PROTO_WS_HANDSHAKE_H
#define TWIST_PROTO_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_HS_MAX_HDR      8192 /* default cap on the request head, terminator included */
#define WS_HS_MAX_LINES    64   /* default cap on its lines, request line included */
#define WS_PATH_DEFAULT    "/turn"
#define WS_SUBPROTOCOL     "turn"
#define WS_ACCEPT_LEN      28 /* base64 of a SHA-1 digest */
#define WS_HS_RESPONSE_MAX 256

/* Why a handshake was refused; ws_hs_status() maps each to its HTTP status. */
enum ws_hs_refusal {
	WS_HS_OK,
	WS_HS_TOO_LARGE,      /* 431: no end of the head within the cap */
	WS_HS_TOO_MANY_LINES, /* 431 */
	WS_HS_MALFORMED,      /* 400: bare LF, control byte, bad request line or header line */
	WS_HS_METHOD,         /* 405: a method other than GET */
	WS_HS_HTTP_VERSION,   /* 400: not HTTP/1.1 */
	WS_HS_PATH,           /* 404 */
	WS_HS_DUPLICATE,      /* 400: Host, Origin or a Sec-WebSocket-Key/Version twice */
	WS_HS_NO_HOST,        /* 400 */
	WS_HS_UPGRADE,        /* 400: no "websocket" in Upgrade */
	WS_HS_CONNECTION,     /* 400: no "upgrade" in Connection */
	WS_HS_NO_VERSION,     /* 400: no Sec-WebSocket-Version */
	WS_HS_VERSION,        /* 426 with Sec-WebSocket-Version: 13 */
	WS_HS_KEY,            /* 400: Sec-WebSocket-Key missing or not 16 bytes in base64 */
	WS_HS_ORIGIN,         /* 403 */
	WS_HS_SUBPROTOCOL,    /* 400: a subprotocol list without "turn", or none when required */
	WS_HS_BODY,           /* 400: a request body (Content-Length, Transfer-Encoding) */
};
#define WS_HS_NREFUSALS (WS_HS_BODY + 1)

/*
 * Decides whether a page from origin may connect; origin is NULL (len 0)
 * when the request has no Origin header (a non-browser client).
 */
typedef bool (*ws_origin_fn)(void *arg, const char *origin, size_t len);

struct ws_hs_cfg {
	const char *path;       /* NULL: WS_PATH_DEFAULT */
	size_t max_hdr;         /* 0: WS_HS_MAX_HDR */
	unsigned max_lines;     /* 0: WS_HS_MAX_LINES */
	ws_origin_fn origin_ok; /* NULL: every origin, and none, is allowed */
	void *origin_arg;
	bool require_subprotocol; /* refuse a request that offers no subprotocol */
};

/* A span of the caller's buffer; p is NULL when the header was absent. */
struct ws_span {
	const char *p;
	size_t len;
};

struct ws_hs {
	/* Scan state: how far the search for the end of the head got. */
	size_t scanned;
	unsigned lines;
	/* Results, valid once ws_hs_parse() stops returning -EAGAIN. */
	enum ws_hs_refusal why;
	size_t hdr_len;
	struct ws_span host, origin, xff, key;
	bool subprotocol; /* the client offered "turn": the 101 names it */
};

void ws_hs_init(struct ws_hs *hs);

/*
 * Parses the request head at the start of buf, which holds every byte
 * received so far (the caller passes the whole, grown buffer each time).
 * Returns the head's length once it is complete and accepted (the bytes
 * after it are WebSocket frames), -EAGAIN when more bytes are needed, or
 * -EPROTO when refused (hs->why says why; answer with
 * ws_hs_refusal_write() and close). The caps are checked as bytes arrive,
 * so any split of the same bytes gives the same answer.
 */
long ws_hs_parse(struct ws_hs *hs, const struct ws_hs_cfg *cfg, const uint8_t *buf, size_t len);

int ws_hs_status(enum ws_hs_refusal why);
const char *ws_hs_refusal_name(enum ws_hs_refusal why);

/* out = base64(SHA-1(key + RFC 6455 GUID)), NUL-terminated. 0 or -EIO. */
int ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1]);

/* The 101 Switching Protocols for an accepted hs. Length, or -ENOSPC/-EIO. */
int ws_hs_accept_write(const struct ws_hs *hs, char *out, size_t cap);

/* The refusal for why: status, Connection: close and a one-line body. */
int ws_hs_refusal_write(enum ws_hs_refusal why, char *out, size_t cap);

#endif
