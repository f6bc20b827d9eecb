/*
 * proto/mice.c and proto/mice_mh.c: MIP-ICE options and the Binding
 * Update / Acknowledgement framing. Round trips for IPv4 and IPv6 with 1-8
 * candidates, every length field walked, the worked example of
 * docs/mice.md §5 byte for byte, and MN-HA authentication.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/cursor.h"
#include "proto/mice.h"
#include "proto/mice_mh.h"

#include "mice_util.h"

static const uint8_t key[] = "twist-mice-example-key";
#define KEYLEN (sizeof(key) - 1)

static void assert_cand_equal(const struct mice_cand *a, const struct mice_cand *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->component, b->component);
	assert_int_equal(a->transport, b->transport);
	assert_int_equal(a->priority, b->priority);
	assert_string_equal(a->foundation, b->foundation);
	assert_true(tw_addr_eq(&a->addr, &b->addr));
	assert_int_equal(a->related.family, b->related.family);
	assert_int_equal(a->related.port, b->related.port);
	if (a->related.family)
		assert_true(tw_addr_eq(&a->related, &b->related));
}

static void assert_desc_equal(const struct mice_ice *a, const struct mice_ice *b)
{
	assert_int_equal(a->lite, b->lite);
	assert_int_equal(a->mismatch, b->mismatch);
	assert_string_equal(a->ufrag, b->ufrag);
	assert_string_equal(a->pwd, b->pwd);
	assert_string_equal(a->options, b->options);
	assert_int_equal(a->n_cands, b->n_cands);
	for (unsigned i = 0; i < a->n_cands; i++)
		assert_cand_equal(&a->cand[i], &b->cand[i]);
}

static void bu_with(struct mice_mh *m, const struct mice_ice *d)
{
	memset(m, 0, sizeof(*m));
	m->type = MH_TYPE_BU;
	m->seq = 7;
	m->bu_flags = MH_BU_A | MH_BU_H;
	m->lifetime = 150;
	tw_addr_parse_ip("2001:db8:1::10", &m->home);
	tw_addr_parse_ip("2001:db8:1::20", &m->peer);
	m->has_ice = true;
	m->ice = *d;
	m->spi = 0x100;
}

static void roundtrip(int fam)
{
	static struct mice_ice d, back;
	static struct mice_mh m, p;
	uint8_t desc[MICE_DESC_MAX], msg[MH_MAX_LEN];

	for (unsigned n = 1; n <= 8; n++) {
		int len;

		mice_test_desc(&d, n, fam);
		d.lite = n % 2;
		d.mismatch = n == 3;
		if (n == 4)
			snprintf(d.options, sizeof(d.options), "trickle ice2");
		len = mice_ice_encode(&d, desc, sizeof(desc));
		assert_true(len > 0);
		assert_int_equal(mice_ice_decode(&back, desc, (size_t)len), 0);
		assert_desc_equal(&d, &back);

		bu_with(&m, &d);
		len = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, key, KEYLEN, msg, sizeof(msg));
		assert_true(len > 0);
		assert_int_equal(len % 8, 0);
		assert_int_equal(mice_mh_parse(&p, msg, (size_t)len, MICE_OPT_EXPERIMENTAL), 0);
		assert_true(p.has_ice && p.has_auth);
		assert_int_equal(p.spi, 0x100);
		assert_int_equal(p.seq, 7);
		assert_int_equal(p.lifetime, 150);
		assert_int_equal(p.bu_flags, MH_BU_A | MH_BU_H);
		assert_true(tw_addr_eq(&p.home, &m.home));
		assert_true(tw_addr_eq(&p.peer, &m.peer));
		assert_true(mice_mh_auth_ok(&p, msg, (size_t)len, key, KEYLEN));
		assert_desc_equal(&d, &p.ice);
	}
}

static void test_roundtrip_ipv4(void **state)
{
	(void)state;
	roundtrip(4);
}

static void test_roundtrip_ipv6(void **state)
{
	(void)state;
	roundtrip(6);
}

/* Real credentials at their longest: the description spans several options. */
static void test_long_credentials(void **state)
{
	static struct mice_ice d;
	static struct mice_mh m, p;
	uint8_t msg[MH_MAX_LEN];
	int len;

	(void)state;
	mice_test_desc(&d, 8, 6);
	memset(d.ufrag, 'u', MICE_UFRAG_MAX);
	memset(d.pwd, 'P', MICE_PWD_MAX);
	memset(d.options, 'o', MICE_OPTIONS_MAX);
	for (unsigned i = 0; i < 8; i++)
		memset(d.cand[i].foundation, '0' + (char)i, MICE_FOUNDATION_MAX);
	bu_with(&m, &d);
	len = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, key, KEYLEN, msg, sizeof(msg));
	assert_true(len > 4 * MICE_FRAG_MAX);
	assert_int_equal(mice_mh_parse(&p, msg, (size_t)len, MICE_OPT_EXPERIMENTAL), 0);
	assert_desc_equal(&d, &p.ice);
	/* Too long for one Mobility Header: refused, not truncated. */
	d.n_cands = MICE_MAX_CANDS;
	for (unsigned i = 8; i < MICE_MAX_CANDS; i++)
		d.cand[i] = d.cand[i % 8];
	bu_with(&m, &d);
	assert_int_equal(mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, key, KEYLEN, msg, sizeof(msg)),
	                 -EMSGSIZE);
}

