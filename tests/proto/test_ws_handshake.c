/*
 * proto/ws_handshake.c: the RFC 6455 §4.2 opening handshake, server side.
 * Every request is parsed whole and fed one byte at a time (as a slow
 * client sends it); both must give the same answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ws_handshake.h"

#define KEY     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER     "Sec-WebSocket-Version: 13\r\n"
#define UPG     "Upgrade: websocket\r\n"
#define CONN    "Connection: Upgrade\r\n"
#define HOST    "Host: relay.example.org\r\n"
#define PROTO   "Sec-WebSocket-Protocol: turn\r\n"
#define GET     "GET /turn HTTP/1.1\r\n"
#define GOOD(x) GET HOST UPG CONN KEY VER x "\r\n"

static bool origin_check(void *arg, const char *origin, size_t len)
{
	(void)arg;
	/* Absent is allowed (no browser); only https://app.example.org otherwise. */
	return !origin || (len == 23 && memcmp(origin, "https://app.example.org", 23) == 0);
}

static const struct ws_hs_cfg cfg_default;
static const struct ws_hs_cfg cfg_origin = {.origin_ok = origin_check};
static const struct ws_hs_cfg cfg_strict = {.require_subprotocol = true};
static const struct ws_hs_cfg cfg_small = {.max_hdr = 200, .max_lines = 9};
static const struct ws_hs_cfg cfg_path = {.path = "/ws/relay"};

