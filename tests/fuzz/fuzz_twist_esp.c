/*
 * libFuzzer harness for proto/twist_esp.c. Each input is taken as what a
 * tunnel-mode flow's client 5-tuple carries: classified, parsed as ESP,
 * and what parses is checked against the rules (alignment, padding,
 * next header), its inner packet parsed as the relay does, then wrapped
 * again, which must give the same bytes back.
 */
#include <errno.h>
#include <string.h>

#include "proto/twist.h"
#include "proto/twist_esp.h"

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PKT 65536

static uint8_t buf[MAX_PKT + TWIST_ESP_OVERHEAD_MAX];

static void rewrap(const uint8_t *data, size_t size, const struct twist_esp *e)
{
	int n;

	memcpy(buf + TWIST_ESP_HDR, e->inner, e->inner_len);
	n = twist_esp_wrap(buf, sizeof(buf), e->inner_len, e->spi, e->seq);
	/* The SPI of a parsed packet may be one twist never hands out. */
	if (!twist_spi_ok(e->spi)) {
		CHECK(n == -EINVAL);
		return;
	}
	CHECK(n == (int)size);
	CHECK(memcmp(buf, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct twist_esp e;
	struct twist_ip ip;
	enum twist_esp_kind k = twist_esp_classify(data, size);
	int ret;

	CHECK(k != TWIST_ESP_KEEPALIVE || (size == 1 && data[0] == 0xFF));
	CHECK(k != TWIST_ESP_PKT || (data[0] >= 0xC0 && data[0] <= 0xFE));
	if (size > MAX_PKT)
		return 0;
	ret = twist_esp_parse(data, size, &e);
	CHECK(ret == 0 || ret == -EBADMSG || ret == -ENODATA || ret == -EPROTONOSUPPORT);
	if (ret < 0)
		return 0;
	CHECK(size % 4 == 0 && e.spi != 0);
	CHECK(e.inner == data + TWIST_ESP_HDR);
	/* RFC 4303 §2.4 allows up to 255 bytes of padding; twist sends the least. */
	CHECK(TWIST_ESP_HDR + e.inner_len + data[size - 2] + TWIST_ESP_TRAILER == size);
	CHECK(e.next == TWIST_ESP_NH_IPV4 || e.next == TWIST_ESP_NH_IPV6);
	CHECK((e.inner[0] >> 4) == (e.next == TWIST_ESP_NH_IPV4 ? 4 : 6));
	if (twist_ip_parse(e.inner, e.inner_len, &ip) == 0)
		CHECK(ip.seg >= e.inner && ip.seg + ip.seg_len <= e.inner + e.inner_len);
	if (twist_esp_len(e.inner_len) == size)
		rewrap(data, size, &e);
	return 0;
}
