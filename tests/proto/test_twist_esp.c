/*
 * proto/twist_esp.c: tunnel mode's ESP (RFC 4303, NULL/NULL). The vectors
 * are those of docs/twist-protocol.md §9.6, built by
 * tests/fuzz/gen_twist_esp_seeds.py from RFC 4303's layout apart from this
 * codec; twist_vectors_doc checks that the three copies agree.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/twist.h"
#include "proto/twist_esp.h"

/* clang-format off */
static const uint8_t v_esp_udp4[] = {
	0xc0, 0xde, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x45, 0x00, 0x00, 0x21,
	0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xd3, 0xcd, 0xcb, 0x00, 0x71, 0xc8,
	0xc6, 0x33, 0x64, 0x02, 0xc3, 0x50, 0x00, 0x07, 0x00, 0x0d, 0x83, 0x92,
	0x74, 0x77, 0x69, 0x73, 0x74, 0x01, 0x01, 0x04,
};
static const uint8_t v_esp_tcp4[] = {
	0xc0, 0xde, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x45, 0x00, 0x00, 0x2c,
	0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xd3, 0xcd, 0xcb, 0x00, 0x71, 0xc8,
	0xc6, 0x33, 0x64, 0x02, 0xc3, 0x50, 0x1f, 0x90, 0x12, 0x34, 0x56, 0x78,
	0x00, 0x00, 0x00, 0x00, 0x60, 0x02, 0xfa, 0xf0, 0xeb, 0x0d, 0x00, 0x00,
	0x02, 0x04, 0x05, 0x50, 0x01, 0x02, 0x02, 0x04,
};
static const uint8_t v_esp_tcp6[] = {
	0xfe, 0x00, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0x60, 0x00, 0x00, 0x00,
	0x00, 0x14, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x03, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
	0x1f, 0x91, 0xc3, 0x51, 0x0a, 0x0b, 0x0c, 0x0d, 0x12, 0x34, 0x56, 0x79,
	0x50, 0x12, 0xff, 0xff, 0xf0, 0xaf, 0x00, 0x00, 0x01, 0x02, 0x02, 0x29,
};
/* clang-format on */

struct vec {
	const uint8_t *esp;
	size_t len;
	uint32_t spi, seq;
	uint8_t next;
	size_t inner_len;
};

static const struct vec vecs[] = {
        {v_esp_udp4, sizeof(v_esp_udp4), 0xC0DE0001, 1, TWIST_ESP_NH_IPV4, 33},
        {v_esp_tcp4, sizeof(v_esp_tcp4), 0xC0DE0001, 2, TWIST_ESP_NH_IPV4, 44},
        {v_esp_tcp6, sizeof(v_esp_tcp6), 0xFE000002, 0xFFFFFFFF, TWIST_ESP_NH_IPV6, 60},
};

static void wrap_gives_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		uint8_t buf[128];

		memset(buf, 0xAA, sizeof(buf));
		memcpy(buf + TWIST_ESP_HDR, v->esp + TWIST_ESP_HDR, v->inner_len);
		assert_int_equal(twist_esp_len(v->inner_len), v->len);
		assert_int_equal(twist_esp_wrap(buf, sizeof(buf), v->inner_len, v->spi, v->seq),
		                 (int)v->len);
		assert_memory_equal(buf, v->esp, v->len);
	}
}

static void parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		struct twist_esp e;

		assert_int_equal(twist_esp_parse(v->esp, v->len, &e), 0);
		assert_int_equal(e.spi, v->spi);
		assert_int_equal(e.seq, v->seq);
		assert_int_equal(e.next, v->next);
		assert_int_equal(e.inner_len, v->inner_len);
		assert_ptr_equal(e.inner, v->esp + TWIST_ESP_HDR);
		assert_int_equal(twist_esp_classify(v->esp, v->len), TWIST_ESP_PKT);
	}
}

/* Every inner length lands on 4-byte alignment with the 1, 2, 3 pattern. */
static void padding_round_trip(void **state)
{
	uint8_t buf[TWIST_ESP_OVERHEAD_MAX + 64];
	struct twist_esp e;

	(void)state;
	for (size_t n = 20; n < 64; n++) {
		size_t pad = twist_esp_pad(n);
		int len;

		memset(buf, 0, sizeof(buf));
		buf[TWIST_ESP_HDR] = 0x45;
		len = twist_esp_wrap(buf, sizeof(buf), n, 0xC0000001, (uint32_t)n);
		assert_int_equal(len, (int)(TWIST_ESP_HDR + n + pad + TWIST_ESP_TRAILER));
		assert_int_equal(len % 4, 0);
		assert_true(pad <= 3);
		for (size_t i = 0; i < pad; i++)
			assert_int_equal(buf[TWIST_ESP_HDR + n + i], i + 1);
		assert_int_equal(twist_esp_parse(buf, (size_t)len, &e), 0);
		assert_int_equal(e.inner_len, n);
		assert_int_equal(e.seq, n);
	}
}

/* RFC 4303 §2.4: padding beyond alignment (up to 255 bytes) is allowed in. */
static void parse_long_padding(void **state)
{
	uint8_t buf[sizeof(v_esp_udp4) + 4];
	struct twist_esp e;
	size_t n = sizeof(v_esp_udp4);

	(void)state;
	memcpy(buf, v_esp_udp4, n - 2);
	memcpy(buf + n - 2, (const uint8_t[]){2, 3, 4, 5, 5, TWIST_ESP_NH_IPV4}, 6);
	assert_int_equal(twist_esp_parse(buf, sizeof(buf), &e), 0);
	assert_int_equal(e.inner_len, 33);
}

