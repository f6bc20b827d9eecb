#include "client/ice/ice_turn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "proto/chdata.h"
#include "proto/stun.h"

#define TURN_RTO_MS      500
#define TURN_MAX_TX      7
#define TURN_TCP_WAIT_MS 10000
#define PERM_LIFE_MS     300000 /* RFC 8656 §9 */
#define PERM_REFRESH_MS  240000
#define CHAN_LIFE_MS     600000 /* RFC 8656 §12 */
#define CHAN_REFRESH_MS  540000

const char *ice_turn_state_name(enum ice_turn_state s)
{
	switch (s) {
	case ICE_TURN_IDLE:
		return "idle";
	case ICE_TURN_ALLOCATING:
		return "allocating";
	case ICE_TURN_ALLOCATED:
		return "allocated";
	case ICE_TURN_FAILED:
		return "failed";
	}
	return "?";
}

static void change_state(struct ice_turn *t, enum ice_turn_state s, int err)
{
	char b[TW_ADDR_STRLEN];

	if (t->state == s)
		return;
	log_info("ice turn %s: %s -> %s%s%s", tw_addr_fmt(&t->server, b, sizeof(b)),
	         ice_turn_state_name(t->state), ice_turn_state_name(s), err ? ": " : "",
	         err ? strerror(-err) : "");
	t->state = s;
	if (s == ICE_TURN_ALLOCATED || s == ICE_TURN_FAILED)
		t->on_alloc(t->arg, t, s == ICE_TURN_FAILED ? err : 0);
}

void ice_turn_init(struct ice_turn *t, const struct ice_io_ops *io, void *io_ctx, int sock,
                   bool tcp, const struct tw_addr *server, const char *user, const char *pass)
{
	memset(t, 0, sizeof(*t));
	t->io = io;
	t->io_ctx = io_ctx;
	t->sock = sock;
	t->tcp = tcp;
	t->server = *server;
	snprintf(t->user, sizeof(t->user), "%s", user ? user : "");
	snprintf(t->pass, sizeof(t->pass), "%s", pass ? pass : "");
	t->next_chan = CHAN_MIN;
}

static void wr_auth(struct ice_turn *t, struct stun_wr *w)
{
	if (!t->have_key)
		return;
	stun_wr_attr(w, STUN_A_USERNAME, t->user, strlen(t->user));
	stun_wr_attr(w, STUN_A_REALM, t->realm, strlen(t->realm));
	stun_wr_attr(w, STUN_A_NONCE, t->nonce, strlen(t->nonce));
	stun_wr_integrity(w, t->key, sizeof(t->key));
}

static int build(struct ice_turn *t, struct ice_turn_tx *x)
{
	uint8_t tr[4] = {STUN_PROTO_UDP, 0, 0, 0};
	struct stun_wr w;
	int n;

	stun_wr_init(&w, x->buf, sizeof(x->buf), x->method, STUN_REQUEST, x->tid);
	switch (x->method) {
	case STUN_ALLOCATE:
		stun_wr_attr(&w, STUN_A_REQUESTED_TRANSPORT, tr, sizeof(tr));
		break;
	case STUN_REFRESH:
		stun_wr_u32(&w, STUN_A_LIFETIME, 600);
		break;
	case STUN_CREATE_PERMISSION:
		stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &t->perm[x->perm].peer);
		break;
	case STUN_CHANNEL_BIND:
		stun_wr_u32(&w, STUN_A_CHANNEL_NUMBER, (uint32_t)t->perm[x->perm].chan << 16);
		stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &t->perm[x->perm].peer);
		break;
	}
	wr_auth(t, &w);
	stun_wr_fingerprint(&w);
	n = stun_wr_finish(&w);
	if (n < 0)
		return n;
	x->len = (size_t)n;
	return 0;
}

static int tx_send(struct ice_turn *t, struct ice_turn_tx *x, uint64_t now)
{
	x->sent++;
	x->next_ms = now + (t->tcp ? TURN_TCP_WAIT_MS : x->rto_ms);
	x->rto_ms *= 2;
	return t->io->send(t->io_ctx, t->sock, &t->server, x->buf, x->len);
}

