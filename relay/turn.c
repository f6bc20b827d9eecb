#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/chdata.h"
#include "proto/demux.h"
#include "proto/stun.h"
#include "relay/auth.h"
#include "relay/log.h"
#include "relay/policy.h"
#include "relay/ports.h"
#include "relay/ratelimit.h"
#include "relay/sync.h"
#include "relay/tcp.h"
#include "relay/turn.h"
#include "relay/udp.h"

#define RESP_MAX 1500

/* One client request being answered. */
struct req {
	struct worker *w;
	struct client_ctx *cc;
	const struct stun_msg *m;
	char user[CFG_STR];
	uint8_t key[32];
	int keylen; /* 0 until authenticated */
	bool mi256; /* answer with MESSAGE-INTEGRITY-SHA256 */
	bool hold;  /* a state change: answer once the standby has it (decision 5) */
};

static const uint16_t our_pwalgs[] = {STUN_PWALG_SHA256, STUN_PWALG_MD5};

static void client_reply(struct worker *w, const struct client_ctx *cc, const uint8_t *buf,
                         size_t len)
{
	if (cc->transport == STUN_PROTO_TCP) {
		if (tcp_conn_send(cc->tc, buf, len, NULL, 0, 0) < 0)
			worker_drop(w, DROP_BACKPRESSURE, &cc->client);
		return;
	}
	tx_now(w, cc->lst->fd, &cc->client, buf, len);
}

static void resp_begin(struct req *q, struct stun_wr *wr, uint8_t *buf, uint8_t cls)
{
	const char *sw = q->w->r->cfg.software;

	stun_wr_init(wr, buf, RESP_MAX, q->m->method, cls, q->m->tid);
	if (sw[0])
		stun_wr_attr(wr, STUN_A_SOFTWARE, sw, strlen(sw));
}

/* Integrity when the request was authenticated; FINGERPRINT when it had one. */
static void resp_send(struct req *q, struct stun_wr *wr)
{
	int len;

	if (q->keylen > 0) {
		if (q->mi256)
			stun_wr_integrity256(wr, q->key, (size_t)q->keylen);
		else
			stun_wr_integrity(wr, q->key, (size_t)q->keylen);
	}
	if (q->m->fp >= 0)
		stun_wr_fingerprint(wr);
	len = stun_wr_finish(wr);
	if (len < 0) {
		log_warn("response to %s does not fit, not sent", stun_method_name(q->m->method));
		return;
	}
	if (q->hold && q->cc->transport == STUN_PROTO_UDP &&
	    sync_hold(q->w, q->cc->lst->fd, &q->cc->client, wr->buf, (size_t)len))
		return;
	client_reply(q->w, q->cc, wr->buf, (size_t)len);
}

static void count_error(struct worker *w, int code)
{
	if (code >= 300 && code < 700)
		STAT_INC(&w->st, errors[code / 100 - 3][code % 100]);
}

static void error_reply(struct req *q, int code)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	count_error(q->w, code);
	resp_begin(q, &wr, buf, STUN_ERROR);
	stun_wr_error(&wr, STUN_A_ERROR_CODE, code, NULL);
	resp_send(q, &wr);
}

/* Unauthenticated answers are what a spoofed flood would reflect: rate-limit them. */
static bool unauth_allowed(struct req *q)
{
	if (ratelimit_take(q->w->r->rl, &q->cc->client, q->w->now_ms))
		return true;
	worker_drop(q->w, DROP_RATELIMIT, &q->cc->client);
	return false;
}