/* What the encoder refuses: the decoder's rules, applied to the writer too. */
static void test_invalid_desc(void **state)
{
	static struct mice_ice d;
	uint8_t out[MICE_DESC_MAX];
	(void)state;

	mice_test_desc(&d, 2, 4);
	snprintf(d.ufrag, sizeof(d.ufrag), "abc");
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	d.pwd[21] = '\0';
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	d.ufrag[1] = ':';
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	d.n_cands = 0;
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	d.cand[1].foundation[0] = '\0';
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	d.cand[0].component = 0;
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	d.cand[0].type = 4;
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	snprintf(d.options, sizeof(d.options), "a  b");
	assert_int_equal(mice_ice_encode(&d, out, sizeof(out)), -EINVAL);
	mice_test_desc(&d, 2, 4);
	assert_int_equal(mice_ice_encode(&d, out, 20), -EMSGSIZE);
}

/* A length field of the description, by offset and width. */
struct lenfield {
	char name[32];
	size_t off;
	unsigned width; /* 1 or 2 bytes */
	unsigned shift; /* the field's lowest bit within them */
	unsigned bits;
};

static size_t desc_fields(const uint8_t *p, size_t len, struct lenfield *f)
{
	size_t n = 0, at;

	f[n++] = (struct lenfield){"n_cands", 0, 1, 0, 8};
	f[n++] = (struct lenfield){"pwd_len", 2, 2, 0, 16};
	f[n++] = (struct lenfield){"ufrag_len", 4, 2, 0, 16};
	f[n++] = (struct lenfield){"options_len", 6, 2, 0, 16};
	at = MICE_DESC_HDR + peek_u16(p + 2) + peek_u16(p + 4) + peek_u16(p + 6);
	for (unsigned i = 0; at < len; i++) {
		snprintf(f[n].name, sizeof(f[n].name), "cand%u.length", i);
		f[n].off = at, f[n].width = 2, f[n].shift = 0, f[n++].bits = 12;
		snprintf(f[n].name, sizeof(f[n].name), "cand%u.ver", i);
		f[n].off = at, f[n].width = 2, f[n].shift = 12, f[n++].bits = 4;
		snprintf(f[n].name, sizeof(f[n].name), "cand%u.rel_ver", i);
		f[n].off = at + 5, f[n].width = 1, f[n].shift = 4, f[n++].bits = 4;
		snprintf(f[n].name, sizeof(f[n].name), "cand%u.fnd_len", i);
		f[n].off = at + 6, f[n].width = 1, f[n].shift = 0, f[n++].bits = 8;
		at += peek_u16(p + at) & 0xfff;
	}
	return n;
}

