/*
 * turnload: the TURN control plane of one client session (RFC 8656 over UDP,
 * long-term credentials with MD5 keys, RFC 8489 §9.2).
 *
 *   NEW -> ALLOC (401, then with credentials) -> [PERM] -> [BIND] -> READY
 *   READY -> REFRESH -> REBIND -> READY        (every refresh interval)
 *   any -> DELETE (Refresh, LIFETIME 0) -> CLOSED
 *   any -> FAILED                              (error answer or timeout)
 *
 * One transaction in flight per session; a 438 (stale nonce) or a 401 is
 * answered once more with the new nonce. Retransmission doubles the RTO from
 * 200 ms, six tries (RFC 8489 §6.2.1 with a shorter first RTO: loopback).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/chdata.h"
#include "tests/bench/turnload.h"

#define RTO_NS    200000000ull
#define MAX_TRIES 6
#define MAX_STALE 2

const char *tl_state_name(enum tl_state st)
{
	switch (st) {
	case TL_ST_NEW:
		return "new";
	case TL_ST_ALLOC:
		return "allocate";
	case TL_ST_PERM:
		return "create-permission";
	case TL_ST_BIND:
		return "channel-bind";
	case TL_ST_READY:
		return "ready";
	case TL_ST_REFRESH:
		return "refresh";
	case TL_ST_REBIND:
		return "rebind";
	case TL_ST_DELETE:
		return "delete";
	case TL_ST_CLOSED:
		return "closed";
	case TL_ST_FAILED:
		return "failed";
	}
	return "?";
}

/* Pending counts sessions still setting up; set-up ends when it reaches 0. */
static bool state_is_setup(enum tl_state st)
{
	return st == TL_ST_ALLOC || st == TL_ST_PERM || st == TL_ST_BIND;
}

static void change_state(struct tl_run *r, struct tl_sess *s, enum tl_state to)
{
	bool was = state_is_setup(s->state);

	if (!was && state_is_setup(to))
		r->pending++;
	if (was && !state_is_setup(to))
		r->pending--;
	if (to == TL_ST_READY && s->state != TL_ST_REFRESH && s->state != TL_ST_REBIND)
		r->ready++;
	if (to == TL_ST_FAILED)
		r->failed++;
	if (to == TL_ST_CLOSED)
		r->closed++;
	if (s->state == TL_ST_READY || s->state == TL_ST_REFRESH || s->state == TL_ST_REBIND)
		if (to == TL_ST_DELETE || to == TL_ST_FAILED || to == TL_ST_CLOSED)
			r->ready--;
	s->state = to;
}

int tl_sess_open(struct tl_run *r, struct tl_sess *s)
{
	struct sockaddr_in any = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLIN};

	/* A lab relay (tests/bench/fastpath.sh): the route picks the source. */
	if ((ntohl(r->o.server.sin_addr.s_addr) >> 24) == 127)
		any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = tl_sock_udp(&any, &r->o.server, 1 << 20);
	if (s->fd < 0)
		return s->fd;
	tl_port_mark(r->ports, s->fd);
	ev.data.u32 = s->idx;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -errno;
	s->chan = (uint16_t)(CHAN_MIN + s->idx % (CHAN_MAX - CHAN_MIN + 1));
	return 0;
}

static int sess_reopen(struct tl_run *r, struct tl_sess *s)
{
	int old = s->fd, rc;

	rc = tl_sess_open(r, s);
	if (rc < 0) {
		s->fd = old;
		return rc;
	}
	(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, old, NULL);
	close(old);
	return 0;
}

