/*
 * relay/mice_ha.c with a fake send and simulated time: registration,
 * the offer relayed and its answer relayed back, every refusal with its
 * status, unexpected and unauthenticated BAs, lifetimes, deregistration,
 * the cache bound and the per-source rate.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/mice_mh.h"
#include "relay/config.h"
#include "relay/mice_ha.h"
#include "relay/stcred.h"

#include "../proto/mice_util.h"

#define T0      1000000u
#define MN_SPI  4096
#define CN_SPI  8192
#define XN_SPI  9000
#define MN_KEY  "mobile-node-shared-key-1"
#define CN_KEY  "correspondent-shared-key"
#define XN_KEY  "third-node-shared-key-xx"
#define OPT     MICE_OPT_EXPERIMENTAL
#define MAX_OUT 8

struct sent {
	struct tw_addr dst;
	uint8_t buf[MH_MAX_LEN];
	size_t len;
};

static struct sent out_q[MAX_OUT];
static unsigned n_out;

static void fake_send(void *ctx, const struct tw_addr *dst, const uint8_t *buf, size_t len)
{
	(void)ctx;
	assert_true(n_out < MAX_OUT && len <= MH_MAX_LEN);
	out_q[n_out].dst = *dst;
	memcpy(out_q[n_out].buf, buf, len);
	out_q[n_out++].len = len;
}

static struct mice_ha_out out = {fake_send, NULL, {0}};
static struct config cfg;
static struct tw_addr mn_coa, cn_coa, xn_coa, mn_home, cn_home;

static void key(unsigned i, unsigned spi, const char *k, const char *home)
{
	cfg.mice_keys[i].spi = spi;
	snprintf(cfg.mice_keys[i].key, sizeof(cfg.mice_keys[i].key), "%s", k);
	tw_addr_parse_ip(home, &cfg.mice_keys[i].home);
}

static struct mice_ha *ha_new_creds(unsigned max_bindings, unsigned rate, struct stcred *creds)
{
	config_defaults(&cfg);
	cfg.mice_enabled = true;
	cfg.mice_max_lifetime = 600;
	cfg.mice_max_bindings = max_bindings;
	cfg.mice_rate = rate;
	cfg.mice_burst = rate;
	key(0, MN_SPI, MN_KEY, "2001:db8:1::10");
	key(1, CN_SPI, CN_KEY, "2001:db8:1::20");
	key(2, XN_SPI, XN_KEY, "192.0.2.30");
	cfg.n_mice_keys = 3;
	tw_addr_parse("198.51.100.1:5000", 0, &mn_coa);
	tw_addr_parse("203.0.113.2:6000", 0, &cn_coa);
	tw_addr_parse("192.0.2.99:7000", 0, &xn_coa);
	mn_home = cfg.mice_keys[0].home;
	cn_home = cfg.mice_keys[1].home;
	tw_addr_parse("192.0.2.1:4191", 0, &out.local);
	n_out = 0;
	return mice_ha_new(&cfg, 1, creds);
}

static struct mice_ha *ha_new(unsigned max_bindings, unsigned rate)
{
	return ha_new_creds(max_bindings, rate, NULL);
}

/* Sends m from src at time now, signed with k (NULL: unsigned). */
static void input(struct mice_ha *ha, uint64_t now, const struct tw_addr *src,
                  const struct mice_mh *m, const char *k)
{
	uint8_t buf[MH_MAX_LEN];
	int n = mice_mh_build(m, OPT, (const uint8_t *)k, k ? strlen(k) : 0, buf, sizeof(buf));

	assert_true(n > 0);
	mice_ha_input(ha, now, src, buf, (size_t)n, &out);
}

