/*
 * The TURN core driven through a fake client transport (tests/relay/
 * harness.h): every method and every error code it answers, without
 * client sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/chdata.h"
#include "relay/alloc.h"
#include "tests/relay/harness.h"

#define CLIENT "198.51.100.7:5000"
#define PEER   "127.0.0.1:9"

static int setup_with(void **state, const char *extra)
{
	return harness_ctx_setup(state, extra, CLIENT);
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_quota(void **state)
{
	return setup_with(state, "limits:\n  user_quota: 1\n");
}

static int setup_quota2(void **state)
{
	return setup_with(state, "limits:\n  user_quota: 2\n");
}

static int setup_one_port(void **state)
{
	return setup_with(state, "relay:\n  addresses: [127.0.0.1]\n  port_min: 47998\n"
	                         "  port_max: 47998\n");
}

static int teardown(void **state)
{
	return harness_ctx_teardown(state);
}

static void add_transport(struct treq *q, uint8_t proto)
{
	uint8_t v[4] = {proto, 0, 0, 0};

	stun_wr_attr(&q->wr, STUN_A_REQUESTED_TRANSPORT, v, sizeof(v));
}

static void add_peer(struct treq *q, const char *s)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse(s, 0, &a), 0);
	stun_wr_xaddr(&q->wr, STUN_A_XOR_PEER_ADDRESS, &a);
}

/* Sends a signed request for demo and returns the answer's code. */
static int ask(struct harness_ctx *x, struct fake_conn *fc, struct treq *q, const char *user)
{
	size_t n = treq_sign(&x->h, q, fc, user, user);

	assert_true(n > 0);
	fake_input(&x->h, fc, q->buf, n);
	return fake_last_code(fc);
}

static int allocate(struct harness_ctx *x, struct fake_conn *fc, const char *user, uint8_t tid)
{
	struct treq q;

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, tid);
	add_transport(&q, STUN_PROTO_UDP);
	return ask(x, fc, &q, user);
}

static void test_binding(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;
	struct tw_addr mapped;
	size_t n;

	treq_begin(&q, STUN_BINDING, STUN_REQUEST, 1);
	n = treq_end(&q);
	fake_input(&x->h, &x->fc, q.buf, n);
	assert_true(fake_last(&x->fc, &m));
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_int_equal(stun_attr_xaddr(&m, stun_msg_find(&m, STUN_A_XOR_MAPPED_ADDRESS), &mapped),
	                 0);
	assert_true(tw_addr_eq(&mapped, &x->fc.c.client));
	assert_int_equal(x->h.w->st.requests[SM_BINDING], 1);
}

static void test_allocate_unauthenticated_401(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;
	size_t n;

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 2);
	add_transport(&q, STUN_PROTO_UDP);
	n = treq_end(&q);
	fake_input(&x->h, &x->fc, q.buf, n);
	assert_int_equal(fake_last_code(&x->fc), 401);
	assert_true(fake_last(&x->fc, &m));
	assert_non_null(stun_msg_find(&m, STUN_A_NONCE));
	assert_non_null(stun_msg_find(&m, STUN_A_REALM));
	assert_null(x->fc.c.a);
}

static void test_allocate_bad_credentials(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 3);
	add_transport(&q, STUN_PROTO_UDP);
	assert_int_equal(treq_sign(&x->h, &q, &x->fc, "demo", "wrong") > 0, 1);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 401);
	assert_int_equal(x->h.w->st.auth_fail[AUTHF_INTEGRITY], 1);
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 4);
	add_transport(&q, STUN_PROTO_UDP);
	assert_int_equal(ask(x, &x->fc, &q, "mallory"), 401);
	assert_null(x->fc.c.a);
}

static void test_allocate_stale_nonce_438(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn other;
	struct treq q;

	/* A nonce made for another client address is not this client's. */
	fake_conn_init(&other, &x->h, "198.51.100.8:5000", false);
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 5);
	add_transport(&q, STUN_PROTO_UDP);
	fake_input(&x->h, &x->fc, q.buf, treq_sign(&x->h, &q, &other, "demo", "demo"));
	assert_int_equal(fake_last_code(&x->fc), 438);
}