/* Builds a new request (new transaction id) for method and sends it. */
static void txn_begin(struct tl_run *r, struct tl_sess *s, uint16_t method, uint32_t lifetime)
{
	struct tl_txn *t = &s->txn;
	struct stun_wr w;
	int len;

	if (getrandom(t->tid, sizeof(t->tid), 0) != sizeof(t->tid)) {
		for (size_t i = 0; i < sizeof(t->tid); i++)
			t->tid[i] = (uint8_t)(r->seq++ * 131 + i);
	}
	stun_wr_init(&w, t->buf, sizeof(t->buf), method, STUN_REQUEST, t->tid);
	switch (method) {
	case STUN_ALLOCATE:
		stun_wr_u32(&w, STUN_A_REQUESTED_TRANSPORT, (uint32_t)STUN_PROTO_UDP << 24);
		stun_wr_u32(&w, STUN_A_LIFETIME, lifetime);
		break;
	case STUN_REFRESH:
		stun_wr_u32(&w, STUN_A_LIFETIME, lifetime);
		break;
	case STUN_CREATE_PERMISSION:
		stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &r->peer_tw);
		break;
	case STUN_CHANNEL_BIND:
		stun_wr_u32(&w, STUN_A_CHANNEL_NUMBER, (uint32_t)s->chan << 16);
		stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &r->peer_tw);
		break;
	}
	if (s->authed) {
		stun_wr_attr(&w, STUN_A_USERNAME, r->o.user, strlen(r->o.user));
		stun_wr_attr(&w, STUN_A_REALM, s->realm, s->realmlen);
		stun_wr_attr(&w, STUN_A_NONCE, s->nonce, s->noncelen);
		stun_wr_integrity(&w, s->key, sizeof(s->key));
	}
	stun_wr_fingerprint(&w);
	len = stun_wr_finish(&w);
	t->method = method;
	t->tries = 0;
	t->stale = 0;
	t->rto_ns = RTO_NS;
	t->len = len > 0 ? (size_t)len : 0;
	t->sent_ns = tl_now_ns();
	if (send(s->fd, t->buf, t->len, 0) < 0)
		s->err = -errno; /* retransmission will try again */
}

/* Resend the same request with fresh credentials (after 401 or 438). */
static void txn_again(struct tl_run *r, struct tl_sess *s)
{
	uint8_t stale = s->txn.stale;
	uint32_t lifetime = s->state == TL_ST_DELETE ? 0 : r->o.lifetime;

	txn_begin(r, s, s->txn.method, lifetime);
	s->txn.stale = (uint8_t)(stale + 1);
}

static void sess_fail(struct tl_run *r, struct tl_sess *s, int err)
{
	s->err = err;
	r->last_err = err;
	s->data_ok = false;
	if (!r->o.quiet && r->failed < 5)
		fprintf(stderr, "turnload: session %u failed in %s: %s %d\n", s->idx,
		        tl_state_name(s->state), err < 0 ? "errno" : "error", err < 0 ? -err : err);
	change_state(r, s, TL_ST_FAILED);
}

/* What to do after the allocation exists: permission, channel, or done. */
static void sess_next(struct tl_run *r, struct tl_sess *s, uint64_t now)
{
	bool want_perm = r->o.mode == TL_MODE_SETUP || r->o.data == TL_DATA_SEND;
	bool want_bind = r->o.mode == TL_MODE_SETUP || r->o.data == TL_DATA_CHANNEL;

	if (s->state == TL_ST_ALLOC && want_perm) {
		change_state(r, s, TL_ST_PERM);
		txn_begin(r, s, STUN_CREATE_PERMISSION, 0);
		return;
	}
	if ((s->state == TL_ST_ALLOC || s->state == TL_ST_PERM) && want_bind) {
		change_state(r, s, TL_ST_BIND);
		txn_begin(r, s, STUN_CHANNEL_BIND, 0);
		return;
	}
	change_state(r, s, TL_ST_READY);
	r->setup_ok++;
	tl_hist_add(&r->setup, now - s->t_start_ns);
	tl_data_prepare(r, s);
	s->data_ok = true;
}