/* 401 or 438 with a fresh nonce (RFC 8489 §9.2.4). */
static void challenge(struct req *q, int code)
{
	struct auth *au = q->w->r->auth;
	char nonce[AUTH_NONCE_MAX + 1];
	const char *realm = auth_realm(au);
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;
	size_t nlen;

	if (!unauth_allowed(q))
		return;
	q->keylen = 0;
	count_error(q->w, code);
	nlen = auth_nonce_make(au, &q->cc->client, relay_wall_s(), nonce);
	resp_begin(q, &wr, buf, STUN_ERROR);
	stun_wr_error(&wr, STUN_A_ERROR_CODE, code, NULL);
	stun_wr_attr(&wr, STUN_A_REALM, realm, strlen(realm));
	stun_wr_attr(&wr, STUN_A_NONCE, nonce, nlen);
	if (auth_sha256_enabled(au))
		stun_wr_password_algs(&wr, our_pwalgs, 2);
	resp_send(q, &wr);
}

static void auth_failed(struct req *q, enum auth_fail why, int code)
{
	STAT_INC(&q->w->st, auth_fail[why]);
	if (why != AUTHF_MISSING && log_enabled(LOG_LVL_DEBUG)) {
		char a[TW_ADDR_STRLEN];

		log_debug("auth of %s failed: %s", tw_addr_fmt(&q->cc->client, a, sizeof(a)),
		          stats_auth_fail_name(why));
	}
	if (code == 400) {
		if (unauth_allowed(q))
			error_reply(q, 400);
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
static int authenticate(struct req *q)
{
	const struct stun_msg *m = q->m;
	struct auth *au = q->w->r->auth;
	const struct stun_attr *ua, *ha, *ra, *na;
	const char *realm = auth_realm(au);
	int alg, rc;
	bool ok;

	if (m->mi < 0 && m->mi256 < 0) {
		auth_failed(q, AUTHF_MISSING, 401);
		return -1;
	}
	ua = stun_msg_find(m, STUN_A_USERNAME);
	ha = stun_msg_find(m, STUN_A_USERHASH);
	ra = stun_msg_find(m, STUN_A_REALM);
	na = stun_msg_find(m, STUN_A_NONCE);
	if ((!ua && !ha) || !ra || !na) {
		auth_failed(q, AUTHF_BAD_REQUEST, 400);
		return -1;
	}
	if (auth_nonce_check(au, &q->cc->client, stun_attr_val(m, na), na->len, relay_wall_s()) !=
	    AUTH_NONCE_OK) {
		auth_failed(q, AUTHF_NONCE, 438);
		return -1;
	}
	if (ra->len != strlen(realm) || memcmp(stun_attr_val(m, ra), realm, ra->len) != 0) {
		auth_failed(q, AUTHF_UNKNOWN_USER, 401);
		return -1;
	}
	alg = pick_pwalg(m, na);
	if (alg < 0) {
		auth_failed(q, AUTHF_BAD_REQUEST, 400);
		return -1;
	}
	if (ua) {
		if (ua->len == 0 || ua->len >= sizeof(q->user)) {
			auth_failed(q, AUTHF_UNKNOWN_USER, 401);
			return -1;
		}
		memcpy(q->user, stun_attr_val(m, ua), ua->len);
		q->user[ua->len] = '\0';
	} else if (ha->len != 32 ||
	           auth_userhash_find(au, stun_attr_val(m, ha), q->user, sizeof(q->user)) < 0) {
		auth_failed(q, AUTHF_UNKNOWN_USER, 401);
		return -1;
	}
	rc = auth_key(au, q->user, strlen(q->user), (uint16_t)alg, relay_wall_s(), q->key);
	if (rc < 0) {
		auth_failed(q, rc == -EKEYEXPIRED ? AUTHF_EXPIRED : AUTHF_UNKNOWN_USER, 401);
		return -1;
	}
	/* §9.2.4: with both, MESSAGE-INTEGRITY-SHA256 is the one that counts. */
	if (m->mi256 >= 0)
		ok = stun_msg_integrity256_ok(m, q->key, (size_t)rc);
	else
		ok = stun_msg_integrity_ok(m, q->key, (size_t)rc);
	if (!ok) {
		auth_failed(q, AUTHF_INTEGRITY, 401);
		return -1;
	}
	q->keylen = rc;
	q->mi256 = m->mi256 >= 0;
	return 0;
}

/* The lifetime to grant, in seconds; -1 when LIFETIME is malformed (400). */
static long pick_lifetime(struct req *q)
{
	const struct config *cfg = &q->w->r->cfg;
	const struct stun_attr *la = stun_msg_find(q->m, STUN_A_LIFETIME);
	uint32_t want;

	if (!la)
		return cfg->default_lifetime;
	if (stun_attr_u32(q->m, la, &want) < 0)
		return -1;
	if (want == 0)
		return 0;
	/* §7.2: min(requested, max), but never below the default. */
	if (want > cfg->max_lifetime)
		want = cfg->max_lifetime;
	return want < cfg->default_lifetime ? cfg->default_lifetime : want;
}

static void allocate_success(struct req *q, struct allocation *a, bool v6_failed)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;
	uint64_t left = a->expires > q->w->now_ms ? (a->expires - q->w->now_ms) / 1000 : 0;

	resp_begin(q, &wr, buf, STUN_SUCCESS);
	for (unsigned i = 0; i < a->n_rs; i++)
		stun_wr_xaddr(&wr, STUN_A_XOR_RELAYED_ADDRESS, &a->rs[i].addr);
	stun_wr_u32(&wr, STUN_A_LIFETIME, (uint32_t)left);
	stun_wr_xaddr(&wr, STUN_A_XOR_MAPPED_ADDRESS, &q->cc->client);
	if (a->reservation)
		stun_wr_u64(&wr, STUN_A_RESERVATION_TOKEN, a->reservation);
	if (v6_failed) {
		/* ADDRESS-ERROR-CODE (RFC 8656 §18.12): family, then an ERROR-CODE body. */
		const char *why = stun_error_reason(440);
		uint8_t v[4 + 64] = {TW_AF_INET6, 0, 4, 40};
		size_t wl = strlen(why) < 64 ? strlen(why) : 64;

		memcpy(v + 4, why, wl);
		stun_wr_attr(&wr, STUN_A_ADDRESS_ERROR_CODE, v, 4 + wl);
	}
	resp_send(q, &wr);
}

/* An address-family attribute: 400 when malformed, 440 for an unknown family. */
static int family_attr(const struct stun_msg *m, const struct stun_attr *a, uint8_t *fam)
{
	if (a->len != 4)
		return 400;
	return stun_attr_family(m, a, fam) < 0 ? 440 : 0;
}

/* Which relay families the Allocate asks for; 0 or an error code. */
static int allocate_families(struct req *q, uint8_t *fam, bool *dual)
{
	const struct stun_msg *m = q->m;
	const struct stun_attr *raf = stun_msg_find(m, STUN_A_REQUESTED_ADDRESS_FAMILY);
	const struct stun_attr *aaf = stun_msg_find(m, STUN_A_ADDITIONAL_ADDRESS_FAMILY);
	struct relay *r = q->w->r;

	*fam = TW_AF_INET; /* §7.2: IPv4 unless asked otherwise */
	*dual = false;
	int code;

	if (raf && aaf)
		return 400;
	if (raf && (code = family_attr(m, raf, fam)) != 0)
		return code;
	if (aaf) {
		uint8_t f;

		if (family_attr(m, aaf, &f) != 0 || f != TW_AF_INET6)
			return 400;
		*dual = true;
	}
	if (!r->relay_addr[*fam == TW_AF_INET6].family)
		return 440;
	return 0;
}

static int open_relay_socks(struct req *q, struct allocation *a, uint8_t fam, bool dual,
                            bool *v6_failed)
{
	const struct stun_msg *m = q->m;
	struct relay *r = q->w->r;
	const struct stun_attr *ep = stun_msg_find(m, STUN_A_EVEN_PORT);
	const struct stun_attr *rt = stun_msg_find(m, STUN_A_RESERVATION_TOKEN);
	bool even = ep != NULL, reserve = false;
	uint64_t token = 0;
	int fd;

	if (ep && stun_attr_even_port(m, ep, &reserve) < 0)
		return 400;
	if (rt) {
		if (stun_attr_u64(m, rt, &token) < 0)
			return 400;
		fd = ports_take(r->ports, token, &a->rs[0].addr);
		if (fd < 0)
			return 508; /* §7.2: an unknown or expired token */
	} else {
		fd = ports_open(r->ports, &r->relay_addr[fam == TW_AF_INET6], even, reserve, q->user,
		                &token, &a->rs[0].addr, q->w->now_ms);
		if (fd < 0)
			return fd == -EDQUOT ? 486 : 508;
		if (reserve)
			a->reservation = token;
	}
	a->rs[0].fd = fd;
	a->rs[0].a = a;
	a->n_rs = 1;
	if (dual) {
		fd = ports_open(r->ports, &r->relay_addr[1], false, false, NULL, &token,
		                &a->rs[1].addr, q->w->now_ms);
		if (r->relay_addr[1].family && fd >= 0) {
			a->rs[1].fd = fd;
			a->rs[1].a = a;
			a->n_rs = 2;
		} else {
			if (fd >= 0)
				close(fd);
			*v6_failed = true;
		}
	}
	return 0;
}

static void do_allocate(struct req *q)
{
	const struct stun_msg *m = q->m;
	struct client_ctx *cc = q->cc;
	struct worker *w = q->w;
	const struct stun_attr *rt;
	struct allocation *a;
	uint8_t proto, fam;
	bool dual, v6_failed = false;
	unsigned owner;
	long lifetime;
	int code, rc;

	if (cc->a) {
		/* §7.2: a retransmission gets the same answer, anything else 437. */
		if (memcmp(cc->a->alloc_tid, m->tid, STUN_TID_LEN) == 0)
			allocate_success(q, cc->a, false);
		else
			error_reply(q, 437);
		return;
	}
	rt = stun_msg_find(m, STUN_A_REQUESTED_TRANSPORT);
	if (!rt || stun_attr_transport(m, rt, &proto) < 0)
		return error_reply(q, 400);
	if (proto != STUN_PROTO_UDP)
		return error_reply(q, 442);
	if (stun_msg_find(m, STUN_A_RESERVATION_TOKEN) &&
	    (stun_msg_find(m, STUN_A_EVEN_PORT) ||
	     stun_msg_find(m, STUN_A_REQUESTED_ADDRESS_FAMILY)))
		return error_reply(q, 400);
	code = allocate_families(q, &fam, &dual);
	if (code)
		return error_reply(q, code);
	lifetime = pick_lifetime(q);
	if (lifetime < 0)
		return error_reply(q, 400);
	if (lifetime == 0)
		lifetime = w->r->cfg.default_lifetime;

	a = calloc(1, sizeof(*a));
	if (!a)
		return error_reply(q, 508);
	a->key = (struct alloc_key){
	        .transport = cc->transport, .client = cc->client, .local = cc->local};
	a->cfd = -1;
	rc = registry_claim(w->r->reg, &a->key, q->user, w->id, true, &owner);
	if (rc < 0) {
		free(a);
		if (rc == -EEXIST) /* another worker is creating it: the retransmit goes there */
			return worker_drop(w, DROP_NOT_OWNER, &cc->client);
		return error_reply(q, rc == -EDQUOT ? 486 : 508);
	}
	a->w = w;
	if (alloc_set_user(a, q->user) < 0) {
		registry_release(w->r->reg, &a->key, q->user);
		free(a);
		return error_reply(q, 508);
	}
	code = open_relay_socks(q, a, fam, dual, &v6_failed);
	if (code) {
		registry_release(w->r->reg, &a->key, a->user);
		free(a->user);
		free(a);
		return error_reply(q, code);
	}
	a->dont_fragment = stun_msg_find(m, STUN_A_DONT_FRAGMENT) != NULL;
	memcpy(a->alloc_tid, m->tid, STUN_TID_LEN);
	a->expires = w->now_ms + (uint64_t)lifetime * 1000;
	a->lst = cc->lst;
	a->tc = cc->tc;
	alloc_insert(w, a);
	for (unsigned i = 0; i < a->n_rs; i++)
		if (udp_relay_watch(w, &a->rs[i]) < 0)
			goto fail;
	if (cc->transport == STUN_PROTO_UDP && udp_client_open(w, a) < 0)
		goto fail;
	if (cc->transport == STUN_PROTO_TCP)
		tcp_conn_set_alloc(cc->tc, a);
	cc->a = a;
	if (log_enabled(LOG_LVL_INFO)) {
		char c[TW_ADDR_STRLEN], rl[TW_ADDR_STRLEN];

		log_info("allocation %s for %s (%s) via %s, %lds",
		         tw_addr_fmt(&a->rs[0].addr, rl, sizeof(rl)),
		         tw_addr_fmt(&cc->client, c, sizeof(c)), a->user,
		         cc->transport == STUN_PROTO_TCP ? "tcp" : "udp", lifetime);
	}
	sync_changed(a);
	q->hold = true;
	allocate_success(q, a, v6_failed);
	return;
fail:
	alloc_delete(a);
	error_reply(q, 508);
}

static void do_refresh(struct req *q)
{
	const struct stun_attr *raf = stun_msg_find(q->m, STUN_A_REQUESTED_ADDRESS_FAMILY);
	struct allocation *a = q->cc->a;
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;
	long lifetime;
	uint8_t fam;
	int code;

	if (!a)
		return error_reply(q, 437);
	if (raf) {
		/* §7.3: asking to refresh a family the allocation does not have. */
		code = family_attr(q->m, raf, &fam);
		if (code)
			return error_reply(q, code);
		if (!alloc_relay_for(a, fam))
			return error_reply(q, 443);
	}
	lifetime = pick_lifetime(q);
	if (lifetime < 0)
		return error_reply(q, 400);
	if (lifetime == 0) {
		STAT_INC(&q->w->st, allocs_deleted);
		q->cc->a = NULL;
		alloc_delete(a);
	} else {
		a->expires = q->w->now_ms + (uint64_t)lifetime * 1000;
		sync_changed(a);
	}
	q->hold = true;
	resp_begin(q, &wr, buf, STUN_SUCCESS);
	stun_wr_u32(&wr, STUN_A_LIFETIME, (uint32_t)lifetime);
	resp_send(q, &wr);
}

/* A peer address from the request, checked for family and policy: 0 or an error code. */
static int peer_check(struct req *q, const struct stun_attr *pa, struct tw_addr *peer)
{
	if (stun_attr_xaddr(q->m, pa, peer) < 0)
		return 400;
	if (!alloc_relay_for(q->cc->a, peer->family))
		return 443;
	if (policy_check(q->w->r->policy, peer) != POLICY_ALLOW) {
		if (log_enabled(LOG_LVL_DEBUG)) {
			char a[TW_ADDR_STRLEN];

			log_debug("peer %s denied by policy", tw_addr_fmt(peer, a, sizeof(a)));
		}
		return 403;
	}
	return 0;
}

static void ok_reply(struct req *q)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	resp_begin(q, &wr, buf, STUN_SUCCESS);
	resp_send(q, &wr);
}