static int tx_start(struct ice_turn *t, uint16_t method, int perm, uint64_t now)
{
	struct ice_turn_tx *x = NULL;

	for (size_t i = 0; i < ICE_TURN_TX && !x; i++)
		if (!t->tx[i].active)
			x = &t->tx[i];
	if (!x)
		return -EBUSY;
	memset(x, 0, sizeof(*x));
	x->method = method;
	x->perm = perm;
	x->rto_ms = TURN_RTO_MS;
	t->io->random(t->io_ctx, x->tid, sizeof(x->tid));
	if (build(t, x) < 0)
		return -ENOSPC;
	x->active = true;
	tx_send(t, x, now);
	return 0;
}

int ice_turn_start(struct ice_turn *t, uint64_t now)
{
	if (t->state != ICE_TURN_IDLE)
		return -EALREADY;
	change_state(t, ICE_TURN_ALLOCATING, 0);
	return tx_start(t, STUN_ALLOCATE, -1, now);
}

void ice_turn_reset(struct ice_turn *t)
{
	struct ice_turn keep = *t;

	ice_turn_init(t, keep.io, keep.io_ctx, keep.sock, keep.tcp, &keep.server, keep.user,
	              keep.pass);
	t->on_alloc = keep.on_alloc;
	t->arg = keep.arg;
	t->drops = keep.drops;
	t->forged_300 = keep.forged_300;
	t->log_forged = keep.log_forged;
}

static int perm_find(struct ice_turn *t, const struct tw_addr *peer)
{
	for (size_t i = 0; i < t->nperm; i++)
		if (tw_addr_eq(&t->perm[i].peer, peer))
			return (int)i;
	return -1;
}

int ice_turn_permit(struct ice_turn *t, const struct tw_addr *peer, uint64_t now)
{
	int i = perm_find(t, peer);

	if (i >= 0)
		return 0;
	if (t->nperm == ICE_TURN_PERMS)
		return -ENOSPC;
	i = (int)t->nperm++;
	memset(&t->perm[i], 0, sizeof(t->perm[i]));
	t->perm[i].peer = *peer;
	if (t->state != ICE_TURN_ALLOCATED)
		return 0; /* asked for when the allocation is done */
	t->perm[i].perm_until = now + PERM_LIFE_MS;
	return tx_start(t, STUN_CREATE_PERMISSION, i, now);
}

int ice_turn_bind(struct ice_turn *t, const struct tw_addr *peer, uint64_t now)
{
	int i = perm_find(t, peer);

	if (i < 0 && ice_turn_permit(t, peer, now) < 0)
		return -ENOSPC;
	i = perm_find(t, peer);
	if (i < 0 || t->perm[i].chan)
		return 0;
	if (t->next_chan > CHAN_MAX)
		return -ENOSPC;
	t->perm[i].chan = t->next_chan++;
	t->perm[i].chan_until = now + CHAN_LIFE_MS;
	return tx_start(t, STUN_CHANNEL_BIND, i, now);
}

int ice_turn_send(struct ice_turn *t, const struct tw_addr *peer, const void *buf, size_t len)
{
	uint8_t out[1600];
	struct stun_wr w;
	uint8_t tid[STUN_TID_LEN];
	int i = perm_find(t, peer), n;

	if (t->state != ICE_TURN_ALLOCATED)
		return -ENOTCONN;
	if (i >= 0 && t->perm[i].chan_ok) {
		size_t pad = chdata_pad(len, t->tcp);

		if (len + CHDATA_HDR_LEN + pad > sizeof(out))
			return -EMSGSIZE;
		chdata_hdr_write(out, t->perm[i].chan, (uint16_t)len);
		memcpy(out + CHDATA_HDR_LEN, buf, len);
		memset(out + CHDATA_HDR_LEN + len, 0, pad);
		return t->io->send(t->io_ctx, t->sock, &t->server, out, CHDATA_HDR_LEN + len + pad);
	}
	t->io->random(t->io_ctx, tid, sizeof(tid));
	stun_wr_init(&w, out, sizeof(out), STUN_SEND, STUN_INDICATION, tid);
	stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, peer);
	stun_wr_attr(&w, STUN_A_DATA, buf, len);
	n = stun_wr_finish(&w);
	if (n < 0)
		return -EMSGSIZE;
	return t->io->send(t->io_ctx, t->sock, &t->server, out, (size_t)n);
}

