/*
 * ICE candidates and candidate pairs (RFC 8445 §5.1, §6.1.2): priorities,
 * foundations, the SDP candidate line, and the forming of a check list
 * with its pruning and its cap. Pure code: no I/O, no clock.
 */
#ifndef TWIST_CLIENT_ICE_CAND_H
#define TWIST_CLIENT_ICE_CAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

enum ice_cand_type { ICE_CAND_HOST, ICE_CAND_SRFLX, ICE_CAND_PRFLX, ICE_CAND_RELAY };

/* RFC 8445 §5.1.2.2: a foundation is 1 to 32 ice-chars. */
#define ICE_FOUNDATION_MAX 32
#define ICE_COMP_MAX       2
#define ICE_MAX_PAIRS      100 /* RFC 8445 §6.1.2.5: the default cap */
/* Longest candidate line ice_cand_fmt() writes. */
#define ICE_CAND_STRLEN 200

struct ice_cand {
	enum ice_cand_type type;
	uint8_t comp; /* component id, 1..ICE_COMP_MAX */
	uint32_t prio;
	char foundation[ICE_FOUNDATION_MAX + 1];
	struct tw_addr addr;
	struct tw_addr rel; /* related address; family 0 for host */
	int base;           /* local: the agent's base index; remote: -1 */
};

enum ice_pair_state {
	ICE_PAIR_FROZEN,
	ICE_PAIR_WAITING,
	ICE_PAIR_IN_PROGRESS,
	ICE_PAIR_SUCCEEDED,
	ICE_PAIR_FAILED,
};

/* What the check list needs of a pair; the agent adds its transaction state. */
struct ice_pair {
	uint16_t local, remote; /* indices in the agent's candidate arrays */
	uint64_t prio;
	enum ice_pair_state state;
};

const char *ice_cand_type_name(enum ice_cand_type t);
const char *ice_pair_state_name(enum ice_pair_state s);

/* RFC 8445 §5.1.2.1: type preference, local preference, component. */
uint32_t ice_cand_priority(enum ice_cand_type t, uint16_t local_pref, uint8_t comp);
/* RFC 8445 §6.1.2.3: G is the controlling agent's candidate priority. */
uint64_t ice_pair_priority(uint32_t g, uint32_t d);

/*
 * RFC 8445 §5.1.1.3: candidates share a foundation when they have the same
 * type, base IP, server and transport. The foundation is a hash of those,
 * so it is stable across restarts and needs no table.
 */
void ice_cand_foundation(struct ice_cand *c, const struct tw_addr *base,
                         const struct tw_addr *server);

/*
 * The SDP candidate attribute value (RFC 8839 §5.1), with or without the
 * "candidate:" prefix: "F C udp P ADDR PORT typ T [raddr A rport P]" and
 * extensions, which are skipped. Only UDP is accepted: this agent reaches
 * peers over UDP only. Returns 0, -EINVAL for anything malformed, or
 * -EPROTONOSUPPORT for another transport.
 */
int ice_cand_parse(const char *s, struct ice_cand *out);
/* Without the "candidate:" prefix; returns the length or -ENOSPC. */
int ice_cand_fmt(const struct ice_cand *c, char *buf, size_t cap);

/*
 * Forms a check list (RFC 8445 §6.1.2.2 to §6.1.2.6) into out[cap]:
 * pairs of the same component and address family; a server-reflexive
 * local candidate stands for its base (§6.1.2.4), so a pair whose local
 * base and remote are already paired at a higher priority is pruned;
 * sorted by priority, highest first; the lowest dropped beyond max_pairs;
 * then per foundation the first pair (lowest component, highest priority)
 * Waiting and the others Frozen. Returns the number of pairs.
 */
size_t ice_checklist_form(const struct ice_cand *loc, size_t nloc, const struct ice_cand *rem,
                          size_t nrem, bool controlling, size_t max_pairs, struct ice_pair *out,
                          size_t cap);

/* Pair foundation equality: both local and remote foundations match. */
bool ice_pair_same_foundation(const struct ice_cand *loc, const struct ice_cand *rem,
                              const struct ice_pair *a, const struct ice_pair *b);

/* Sorts pairs by priority, highest first; stable for equal priorities. */
void ice_pairs_sort(struct ice_pair *p, size_t n);

/* RFC 8445 §7.3.1.1: what an incoming check's role attribute means for us. */
enum ice_role_verdict {
	ICE_ROLE_OK,     /* no conflict */
	ICE_ROLE_SWITCH, /* we change role and answer the check */
	ICE_ROLE_487,    /* we keep our role and answer 487 Role Conflict */
};
enum ice_role_verdict ice_role_check(bool we_controlling, uint64_t our_tb, bool they_controlling,
                                     uint64_t their_tb);

#endif