static void do_create_permission(struct req *q)
{
	const struct stun_msg *m = q->m;
	struct allocation *a = q->cc->a;
	struct tw_addr peers[STUN_MAX_ATTRS];
	unsigned n = 0, fresh = 0;
	int code;

	if (!a)
		return error_reply(q, 437);
	/* §8.2: all peers are checked before any permission is installed. */
	for (unsigned i = 0; i < m->nattrs; i++) {
		if (m->attr[i].type != STUN_A_XOR_PEER_ADDRESS)
			continue;
		code = peer_check(q, &m->attr[i], &peers[n]);
		if (code)
			return error_reply(q, code);
		fresh += alloc_perm_find(a, &peers[n]) == NULL;
		n++;
	}
	if (n == 0)
		return error_reply(q, 400);
	if (a->n_perms + fresh > ALLOC_MAX_PERMS)
		return error_reply(q, 508);
	for (unsigned i = 0; i < n; i++)
		alloc_perm_add(a, &peers[i]);
	sync_changed(a);
	q->hold = true;
	ok_reply(q);
}

static void do_channel_bind(struct req *q)
{
	const struct stun_attr *ca = stun_msg_find(q->m, STUN_A_CHANNEL_NUMBER);
	const struct stun_attr *pa = stun_msg_find(q->m, STUN_A_XOR_PEER_ADDRESS);
	struct allocation *a = q->cc->a;
	struct tw_addr peer;
	uint16_t num;
	int code;

	if (!a)
		return error_reply(q, 437);
	if (!ca || !pa || stun_attr_channel(q->m, ca, &num) < 0)
		return error_reply(q, 400);
	if (!(q->w->r->cfg.rfc5766_channels ? chan_valid_rfc5766(num) : chan_valid(num)))
		return error_reply(q, 400);
	code = peer_check(q, pa, &peer);
	if (code)
		return error_reply(q, code);
	if (!alloc_perm_find(a, &peer) && a->n_perms >= ALLOC_MAX_PERMS)
		return error_reply(q, 508);
	switch (alloc_chan_bind(a, num, &peer)) {
	case 0:
		break;
	case -EBUSY:
		return error_reply(q, 400); /* §11.2: number or peer bound elsewhere */
	default:
		return error_reply(q, 508);
	}
	alloc_perm_add(a, &peer); /* §11.2: a binding installs or refreshes the permission */
	sync_changed(a);
	q->hold = true;
	ok_reply(q);
}

