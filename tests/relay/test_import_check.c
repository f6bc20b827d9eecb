/*
 * relay/import_check.c: one row per rule. Every row starts from a good flow
 * (IPv4 and IPv6 relayed, one permission and one channel each), breaks or
 * stretches one thing, and names the verdict and the clamps it expects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/alloc.h"
#include "relay/config.h"
#include "relay/import_check.h"
#include "relay/policy.h"

#define NP (ALLOC_MAX_PERMS + 1)
#define NC (ALLOC_MAX_CHANS + 1)

struct tflow {
	Twist__Flow f;
	ProtobufCBinaryData rel[2];
	Twist__Perm perm[NP], *pp[NP];
	Twist__Chan chan[NC], *pc[NC];
	uint8_t client[18], local[18], relb[2][18], pip[NP][16], cpeer[NC][18];
};

static struct config cfg;
static struct policy *pol;
static struct import_limits lim;

static void put(ProtobufCBinaryData *b, uint8_t *buf, const char *s, bool port)
{
	struct tw_addr a;

	assert_int_equal(port ? tw_addr_parse(s, 0, &a) : tw_addr_parse_ip(s, &a), 0);
	b->data = buf;
	b->len = port ? flow_addr_put(&a, buf) : flow_ip_put(&a, buf);
}

static void set_perm(struct tflow *t, unsigned i, const char *ip)
{
	twist__perm__init(&t->perm[i]);
	put(&t->perm[i].ip, t->pip[i], ip, false);
	t->perm[i].lifetime = 300;
	t->pp[i] = &t->perm[i];
}

static void set_chan(struct tflow *t, unsigned i, uint32_t num, const char *peer)
{
	twist__chan__init(&t->chan[i]);
	t->chan[i].number = num;
	put(&t->chan[i].peer, t->cpeer[i], peer, true);
	t->chan[i].lifetime = 600;
	t->pc[i] = &t->chan[i];
}

static void good(struct tflow *t)
{
	memset(t, 0, sizeof(*t));
	twist__flow__init(&t->f);
	put(&t->f.client, t->client, "203.0.113.10:40000", true);
	put(&t->f.local, t->local, "203.0.113.1:3478", true);
	put(&t->rel[0], t->relb[0], "192.0.2.1:50000", true);
	put(&t->rel[1], t->relb[1], "[2001:db8::1]:50001", true);
	t->f.relayed = t->rel;
	t->f.n_relayed = 2;
	t->f.lifetime = 600;
	t->f.user = "demo";
	t->f.realm = "";
	set_perm(t, 0, "198.51.100.10");
	set_perm(t, 1, "2001:db8:1::10");
	t->f.perms = t->pp;
	t->f.n_perms = 2;
	set_chan(t, 0, 0x4000, "198.51.100.10:5000");
	set_chan(t, 1, 0x4001, "[2001:db8:1::10]:5000");
	t->f.chans = t->pc;
	t->f.n_chans = 2;
}

static void nothing(struct tflow *t)
{
	(void)t;
}

static void long_alloc(struct tflow *t)
{
	t->f.lifetime = 86400;
}

static void long_perm(struct tflow *t)
{
	t->perm[1].lifetime = 301;
}

static void long_chan(struct tflow *t)
{
	t->chan[0].lifetime = UINT32_MAX;
}

static void all_long(struct tflow *t)
{
	long_alloc(t);
	long_perm(t);
	long_chan(t);
}

static void cooling_chan(struct tflow *t)
{
	t->chan[1].lifetime = 0;
}

static void deleted(struct tflow *t)
{
	t->f.deleted = 1;
	t->f.lifetime = 86400;
	put(&t->rel[0], t->relb[0], "10.9.9.9:1", true); /* ignored: only the identity counts */
}

static void no_user(struct tflow *t)
{
	t->f.user = NULL;
}

static void many_perms(struct tflow *t)
{
	for (unsigned i = 0; i < NP; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "198.51.100.%u", i + 1);
		set_perm(t, i, ip);
	}
	t->f.n_perms = NP;
}

static void many_chans(struct tflow *t)
{
	for (unsigned i = 0; i < NC; i++) {
		char peer[32];

		snprintf(peer, sizeof(peer), "198.51.100.%u:6000", i + 1);
		set_chan(t, i, 0x4000 + i, peer);
	}
	t->f.n_chans = NC;
}

