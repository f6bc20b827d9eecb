/*
 * STUN/TURN message codec (RFC 8489, RFC 8656). No I/O: parsing reads through
 * proto/cursor.h, writing fills a caller-provided buffer.
 */
#ifndef TWIST_PROTO_STUN_H
#define TWIST_PROTO_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

#define STUN_HDR_LEN     20
#define STUN_MAGIC       0x2112A442u
#define STUN_TID_LEN     12
#define STUN_MAX_ATTRS   40 /* more in one message is a counted drop */
#define STUN_MAX_UNKNOWN 8  /* unknown comprehension-required types we report */
#define STUN_MAX_MSG     65535

/* Methods (RFC 8489 §18.2, RFC 8656 §17). */
#define STUN_BINDING           0x001
#define STUN_ALLOCATE          0x003
#define STUN_REFRESH           0x004
#define STUN_SEND              0x006
#define STUN_DATA              0x007
#define STUN_CREATE_PERMISSION 0x008
#define STUN_CHANNEL_BIND      0x009
/* RFC 6062 §6.1: TCP relay allocations. */
#define STUN_CONNECT            0x00a
#define STUN_CONNECTION_BIND    0x00b
#define STUN_CONNECTION_ATTEMPT 0x00c

/* Classes. */
#define STUN_REQUEST    0
#define STUN_INDICATION 1
#define STUN_SUCCESS    2
#define STUN_ERROR      3

/* Attributes: comprehension-required (< 0x8000). */
#define STUN_A_MAPPED_ADDRESS           0x0001
#define STUN_A_CHANGE_REQUEST           0x0003 /* RFC 5780 §7.2 */
#define STUN_A_SOURCE_ADDRESS           0x0004 /* RFC 3489 §11.2.5: classic answers */
#define STUN_A_CHANGED_ADDRESS          0x0005 /* RFC 3489 §11.2.3: classic answers */
#define STUN_A_USERNAME                 0x0006
#define STUN_A_MESSAGE_INTEGRITY        0x0008
#define STUN_A_ERROR_CODE               0x0009
#define STUN_A_UNKNOWN_ATTRIBUTES       0x000A
#define STUN_A_CHANNEL_NUMBER           0x000C
#define STUN_A_LIFETIME                 0x000D
#define STUN_A_XOR_PEER_ADDRESS         0x0012
#define STUN_A_DATA                     0x0013
#define STUN_A_REALM                    0x0014
#define STUN_A_NONCE                    0x0015
#define STUN_A_XOR_RELAYED_ADDRESS      0x0016
#define STUN_A_REQUESTED_ADDRESS_FAMILY 0x0017
#define STUN_A_EVEN_PORT                0x0018
#define STUN_A_REQUESTED_TRANSPORT      0x0019
#define STUN_A_DONT_FRAGMENT            0x001A
#define STUN_A_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_A_PASSWORD_ALGORITHM       0x001D
#define STUN_A_USERHASH                 0x001E
#define STUN_A_XOR_MAPPED_ADDRESS       0x0020
#define STUN_A_RESERVATION_TOKEN        0x0022
#define STUN_A_CONNECTION_ID            0x002a /* RFC 6062 §6.2.1 */
#define STUN_A_PRIORITY                 0x0024
#define STUN_A_USE_CANDIDATE            0x0025
#define STUN_A_PADDING                  0x0026 /* RFC 5780 §7.6 */
#define STUN_A_RESPONSE_PORT            0x0027 /* RFC 5780 §7.5 */
/* Comprehension-optional (>= 0x8000). */
#define STUN_A_ADDITIONAL_ADDRESS_FAMILY 0x8000
#define STUN_A_ADDRESS_ERROR_CODE        0x8001
#define STUN_A_PASSWORD_ALGORITHMS       0x8002
#define STUN_A_ALTERNATE_DOMAIN          0x8003
#define STUN_A_ICMP                      0x8004
#define STUN_A_SOFTWARE                  0x8022
#define STUN_A_ALTERNATE_SERVER          0x8023
#define STUN_A_FINGERPRINT               0x8028
#define STUN_A_ICE_CONTROLLED            0x8029
#define STUN_A_ICE_CONTROLLING           0x802A
#define STUN_A_RESPONSE_ORIGIN           0x802B /* RFC 5780 §7.3 */
#define STUN_A_OTHER_ADDRESS             0x802C /* RFC 5780 §7.4 */

/* CHANGE-REQUEST flags (RFC 5780 §7.2, RFC 3489 §11.2.4). */
#define STUN_CHANGE_IP   0x4
#define STUN_CHANGE_PORT 0x2

/* PASSWORD-ALGORITHM values (RFC 8489 §18.5). */
#define STUN_PWALG_MD5    0x0001
#define STUN_PWALG_SHA256 0x0002