static void bu(struct mice_mh *m, uint16_t seq, uint16_t life, const struct tw_addr *home,
               const struct tw_addr *peer, unsigned spi)
{
	memset(m, 0, sizeof(*m));
	m->type = MH_TYPE_BU;
	m->seq = seq;
	m->bu_flags = MH_BU_A | MH_BU_H;
	m->lifetime = life;
	if (home)
		m->home = *home;
	if (peer) {
		m->peer = *peer;
		m->has_ice = true;
		mice_test_desc(&m->ice, 3, 4);
	}
	m->spi = spi;
}

/* The i-th message sent: parsed, to dst, of type, status and seq; signed with k or not. */
static struct mice_mh *got(unsigned i, const struct tw_addr *dst, uint8_t type, uint8_t status,
                           uint16_t seq, const char *k)
{
	static struct mice_mh m;

	assert_true(i < n_out);
	assert_true(tw_addr_eq(&out_q[i].dst, dst));
	assert_int_equal(mice_mh_parse(&m, out_q[i].buf, out_q[i].len, OPT), 0);
	assert_int_equal(m.type, type);
	if (type == MH_TYPE_BA)
		assert_int_equal(m.status, status);
	assert_int_equal(m.seq, seq);
	if (k)
		assert_true(mice_mh_auth_ok(&m, out_q[i].buf, out_q[i].len, (const uint8_t *)k,
		                            strlen(k)));
	else
		assert_false(m.has_auth);
	return &m;
}

static void test_offer_answer(void **state)
{
	static struct mice_mh m;
	struct mice_ha *ha = ha_new(16, 100);
	struct mice_ha_stats st;
	struct mice_mh *r;

	(void)state;
	bu(&m, 1, 100, &cn_home, NULL, CN_SPI);
	input(ha, T0, &cn_coa, &m, CN_KEY);
	assert_int_equal(n_out, 1);
	r = got(0, &cn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 1, CN_KEY);
	assert_int_equal(r->lifetime, 100);

	n_out = 0;
	bu(&m, 7, 9999, NULL, &cn_home, MN_SPI); /* no home option: the key's */
	input(ha, T0, &mn_coa, &m, MN_KEY);
	assert_int_equal(n_out, 2);
	r = got(0, &cn_coa, MH_TYPE_BU, 0, 7, CN_KEY); /* relayed first, under the lock */
	assert_true(tw_addr_ip_eq(&r->home, &mn_home) && tw_addr_ip_eq(&r->peer, &cn_home));
	assert_true(r->has_ice && r->ice.n_cands == 3);
	assert_int_equal(r->lifetime, 150);
	r = got(1, &mn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 7, MN_KEY);
	assert_int_equal(r->lifetime, 150); /* 600 s */

	/* The answer goes back to the MN, re-signed with its key. */
	n_out = 0;
	memset(&m, 0, sizeof(m));
	m.type = MH_TYPE_BA;
	m.seq = 7;
	m.home = cn_home;
	m.peer = mn_home;
	m.has_ice = true;
	mice_test_desc(&m.ice, 1, 6);
	m.spi = CN_SPI;
	input(ha, T0 + 100, &cn_coa, &m, CN_KEY);
	assert_int_equal(n_out, 1);
	r = got(0, &mn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 7, MN_KEY);
	assert_int_equal(r->spi, MN_SPI);
	assert_true(r->has_ice && r->ice.cand[0].addr.family == TW_AF_INET6);
	/* Once only: the same answer again answers nothing. */
	n_out = 0;
	input(ha, T0 + 200, &cn_coa, &m, CN_KEY);
	assert_int_equal(n_out, 0);
	mice_ha_stats(ha, &st);
	assert_int_equal(st.bu[MICE_BU_ACCEPTED], 2);
	assert_int_equal(st.relayed_bu, 1);
	assert_int_equal(st.relayed_ba, 1);
	assert_int_equal(st.drops[MICE_DROP_BA_UNEXPECTED], 1);
	assert_int_equal(st.bindings, 2);
	mice_ha_free(ha);
}

