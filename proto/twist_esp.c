/*
 * RFC 4303 ESP with NULL encryption and NULL integrity, as TWIST tunnel
 * mode carries it (proto/twist_esp.h). The receiver checks everything RFC
 * 4303 lets it check without a key: alignment, the padding's contents,
 * the next header against the inner packet's version.
 */
#include <errno.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/twist.h"
#include "proto/twist_esp.h"

bool twist_spi_ok(uint32_t spi)
{
	uint8_t first = (uint8_t)(spi >> 24);

	return first >= TWIST_SPI_FIRST_MIN && first <= TWIST_SPI_FIRST_MAX;
}

uint32_t twist_spi_from(uint32_t r)
{
	/* 63 first bytes: 0xC0 + (r's top byte mod 63); the low 24 bits as they come. */
	uint32_t first =
	        TWIST_SPI_FIRST_MIN + (r >> 24) % (TWIST_SPI_FIRST_MAX - TWIST_SPI_FIRST_MIN + 1);

	return first << 24 | (r & 0xffffff);
}

size_t twist_esp_pad(size_t inner_len)
{
	return (4 - (inner_len + TWIST_ESP_TRAILER) % 4) % 4;
}

size_t twist_esp_len(size_t inner_len)
{
	return TWIST_ESP_HDR + inner_len + twist_esp_pad(inner_len) + TWIST_ESP_TRAILER;
}

static int next_header_of(const uint8_t *inner, size_t len)
{
	if (len == 0)
		return -EINVAL;
	switch (inner[0] >> 4) {
	case 4:
		return TWIST_ESP_NH_IPV4;
	case 6:
		return TWIST_ESP_NH_IPV6;
	default:
		return -EINVAL;
	}
}

int twist_esp_wrap(uint8_t *buf, size_t cap, size_t inner_len, uint32_t spi, uint32_t seq)
{
	size_t pad = twist_esp_pad(inner_len), end = TWIST_ESP_HDR + inner_len;
	int nh;

	if (cap < TWIST_ESP_HDR || inner_len > cap - TWIST_ESP_HDR ||
	    twist_esp_len(inner_len) > cap || twist_esp_len(inner_len) > INT32_MAX)
		return -EMSGSIZE;
	nh = next_header_of(buf + TWIST_ESP_HDR, inner_len);
	if (nh < 0 || !twist_spi_ok(spi))
		return -EINVAL;
	put_u32(buf, spi);
	put_u32(buf + 4, seq);
	/* RFC 4303 §2.4: the default padding is the bytes 1, 2, 3, ... */
	for (size_t i = 0; i < pad; i++)
		buf[end + i] = (uint8_t)(i + 1);
	buf[end + pad] = (uint8_t)pad;
	buf[end + pad + 1] = (uint8_t)nh;
	return (int)(end + pad + TWIST_ESP_TRAILER);
}

/* The padding before p + len - 2: its length fits and its bytes are 1, 2, 3, ... */
static int pad_check(const uint8_t *payload, size_t len, uint8_t padlen)
{
	if ((size_t)padlen + TWIST_ESP_TRAILER > len)
		return -EBADMSG;
	for (size_t i = 0; i < padlen; i++)
		if (payload[len - TWIST_ESP_TRAILER - padlen + i] != (uint8_t)(i + 1))
			return -EBADMSG;
	return 0;
}

int twist_esp_parse(const uint8_t *p, size_t len, struct twist_esp *out)
{
	struct cur c;
	const uint8_t *payload;
	size_t plen;
	uint8_t padlen;
	int v;

	cur_init(&c, p, len);
	if (cur_get_u32(&c, &out->spi) < 0 || cur_get_u32(&c, &out->seq) < 0 ||
	    cur_left(&c) < TWIST_ESP_TRAILER)
		return -EBADMSG;
	/* NULL encryption has a block size of 1, so 4-byte alignment is what
	 * RFC 4303 §2.4 asks of the payload and trailer together. */
	payload = cur_ptr(&c);
	plen = cur_left(&c);
	if (out->spi == 0 || plen % 4)
		return -EBADMSG;
	padlen = payload[plen - 2];
	out->next = payload[plen - 1];
	if (pad_check(payload, plen, padlen) < 0)
		return -EBADMSG;
	out->inner = payload;
	out->inner_len = plen - TWIST_ESP_TRAILER - padlen;
	if (out->next == TWIST_ESP_NH_NONE)
		return -ENODATA;
	v = next_header_of(out->inner, out->inner_len);
	if (v < 0 || v != out->next)
		return -EPROTONOSUPPORT;
	return 0;
}

enum twist_esp_kind twist_esp_classify(const uint8_t *p, size_t len)
{
	if (len == 0)
		return TWIST_ESP_BAD;
	if (len == 1)
		return p[0] == TWIST_KEEPALIVE_BYTE ? TWIST_ESP_KEEPALIVE : TWIST_ESP_BAD;
	if (p[0] < 0x40)
		return stun_is_msg(p, len) ? TWIST_ESP_STUN : TWIST_ESP_BAD;
	if (p[0] >= TWIST_SPI_FIRST_MIN && p[0] <= TWIST_SPI_FIRST_MAX)
		return TWIST_ESP_PKT;
	return TWIST_ESP_BAD;
}

int twist_esp_inner(const struct twist_esp *e, struct twist_ip *ip)
{
	int ret = twist_ip_parse(e->inner, e->inner_len, ip);

	if (ret < 0)
		return ret;
	if (ip->seg + ip->seg_len != e->inner + e->inner_len)
		return -EBADMSG;
	if (e->next == TWIST_ESP_NH_IPV4 &&
	    !twist_ip4_csum_ok(e->inner, (size_t)(ip->seg - e->inner)))
		return -EBADMSG;
	return 0;
}
