/*
 * client/tc_flow.c and tc_data.c, the flows' engine, through a fake
 * struct tc_ops: no socket, no TUN, a clock the test moves. The test plays
 * the server with proto/stun.c's writer: 401 then success, a wrong
 * password, 420, silence, keepalives, Refresh, teardown, listen, the
 * cookie re-arm, 300s and the recovery of lost flows (draft §12).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/tc_client.h"
#include "proto/cursor.h"
#include "proto/twist_esp.h"

#define NSENT 16

struct fake_io {
	uint8_t sent[NSENT][2048];
	size_t len[NSENT];
	int n;          /* datagrams sent so far */
	unsigned timer; /* ms, 0 stopped */
};

static uint64_t fake_now;
static uint8_t tun_pkt[4096];
static size_t tun_len;
static int tun_n;
static char announced[128];
static int nannounced;
static bool stopped;
static uint32_t rnd;
static uint32_t answer_spi; /* nonzero: Allocate answers are tunnel mode with this SPI */

static int f_open(struct tc_flow *f)
{
	f->io = calloc(1, sizeof(struct fake_io));
	return f->io ? 0 : -ENOMEM;
}

static void f_close(struct tc_flow *f)
{
	free(f->io);
	f->io = NULL;
}

static int send_fail; /* -errno: every send fails so */

static int f_send(struct tc_flow *f, const uint8_t *p, size_t len)
{
	struct fake_io *io = f->io;
	int i = io->n++ % NSENT;

	if (send_fail)
		return send_fail;
	assert_true(len <= sizeof(io->sent[0]));
	memcpy(io->sent[i], p, len);
	io->len[i] = len;
	return 0;
}

static void f_timer(struct tc_flow *f, unsigned ms)
{
	((struct fake_io *)f->io)->timer = ms;
}

static int f_tun_write(struct tc_client *c, const uint8_t *p, size_t len)
{
	(void)c;
	assert_true(len <= sizeof(tun_pkt));
	memcpy(tun_pkt, p, len);
	tun_len = len;
	tun_n++;
	return 0;
}

static uint64_t f_now(struct tc_client *c)
{
	(void)c;
	return fake_now;
}

static int f_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(++rnd * 37);
	return 0;
}

static void f_announce(struct tc_client *c, const char *line)
{
	(void)c;
	snprintf(announced, sizeof(announced), "%s", line);
	nannounced++;
}

static void f_stop(struct tc_client *c)
{
	(void)c;
	stopped = true;
}

static int server_sets;

static int f_server_set(struct tc_client *c, const struct tw_addr *a)
{
	c->server_addr = *a;
	server_sets++;
	return 0;
}

static const struct tc_ops fake_ops = {f_open, f_close,  f_send,     f_timer, f_tun_write,
                                       f_now,  f_random, f_announce, f_stop,  f_server_set};

static struct tc_conf conf;
static struct tc_client cl;

static struct tw_addr ip(const char *s, uint16_t port)
{
	struct tw_addr a;

	assert_int_equal(tw_addr_parse_ip(s, &a), 0);
	a.port = port;
	return a;
}

static int setup(void **state)
{
	(void)state;
	tc_conf_defaults(&conf);
	conf.tun_addr4 = ip("192.0.2.2", 0);
	memset(&cl, 0, sizeof(cl));
	cl.ops = &fake_ops;
	cl.conf = &conf;
	cl.cred.user = "alice";
	cl.cred.pass = "secret";
	cl.tun.fd = -1;
	TAILQ_INIT(&cl.flows);
	assert_int_equal(tc_table_init(&cl.table, 64, 1), 0);
	fake_now = 1000000;
	server_sets = 0;
	cl.server_addr = ip("203.0.113.1", 3478);
	tc_srv_init(&cl.sel, &cl.server_addr, 1);
	tun_n = 0;
	nannounced = 0;
	stopped = false;
	answer_spi = 0;
	return 0;
}

static int teardown(void **state)
{
	struct tc_flow *f;

	(void)state;
	while ((f = TAILQ_FIRST(&cl.flows)))
		tc_flow_free(f);
	tc_table_fini(&cl.table);
	return 0;
}

static struct fake_io *io_of(struct tc_flow *f)
{
	return f->io;
}

/* The n-th datagram f sent (0 = first), parsed as STUN. */
static void sent_msg(struct tc_flow *f, int n, struct stun_msg *m)
{
	struct fake_io *io = io_of(f);

	assert_true(n < io->n && io->n - n <= NSENT);
	assert_int_equal(stun_msg_parse(m, io->sent[n % NSENT], io->len[n % NSENT]), 0);
}