/* "HAFRAG:MNFRAG" from the i-th message, a BA carrying the HA's credentials. */
static void ha_user(unsigned i, uint16_t seq, const char *mnfrag, char *user, size_t cap, char *pwd)
{
	struct mice_mh *r = got(i, &mn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, seq, MN_KEY);

	assert_true(r->has_ice && r->ice.n_cands == 1);
	assert_int_equal(r->ice.cand[0].type, MICE_CAND_HOST);
	assert_true(tw_addr_eq(&r->ice.cand[0].addr, &out.local));
	assert_int_equal(strlen(r->ice.ufrag), STCRED_UFRAG_LEN);
	assert_int_equal(strlen(r->ice.pwd), STCRED_PWD_LEN);
	snprintf(user, cap, "%s:%s", r->ice.ufrag, mnfrag);
	strcpy(pwd, r->ice.pwd);
}

/* §6.1: the HA's ICE credentials in its BA, in the store, gone with the binding. */
static void test_ice_credentials(void **state)
{
	static struct mice_mh m;
	struct stcred *st = stcred_new(3);
	struct mice_ha *ha = ha_new_creds(16, 100, st);
	char user[64], pwd[STCRED_PWD_LEN + 1], user2[64], pwd2[STCRED_PWD_LEN + 1];
	uint8_t key[STCRED_PWD_MAX];

	(void)state;
	bu(&m, 1, 100, &cn_home, NULL, CN_SPI);
	input(ha, T0, &cn_coa, &m, CN_KEY);
	assert_false(got(0, &cn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 1, CN_KEY)->has_ice);
	n_out = 0;
	bu(&m, 2, 10, NULL, &cn_home, MN_SPI); /* 40 s, with an offer */
	input(ha, T0, &mn_coa, &m, MN_KEY);
	assert_int_equal(n_out, 2);
	ha_user(1, 2, "mn01", user, sizeof(user), pwd);
	assert_int_equal(stcred_key(st, user, strlen(user), T0 + 1000, key), STCRED_PWD_LEN);
	assert_memory_equal(key, pwd, STCRED_PWD_LEN);
	/* The same offer again: the same credentials, a later expiry. */
	n_out = 0;
	bu(&m, 3, 10, NULL, &cn_home, MN_SPI);
	input(ha, T0 + 30000, &mn_coa, &m, MN_KEY);
	ha_user(1, 3, "mn01", user2, sizeof(user2), pwd2);
	assert_string_equal(user, user2);
	assert_string_equal(pwd, pwd2);
	assert_true(stcred_key(st, user, strlen(user), T0 + 60000, key) > 0);
	/* A new ufrag (an ICE restart): new credentials, the old ones refused. */
	n_out = 0;
	bu(&m, 4, 10, NULL, &cn_home, MN_SPI);
	m.ice.ufrag[0] = 'X';
	input(ha, T0 + 31000, &mn_coa, &m, MN_KEY);
	ha_user(1, 4, "Xn01", user2, sizeof(user2), pwd2);
	assert_string_not_equal(pwd, pwd2);
	assert_int_equal(stcred_key(st, user, strlen(user), T0 + 31000, key), -ENOENT);
	/* Expired with the binding, and swept. */
	assert_int_equal(stcred_key(st, user2, strlen(user2), T0 + 31000 + 40000, key), -ENOENT);
	mice_ha_sweep(ha, T0 + 31000 + 40000);
	assert_int_equal(stcred_key(st, user2, strlen(user2), T0 + 32000, key), -ENOENT);
	mice_ha_free(ha);
	stcred_free(st);
}

