/*
 * The STUN messages twist-client sends and the answers it reads, built on
 * proto/stun.h and proto/twist.h. No I/O.
 */
#ifndef TWIST_CLIENT_TC_STUN_H
#define TWIST_CLIENT_TC_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/stun.h"
#include "proto/twist.h"

#define TC_REALM_MAX  256
#define TC_NONCE_MAX  256
#define TC_REASON_MAX 128

/* Long-term credentials (RFC 8489 §9.2): realm and nonce come from a 401. */
struct tc_cred {
	const char *user, *pass;
	char realm[TC_REALM_MAX + 1];
	char nonce[TC_NONCE_MAX + 1];
	uint8_t key[16]; /* MD5(user:realm:pass) */
	bool have;       /* realm and nonce known */
};

/* Takes realm and nonce from an answer; recomputes the key. */
int tc_cred_set(struct tc_cred *c, const char *realm, const char *nonce);

struct tc_alloc_req {
	uint8_t type;        /* TWIST_TYPE_CONNECT or _LISTEN */
	uint8_t transport;   /* STUN_PROTO_UDP or _TCP */
	uint8_t family;      /* relayed family, TW_AF_* */
	struct tw_addr peer; /* connect: the peer; family 0 = none */
	bool has_cookie;
	uint8_t cookie[TWIST_COOKIE_LEN];
	uint8_t keepalive; /* TWIST_KA_* wished for */
	uint8_t mode;      /* TWIST_ENCAP_* (0: transport); tunnel goes with TC_CAPS_TUNNEL */
};

/* What twist-client can do (TWIST-CAPS), without and with tunnel mode. */
#define TC_CAPS                                                                               \
	(TWIST_CAP_TRANSPORT | TWIST_CAP_KA_NATT | TWIST_CAP_KA_BINDING | TWIST_CAP_CONNECT | \
	 TWIST_CAP_LISTEN | TWIST_CAP_INTERWORKING)
#define TC_CAPS_TUNNEL (TC_CAPS | TWIST_CAP_TUNNEL)

/* Each returns the message length, or -ENOSPC. With c->have it is authenticated. */
int tc_stun_allocate(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
                     const struct tc_alloc_req *r, const struct tc_cred *c);
int tc_stun_refresh(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], uint32_t lifetime,
                    const struct tc_cred *c);
int tc_stun_binding(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], uint32_t caps);

/* What an answer (or the Data indication of a latched listen flow) said. */
struct tc_resp {
	uint16_t method;
	uint8_t cls;
	int code; /* error class: 300..699 */
	char reason[TC_REASON_MAX + 1];
	char realm[TC_REALM_MAX + 1];
	char nonce[TC_NONCE_MAX + 1];
	bool has_realm_nonce;
	struct tw_addr relayed, mapped, peer;
	bool has_relayed, has_peer;
	uint32_t lifetime;
	bool has_lifetime;
	struct twist_encap encap;
	bool has_encap;
	uint8_t cookie[TWIST_COOKIE_LEN];
	bool has_cookie;
	uint32_t caps;
	bool has_caps;
	uint32_t spi; /* tunnel mode: TWIST-SPI */
	bool has_spi;
	uint16_t unknown[STUN_MAX_UNKNOWN];
	uint8_t nunknown;
	const uint8_t *data; /* Data indication: the segment, inside the caller's buffer */
	size_t data_len;
	/* 300 Try Alternate (RFC 8489 §10): where to, and whether the answer's
	 * MESSAGE-INTEGRITY verified with our key (else it may be forged). */
	struct tw_addr alt;
	bool has_alt;
	bool integrity_ok;
};

/*
 * Reads a response to the transaction tid (NULL: an indication). A success
 * to an authenticated request must carry a right MESSAGE-INTEGRITY when
 * key is given. An error answer is read either way, with integrity_ok
 * saying whether it verified. Returns 0, -EBADMSG (not STUN, malformed),
 * -ESRCH (another transaction) or -EACCES (integrity missing or wrong).
 */
int tc_stun_read(const uint8_t *buf, size_t len, const uint8_t *tid, const struct tc_cred *c,
                 struct tc_resp *r);

#endif