static const uint8_t *sent_raw(struct tc_flow *f, int n, size_t *len)
{
	struct fake_io *io = io_of(f);

	*len = io->len[n % NSENT];
	return io->sent[n % NSENT];
}

/* A packet the application writes into the TUN. */
static size_t app_pkt(uint8_t *out, uint8_t proto, const struct tw_addr *src,
                      const struct tw_addr *dst, uint8_t flags, const char *payload)
{
	uint8_t seg[512];
	size_t n = strlen(payload), len;
	int hl;

	memset(seg, 0, sizeof(seg));
	put_u16(seg, src->port);
	put_u16(seg + 2, dst->port);
	if (proto == STUN_PROTO_UDP) {
		len = 8 + n;
		put_u16(seg + 4, (uint16_t)len);
		memcpy(seg + 8, payload, n);
	} else {
		len = 20 + n;
		put_u32(seg + 4, 1000);
		seg[12] = 5 << 4;
		seg[13] = flags;
		memcpy(seg + 20, payload, n);
	}
	assert_int_equal(twist_l4_csum_set(src, dst, proto, seg, len), 0);
	hl = twist_ip_hdr(out, 64, src, dst, proto, len);
	assert_true(hl > 0);
	memcpy(out + hl, seg, len);
	return (size_t)hl + len;
}

/* A 20-byte TCP header from the peer to the relayed address, checksummed for that path. */
static void peer_tcp(uint8_t *seg, const struct tw_addr *peer, const struct tw_addr *relayed,
                     uint8_t flags)
{
	memset(seg, 0, TC_TCP_HDR);
	put_u16(seg, peer->port);
	put_u16(seg + 2, relayed->port);
	seg[12] = 5 << 4;
	seg[13] = flags;
	twist_l4_csum_set(peer, relayed, STUN_PROTO_TCP, seg, TC_TCP_HDR);
}

/* The server's answer to f's n-th datagram. */
static void answer(struct tc_flow *f, int n, uint8_t cls, int code, bool integrity,
                   const char *relayed, bool cookie)
{
	struct stun_msg req;
	struct stun_wr w;
	struct tw_addr a;
	uint8_t buf[512];
	uint8_t key[16];
	struct twist_encap e = {TWIST_ENCAP_TRANSPORT, TWIST_KA_NATT, 20};

	sent_msg(f, n, &req);
	stun_wr_init(&w, buf, sizeof(buf), req.method, cls, req.tid);
	if (cls == STUN_ERROR) {
		stun_wr_error(&w, STUN_A_ERROR_CODE, code, NULL);
		if (code == 401 || code == 438) {
			stun_wr_attr(&w, STUN_A_REALM, "twist.test", 10);
			stun_wr_attr(&w, STUN_A_NONCE, code == 401 ? "n1" : "n2", 2);
		}
	}
	if (relayed) {
		assert_int_equal(tw_addr_parse(relayed, 0, &a), 0);
		stun_wr_xaddr(&w, STUN_A_XOR_RELAYED_ADDRESS, &a);
		stun_wr_u32(&w, STUN_A_LIFETIME, 600);
		if (answer_spi) {
			e.mode = TWIST_ENCAP_TUNNEL;
			twist_wr_spi(&w, answer_spi);
		}
		twist_wr_encap(&w, &e);
	}
	if (cookie)
		twist_wr_cookie(&w, (const uint8_t *)"COOKIE!!");
	if (integrity) {
		stun_key_longterm(STUN_PWALG_MD5, "alice", 5, "twist.test", 10, "secret", 6, key);
		stun_wr_integrity(&w, key, sizeof(key));
	}
	tc_flow_input(f, buf, (size_t)stun_wr_finish(&w));
}

static struct tc_flow *only_flow(void)
{
	struct tc_flow *f = TAILQ_FIRST(&cl.flows);

	assert_non_null(f);
	return f;
}

