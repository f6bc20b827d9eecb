/*
 * STUN or Mobility Header on the encapsulation port (draft-tschofenig-
 * mip6-ice-01 §12). A Mobility Header starts with Payload Proto 59, whose
 * top two bits are 0 like STUN's, and its checksum and first 16 bits of
 * data may spell the magic cookie, so the first byte and the cookie do not
 * decide: a datagram is STUN only if the top two bits are 0, the length
 * field matches the datagram, the cookie matches and a valid FINGERPRINT
 * is the last attribute. Everything else is the mobility handler's.
 */
#ifndef TWIST_PROTO_MICE_DEMUX_H
#define TWIST_PROTO_MICE_DEMUX_H

#include <stddef.h>
#include <stdint.h>

enum mice_demux {
	MICE_DEMUX_STUN,
	MICE_DEMUX_MOBILITY,
};

enum mice_demux mice_demux(const uint8_t *p, size_t len);
const char *mice_demux_name(enum mice_demux d);

#endif
