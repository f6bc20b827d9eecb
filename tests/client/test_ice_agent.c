/*
 * The ICE engine (client/ice, ice_core) through a fake struct ice_io_ops:
 * a virtual clock and a lossless in-memory network between two agents.
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

#include "client/ice/ice_core.h"
#include "common/log.h"

#define NPKT 4096

struct pkt {
	int from_agent, sock;
	struct tw_addr dst;
	uint8_t buf[1600];
	size_t len;
	uint64_t tick;
};

struct net {
	uint64_t now;
	struct ice_agent *ag[2];
	struct pkt q[NPKT];
	size_t nq;
	bool blackhole;      /* drop everything */
	struct tw_addr dead; /* an address that left its host: nothing from or to it arrives */
	unsigned lapsed[2];
	uint32_t rnd;
	unsigned data_in[2];
};

static struct net *N;

static int ctx_id(void *ctx)
{
	return ctx == N->ag[0] ? 0 : 1;
}

static int f_send(void *ctx, int sock, const struct tw_addr *dst, const void *buf, size_t len)
{
	struct pkt *p;

	if (N->nq == NPKT)
		return -ENOBUFS;
	p = &N->q[N->nq++];
	p->from_agent = ctx_id(ctx);
	p->sock = sock;
	p->dst = *dst;
	memcpy(p->buf, buf, len);
	p->len = len;
	p->tick = N->ag[p->from_agent]->st.ticks;
	return 0;
}

static void f_random(void *ctx, void *buf, size_t len)
{
	uint8_t *b = buf;
	(void)ctx;

	for (size_t i = 0; i < len; i++) {
		N->rnd = N->rnd * 1103515245u + 12345u;
		b[i] = (uint8_t)(N->rnd >> 16);
	}
}

static uint64_t f_now(void *ctx)
{
	(void)ctx;
	return N->now;
}

static const struct ice_io_ops fops = {f_send, f_random, f_now, NULL};

static void on_data(struct ice_agent *a, uint8_t comp, const uint8_t *buf, size_t len, void *arg)
{
	(void)comp;
	(void)buf;
	(void)len;
	(void)arg;
	N->data_in[a == N->ag[0] ? 0 : 1]++;
}

static struct ice_agent *agent(bool controlling, uint64_t tb, const char *ip)
{
	struct ice_agent *a = calloc(1, sizeof(*a));
	struct ice_config cfg = {.controlling = controlling, .tie_breaker = tb, .on_data = on_data};
	struct tw_addr addr;

	assert_non_null(a);
	assert_int_equal(ice_core_init(a, &cfg, &fops, a), 0);
	tw_addr_parse(ip, 0, &addr);
	assert_true(ice_core_add_host(a, 0, 1, &addr) >= 0);
	return a;
}

static int setup(void **state)
{
	N = calloc(1, sizeof(*N));
	N->now = 1000;
	N->rnd = 7;
	log_init("test_ice_agent", LOG_LVL_OFF, false);
	*state = N;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(N->ag[0]);
	free(N->ag[1]);
	free(N);
	return 0;
}

static bool same_ip(const struct tw_addr *x, const struct tw_addr *y)
{
	return x->family == y->family && memcmp(x->ip, y->ip, 16) == 0;
}

/* Delivers the queue to whichever agent owns the destination address. */
static void deliver(void)
{
	static struct pkt q[NPKT];
	size_t n = N->nq;

	memcpy(q, N->q, n * sizeof(q[0]));
	N->nq = 0;
	for (size_t i = 0; i < n && !N->blackhole; i++) {
		struct ice_agent *src = N->ag[q[i].from_agent];
		struct tw_addr from = src->base[q[i].sock].addr;

		if (N->dead.family && (same_ip(&from, &N->dead) || same_ip(&q[i].dst, &N->dead)))
			continue;

		for (int k = 0; k < 2; k++) {
			struct ice_agent *d = N->ag[k];

			if (!d)
				continue;
			for (size_t b = 0; b < d->nbase; b++)
				if (tw_addr_eq(&d->base[b].addr, &q[i].dst))
					ice_core_recv(d, (int)b, &from, q[i].buf, q[i].len);
		}
	}
}