/* A UDP connect flow through 401 and success, its queued packets sent after. */
static struct tc_flow *connect_udp(void)
{
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 7);
	uint8_t pkt[256];
	struct tc_flow *f;
	struct stun_msg m;
	struct tw_addr got;
	uint8_t key[16];

	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "one"));
	f = only_flow();
	assert_int_equal(f->state, TC_ALLOCATING);
	assert_int_equal(io_of(f)->n, 1);
	sent_msg(f, 0, &m);
	assert_int_equal(m.method, STUN_ALLOCATE);
	assert_int_equal(m.mi, -1);
	assert_int_equal(stun_attr_xaddr(&m, stun_msg_find(&m, STUN_A_XOR_PEER_ADDRESS), &got), 0);
	assert_true(tw_addr_eq(&got, &peer));
	assert_int_equal(io_of(f)->timer, 500);
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "two"));
	assert_int_equal(io_of(f)->n, 1); /* queued */
	assert_int_equal(f->q.n, 2);

	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	assert_int_equal(io_of(f)->n, 2);
	sent_msg(f, 1, &m);
	stun_key_longterm(STUN_PWALG_MD5, "alice", 5, "twist.test", 10, "secret", 6, key);
	assert_true(stun_msg_integrity_ok(&m, key, sizeof(key)));

	answer(f, 1, STUN_SUCCESS, 0, true, "203.0.113.200:50000", false);
	assert_int_equal(f->state, TC_ACTIVE);
	assert_int_equal(io_of(f)->timer, 0);
	assert_int_equal(io_of(f)->n, 4); /* the two queued segments */
	return f;
}

static void test_connect(void **state)
{
	struct tw_addr relayed = ip("203.0.113.200", 50000), peer = ip("198.51.100.2", 7);
	struct tc_flow *f = connect_udp();
	uint8_t seg[64];
	struct twist_ip pi;
	const uint8_t *p;
	size_t len;

	(void)state;
	p = sent_raw(f, 2, &len);
	assert_int_equal(p[0] << 8 | p[1], 50000);
	assert_true(twist_l4_csum_ok(&relayed, &peer, STUN_PROTO_UDP, p, len));
	assert_memory_equal(p + 8, "one", 3);
	p = sent_raw(f, 3, &len);
	assert_memory_equal(p + 8, "two", 3);

	/* the peer answers: into the TUN, to the application's port */
	memset(seg, 0, sizeof(seg));
	put_u16(seg, 7);
	put_u16(seg + 2, 50000);
	put_u16(seg + 4, 13);
	memcpy(seg + 8, "hello", 5);
	twist_l4_csum_set(&peer, &relayed, STUN_PROTO_UDP, seg, 13);
	tc_flow_input(f, seg, 13);
	assert_int_equal(tun_n, 1);
	assert_int_equal(twist_ip_parse(tun_pkt, tun_len, &pi), 0);
	assert_int_equal(pi.dst.port, 40000);
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_UDP, pi.seg, pi.seg_len));
	/* a segment for another relayed port is a counted drop */
	put_u16(seg + 2, 50001);
	tc_flow_input(f, seg, 13);
	assert_int_equal(tun_n, 1);
	assert_int_equal(cl.st.drops[TC_DROP_BAD_SEGMENT], 1);
	/* a second flow reuses the credentials: authenticated at once */
	{
		struct tw_addr app = ip("192.0.2.2", 40001);
		uint8_t pkt[128];
		struct tc_flow *g;
		struct stun_msg m;

		tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "x"));
		g = TAILQ_LAST(&cl.flows, tc_flow_list);
		assert_ptr_not_equal(g, f);
		sent_msg(g, 0, &m);
		assert_true(m.mi >= 0);
	}
}

static void test_wrong_password(void **state)
{
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 7);
	uint8_t pkt[128];
	struct tc_flow *f;

	(void)state;
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "x"));
	f = only_flow();
	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	assert_false(stopped);
	answer(f, 1, STUN_ERROR, 401, false, NULL, false);
	assert_true(stopped);
	assert_int_equal(cl.exit_code, 1);
}

static void test_no_twist(void **state)
{
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 7);
	uint8_t pkt[128];

	(void)state;
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "x"));
	answer(only_flow(), 0, STUN_ERROR, 420, false, NULL, false);
	assert_true(stopped);
	assert_int_equal(cl.exit_code, 1);
}

