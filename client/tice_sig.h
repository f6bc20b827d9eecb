/*
 * twist-ice's M-ICE signalling (docs/mice.md §6): the offer in a Binding
 * Update to the home agent, the answer in the Binding Acknowledgement,
 * the plain field copy between the agent's candidates and the option's,
 * and the check of what arrives. No I/O.
 */
#ifndef TWIST_CLIENT_TICE_SIG_H
#define TWIST_CLIENT_TICE_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/ice/ice.h"
#include "proto/mice_mh.h"

#define TICE_KEY_MAX 128

struct tice_sig {
	uint32_t spi;
	uint8_t key[TICE_KEY_MAX];
	size_t keylen;
	struct tw_addr home; /* ours */
	struct tw_addr peer; /* the correspondent's (MN); family 0 on the CN */
	uint8_t opt_type;
	uint16_t lifetime; /* units of 4 s (RFC 6275 §6.1.7) */
};

void tice_cand_to_mice(const struct ice_cand *c, struct mice_cand *m);
void tice_cand_from_mice(const struct mice_cand *m, struct ice_cand *c);
/* The agent's credentials and candidates as a description; -E2BIG past MICE_MAX_CANDS. */
int tice_desc_local(const struct ice_agent *a, struct mice_ice *d);

/*
 * A Binding Update: registration (ice NULL, no peer) or an offer to
 * peer. Signed with our key. Returns the length or a negative errno.
 */
int tice_bu_build(const struct tice_sig *s, uint16_t seq, const struct tw_addr *peer,
                  const struct mice_ice *ice, uint8_t *out, size_t cap);
/* The CN's answer to a relayed BU from mn_home with sequence seq. */
int tice_ba_build(const struct tice_sig *s, uint16_t seq, const struct tw_addr *mn_home,
                  const struct mice_ice *ice, uint8_t *out, size_t cap);
/* Parses and authenticates a datagram from the HA: 0, -EBADMSG or -EACCES (unsigned, wrong key). */
int tice_msg_read(const struct tice_sig *s, struct mice_mh *m, const uint8_t *p, size_t len);

#endif