static void test_refusals(void **state)
{
	static struct mice_mh m;
	struct mice_ha *ha = ha_new(16, 100);
	struct mice_ha_stats st;

	(void)state;
	bu(&m, 5, 10, &mn_home, &cn_home, MN_SPI);
	input(ha, T0, &mn_coa, &m, NULL); /* unprotected, carrying the option */
	got(0, &mn_coa, MH_TYPE_BA, MH_ST_AUTH_FAILED, 5, NULL);
	input(ha, T0, &mn_coa, &m, CN_KEY); /* the wrong key */
	got(1, &mn_coa, MH_TYPE_BA, MH_ST_AUTH_FAILED, 5, NULL);
	m.spi = 77777; /* an unknown SPI */
	input(ha, T0, &mn_coa, &m, MN_KEY);
	got(2, &mn_coa, MH_TYPE_BA, MH_ST_AUTH_FAILED, 5, NULL);
	bu(&m, 5, 10, &cn_home, NULL, MN_SPI); /* another node's home address */
	input(ha, T0, &mn_coa, &m, MN_KEY);
	got(3, &mn_coa, MH_TYPE_BA, MH_ST_NOT_HA_FOR_MN, 5, MN_KEY);
	bu(&m, 5, 10, &mn_home, &cn_home, MN_SPI); /* a correspondent not registered */
	input(ha, T0, &mn_coa, &m, MN_KEY);
	got(4, &mn_coa, MH_TYPE_BA, MH_ST_UNSPECIFIED, 5, MN_KEY);
	bu(&m, 5, 10, &mn_home, NULL, MN_SPI);
	input(ha, T0, &mn_coa, &m, MN_KEY);
	got(5, &mn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 5, MN_KEY);
	bu(&m, 4, 10, &mn_home, NULL, MN_SPI); /* older: the last accepted number comes back */
	input(ha, T0, &mn_coa, &m, MN_KEY);
	got(6, &mn_coa, MH_TYPE_BA, MH_ST_SEQ_OUT_OF_WIN, 5, MN_KEY);
	mice_ha_stats(ha, &st);
	assert_int_equal(st.bu[MICE_BU_AUTH_FAILED], 3);
	assert_int_equal(st.bu[MICE_BU_NOT_HOME], 1);
	assert_int_equal(st.bu[MICE_BU_PEER_UNKNOWN], 1);
	assert_int_equal(st.bu[MICE_BU_SEQUENCE], 1);
	assert_int_equal(st.bindings, 1);
	/* Garbage and unauthenticated BAs are dropped without an answer. */
	n_out = 0;
	mice_ha_input(ha, T0, &mn_coa, (const uint8_t *)"garbage!", 8, &out);
	memset(&m, 0, sizeof(m));
	m.type = MH_TYPE_BA;
	m.peer = mn_home;
	input(ha, T0, &cn_coa, &m, NULL);
	assert_int_equal(n_out, 0);
	mice_ha_stats(ha, &st);
	assert_int_equal(st.drops[MICE_DROP_MALFORMED], 1);
	assert_int_equal(st.drops[MICE_DROP_BA_AUTH], 1);
	mice_ha_free(ha);
}

/* Lifetimes run out, lifetime 0 deregisters, the cache holds max_bindings. */
static void test_lifetimes_and_bounds(void **state)
{
	static struct mice_mh m;
	struct mice_ha *ha = ha_new(2, 100);
	struct mice_ha_stats st;

	(void)state;
	bu(&m, 1, 1, &mn_home, NULL, MN_SPI); /* 4 s */
	input(ha, T0, &mn_coa, &m, MN_KEY);
	bu(&m, 1, 10, &cn_home, NULL, CN_SPI);
	input(ha, T0, &cn_coa, &m, CN_KEY);
	bu(&m, 1, 10, NULL, NULL, XN_SPI); /* a third: no room */
	input(ha, T0, &xn_coa, &m, XN_KEY);
	got(2, &xn_coa, MH_TYPE_BA, MH_ST_NO_RESOURCES, 1, XN_KEY);
	mice_ha_sweep(ha, T0 + 3999);
	mice_ha_stats(ha, &st);
	assert_int_equal(st.bindings, 2);
	mice_ha_sweep(ha, T0 + 4000);
	mice_ha_stats(ha, &st);
	assert_int_equal(st.bindings, 1);
	bu(&m, 2, 10, NULL, NULL, XN_SPI); /* room again */
	input(ha, T0 + 4000, &xn_coa, &m, XN_KEY);
	got(3, &xn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 2, XN_KEY);
	bu(&m, 3, 0, NULL, NULL, XN_SPI); /* deregistration */
	input(ha, T0 + 4000, &xn_coa, &m, XN_KEY);
	got(4, &xn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 3, XN_KEY);
	mice_ha_stats(ha, &st);
	assert_int_equal(st.bindings, 1);
	/* The sequence number survives the binding: a replay after expiry is refused. */
	bu(&m, 1, 1, &mn_home, NULL, MN_SPI);
	input(ha, T0 + 5000, &mn_coa, &m, MN_KEY);
	got(5, &mn_coa, MH_TYPE_BA, MH_ST_SEQ_OUT_OF_WIN, 1, MN_KEY);
	mice_ha_free(ha);
}