/* No answer: RFC 8489 retransmissions, then the flow fails and the SYN gets an RST. */
static void test_silence(void **state)
{
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 80);
	uint8_t pkt[128];
	struct tc_flow *f;
	struct twist_ip pi;
	unsigned want = 500;

	(void)state;
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_TCP, &app, &peer, 0x02, ""));
	f = only_flow();
	for (int i = 1; i < 7; i++) {
		assert_int_equal(io_of(f)->timer, want);
		tc_flow_rtx(f);
		want *= 2;
		assert_int_equal(io_of(f)->n, i + 1);
	}
	tc_flow_rtx(f);
	assert_int_equal(io_of(f)->n, 7);
	assert_int_equal(f->state, TC_FAILED);
	assert_int_equal(tun_n, 1);
	assert_int_equal(twist_ip_parse(tun_pkt, tun_len, &pi), 0);
	assert_int_equal(pi.seg[13], 0x14); /* RST, ACK */
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_TCP, pi.seg, pi.seg_len));
	/* the SYN's retransmission is dropped while the failure is held... */
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_TCP, &app, &peer, 0x02, ""));
	assert_int_equal(cl.st.drops[TC_DROP_FLOW_FAILED], 1);
	/* ...and then the flow is reaped */
	fake_now += 6000;
	tc_flow_tick(f, fake_now);
	assert_true(TAILQ_EMPTY(&cl.flows));
}

static void test_keepalive_idle(void **state)
{
	struct tc_flow *f = connect_udp();
	struct stun_msg m;
	const uint8_t *p;
	size_t len;
	uint32_t lt;

	(void)state;
	fake_now += 19000;
	tc_flow_tick(f, fake_now);
	assert_int_equal(io_of(f)->n, 4);
	fake_now += 1000;
	tc_flow_tick(f, fake_now);
	assert_int_equal(io_of(f)->n, 5);
	p = sent_raw(f, 4, &len);
	assert_int_equal(len, 1);
	assert_int_equal(p[0], 0xFF);
	/* keepalives do not count as traffic: 60 s after the last segment it ends */
	fake_now += 40000;
	tc_flow_tick(f, fake_now);
	assert_int_equal(f->state, TC_CLOSING);
	sent_msg(f, io_of(f)->n - 1, &m);
	assert_int_equal(m.method, STUN_REFRESH);
	assert_int_equal(stun_attr_u32(&m, stun_msg_find(&m, STUN_A_LIFETIME), &lt), 0);
	assert_int_equal(lt, 0);
	answer(f, io_of(f)->n - 1, STUN_SUCCESS, 0, true, NULL, false);
	assert_true(f->dead);
}

static void test_refresh_and_fin(void **state)
{
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 80);
	struct tw_addr relayed = ip("203.0.113.200", 50000);
	uint8_t pkt[128], seg[20];
	struct tc_flow *f;
	struct stun_msg m;
	uint32_t lt;
	int n;

	(void)state;
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_TCP, &app, &peer, 0x02, ""));
	f = only_flow();
	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	answer(f, 1, STUN_SUCCESS, 0, true, "203.0.113.200:50000", false);
	assert_int_equal(f->state, TC_ACTIVE);
	/* LIFETIME 600: a Refresh a minute before it runs out (the app keeps talking) */
	for (n = 0; n < 60 && !f->in_txn; n++) {
		fake_now += 10000;
		tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_TCP, &app, &peer, 0x10, "d"));
		tc_flow_tick(f, fake_now);
	}
	assert_int_equal(n, 54); /* 540 s */
	n = io_of(f)->n;
	sent_msg(f, n - 1, &m);
	assert_int_equal(m.method, STUN_REFRESH);
	assert_int_equal(stun_attr_u32(&m, stun_msg_find(&m, STUN_A_LIFETIME), &lt), 0);
	assert_int_equal(lt, 600);
	answer(f, n - 1, STUN_SUCCESS, 0, true, NULL, false);
	assert_int_equal(cl.st.refreshes, 1);
	/* FIN out, FIN in: closed after the grace */
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_TCP, &app, &peer, 0x11, ""));
	peer_tcp(seg, &peer, &relayed, 0x11);
	tc_flow_input(f, seg, sizeof(seg));
	tc_flow_tick(f, fake_now);
	assert_int_equal(f->state, TC_ACTIVE);
	fake_now += 5000;
	tc_flow_tick(f, fake_now);
	assert_int_equal(f->state, TC_CLOSING);
	assert_null(tc_table_find(&cl.table, &f->node.key));
}