static void max_perms_chans(struct tflow *t)
{
	many_perms(t);
	many_chans(t);
	t->f.n_perms = ALLOC_MAX_PERMS;
	t->f.n_chans = ALLOC_MAX_CHANS;
}

static void foreign_relayed(struct tflow *t)
{
	put(&t->rel[0], t->relb[0], "192.0.2.2:50000", true);
}

static void relayed_low_port(struct tflow *t)
{
	put(&t->rel[1], t->relb[1], "[2001:db8::1]:1024", true);
}

static void relayed_high_port(struct tflow *t)
{
	lim.port_max = 60000; /* test_rows puts the limits back */
	put(&t->rel[0], t->relb[0], "192.0.2.1:60001", true);
}

static void two_v4_relayed(struct tflow *t)
{
	put(&t->rel[1], t->relb[1], "192.0.2.1:50002", true);
	t->f.n_perms = 1; /* the IPv6 peers would fail first */
	t->f.n_chans = 1;
}

static void v6_peer_no_v6_relayed(struct tflow *t)
{
	t->f.n_relayed = 1;
}

static void perm_denied(struct tflow *t)
{
	set_perm(t, 1, "10.0.0.1");
}

static void perm_denied_embedded(struct tflow *t)
{
	set_perm(t, 1, "::ffff:127.0.0.1");
}

static void chan_denied(struct tflow *t)
{
	set_chan(t, 0, 0x4000, "127.0.0.1:5000");
}

static void chan_number_low(struct tflow *t)
{
	t->chan[1].number = 0x3fff;
}

static void chan_number_reserved(struct tflow *t)
{
	t->chan[1].number = 0x5000;
}

static void chan_number_rfc5766(struct tflow *t)
{
	lim.rfc5766_channels = true;
	t->chan[1].number = 0x7fff;
}

static void chan_dup_number(struct tflow *t)
{
	t->chan[1].number = t->chan[0].number;
}

static void chan_dup_peer(struct tflow *t)
{
	set_chan(t, 1, 0x4001, "198.51.100.10:5000");
}

static void chan_same_ip_other_port(struct tflow *t)
{
	set_chan(t, 1, 0x4001, "198.51.100.10:5001");
}

/* One row's verdict; f lives in t, and a refused t must equal before. */
static void verdict(const char *name, Twist__Flow *f, const void *t, const void *before,
                    size_t size, enum import_reason want, unsigned want_clamped)
{
	unsigned clamped;
	int got = import_check(f, &lim, &clamped);

	if (got != (int)want || clamped != want_clamped)
		fail_msg("%s: %s with %u clamped, want %s with %u", name, import_reason_name(got),
		         clamped, import_reason_name(want), want_clamped);
	if (got != IMPORT_OK && memcmp(t, before, size) != 0)
		fail_msg("%s: a refused flow was changed", name);
}

struct row {
	const char *name;
	void (*mutate)(struct tflow *t);
	enum import_reason want;
	unsigned clamped;
};

static const struct row rows[] = {
        {"good", nothing, IMPORT_OK, 0},
        {"allocation lifetime clamped", long_alloc, IMPORT_OK, 1},
        {"permission lifetime clamped", long_perm, IMPORT_OK, 1},
        {"channel lifetime clamped", long_chan, IMPORT_OK, 1},
        {"every lifetime clamped", all_long, IMPORT_OK, 3},
        {"cooling channel kept", cooling_chan, IMPORT_OK, 0},
        {"delete: identity only", deleted, IMPORT_OK, 0},
        {"malformed", no_user, IMPORT_MALFORMED, 0},
        {"permissions at the cap", max_perms_chans, IMPORT_OK, 0},
        {"too many permissions", many_perms, IMPORT_TOO_MANY_PERMS, 0},
        {"too many channels", many_chans, IMPORT_TOO_MANY_CHANS, 0},
        {"relayed: not our address", foreign_relayed, IMPORT_RELAYED_ADDR, 0},
        {"relayed: port below the range", relayed_low_port, IMPORT_RELAYED_PORT, 0},
        {"relayed: port above the range", relayed_high_port, IMPORT_RELAYED_PORT, 0},
        {"relayed: two of one family", two_v4_relayed, IMPORT_RELAYED_FAMILY, 0},
        {"peer of a family not relayed", v6_peer_no_v6_relayed, IMPORT_PEER_FAMILY, 0},
        {"permission denied by policy", perm_denied, IMPORT_PEER_DENIED, 0},
        {"permission denied, embedded IPv4", perm_denied_embedded, IMPORT_PEER_DENIED, 0},
        {"channel peer denied by policy", chan_denied, IMPORT_PEER_DENIED, 0},
        {"channel number below 0x4000 (flow_valid)", chan_number_low, IMPORT_MALFORMED, 0},
        {"channel number reserved (RFC 8656)", chan_number_reserved, IMPORT_CHAN_NUMBER, 0},
        {"channel 0x7FFF with rfc5766_channels", chan_number_rfc5766, IMPORT_OK, 0},
        {"duplicate channel number", chan_dup_number, IMPORT_CHAN_DUP_NUMBER, 0},
        {"duplicate channel peer", chan_dup_peer, IMPORT_CHAN_DUP_PEER, 0},
        {"same peer IP, other port", chan_same_ip_other_port, IMPORT_OK, 0},
};