static void test_allocate_ok_and_retransmit(void **state)
{
	struct harness_ctx *x = *state;
	struct stun_msg m;
	struct tw_addr relayed;

	assert_int_equal(allocate(x, &x->fc, "demo", 6), 0);
	assert_non_null(x->fc.c.a);
	assert_non_null(x->h.w->flows);
	assert_true(fake_last(&x->fc, &m));
	assert_int_equal(
	        stun_attr_xaddr(&m, stun_msg_find(&m, STUN_A_XOR_RELAYED_ADDRESS), &relayed), 0);
	assert_in_range(relayed.port, 47000, 47999);
	/* §7.2: the same transaction gets the same answer, another one 437. */
	assert_int_equal(allocate(x, &x->fc, "demo", 6), 0);
	assert_int_equal(allocate(x, &x->fc, "demo", 7), 437);
	assert_int_equal(x->h.w->st.allocs_created, 1);
}

static void test_allocate_bad_requests(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	uint8_t v6[4] = {TW_AF_INET6, 0, 0, 0};

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 8);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 400); /* no REQUESTED-TRANSPORT */
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 9);
	add_transport(&q, STUN_PROTO_TCP);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 442);
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 10);
	add_transport(&q, STUN_PROTO_UDP);
	stun_wr_attr(&q.wr, STUN_A_REQUESTED_ADDRESS_FAMILY, v6, sizeof(v6));
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 440); /* no IPv6 relay address */
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 11);
	add_transport(&q, STUN_PROTO_UDP);
	stun_wr_u64(&q.wr, STUN_A_RESERVATION_TOKEN, 0x1234);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 508); /* unknown token */
	assert_null(x->fc.c.a);
}

static void test_unknown_attribute_420(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	struct stun_msg m;
	uint8_t v[4] = {0};

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 12);
	add_transport(&q, STUN_PROTO_UDP);
	stun_wr_attr(&q.wr, 0x0030, v, sizeof(v)); /* comprehension-required, unknown */
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 420);
	assert_true(fake_last(&x->fc, &m));
	assert_non_null(stun_msg_find(&m, STUN_A_UNKNOWN_ATTRIBUTES));
}

static void test_unknown_method_400(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	treq_begin(&q, 0x011, STUN_REQUEST, 13);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(fake_last_code(&x->fc), 400);
	/* Its own counter slot: 0x011 is not Binding (0x001). */
	assert_int_equal(x->h.w->st.requests[SM_OTHER], 1);
	assert_int_equal(x->h.w->st.requests[SM_BINDING], 0);
}

static void test_refresh(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	treq_begin(&q, STUN_REFRESH, STUN_REQUEST, 14);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 437);
	assert_int_equal(allocate(x, &x->fc, "demo", 15), 0);
	treq_begin(&q, STUN_REFRESH, STUN_REQUEST, 16);
	stun_wr_u32(&q.wr, STUN_A_LIFETIME, 1200);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 0);
	treq_begin(&q, STUN_REFRESH, STUN_REQUEST, 17);
	stun_wr_u32(&q.wr, STUN_A_LIFETIME, 0);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 0);
	assert_null(x->fc.c.a);
	assert_null(x->h.w->flows);
	assert_int_equal(x->h.w->st.allocs_deleted, 1);
}

static void test_permissions(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	treq_begin(&q, STUN_CREATE_PERMISSION, STUN_REQUEST, 18);
	add_peer(&q, PEER);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 437);
	assert_int_equal(allocate(x, &x->fc, "demo", 19), 0);
	treq_begin(&q, STUN_CREATE_PERMISSION, STUN_REQUEST, 20);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 400); /* no peer */
	treq_begin(&q, STUN_CREATE_PERMISSION, STUN_REQUEST, 21);
	add_peer(&q, "0.0.0.1:9"); /* "this network": always denied */
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 403);
	treq_begin(&q, STUN_CREATE_PERMISSION, STUN_REQUEST, 22);
	add_peer(&q, "[2001:db8::1]:9"); /* no IPv6 relay address */
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 443);
	treq_begin(&q, STUN_CREATE_PERMISSION, STUN_REQUEST, 23);
	add_peer(&q, PEER);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 0);
	assert_int_equal(x->fc.c.a->n_perms, 1);
}