static void test_listen(void **state)
{
	struct tc_listener *l = &cl.listeners[0];
	struct tw_addr peer = ip("198.51.100.2", 40764), relayed = ip("203.0.113.200", 50001);
	struct tc_flow *f, *g;
	struct stun_msg m;
	struct stun_wr w;
	struct twist_ip pi;
	uint8_t type, seg[20], buf[256], tid[STUN_TID_LEN] = {1};

	(void)state;
	l->c = &cl;
	l->spec.proto = STUN_PROTO_TCP;
	l->spec.port = 8000;
	cl.nlisteners = 1;
	f = tc_flow_listen(&cl, l);
	assert_non_null(f);
	sent_msg(f, 0, &m);
	assert_int_equal(twist_attr_type(&m, stun_msg_find(&m, TWIST_A_REQUESTED_TYPE), &type), 0);
	assert_int_equal(type, TWIST_TYPE_LISTEN);
	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	answer(f, 1, STUN_SUCCESS, 0, true, "203.0.113.200:50001", true);
	assert_string_equal(announced, "listen tcp:8000 relayed 203.0.113.200:50001");
	assert_true(l->has_cookie);

	/* the peer's SYN, bare, before the client knows the peer: dropped */
	peer_tcp(seg, &peer, &relayed, 0x02);
	tc_flow_input(f, seg, sizeof(seg));
	assert_int_equal(tun_n, 0);
	assert_int_equal(cl.st.drops[TC_DROP_PEER_UNKNOWN], 1);

	/* in a Data indication (twist-protocol.md §6): latched, delivered, re-armed */
	stun_wr_init(&w, buf, sizeof(buf), STUN_DATA, STUN_INDICATION, tid);
	stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &peer);
	stun_wr_attr(&w, STUN_A_DATA, seg, sizeof(seg));
	tc_flow_input(f, buf, (size_t)stun_wr_finish(&w));
	assert_true(f->latched);
	assert_int_equal(tun_n, 1);
	assert_int_equal(twist_ip_parse(tun_pkt, tun_len, &pi), 0);
	assert_true(tw_addr_eq(&pi.src, &peer));
	assert_int_equal(pi.dst.port, 8000);
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_TCP, pi.seg, pi.seg_len));
	g = l->armed;
	assert_non_null(g);
	assert_ptr_not_equal(g, f);
	sent_msg(g, 0, &m);
	assert_non_null(stun_msg_find(&m, TWIST_A_COOKIE));
	assert_true(m.mi >= 0);
	/* the local server's SYN-ACK finds the listen flow */
	{
		uint8_t pkt[128];
		struct tw_addr local = ip("192.0.2.2", 8000);
		int n = io_of(f)->n;

		tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_TCP, &local, &peer, 0x12, ""));
		assert_int_equal(io_of(f)->n, n + 1);
	}
	/* an expired cookie (403): the next listen flow asks for a new port */
	answer(g, 0, STUN_ERROR, 403, false, NULL, false);
	assert_false(l->has_cookie);
	assert_null(l->armed);
}

/* A 300 to f's n-th datagram naming alt; integrity: 0 none, 1 our key, 2 another key. */
static void answer_300(struct tc_flow *f, int n, int integrity, const struct tw_addr *alt)
{
	struct stun_msg req;
	struct stun_wr w;
	uint8_t buf[512], key[16];

	sent_msg(f, n, &req);
	stun_wr_init(&w, buf, sizeof(buf), req.method, STUN_ERROR, req.tid);
	stun_wr_error(&w, STUN_A_ERROR_CODE, 300, NULL);
	stun_wr_addr(&w, STUN_A_ALTERNATE_SERVER, alt);
	if (integrity) {
		stun_key_longterm(STUN_PWALG_MD5, "alice", 5, "twist.test", 10,
		                  integrity == 1 ? "secret" : "guess!", 6, key);
		stun_wr_integrity(&w, key, sizeof(key));
	}
	stun_wr_fingerprint(&w);
	tc_flow_input(f, buf, (size_t)stun_wr_finish(&w));
}

/*
 * RFC 8489 §10: a 300 is followed only when its MESSAGE-INTEGRITY verifies
 * (a forged one is counted and the transaction goes on); a genuine one
 * moves new flows to the alternate, remembers the old server, and is
 * followed at most TC_MAX_REDIRECTS times by one Allocate.
 */