static void do_binding(struct req *q)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	resp_begin(q, &wr, buf, STUN_SUCCESS);
	stun_wr_xaddr(&wr, STUN_A_XOR_MAPPED_ADDRESS, &q->cc->client);
	resp_send(q, &wr);
}

/* Client to peer: the same checks for Send indications and ChannelData. */
static void to_peer(struct worker *w, struct client_ctx *cc, const struct tw_addr *peer,
                    const uint8_t *data, size_t len)
{
	struct allocation *a = cc->a;
	struct relay_sock *rs = alloc_relay_for(a, peer->family);

	STAT_INC(&w->st, rx_client_pkts);
	STAT_ADD(&w->st, rx_client_bytes, len);
	if (!rs || !alloc_perm_find(a, peer))
		return worker_drop(w, DROP_NO_PERMISSION, peer);
	if (!alloc_bw_take(a, len))
		return worker_drop(w, DROP_BANDWIDTH, &cc->client);
	STAT_INC(&w->st, tx_peer_pkts);
	STAT_ADD(&w->st, tx_peer_bytes, len);
	/* TCP frames live in the connection's buffer, which moves on: send now. */
	if (cc->transport == STUN_PROTO_TCP)
		tx_now(w, rs->fd, peer, data, len);
	else
		tx_push(w, rs->fd, peer, data, len);
}