static void test_channels(void **state)
{
	struct harness_ctx *x = *state;
	struct tw_addr peer;
	struct treq q;
	uint8_t cd[8];

	assert_int_equal(allocate(x, &x->fc, "demo", 24), 0);
	treq_begin(&q, STUN_CHANNEL_BIND, STUN_REQUEST, 25);
	stun_wr_u32(&q.wr, STUN_A_CHANNEL_NUMBER, 0x3fffu << 16);
	add_peer(&q, PEER);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 400); /* below 0x4000 */
	treq_begin(&q, STUN_CHANNEL_BIND, STUN_REQUEST, 26);
	stun_wr_u32(&q.wr, STUN_A_CHANNEL_NUMBER, 0x4000u << 16);
	add_peer(&q, PEER);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 0);
	treq_begin(&q, STUN_CHANNEL_BIND, STUN_REQUEST, 27);
	stun_wr_u32(&q.wr, STUN_A_CHANNEL_NUMBER, 0x4000u << 16);
	add_peer(&q, "127.0.0.1:10"); /* the number is bound to another peer */
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 400);
	assert_int_equal(tw_addr_parse(PEER, 0, &peer), 0);
	assert_non_null(alloc_chan_by_peer(x->fc.c.a, &peer));
	/* ChannelData on the bound channel goes to the peer. */
	chdata_hdr_write(cd, 0x4000, 4);
	memcpy(cd + 4, "ping", 4);
	fake_input(&x->h, &x->fc, cd, sizeof(cd));
	assert_int_equal(x->h.w->st.tx_peer_pkts, 1);
	chdata_hdr_write(cd, 0x4001, 4);
	fake_input(&x->h, &x->fc, cd, sizeof(cd));
	assert_int_equal(x->h.w->st.drops[DROP_NO_CHANNEL], 1);
}

static void test_send_indication(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	treq_begin(&q, STUN_SEND, STUN_INDICATION, 28);
	add_peer(&q, PEER);
	stun_wr_attr(&q.wr, STUN_A_DATA, "hello", 5);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(x->h.w->st.drops[DROP_NO_ALLOCATION], 1);
	assert_int_equal(allocate(x, &x->fc, "demo", 29), 0);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(x->h.w->st.drops[DROP_NO_PERMISSION], 1);
	treq_begin(&q, STUN_CREATE_PERMISSION, STUN_REQUEST, 30);
	add_peer(&q, PEER);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 0);
	treq_begin(&q, STUN_SEND, STUN_INDICATION, 31);
	add_peer(&q, PEER);
	stun_wr_attr(&q.wr, STUN_A_DATA, "hello", 5);
	fake_input(&x->h, &x->fc, q.buf, treq_end(&q));
	assert_int_equal(x->h.w->st.tx_peer_pkts, 1);
	assert_int_equal(x->h.w->st.tx_peer_bytes, 5);
}

static void test_wrong_user_441(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;

	assert_int_equal(allocate(x, &x->fc, "demo", 32), 0);
	treq_begin(&q, STUN_REFRESH, STUN_REQUEST, 33);
	assert_int_equal(ask(x, &x->fc, &q, "eve"), 441);
}

static void test_quota_486(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn other;

	fake_conn_init(&other, &x->h, "198.51.100.9:5000", false);
	assert_int_equal(allocate(x, &x->fc, "demo", 34), 0);
	assert_int_equal(allocate(x, &other, "demo", 35), 486);
	assert_int_equal(allocate(x, &other, "eve", 36), 0);
}

/* An RTP/RTCP pair (EVEN-PORT R=1, then the token) fits a quota of two:
 * the held port counts against the user until it is claimed. */
static void test_reservation_pair_in_quota(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn rtcp, third;
	const struct stun_attr *ta;
	struct stun_msg m;
	uint64_t token;
	struct treq q;

	fake_conn_init(&rtcp, &x->h, "198.51.100.7:5001", false);
	fake_conn_init(&third, &x->h, "198.51.100.7:5002", false);
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 60);
	add_transport(&q, STUN_PROTO_UDP);
	stun_wr_attr(&q.wr, STUN_A_EVEN_PORT, "\x80", 1);
	assert_int_equal(ask(x, &x->fc, &q, "demo"), 0);
	assert_true(fake_last(&x->fc, &m));
	ta = stun_msg_find(&m, STUN_A_RESERVATION_TOKEN);
	assert_non_null(ta);
	assert_int_equal(stun_attr_u64(&m, ta, &token), 0);
	/* Allocation + held port: a third allocation is over the quota. */
	assert_int_equal(allocate(x, &third, "demo", 61), 486);
	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 62);
	add_transport(&q, STUN_PROTO_UDP);
	stun_wr_u64(&q.wr, STUN_A_RESERVATION_TOKEN, token);
	assert_int_equal(ask(x, &rtcp, &q, "demo"), 0);
	assert_int_equal(rtcp.c.a->rs[0].addr.port, x->fc.c.a->rs[0].addr.port + 1);
}

