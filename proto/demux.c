/* First-byte demultiplexing (RFC 7983 §7) and TCP framing (RFC 8656 §12.5). */
#include <errno.h>

#include "proto/chdata.h"
#include "proto/cursor.h"
#include "proto/demux.h"
#include "proto/stun.h"

enum demux_kind demux_first_byte(uint8_t b)
{
	if (b <= 3)
		return DEMUX_STUN;
	if (b >= 16 && b <= 19)
		return DEMUX_ZRTP;
	if (b >= 20 && b <= 63)
		return DEMUX_DTLS;
	if (b >= 64 && b <= 79)
		return DEMUX_CHDATA;
	if (b >= 80 && b <= 127)
		return DEMUX_CHDATA_RFC5766;
	if (b >= 128 && b <= 191)
		return DEMUX_RTP;
	return DEMUX_OTHER;
}

const char *demux_kind_name(enum demux_kind k)
{
	switch (k) {
	case DEMUX_STUN:
		return "stun";
	case DEMUX_ZRTP:
		return "zrtp";
	case DEMUX_DTLS:
		return "dtls";
	case DEMUX_CHDATA:
		return "chdata";
	case DEMUX_CHDATA_RFC5766:
		return "chdata_rfc5766";
	case DEMUX_RTP:
		return "rtp";
	case DEMUX_OTHER:
		return "other";
	}
	return "?";
}

long demux_frame_len(const uint8_t *buf, size_t avail)
{
	struct cur c;
	uint8_t first;
	uint16_t len;
	enum demux_kind k;

	cur_init(&c, buf, avail);
	if (cur_get_u8(&c, &first) < 0)
		return -EAGAIN;
	k = demux_first_byte(first);
	/* Garbage is refused as soon as its first byte is in. */
	if (k != DEMUX_STUN && k != DEMUX_CHDATA && k != DEMUX_CHDATA_RFC5766)
		return -EBADMSG;
	if (cur_skip(&c, 1) < 0 || cur_get_u16(&c, &len) < 0)
		return -EAGAIN;
	if (k == DEMUX_STUN)
		return STUN_HDR_LEN + (long)len;
	return CHDATA_HDR_LEN + (long)len + (long)chdata_pad(len, true);
}