/* clang-format off */
static const struct {
	const char *name;
	const struct ws_hs_cfg *cfg;
	const char *req;
	enum ws_hs_refusal why;
} rows[] = {
	{"minimal", &cfg_default, GOOD(""), WS_HS_OK},
	{"RFC 6455 §1.2, turn for chat", &cfg_default,
	 "GET /turn HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
	 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	 "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, turn\r\n"
	 "Sec-WebSocket-Version: 13\r\n\r\n", WS_HS_OK},
	{"Firefox's Connection", &cfg_default,
	 GET HOST UPG "Connection: keep-alive, Upgrade\r\n" KEY VER "\r\n", WS_HS_OK},
	{"case-insensitive names and tokens", &cfg_default,
	 GET "host: h\r\nUPGRADE:WebSocket\r\nconnection:  upgrade \r\n"
	 "sec-websocket-key:dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION:\t13\r\n\r\n",
	 WS_HS_OK},
	{"Connection over two lines", &cfg_default,
	 GET HOST UPG "Connection: keep-alive\r\nConnection: upgrade\r\n" KEY VER "\r\n", WS_HS_OK},
	{"query string", &cfg_default, "GET /turn?token=abc HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_OK},
	{"configured path", &cfg_path, "GET /ws/relay HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_OK},
	{"Content-Length 0", &cfg_default, GOOD("Content-Length: 0\r\n"), WS_HS_OK},
	{"extensions ignored", &cfg_default,
	 GOOD("Sec-WebSocket-Extensions: permessage-deflate\r\n"), WS_HS_OK},
	{"origin allowed", &cfg_origin, GOOD("Origin: https://app.example.org\r\n"), WS_HS_OK},
	{"no origin, checked", &cfg_origin, GOOD(""), WS_HS_OK},
	{"subprotocol required and offered", &cfg_strict, GOOD(PROTO), WS_HS_OK},

	{"POST", &cfg_default, "POST /turn HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n", WS_HS_METHOD},
	{"lower-case get", &cfg_default, "get /turn HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_METHOD},
	{"HTTP/1.0", &cfg_default, "GET /turn HTTP/1.0\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_HTTP_VERSION},
	{"HTTP/2.0", &cfg_default, "GET /turn HTTP/2.0\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_HTTP_VERSION},
	{"http/1.1", &cfg_default, "GET /turn http/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_HTTP_VERSION},
	{"no version", &cfg_default, "GET /turn\r\n" HOST UPG CONN KEY VER "\r\n", WS_HS_MALFORMED},
	{"empty request line", &cfg_default, "\r\n" HOST UPG CONN KEY VER "\r\n", WS_HS_MALFORMED},
	{"two spaces", &cfg_default, "GET  /turn HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_MALFORMED},
	{"wrong path", &cfg_default, "GET /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_PATH},
	{"path prefix", &cfg_default, "GET /turnx HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_PATH},
	{"path shorter", &cfg_default, "GET /tur HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_PATH},
	{"default path when configured", &cfg_path, GOOD(""), WS_HS_PATH},
	{"absolute form", &cfg_default,
	 "GET http://h/turn HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n", WS_HS_PATH},
	{"no Host", &cfg_default, GET UPG CONN KEY VER "\r\n", WS_HS_NO_HOST},
	{"two Hosts", &cfg_default, GOOD(HOST), WS_HS_DUPLICATE},
	{"two keys", &cfg_default, GOOD(KEY), WS_HS_DUPLICATE},
	{"two versions", &cfg_default, GOOD(VER), WS_HS_DUPLICATE},
	{"two Origins", &cfg_default, GOOD("Origin: a\r\nOrigin: b\r\n"), WS_HS_DUPLICATE},
	{"no Upgrade", &cfg_default, GET HOST CONN KEY VER "\r\n", WS_HS_UPGRADE},
	{"Upgrade: h2c", &cfg_default, GET HOST "Upgrade: h2c\r\n" CONN KEY VER "\r\n",
	 WS_HS_UPGRADE},
	{"Upgrade: websockets", &cfg_default, GET HOST "Upgrade: websockets\r\n" CONN KEY VER "\r\n",
	 WS_HS_UPGRADE},
	{"no Connection", &cfg_default, GET HOST UPG KEY VER "\r\n", WS_HS_CONNECTION},
	{"Connection: keep-alive", &cfg_default,
	 GET HOST UPG "Connection: keep-alive\r\n" KEY VER "\r\n", WS_HS_CONNECTION},
	{"Connection: upgraded", &cfg_default, GET HOST UPG "Connection: upgraded\r\n" KEY VER "\r\n",
	 WS_HS_CONNECTION},
	{"no version header", &cfg_default, GET HOST UPG CONN KEY "\r\n", WS_HS_NO_VERSION},
	{"version 8", &cfg_default, GET HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n\r\n",
	 WS_HS_VERSION},
	{"version 13, 8", &cfg_default,
	 GET HOST UPG CONN KEY "Sec-WebSocket-Version: 13, 8\r\n\r\n", WS_HS_VERSION},
	{"version 130", &cfg_default, GET HOST UPG CONN KEY "Sec-WebSocket-Version: 130\r\n\r\n",
	 WS_HS_VERSION},
	{"no key", &cfg_default, GET HOST UPG CONN VER "\r\n", WS_HS_KEY},
	{"key of 15 bytes", &cfg_default,
	 GET HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" VER "\r\n", WS_HS_KEY},
	{"key of 17 bytes", &cfg_default,
	 GET HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n" VER "\r\n", WS_HS_KEY},
	{"key without padding", &cfg_default,
	 GET HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" VER "\r\n", WS_HS_KEY},
	{"key with a bad symbol", &cfg_default,
	 GET HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==\r\n" VER "\r\n", WS_HS_KEY},
	{"empty key", &cfg_default, GET HOST UPG CONN "Sec-WebSocket-Key:\r\n" VER "\r\n", WS_HS_KEY},
	{"Content-Length 5", &cfg_default, GOOD("Content-Length: 5\r\n"), WS_HS_BODY},
	{"Transfer-Encoding", &cfg_default, GOOD("Transfer-Encoding: chunked\r\n"), WS_HS_BODY},
	{"subprotocol without turn", &cfg_default, GOOD("Sec-WebSocket-Protocol: chat\r\n"),
	 WS_HS_SUBPROTOCOL},
	{"subprotocol TURN (case)", &cfg_default, GOOD("Sec-WebSocket-Protocol: TURN\r\n"),
	 WS_HS_SUBPROTOCOL},
	{"subprotocol required, none", &cfg_strict, GOOD(""), WS_HS_SUBPROTOCOL},
	{"origin refused", &cfg_origin, GOOD("Origin: https://evil.example.net\r\n"), WS_HS_ORIGIN},
	{"bare LF", &cfg_default, "GET /turn HTTP/1.1\n" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_MALFORMED},
	{"bare CR", &cfg_default, "GET /turn HTTP/1.1\r" HOST UPG CONN KEY VER "\r\n",
	 WS_HS_MALFORMED},
	{"control byte", &cfg_default, GOOD("X-A: \x01\r\n"), WS_HS_MALFORMED},
	{"DEL", &cfg_default, GOOD("X-A: \x7f\r\n"), WS_HS_MALFORMED},
	{"folded line", &cfg_default, GOOD("X-A: a\r\n b\r\n"), WS_HS_MALFORMED},
	{"space before colon", &cfg_default, GOOD("Host : h\r\n"), WS_HS_MALFORMED},
	{"no colon", &cfg_default, GOOD("Host\r\n"), WS_HS_MALFORMED},
	{"empty name", &cfg_default, GOOD(": x\r\n"), WS_HS_MALFORMED},
	{"too many lines", &cfg_small, GOOD("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), WS_HS_TOO_MANY_LINES},
	{"too large", &cfg_small,
	 GOOD("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
	 WS_HS_TOO_LARGE},
	/* Garbage that is not HTTP at all, with no line end in sight: the cap ends it. */
	{"no end", &cfg_small,
	 "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 WS_HS_MALFORMED},
};
/* clang-format on */

/* Parses len bytes of req, offered chunk bytes more at a time. */
static long parse(struct ws_hs *hs, const struct ws_hs_cfg *cfg, const char *req, size_t len,
                  size_t chunk)
{
	uint8_t *buf = test_malloc(len ? len : 1);
	size_t have = 0;
	long rc = -EAGAIN;

	memcpy(buf, req, len);
	ws_hs_init(hs);
	while (rc == -EAGAIN && have < len) {
		have = have + chunk < len ? have + chunk : len;
		rc = ws_hs_parse(hs, cfg, buf, have);
	}
	/* A finished parse keeps its answer. */
	if (rc != -EAGAIN)
		assert_int_equal(ws_hs_parse(hs, cfg, buf, have), rc);
	test_free(buf);
	return rc;
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = strlen(rows[i].req);
		struct ws_hs a, b;
		long ra, rb;

		print_message("%s\n", rows[i].name);
		ra = parse(&a, rows[i].cfg, rows[i].req, len, len);
		rb = parse(&b, rows[i].cfg, rows[i].req, len, 1);
		assert_int_equal(ra, rb);
		assert_int_equal(a.why, rows[i].why);
		assert_int_equal(b.why, rows[i].why);
		if (rows[i].why == WS_HS_OK)
			assert_int_equal(ra, (long)len);
		else
			assert_int_equal(ra, -EPROTO);
		assert_int_equal(a.hdr_len, b.hdr_len);
		assert_int_equal(a.subprotocol, b.subprotocol);
	}
}

static void test_accept_key(void **state)
{
	char out[WS_ACCEPT_LEN + 1];
	static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";

	(void)state;
	/* RFC 6455 §1.3 */
	assert_int_equal(ws_accept_key(key, strlen(key), out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_accept_response(void **state)
{
	static const char req[] = GET HOST UPG CONN KEY VER PROTO
	        "Origin: https://app.example.org\r\nX-Forwarded-For: 192.0.2.1\r\n"
	        "X-Forwarded-For: 198.51.100.7, 203.0.113.9\r\n\r\n\x82\x80";
	static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
	                           "Upgrade: websocket\r\n"
	                           "Connection: Upgrade\r\n"
	                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	                           "Sec-WebSocket-Protocol: turn\r\n"
	                           "\r\n";
	char out[WS_HS_RESPONSE_MAX];
	struct ws_hs hs;
	long rc;

	(void)state;
	ws_hs_init(&hs);
	assert_int_equal(ws_hs_accept_write(&hs, out, sizeof(out)), -EINVAL);
	/* The frame bytes after the head are not the parser's. */
	rc = ws_hs_parse(&hs, &cfg_origin, (const uint8_t *)req, sizeof(req) - 1);
	assert_int_equal(rc, sizeof(req) - 3);
	assert_true(hs.subprotocol);
	assert_int_equal(hs.host.len, 17);
	assert_memory_equal(hs.host.p, "relay.example.org", 17);
	assert_int_equal(hs.origin.len, 23);
	assert_memory_equal(hs.origin.p, "https://app.example.org", 23);
	assert_int_equal(hs.xff.len, 25);
	assert_memory_equal(hs.xff.p, "198.51.100.7, 203.0.113.9", 25);
	assert_int_equal(ws_hs_accept_write(&hs, out, sizeof(out)), strlen(want));
	assert_string_equal(out, want);
	assert_int_equal(ws_hs_accept_write(&hs, out, 20), -ENOSPC);

	/* No subprotocol offered: none named, and no Origin nor XFF reported. */
	ws_hs_init(&hs);
	rc = ws_hs_parse(&hs, &cfg_default, (const uint8_t *)GOOD(""), strlen(GOOD("")));
	assert_true(rc > 0);
	assert_false(hs.subprotocol);
	assert_null(hs.origin.p);
	assert_null(hs.xff.p);
	assert_true(ws_hs_accept_write(&hs, out, sizeof(out)) > 0);
	assert_null(strstr(out, "Sec-WebSocket-Protocol"));
}

/* Every refusal writes a complete response that says what went wrong and closes. */
static void test_refusal_responses(void **state)
{
	char out[WS_HS_RESPONSE_MAX], status[8];

	(void)state;
	assert_int_equal(ws_hs_refusal_write(WS_HS_OK, out, sizeof(out)), -EINVAL);
	for (int w = WS_HS_TOO_LARGE; w < WS_HS_NREFUSALS; w++) {
		const char *name = ws_hs_refusal_name((enum ws_hs_refusal)w);
		int n = ws_hs_refusal_write((enum ws_hs_refusal)w, out, sizeof(out));
		const char *body;
		char clen[48];

		assert_true(n > 0 && n < (int)sizeof(out));
		assert_int_equal(strlen(out), n);
		snprintf(status, sizeof(status), " %d ", ws_hs_status((enum ws_hs_refusal)w));
		assert_memory_equal(out, "HTTP/1.1", 8);
		assert_memory_equal(out + 8, status, 5);
		assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
		body = strstr(out, "\r\n\r\n");
		assert_non_null(body);
		body += 4;
		assert_int_equal(strlen(body), strlen(name) + 1);
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", strlen(body));
		assert_non_null(strstr(out, clen));
		assert_int_equal(ws_hs_refusal_write((enum ws_hs_refusal)w, out, 30), -ENOSPC);
	}
	ws_hs_refusal_write(WS_HS_VERSION, out, sizeof(out));
	assert_memory_equal(out, "HTTP/1.1 426 Upgrade Required\r\n", 31);
	assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
	ws_hs_refusal_write(WS_HS_METHOD, out, sizeof(out));
	assert_non_null(strstr(out, "\r\nAllow: GET\r\n"));
	assert_int_equal(ws_hs_status(WS_HS_PATH), 404);
	assert_int_equal(ws_hs_status(WS_HS_ORIGIN), 403);
	assert_int_equal(ws_hs_status(WS_HS_KEY), 400);
	assert_int_equal(ws_hs_status(WS_HS_TOO_LARGE), 431);
}

/* The default caps: 8 KiB and 64 lines, whatever the split. */
static void test_default_caps(void **state)
{
	static char req[WS_HS_MAX_HDR + 64];
	size_t n;
	struct ws_hs hs;

	(void)state;
	/* Exactly at the cap, terminator included: accepted. */
	n = (size_t)snprintf(req, sizeof(req), GET HOST UPG CONN KEY VER "X-Pad: ");
	memset(req + n, 'a', WS_HS_MAX_HDR - n - 4);
	memcpy(req + WS_HS_MAX_HDR - 4, "\r\n\r\n", 4);
	assert_int_equal(parse(&hs, &cfg_default, req, WS_HS_MAX_HDR, WS_HS_MAX_HDR),
	                 WS_HS_MAX_HDR);
	assert_int_equal(parse(&hs, &cfg_default, req, WS_HS_MAX_HDR, 1), WS_HS_MAX_HDR);
	/* One byte more: refused once the cap is reached, not before. */
	memset(req + WS_HS_MAX_HDR - 4, 'a', 1);
	memcpy(req + WS_HS_MAX_HDR - 3, "\r\n\r\n", 4);
	assert_int_equal(parse(&hs, &cfg_default, req, WS_HS_MAX_HDR - 1, 1), -EAGAIN);
	assert_int_equal(parse(&hs, &cfg_default, req, WS_HS_MAX_HDR + 1, 1), -EPROTO);
	assert_int_equal(hs.why, WS_HS_TOO_LARGE);
	assert_int_equal(hs.scanned, WS_HS_MAX_HDR);
	/* 64 lines pass, 65 do not. */
	n = (size_t)snprintf(req, sizeof(req), GET HOST UPG CONN KEY VER);
	for (int i = 0; i < 64 - 6; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X: %d\r\n", i);
	memcpy(req + n, "\r\n", 3);
	assert_int_equal(parse(&hs, &cfg_default, req, n + 2, 1), (long)n + 2);
	memcpy(req + n, "Y: 1\r\n\r\n", 9);
	assert_int_equal(parse(&hs, &cfg_default, req, n + 8, 1), -EPROTO);
	assert_int_equal(hs.why, WS_HS_TOO_MANY_LINES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),           cmocka_unit_test(test_accept_key),
	        cmocka_unit_test(test_accept_response), cmocka_unit_test(test_refusal_responses),
	        cmocka_unit_test(test_default_caps),
	};

	return cmocka_run_group_tests_name("proto/ws_handshake", tests, NULL, NULL);
}
