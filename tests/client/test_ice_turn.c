/*
 * The ICE agent's TURN client (client/ice/ice_turn.c) and 300 Try
 * Alternate (RFC 8489 §10, issue 14): a 300 to an Allocate is followed
 * only when the long-term key verifies its MESSAGE-INTEGRITY; any other
 * is ignored (the Allocate keeps waiting) and counted in forged_300.
 * The server is played here, one answer at a time.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/ice/ice_turn.h"
#include "common/log.h"
#include "proto/stun.h"

#define REALM "twist.test"
#define NONCE "nonce-14"

static struct {
	uint8_t buf[1600];
	size_t len;
	struct tw_addr dst;
	unsigned sent;
	int alloc_err;
	bool alloc_done;
	bool reconnect_ok;
	struct tw_addr reconnected;
} W;

static int w_send(void *ctx, int sock, const struct tw_addr *dst, const void *buf, size_t len)
{
	(void)ctx;
	(void)sock;
	memcpy(W.buf, buf, len);
	W.len = len;
	W.dst = *dst;
	W.sent++;
	return 0;
}

static void w_random(void *ctx, void *buf, size_t len)
{
	static uint8_t r = 1;
	uint8_t *b = buf;
	(void)ctx;

	for (size_t i = 0; i < len; i++)
		b[i] = r++;
}

static uint64_t w_now(void *ctx)
{
	(void)ctx;
	return 1000;
}

static int w_reconnect(void *ctx, int sock, const struct tw_addr *dst)
{
	(void)ctx;
	(void)sock;
	W.reconnected = *dst;
	return W.reconnect_ok ? 0 : -ECONNREFUSED;
}

static const struct ice_io_ops w_ops = {w_send, w_random, w_now, w_reconnect};
static const struct ice_io_ops w_ops_noreconnect = {w_send, w_random, w_now, NULL};

static void on_alloc(void *arg, struct ice_turn *t, int err)
{
	(void)arg;
	(void)t;
	W.alloc_done = true;
	W.alloc_err = err;
}

/* The request the client sent last. */
static void last_request(struct stun_msg *m)
{
	assert_int_equal(stun_msg_parse(m, W.buf, W.len), 0);
	assert_int_equal(m->method, STUN_ALLOCATE);
	assert_int_equal(m->cls, STUN_REQUEST);
}

static void key_of(const char *pass, uint8_t key[16])
{
	assert_true(stun_key_longterm(STUN_PWALG_MD5, "demo", 4, REALM, strlen(REALM), pass,
	                              strlen(pass), key) >= 0);
}

/* An error answer to the last request; with key, signed. */
static void answer(struct ice_turn *t, int code, const struct tw_addr *alt, const uint8_t *key)
{
	uint8_t out[512];
	struct stun_msg req;
	struct stun_wr w;
	struct tw_addr peer;
	const uint8_t *d;
	size_t dl;
	int n;

	last_request(&req);
	stun_wr_init(&w, out, sizeof(out), STUN_ALLOCATE, STUN_ERROR, req.tid);
	stun_wr_error(&w, STUN_A_ERROR_CODE, code, stun_error_reason(code));
	if (code == 401) {
		stun_wr_attr(&w, STUN_A_REALM, REALM, strlen(REALM));
		stun_wr_attr(&w, STUN_A_NONCE, NONCE, strlen(NONCE));
	}
	if (alt)
		stun_wr_addr(&w, STUN_A_ALTERNATE_SERVER, alt);
	if (key)
		stun_wr_integrity(&w, key, 16);
	stun_wr_fingerprint(&w);
	n = stun_wr_finish(&w);
	assert_true(n > 0);
	ice_turn_recv(t, out, (size_t)n, 1000, &peer, &d, &dl);
}

static void start(struct ice_turn *t, const struct ice_io_ops *ops, bool tcp)
{
	struct tw_addr srv;

	memset(&W, 0, sizeof(W));
	log_init("test_ice_turn", LOG_LVL_OFF, false);
	tw_addr_parse("192.0.2.100:3478", 0, &srv);
	ice_turn_init(t, ops, NULL, 0, tcp, &srv, "demo", "demo");
	t->on_alloc = on_alloc;
	assert_int_equal(ice_turn_start(t, 1000), 0);
	assert_int_equal(W.sent, 1);
}