static unsigned field_get(const uint8_t *p, const struct lenfield *f)
{
	unsigned v = f->width == 1 ? p[f->off] : peek_u16(p + f->off);

	return v >> f->shift & ((1u << f->bits) - 1);
}

static void field_set(uint8_t *p, const struct lenfield *f, unsigned v)
{
	unsigned mask = ((1u << f->bits) - 1) << f->shift;
	unsigned old = f->width == 1 ? p[f->off] : peek_u16(p + f->off);
	unsigned nv = (old & ~mask) | (v << f->shift & mask);

	if (f->width == 1)
		p[f->off] = (uint8_t)nv;
	else
		put_u16(p + f->off, (uint16_t)nv);
}

/* Every length field of a description with both families, each wrong in every way tried. */
static void test_malformed_lengths(void **state)
{
	static struct mice_ice d, back;
	uint8_t desc[MICE_DESC_MAX], bad[MICE_DESC_MAX];
	struct lenfield f[4 + 4 * 8];
	size_t nf;
	int len;

	(void)state;
	mice_test_desc(&d, 8, 4);
	for (unsigned i = 4; i < 8; i++) { /* half IPv6, crossing families with related */
		struct mice_ice d6;

		mice_test_desc(&d6, 8, 6);
		d.cand[i] = d6.cand[i];
	}
	len = mice_ice_encode(&d, desc, sizeof(desc));
	assert_true(len > 0);
	nf = desc_fields(desc, (size_t)len, f);
	assert_int_equal(nf, 4 + 4 * 8);
	for (size_t i = 0; i < nf; i++) {
		unsigned v = field_get(desc, &f[i]), max = (1u << f[i].bits) - 1;
		unsigned tries[] = {v + 1, v - 1, 0, max, v + 4, v ^ 2};

		for (size_t t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
			unsigned nv = tries[t] & max;

			if (nv == v)
				continue;
			memcpy(bad, desc, (size_t)len);
			field_set(bad, &f[i], nv);
			if (mice_ice_decode(&back, bad, (size_t)len) != -EBADMSG)
				fail_msg("%s: %u -> %u accepted", f[i].name, v, nv);
		}
	}
	/* A NUL inside a string must not shorten it (found by fuzz_mice_option). */
	for (size_t at = MICE_DESC_HDR; at < MICE_DESC_HDR + 22 + 4; at++) {
		memcpy(bad, desc, (size_t)len);
		bad[at] = '\0';
		assert_int_equal(mice_ice_decode(&back, bad, (size_t)len), -EBADMSG);
	}
	/* Every truncation, and one byte too many. */
	for (int l = 0; l < len; l++)
		assert_int_equal(mice_ice_decode(&back, desc, (size_t)l), -EBADMSG);
	desc[len] = 0;
	assert_int_equal(mice_ice_decode(&back, desc, (size_t)len + 1), -EBADMSG);
}

static void fix_csum(uint8_t *p, size_t len)
{
	put_u16(p + 4, 0);
	put_u16(p + 4, mice_mh_csum(p, len));
}

static bool ice_or_auth(const uint8_t *opt)
{
	return opt[0] == MH_OPT_AUTH || (opt[0] == MICE_OPT_EXPERIMENTAL && opt[2] == MICE_SUB_ICE);
}

