/*
 * Long-term credentials (RFC 8489 §9.2): static users and TURN REST
 * secrets (relay/auth.c holds the keys), stateless nonces (decision 6),
 * SHA-256 password algorithms and USERHASH.
 */
#include <errno.h>
#include <string.h>

#include "proto/stun.h"
#include "relay/auth.h"
#include "relay/guard.h"
#include "relay/ratelimit.h"
#include "common/log.h"
#include "relay/turn_int.h"

static const uint16_t our_pwalgs[] = {STUN_PWALG_SHA256, STUN_PWALG_MD5};

/* 401 or 438 with a fresh nonce (RFC 8489 §9.2.4). */
static void challenge(struct req *q, int code)
{
	struct auth *au = q->w->r->auth;
	char nonce[AUTH_NONCE_MAX + 1];
	const char *realm = auth_realm(au);
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;
	size_t nlen;

	if (!turn_unauth_allowed(q))
		return;
	q->keylen = 0;
	turn_count_error(q->w, code);
	turn_twist_count_error(q, code);
	nlen = auth_nonce_make(au, &q->c->client, relay_wall_s(), nonce);
	turn_resp_begin(q, &wr, buf, STUN_ERROR);
	stun_wr_error(&wr, STUN_A_ERROR_CODE, code, NULL);
	stun_wr_attr(&wr, STUN_A_REALM, realm, strlen(realm));
	stun_wr_attr(&wr, STUN_A_NONCE, nonce, nlen);
	if (auth_sha256_enabled(au))
		stun_wr_password_algs(&wr, our_pwalgs, 2);
	turn_resp_send(q, &wr);
}

static void auth_failed(struct req *q, enum auth_fail why, int code)
{
	STAT_INC(&q->w->st, auth_fail[why]);
	if (why != AUTHF_MISSING && log_enabled(LOG_LVL_DEBUG)) {
		char a[TW_ADDR_STRLEN];

		log_debug("auth of %s failed: %s", tw_addr_fmt(&q->c->client, a, sizeof(a)),
		          stats_auth_fail_name(why));
	}
	if (code == 400) {
		if (turn_unauth_allowed(q))
			turn_error(q, 400);
		return;
	}
	challenge(q, code);
}

/*
 * RFC 8489 §9.2.4 with the password-algorithm rules: when our nonce offered
 * algorithms, the client either echoes the exact list and picks one, or
 * sends neither (then MD5). Returns the algorithm or -1 for a 400.
 */
static int pick_pwalg(const struct stun_msg *m, const struct stun_attr *nonce)
{
	const struct stun_attr *pa = stun_msg_find(m, STUN_A_PASSWORD_ALGORITHM);
	const struct stun_attr *pas = stun_msg_find(m, STUN_A_PASSWORD_ALGORITHMS);
	struct stun_pwalgs list;
	uint16_t alg;

	if (!auth_nonce_has_pwalgs(stun_attr_val(m, nonce), nonce->len))
		return STUN_PWALG_MD5;
	if (!pa && !pas)
		return STUN_PWALG_MD5;
	if (!pa || !pas)
		return -1;
	if (stun_attr_password_algs(m, pas, &list) < 0 || list.n != 2 ||
	    list.alg[0] != our_pwalgs[0] || list.alg[1] != our_pwalgs[1])
		return -1;
	if (stun_attr_password_alg(m, pa, &alg) < 0)
		return -1;
	if (alg != STUN_PWALG_MD5 && alg != STUN_PWALG_SHA256)
		return -1;
	return alg;
}

/* Long-term credential check (RFC 8489 §9.2). 0 when q->key is set; else answered. */
/* The user name of the request into q->user: 0, or the auth_fail that answers it. */
static int pick_user(struct req *q, const struct stun_attr *ua, const struct stun_attr *ha)
{
	const struct stun_msg *m = q->m;

	if (ua) {
		if (ua->len == 0 || ua->len >= sizeof(q->user))
			return AUTHF_UNKNOWN_USER;
		/* RFC 8489 §14.3: an OpaqueString (RFC 8265); controls and NUL are refused. */
		if (!stun_opaque_ok(stun_attr_val(m, ua), ua->len))
			return AUTHF_BAD_REQUEST;
		memcpy(q->user, stun_attr_val(m, ua), ua->len);
		q->user[ua->len] = '\0';
		return 0;
	}
	if (ha->len != 32 ||
	    auth_userhash_find(q->w->r->auth, stun_attr_val(m, ha), q->user, sizeof(q->user)) < 0)
		return AUTHF_UNKNOWN_USER;
	return 0;
}

