/*
 * Binding compatibility through the fake transport (tests/relay/harness.h):
 * CHANGE-REQUEST with and without an RFC 5780 alternate set, and classic
 * RFC 3489 requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/cursor.h"
#include "tests/relay/harness.h"

#define CLIENT "198.51.100.7:5000"
#define OTHER  "127.0.0.2:3479" /* the fake's local is 127.0.0.1:3478 */

static int setup_with(void **state, const char *extra)
{
	return harness_ctx_setup(state, extra, CLIENT);
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_no3489(void **state)
{
	return setup_with(state, "compat:\n  rfc3489: false\n");
}

static int teardown(void **state)
{
	return harness_ctx_teardown(state);
}

/* A Binding request with CHANGE-REQUEST (flags, or none when < 0). */
static size_t binding(struct treq *q, long flags, uint8_t tid)
{
	treq_begin(q, STUN_BINDING, STUN_REQUEST, tid);
	if (flags >= 0)
		stun_wr_u32(&q->wr, STUN_A_CHANGE_REQUEST, (uint32_t)flags);
	return treq_end(q);
}

/* The same as a classic RFC 3489 request: 16-byte id, no cookie. */
static size_t classic(struct treq *q, uint16_t method, long flags, uint8_t tid)
{
	static const uint8_t tid0[4] = {0xca, 0xfe, 0x00, 0x01};
	size_t n;

	treq_begin(q, method, STUN_REQUEST, tid);
	if (flags >= 0)
		stun_wr_u32(&q->wr, STUN_A_CHANGE_REQUEST, (uint32_t)flags);
	n = treq_end(q);
	memcpy(q->buf + 4, tid0, sizeof(tid0));
	return n;
}

static void addr_is(const struct stun_msg *m, uint16_t type, const char *want)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	struct tw_addr got, w;

	assert_non_null(a);
	assert_int_equal(tw_addr_parse(want, 0, &w), 0);
	if (type == STUN_A_XOR_MAPPED_ADDRESS)
		assert_int_equal(stun_attr_xaddr(m, a, &got), 0);
	else
		assert_int_equal(stun_attr_addr(m, a, &got), 0);
	assert_true(tw_addr_eq(&got, &w));
}

static unsigned last_change(const struct fake_conn *fc)
{
	return fc->out_change[(fc->n_out - 1) % FAKE_KEEP];
}

/* stuntman's stunclient sends a blank one with every Binding. */
static void test_blank_change_request(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;

	fake_input(&x->h, &x->fc, q.buf, binding(&q, 0, 1));
	assert_true(fake_last(&x->fc, &m));
	assert_int_equal(m.cls, STUN_SUCCESS);
	addr_is(&m, STUN_A_XOR_MAPPED_ADDRESS, CLIENT);
	/* No alternate set: nothing about RFC 5780 in the answer. */
	assert_null(stun_msg_find(&m, STUN_A_RESPONSE_ORIGIN));
	assert_null(stun_msg_find(&m, STUN_A_OTHER_ADDRESS));
	assert_int_equal(last_change(&x->fc), 0);
}

/* RFC 5780 §7.2: flags the server cannot honour are a 420 naming 0x0003. */
static void test_flags_without_rfc5780_420(void **state)
{
	static const long flags[] = {STUN_CHANGE_IP, STUN_CHANGE_PORT,
	                             STUN_CHANGE_IP | STUN_CHANGE_PORT};
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;
	const struct stun_attr *ua;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		fake_input(&x->h, &x->fc, q.buf, binding(&q, flags[i], (uint8_t)(2 + i)));
		assert_int_equal(fake_last_code(&x->fc), 420);
		assert_true(fake_last(&x->fc, &m));
		ua = stun_msg_find(&m, STUN_A_UNKNOWN_ATTRIBUTES);
		assert_non_null(ua);
		assert_int_equal(ua->len, 2);
		assert_int_equal(peek_u16(stun_attr_val(&m, ua)), STUN_A_CHANGE_REQUEST);
	}
	assert_int_equal(x->h.w->st.errors[1][20], 3);
	/* Bits outside the two flags are ignored, not refused. */
	fake_input(&x->h, &x->fc, q.buf, binding(&q, 0x1, 9));
	assert_int_equal(fake_last_code(&x->fc), 0);
}

static void test_change_request_malformed_400(void **state)
{
	struct harness_ctx *x = *state;
	uint8_t v[2] = {0};
	struct treq q;

	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 10);
	stun_wr_attr(&q.wr, STUN_A_CHANGE_REQUEST, v, sizeof(v));
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 400);
}

