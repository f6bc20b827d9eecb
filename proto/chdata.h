/* TURN ChannelData framing (RFC 8656 §12.4, §12.5). */
#ifndef TWIST_PROTO_CHDATA_H
#define TWIST_PROTO_CHDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHDATA_HDR_LEN   4
#define CHAN_MIN         0x4000
#define CHAN_MAX         0x4FFF /* 0x5000..0x7FFF are reserved (RFC 8656 §12) */
#define CHAN_MAX_RFC5766 0x7FFF /* RFC 5766 allowed up to here; coturn still does */

static inline bool chan_valid(uint16_t c)
{
	return c >= CHAN_MIN && c <= CHAN_MAX;
}

/* RFC 5766's range, for clients (turnutils_uclient among them) that still use it. */
static inline bool chan_valid_rfc5766(uint16_t c)
{
	return c >= CHAN_MIN && c <= CHAN_MAX_RFC5766;
}

/*
 * Parses one ChannelData message at buf. Over datagrams (stream == false)
 * the length field must not pass len; trailing bytes (padding) are allowed.
 * Over a stream, consumed includes the padding to a multiple of 4 and the
 * whole padded frame must be present.
 * The framing is the same for every number whose top bits are 01
 * (0x4000..0x7FFF); which numbers are valid is the caller's policy
 * (chan_valid, or chan_valid_rfc5766 for old clients).
 * Returns 0, -EAGAIN (stream: need more bytes) or -EBADMSG (not ChannelData,
 * or a datagram shorter than its length).
 */
int chdata_parse(const uint8_t *buf, size_t len, bool stream, uint16_t *chan, const uint8_t **data,
                 size_t *dlen, size_t *consumed);

void chdata_hdr_write(uint8_t hdr[CHDATA_HDR_LEN], uint16_t chan, uint16_t dlen);

/* Padding bytes that follow dlen bytes of data: 0 over datagrams. */
static inline size_t chdata_pad(size_t dlen, bool stream)
{
	return stream ? (4 - (dlen & 3)) & 3 : 0;
}

#endif