static int refuse(struct req *q, enum auth_fail why)
{
	auth_failed(q, why, why == AUTHF_BAD_REQUEST ? 400 : why == AUTHF_NONCE ? 438 : 401);
	return -1;
}

/*
 * RFC 8489 §9.2.4. Cheap checks come first (STYLE rule 5): attributes,
 * then the per-source limit and the failed-authentication back-off
 * (relay/guard.h), and only then the nonce's and the message's HMACs.
 */
static int long_term_verify(struct req *q)
{
	const struct stun_msg *m = q->m;
	struct relay *r = q->w->r;
	struct auth *au = r->auth;
	const struct tw_addr *src = &q->c->client;
	const struct stun_attr *ua, *ha, *ra, *na;
	const char *realm = auth_realm(au);
	int alg, rc;
	bool ok;

	if (m->mi < 0 && m->mi256 < 0)
		return refuse(q, AUTHF_MISSING);
	ua = stun_msg_find(m, STUN_A_USERNAME);
	ha = stun_msg_find(m, STUN_A_USERHASH);
	ra = stun_msg_find(m, STUN_A_REALM);
	na = stun_msg_find(m, STUN_A_NONCE);
	if ((!ua && !ha) || !ra || !na || !stun_opaque_ok(stun_attr_val(m, ra), ra->len))
		return refuse(q, AUTHF_BAD_REQUEST);
	/* A source out of unauthenticated answers gets no HMAC computed either. */
	if (!ratelimit_ok(r->rl, src, q->w->now_ms)) {
		worker_drop(q->w, DROP_RATELIMIT, src);
		return -1;
	}
	if (r->cfg.backoff_after && guard_check(r->guard, src, NULL, q->w->now_ms) != GUARD_CHECK)
		return refuse(q, AUTHF_BACKOFF);
	if (auth_nonce_check(au, src, stun_attr_val(m, na), na->len, relay_wall_s()) !=
	            AUTH_NONCE_OK &&
	    (!q->nonce_alt || auth_nonce_check(au, q->nonce_alt, stun_attr_val(m, na), na->len,
	                                       relay_wall_s()) != AUTH_NONCE_OK))
		return refuse(q, AUTHF_NONCE);
	if (ra->len != strlen(realm) || memcmp(stun_attr_val(m, ra), realm, ra->len) != 0)
		return refuse(q, AUTHF_UNKNOWN_USER);
	alg = pick_pwalg(m, na);
	if (alg < 0)
		return refuse(q, AUTHF_BAD_REQUEST);
	if ((rc = pick_user(q, ua, ha)) != 0) {
		if (rc == AUTHF_UNKNOWN_USER)
			guard_failed(r->guard, src, NULL, q->w->now_ms);
		return refuse(q, (enum auth_fail)rc);
	}
	if (r->cfg.backoff_after &&
	    guard_check(r->guard, src, q->user, q->w->now_ms) != GUARD_CHECK)
		return refuse(q, AUTHF_BACKOFF);
	rc = auth_key(au, q->user, strlen(q->user), (uint16_t)alg, relay_wall_s(), q->key);
	if (rc < 0) {
		guard_failed(r->guard, src, NULL, q->w->now_ms);
		return refuse(q, rc == -EKEYEXPIRED ? AUTHF_EXPIRED : AUTHF_UNKNOWN_USER);
	}
	/* A REST username has one key per active secret (rotation); at most
	 * 1 + AUTH_DB_SECRETS of them, each tried once. */
	for (unsigned idx = 1; !(ok = turn_integrity_ok(m, q->key, rc)); idx++) {
		rc = auth_key_at(au, q->user, strlen(q->user), (uint16_t)alg, relay_wall_s(), idx,
		                 q->key);
		if (rc < 0)
			break;
	}
	if (!ok) {
		guard_failed(r->guard, src, q->user, q->w->now_ms);
		return refuse(q, AUTHF_INTEGRITY);
	}
	guard_passed(r->guard, src, q->w->now_ms);
	q->keylen = rc;
	q->mi256 = m->mi256 >= 0;
	return 0;
}

const struct cred_kind turn_cred_long_term = {
        .name = "long-term",
        .verify = long_term_verify,
        .turn_user = true,
};