static void run(unsigned ticks)
{
	for (unsigned t = 0; t < ticks; t++) {
		N->now += 50;
		for (int k = 0; k < 2; k++)
			if (N->ag[k])
				ice_core_tick(N->ag[k]);
		deliver();
	}
}

static void exchange(void)
{
	struct ice_cand c[8];
	const char *u, *p;
	size_t n;

	for (int k = 0; k < 2; k++) {
		ice_core_gather(N->ag[k]);
		n = ice_local_candidates(N->ag[k], c, 8);
		ice_local_credentials(N->ag[k], &u, &p);
		assert_int_equal(ice_set_remote(N->ag[1 - k], u, p, c, n), 0);
	}
}

static void test_connect(void **state)
{
	(void)state;
	N->ag[0] = agent(true, 5, "192.0.2.1:1000");
	N->ag[1] = agent(false, 9, "192.0.2.2:2000");
	exchange();
	run(40);
	assert_int_equal(ice_agent_state(N->ag[0]), ICE_COMPLETED);
	assert_true(ice_agent_state(N->ag[1]) == ICE_COMPLETED ||
	            ice_agent_state(N->ag[1]) == ICE_CONNECTED);
	assert_int_equal(ice_send(N->ag[0], 1, "hello", 5), 0);
	assert_int_equal(ice_send(N->ag[1], 1, "hello", 5), 0);
	deliver();
	assert_int_equal(N->data_in[0], 1);
	assert_int_equal(N->data_in[1], 1);
	assert_int_equal(N->ag[0]->st.checks_same_tick, 0);
}

static void test_consent_lost_and_restart(void **state)
{
	const char *u, *p;
	struct ice_cand c[8];
	size_t n;
	(void)state;

	N->ag[0] = agent(true, 5, "192.0.2.1:1000");
	N->ag[1] = agent(false, 9, "192.0.2.2:2000");
	exchange();
	run(40);
	run(20 * 10); /* 10 s: consent keeps flowing */
	assert_int_equal(ice_agent_state(N->ag[0]), ICE_COMPLETED);
	assert_true(N->ag[0]->st.consent_ok > 0);
	/* restart: the old pair carries data until the new one is nominated */
	assert_int_equal(ice_restart(N->ag[0], "newufrag", "0123456789012345678901"), 0);
	assert_int_equal(ice_restart(N->ag[1], "newufra2", "0123456789012345678902"), 0);
	assert_int_equal(ice_send(N->ag[0], 1, "x", 1), 0);
	for (int k = 0; k < 2; k++) {
		n = ice_local_candidates(N->ag[k], c, 8);
		ice_local_credentials(N->ag[k], &u, &p);
		assert_int_equal(ice_set_remote(N->ag[1 - k], u, p, c, n), 0);
	}
	run(40);
	assert_false(N->ag[0]->restarting);
	assert_int_equal(ice_agent_state(N->ag[0]), ICE_COMPLETED);
	/* then the path dies: consent is lost after 30 s, never before */
	N->blackhole = true;
	run(20 * 25);
	assert_int_equal(ice_agent_state(N->ag[0]), ICE_COMPLETED);
	run(20 * 6);
	assert_int_equal(ice_agent_state(N->ag[0]), ICE_DISCONNECTED);
	assert_int_equal(ice_send(N->ag[0], 1, "x", 1), -EPERM);
}

static void on_old_lapsed(struct ice_agent *a, uint8_t comp, const struct ice_cand *l,
                          const struct ice_cand *r, void *arg)
{
	(void)comp;
	(void)l;
	(void)r;
	(void)arg;
	N->lapsed[a == N->ag[0] ? 0 : 1]++;
}

/* Both agents restart and trade offers again, as twist-ice does after a move. */
static void reoffer(void)
{
	struct ice_cand c[8];
	const char *u, *p;
	size_t n;

	for (int k = 0; k < 2; k++) {
		n = ice_local_candidates(N->ag[k], c, 8);
		ice_local_credentials(N->ag[k], &u, &p);
		assert_int_equal(ice_set_remote(N->ag[1 - k], u, p, c, n), 0);
	}
}