/* ---- TWIST flows: a good listen flow, latched, then one thing broken per row ---- */

struct twflow {
	Twist__Flow f;
	Twist__Twist t;
	Twist__Perm perm, *pp[1];
	ProtobufCBinaryData rel[2];
	uint8_t client[18], local[18], relb[18], peer[18], want[18], pip[16];
};

static void tw_good(struct twflow *t)
{
	memset(t, 0, sizeof(*t));
	twist__flow__init(&t->f);
	twist__twist__init(&t->t);
	put(&t->f.client, t->client, "203.0.113.20:40000", true);
	put(&t->f.local, t->local, "203.0.113.1:3478", true);
	put(&t->rel[0], t->relb, "192.0.2.200:50000", true);
	t->f.relayed = t->rel;
	t->f.n_relayed = 1;
	t->f.lifetime = 600;
	t->f.user = "demo";
	t->f.realm = "";
	t->t.type = 2; /* listen */
	t->t.transport = 6;
	put(&t->t.peer, t->peer, "198.51.100.10:41000", true);
	put(&t->t.want, t->want, "198.51.100.10:0", true);
	t->t.encap_mode = 1;
	t->t.keepalive = 1;
	t->t.cookie = (uint64_t)50000 << 48 | 0x1234;
	t->f.twist = &t->t;
}

static void tw_nothing(struct twflow *t)
{
	(void)t;
}

static void tw_connect(struct twflow *t)
{
	t->t.type = 1;
	t->t.cookie = 0;
	t->t.want.len = 0;
}

static void tw_armed(struct twflow *t)
{
	t->t.peer.len = 0;
}

static void tw_long(struct twflow *t)
{
	t->f.lifetime = UINT32_MAX;
}

static void tw_delete(struct twflow *t)
{
	t->f.deleted = 1;
	t->f.twist = NULL;
	t->f.n_relayed = 0;
}

static void tw_off(struct twflow *t)
{
	(void)t;
	lim.twist = false;
}

static void tw_foreign_relayed(struct twflow *t)
{
	put(&t->rel[0], t->relb, "192.0.2.1:50000", true); /* TURN's relay address, not twist's */
}

static void tw_low_port(struct twflow *t)
{
	put(&t->rel[0], t->relb, "192.0.2.200:1024", true);
	t->t.cookie = (uint64_t)1024 << 48;
}

static void tw_v6_relayed(struct twflow *t)
{
	put(&t->rel[0], t->relb, "[2001:db8::200]:50000", true); /* no relay_ipv6 here */
	t->t.peer.len = t->t.want.len = 0;
}

static void tw_peer_denied(struct twflow *t)
{
	put(&t->t.peer, t->peer, "127.0.0.1:80", true);
	t->t.want.len = 0;
}

static void tw_want_denied(struct twflow *t)
{
	t->t.peer.len = 0;
	put(&t->t.want, t->want, "10.0.0.1:0", true);
}

static void tw_peer_self(struct twflow *t)
{
	put(&t->t.peer, t->peer, "192.0.2.200:3478", true);
	t->t.want.len = 0;
}

/* An SPI whose first byte is outside 0xC0-0xFE breaks the demux (spec §9). */
static void tw_tunnel(struct twflow *t)
{
	t->t.encap_mode = 2;
	t->t.spi = 0x1000;
}

static void tw_tunnel_good(struct twflow *t)
{
	t->t.encap_mode = 2;
	t->t.spi = 0xC1234567;
}