static void test_rate(void **state)
{
	static struct mice_mh m;
	struct mice_ha *ha = ha_new(16, 3);
	struct mice_ha_stats st;

	(void)state;
	for (uint16_t i = 1; i <= 10; i++) {
		bu(&m, i, 10, &mn_home, NULL, MN_SPI);
		input(ha, T0, &mn_coa, &m, MN_KEY);
	}
	mice_ha_stats(ha, &st);
	assert_int_equal(st.rx_bu, 3);
	assert_int_equal(st.drops[MICE_DROP_RATE], 7);
	assert_int_equal(n_out, 3);
	mice_ha_free(ha);
	mice_ha_free(NULL);
}

/* An offer that fits in 2048 bytes but not with the home option the HA adds. */
static void test_too_big(void **state)
{
	static struct mice_mh m, with_home;
	uint8_t buf[MH_MAX_LEN];
	struct mice_ha *ha = ha_new(16, 100);
	struct mice_ha_stats st;
	bool found = false;

	(void)state;
	bu(&m, 1, 10, &cn_home, NULL, CN_SPI);
	input(ha, T0, &cn_coa, &m, CN_KEY);
	for (unsigned n = 16; n <= 40 && !found; n++) {
		bu(&m, 1, 10, NULL, &cn_home, MN_SPI);
		mice_test_desc(&m.ice, n, 6);
		memset(m.ice.ufrag, 'u', MICE_UFRAG_MAX);
		memset(m.ice.pwd, 'p', MICE_PWD_MAX);
		for (unsigned ol = 0; ol <= MICE_OPTIONS_MAX && !found; ol++) {
			memset(m.ice.options, 'o', ol);
			m.ice.options[ol] = '\0';
			with_home = m;
			with_home.home = mn_home;
			found = mice_mh_build(&m, OPT, (const uint8_t *)MN_KEY, strlen(MN_KEY), buf,
			                      sizeof(buf)) > 0 &&
			        mice_mh_build(&with_home, OPT, (const uint8_t *)MN_KEY,
			                      strlen(MN_KEY), buf, sizeof(buf)) < 0;
		}
	}
	assert_true(found);
	n_out = 0;
	input(ha, T0, &mn_coa, &m, MN_KEY);
	assert_int_equal(n_out, 1); /* the registration's answer only */
	got(0, &mn_coa, MH_TYPE_BA, MH_ST_ACCEPTED, 1, MN_KEY);
	mice_ha_stats(ha, &st);
	assert_int_equal(st.drops[MICE_DROP_TOO_BIG], 1);
	assert_int_equal(st.relayed_bu, 0);
	mice_ha_free(ha);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_offer_answer),         cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_lifetimes_and_bounds), cmocka_unit_test(test_rate),
	        cmocka_unit_test(test_ice_credentials),      cmocka_unit_test(test_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
