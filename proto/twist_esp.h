/*
 * TWIST tunnel mode (docs/twist-protocol.md "Tunnel mode"): the whole IP
 * packet between the relayed address and the peer, in RFC 4303 ESP with
 * NULL encryption (RFC 2410) and NULL integrity, inside the flow's UDP
 * 5-tuple as RFC 3948 puts ESP in UDP. No I/O.
 *
 *   SPI (4) | sequence number (4) | inner IP packet | padding 1,2,3.. |
 *   pad length (1) | next header (1)          -- no ICV (NULL integrity)
 *
 * The SPI's first byte is 0xC0-0xFE, so a tunnel-mode flow's datagrams are
 * told apart by their first byte alone: STUN 0x00-0x03, the RFC 3948
 * non-ESP marker 0x00, the keepalive a lone 0xFF, ESP 0xC0-0xFE.
 */
#ifndef TWIST_PROTO_TWIST_ESP_H
#define TWIST_PROTO_TWIST_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TWIST_ESP_HDR     8 /* SPI, sequence number */
#define TWIST_ESP_TRAILER 2 /* pad length, next header */
/* Header, at most 3 bytes of padding for 4-byte alignment, trailer. */
#define TWIST_ESP_OVERHEAD_MAX (TWIST_ESP_HDR + 3 + TWIST_ESP_TRAILER)

#define TWIST_ESP_NH_IPV4 4  /* IP-in-IP: an IPv4 packet */
#define TWIST_ESP_NH_IPV6 41 /* an IPv6 packet */
#define TWIST_ESP_NH_NONE 59 /* RFC 4303 §2.6: a dummy packet, discarded */

/* The SPI's first byte: outside every RFC 7983 range and not 0xFF. */
#define TWIST_SPI_FIRST_MIN 0xC0
#define TWIST_SPI_FIRST_MAX 0xFE

/* True for an SPI twist may hand out (never 0, first byte 0xC0-0xFE). */
bool twist_spi_ok(uint32_t spi);
/* Any 32 random bits to an SPI that twist_spi_ok() accepts. */
uint32_t twist_spi_from(uint32_t r);

/* Bytes of padding after an inner packet of len bytes (RFC 4303 §2.4). */
size_t twist_esp_pad(size_t inner_len);
/* The ESP packet's length around an inner packet of len bytes. */
size_t twist_esp_len(size_t inner_len);

/*
 * In place: buf holds the inner IP packet at buf + TWIST_ESP_HDR, inner_len
 * bytes; the header goes in front, padding and trailer behind, within cap.
 * The next header is taken from the packet's version nibble. Returns the
 * ESP packet's length, -EMSGSIZE (cap), or -EINVAL (SPI refused, empty or
 * not IPv4/IPv6).
 */
int twist_esp_wrap(uint8_t *buf, size_t cap, size_t inner_len, uint32_t spi, uint32_t seq);

struct twist_esp {
	uint32_t spi, seq;
	uint8_t next;         /* TWIST_ESP_NH_IPV4 or _IPV6 */
	const uint8_t *inner; /* inside the datagram */
	size_t inner_len;
};

/*
 * One datagram as ESP: 0, -EBADMSG (short, not 4-byte aligned, padding
 * longer than the payload or not 1,2,3..., SPI 0), -ENODATA (a dummy
 * packet, next header 59: drop it quietly), or -EPROTONOSUPPORT (next
 * header neither 4 nor 41, or the inner version disagrees with it).
 */
int twist_esp_parse(const uint8_t *p, size_t len, struct twist_esp *out);

/*
 * The inner packet of a parsed ESP packet, as the relay takes it from a
 * client: UDP or TCP, unfragmented, its IP length exactly the inner
 * length, an IPv4 header checksum that sums right (the kernel would drop
 * it quietly after the relay counted it as sent). 0, -EBADMSG, or
 * -EPROTONOSUPPORT (neither UDP nor TCP). Addresses are the caller's to
 * check against its flow.
 */
struct twist_ip;
int twist_esp_inner(const struct twist_esp *e, struct twist_ip *ip);

/* What one datagram on a tunnel-mode flow's client 5-tuple is. */
enum twist_esp_kind {
	TWIST_ESP_KEEPALIVE, /* exactly one byte 0xFF */
	TWIST_ESP_STUN,      /* first byte 0x00-0x3F and a STUN message */
	TWIST_ESP_PKT,       /* first byte 0xC0-0xFE: ESP (still to be parsed) */
	TWIST_ESP_BAD,       /* none of these, or the non-ESP marker (twist has no IKE) */
};
enum twist_esp_kind twist_esp_classify(const uint8_t *p, size_t len);

#endif