static void assert_local_ip(int k, const char *ip)
{
	struct ice_cand l, r;
	struct tw_addr want;

	assert_int_equal(ice_selected_pair(N->ag[k], 1, &l, &r), 0);
	tw_addr_parse(ip, 0, &want);
	assert_true(same_ip(&l.addr, &want));
}

/*
 * A node moves: its address goes, another comes. After a restart it drops
 * the old host base (kept while the selected pair sends from it), gathers
 * on the new one, and the stream moves to a new pair; the old pair is
 * reported lapsed 30 s after its last consent answer, not before.
 */
static void test_move_regather(void **state)
{
	struct tw_addr nb;
	struct ice_cand c[8];
	(void)state;

	N->ag[0] = agent(true, 5, "192.0.2.1:1000");
	N->ag[1] = agent(false, 9, "203.0.113.2:2000");
	N->ag[0]->cfg.on_old_lapsed = on_old_lapsed;
	exchange();
	run(40);
	assert_local_ip(0, "192.0.2.1");
	assert_int_equal(ice_core_regather(N->ag[0]), -EBUSY); /* not before a restart */

	tw_addr_parse("192.0.2.1", 0, &N->dead);
	assert_int_equal(ice_restart(N->ag[0], NULL, NULL), 0);
	assert_int_equal(ice_restart(N->ag[1], NULL, NULL), 0);
	assert_false(ice_core_drop_host(N->ag[0], 0)); /* the selected pair still uses it */
	assert_true(N->ag[0]->base[0].gone);
	tw_addr_parse("198.51.100.1:1000", 0, &nb);
	assert_int_equal(ice_core_add_host(N->ag[0], 1, 1, &nb), 1);
	assert_int_equal(ice_core_regather(N->ag[0]), 0);
	assert_int_equal(ice_local_candidates(N->ag[0], c, 8), 1);
	assert_true(tw_addr_eq(&c[0].addr, &nb));
	assert_int_equal(ice_send(N->ag[0], 1, "x", 1), 0); /* the old pair until then */
	reoffer();
	run(40);
	assert_local_ip(0, "198.51.100.1");
	assert_int_equal(N->ag[0]->st.selections, 2);
	assert_int_equal(ice_send(N->ag[0], 1, "y", 1), 0);
	N->data_in[1] = 0;
	deliver();
	assert_int_equal(N->data_in[1], 1);
	assert_int_equal(N->lapsed[0], 0);
	run(20 * 23); /* the last consent answer came at most 6 s before the move */
	assert_int_equal(N->lapsed[0], 0);
	run(20 * 10);
	assert_int_equal(N->lapsed[0], 1);
	assert_int_equal(N->ag[0]->st.old_lapsed, 1);
	assert_int_equal(ice_agent_state(N->ag[0]), ICE_COMPLETED);

	/* the next move frees the old base: its slot takes the next address */
	assert_int_equal(ice_restart(N->ag[0], NULL, NULL), 0);
	assert_true(ice_core_drop_host(N->ag[0], 0));
	assert_true(N->ag[0]->base[0].free);
	tw_addr_parse("203.0.113.9:1000", 0, &nb);
	assert_int_equal(ice_core_add_host(N->ag[0], 0, 1, &nb), 0);
	assert_int_equal(N->ag[0]->st.hosts_dropped, 1);
	assert_int_equal(ice_core_regather(N->ag[0]), 0);
	assert_int_equal(N->ag[0]->st.regathers, 2);
}