static int attr_str(const struct stun_msg *m, uint16_t type, char *out, size_t cap)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	if (!a || a->len >= cap || !stun_opaque_ok(stun_attr_val(m, a), a->len))
		return -EBADMSG;
	memcpy(out, stun_attr_val(m, a), a->len);
	out[a->len] = '\0';
	return 0;
}

/* 401 or 438: new realm and nonce, and the same request again (RFC 8489 §9.2.5). */
static int turn_reauth(struct ice_turn *t, struct ice_turn_tx *x, const struct stun_msg *m,
                       uint64_t now)
{
	if (++t->auth_tries > 3 || attr_str(m, STUN_A_REALM, t->realm, sizeof(t->realm)) < 0 ||
	    attr_str(m, STUN_A_NONCE, t->nonce, sizeof(t->nonce)) < 0)
		return -EACCES;
	if (stun_key_longterm(STUN_PWALG_MD5, t->user, strlen(t->user), t->realm, strlen(t->realm),
	                      t->pass, strlen(t->pass), t->key) < 0)
		return -EACCES;
	t->have_key = true;
	x->active = false;
	return tx_start(t, x->method, x->perm, now);
}

static void on_allocated(struct ice_turn *t, const struct stun_msg *m, uint64_t now)
{
	const struct stun_attr *r = stun_msg_find(m, STUN_A_XOR_RELAYED_ADDRESS);
	const struct stun_attr *ma = stun_msg_find(m, STUN_A_XOR_MAPPED_ADDRESS);
	const struct stun_attr *l = stun_msg_find(m, STUN_A_LIFETIME);
	uint32_t life = 600;

	if (!r || stun_attr_xaddr(m, r, &t->relayed) < 0) {
		change_state(t, ICE_TURN_FAILED, -EBADMSG);
		return;
	}
	if (ma)
		stun_attr_xaddr(m, ma, &t->mapped);
	if (l)
		stun_attr_u32(m, l, &life);
	if (life < 120)
		life = 120;
	t->refresh_at = now + (uint64_t)(life - 60) * 1000;
	t->auth_tries = 0;
	change_state(t, ICE_TURN_ALLOCATED, 0);
	for (size_t i = 0; i < t->nperm; i++) {
		t->perm[i].perm_until = now + PERM_LIFE_MS;
		tx_start(t, STUN_CREATE_PERMISSION, (int)i, now);
	}
}

static void on_success(struct ice_turn *t, struct ice_turn_tx *x, const struct stun_msg *m,
                       uint64_t now)
{
	const struct stun_attr *l;
	uint32_t life = 600;

	switch (x->method) {
	case STUN_ALLOCATE:
		on_allocated(t, m, now);
		break;
	case STUN_REFRESH:
		if ((l = stun_msg_find(m, STUN_A_LIFETIME)))
			stun_attr_u32(m, l, &life);
		t->refresh_at = now + (uint64_t)(life > 120 ? life - 60 : 60) * 1000;
		break;
	case STUN_CREATE_PERMISSION:
		t->perm[x->perm].perm_ok = true;
		break;
	case STUN_CHANNEL_BIND:
		t->perm[x->perm].chan_ok = true;
		t->perm[x->perm].perm_ok = true; /* RFC 8656 §12.2: a binding installs one */
		break;
	}
}

