/*
 * libFuzzer harness for proto/ws_handshake.c. Input: one byte picks the
 * configuration (path, caps, subprotocol rule, Origin check), one the size
 * of the pieces the request arrives in, and the rest is the request. It
 * is parsed whole, in those pieces, and byte by byte: the answers must
 * agree, what is reported must lie inside the head, and the response for
 * the answer must be written in full.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws_handshake.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool origin_check(void *arg, const char *origin, size_t len)
{
	(void)arg;
	return !origin || (len > 0 && origin[len - 1] == 'g');
}

static const struct ws_hs_cfg cfgs[] = {
        {0},
        {.path = "/", .max_hdr = 256, .max_lines = 8},
        {.require_subprotocol = true, .origin_ok = origin_check},
        {.path = "/ws/relay", .max_hdr = 1, .max_lines = 1},
};

static long parse(struct ws_hs *hs, const struct ws_hs_cfg *cfg, const uint8_t *buf, size_t len,
                  size_t chunk)
{
	size_t have = 0;
	long rc = -EAGAIN;

	ws_hs_init(hs);
	while (rc == -EAGAIN && have < len) {
		have = len - have > chunk ? have + chunk : len;
		rc = ws_hs_parse(hs, cfg, buf, have);
	}
	if (rc != -EAGAIN)
		CHECK(ws_hs_parse(hs, cfg, buf, have) == rc);
	return rc;
}

static void span_inside(const struct ws_span *s, const uint8_t *buf, size_t hdr_len)
{
	if (!s->p)
		return;
	CHECK((const uint8_t *)s->p >= buf && (const uint8_t *)s->p + s->len <= buf + hdr_len);
}

static void same(const struct ws_hs *a, const struct ws_hs *b)
{
	CHECK(a->why == b->why && a->hdr_len == b->hdr_len && a->subprotocol == b->subprotocol);
	CHECK(a->host.p == b->host.p && a->host.len == b->host.len);
	CHECK(a->origin.p == b->origin.p && a->key.p == b->key.p && a->xff.p == b->xff.p);
}

static void answer(const struct ws_hs *hs, long rc, const struct ws_hs_cfg *cfg, const uint8_t *buf,
                   size_t size)
{
	char out[WS_HS_RESPONSE_MAX];
	size_t cap = cfg->max_hdr ? cfg->max_hdr : WS_HS_MAX_HDR;
	int n, st;

	if (rc == -EAGAIN) {
		CHECK(size < cap && hs->why == WS_HS_OK);
		return;
	}
	if (rc > 0) {
		CHECK(hs->why == WS_HS_OK && (size_t)rc == hs->hdr_len && hs->hdr_len <= cap);
		CHECK(hs->hdr_len >= 4 && memcmp(buf + hs->hdr_len - 4, "\r\n\r\n", 4) == 0);
		span_inside(&hs->host, buf, hs->hdr_len);
		span_inside(&hs->origin, buf, hs->hdr_len);
		span_inside(&hs->xff, buf, hs->hdr_len);
		span_inside(&hs->key, buf, hs->hdr_len);
		CHECK(hs->host.p && hs->key.p && hs->key.len == 24);
		n = ws_hs_accept_write(hs, out, sizeof(out));
		CHECK(n > 0 && (size_t)n < sizeof(out) && memcmp(out, "HTTP/1.1 101 ", 13) == 0);
		CHECK(ws_hs_refusal_write(hs->why, out, sizeof(out)) == -EINVAL);
		return;
	}
	CHECK(rc == -EPROTO && hs->why != WS_HS_OK && hs->why < WS_HS_NREFUSALS);
	st = ws_hs_status(hs->why);
	CHECK(st == 400 || st == 403 || st == 404 || st == 405 || st == 426 || st == 431);
	n = ws_hs_refusal_write(hs->why, out, sizeof(out));
	CHECK(n > 0 && (size_t)n < sizeof(out));
	CHECK(ws_hs_accept_write(hs, out, sizeof(out)) == -EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ws_hs_cfg *cfg;
	struct ws_hs whole, part;
	size_t chunk;
	uint8_t *buf;
	long rc;

	if (size < 2 || size > 3 * WS_HS_MAX_HDR)
		return 0;
	cfg = &cfgs[data[0] % (sizeof(cfgs) / sizeof(cfgs[0]))];
	chunk = (size_t)data[1] + 1;
	size -= 2;
	/* An exact-size copy, so a read past the end trips ASan. */
	buf = malloc(size ? size : 1);
	CHECK(buf);
	memcpy(buf, data + 2, size);
	rc = parse(&whole, cfg, buf, size, size ? size : 1);
	CHECK(parse(&part, cfg, buf, size, chunk) == rc);
	same(&whole, &part);
	CHECK(parse(&part, cfg, buf, size, 1) == rc);
	same(&whole, &part);
	answer(&whole, rc, cfg, buf, size);
	free(buf);
	return 0;
}
