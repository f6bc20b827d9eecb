/* proto/demux.c: RFC 7983 §7 first-byte ranges and TCP framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/demux.h"

static void test_first_byte(void **state)
{
	static const struct {
		uint8_t lo, hi;
		enum demux_kind k;
	} ranges[] = {
	        {0, 3, DEMUX_STUN},    {4, 15, DEMUX_OTHER},    {16, 19, DEMUX_ZRTP},
	        {20, 63, DEMUX_DTLS},  {64, 79, DEMUX_CHDATA},  {80, 127, DEMUX_CHDATA_RFC5766},
	        {128, 191, DEMUX_RTP}, {192, 255, DEMUX_OTHER},
	};
	unsigned covered = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		for (unsigned b = ranges[i].lo; b <= ranges[i].hi; b++) {
			assert_int_equal(demux_first_byte((uint8_t)b), ranges[i].k);
			covered++;
		}
	}
	assert_int_equal(covered, 256);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(demux_kind_name(DEMUX_STUN), "stun");
	assert_string_equal(demux_kind_name(DEMUX_CHDATA), "chdata");
	assert_string_equal(demux_kind_name(DEMUX_CHDATA_RFC5766), "chdata_rfc5766");
	assert_string_equal(demux_kind_name(DEMUX_OTHER), "other");
}

static void test_frame_len(void **state)
{
	static const struct {
		const char *name;
		uint8_t in[4];
		size_t avail;
		long want;
	} rows[] = {
	        {"nothing", {0}, 0, -EAGAIN},
	        {"stun one byte", {0x00}, 1, -EAGAIN},
	        {"stun three bytes", {0x01, 0x01, 0x00}, 3, -EAGAIN},
	        {"stun empty body", {0x00, 0x01, 0x00, 0x00}, 4, 20},
	        {"stun 0x58", {0x00, 0x01, 0x00, 0x58}, 4, 108},
	        {"stun largest", {0x03, 0xff, 0xff, 0xfc}, 4, 20 + 65532},
	        {"chdata aligned", {0x40, 0x00, 0x00, 0x04}, 4, 8},
	        {"chdata padded", {0x40, 0x00, 0x00, 0x05}, 4, 12},
	        {"chdata empty", {0x4f, 0xff, 0x00, 0x00}, 4, 4},
	        {"chdata largest", {0x40, 0x00, 0xff, 0xff}, 4, 4 + 65536},
	        {"chdata two bytes", {0x40, 0x00}, 2, -EAGAIN},
	        {"rfc5766 channel", {0x50, 0x00, 0x00, 0x05}, 4, 12},
	        {"dtls", {0x16, 0xfe, 0xfd, 0x00}, 4, -EBADMSG},
	        {"rtp", {0x80}, 1, -EBADMSG},
	        /* 'P' is 0x50, an RFC 5766 channel: "POST" frames as 0x504f of 0x5354 bytes. */
	        {"http POST", {'P', 'O', 'S', 'T'}, 4, 4 + 0x5354},
	        {"0x80 and up", {0xff, 0x00, 0x00, 0x00}, 4, -EBADMSG},
	        /* 'G' is 0x47: "GET " frames as ChannelData 0x4745 of 0x5420 bytes. */
	        {"http GET", {'G', 'E', 'T', ' '}, 4, 4 + 0x5420},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t *p = test_malloc(rows[i].avail ? rows[i].avail : 1);

		memcpy(p, rows[i].in, rows[i].avail);
		print_message("%s\n", rows[i].name);
		assert_int_equal(demux_frame_len(p, rows[i].avail), rows[i].want);
		test_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_first_byte),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test(test_frame_len),
	};

	return cmocka_run_group_tests_name("proto/demux", tests, NULL, NULL);
}