static void do_send(struct worker *w, struct client_ctx *cc, const struct stun_msg *m)
{
	const struct stun_attr *pa = stun_msg_find(m, STUN_A_XOR_PEER_ADDRESS);
	const struct stun_attr *da = stun_msg_find(m, STUN_A_DATA);
	struct tw_addr peer;

	if (!cc->a)
		return worker_drop(w, DROP_NO_ALLOCATION, &cc->client);
	if (!pa || !da || stun_attr_xaddr(m, pa, &peer) < 0)
		return worker_drop(w, DROP_MALFORMED, &cc->client);
	to_peer(w, cc, &peer, stun_attr_val(m, da), da->len);
}

static void handle_chdata(struct worker *w, struct client_ctx *cc, const uint8_t *buf, size_t len)
{
	const uint8_t *data;
	size_t dlen, used;
	uint16_t num;
	struct chan *c;

	if (chdata_parse(buf, len, cc->transport == STUN_PROTO_TCP, &num, &data, &dlen, &used) < 0)
		return worker_drop(w, DROP_MALFORMED, &cc->client);
	if (!cc->a)
		return worker_drop(w, DROP_NO_ALLOCATION, &cc->client);
	c = alloc_chan_by_num(cc->a, num);
	if (!c || !chan_live(c, w->now_ms))
		return worker_drop(w, DROP_NO_CHANNEL, &cc->client);
	to_peer(w, cc, &c->peer, data, dlen);
}