static void test_redirect(void **state)
{
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 7);
	struct tw_addr first = cl.server_addr, alt = ip("203.0.113.9", 3478);
	struct stun_msg m;
	uint8_t pkt[256];
	struct tc_flow *f;

	(void)state;
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "one"));
	f = only_flow();
	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	assert_int_equal(io_of(f)->n, 2);

	/* forged: no integrity, then a wrong key; ignored, the Allocate still waits */
	answer_300(f, 1, 0, &alt);
	answer_300(f, 1, 2, &alt);
	assert_int_equal(cl.st.drops[TC_DROP_FORGED_300], 2);
	assert_int_equal(server_sets, 0);
	assert_true(f->in_txn);
	assert_int_equal(f->state, TC_ALLOCATING);
	assert_int_equal(io_of(f)->timer, 500);
	assert_true(tw_addr_eq(&cl.server_addr, &first));

	/* genuine: the flow reopens toward alt and asks again, without credentials */
	answer_300(f, 1, 1, &alt);
	assert_int_equal(server_sets, 1);
	assert_true(tw_addr_eq(&cl.server_addr, &alt));
	assert_true(cl.sel.has_prev && tw_addr_eq(&cl.sel.prev, &first));
	assert_int_equal(cl.st.redirects, 1);
	assert_int_equal(io_of(f)->n, 1);
	sent_msg(f, 0, &m);
	assert_int_equal(m.method, STUN_ALLOCATE);
	assert_int_equal(m.mi, -1);

	/* bounded: two more are followed, the fourth fails the flow */
	for (int i = 0; i < 3; i++) {
		struct tw_addr next = ip(i % 2 ? "203.0.113.9" : "203.0.113.10", 3478);

		answer(f, 0, STUN_ERROR, 401, false, NULL, false);
		answer_300(f, 1, 1, &next);
	}
	assert_int_equal(server_sets, 3);
	assert_int_equal(cl.st.redirects, 3);
	assert_int_equal(f->state, TC_FAILED);
}

/* Two servers, A (the default one) then B, as --server A --server B. */
static void two_servers(void)
{
	struct tw_addr l[2] = {ip("203.0.113.1", 3478), ip("203.0.113.2", 3478)};

	tc_srv_init(&cl.sel, l, 2);
}

/*
 * Draft §12: an open flow whose Refresh goes unanswered is reopened on the
 * same server (same application 5-tuple, new socket, new Allocate); when
 * that Allocate's socket fails too, A is given up and the flow reopens on
 * B, where it carries the application's packets again.
 */
static void test_recover_list(void **state)
{
	struct tw_addr a = ip("203.0.113.1", 3478), b = ip("203.0.113.2", 3478);
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 7);
	struct tc_flow *f;
	struct stun_msg m;
	uint8_t pkt[256];
	const uint8_t *p;
	size_t len;

	(void)state;
	two_servers();
	f = connect_udp();
	assert_true(tw_addr_eq(&f->srv, &a));
	fake_now = f->refresh_ms;
	f->last_data_ms = fake_now; /* busy, not idle */
	tc_flow_tick(f, fake_now);
	assert_true(f->in_txn);
	for (int i = 0; i < 7; i++)
		tc_flow_rtx(f);
	/* reopened on A: one Allocate on a new socket, with the credentials */
	assert_int_equal(f->state, TC_ALLOCATING);
	assert_true(tw_addr_eq(&f->srv, &a));
	assert_int_equal(server_sets, 0);
	assert_int_equal(cl.st.lost, 1);
	assert_int_equal(cl.st.reopens, 1);
	assert_int_equal(io_of(f)->n, 1);
	sent_msg(f, 0, &m);
	assert_int_equal(m.method, STUN_ALLOCATE);
	assert_true(m.mi >= 0);
	/* the application's packets wait for the new allocation */
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "three"));
	assert_int_equal(f->q.n, 1);
	/* ICMP unreachable on it: A failed, B from now on */
	tc_flow_sock_error(f, -ECONNREFUSED);
	assert_false(f->dead);
	assert_int_equal(cl.st.server_failures, 1);
	assert_int_equal(cl.st.server_switches, 1);
	assert_int_equal(server_sets, 1);
	assert_true(tw_addr_eq(&cl.server_addr, &b));
	assert_true(tw_addr_eq(&f->srv, &b));
	assert_int_equal(cl.st.reopens, 2);
	assert_int_equal(f->q.n, 1);
	sent_msg(f, 0, &m);
	assert_int_equal(m.mi, -1); /* B's realm and nonce are B's to give */
	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	answer(f, 1, STUN_SUCCESS, 0, true, "203.0.113.201:50002", false);
	assert_int_equal(f->state, TC_ACTIVE);
	assert_int_equal(f->reopens, 0);
	assert_int_equal(io_of(f)->n, 3);
	p = sent_raw(f, 2, &len);
	assert_int_equal(p[0] << 8 | p[1], 50002);
	assert_memory_equal(p + 8, "three", 5);
	assert_int_equal(cl.sel.list[0].fails, 1);
	assert_int_equal(cl.sel.list[1].fails, 0);
	assert_false(stopped);
}

