/* proto/chdata.c: ChannelData over datagrams and streams (RFC 8656 §12.4, §12.5). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/chdata.h"

/* clang-format off */
static const struct {
	const char *name;
	uint8_t in[16];
	size_t len;
	bool stream;
	int rc;
	uint16_t chan;
	size_t dlen, consumed;
} rows[] = {
	{"dgram 4 bytes", {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, 8, false, 0, 0x4000, 4, 8},
	{"dgram empty payload", {0x4f, 0xff, 0x00, 0x00}, 4, false, 0, 0x4fff, 0, 4},
	{"dgram padding allowed", {0x40, 0x01, 0x00, 0x01, 9, 0, 0, 0}, 8, false, 0, 0x4001, 1, 5},
	{"dgram no padding needed", {0x40, 0x01, 0x00, 0x01, 9}, 5, false, 0, 0x4001, 1, 5},
	{"dgram shorter than length", {0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4}, 8, false, -EBADMSG,
	 0, 0, 0},
	{"dgram header cut", {0x40, 0x00, 0x00}, 3, false, -EBADMSG, 0, 0, 0},
	{"dgram empty", {0}, 0, false, -EBADMSG, 0, 0, 0},
	{"dgram channel 0x3fff", {0x3f, 0xff, 0x00, 0x00}, 4, false, -EBADMSG, 0, 0, 0},
	/* RFC 5766 numbers frame the same; chan_valid() is what refuses them */
	{"dgram channel 0x5000", {0x50, 0x00, 0x00, 0x00}, 4, false, 0, 0x5000, 0, 4},
	{"dgram channel 0x7fff", {0x7f, 0xff, 0x00, 0x00}, 4, false, 0, 0x7fff, 0, 4},
	{"dgram channel 0x8000", {0x80, 0x00, 0x00, 0x00}, 4, false, -EBADMSG, 0, 0, 0},
	{"dgram STUN", {0x00, 0x01, 0x00, 0x00}, 4, false, -EBADMSG, 0, 0, 0},
	{"stream padded", {0x40, 0x00, 0x00, 0x01, 7, 0, 0, 0}, 8, true, 0, 0x4000, 1, 8},
	{"stream padding missing", {0x40, 0x00, 0x00, 0x01, 7}, 5, true, -EAGAIN, 0, 0, 0},
	{"stream padding partly there", {0x40, 0x00, 0x00, 0x02, 7, 7, 0}, 7, true, -EAGAIN, 0, 0, 0},
	{"stream aligned", {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0x40}, 9, true, 0, 0x4000, 4, 8},
	{"stream next frame follows", {0x40, 0x02, 0x00, 0x03, 1, 2, 3, 0, 0x40, 0x02}, 10, true,
	 0, 0x4002, 3, 8},
	{"stream empty", {0}, 0, true, -EAGAIN, 0, 0, 0},
	{"stream one byte", {0x40}, 1, true, -EAGAIN, 0, 0, 0},
	{"stream three bytes", {0x4f, 0xff, 0x00}, 3, true, -EAGAIN, 0, 0, 0},
	{"stream channel 0x8000, even short", {0x80}, 1, true, -EBADMSG, 0, 0, 0},
	{"stream channel 0x3fff", {0x3f, 0xff, 0, 0}, 4, true, -EBADMSG, 0, 0, 0},
	{"stream payload cut", {0x40, 0x00, 0x00, 0x08, 1, 2, 3, 4}, 8, true, -EAGAIN, 0, 0, 0},
};
/* clang-format on */

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint16_t chan = 0xdead;
		const uint8_t *data = NULL;
		size_t dlen = 99, consumed = 99;
		uint8_t *p = test_malloc(rows[i].len ? rows[i].len : 1);
		int rc;

		/* An exact-size copy, so an over-read trips ASan. */
		memcpy(p, rows[i].in, rows[i].len);
		print_message("%s\n", rows[i].name);
		rc = chdata_parse(p, rows[i].len, rows[i].stream, &chan, &data, &dlen, &consumed);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 0) {
			assert_int_equal(chan, rows[i].chan);
			assert_int_equal(dlen, rows[i].dlen);
			assert_int_equal(consumed, rows[i].consumed);
			assert_ptr_equal(data, p + CHDATA_HDR_LEN);
			assert_true(consumed <= rows[i].len);
		}
		test_free(p);
	}
}

static void test_hdr_write(void **state)
{
	uint8_t buf[8] = {0};
	uint16_t chan;
	const uint8_t *data;
	size_t dlen, consumed;

	(void)state;
	chdata_hdr_write(buf, 0x4abc, 4);
	assert_int_equal(buf[0], 0x4a);
	assert_int_equal(buf[1], 0xbc);
	assert_int_equal(buf[2], 0x00);
	assert_int_equal(buf[3], 0x04);
	assert_int_equal(chdata_parse(buf, sizeof(buf), true, &chan, &data, &dlen, &consumed), 0);
	assert_int_equal(chan, 0x4abc);
	assert_int_equal(dlen, 4);
}

static void test_helpers(void **state)
{
	(void)state;
	assert_false(chan_valid(0x3fff));
	assert_true(chan_valid(0x4000));
	assert_true(chan_valid(0x4fff));
	assert_false(chan_valid(0x5000));
	assert_true(chan_valid_rfc5766(0x5000));
	assert_true(chan_valid_rfc5766(0x7fff));
	assert_false(chan_valid_rfc5766(0x8000));
	assert_false(chan_valid_rfc5766(0x3fff));
	assert_false(chan_valid(0xffff));
	assert_false(chan_valid_rfc5766(0x3fff));
	assert_true(chan_valid_rfc5766(0x4000));
	assert_true(chan_valid_rfc5766(0x5000));
	assert_true(chan_valid_rfc5766(0x7fff));
	assert_false(chan_valid_rfc5766(0x8000));
	for (size_t n = 0; n < 16; n++) {
		assert_int_equal(chdata_pad(n, false), 0);
		assert_int_equal((n + chdata_pad(n, true)) % 4, 0);
		assert_true(chdata_pad(n, true) < 4);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_table),
	        cmocka_unit_test(test_hdr_write),
	        cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests_name("proto/chdata", tests, NULL, NULL);
}