static void unknown_reply(struct req *q)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	count_error(q->w, 420);
	resp_begin(q, &wr, buf, STUN_ERROR);
	stun_wr_error(&wr, STUN_A_ERROR_CODE, 420, NULL);
	stun_wr_unknown(&wr, q->m->unknown, q->m->nunknown);
	resp_send(q, &wr);
}

static void handle_request(struct req *q)
{
	const struct stun_msg *m = q->m;

	if (m->method == STUN_BINDING) {
		if (m->nunknown)
			return unknown_reply(q);
		return do_binding(q);
	}
	if (m->method != STUN_ALLOCATE && m->method != STUN_REFRESH &&
	    m->method != STUN_CREATE_PERMISSION && m->method != STUN_CHANNEL_BIND) {
		if (unauth_allowed(q))
			error_reply(q, 400);
		return;
	}
	if (authenticate(q) < 0)
		return;
	if (q->cc->a && strcmp(q->cc->a->user, q->user) != 0) {
		STAT_INC(&q->w->st, auth_fail[AUTHF_WRONG_USER]);
		return error_reply(q, 441);
	}
	/* RFC 8489 §6.3.1: unknown comprehension-required attributes, after auth. */
	if (m->nunknown)
		return unknown_reply(q);
	switch (m->method) {
	case STUN_ALLOCATE:
		return do_allocate(q);
	case STUN_REFRESH:
		return do_refresh(q);
	case STUN_CREATE_PERMISSION:
		return do_create_permission(q);
	case STUN_CHANNEL_BIND:
		return do_channel_bind(q);
	}
}