static void sess_schedule_refresh(struct tl_run *r, struct tl_sess *s, uint64_t now)
{
	uint64_t every = r->o.refresh;

	/* Permissions last 300 s and channels 600 s (RFC 8656 §9, §12). */
	if (every == 0) {
		every = s->lifetime / 2;
		if (every > 120)
			every = 120;
		if (every < 1)
			every = 1;
	}
	s->next_refresh_ns = now + every * 1000000000ull;
}

static void on_success(struct tl_run *r, struct tl_sess *s, const struct stun_msg *m, uint64_t now)
{
	const struct stun_attr *a;
	uint32_t lt;

	r->txn_ok++;
	switch (s->state) {
	case TL_ST_ALLOC:
		a = stun_msg_find(m, STUN_A_XOR_RELAYED_ADDRESS);
		if (!a || stun_attr_xaddr(m, a, &s->relayed) < 0) {
			sess_fail(r, s, -EBADMSG);
			return;
		}
		a = stun_msg_find(m, STUN_A_LIFETIME);
		s->lifetime = (a && stun_attr_u32(m, a, &lt) == 0) ? lt : 600;
		sess_schedule_refresh(r, s, now);
		sess_next(r, s, now);
		break;
	case TL_ST_PERM:
	case TL_ST_BIND:
		sess_next(r, s, now);
		break;
	case TL_ST_REFRESH:
		a = stun_msg_find(m, STUN_A_LIFETIME);
		if (a && stun_attr_u32(m, a, &lt) == 0)
			s->lifetime = lt;
		change_state(r, s, TL_ST_REBIND);
		txn_begin(r, s,
		          r->o.data == TL_DATA_SEND ? STUN_CREATE_PERMISSION : STUN_CHANNEL_BIND,
		          0);
		break;
	case TL_ST_REBIND:
		r->refresh_ok++;
		sess_schedule_refresh(r, s, now);
		change_state(r, s, TL_ST_READY);
		break;
	case TL_ST_DELETE:
		change_state(r, s, TL_ST_CLOSED);
		break;
	case TL_ST_NEW:
	case TL_ST_READY:
	case TL_ST_CLOSED:
	case TL_ST_FAILED:
		break;
	}
}

/* 401 or 438 carry REALM and NONCE: keep them and the key they imply. */
static int take_challenge(struct tl_run *r, struct tl_sess *s, const struct stun_msg *m)
{
	const struct stun_attr *ra = stun_msg_find(m, STUN_A_REALM);
	const struct stun_attr *na = stun_msg_find(m, STUN_A_NONCE);
	uint8_t key[32];

	if (!na || na->len > sizeof(s->nonce))
		return -EBADMSG;
	if (ra) {
		if (ra->len >= sizeof(s->realm))
			return -EBADMSG;
		memcpy(s->realm, stun_attr_val(m, ra), ra->len);
		s->realm[ra->len] = '\0';
		s->realmlen = ra->len;
		if (stun_key_longterm(STUN_PWALG_MD5, r->o.user, strlen(r->o.user), s->realm,
		                      s->realmlen, r->o.pass, strlen(r->o.pass), key) != 16)
			return -EINVAL;
		memcpy(s->key, key, sizeof(s->key));
	} else if (!s->authed) {
		return -EBADMSG;
	}
	memcpy(s->nonce, stun_attr_val(m, na), na->len);
	s->noncelen = na->len;
	s->authed = true;
	return 0;
}