static void test_forged_300_ignored(void **state)
{
	struct ice_turn t;
	struct tw_addr alt, srv;
	uint8_t key[16], wrong[16];
	struct stun_msg m;
	unsigned sent;
	(void)state;

	start(&t, &w_ops, false);
	srv = t.server;
	tw_addr_parse("198.51.100.7:3478", 0, &alt);
	key_of("demo", key);
	key_of("not-the-password", wrong);
	/* before any key: nothing can verify it */
	answer(&t, 300, &alt, NULL);
	assert_int_equal(t.forged_300, 1);
	assert_int_equal(t.state, ICE_TURN_ALLOCATING);
	assert_int_equal(W.sent, 1); /* nothing new sent: the Allocate keeps waiting */
	answer(&t, 401, NULL, NULL);
	assert_int_equal(W.sent, 2);
	last_request(&m);
	assert_true(stun_msg_integrity_ok(&m, key, sizeof(key)));
	sent = W.sent;
	/* unsigned, then signed with another key: ignored and counted */
	answer(&t, 300, &alt, NULL);
	answer(&t, 300, &alt, wrong);
	assert_int_equal(t.forged_300, 3);
	assert_int_equal(W.sent, sent);
	assert_true(tw_addr_eq(&t.server, &srv));
	assert_int_equal(t.state, ICE_TURN_ALLOCATING);
	assert_false(W.alloc_done);
	/* the transaction still waits: its retransmission goes to the same server */
	ice_turn_tick(&t, 1000 + 600);
	assert_true(tw_addr_eq(&W.dst, &srv));
	/* the genuine one moves the Allocate to the alternate, without credentials */
	answer(&t, 300, &alt, key);
	assert_int_equal(t.redirects, 1);
	assert_true(tw_addr_eq(&t.server, &alt));
	assert_true(tw_addr_eq(&W.dst, &alt));
	last_request(&m);
	assert_int_equal(m.mi, -1);
	assert_int_equal(t.forged_300, 3);
}

/* At most ICE_TURN_REDIRECTS redirects; the next verified 300 fails the allocation. */
static void test_redirect_limit(void **state)
{
	struct ice_turn t;
	struct tw_addr alt;
	uint8_t key[16];
	char s[32];
	(void)state;

	start(&t, &w_ops, false);
	key_of("demo", key);
	for (int i = 0; i <= ICE_TURN_REDIRECTS; i++) {
		answer(&t, 401, NULL, NULL);
		snprintf(s, sizeof(s), "198.51.100.%d:3478", 10 + i);
		tw_addr_parse(s, 0, &alt);
		answer(&t, 300, &alt, key);
	}
	assert_int_equal(t.redirects, ICE_TURN_REDIRECTS);
	assert_int_equal(t.state, ICE_TURN_FAILED);
	assert_true(W.alloc_done);
	assert_int_equal(W.alloc_err, -EHOSTUNREACH);
}

/* Over TCP the stream is connected anew; with no way to, the allocation fails. */
static void test_redirect_tcp(void **state)
{
	struct ice_turn t;
	struct tw_addr alt;
	uint8_t key[16];
	(void)state;

	key_of("demo", key);
	tw_addr_parse("198.51.100.7:3478", 0, &alt);
	start(&t, &w_ops, true);
	W.reconnect_ok = true;
	answer(&t, 401, NULL, NULL);
	answer(&t, 300, &alt, key);
	assert_true(tw_addr_eq(&W.reconnected, &alt));
	assert_int_equal(t.redirects, 1);
	assert_int_equal(t.state, ICE_TURN_ALLOCATING);

	start(&t, &w_ops_noreconnect, true);
	answer(&t, 401, NULL, NULL);
	answer(&t, 300, &alt, key);
	assert_int_equal(t.state, ICE_TURN_FAILED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_forged_300_ignored),
	        cmocka_unit_test(test_redirect_limit),
	        cmocka_unit_test(test_redirect_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
