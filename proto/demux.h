/* First-byte demultiplexing (RFC 7983 §7) and stream framing. */
#ifndef TWIST_PROTO_DEMUX_H
#define TWIST_PROTO_DEMUX_H

#include <stddef.h>
#include <stdint.h>

enum demux_kind {
	DEMUX_STUN,           /* 0..3 */
	DEMUX_ZRTP,           /* 16..19 */
	DEMUX_DTLS,           /* 20..63 */
	DEMUX_CHDATA,         /* 64..79: TURN ChannelData */
	DEMUX_CHDATA_RFC5766, /* 80..127: RFC 5766 channels RFC 8656 reserved */
	DEMUX_RTP,            /* 128..191 */
	DEMUX_OTHER,
};

enum demux_kind demux_first_byte(uint8_t b);
const char *demux_kind_name(enum demux_kind k);

/*
 * Over TCP, the length of the frame starting at buf: a STUN message
 * (20 + length) or a ChannelData message padded to 4 bytes (either range).
 * Returns the frame length, -EAGAIN if fewer than 4 bytes are there, or
 * -EBADMSG if the first byte is neither.
 */
long demux_frame_len(const uint8_t *buf, size_t avail);

#endif
