/*
 * The Mobility Header framing M-ICE needs: Binding Update and Binding
 * Acknowledgement (RFC 6275 §6.1.7, §6.1.8) with the MN-HA authentication
 * option (RFC 4285 §5, with HMAC-SHA256), carried at offset 0 of a UDP
 * payload on the encapsulation port (RFC 5555 §4.1's port; draft §12's
 * figure 4 puts the Mobility Header there). No I/O. docs/mice.md §3.
 *
 * With no IPv6 header in front, the addresses it would carry travel as
 * twist's experimental options: the sender's home address and, for a
 * message the home agent relays, the correspondent's (proto/mice.h).
 */
#ifndef TWIST_PROTO_MICE_MH_H
#define TWIST_PROTO_MICE_MH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"
#include "proto/mice.h"

#define MICE_PORT       4191 /* RFC 5555 §4.1, IANA "dsmipv6" */
#define MH_PROTO_NONE   59   /* Payload Proto: no next header (RFC 6275 §6.1.1) */
#define MH_NEXT_HEADER  135  /* the pseudo-header's next header value */
#define MH_TYPE_BU      5
#define MH_TYPE_BA      6
#define MH_OPT_PAD1     0
#define MH_OPT_PADN     1
#define MH_OPT_AUTH     9  /* RFC 4285 §5 */
#define MH_AUTH_MN_HA   1  /* its subtype */
#define MH_AUTH_LEN     32 /* HMAC-SHA256, untruncated */
#define MH_AUTH_OPT_LEN (2 + 1 + 4 + MH_AUTH_LEN)
#define MH_HDR_LEN      6
#define MH_BODY_LEN     6    /* BU and BA fixed fields */
#define MH_MAX_LEN      2048 /* (Header Len 255 + 1) * 8 */

/* BU flags (RFC 6275 §6.1.7), BA flags (§6.1.8). */
#define MH_BU_A 0x8000
#define MH_BU_H 0x4000
#define MH_BU_L 0x2000
#define MH_BU_K 0x1000
#define MH_BA_K 0x80
#define MH_BA_R 0x40

/* BA status (RFC 6275 §6.1.8, RFC 4285 §8). */
#define MH_ST_ACCEPTED       0
#define MH_ST_UNSPECIFIED    128
#define MH_ST_PROHIBITED     129
#define MH_ST_NO_RESOURCES   130
#define MH_ST_NOT_HA_FOR_MN  133
#define MH_ST_SEQ_OUT_OF_WIN 135
#define MH_ST_AUTH_FAILED    144 /* MN-AUTH-FAILURE */

struct mice_mh {
	uint8_t type; /* MH_TYPE_BU or MH_TYPE_BA */
	uint16_t seq;
	uint16_t bu_flags;   /* BU */
	uint8_t status;      /* BA */
	uint8_t ba_flags;    /* BA */
	uint16_t lifetime;   /* units of 4 s */
	struct tw_addr home; /* family 0: absent */
	struct tw_addr peer; /* family 0: absent */
	bool has_ice;
	struct mice_ice ice;
	bool has_auth;
	uint32_t spi;
	size_t auth_at; /* parse: offset of the authenticator in the message */
};

/*
 * Parses one whole datagram as a BU or BA. Checked, in this order: the
 * Header Len against the datagram, Payload Proto, the MH type, the
 * checksum, the fixed fields, then every option (lengths, one home and one
 * peer at most, ICE fragments in order and complete, the authentication
 * option last and ending the message). Unknown options are skipped (RFC
 * 6275 §6.2.1). Returns 0 or -EBADMSG; the authenticator is not checked.
 */
int mice_mh_parse(struct mice_mh *m, const uint8_t *p, size_t len, uint8_t opt_type);

/* Whether m (parsed from p) carries an authenticator that key produced. */
bool mice_mh_auth_ok(const struct mice_mh *m, const uint8_t *p, size_t len, const uint8_t *key,
                     size_t keylen);

/*
 * Writes m: header, fixed fields, home, peer, the ICE options, padding,
 * then, with a key, the authentication option for m->spi; the checksum
 * last. Returns the length, -EINVAL or -EMSGSIZE.
 */
int mice_mh_build(const struct mice_mh *m, uint8_t opt_type, const uint8_t *key, size_t keylen,
                  uint8_t *out, size_t cap);

/* RFC 6275 §6.1.1 checksum over p with its checksum field as it stands (see docs/mice.md §3). */
uint16_t mice_mh_csum(const uint8_t *p, size_t len);

/* RFC 6275 §9.5.1: whether seq is newer than last, modulo 2^16. */
bool mice_seq_newer(uint16_t seq, uint16_t last);

const char *mice_mh_status_name(uint8_t status);

#endif
