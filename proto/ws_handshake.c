/*
 * The server side of the WebSocket opening handshake (RFC 6455 §4.2.1,
 * §4.2.2). The head is first scanned for its end under the caps, byte by
 * byte and resumably, and only a complete head is parsed; so the answer
 * never depends on how the bytes were split, and nothing is allocated.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "proto/ws_handshake.h"

/* RFC 6455 §1.3: the GUID appended to the key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_hs_init(struct ws_hs *hs)
{
	memset(hs, 0, sizeof(*hs));
}

int ws_hs_status(enum ws_hs_refusal why)
{
	switch (why) {
	case WS_HS_OK:
		return 101;
	case WS_HS_TOO_LARGE:
	case WS_HS_TOO_MANY_LINES:
		return 431;
	case WS_HS_METHOD:
		return 405;
	case WS_HS_PATH:
		return 404;
	case WS_HS_VERSION:
		return 426;
	case WS_HS_ORIGIN:
		return 403;
	case WS_HS_MALFORMED:
	case WS_HS_HTTP_VERSION:
	case WS_HS_DUPLICATE:
	case WS_HS_NO_HOST:
	case WS_HS_UPGRADE:
	case WS_HS_CONNECTION:
	case WS_HS_NO_VERSION:
	case WS_HS_KEY:
	case WS_HS_SUBPROTOCOL:
	case WS_HS_BODY:
		return 400;
	}
	return 400;
}

/* Short names: metric labels, and the body of the refusal. */
const char *ws_hs_refusal_name(enum ws_hs_refusal why)
{
	switch (why) {
	case WS_HS_OK:
		return "ok";
	case WS_HS_TOO_LARGE:
		return "header_too_large";
	case WS_HS_TOO_MANY_LINES:
		return "too_many_header_lines";
	case WS_HS_MALFORMED:
		return "malformed";
	case WS_HS_METHOD:
		return "method";
	case WS_HS_HTTP_VERSION:
		return "http_version";
	case WS_HS_PATH:
		return "path";
	case WS_HS_DUPLICATE:
		return "duplicate_header";
	case WS_HS_NO_HOST:
		return "no_host";
	case WS_HS_UPGRADE:
		return "upgrade";
	case WS_HS_CONNECTION:
		return "connection";
	case WS_HS_NO_VERSION:
		return "no_version";
	case WS_HS_VERSION:
		return "version";
	case WS_HS_KEY:
		return "key";
	case WS_HS_ORIGIN:
		return "origin";
	case WS_HS_SUBPROTOCOL:
		return "subprotocol";
	case WS_HS_BODY:
		return "body";
	}
	return "unknown";
}

static const char *status_text(int status)
{
	switch (status) {
	case 404:
		return "Not Found";
	case 403:
		return "Forbidden";
	case 405:
		return "Method Not Allowed";
	case 426:
		return "Upgrade Required";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Bad Request";
	}
}

/*
 * One scan step per byte: lines end in CRLF only (a bare CR or LF could
 * make us and a proxy in front disagree on where a header ends), and no
 * control byte but HTAB appears. Returns 1 at the end of the head, 0 to go
 * on, or a refusal.
 */
static int scan_byte(struct ws_hs *hs, const struct ws_hs_cfg *cfg, const uint8_t *buf, size_t i)
{
	uint8_t c = buf[i];
	unsigned max_lines = cfg->max_lines ? cfg->max_lines : WS_HS_MAX_LINES;

	if (i > 0 && buf[i - 1] == '\r' && c != '\n')
		return -WS_HS_MALFORMED;
	if (c == '\n') {
		if (i == 0 || buf[i - 1] != '\r')
			return -WS_HS_MALFORMED;
		if (i >= 3 && buf[i - 2] == '\n')
			return 1;
		if (++hs->lines > max_lines)
			return -WS_HS_TOO_MANY_LINES;
		return 0;
	}
	if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
		return -WS_HS_MALFORMED;
	return 0;
}

static bool span_ieq(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(p, lit, len) == 0;
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether the comma-separated list v holds tok (RFC 9110 §5.6.1). */
static bool list_has(const char *v, size_t len, const char *tok, bool icase)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (is_ows(v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows(v[e - 1]))
			e--;
		if (e - s == strlen(tok) &&
		    (icase ? strncasecmp(v + s, tok, e - s) : strncmp(v + s, tok, e - s)) == 0)
			return true;
	}
	return false;
}