/* REQUESTED-TRANSPORT protocol numbers. */
#define STUN_PROTO_UDP 17
#define STUN_PROTO_TCP 6

/* NONCE security feature bits (RFC 8489 §9.2, §18.3.1). */
#define STUN_NONCE_COOKIE           "obMatJos2"
#define STUN_NONCE_COOKIE_LEN       9
#define STUN_SF_PASSWORD_ALGORITHMS 0x800000u /* bit 0, most significant */
#define STUN_SF_USERNAME_ANONYMITY  0x400000u /* bit 1 */

struct stun_attr {
	uint16_t type;
	uint16_t len; /* value length, without padding */
	uint16_t off; /* offset of the value from the start of the message */
};

/*
 * A parsed message points into the caller's buffer, which must outlive it.
 * Attributes after MESSAGE-INTEGRITY are dropped from attr[] except
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; after MESSAGE-INTEGRITY-SHA256
 * only FINGERPRINT is kept (RFC 8489 §14.5, §14.6).
 */
struct stun_msg {
	const uint8_t *buf;
	uint16_t len; /* header + attributes */
	uint16_t method;
	uint8_t cls;
	uint8_t tid[STUN_TID_LEN];
	/* A classic (RFC 3489) message has no magic cookie: its transaction id
	 * is 16 bytes, and these are the first 4, where the cookie would be. */
	bool classic;
	uint8_t tid0[4];
	uint8_t nattrs;
	int8_t mi;    /* index in attr[] of MESSAGE-INTEGRITY, or -1 */
	int8_t mi256; /* MESSAGE-INTEGRITY-SHA256, or -1 */
	int8_t fp;    /* FINGERPRINT, or -1 */
	uint8_t nunknown;
	uint16_t unknown[STUN_MAX_UNKNOWN]; /* comprehension-required we don't know */
	struct stun_attr attr[STUN_MAX_ATTRS];
};

/*
 * Parses one whole message of exactly len bytes.
 *   0         ok
 *   -EBADMSG  not STUN (bits, cookie, length): drop silently
 *   -EPROTO   STUN header is valid but attributes are malformed (truncated,
 *             too many, FINGERPRINT not last, duplicate integrity): m->method,
 *             m->cls and m->tid are valid, so a request can get a 400.
 */
int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len);

/*
 * The same for a classic RFC 3489 message (RFC 8489 §12.2 backwards
 * compatibility): the header without the magic cookie. A buffer that
 * carries the cookie is not classic (-EBADMSG): stun_msg_parse() reads it.
 */
int stun_classic_parse(struct stun_msg *m, const uint8_t *buf, size_t len);

/* True if buf starts with something that could be a STUN header (cheap check). */
bool stun_is_msg(const uint8_t *buf, size_t len);

uint16_t stun_type_encode(uint16_t method, uint8_t cls);
void stun_type_decode(uint16_t type, uint16_t *method, uint8_t *cls);

/* First attribute of that type that counts (see above), or NULL. */
const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type);

static inline const uint8_t *stun_attr_val(const struct stun_msg *m, const struct stun_attr *a)
{
	return m->buf + a->off;
}

/* Typed getters: 0, or -EBADMSG when the value's length or content is wrong. */
int stun_attr_xaddr(const struct stun_msg *m, const struct stun_attr *a, struct tw_addr *out);
int stun_attr_addr(const struct stun_msg *m, const struct stun_attr *a, struct tw_addr *out);
int stun_attr_u32(const struct stun_msg *m, const struct stun_attr *a, uint32_t *out);
int stun_attr_u64(const struct stun_msg *m, const struct stun_attr *a, uint64_t *out);
/* REQUESTED-TRANSPORT: protocol number in the first byte. */
int stun_attr_transport(const struct stun_msg *m, const struct stun_attr *a, uint8_t *proto);
/* REQUESTED-/ADDITIONAL-ADDRESS-FAMILY: TW_AF_INET or TW_AF_INET6 only. */
int stun_attr_family(const struct stun_msg *m, const struct stun_attr *a, uint8_t *family);
/* EVEN-PORT: the R bit. */
int stun_attr_even_port(const struct stun_msg *m, const struct stun_attr *a, bool *reserve);
/* CHANNEL-NUMBER: the 16-bit number; no range check here. */
int stun_attr_channel(const struct stun_msg *m, const struct stun_attr *a, uint16_t *chan);
/* ERROR-CODE / ADDRESS-ERROR-CODE: code 300..699, reason points into the message. */
int stun_attr_error(const struct stun_msg *m, const struct stun_attr *a, int *code,
                    const char **reason, size_t *reason_len);
/* PASSWORD-ALGORITHM: the algorithm number (parameters must be empty). */
int stun_attr_password_alg(const struct stun_msg *m, const struct stun_attr *a, uint16_t *alg);

