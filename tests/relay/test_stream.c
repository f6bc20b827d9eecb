/*
 * relay/stream.c, the framing stage of stream transports, through the
 * fake-transport harness and a plain evbuffer: the 2 KiB frame cap before
 * authentication, the TURN core's authed flag, and the deadlines that
 * trickled bytes cannot extend. Also relay/connlimit.c's sources.
 */
#include <event2/buffer.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/connlimit.h"
#include "relay/stream.h"
#include "tests/relay/harness.h"

#define T0 1000000 /* the worker's clock at accept, ms */

struct ctx {
	struct harness h;
	struct fake_conn fc;
	struct stream st;
	struct evbuffer *in;
};

static int setup(void **state)
{
	struct ctx *x = calloc(1, sizeof(*x));

	if (!x || harness_init(&x->h, "limits: {tcp_frame_deadline_ms: 500, "
	                              "tcp_request_deadline_ms: 1000, "
	                              "tcp_auth_deadline_ms: 3000}\n") < 0) {
		free(x);
		return -1;
	}
	fake_conn_init(&x->fc, &x->h, "198.51.100.7:4000", true);
	x->in = evbuffer_new();
	x->h.w->now_ms = T0;
	stream_init(&x->st, T0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *x = *state;

	evbuffer_free(x->in);
	harness_reset(&x->h);
	harness_fini(&x->h);
	free(x);
	return 0;
}

/* Bytes arrive at `at` ms after accept. */
static int feed(struct ctx *x, uint64_t at, const void *buf, size_t len)
{
	x->h.w->now_ms = T0 + at;
	evbuffer_add(x->in, buf, len);
	return stream_input(&x->st, &x->fc.c, x->in);
}

static uint64_t deadline(struct ctx *x, enum conn_close *why)
{
	return stream_deadline(&x->st, &x->fc.c, why);
}

static size_t binding(uint8_t *out, size_t body)
{
	struct treq q;
	size_t n;

	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 1);
	if (body)
		stun_wr_attr(&q.wr, 0x80f0, (const uint8_t[2048]){0}, body); /* optional, unknown */
	n = treq_end(&q);
	memcpy(out, q.buf, n);
	return n;
}

static void test_frame_cap_before_auth(void **state)
{
	struct ctx *x = *state;
	uint8_t head[20];

	/* Only the header of a 3000-byte Binding: refused on its announced length. */
	binding(head, 0);
	head[2] = 3000 >> 8;
	head[3] = 3000 & 0xff;
	assert_int_equal(feed(x, 0, head, sizeof(head)), -CLOSE_FRAME_UNAUTH);
	assert_int_equal(x->h.w->st.drops[DROP_OVERSIZE], 1);
	/* Once authenticated the same length is only waited for. */
	evbuffer_drain(x->in, evbuffer_get_length(x->in));
	x->fc.c.authed = true;
	assert_int_equal(feed(x, 0, head, sizeof(head)), 0);
}

static void test_small_frames_answered(void **state)
{
	struct ctx *x = *state;
	uint8_t msg[2100];
	size_t n = binding(msg, 1400); /* as much as a treq holds */

	assert_true(n <= STREAM_MAX_FRAME_UNAUTH);
	assert_int_equal(feed(x, 0, msg, n), 0);
	assert_int_equal(fake_last_code(&x->fc), 0);
	assert_false(x->fc.c.authed); /* a Binding does not authenticate */
}

static void test_auth_sets_flag(void **state)
{
	struct ctx *x = *state;
	struct treq q;
	size_t n;

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 2);
	stun_wr_attr(&q.wr, STUN_A_REQUESTED_TRANSPORT, (const uint8_t[]){17, 0, 0, 0}, 4);
	n = treq_sign(&x->h, &q, &x->fc, "demo", "demo");
	assert_int_equal(feed(x, 0, q.buf, n), 0);
	assert_int_equal(fake_last_code(&x->fc), 0);
	assert_true(x->fc.c.authed);
	/* Wrong password on another connection: not authenticated. */
	fake_conn_init(&x->fc, &x->h, "198.51.100.8:4000", true);
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 3);
	stun_wr_attr(&q.wr, STUN_A_REQUESTED_TRANSPORT, (const uint8_t[]){17, 0, 0, 0}, 4);
	n = treq_sign(&x->h, &q, &x->fc, "demo", "wrong");
	assert_int_equal(feed(x, 0, q.buf, n), 0);
	assert_false(x->fc.c.authed);
}

static void test_deadlines_not_extended(void **state)
{
	struct ctx *x = *state;
	enum conn_close why;
	uint8_t msg[64];
	size_t n = binding(msg, 0);

	assert_int_equal(deadline(x, &why), T0 + 1000);
	assert_int_equal(why, CLOSE_REQUEST_DEADLINE);
	/* A trickle: the frame deadline runs from the first byte, not the last. */
	assert_int_equal(feed(x, 100, msg, 1), 0);
	assert_int_equal(deadline(x, &why), T0 + 600);
	assert_int_equal(why, CLOSE_FRAME_DEADLINE);
	assert_int_equal(feed(x, 400, msg + 1, 1), 0);
	assert_int_equal(deadline(x, &why), T0 + 600);
	/* The frame completes: the authentication deadline remains, from accept. */
	assert_int_equal(feed(x, 500, msg + 2, n - 2), 0);
	assert_int_equal(deadline(x, &why), T0 + 3000);
	assert_int_equal(why, CLOSE_AUTH_DEADLINE);
	/* Authenticated and nothing pending: no deadline. */
	x->fc.c.authed = true;
	assert_int_equal(deadline(x, &why), 0);
	assert_int_equal(feed(x, 5000, msg, 3), 0);
	assert_int_equal(deadline(x, &why), T0 + 5500);
}

