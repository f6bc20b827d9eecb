/*
 * The MIP-ICE mobility option (draft-tschofenig-mip6-ice-01 §11): an ICE
 * description (credentials, options, candidates) carried in Mobility Header
 * options. No I/O. The byte layout, and the choices where the draft's
 * figure is unclear, are in docs/mice.md; this header is the contract.
 *
 * One description is encoded as a byte string, then cut into fragments of
 * at most MICE_FRAG_MAX bytes, each in its own option, because ufrag and
 * pwd alone may take 512 bytes (RFC 8445 §5.3) and an option's length is
 * one octet. Fragments carry their index and the total, so a receiver
 * knows it has them all when index total-1 arrived after 0..total-2.
 */
#ifndef TWIST_PROTO_MICE_H
#define TWIST_PROTO_MICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

#define MICE_OPT_EXPERIMENTAL 18 /* RFC 5096 §4: the default option type */
#define MICE_UFRAG_MIN        4  /* RFC 8445 §5.3 */
#define MICE_UFRAG_MAX        256
#define MICE_PWD_MIN          22
#define MICE_PWD_MAX          256
#define MICE_OPTIONS_MAX      256
#define MICE_FOUNDATION_MAX   32 /* RFC 8445 §5.1.1.3 */
#define MICE_MAX_CANDS        64
#define MICE_DESC_MAX         2048 /* one Mobility Header holds at most 2048 bytes */
#define MICE_FRAG_MAX         253  /* 255 minus subtype and index octets */
#define MICE_FRAGS_MAX        15   /* the 4-bit total */

/* Subtypes inside twist's experimental option (docs/mice.md §2). */
#define MICE_SUB_ICE  1 /* a fragment of the ICE description */
#define MICE_SUB_HOME 2 /* the sender's home address */
#define MICE_SUB_PEER 3 /* the correspondent's home address */

#define MICE_DESC_HDR      8 /* # cands, flags, three 16-bit lengths */
#define MICE_CAND_HDR      12
#define MICE_FLAG_LITE     0x80
#define MICE_FLAG_MISMATCH 0x40

enum mice_cand_type {
	MICE_CAND_HOST = 0,
	MICE_CAND_SRFLX = 1,
	MICE_CAND_PRFLX = 2,
	MICE_CAND_RELAY = 3,
};

enum mice_transport {
	MICE_TR_UDP = 0,
	MICE_TR_TCP_ACTIVE = 1, /* RFC 6544 tcptype */
	MICE_TR_TCP_PASSIVE = 2,
	MICE_TR_TCP_SO = 3,
};

/* A plain struct so that the ICE agent's own candidate converts by field copies. */
struct mice_cand {
	uint8_t type;      /* enum mice_cand_type */
	uint8_t component; /* 1..255 */
	uint8_t transport; /* enum mice_transport */
	uint32_t priority;
	char foundation[MICE_FOUNDATION_MAX + 1]; /* 1..32 ice-chars */
	struct tw_addr addr;                      /* ip and port */
	struct tw_addr related;                   /* family 0: none */
};

struct mice_ice {
	bool lite;
	bool mismatch;
	char ufrag[MICE_UFRAG_MAX + 1]; /* ice-chars, NUL-terminated */
	char pwd[MICE_PWD_MAX + 1];
	char options[MICE_OPTIONS_MAX + 1]; /* ice-options tokens, space-separated; may be "" */
	uint8_t n_cands;
	struct mice_cand cand[MICE_MAX_CANDS];
};

/* ice-char (RFC 8839 §5.4): ALPHA / DIGIT / "+" / "/". */
bool mice_ice_chars_ok(const char *s, size_t len);
/* Whether d is something mice_ice_encode() writes (the same rules the decoder enforces). */
bool mice_ice_valid(const struct mice_ice *d);

/*
 * The description as one byte string. Returns its length, -EINVAL when d
 * breaks a rule above, or -EMSGSIZE when it is longer than cap.
 */
int mice_ice_encode(const struct mice_ice *d, uint8_t *out, size_t cap);
/* 0, or -EBADMSG when any length, count, family or character is wrong. */
int mice_ice_decode(struct mice_ice *d, const uint8_t *p, size_t len);

/*
 * d as consecutive options of type opt_type (no padding between them).
 * Returns the bytes written, -EINVAL, or -EMSGSIZE.
 */
int mice_opts_write(const struct mice_ice *d, uint8_t opt_type, uint8_t *out, size_t cap);

/* Reassembly of the ICE fragments of one message. */
struct mice_reasm {
	uint8_t buf[MICE_DESC_MAX];
	size_t len;
	uint8_t next;  /* the index expected next */
	uint8_t total; /* 0 until the first fragment */
	bool done;
};

void mice_reasm_init(struct mice_reasm *r);
/*
 * One ICE option's data (after the subtype octet): the index/total octet
 * and the fragment. Returns 1 when this completed the description, 0 when
 * more must follow, -EBADMSG when out of order, duplicated, inconsistent,
 * empty, past completion or too long.
 */
int mice_reasm_add(struct mice_reasm *r, const uint8_t *p, size_t len);

/* A home-address option (MICE_SUB_HOME or MICE_SUB_PEER): 3 + 4 or 3 + 16 bytes. */
int mice_addr_opt_write(uint8_t opt_type, uint8_t sub, const struct tw_addr *a, uint8_t *out,
                        size_t cap);
/* Its data after the subtype octet: an IPv4 or IPv6 address (port 0). */
int mice_addr_opt_parse(const uint8_t *p, size_t len, struct tw_addr *a);

#endif