struct stun_pwalgs {
	uint8_t n;
	uint16_t alg[8];
};
/* PASSWORD-ALGORITHMS: up to 8 entries; more is -EBADMSG. */
int stun_attr_password_algs(const struct stun_msg *m, const struct stun_attr *a,
                            struct stun_pwalgs *out);

enum stun_hash { STUN_HASH_MD5, STUN_HASH_SHA1, STUN_HASH_SHA256 };
#define STUN_HMAC_MAX 32
/*
 * HMAC (RFC 2104) with SHA-1 or SHA-256 over a || b (b may be NULL with
 * blen 0). Digests are fetched from OpenSSL once per process. Returns the
 * MAC length (20 or 32) or -errno.
 */
int stun_hmac(enum stun_hash h, const uint8_t *key, size_t keylen, const void *a, size_t alen,
              const void *b, size_t blen, uint8_t out[STUN_HMAC_MAX]);

/*
 * Integrity (RFC 8489 §14.5, §14.6, §14.7). The length field is adjusted as
 * the RFC says; attributes after the checked one do not count.
 * MESSAGE-INTEGRITY-SHA256 accepts truncation to 16..32 bytes, in steps of 4.
 */
bool stun_msg_integrity_ok(const struct stun_msg *m, const uint8_t *key, size_t keylen);
bool stun_msg_integrity256_ok(const struct stun_msg *m, const uint8_t *key, size_t keylen);
bool stun_msg_fingerprint_ok(const struct stun_msg *m);

/*
 * Long-term key (RFC 8489 §9.2.2): MD5 or SHA-256 over
 * "username:realm:password". Strings are taken as given (no OpaqueString).
 * Returns the key length (16 or 32) or -EINVAL for an unknown algorithm.
 */
int stun_key_longterm(uint16_t alg, const char *user, size_t ulen, const char *realm, size_t rlen,
                      const char *pass, size_t plen, uint8_t *out);
/* USERHASH (RFC 8489 §14.4): SHA-256("username:realm"). */
void stun_userhash(const char *user, size_t ulen, const char *realm, size_t rlen, uint8_t out[32]);

/*
 * Writer. Init zeroes the whole buffer, so padding never carries old bytes.
 * Any write that does not fit sets err; finish then fails with -ENOSPC.
 * The header length is kept current after every attribute.
 */
struct stun_wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool err;
	uint8_t tid[STUN_TID_LEN];
};

void stun_wr_init(struct stun_wr *w, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                  const uint8_t tid[STUN_TID_LEN]);
/* An answer to a classic request: its 16-byte transaction id, no cookie. Right after init. */
void stun_wr_classic(struct stun_wr *w, const uint8_t tid0[4]);
void stun_wr_attr(struct stun_wr *w, uint16_t type, const void *val, size_t len);
void stun_wr_u32(struct stun_wr *w, uint16_t type, uint32_t v);
void stun_wr_u64(struct stun_wr *w, uint16_t type, uint64_t v);
void stun_wr_xaddr(struct stun_wr *w, uint16_t type, const struct tw_addr *a);
void stun_wr_addr(struct stun_wr *w, uint16_t type, const struct tw_addr *a);
/* ERROR-CODE (or ADDRESS-ERROR-CODE with that type); reason may be NULL: a default is used. */
void stun_wr_error(struct stun_wr *w, uint16_t type, int code, const char *reason);
/* ADDRESS-ERROR-CODE (RFC 8656 §18.12) for one address family. */
void stun_wr_address_error(struct stun_wr *w, uint8_t family, int code);
void stun_wr_unknown(struct stun_wr *w, const uint16_t *types, size_t n);
void stun_wr_password_algs(struct stun_wr *w, const uint16_t *algs, size_t n);
void stun_wr_integrity(struct stun_wr *w, const uint8_t *key, size_t keylen);
void stun_wr_integrity256(struct stun_wr *w, const uint8_t *key, size_t keylen);
void stun_wr_fingerprint(struct stun_wr *w);
/* Total length, or -ENOSPC. */
int stun_wr_finish(struct stun_wr *w);

/*
 * USERNAME and REALM are OpaqueStrings (RFC 8265 §4.2): true if s is
 * well-formed UTF-8 without control characters (C0 including NUL, DEL,
 * C1). twist does not apply NFC: names are compared byte for byte, so a
 * client must send them normalised, as the RFC's preparation asks.
 */
bool stun_opaque_ok(const uint8_t *s, size_t len);

/* Default reason phrase for an error code (RFC 8489 §14.8, RFC 8656 §18). */
const char *stun_error_reason(int code);
const char *stun_method_name(uint16_t method);
const char *stun_attr_name(uint16_t type);
/* True for the attribute types this codec knows (used for UNKNOWN-ATTRIBUTES). */
bool stun_attr_known(uint16_t type);

#endif
