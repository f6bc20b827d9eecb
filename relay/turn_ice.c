/*
 * Short-term credentials (RFC 8489 §9.1) for ICE checks addressed to this
 * relay (RFC 8445 §7.3): the M-ICE home agent is one of each mobile node's
 * remote candidates and answers its checks (docs/mice.md §6.1). The keys
 * come from relay/stcred.h; the home agent fills it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/stun.h"
#include "relay/ratelimit.h"
#include "relay/stcred.h"
#include "relay/turn_int.h"

static void count(struct req *q, enum ice_check r)
{
	STAT_INC(&q->w->st, ice_checks[r]);
}

/* 401 without integrity (RFC 8489 §9.1.3: the checks failed). */
static int refuse(struct req *q, enum ice_check r)
{
	count(q, r);
	q->keylen = 0;
	if (turn_unauth_allowed(q))
		turn_error(q, 401);
	return -1;
}

/* USERNAME and integrity, and neither REALM nor NONCE: not long-term's. */
static bool short_term_applies(const struct stun_msg *m)
{
	return (m->mi >= 0 || m->mi256 >= 0) && stun_msg_find(m, STUN_A_USERNAME) &&
	       !stun_msg_find(m, STUN_A_REALM) && !stun_msg_find(m, STUN_A_NONCE);
}

/* RFC 8489 §9.1.3 with RFC 8445 §7.3's USERNAME "LFRAG:RFRAG". */
static int short_term_verify(struct req *q)
{
	const struct stun_msg *m = q->m;
	const struct stun_attr *ua = stun_msg_find(m, STUN_A_USERNAME);
	struct stcred *st = q->w->r->stcred;
	int n = -ENOENT;

	/* A source out of unauthenticated answers gets no HMAC computed either. */
	if (!ratelimit_ok(q->w->r->rl, &q->c->client, q->w->now_ms)) {
		worker_drop(q->w, DROP_RATELIMIT, &q->c->client);
		return -1;
	}
	if (st)
		n = stcred_key(st, (const char *)stun_attr_val(m, ua), ua->len, q->w->now_ms,
		               q->key);
	if (n < 0)
		return refuse(q, ICE_CHECK_UNKNOWN_USER);
	if (!turn_integrity_ok(m, q->key, n))
		return refuse(q, ICE_CHECK_INTEGRITY);
	/* A label only (no allocation is a pair's): ufrags may be longer. */
	snprintf(q->user, sizeof(q->user), "%.*s", (int)ua->len,
	         (const char *)stun_attr_val(m, ua));
	q->keylen = n;
	q->mi256 = m->mi256 >= 0;
	return 0;
}

const struct cred_kind turn_cred_short_term = {
        .name = "short-term",
        .verify = short_term_verify,
        .applies = short_term_applies,
};

/* The answer below is signed with the check's key (turn_resp_send). */
int turn_ice_check(struct req *q)
{
	const struct stun_msg *m = q->m;
	const struct stun_attr *pa = stun_msg_find(m, STUN_A_PRIORITY);
	const struct stun_attr *ced = stun_msg_find(m, STUN_A_ICE_CONTROLLED);
	const struct stun_attr *cing = stun_msg_find(m, STUN_A_ICE_CONTROLLING);
	uint32_t prio;
	uint64_t tie;

	if (q->cred != &turn_cred_short_term)
		return 0;
	/* RFC 8445 §7.3: PRIORITY and exactly one role attribute. */
	if (!pa || stun_attr_u32(m, pa, &prio) < 0 || !ced == !cing ||
	    stun_attr_u64(m, ced ? ced : cing, &tie) < 0) {
		count(q, ICE_CHECK_BAD_REQUEST);
		turn_error(q, 400);
		return -1;
	}
	/*
	 * §7.3.1.1, both controlled: the home agent never nominates, so it
	 * wants the node to control. Its tie-breaker is 2^64-1, never smaller
	 * than the node's: 487 every time, and the node switches roles.
	 */
	if (ced) {
		count(q, ICE_CHECK_ROLE_CONFLICT);
		turn_error(q, 487);
		return -1;
	}
	/* USE-CANDIDATE nominates the pair; a controlled agent that sends
	 * nothing of its own has nothing more to do. */
	count(q, ICE_CHECK_OK);
	return 0;
}