/* RFC 6455 §4.1: the key is 16 bytes in base64, so 22 symbols and "==". */
static bool key_valid(const struct ws_span *k)
{
	static const char b64[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (k->len != 24 || k->p[22] != '=' || k->p[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!memchr(b64, k->p[i], sizeof(b64) - 1))
			return false;
	return true;
}

/* "GET <path>[?query] HTTP/1.1" (RFC 6455 §4.2.1 items 1 and 2). */
static enum ws_hs_refusal request_line(const struct ws_hs_cfg *cfg, const char *l, size_t len)
{
	const char *path = cfg->path ? cfg->path : WS_PATH_DEFAULT;
	size_t plen = strlen(path);
	const char *sp1 = memchr(l, ' ', len), *sp2, *tgt;
	size_t tlen;

	if (!sp1 || sp1 == l)
		return WS_HS_MALFORMED;
	for (const char *p = l; p < sp1; p++)
		if (!is_tchar(*p))
			return WS_HS_MALFORMED;
	tgt = sp1 + 1;
	sp2 = memchr(tgt, ' ', len - (size_t)(tgt - l));
	if (!sp2 || sp2 == tgt)
		return WS_HS_MALFORMED;
	if (sp1 - l != 3 || memcmp(l, "GET", 3) != 0)
		return WS_HS_METHOD;
	/* The version is case-sensitive (RFC 9112 §2.3). */
	if (len - (size_t)(sp2 + 1 - l) != 8 || memcmp(sp2 + 1, "HTTP/1.1", 8) != 0)
		return WS_HS_HTTP_VERSION;
	tlen = (size_t)(sp2 - tgt);
	if (tlen < plen || memcmp(tgt, path, plen) != 0 || (tlen > plen && tgt[plen] != '?'))
		return WS_HS_PATH;
	return WS_HS_OK;
}

/* What the header lines said, before the checks that need all of them. */
struct seen {
	bool upgrade, connection, proto_offered, body;
	struct ws_span version;
};

static enum ws_hs_refusal set_once(struct ws_span *s, const char *v, size_t len)
{
	if (s->p)
		return WS_HS_DUPLICATE;
	s->p = v;
	s->len = len;
	return WS_HS_OK;
}

static enum ws_hs_refusal header(struct ws_hs *hs, struct seen *sn, const char *n, size_t nlen,
                                 const char *v, size_t vlen)
{
	if (span_ieq(n, nlen, "Host"))
		return set_once(&hs->host, v, vlen);
	if (span_ieq(n, nlen, "Origin"))
		return set_once(&hs->origin, v, vlen);
	if (span_ieq(n, nlen, "Sec-WebSocket-Key"))
		return set_once(&hs->key, v, vlen);
	if (span_ieq(n, nlen, "Sec-WebSocket-Version"))
		return set_once(&sn->version, v, vlen);
	if (span_ieq(n, nlen, "X-Forwarded-For")) {
		/* The last line: the proxy in front of us appends its view there. */
		hs->xff.p = v;
		hs->xff.len = vlen;
	} else if (span_ieq(n, nlen, "Upgrade")) {
		sn->upgrade |= list_has(v, vlen, "websocket", true);
	} else if (span_ieq(n, nlen, "Connection")) {
		sn->connection |= list_has(v, vlen, "upgrade", true);
	} else if (span_ieq(n, nlen, "Sec-WebSocket-Protocol")) {
		/* Subprotocol names compare case-sensitively (RFC 6455 §4.1). */
		sn->proto_offered = true;
		hs->subprotocol |= list_has(v, vlen, WS_SUBPROTOCOL, false);
	} else if (span_ieq(n, nlen, "Content-Length")) {
		sn->body |= !span_ieq(v, vlen, "0");
	} else if (span_ieq(n, nlen, "Transfer-Encoding")) {
		sn->body = true;
	}
	return WS_HS_OK;
}

/* "name: value" with optional white space around the value (RFC 9110 §5). */
static enum ws_hs_refusal header_line(struct ws_hs *hs, struct seen *sn, const char *l, size_t len)
{
	const char *colon = memchr(l, ':', len), *v, *e;

	if (!colon || colon == l)
		return WS_HS_MALFORMED;
	for (const char *p = l; p < colon; p++)
		if (!is_tchar(*p))
			return WS_HS_MALFORMED;
	v = colon + 1;
	e = l + len;
	while (v < e && is_ows(*v))
		v++;
	while (e > v && is_ows(e[-1]))
		e--;
	return header(hs, sn, l, (size_t)(colon - l), v, (size_t)(e - v));
}

/* The checks that need every header, cheapest first; Origin last (a callback). */
static enum ws_hs_refusal verdict(const struct ws_hs *hs, const struct ws_hs_cfg *cfg,
                                  const struct seen *sn)
{
	if (!hs->host.p)
		return WS_HS_NO_HOST;
	if (!sn->upgrade)
		return WS_HS_UPGRADE;
	if (!sn->connection)
		return WS_HS_CONNECTION;
	if (!sn->version.p)
		return WS_HS_NO_VERSION;
	if (!span_ieq(sn->version.p, sn->version.len, "13"))
		return WS_HS_VERSION;
	if (!hs->key.p || !key_valid(&hs->key))
		return WS_HS_KEY;
	if (sn->body)
		return WS_HS_BODY;
	if (sn->proto_offered ? !hs->subprotocol : cfg->require_subprotocol)
		return WS_HS_SUBPROTOCOL;
	if (cfg->origin_ok && !cfg->origin_ok(cfg->origin_arg, hs->origin.p, hs->origin.len))
		return WS_HS_ORIGIN;
	return WS_HS_OK;
}

/* The complete head: buf[0..hdr_len), its last line empty. */
static enum ws_hs_refusal parse_head(struct ws_hs *hs, const struct ws_hs_cfg *cfg, const char *buf)
{
	const char *end = buf + hs->hdr_len - 2, *l = buf;
	struct seen sn = {0};
	enum ws_hs_refusal r = WS_HS_OK;
	bool first = true;

	while (l < end && r == WS_HS_OK) {
		const char *nl = memchr(l, '\r', (size_t)(end - l));
		size_t len = (size_t)(nl - l);

		/* An obsolete folded line (RFC 9110 §5.5) is refused, not joined. */
		if (first)
			r = request_line(cfg, l, len);
		else if (len == 0 || is_ows(*l))
			r = WS_HS_MALFORMED;
		else
			r = header_line(hs, &sn, l, len);
		first = false;
		l = nl + 2;
	}
	return r != WS_HS_OK ? r : verdict(hs, cfg, &sn);
}

long ws_hs_parse(struct ws_hs *hs, const struct ws_hs_cfg *cfg, const uint8_t *buf, size_t len)
{
	size_t cap = cfg->max_hdr ? cfg->max_hdr : WS_HS_MAX_HDR;
	size_t stop = len < cap ? len : cap;
	int rc = 0;

	if (hs->why != WS_HS_OK)
		return -EPROTO;
	if (hs->hdr_len)
		return (long)hs->hdr_len;
	while (hs->scanned < stop && rc == 0)
		rc = scan_byte(hs, cfg, buf, hs->scanned++);
	if (rc < 0) {
		hs->why = (enum ws_hs_refusal) - rc;
		return -EPROTO;
	}
	if (rc == 0) {
		if (hs->scanned < cap)
			return -EAGAIN;
		hs->why = WS_HS_TOO_LARGE;
		return -EPROTO;
	}
	hs->hdr_len = hs->scanned;
	hs->why = parse_head(hs, cfg, (const char *)buf);
	return hs->why == WS_HS_OK ? (long)hs->hdr_len : -EPROTO;
}

int ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex2(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, key, len) &&
	    EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 20) {
		EVP_EncodeBlock((unsigned char *)out, md, 20);
		rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int put(size_t cap, int n)
{
	return n < 0 ? -EIO : (size_t)n >= cap ? -ENOSPC : n;
}

int ws_hs_accept_write(const struct ws_hs *hs, char *out, size_t cap)
{
	char acc[WS_ACCEPT_LEN + 1];
	int rc;

	if (hs->why != WS_HS_OK || !hs->hdr_len)
		return -EINVAL;
	rc = ws_accept_key(hs->key.p, hs->key.len, acc);
	if (rc < 0)
		return rc;
	/* Name the subprotocol only if offered: a client fails on one it did not ask for. */
	return put(cap, snprintf(out, cap,
	                         "HTTP/1.1 101 Switching Protocols\r\n"
	                         "Upgrade: websocket\r\n"
	                         "Connection: Upgrade\r\n"
	                         "Sec-WebSocket-Accept: %s\r\n"
	                         "%s\r\n",
	                         acc,
	                         hs->subprotocol ? "Sec-WebSocket-Protocol: " WS_SUBPROTOCOL "\r\n"
	                                         : ""));
}

int ws_hs_refusal_write(enum ws_hs_refusal why, char *out, size_t cap)
{
	int status = ws_hs_status(why);
	const char *name = ws_hs_refusal_name(why);
	const char *extra = "";

	if (why == WS_HS_OK)
		return -EINVAL;
	/* RFC 6455 §4.2.2: a 426 names the version we speak; RFC 9110 §15.5.6: 405 says Allow. */
	if (status == 426)
		extra = "Sec-WebSocket-Version: 13\r\n";
	else if (status == 405)
		extra = "Allow: GET\r\n";
	return put(cap, snprintf(out, cap,
	                         "HTTP/1.1 %d %s\r\n"
	                         "%s"
	                         "Connection: close\r\n"
	                         "Content-Type: text/plain\r\n"
	                         "Content-Length: %zu\r\n"
	                         "\r\n"
	                         "%s\n",
	                         status, status_text(status), extra, strlen(name) + 1, name));
}