static void tw_unknown_user(struct twflow *t)
{
	t->f.user = "mallory";
}

static void tw_peer_family(struct twflow *t)
{
	put(&t->t.peer, t->peer, "[2001:db8:1::10]:80", true);
}

static void tw_connect_no_peer(struct twflow *t)
{
	tw_connect(t);
	t->t.peer.len = 0;
}

static void tw_connect_cookie(struct twflow *t)
{
	tw_connect(t);
	t->t.cookie = (uint64_t)50000 << 48;
}

static void tw_cookie_port(struct twflow *t)
{
	t->t.cookie = (uint64_t)50001 << 48;
}

static void tw_spi_transport(struct twflow *t)
{
	t->t.spi = 0x1000;
}

static void tw_spi_reserved(struct twflow *t)
{
	t->t.encap_mode = 2;
	t->t.spi = 255;
}

static void tw_bad_mode(struct twflow *t)
{
	t->t.encap_mode = 3;
}

static void tw_bad_ka(struct twflow *t)
{
	t->t.keepalive = 0;
}

static void tw_bad_type(struct twflow *t)
{
	t->t.type = 3;
}

static void tw_bad_transport(struct twflow *t)
{
	t->t.transport = 132;
}

static void tw_tcp_client(struct twflow *t)
{
	t->f.transport = 6;
}

static void tw_with_perm(struct twflow *t)
{
	twist__perm__init(&t->perm);
	put(&t->perm.ip, t->pip, "198.51.100.10", false);
	t->pp[0] = &t->perm;
	t->f.perms = t->pp;
	t->f.n_perms = 1;
}

static void tw_two_relayed(struct twflow *t)
{
	t->rel[1] = t->rel[0];
	t->f.n_relayed = 2;
}

static void tw_short_peer(struct twflow *t)
{
	t->t.peer.len = 5;
}

static void tw_and_trt(struct twflow *t)
{
	static Twist__Trt m = TWIST__TRT__INIT;

	t->f.trt = &m;
}

struct tw_row {
	const char *name;
	void (*mutate)(struct twflow *t);
	enum import_reason want;
	unsigned clamped;
};

static const struct tw_row tw_rows[] = {
        {"twist: good listen flow", tw_nothing, IMPORT_OK, 0},
        {"twist: good connect flow", tw_connect, IMPORT_OK, 0},
        {"twist: armed listen flow", tw_armed, IMPORT_OK, 0},
        {"twist: lifetime clamped", tw_long, IMPORT_OK, 1},
        {"twist: delete", tw_delete, IMPORT_OK, 0},
        {"twist: off here", tw_off, IMPORT_TWIST_OFF, 0},
        {"twist: relayed not twist's address", tw_foreign_relayed, IMPORT_RELAYED_ADDR, 0},
        {"twist: relayed port below the range", tw_low_port, IMPORT_RELAYED_PORT, 0},
        {"twist: relayed family not served", tw_v6_relayed, IMPORT_RELAYED_ADDR, 0},
        {"twist: peer denied by policy", tw_peer_denied, IMPORT_PEER_DENIED, 0},
        {"twist: wanted peer denied", tw_want_denied, IMPORT_PEER_DENIED, 0},
        {"twist: peer is twist's own address", tw_peer_self, IMPORT_PEER_DENIED, 0},
        {"twist: tunnel mode, SPI outside the demux range", tw_tunnel, IMPORT_TWIST_ENCAP, 0},
        {"twist: tunnel mode", tw_tunnel_good, IMPORT_OK, 0},
        {"twist: unknown user", tw_unknown_user, IMPORT_USER_UNKNOWN, 0},
        {"twist: peer of another family", tw_peer_family, IMPORT_MALFORMED, 0},
        {"twist: connect without a peer", tw_connect_no_peer, IMPORT_MALFORMED, 0},
        {"twist: connect with a cookie", tw_connect_cookie, IMPORT_MALFORMED, 0},
        {"twist: cookie of another port", tw_cookie_port, IMPORT_MALFORMED, 0},
        {"twist: SPI in transport mode", tw_spi_transport, IMPORT_MALFORMED, 0},
        {"twist: reserved SPI (RFC 4303)", tw_spi_reserved, IMPORT_MALFORMED, 0},
        {"twist: unknown mode", tw_bad_mode, IMPORT_MALFORMED, 0},
        {"twist: unknown keepalive", tw_bad_ka, IMPORT_MALFORMED, 0},
        {"twist: unknown type", tw_bad_type, IMPORT_MALFORMED, 0},
        {"twist: relayed transport not UDP or TCP", tw_bad_transport, IMPORT_MALFORMED, 0},
        {"twist: client over TCP", tw_tcp_client, IMPORT_MALFORMED, 0},
        {"twist: with a permission", tw_with_perm, IMPORT_MALFORMED, 0},
        {"twist: two relayed addresses", tw_two_relayed, IMPORT_MALFORMED, 0},
        {"twist: truncated peer", tw_short_peer, IMPORT_MALFORMED, 0},
        {"twist: also a translator mapping", tw_and_trt, IMPORT_MALFORMED, 0},
};

