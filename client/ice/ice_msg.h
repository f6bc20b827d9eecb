/*
 * The STUN messages of ICE connectivity checks (RFC 8445 §7.1.1, §7.3):
 * Binding requests and answers with short-term credentials (RFC 8489
 * §9.1), built and read through proto/stun.h. Pure code.
 */
#ifndef TWIST_CLIENT_ICE_MSG_H
#define TWIST_CLIENT_ICE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/stun.h"

#define ICE_MSG_MAX   1200
#define ICE_UFRAG_MIN 4
#define ICE_UFRAG_MAX 256
#define ICE_PWD_MIN   22
#define ICE_PWD_MAX   256

struct ice_check_req {
	uint32_t prio;
	bool controlling; /* ICE-CONTROLLING (else ICE-CONTROLLED) */
	uint64_t tb;
	bool use_cand;
};

/* A check: USERNAME "rufrag:lufrag", MESSAGE-INTEGRITY with the remote pwd, FINGERPRINT. */
int ice_msg_check(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], const char *rufrag,
                  const char *lufrag, const char *rpwd, const struct ice_check_req *r);
/* The success answer: XOR-MAPPED-ADDRESS, integrity with the local pwd. */
int ice_msg_success(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
                    const struct tw_addr *mapped, const char *lpwd);
/* An error answer; with lpwd it carries integrity (487), without it not (400, 401). */
int ice_msg_error(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], int code,
                  const char *lpwd);

/*
 * Reads an incoming check (a parsed Binding request with a valid
 * FINGERPRINT). RFC 8489 §9.1.3: no USERNAME or no MESSAGE-INTEGRITY is
 * -EBADMSG (answer 400); a USERNAME that does not start with "lufrag:" or
 * an integrity that lpwd does not verify is -EACCES (answer 401). A check
 * without PRIORITY or without a role attribute is -EBADMSG (400).
 */
int ice_msg_check_read(const struct stun_msg *m, const char *lufrag, const char *lpwd,
                       struct ice_check_req *out);

/* Integrity of an answer to our check, keyed with the remote pwd. */
bool ice_msg_answer_ok(const struct stun_msg *m, const char *rpwd);

#endif