static int error_code(const struct stun_msg *m)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_A_ERROR_CODE);
	const char *reason;
	size_t rlen;
	int code = 0;

	if (a)
		stun_attr_error(m, a, &code, &reason, &rlen);
	return code;
}

static void on_error(struct ice_turn *t, struct ice_turn_tx *x, const struct stun_msg *m,
                     uint64_t now)
{
	int code = error_code(m);

	if ((code == 401 && (x->method == STUN_ALLOCATE || !t->have_key)) || code == 438) {
		if (turn_reauth(t, x, m, now) == 0)
			return;
	}
	log_warn("ice turn: %s failed with %d", stun_method_name(x->method), code);
	if (x->method == STUN_ALLOCATE)
		change_state(t, ICE_TURN_FAILED, -EACCES);
	else if (x->method == STUN_CHANNEL_BIND)
		t->perm[x->perm].chan = 0;
}

/* Where a verified 300 sends the Allocate; -EINVAL when nowhere useful. */
static int redirect_target(struct ice_turn *t, const struct stun_msg *m, struct tw_addr *to)
{
	const struct stun_attr *alt = stun_msg_find(m, STUN_A_ALTERNATE_SERVER);

	if (!alt || stun_attr_addr(m, alt, to) < 0 || to->family != t->server.family || !to->port ||
	    tw_addr_eq(to, &t->server) || t->redirects >= ICE_TURN_REDIRECTS)
		return -EINVAL;
	if (t->tcp && (!t->io->reconnect || t->io->reconnect(t->io_ctx, t->sock, to) < 0))
		return -EINVAL;
	return 0;
}

/*
 * RFC 8489 §10 (issue 14): a 300 Try Alternate moves the allocation only
 * when our long-term key verifies its MESSAGE-INTEGRITY; anyone on the
 * path can forge an unsigned one. Otherwise it is counted and ignored:
 * the Allocate keeps waiting (and retransmitting) for the real answer.
 * Followed, the Allocate starts again without credentials, since the
 * realm and nonce are the new server's to give.
 */
static int on_300(struct ice_turn *t, struct ice_turn_tx *x, const struct stun_msg *m, uint64_t now)
{
	char b[TW_ADDR_STRLEN], c[TW_ADDR_STRLEN];
	struct tw_addr to;

	if (!t->have_key || !stun_msg_integrity_ok(m, t->key, sizeof(t->key))) {
		t->forged_300++;
		if (log_ratelimit(&t->log_forged, now, 10000))
			log_warn(
			        "ice turn %s: a 300 without valid MESSAGE-INTEGRITY ignored (%llu)",
			        tw_addr_fmt(&t->server, b, sizeof(b)),
			        (unsigned long long)t->forged_300);
		return 0;
	}
	x->active = false;
	if (redirect_target(t, m, &to) < 0) {
		change_state(t, ICE_TURN_FAILED, -EHOSTUNREACH);
		return 0;
	}
	log_info("ice turn %s: redirected by 300 to %s", tw_addr_fmt(&t->server, b, sizeof(b)),
	         tw_addr_fmt(&to, c, sizeof(c)));
	t->redirects++;
	t->server = to;
	t->have_key = false;
	t->auth_tries = 0;
	return tx_start(t, STUN_ALLOCATE, -1, now);
}

static struct ice_turn_tx *tx_find(struct ice_turn *t, const uint8_t *tid)
{
	for (size_t i = 0; i < ICE_TURN_TX; i++)
		if (t->tx[i].active && memcmp(t->tx[i].tid, tid, STUN_TID_LEN) == 0)
			return &t->tx[i];
	return NULL;
}

static int recv_answer(struct ice_turn *t, const struct stun_msg *m, uint64_t now)
{
	struct ice_turn_tx *x = tx_find(t, m->tid);

	if (!x || x->method != m->method)
		return -EBADMSG;
	if (m->cls == STUN_ERROR && x->method == STUN_ALLOCATE && error_code(m) == 300)
		return on_300(t, x, m, now);
	if (m->cls == STUN_SUCCESS && t->have_key &&
	    !stun_msg_integrity_ok(m, t->key, sizeof(t->key)))
		return -EBADMSG;
	x->active = false;
	if (m->cls == STUN_SUCCESS)
		on_success(t, x, m, now);
	else
		on_error(t, x, m, now);
	return 0;
}