static void test_role_conflict(void **state)
{
	(void)state;
	/* both controlling: the smaller tie-breaker switches, after a 487 or a check */
	N->ag[0] = agent(true, 5, "192.0.2.1:1000");
	N->ag[1] = agent(true, 9, "192.0.2.2:2000");
	exchange();
	run(60);
	assert_false(ice_agent_controlling(N->ag[0]));
	assert_true(ice_agent_controlling(N->ag[1]));
	assert_true(N->ag[1]->st.resp_487_sent > 0);
	assert_true(N->ag[0]->st.resp_487_recv > 0);
	assert_int_equal(ice_agent_state(N->ag[1]), ICE_COMPLETED);
	assert_true(ice_agent_state(N->ag[0]) >= ICE_CONNECTED);
}

/* Reads the last answer agent k sent. */
static int last_answer(int k, struct stun_msg *m)
{
	for (size_t i = N->nq; i-- > 0;)
		if (N->q[i].from_agent == k)
			return stun_msg_parse(m, N->q[i].buf, N->q[i].len);
	return -ENOENT;
}

static void test_wrong_password(void **state)
{
	struct ice_check_req req = {.prio = 100, .controlling = true, .tb = 3};
	uint8_t buf[ICE_MSG_MAX], tid[STUN_TID_LEN] = {1, 2, 3};
	struct tw_addr from;
	struct stun_msg m;
	const struct stun_attr *e;
	const char *u, *p, *reason;
	size_t rl;
	int n, code;
	(void)state;

	N->ag[0] = agent(false, 5, "192.0.2.1:1000");
	ice_core_gather(N->ag[0]);
	ice_local_credentials(N->ag[0], &u, &p);
	tw_addr_parse("198.51.100.7:4000", 0, &from);
	n = ice_msg_check(buf, sizeof(buf), tid, u, "peer", "wrong-password-wrong-pw", &req);
	assert_true(n > 0);
	ice_core_recv(N->ag[0], 0, &from, buf, (size_t)n);
	assert_int_equal(last_answer(0, &m), 0);
	assert_int_equal(m.cls, STUN_ERROR);
	e = stun_msg_find(&m, STUN_A_ERROR_CODE);
	assert_non_null(e);
	assert_int_equal(stun_attr_error(&m, e, &code, &reason, &rl), 0);
	assert_int_equal(code, 401);
	assert_int_equal(N->ag[0]->npair, 0);
	assert_int_equal(N->ag[0]->nrem, 0);
	assert_int_equal(N->ag[0]->st.resp_401, 1);
	/* the right password: answered, a prflx remote and a pair, a triggered check */
	n = ice_msg_check(buf, sizeof(buf), tid, u, "peer", p, &req);
	ice_core_recv(N->ag[0], 0, &from, buf, (size_t)n);
	assert_int_equal(last_answer(0, &m), 0);
	assert_int_equal(m.cls, STUN_SUCCESS);
	assert_int_equal(N->ag[0]->npair, 1);
	assert_int_equal(N->ag[0]->st.prflx_remote, 1);
	/* without FINGERPRINT it is not taken as a check at all */
	buf[n - 8] ^= 1;
	ice_core_recv(N->ag[0], 0, &from, buf, (size_t)n);
	assert_int_equal(N->ag[0]->st.drops, 1);
}