/* RFC 5780 §7.3: each flag combination leaves from its own socket. */
static void test_rfc5780_changes(void **state)
{
	static const struct {
		long flags;
		const char *origin;
	} rows[] = {
	        {-1, "127.0.0.1:3478"},
	        {0, "127.0.0.1:3478"},
	        {STUN_CHANGE_PORT, "127.0.0.1:3479"},
	        {STUN_CHANGE_IP, "127.0.0.2:3478"},
	        {STUN_CHANGE_IP | STUN_CHANGE_PORT, "127.0.0.2:3479"},
	};
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;

	fake_conn_alt(&x->fc, OTHER);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fake_input(&x->h, &x->fc, q.buf, binding(&q, rows[i].flags, (uint8_t)(20 + i)));
		assert_true(fake_last(&x->fc, &m));
		assert_int_equal(m.cls, STUN_SUCCESS);
		addr_is(&m, STUN_A_XOR_MAPPED_ADDRESS, CLIENT);
		addr_is(&m, STUN_A_RESPONSE_ORIGIN, rows[i].origin);
		addr_is(&m, STUN_A_OTHER_ADDRESS, OTHER);
		assert_int_equal(last_change(&x->fc), rows[i].flags < 0 ? 0 : rows[i].flags);
	}
	assert_int_equal(x->h.w->st.binding_changed[STUN_CHANGE_PORT >> 1], 1);
	assert_int_equal(x->h.w->st.binding_changed[STUN_CHANGE_IP >> 1], 1);
	assert_int_equal(x->h.w->st.binding_changed[3], 1);
}

/* RFC 5780 §7.5, §7.6: as turnutils_stunclient -f sends them. */
static void test_response_port_and_padding(void **state)
{
	static const uint8_t zeros[1500];
	static const size_t pads[] = {0, 4, 500, 1400};
	struct harness_ctx *x = *state;
	const struct stun_attr *pa;
	struct treq q;
	struct stun_msg m;
	size_t n;

	/* Without an alternate set: a 420 naming both. */
	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 80);
	stun_wr_u32(&q.wr, STUN_A_RESPONSE_PORT, 40000u << 16);
	stun_wr_attr(&q.wr, STUN_A_PADDING, zeros, 100);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 420);
	assert_true(fake_last(&x->fc, &m));
	pa = stun_msg_find(&m, STUN_A_UNKNOWN_ATTRIBUTES);
	assert_non_null(pa);
	assert_int_equal(pa->len, 4);
	assert_int_equal(peek_u16(stun_attr_val(&m, pa)), STUN_A_RESPONSE_PORT);
	assert_int_equal(peek_u16(stun_attr_val(&m, pa) + 2), STUN_A_PADDING);
	assert_int_equal(x->fc.out_port[(x->fc.n_out - 1) % FAKE_KEEP], 0);

	fake_conn_alt(&x->fc, OTHER);
	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 81);
	stun_wr_u32(&q.wr, STUN_A_RESPONSE_PORT, 40000u << 16);
	stun_wr_u32(&q.wr, STUN_A_CHANGE_REQUEST, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 0);
	assert_int_equal(x->fc.out_port[(x->fc.n_out - 1) % FAKE_KEEP], 40000);
	assert_int_equal(last_change(&x->fc), STUN_CHANGE_IP | STUN_CHANGE_PORT);

	/* Port 0 or a wrong length is a 400, answered the way it came. */
	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 82);
	stun_wr_u32(&q.wr, STUN_A_CHANGE_REQUEST, STUN_CHANGE_IP);
	stun_wr_u32(&q.wr, STUN_A_RESPONSE_PORT, 0);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 400);
	assert_int_equal(last_change(&x->fc), 0);
	assert_int_equal(x->fc.out_port[(x->fc.n_out - 1) % FAKE_KEEP], 0);

	/* PADDING: the answer is padded as much as the request (the cut to
	 * one answer's room is met by turnutils_stunclient's 1500 bytes). */
	for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		size_t want = pads[i];

		treq_begin(&q, STUN_BINDING, STUN_REQUEST, (uint8_t)(83 + i));
		stun_wr_attr(&q.wr, STUN_A_PADDING, zeros, want);
		n = treq_end(&q);
		assert_true(n > 0);
		fake_input(&x->h, &x->fc, q.buf, n);
		assert_true(fake_last(&x->fc, &m));
		assert_int_equal(m.cls, STUN_SUCCESS);
		pa = stun_msg_find(&m, STUN_A_PADDING);
		assert_non_null(pa);
		assert_int_equal(pa->len, want);
	}
}