/* A send that finds the server gone is handled at the flow's timer. */
static void test_recover_send_error(void **state)
{
	struct tc_flow *f;

	(void)state;
	two_servers();
	f = connect_udp();
	send_fail = -ECONNREFUSED;
	fake_now += 25000; /* a keepalive is due */
	tc_flow_tick(f, fake_now);
	send_fail = 0;
	assert_int_equal(f->sock_err, -ECONNREFUSED);
	assert_int_equal(io_of(f)->timer, 1);
	/* An active flow checks first: a Binding, lost when it goes unanswered. */
	tc_flow_rtx(f);
	assert_int_equal(f->state, TC_ACTIVE);
	assert_true(f->in_txn);
	assert_int_equal(f->req_method, STUN_BINDING);
	assert_int_equal(f->sock_err, 0);
	assert_int_equal(cl.st.icmp_probes, 1);
	for (int i = 0; i < 3; i++)
		tc_flow_rtx(f);
	assert_int_equal(f->state, TC_ALLOCATING);
	assert_int_equal(cl.st.lost, 1);
	assert_int_equal(cl.st.reopens, 1);
}

/*
 * An HA failover (docs/ha.md "TWIST flows"): ICMP port unreachable from the
 * node that still holds the VIP, then the standby answers the Binding. The
 * flow is not lost and keeps its relayed address.
 */
static void test_icmp_then_answer(void **state)
{
	struct tc_flow *f;
	size_t sent;

	(void)state;
	two_servers();
	f = connect_udp();
	tc_flow_sock_error(f, -ECONNREFUSED);
	assert_int_equal(f->state, TC_ACTIVE);
	assert_true(f->in_txn);
	assert_int_equal(f->req_method, STUN_BINDING);
	/* more of them while the probe is under way change nothing */
	sent = io_of(f)->n;
	tc_flow_sock_error(f, -ECONNREFUSED);
	tc_flow_sock_error(f, -EHOSTUNREACH);
	assert_int_equal(io_of(f)->n, sent);
	tc_flow_rtx(f); /* the probe is resent */
	assert_int_equal(io_of(f)->n, sent + 1);
	answer(f, (int)sent, STUN_SUCCESS, 0, false, NULL, false);
	assert_false(f->in_txn);
	assert_int_equal(f->state, TC_ACTIVE);
	assert_int_equal(cl.st.lost, 0);
	assert_int_equal(cl.st.reopens, 0);
	assert_int_equal(cl.st.icmp_probes, 3);
}

/*
 * A server learned from a 300 that dies: the flow goes back to the server
 * that sent the 300, and when that one fails too, to the next --server.
 */
static void test_recover_redirect(void **state)
{
	struct tw_addr a = ip("203.0.113.1", 3478), b = ip("203.0.113.2", 3478);
	struct tw_addr alt = ip("203.0.113.9", 3478);
	struct tw_addr app = ip("192.0.2.2", 40000), peer = ip("198.51.100.2", 7);
	uint8_t pkt[256];
	struct tc_flow *f;

	(void)state;
	two_servers();
	tc_data_from_tun(&cl, pkt, app_pkt(pkt, STUN_PROTO_UDP, &app, &peer, 0, "one"));
	f = only_flow();
	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	answer_300(f, 1, 1, &alt);
	answer(f, 0, STUN_ERROR, 401, false, NULL, false);
	answer(f, 1, STUN_SUCCESS, 0, true, "203.0.113.200:50000", false);
	assert_int_equal(f->state, TC_ACTIVE);
	assert_true(tw_addr_eq(&f->srv, &alt));
	/* lost (its Binding probe unanswered): the same (learned) server first */
	tc_flow_sock_error(f, -EHOSTUNREACH);
	for (int i = 0; i < 3; i++)
		tc_flow_rtx(f);
	assert_int_equal(f->state, TC_ALLOCATING);
	assert_true(tw_addr_eq(&f->srv, &alt));
	/* its Allocate fails: back to A, the server before the 300 */
	tc_flow_sock_error(f, -ECONNREFUSED);
	assert_true(tw_addr_eq(&f->srv, &a));
	assert_true(tw_addr_eq(&cl.server_addr, &a));
	assert_false(cl.sel.learned);
	/* A fails: B, the next in the list */
	tc_flow_sock_error(f, -ECONNREFUSED);
	assert_true(tw_addr_eq(&f->srv, &b));
	assert_int_equal(cl.st.server_failures, 2);
	assert_int_equal(cl.st.reopens, 3);
	/* B fails as well: the budget (one try per server, and one) is spent */
	tc_flow_sock_error(f, -ECONNREFUSED);
	assert_int_equal(f->state, TC_FAILED);
	assert_false(stopped);
}