/* The Mobility Header's own lengths: Header Len, each option's, fragment index and total. */
static void test_malformed_mh(void **state)
{
	static struct mice_ice d;
	static struct mice_mh m, p;
	uint8_t msg[MH_MAX_LEN], bad[MH_MAX_LEN];
	int len;
	unsigned nopts = 0;

	(void)state;
	mice_test_desc(&d, 8, 6);
	memset(d.pwd, 'P', 200);
	bu_with(&m, &d);
	len = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, key, KEYLEN, msg, sizeof(msg));
	assert_true(len > 0);
	for (int hl = 0; hl < 256; hl++) {
		if (hl == msg[1])
			continue;
		memcpy(bad, msg, (size_t)len);
		bad[1] = (uint8_t)hl;
		fix_csum(bad, (size_t)len);
		assert_int_equal(mice_mh_parse(&p, bad, (size_t)len, MICE_OPT_EXPERIMENTAL),
		                 -EBADMSG);
	}
	for (size_t at = MH_HDR_LEN + MH_BODY_LEN; at < (size_t)len;) {
		uint8_t t = msg[at], l = msg[at + 1];

		if (t == MH_OPT_PAD1) {
			at++;
			continue;
		}
		for (int nl = 0; nl < 256; nl++) {
			int rc;

			if (nl == l)
				continue;
			memcpy(bad, msg, (size_t)len);
			bad[at + 1] = (uint8_t)nl;
			fix_csum(bad, (size_t)len);
			rc = mice_mh_parse(&p, bad, (size_t)len, MICE_OPT_EXPERIMENTAL);
			/* A PadN or an address option whose length changes may leave
			 * options that parse (a 4-byte home address, a PadN that
			 * swallows what follows): the message then is not what was
			 * signed. The ICE and authentication options refuse outright. */
			if (!ice_or_auth(msg + at) && rc == 0)
				assert_false(mice_mh_auth_ok(&p, bad, (size_t)len, key, KEYLEN));
			else if (rc != -EBADMSG)
				fail_msg("option %u at %zu: length %u -> %d accepted", t, at, l,
				         nl);
		}
		if (t == MICE_OPT_EXPERIMENTAL && msg[at + 2] == MICE_SUB_ICE) {
			for (int x = 0; x < 256; x++) {
				if (x == msg[at + 3])
					continue;
				memcpy(bad, msg, (size_t)len);
				bad[at + 3] = (uint8_t)x;
				fix_csum(bad, (size_t)len);
				assert_int_equal(
				        mice_mh_parse(&p, bad, (size_t)len, MICE_OPT_EXPERIMENTAL),
				        -EBADMSG);
			}
		}
		nopts++;
		at += 2 + (size_t)l;
	}
	assert_true(nopts >= 6); /* home, peer, >= 3 fragments, auth */
	for (int l = 0; l < len; l++)
		assert_int_equal(mice_mh_parse(&p, msg, (size_t)l, MICE_OPT_EXPERIMENTAL),
		                 -EBADMSG);
}

/* A flipped bit anywhere fails the checksum; a re-checksummed one fails the MAC. */
static void test_auth(void **state)
{
	static struct mice_ice d;
	static struct mice_mh m, p;
	uint8_t msg[MH_MAX_LEN];
	static const uint8_t other[] = "another-key-of-some-length";
	int len;

	(void)state;
	mice_test_desc(&d, 2, 4);
	bu_with(&m, &d);
	len = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, key, KEYLEN, msg, sizeof(msg));
	assert_int_equal(mice_mh_parse(&p, msg, (size_t)len, MICE_OPT_EXPERIMENTAL), 0);
	assert_true(mice_mh_auth_ok(&p, msg, (size_t)len, key, KEYLEN));
	assert_false(mice_mh_auth_ok(&p, msg, (size_t)len, other, sizeof(other) - 1));
	for (int i = 0; i < len; i++) {
		if (i == 1)
			continue; /* Header Len: a length error, covered above */
		msg[i] ^= 0x10;
		assert_int_equal(mice_mh_parse(&p, msg, (size_t)len, MICE_OPT_EXPERIMENTAL),
		                 -EBADMSG);
		fix_csum(msg, (size_t)len);
		/* (A flipped checksum byte is simply rewritten: not a change.) */
		if (i != 4 && i != 5 &&
		    mice_mh_parse(&p, msg, (size_t)len, MICE_OPT_EXPERIMENTAL) == 0)
			assert_false(mice_mh_auth_ok(&p, msg, (size_t)len, key, KEYLEN));
		msg[i] ^= 0x10;
		fix_csum(msg, (size_t)len);
	}
	/* Without a key: no authentication option at all. */
	len = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, NULL, 0, msg, sizeof(msg));
	assert_int_equal(mice_mh_parse(&p, msg, (size_t)len, MICE_OPT_EXPERIMENTAL), 0);
	assert_false(p.has_auth);
	assert_false(mice_mh_auth_ok(&p, msg, (size_t)len, key, KEYLEN));
	/* A configured option type other than 18 leaves the MIP-ICE options unread. */
	assert_int_equal(mice_mh_parse(&p, msg, (size_t)len, 200), 0);
	assert_false(p.has_ice);
	assert_int_equal(p.home.family, 0);
}

