/*
 * RFC 6062 TCP relay allocations through the fake client transport
 * (tests/relay/harness.h): Allocate with REQUESTED-TRANSPORT TCP, Connect
 * against real loopback sockets (the worker's event loop is turned a
 * bounded number of times for the answer), 446, 447, ConnectionBind's
 * refusals, and the allocation's delete closing the peer connection.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "relay/alloc.h"
#include "tests/relay/harness.h"

#define CLIENT "198.51.100.7:5000"
#define SPINS  200 /* event loop turns (up to 20 ms each) before an answer counts as missing */

/* One turn of the worker's loop, waiting at most 20 ms for an event. */
static void spin(struct harness_ctx *x)
{
	struct timeval tv = {0, 20000};

	event_base_loopexit(x->h.w->base, &tv);
	event_base_loop(x->h.w->base, EVLOOP_ONCE);
}

static int setup(void **state)
{
	struct harness_ctx *x;

	if (harness_ctx_setup(state, NULL, CLIENT) < 0)
		return -1;
	x = *state;
	fake_conn_init(&x->fc, &x->h, CLIENT, true); /* a stream control connection */
	return 0;
}

static int teardown(void **state)
{
	return harness_ctx_teardown(state);
}

static int ask(struct harness_ctx *x, struct fake_conn *fc, struct treq *q)
{
	size_t n = treq_sign(&x->h, q, fc, "demo", "demo");

	assert_true(n > 0);
	fake_input(&x->h, fc, q->buf, n);
	return fake_last_code(fc);
}

static int allocate(struct harness_ctx *x, struct fake_conn *fc, uint8_t proto, bool even)
{
	uint8_t v[4] = {proto, 0, 0, 0}, ep[4] = {0x80, 0, 0, 0};
	struct treq q;

	treq_begin(&q, STUN_ALLOCATE, STUN_REQUEST, 1);
	stun_wr_attr(&q.wr, STUN_A_REQUESTED_TRANSPORT, v, sizeof(v));
	if (even)
		stun_wr_attr(&q.wr, STUN_A_EVEN_PORT, ep, 1);
	return ask(x, fc, &q);
}

/* A loopback listener (or, with listening false, a bound port nobody serves). */
static int peer_sock(bool listening, struct tw_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	if (listening)
		assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(tw_addr_parse("127.0.0.1", ntohs(sin.sin_port), a), 0);
	return fd;
}

/* Sends Connect; the answer comes from the event loop, within SPINS turns. */
static int connect_to(struct harness_ctx *x, const struct tw_addr *peer, uint8_t tid, uint32_t *id)
{
	unsigned before = x->fc.n_out;
	struct stun_msg m;
	struct treq q;
	int code;

	treq_begin(&q, STUN_CONNECT, STUN_REQUEST, tid);
	stun_wr_xaddr(&q.wr, STUN_A_XOR_PEER_ADDRESS, peer);
	fake_input(&x->h, &x->fc, q.buf, treq_sign(&x->h, &q, &x->fc, "demo", "demo"));
	for (int i = 0; i < SPINS && x->fc.n_out == before; i++)
		spin(x);
	code = fake_last_code(&x->fc);
	if (code == 0 && id) {
		assert_true(fake_last(&x->fc, &m));
		assert_int_equal(stun_attr_u32(&m, stun_msg_find(&m, STUN_A_CONNECTION_ID), id), 0);
	}
	return x->fc.n_out == before ? -1 : code;
}

static void test_allocate_tcp(void **state)
{
	struct harness_ctx *x = *state;
	struct allocation *a;

	assert_int_equal(allocate(x, &x->fc, STUN_PROTO_TCP, true), 400); /* no EVEN-PORT */
	assert_int_equal(allocate(x, &x->fc, STUN_PROTO_TCP, false), 0);
	a = x->fc.c.a;
	assert_non_null(a);
	assert_true(a->tcp);
	assert_int_equal(a->n_rs, 1);
	assert_true(a->rs[0].addr.port >= 47000 && a->rs[0].addr.port <= 47999);
}