/* An ESP datagram from the relay: src -> dst UDP "hello", under spi. */
static size_t relay_esp(uint8_t *out, size_t cap, uint32_t spi, const struct tw_addr *src,
                        const struct tw_addr *dst)
{
	int n = (int)app_pkt(out + TWIST_ESP_HDR, STUN_PROTO_UDP, src, dst, 0, "hello");

	n = twist_esp_wrap(out, cap, (size_t)n, spi, 1);
	assert_true(n > 0);
	return (size_t)n;
}

/* --mode tunnel: the Allocate asks for it, segments go in ESP, ESP comes back checked. */
static void test_tunnel(void **state)
{
	struct tw_addr relayed = ip("203.0.113.200", 50000), peer = ip("198.51.100.2", 7);
	struct tw_addr other = ip("198.51.100.3", 7), wrong_port = ip("203.0.113.200", 50001);
	uint8_t buf[256];
	struct stun_msg m;
	struct twist_encap e;
	struct twist_esp esp;
	struct twist_ip pi;
	uint32_t caps;
	struct tc_flow *f;
	const uint8_t *p;
	size_t len;

	(void)state;
	cl.mode = TWIST_ENCAP_TUNNEL;
	answer_spi = 0xC0010203;
	f = connect_udp();
	sent_msg(f, 1, &m);
	assert_int_equal(twist_attr_encap(&m, stun_msg_find(&m, TWIST_A_ENCAP_TYPE), &e), 0);
	assert_int_equal(e.mode, TWIST_ENCAP_TUNNEL);
	assert_int_equal(twist_attr_caps(&m, stun_msg_find(&m, TWIST_A_CAPS), &caps), 0);
	assert_true(caps & TWIST_CAP_TUNNEL);
	/* the two queued packets: ESP, sequence 1 and 2, relayed -> peer inside */
	for (int i = 0; i < 2; i++) {
		p = sent_raw(f, 2 + i, &len);
		assert_int_equal(len % 4, 0);
		assert_int_equal(twist_esp_parse(p, len, &esp), 0);
		assert_int_equal(esp.spi, 0xC0010203);
		assert_int_equal(esp.seq, i + 1);
		assert_int_equal(twist_esp_inner(&esp, &pi), 0);
		assert_true(tw_addr_eq(&pi.src, &relayed));
		assert_true(tw_addr_eq(&pi.dst, &peer));
		assert_true(twist_l4_csum_ok(&relayed, &peer, STUN_PROTO_UDP, pi.seg, pi.seg_len));
		assert_memory_equal(pi.seg + 8, i ? "two" : "one", 3);
	}
	/* the relay's ESP: into the TUN, to the application's address and port */
	tc_flow_input(f, buf, relay_esp(buf, sizeof(buf), 0xC0010203, &peer, &relayed));
	assert_int_equal(tun_n, 1);
	assert_int_equal(twist_ip_parse(tun_pkt, tun_len, &pi), 0);
	assert_true(tw_addr_eq(
	        &pi.dst,
	        &(struct tw_addr){.family = TW_AF_INET, .port = 40000, .ip = {192, 0, 2, 2}}));
	assert_true(twist_l4_csum_ok(&pi.src, &pi.dst, STUN_PROTO_UDP, pi.seg, pi.seg_len));
	/* hostile: another SPI, another source, another relayed port, a bare segment */
	tc_flow_input(f, buf, relay_esp(buf, sizeof(buf), 0xC0010204, &peer, &relayed));
	tc_flow_input(f, buf, relay_esp(buf, sizeof(buf), 0xC0010203, &other, &relayed));
	tc_flow_input(f, buf, relay_esp(buf, sizeof(buf), 0xC0010203, &peer, &wrong_port));
	len = relay_esp(buf, sizeof(buf), 0xC0010203, &peer, &relayed);
	tc_flow_input(f, buf + TWIST_ESP_HDR + TC_IP4_HDR, 13);
	tc_flow_input(f, buf, len - 1);
	assert_int_equal(tun_n, 1);
	assert_int_equal(cl.st.drops[TC_DROP_ESP], 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_connect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_twist, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_silence, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_keepalive_idle, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refresh_and_fin, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_redirect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_recover_list, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_recover_send_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_icmp_then_answer, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_recover_redirect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tunnel, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