static void handle_stun(struct worker *w, struct client_ctx *cc, const uint8_t *buf, size_t len)
{
	struct stun_msg m;
	struct req q;
	int rc;

	rc = stun_msg_parse(&m, buf, len);
	if (rc == -EBADMSG)
		return worker_drop(w, DROP_NOT_STUN, &cc->client);
	if (rc == 0 && m.fp >= 0 && !stun_msg_fingerprint_ok(&m))
		return worker_drop(w, DROP_FINGERPRINT, &cc->client);
	memset(&q, 0, sizeof(q));
	q.w = w;
	q.cc = cc;
	q.m = &m;
	if (rc < 0) {
		/* -EPROTO: a real STUN header with broken attributes. A request
		 * is answered (and counted as a 400), anything else is dropped. */
		if (m.cls != STUN_REQUEST)
			return worker_drop(w, DROP_MALFORMED, &cc->client);
		if (unauth_allowed(&q))
			error_reply(&q, 400);
		return;
	}
	STAT_INC(&w->st, requests[m.method & 15]);
	switch (m.cls) {
	case STUN_REQUEST:
		return handle_request(&q);
	case STUN_INDICATION:
		/* RFC 8489 §6.3.2: unknown comprehension-required means discard. */
		if (m.nunknown)
			return worker_drop(w, DROP_MALFORMED, &cc->client);
		if (m.method == STUN_SEND)
			do_send(w, cc, &m);
		return; /* Binding indications are keepalives (RFC 8489 §6.3.2) */
	default:
		return worker_drop(w, DROP_UNEXPECTED, &cc->client);
	}
}