static int recv_data_ind(const struct stun_msg *m, struct tw_addr *peer, const uint8_t **data,
                         size_t *dlen)
{
	const struct stun_attr *p = stun_msg_find(m, STUN_A_XOR_PEER_ADDRESS);
	const struct stun_attr *d = stun_msg_find(m, STUN_A_DATA);

	if (!p || !d || stun_attr_xaddr(m, p, peer) < 0)
		return -EBADMSG;
	*data = stun_attr_val(m, d);
	*dlen = d->len;
	return 1;
}

static int recv_chdata(struct ice_turn *t, const uint8_t *buf, size_t len, struct tw_addr *peer,
                       const uint8_t **data, size_t *dlen)
{
	uint16_t chan;
	size_t used;

	if (chdata_parse(buf, len, false, &chan, data, dlen, &used) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < t->nperm; i++) {
		if (t->perm[i].chan == chan && t->perm[i].chan_ok) {
			*peer = t->perm[i].peer;
			return 1;
		}
	}
	return -EBADMSG;
}

int ice_turn_recv(struct ice_turn *t, const uint8_t *buf, size_t len, uint64_t now,
                  struct tw_addr *peer, const uint8_t **data, size_t *dlen)
{
	struct stun_msg m;
	int rc;

	if (len >= CHDATA_HDR_LEN && (buf[0] & 0xc0) == 0x40)
		rc = recv_chdata(t, buf, len, peer, data, dlen);
	else if (stun_msg_parse(&m, buf, len) < 0)
		rc = -EBADMSG;
	else if (m.cls == STUN_INDICATION && m.method == STUN_DATA)
		rc = recv_data_ind(&m, peer, data, dlen);
	else if (m.cls == STUN_SUCCESS || m.cls == STUN_ERROR)
		rc = recv_answer(t, &m, now);
	else
		rc = -EBADMSG;
	if (rc < 0)
		t->drops++;
	return rc;
}

static void tx_timeout(struct ice_turn *t, struct ice_turn_tx *x)
{
	x->active = false;
	log_warn("ice turn: %s timed out", stun_method_name(x->method));
	if (x->method == STUN_ALLOCATE)
		change_state(t, ICE_TURN_FAILED, -ETIMEDOUT);
}

static void refresh_due(struct ice_turn *t, uint64_t now)
{
	if (now >= t->refresh_at) {
		t->refresh_at = now + 60000; /* until the answer sets the next one */
		tx_start(t, STUN_REFRESH, -1, now);
	}
	for (size_t i = 0; i < t->nperm; i++) {
		struct ice_turn_perm *p = &t->perm[i];

		if (p->perm_until && now + PERM_LIFE_MS - PERM_REFRESH_MS >= p->perm_until) {
			p->perm_until = now + PERM_LIFE_MS;
			tx_start(t, STUN_CREATE_PERMISSION, (int)i, now);
		}
		if (p->chan_ok && now + CHAN_LIFE_MS - CHAN_REFRESH_MS >= p->chan_until) {
			p->chan_until = now + CHAN_LIFE_MS;
			tx_start(t, STUN_CHANNEL_BIND, (int)i, now);
		}
	}
}

void ice_turn_tick(struct ice_turn *t, uint64_t now)
{
	for (size_t i = 0; i < ICE_TURN_TX; i++) {
		struct ice_turn_tx *x = &t->tx[i];

		if (!x->active || now < x->next_ms)
			continue;
		if (t->tcp || x->sent >= TURN_MAX_TX)
			tx_timeout(t, x);
		else
			tx_send(t, x, now);
	}
	if (t->state == ICE_TURN_ALLOCATED)
		refresh_due(t, now);
}