static void wrap_refuses(void **state)
{
	uint8_t buf[64] = {0};

	(void)state;
	buf[TWIST_ESP_HDR] = 0x45;
	/* 33 bytes want 44: one byte short. */
	assert_int_equal(twist_esp_wrap(buf, 43, 33, 0xC0000001, 1), -EMSGSIZE);
	assert_int_equal(twist_esp_wrap(buf, 4, 0, 0xC0000001, 1), -EMSGSIZE);
	assert_int_equal(twist_esp_wrap(buf, sizeof(buf), 100, 0xC0000001, 1), -EMSGSIZE);
	assert_int_equal(twist_esp_wrap(buf, sizeof(buf), 0, 0xC0000001, 1), -EINVAL);
	assert_int_equal(twist_esp_wrap(buf, sizeof(buf), 20, 0, 1), -EINVAL);
	assert_int_equal(twist_esp_wrap(buf, sizeof(buf), 20, 0xFF000001, 1), -EINVAL);
	buf[TWIST_ESP_HDR] = 0x55; /* version 5 */
	assert_int_equal(twist_esp_wrap(buf, sizeof(buf), 20, 0xC0000001, 1), -EINVAL);
}

/* A copy of v_esp_udp4 with one change, parsed. */
static int parse_changed(size_t at, uint8_t val, size_t len)
{
	uint8_t buf[sizeof(v_esp_udp4)];
	struct twist_esp e;

	memcpy(buf, v_esp_udp4, sizeof(buf));
	if (at < sizeof(buf))
		buf[at] = val;
	return twist_esp_parse(buf, len, &e);
}

static void parse_refuses(void **state)
{
	size_t n = sizeof(v_esp_udp4);
	struct twist_esp e;

	(void)state;
	/* Every truncation fails: alignment, then the trailer that is not there. */
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(twist_esp_parse(v_esp_udp4, len, &e), 0);
	/* SPI 0 (the RFC 3948 non-ESP marker) */
	{
		uint8_t buf[sizeof(v_esp_udp4)];

		memcpy(buf, v_esp_udp4, n);
		memset(buf, 0, 4);
		assert_int_equal(twist_esp_parse(buf, n, &e), -EBADMSG);
	}
	assert_int_equal(parse_changed(n - 3, 0x02, n), -EBADMSG); /* pad byte not 1 */
	assert_int_equal(parse_changed(n - 2, 40, n), -EBADMSG);   /* pad longer than payload */
	assert_int_equal(parse_changed(n - 2, 5, n), -EBADMSG);    /* pattern breaks */
	assert_int_equal(parse_changed(n - 1, TWIST_ESP_NH_NONE, n), -ENODATA);
	assert_int_equal(parse_changed(n - 1, 17, n), -EPROTONOSUPPORT);
	assert_int_equal(parse_changed(n - 1, TWIST_ESP_NH_IPV6, n), -EPROTONOSUPPORT);
	assert_int_equal(parse_changed(8, 0x65, n), -EPROTONOSUPPORT); /* says 6, NH says 4 */
}

static void spi_range(void **state)
{
	static const uint32_t r[] = {0,          1,          0x3FFFFFFF, 0xBFFFFFFF,
	                             0xFF000000, 0xFFFFFFFF, 0x12345678};

	(void)state;
	assert_false(twist_spi_ok(0));
	assert_false(twist_spi_ok(0x000000FF));
	assert_false(twist_spi_ok(0xBFFFFFFF));
	assert_false(twist_spi_ok(0xFF000001));
	assert_true(twist_spi_ok(0xC0000000));
	assert_true(twist_spi_ok(0xFEFFFFFF));
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		assert_true(twist_spi_ok(twist_spi_from(r[i])));
}

static void classify(void **state)
{
	uint8_t stun[STUN_HDR_LEN] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	static const uint8_t marker[12] = {0, 0, 0, 0, 1};
	static const uint8_t ka = TWIST_KEEPALIVE_BYTE, bad1 = 0xC0;
	static const uint8_t seg[8] = {0x9c, 0x40, 0x00, 0x07}; /* port 40000 */

	(void)state;
	assert_int_equal(twist_esp_classify(&ka, 1), TWIST_ESP_KEEPALIVE);
	assert_int_equal(twist_esp_classify(&bad1, 1), TWIST_ESP_BAD);
	assert_int_equal(twist_esp_classify(&ka, 0), TWIST_ESP_BAD);
	assert_int_equal(twist_esp_classify(stun, sizeof(stun)), TWIST_ESP_STUN);
	assert_int_equal(twist_esp_classify(marker, sizeof(marker)), TWIST_ESP_BAD);
	/* First bytes 0x40-0xBF are nothing on a tunnel-mode flow. */
	assert_int_equal(twist_esp_classify(seg, sizeof(seg)), TWIST_ESP_BAD);
	assert_int_equal(twist_esp_classify(v_esp_tcp6, 9), TWIST_ESP_PKT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(wrap_gives_vectors), cmocka_unit_test(parse_vectors),
	        cmocka_unit_test(padding_round_trip), cmocka_unit_test(parse_long_padding),
	        cmocka_unit_test(wrap_refuses),       cmocka_unit_test(parse_refuses),
	        cmocka_unit_test(spi_range),          cmocka_unit_test(classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
