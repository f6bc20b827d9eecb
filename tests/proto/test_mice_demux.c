/*
 * proto/mice_demux.c (draft-tschofenig-mip6-ice-01 §12): STUN is taken only
 * with a valid FINGERPRINT last; a Binding Update whose checksum and
 * sequence number spell the magic cookie, with the length field matching
 * too, still goes to the mobility handler.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/cursor.h"
#include "proto/mice_demux.h"
#include "proto/mice_mh.h"
#include "proto/stun.h"

static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static size_t binding(uint8_t *buf, size_t cap, bool fp, bool after)
{
	struct stun_wr w;

	stun_wr_init(&w, buf, cap, STUN_BINDING, STUN_REQUEST, tid);
	stun_wr_attr(&w, STUN_A_SOFTWARE, "mice test", 9);
	if (fp)
		stun_wr_fingerprint(&w);
	if (after)
		stun_wr_u32(&w, STUN_A_PRIORITY, 1);
	return (size_t)stun_wr_finish(&w);
}

static void test_stun(void **state)
{
	uint8_t buf[256];
	size_t len;

	(void)state;
	len = binding(buf, sizeof(buf), true, false);
	assert_int_equal(mice_demux(buf, len), MICE_DEMUX_STUN);
	/* Every truncation is not STUN. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(mice_demux(buf, l), MICE_DEMUX_MOBILITY);
	/* Without FINGERPRINT, and with an attribute after it. */
	len = binding(buf, sizeof(buf), false, false);
	assert_int_equal(mice_demux(buf, len), MICE_DEMUX_MOBILITY);
	len = binding(buf, sizeof(buf), true, true);
	assert_int_equal(mice_demux(buf, len), MICE_DEMUX_MOBILITY);
}

/* A wrong CRC, a wrong cookie, the top bits, a length field off by 4. */
static void test_stun_spoiled(void **state)
{
	static const struct {
		const char *name;
		size_t off;
		uint8_t xor ;
	} rows[] = {
	        {"fingerprint crc", 0, 0x01}, /* off 0 here: the last byte */
	        {"cookie", 4, 0x01},          {"top bit", 0, 0x80}, {"second bit", 0, 0x40},
	        {"length", 3, 0x04},          {"body", 24, 0x01},
	};
	uint8_t buf[256];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		len = binding(buf, sizeof(buf), true, false);
		buf[i == 0 ? len - 1 : rows[i].off] ^= rows[i].xor ;
		if (mice_demux(buf, len) != MICE_DEMUX_MOBILITY)
			fail_msg("%s: taken as STUN", rows[i].name);
	}
}

/*
 * A valid Binding Update of 1304 bytes: MH type 5 and Reserved 4 read as
 * STUN length 0x0504 = 1304 - 20, the checksum is 0x2112 and the sequence
 * number 0xA442, so bytes 4..7 are the magic cookie; its last 8 bytes even
 * look like a FINGERPRINT attribute's header. PadN content (ignored by a
 * receiver, RFC 6275 §6.2.3) steers the checksum.
 */
static size_t crafted_bu(uint8_t *p)
{
	/* PadN options after the fixed fields: 12 + 1292 bytes, the last one
	 * ending with what looks like a FINGERPRINT attribute's header. */
	static const size_t pads[] = {257, 257, 257, 257, 250, 14};
	size_t len = 1304, at = 12;

	memset(p, 0, len);
	p[0] = MH_PROTO_NONE;
	p[1] = (uint8_t)(len / 8 - 1);
	p[2] = MH_TYPE_BU;
	p[3] = 4;
	put_u16(p + 6, 0xA442);
	put_u16(p + 8, MH_BU_A | MH_BU_H);
	put_u16(p + 10, 10);
	for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		p[at] = MH_OPT_PADN;
		p[at + 1] = (uint8_t)(pads[i] - 2);
		at += pads[i];
	}
	assert_int_equal(at, len);
	put_u16(p + len - 8, STUN_A_FINGERPRINT);
	put_u16(p + len - 6, 4);
	/* The checksum field says 0x2112; a word of pad content makes it right. */
	put_u16(p + 4, 0x2112);
	put_u16(p + 20, mice_mh_csum(p, len));
	assert_int_equal(mice_mh_csum(p, len), 0);
	return len;
}

static void test_cookie_spelling_bu(void **state)
{
	static uint8_t p[1304];
	static struct mice_mh m;
	size_t len = crafted_bu(p);

	(void)state;
	assert_int_equal(peek_u32(p + 4), STUN_MAGIC);
	assert_int_equal(peek_u16(p + 2) + STUN_HDR_LEN, len);
	assert_int_equal(p[0] & 0xc0, 0);
	/* It is a valid Binding Update ... */
	assert_int_equal(mice_mh_parse(&m, p, len, MICE_OPT_EXPERIMENTAL), 0);
	assert_int_equal(m.seq, 0xA442);
	/* ... and the demux gives it to the mobility handler. */
	assert_int_equal(mice_demux(p, len), MICE_DEMUX_MOBILITY);
}

/* What a Mobility Header always is: never STUN, whatever its size. */
static void test_plain_bu(void **state)
{
	static struct mice_mh m;
	uint8_t msg[MH_MAX_LEN];
	int len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = MH_TYPE_BU;
	m.seq = 1;
	m.bu_flags = MH_BU_A;
	len = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, NULL, 0, msg, sizeof(msg));
	assert_true(len > 0);
	assert_int_equal(mice_demux(msg, (size_t)len), MICE_DEMUX_MOBILITY);
	assert_int_equal(mice_demux(msg, 0), MICE_DEMUX_MOBILITY);
	assert_string_equal(mice_demux_name(MICE_DEMUX_STUN), "stun");
	assert_string_equal(mice_demux_name(MICE_DEMUX_MOBILITY), "mobility");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_stun),
	        cmocka_unit_test(test_stun_spoiled),
	        cmocka_unit_test(test_cookie_spelling_bu),
	        cmocka_unit_test(test_plain_bu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