static void test_seq(void **state)
{
	(void)state;
	assert_true(mice_seq_newer(1, 0));
	assert_true(mice_seq_newer(0, 0xffff));
	assert_false(mice_seq_newer(5, 5));
	assert_false(mice_seq_newer(4, 5));
	assert_true(mice_seq_newer(0x7fff, 0));
	assert_false(mice_seq_newer(0x8000, 0));
}

#include "mice_example.h"

static void example_desc(struct mice_ice *d, struct mice_mh *m)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->ufrag, sizeof(d->ufrag), "mn01");
	snprintf(d->pwd, sizeof(d->pwd), "M1ceExamplePassword+22");
	d->n_cands = 2;
	d->cand[0] = (struct mice_cand){.type = MICE_CAND_HOST,
	                                .component = 1,
	                                .transport = MICE_TR_UDP,
	                                .priority = 2130706431,
	                                .foundation = "1"};
	tw_addr_parse("192.0.2.10:50000", 0, &d->cand[0].addr);
	d->cand[1] = (struct mice_cand){.type = MICE_CAND_SRFLX,
	                                .component = 1,
	                                .transport = MICE_TR_UDP,
	                                .priority = 1694498815,
	                                .foundation = "2"};
	tw_addr_parse("203.0.113.5:61000", 0, &d->cand[1].addr);
	d->cand[1].related = d->cand[0].addr;
	bu_with(m, d);
	m->seq = 0x0102;
}

/* docs/mice.md §5, byte for byte, both ways. */
static void test_worked_example(void **state)
{
	static struct mice_ice d;
	static struct mice_mh m, p;
	uint8_t msg[MH_MAX_LEN];
	int len;

	(void)state;
	example_desc(&d, &m);
	len = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, key, KEYLEN, msg, sizeof(msg));
	if (getenv("MICE_DUMP")) {
		for (int i = 0; i < len; i++)
			print_message("%02x%s", msg[i], i % 16 == 15 ? "\n" : " ");
		print_message("\n");
	}
	assert_int_equal(len, sizeof(mice_example_bu));
	assert_memory_equal(msg, mice_example_bu, sizeof(mice_example_bu));
	assert_int_equal(
	        mice_mh_parse(&p, mice_example_bu, sizeof(mice_example_bu), MICE_OPT_EXPERIMENTAL),
	        0);
	assert_true(mice_mh_auth_ok(&p, mice_example_bu, sizeof(mice_example_bu), key, KEYLEN));
	assert_desc_equal(&d, &p.ice);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_ipv4),
	        cmocka_unit_test(test_roundtrip_ipv6),
	        cmocka_unit_test(test_long_credentials),
	        cmocka_unit_test(test_invalid_desc),
	        cmocka_unit_test(test_malformed_lengths),
	        cmocka_unit_test(test_malformed_mh),
	        cmocka_unit_test(test_auth),
	        cmocka_unit_test(test_seq),
	        cmocka_unit_test(test_worked_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
