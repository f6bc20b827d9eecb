/* TURN ChannelData framing (RFC 8656 §12.4, §12.5). */
#include <errno.h>

#include "proto/chdata.h"
#include "proto/cursor.h"

int chdata_parse(const uint8_t *buf, size_t len, bool stream, uint16_t *chan, const uint8_t **data,
                 size_t *dlen, size_t *consumed)
{
	struct cur c;
	uint16_t num, n;
	size_t frame;

	if (len == 0)
		return stream ? -EAGAIN : -EBADMSG;
	/* Top bits 01: the ChannelData number space; the caller judges the number. */
	if (buf[0] < (CHAN_MIN >> 8) || buf[0] > (CHAN_MAX_RFC5766 >> 8))
		return -EBADMSG;
	cur_init(&c, buf, len);
	if (cur_get_u16(&c, &num) < 0 || cur_get_u16(&c, &n) < 0)
		return stream ? -EAGAIN : -EBADMSG;
	/* RFC 8656 §12.5: over a stream the frame is padded to 4 bytes. */
	frame = CHDATA_HDR_LEN + (size_t)n + chdata_pad(n, stream);
	if (cur_left(&c) < frame - CHDATA_HDR_LEN)
		return stream ? -EAGAIN : -EBADMSG;
	*chan = num;
	*data = cur_ptr(&c);
	*dlen = n;
	*consumed = frame;
	return 0;
}

void chdata_hdr_write(uint8_t hdr[CHDATA_HDR_LEN], uint16_t chan, uint16_t dlen)
{
	put_u16(hdr, chan);
	put_u16(hdr + 2, dlen);
}