static void test_connect_udp_allocation_400(void **state)
{
	struct harness_ctx *x = *state;
	struct tw_addr peer;
	int fd = peer_sock(true, &peer);

	assert_int_equal(allocate(x, &x->fc, STUN_PROTO_UDP, false), 0);
	assert_int_equal(connect_to(x, &peer, 2, NULL), 400);
	close(fd);
}

static void test_connect_446_and_delete(void **state)
{
	struct harness_ctx *x = *state;
	struct tw_addr peer;
	int fd = peer_sock(true, &peer), pfd;
	uint32_t id = 0;
	ssize_t got = -1;
	char c;

	assert_int_equal(allocate(x, &x->fc, STUN_PROTO_TCP, false), 0);
	assert_int_equal(connect_to(x, &peer, 2, &id), 0);
	assert_int_not_equal(id, 0);
	assert_int_equal(x->h.w->st.tcpr_conns, 1);
	assert_int_equal(connect_to(x, &peer, 3, NULL), 446);
	pfd = accept(fd, NULL, NULL);
	assert_true(pfd >= 0);
	/* Deleting the allocation closes the peer's connection. */
	alloc_delete(x->fc.c.a);
	assert_int_equal(x->h.w->st.tcpr_conns, 0);
	/* libevent closes a freed bufferevent's socket in the loop. */
	for (int i = 0; i < SPINS && got < 0; i++) {
		spin(x);
		got = recv(pfd, &c, 1, MSG_DONTWAIT);
	}
	assert_int_equal(got, 0);
	close(pfd);
	close(fd);
}

static void test_connect_refused_447(void **state)
{
	struct harness_ctx *x = *state;
	struct tw_addr peer;
	int fd = peer_sock(false, &peer);

	assert_int_equal(allocate(x, &x->fc, STUN_PROTO_TCP, false), 0);
	assert_int_equal(connect_to(x, &peer, 2, NULL), 447);
	assert_int_equal(x->h.w->st.tcpr_failed, 1);
	assert_int_equal(x->h.w->st.tcpr_conns, 0);
	close(fd);
}

static void test_connection_bind_refusals(void **state)
{
	struct harness_ctx *x = *state;
	struct fake_conn data;
	struct tw_addr peer;
	int fd = peer_sock(true, &peer);
	uint32_t id = 0, bogus;
	struct treq q;

	assert_int_equal(allocate(x, &x->fc, STUN_PROTO_TCP, false), 0);
	assert_int_equal(connect_to(x, &peer, 2, &id), 0);
	fake_conn_init(&data, &x->h, "198.51.100.7:5001", true);
	bogus = htonl(id + 1);
	treq_begin(&q, STUN_CONNECTION_BIND, STUN_REQUEST, 4);
	stun_wr_attr(&q.wr, STUN_A_CONNECTION_ID, &bogus, 4);
	assert_int_equal(ask(x, &data, &q), 400); /* unknown id */
	treq_begin(&q, STUN_CONNECTION_BIND, STUN_REQUEST, 5);
	assert_int_equal(ask(x, &data, &q), 400); /* no CONNECTION-ID */
	/* The id is right, but the transport cannot hand its bytes over. */
	bogus = htonl(id);
	treq_begin(&q, STUN_CONNECTION_BIND, STUN_REQUEST, 6);
	stun_wr_attr(&q.wr, STUN_A_CONNECTION_ID, &bogus, 4);
	assert_int_equal(ask(x, &data, &q), 400);
	/* ChannelBind has no place on a TCP allocation. */
	treq_begin(&q, STUN_CHANNEL_BIND, STUN_REQUEST, 7);
	stun_wr_attr(&q.wr, STUN_A_CHANNEL_NUMBER, "\x40\x00\x00\x00", 4);
	stun_wr_xaddr(&q.wr, STUN_A_XOR_PEER_ADDRESS, &peer);
	assert_int_equal(ask(x, &x->fc, &q), 400);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_allocate_tcp, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_udp_allocation_400, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_446_and_delete, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_refused_447, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connection_bind_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