static void test_unreachable_paced(void **state)
{
	struct ice_cand rem[60];
	struct tw_addr a2;
	uint8_t tids[200][STUN_TID_LEN];
	size_t ntid = 0;
	uint64_t last_tick = UINT64_MAX;
	(void)state;

	N->ag[0] = agent(true, 5, "192.0.2.1:1000");
	tw_addr_parse("192.0.2.3:1001", 0, &a2);
	ice_core_add_host(N->ag[0], 1, 1, &a2);
	ice_core_gather(N->ag[0]);
	for (int i = 0; i < 60; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "203.0.113.%d:%d", i + 1, 5000 + i);
		memset(&rem[i], 0, sizeof(rem[i]));
		rem[i].type = ICE_CAND_HOST;
		rem[i].comp = 1;
		tw_addr_parse(ip, 0, &rem[i].addr);
		rem[i].prio = ice_cand_priority(ICE_CAND_HOST, (uint16_t)i, 1);
		snprintf(rem[i].foundation, sizeof(rem[i].foundation), "f%d", i);
	}
	assert_int_equal(ice_set_remote(N->ag[0], "abcd", "0123456789012345678901", rem, 60), 0);
	assert_int_equal(N->ag[0]->npair, 100); /* 120 pairs, capped */
	for (int t = 0; t < 2000; t++) {
		N->now += 50;
		ice_core_tick(N->ag[0]);
		for (size_t i = 0; i < N->nq; i++) {
			struct stun_msg m;
			bool seen = false;

			assert_int_equal(stun_msg_parse(&m, N->q[i].buf, N->q[i].len), 0);
			for (size_t j = 0; j < ntid && !seen; j++)
				seen = memcmp(tids[j], m.tid, STUN_TID_LEN) == 0;
			if (seen)
				continue; /* a retransmission */
			assert_true(ntid < 200);
			memcpy(tids[ntid++], m.tid, STUN_TID_LEN);
			/* a new check: never two in one Ta tick */
			assert_true(N->q[i].tick != last_tick);
			last_tick = N->q[i].tick;
		}
		N->nq = 0;
	}
	assert_true(ntid <= 100);
	assert_int_equal(ntid, N->ag[0]->st.checks_sent);
	assert_int_equal(N->ag[0]->st.checks_same_tick, 0);
	assert_int_equal(ice_agent_state(N->ag[0]), ICE_CHECKING);
}

/* At the cap, a pair from a peer-reflexive check replaces the lowest unchecked one. */
static void test_cap_replacement(void **state)
{
	struct ice_cand rem[60];
	struct ice_check_req req = {.prio = 0x7effffff, .controlling = false, .tb = 3};
	uint8_t buf[ICE_MSG_MAX], tid[STUN_TID_LEN] = {9};
	struct tw_addr a2, from;
	const char *u, *p;
	uint64_t lowest = UINT64_MAX;
	int n, prflx = 0;
	(void)state;

	N->ag[0] = agent(true, 5, "192.0.2.1:1000");
	tw_addr_parse("192.0.2.3:1001", 0, &a2);
	ice_core_add_host(N->ag[0], 1, 1, &a2);
	ice_core_gather(N->ag[0]);
	for (int i = 0; i < 60; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "203.0.113.%d:%d", i + 1, 5000 + i);
		memset(&rem[i], 0, sizeof(rem[i]));
		rem[i].comp = 1;
		tw_addr_parse(ip, 0, &rem[i].addr);
		rem[i].prio = ice_cand_priority(ICE_CAND_HOST, (uint16_t)i, 1);
		snprintf(rem[i].foundation, sizeof(rem[i].foundation), "f%d", i);
	}
	assert_int_equal(ice_set_remote(N->ag[0], "abcd", "0123456789012345678901", rem, 60), 0);
	assert_int_equal(N->ag[0]->npair, 100);
	for (size_t i = 0; i < N->ag[0]->npair; i++)
		if (N->ag[0]->pair[i].p.prio < lowest)
			lowest = N->ag[0]->pair[i].p.prio;
	ice_local_credentials(N->ag[0], &u, &p);
	tw_addr_parse("198.51.100.9:7000", 0, &from);
	n = ice_msg_check(buf, sizeof(buf), tid, u, "abcd", p, &req);
	ice_core_recv(N->ag[0], 0, &from, buf, (size_t)n);
	assert_int_equal(N->ag[0]->npair, 100);
	assert_int_equal(N->ag[0]->st.pairs_dropped, 1);
	assert_int_equal(N->ag[0]->st.prflx_remote, 1);
	for (size_t i = 0; i < N->ag[0]->npair; i++)
		prflx += N->ag[0]->rem[N->ag[0]->pair[i].p.remote].type == ICE_CAND_PRFLX;
	assert_int_equal(prflx, 1);
	/* the one dropped was the lowest */
	for (size_t i = 0; i < N->ag[0]->npair; i++)
		assert_true(N->ag[0]->pair[i].p.prio >= lowest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_connect, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_consent_lost_and_restart, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_move_regather, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_role_conflict, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unreachable_paced, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cap_replacement, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