/* RFC 8489 §12.2: MAPPED-ADDRESS, the 16-byte id echoed, no FINGERPRINT. */
static void test_classic_binding(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;
	size_t n = classic(&q, STUN_BINDING, -1, 30);
	const uint8_t *out;

	fake_input(&x->h, &x->fc, q.buf, n);
	assert_true(fake_last(&x->fc, &m));
	assert_true(m.classic);
	assert_int_equal(m.cls, STUN_SUCCESS);
	out = x->fc.out[(x->fc.n_out - 1) % FAKE_KEEP];
	assert_memory_equal(out + 4, q.buf + 4, 16);
	addr_is(&m, STUN_A_MAPPED_ADDRESS, CLIENT);
	assert_null(stun_msg_find(&m, STUN_A_XOR_MAPPED_ADDRESS));
	assert_null(stun_msg_find(&m, STUN_A_SOURCE_ADDRESS));
	assert_int_equal(m.fp, -1);
	assert_null(stun_msg_find(&m, STUN_A_SOFTWARE)); /* not 4-aligned: stun rejects it */
	assert_int_equal(x->h.w->st.classic_bindings, 1);

	/* A set flag and no alternate set: the classic 420. */
	fake_input(&x->h, &x->fc, q.buf, classic(&q, STUN_BINDING, STUN_CHANGE_IP, 31));
	assert_int_equal(fake_last_code(&x->fc), 420);
}

/* RFC 3489 §11.2.3, §11.2.5: SOURCE-ADDRESS and CHANGED-ADDRESS. */
static void test_classic_rfc5780(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;

	fake_conn_alt(&x->fc, OTHER);
	fake_input(&x->h, &x->fc, q.buf,
	           classic(&q, STUN_BINDING, STUN_CHANGE_IP | STUN_CHANGE_PORT, 40));
	assert_true(fake_last(&x->fc, &m));
	assert_true(m.classic);
	addr_is(&m, STUN_A_MAPPED_ADDRESS, CLIENT);
	addr_is(&m, STUN_A_SOURCE_ADDRESS, OTHER);
	addr_is(&m, STUN_A_CHANGED_ADDRESS, OTHER);
	assert_null(stun_msg_find(&m, STUN_A_RESPONSE_ORIGIN));
	assert_int_equal(last_change(&x->fc), STUN_CHANGE_IP | STUN_CHANGE_PORT);
}

static void test_classic_other_dropped(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn tcp;
	struct treq q;
	size_t n;

	fake_input(&x->h, &x->fc, q.buf, classic(&q, STUN_ALLOCATE, -1, 50));
	fake_input(&x->h, &x->fc, q.buf, classic(&q, 0x002, -1, 51)); /* Shared Secret */
	treq_begin(&q, STUN_BINDING, STUN_INDICATION, 52);
	n = treq_end(&q);
	memset(q.buf + 4, 0x11, 4);
	fake_input(&x->h, &x->fc, q.buf, n);
	assert_int_equal(x->fc.n_out, 0);
	assert_int_equal(x->h.w->st.drops[DROP_CLASSIC], 3);
	/* RFC 3489 Binding is UDP only: not over a stream. */
	fake_conn_init(&tcp, &x->h, CLIENT, true);
	fake_input(&x->h, &tcp, q.buf, classic(&q, STUN_BINDING, -1, 54));
	assert_int_equal(tcp.n_out, 0);
	assert_int_equal(x->h.w->st.drops[DROP_CLASSIC], 4);
	/* A broken classic Binding is dropped too, not answered 400. */
	n = classic(&q, STUN_BINDING, 0, 53);
	put_u16(q.buf + 22, 8); /* CHANGE-REQUEST claims more than there is */
	fake_input(&x->h, &x->fc, q.buf, n);
	assert_int_equal(x->fc.n_out, 0);
	assert_int_equal(x->h.w->st.drops[DROP_MALFORMED], 1);
}

/* The answers are unauthenticated: the per-source limit holds them. */
static void test_classic_rate_limited(void **state)
{
	struct harness_ctx *x = *state;
	unsigned burst = x->h.r.cfg.unauth_burst;
	struct treq q;

	x->h.frozen_ms = x->h.w->now_ms;
	for (unsigned i = 0; i < burst + 5; i++)
		fake_input(&x->h, &x->fc, q.buf, classic(&q, STUN_BINDING, -1, (uint8_t)i));
	assert_int_equal(x->fc.n_out, burst);
	assert_int_equal(x->h.w->st.drops[DROP_RATELIMIT], 5);
}

static void test_classic_off(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	fake_input(&x->h, &x->fc, q.buf, classic(&q, STUN_BINDING, -1, 60));
	assert_int_equal(x->fc.n_out, 0);
	assert_int_equal(x->h.w->st.drops[DROP_NOT_STUN], 1);
}

/* The alternate sockets are for discovery: no Allocate there. */
static void test_binding_only_socket(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	x->fc.c.binding_only = true;
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 70);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 403);
	assert_null(x->fc.c.a);
	fake_input(&x->h, &x->fc, q.buf, binding(&q, 0, 71));
	assert_int_equal(fake_last_code(&x->fc), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_blank_change_request, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_flags_without_rfc5780_420, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_change_request_malformed_400, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rfc5780_changes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_response_port_and_padding, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_classic_binding, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_classic_rfc5780, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_classic_other_dropped, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_classic_rate_limited, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_classic_off, setup_no3489, teardown),
	        cmocka_unit_test_setup_teardown(test_binding_only_socket, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
