/* STUN/MIP demultiplexing by FINGERPRINT (draft-tschofenig-mip6-ice-01 §12). */
#include "proto/cursor.h"
#include "proto/mice_demux.h"
#include "proto/stun.h"

#define FP_ATTR_LEN 8 /* type, length, CRC-32 */

/* Cheap checks first: header bits, length, cookie, a FINGERPRINT header in the last 8 bytes. */
static bool stun_shaped(const uint8_t *p, size_t len)
{
	if (len < STUN_HDR_LEN + FP_ATTR_LEN || (p[0] & 0xc0))
		return false;
	if ((size_t)peek_u16(p + 2) + STUN_HDR_LEN != len || peek_u32(p + 4) != STUN_MAGIC)
		return false;
	return peek_u16(p + len - FP_ATTR_LEN) == STUN_A_FINGERPRINT &&
	       peek_u16(p + len - FP_ATTR_LEN + 2) == 4;
}

enum mice_demux mice_demux(const uint8_t *p, size_t len)
{
	struct stun_msg m;

	if (!stun_shaped(p, len))
		return MICE_DEMUX_MOBILITY;
	/* The walk proves the last 8 bytes are an attribute, not the tail of another. */
	if (stun_msg_parse(&m, p, len) < 0 || m.fp < 0 || (size_t)m.attr[m.fp].off + 4 != len ||
	    !stun_msg_fingerprint_ok(&m))
		return MICE_DEMUX_MOBILITY;
	return MICE_DEMUX_STUN;
}

const char *mice_demux_name(enum mice_demux d)
{
	switch (d) {
	case MICE_DEMUX_STUN:
		return "stun";
	case MICE_DEMUX_MOBILITY:
		return "mobility";
	}
	return "?";
}