void turn_client_input(struct worker *w, struct client_ctx *cc, uint8_t *buf, size_t len)
{
	if (len == 0)
		return worker_drop(w, DROP_NOT_STUN, &cc->client);
	switch (demux_first_byte(buf[0])) {
	case DEMUX_STUN:
		return handle_stun(w, cc, buf, len);
	case DEMUX_CHDATA:
		return handle_chdata(w, cc, buf, len);
	case DEMUX_CHDATA_RFC5766:
		if (w->r->cfg.rfc5766_channels)
			return handle_chdata(w, cc, buf, len);
		return worker_drop(w, DROP_NOT_STUN, &cc->client);
	default:
		return worker_drop(w, DROP_NOT_STUN, &cc->client);
	}
}

static void send_data_indication(struct worker *w, struct allocation *a, const struct tw_addr *peer,
                                 const uint8_t *data, size_t len)
{
	uint8_t buf[RX_BUFSZ + 64], tid[STUN_TID_LEN];
	struct stun_wr wr;
	int n;

	/* Indications need no unguessable id: nothing answers them. */
	for (unsigned i = 0; i < STUN_TID_LEN; i++)
		tid[i] = (uint8_t)(w->now_ms >> (i % 8) ^ i);
	stun_wr_init(&wr, buf, sizeof(buf), STUN_DATA, STUN_INDICATION, tid);
	stun_wr_xaddr(&wr, STUN_A_XOR_PEER_ADDRESS, peer);
	stun_wr_attr(&wr, STUN_A_DATA, data, len);
	n = stun_wr_finish(&wr);
	if (n < 0)
		return worker_drop(w, DROP_OVERSIZE, peer);
	if (a->tc) {
		if (tcp_conn_send(a->tc, buf, (size_t)n, NULL, 0, 0) < 0)
			return worker_drop(w, DROP_BACKPRESSURE, &a->key.client);
	} else {
		tx_now(w, a->lst->fd, &a->key.client, buf, (size_t)n);
	}
	STAT_INC(&w->st, tx_client_pkts);
	STAT_ADD(&w->st, tx_client_bytes, (uint64_t)n);
}

void turn_peer_input(struct worker *w, struct relay_sock *rs, const struct tw_addr *peer,
                     uint8_t *buf, size_t len)
{
	struct allocation *a = rs->a;
	struct chan *c;
	uint8_t *hdr = buf - CHDATA_HDR_LEN;

	STAT_INC(&w->st, rx_peer_pkts);
	STAT_ADD(&w->st, rx_peer_bytes, len);
	if (!alloc_perm_find(a, peer))
		return worker_drop(w, DROP_NO_PERMISSION, peer);
	if (!alloc_bw_take(a, len))
		return worker_drop(w, DROP_BANDWIDTH, peer);
	c = alloc_chan_by_peer(a, peer);
	if (!c || !chan_live(c, w->now_ms))
		return send_data_indication(w, a, peer, buf, len);
	if (len > 0xffff - CHDATA_HDR_LEN)
		return worker_drop(w, DROP_OVERSIZE, peer);
	/* The header goes into the headroom in front of the payload: no copy. */
	chdata_hdr_write(hdr, c->num, (uint16_t)len);
	if (a->tc) {
		if (tcp_conn_send(a->tc, hdr, CHDATA_HDR_LEN, buf, len, chdata_pad(len, true)) < 0)
			return worker_drop(w, DROP_BACKPRESSURE, &a->key.client);
	} else {
		tx_push(w, a->lst->fd, &a->key.client, hdr, len + CHDATA_HDR_LEN);
	}
	STAT_INC(&w->st, tx_client_pkts);
	STAT_ADD(&w->st, tx_client_bytes, len + CHDATA_HDR_LEN);
}