/* Issue 17, finding 9: "demo\0evil" signed with demo's key is not demo. */
static void test_username_with_nul_400(void **state)
{
	struct harness_ctx *x = *state;
	struct treq q;
	size_t n;

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 70);
	add_transport(&q, STUN_PROTO_UDP);
	n = treq_sign_as(&x->h, &q, &x->fc, "demo\0evil", 9, "demo");
	fake_input(&x->h, &x->fc, q.buf, n);
	assert_int_equal(fake_last_code(&x->fc), 400);
	assert_null(x->fc.c.a);
}

/*
 * Issue 17, finding 3: wrong passwords from one source back off, and are
 * then refused without an integrity check; the same user from another
 * address is still checked and gets in.
 */
static void test_password_guessing_backs_off(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn good;
	struct treq q;
	unsigned refused;

	x->h.frozen_ms = relay_now_ms(); /* no back-off runs out during the loop */
	for (unsigned i = 0; i < 300; i++) {
		treq_begin(&q, STUN_REFRESH, STUN_REQUEST, (uint8_t)i);
		fake_input(&x->h, &x->fc, q.buf, treq_sign(&x->h, &q, &x->fc, "demo", "guess"));
	}
	refused = (unsigned)x->h.w->st.auth_fail[AUTHF_BACKOFF];
	/* Five failures are checked, then the source is backed off; the rest
	 * are refused unchecked, or dropped before any HMAC once the source's
	 * unauthenticated allowance is spent. */
	assert_int_equal(x->h.w->st.auth_fail[AUTHF_INTEGRITY], 5);
	assert_true(refused + x->h.w->st.drops[DROP_RATELIMIT] == 295);
	fake_conn_init(&good, &x->h, "198.51.100.99:5000", false);
	assert_int_equal(allocate(x, &good, "demo", 71), 0);
}

static void test_ports_exhausted_508(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn c[3];
	int codes[3];

	/* One relay port: the second and third allocations find none. */
	for (unsigned i = 0; i < 3; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.51.100.%u:6000", 20 + i);
		fake_conn_init(&c[i], &x->h, a, false);
		codes[i] = allocate(x, &c[i], "demo", (uint8_t)(40 + i));
	}
	assert_int_equal(codes[0], 0);
	assert_int_equal(codes[1], 508);
	assert_int_equal(codes[2], 508);
	harness_reset(&x->h);
	assert_int_equal(allocate(x, &c[1], "demo", 50), 0); /* the port is back */
}

static void test_stream_chdata_padding(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn s;
	uint8_t cd[8] = {0};

	fake_conn_init(&s, &x->h, "198.51.100.30:7000", true);
	assert_int_equal(allocate(x, &s, "demo", 51), 0);
	/* A 3-byte ChannelData frame on a stream carries one byte of padding. */
	chdata_hdr_write(cd, 0x4000, 3);
	fake_input(&x->h, &s, cd, 8);
	assert_int_equal(x->h.w->st.drops[DROP_NO_CHANNEL], 1);
	assert_int_equal(x->h.w->st.drops[DROP_MALFORMED], 0);
	harness_reset(&x->h);
	assert_null(s.c.a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_binding, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allocate_unauthenticated_401, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allocate_bad_credentials, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allocate_stale_nonce_438, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allocate_ok_and_retransmit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_allocate_bad_requests, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_attribute_420, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_method_400, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_channels, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_send_indication, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_user_441, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_quota_486, setup_quota, teardown),
	        cmocka_unit_test_setup_teardown(test_reservation_pair_in_quota, setup_quota2,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_username_with_nul_400, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_password_guessing_backs_off, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ports_exhausted_508, setup_one_port, teardown),
	        cmocka_unit_test_setup_teardown(test_stream_chdata_padding, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