static bool known(void *arg, const char *user)
{
	(void)arg;
	return strcmp(user, "demo") == 0;
}

static void test_twist_rows(void **state)
{
	static struct twflow t, before;

	(void)state;
	for (size_t i = 0; i < sizeof(tw_rows) / sizeof(tw_rows[0]); i++) {
		struct import_limits saved = lim;

		tw_good(&t);
		tw_rows[i].mutate(&t);
		before = t;
		verdict(tw_rows[i].name, &t.f, &t, &before, sizeof(t), tw_rows[i].want,
		        tw_rows[i].clamped);
		lim = saved;
	}
	tw_good(&t);
	tw_long(&t);
	assert_int_equal(import_check(&t.f, &lim, NULL), IMPORT_OK);
	assert_int_equal(t.f.lifetime, cfg.max_lifetime);
}

static int setup(void **state)
{
	static struct tw_addr relay[2];

	(void)state;
	config_defaults(&cfg); /* max_lifetime 3600, ports 49152..65535 */
	assert_int_equal(tw_cidr_parse("198.51.100.0/24", &cfg.allow[0]), 0);
	assert_int_equal(tw_cidr_parse("2001:db8:1::/48", &cfg.allow[1]), 0);
	/* Even an allowed twist relayed address is no peer (turn_twist.c is_own_stun). */
	assert_int_equal(tw_cidr_parse("192.0.2.200/32", &cfg.allow[2]), 0);
	cfg.n_allow = 3;
	cfg.twist_enabled = true;
	assert_int_equal(tw_addr_parse_ip("192.0.2.200", &cfg.twist_relay4), 0);
	cfg.twist_port_min = 49152;
	cfg.twist_port_max = 65535;
	cfg.rfc5766_channels = false;
	pol = policy_new(&cfg);
	assert_non_null(pol);
	assert_int_equal(tw_addr_parse_ip("192.0.2.1", &relay[0]), 0);
	assert_int_equal(tw_addr_parse_ip("2001:db8::1", &relay[1]), 0);
	import_limits_init(&lim, &cfg, pol, relay);
	lim.user_known = known;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	policy_free(pol);
	config_clear(&cfg);
	return 0;
}

static void test_rows(void **state)
{
	static struct tflow t, before;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct import_limits saved = lim;

		good(&t);
		rows[i].mutate(&t);
		before = t;
		verdict(rows[i].name, &t.f, &t, &before, sizeof(t), rows[i].want, rows[i].clamped);
		lim = saved; /* some rows change the limits */
	}
}

/* Clamping lands on this node's maxima, and leaves shorter lifetimes alone. */
static void test_clamp_values(void **state)
{
	static struct tflow t;

	(void)state;
	good(&t);
	all_long(&t);
	t.perm[0].lifetime = 12;
	assert_int_equal(import_check(&t.f, &lim, NULL), IMPORT_OK);
	assert_int_equal(t.f.lifetime, cfg.max_lifetime);
	assert_int_equal(t.perm[0].lifetime, 12);
	assert_int_equal(t.perm[1].lifetime, PERM_LIFETIME_MS / 1000);
	assert_int_equal(t.chan[0].lifetime, CHAN_LIFETIME_MS / 1000);
	assert_int_equal(t.chan[1].lifetime, 600);
}

/* Every reason has a name, and the names are distinct (they become label values). */
static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < IMPORT__COUNT; i++) {
		assert_string_not_equal(import_reason_name((enum import_reason)i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(import_reason_name((enum import_reason)i),
			                        import_reason_name((enum import_reason)j));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rows),
	        cmocka_unit_test(test_clamp_values),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_twist_rows),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