static void test_bad_frame(void **state)
{
	struct ctx *x = *state;

	assert_int_equal(feed(x, 0, "\xff\xff\xff\xff", 4), -CLOSE_BAD_FRAME);
}

/* A TLS or HTTP client on a plain port: refused as before, and named. */
static void test_misdirected(void **state)
{
	static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	static const char get[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	struct ctx *x = *state;
	struct stats *st = &x->h.w->st;

	assert_int_equal(feed(x, 0, hello, sizeof(hello) - 1), -CLOSE_BAD_FRAME);
	assert_int_equal(st->misdirected[MISDIRECT_TLS], 1);
	assert_int_equal(st->drops[DROP_NOT_STUN], 1);
	evbuffer_drain(x->in, evbuffer_get_length(x->in));
	assert_int_equal(feed(x, 0, get, sizeof(get) - 1), -CLOSE_FRAME_UNAUTH);
	assert_int_equal(st->misdirected[MISDIRECT_HTTP], 1);
	assert_int_equal(st->drops[DROP_OVERSIZE], 1);
	evbuffer_drain(x->in, evbuffer_get_length(x->in));
	/* Garbage is still only garbage. */
	assert_int_equal(feed(x, 0, "\xff\xff\xff\xff", 4), -CLOSE_BAD_FRAME);
	assert_int_equal(st->misdirected[MISDIRECT_TLS] + st->misdirected[MISDIRECT_HTTP] +
	                         st->misdirected[MISDIRECT_DTLS],
	                 2);
}

static void addr(struct tw_addr *a, const char *s)
{
	assert_int_equal(tw_addr_parse(s, 0, a), 0);
}

/* IPv4 by address, IPv6 by /64; unauthenticated within the per-source cap. */
static void test_connlimit_sources(void **state)
{
	struct connlimit_caps caps = {.total = 6, .per_source = 3, .unauth = 2};
	struct connlimit *l = connlimit_new(&caps, 1);
	struct tw_addr a, a2, b, v6a, v6b, v6c;
	unsigned n, u;

	(void)state;
	assert_non_null(l);
	addr(&a, "192.0.2.1");
	addr(&a2, "192.0.2.2");
	addr(&b, "198.51.100.1");
	addr(&v6a, "2001:db8:0:1::1");
	addr(&v6b, "2001:db8:0:1:ffff::2");
	addr(&v6c, "2001:db8:0:2::1");
	assert_int_equal(connlimit_take(l, &a), CONNLIMIT_OK);
	assert_int_equal(connlimit_take(l, &a), CONNLIMIT_OK);
	assert_int_equal(connlimit_take(l, &a), CONNLIMIT_UNAUTH);
	assert_int_equal(connlimit_take(l, &a2), CONNLIMIT_OK); /* another IPv4 address */
	connlimit_authed(l, &a);
	assert_int_equal(connlimit_take(l, &a), CONNLIMIT_OK);
	assert_int_equal(connlimit_take(l, &a), CONNLIMIT_SOURCE);
	connlimit_get(l, &a, &n, &u);
	assert_int_equal(n, 3);
	assert_int_equal(u, 2);
	assert_int_equal(connlimit_take(l, &v6a), CONNLIMIT_OK);
	assert_int_equal(connlimit_take(l, &v6b), CONNLIMIT_OK);    /* same /64 */
	assert_int_equal(connlimit_take(l, &v6c), CONNLIMIT_TOTAL); /* 6 open */
	connlimit_put(l, &a, true);
	assert_int_equal(connlimit_take(l, &v6a), CONNLIMIT_UNAUTH); /* the /64 has 2 */
	assert_int_equal(connlimit_take(l, &v6c), CONNLIMIT_OK);
	connlimit_put(l, &a, false);
	connlimit_put(l, &a, false);
	connlimit_get(l, &a, &n, &u);
	assert_int_equal(n, 0);
	assert_int_equal(u, 0);
	assert_int_equal(connlimit_take(l, &b), CONNLIMIT_OK);
	connlimit_free(l);
	connlimit_free(NULL);
}

/* connlimit_shrunk: says yes once per fall of `by` below the peak. */
static void test_connlimit_shrunk(void **state)
{
	struct connlimit_caps caps = {.total = 100, .per_source = 100, .unauth = 100};
	struct connlimit *l = connlimit_new(&caps, 1);
	struct tw_addr a = {.family = TW_AF_INET, .ip = {192, 0, 2, 1}};

	(void)state;
	assert_non_null(l);
	for (int i = 0; i < 10; i++)
		assert_int_equal(connlimit_take(l, &a), CONNLIMIT_OK);
	assert_false(connlimit_shrunk(l, 4)); /* at the peak */
	for (int i = 0; i < 3; i++)
		connlimit_put(l, &a, false);
	assert_false(connlimit_shrunk(l, 4)); /* 3 below */
	connlimit_put(l, &a, false);
	assert_true(connlimit_shrunk(l, 4)); /* 4 below: yes, and the peak is now 6 */
	assert_false(connlimit_shrunk(l, 4));
	for (int i = 0; i < 2; i++)
		assert_int_equal(connlimit_take(l, &a), CONNLIMIT_OK); /* 8, a new peak */
	for (int i = 0; i < 4; i++)
		connlimit_put(l, &a, false);
	assert_true(connlimit_shrunk(l, 4));
	connlimit_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_frame_cap_before_auth, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_small_frames_answered, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_sets_flag, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_deadlines_not_extended, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_frame, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_misdirected, setup, teardown),
	        cmocka_unit_test(test_connlimit_sources),
	        cmocka_unit_test(test_connlimit_shrunk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