static void on_error(struct tl_run *r, struct tl_sess *s, const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_A_ERROR_CODE);
	const char *reason;
	size_t rlen;
	int code = 0;

	if (!a || stun_attr_error(m, a, &code, &reason, &rlen) < 0)
		code = 600;
	if ((code == 401 || code == 438) && s->txn.stale < MAX_STALE) {
		if (code == 401)
			r->txn_401++;
		else
			r->txn_438++;
		if (take_challenge(r, s, m) == 0) {
			txn_again(r, s);
			return;
		}
	}
	/* An allocation left on this 5-tuple by an earlier run that did not
	 * delete it (RFC 8656 §7.2): start again from another local port. */
	if (s->state == TL_ST_ALLOC && code == 437 && s->reopens < 3 && sess_reopen(r, s) == 0) {
		r->reopens++;
		s->reopens++;
		s->authed = false;
		txn_begin(r, s, STUN_ALLOCATE, r->o.lifetime);
		return;
	}
	/* Deleting something the server no longer has is still a delete. */
	if (s->state == TL_ST_DELETE && code == 437) {
		change_state(r, s, TL_ST_CLOSED);
		return;
	}
	if (s->state == TL_ST_REFRESH || s->state == TL_ST_REBIND) {
		r->refresh_fail++;
		r->last_err = code;
	}
	sess_fail(r, s, code);
}

void tl_sess_input(struct tl_run *r, struct tl_sess *s, const struct stun_msg *m)
{
	uint64_t now;

	if (m->cls != STUN_SUCCESS && m->cls != STUN_ERROR) {
		r->junk++;
		return;
	}
	/* Late answers to retransmitted requests are normal: ignore them. */
	if (s->txn.len == 0 || m->method != s->txn.method ||
	    memcmp(m->tid, s->txn.tid, STUN_TID_LEN) != 0)
		return;
	s->txn.len = 0;
	now = tl_now_ns();
	if (m->cls == STUN_SUCCESS)
		on_success(r, s, m, now);
	else
		on_error(r, s, m);
}

void tl_sess_start(struct tl_run *r, struct tl_sess *s)
{
	s->t_start_ns = tl_now_ns();
	s->authed = false;
	change_state(r, s, TL_ST_ALLOC);
	txn_begin(r, s, STUN_ALLOCATE, r->o.lifetime);
}

void tl_sess_delete(struct tl_run *r, struct tl_sess *s)
{
	s->data_ok = false;
	switch (s->state) {
	case TL_ST_PERM:
	case TL_ST_BIND:
	case TL_ST_READY:
	case TL_ST_REFRESH:
	case TL_ST_REBIND:
		change_state(r, s, TL_ST_DELETE);
		txn_begin(r, s, STUN_REFRESH, 0);
		break;
	case TL_ST_NEW:
	case TL_ST_ALLOC:
	case TL_ST_DELETE:
	case TL_ST_CLOSED:
	case TL_ST_FAILED:
		break;
	}
}

static void txn_retransmit(struct tl_run *r, struct tl_sess *s, uint64_t now)
{
	struct tl_txn *t = &s->txn;

	if (now < t->sent_ns + t->rto_ns)
		return;
	if (++t->tries >= MAX_TRIES) {
		r->txn_timeout++;
		t->len = 0;
		if (s->state == TL_ST_DELETE) {
			change_state(r, s, TL_ST_CLOSED);
			return;
		}
		if (s->state == TL_ST_REFRESH || s->state == TL_ST_REBIND) {
			r->refresh_fail++;
			r->last_err = -ETIMEDOUT;
		}
		sess_fail(r, s, -ETIMEDOUT);
		return;
	}
	r->txn_retx++;
	t->rto_ns *= 2;
	t->sent_ns = now;
	(void)send(s->fd, t->buf, t->len, 0);
}

/* Retransmissions and refreshes; called every few milliseconds. */
void tl_sess_timers(struct tl_run *r, uint64_t now)
{
	for (unsigned i = 0; i < r->nsess; i++) {
		struct tl_sess *s = &r->sess[i];

		if (s->txn.len)
			txn_retransmit(r, s, now);
		else if (s->state == TL_ST_READY && r->o.mode == TL_MODE_LOAD &&
		         tl_data_is_turn(r) && now >= s->next_refresh_ns) {
			change_state(r, s, TL_ST_REFRESH);
			txn_begin(r, s, STUN_REFRESH, r->o.lifetime);
		}
	}
}
