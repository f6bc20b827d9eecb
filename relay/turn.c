/*
 * The TURN core's entry points: first-byte demux (RFC 7983), STUN parsing,
 * the method table, and responses. It is transport-neutral: it reaches the
 * client only through struct conn (relay/conn.h).
 */
#include <errno.h>
#include <string.h>

#include "proto/demux.h"
#include "proto/stun.h"
#include "common/log.h"
#include "relay/misdirect.h"
#include "relay/ratelimit.h"
#include "relay/sync.h"
#include "relay/turn.h"
#include "relay/turn_int.h"

static void indication_keepalive(struct worker *w, struct conn *c, const struct stun_msg *m)
{
	(void)w;
	(void)c;
	(void)m; /* RFC 8489 §6.3.2: a Binding indication is a keepalive */
}

static const struct turn_method methods[] = {
        /* RFC 8445 §7.3: an ICE check to this relay carries short-term credentials. */
        {STUN_BINDING, SM_BINDING, NULL, false, false, turn_do_binding, indication_keepalive, NULL,
         &turn_cred_short_term},
        {STUN_ALLOCATE, SM_ALLOCATE, &turn_cred_long_term, false, true, turn_do_allocate, NULL,
         NULL, NULL},
        {STUN_REFRESH, SM_REFRESH, &turn_cred_long_term, true, true, turn_do_refresh, NULL, NULL,
         NULL},
        {STUN_SEND, SM_SEND, NULL, false, false, NULL, turn_do_send, NULL, NULL},
        {STUN_DATA, SM_DATA, NULL, false, false, NULL, NULL, NULL, NULL},
        {STUN_CREATE_PERMISSION, SM_CREATE_PERMISSION, &turn_cred_long_term, true, true,
         turn_do_create_permission, NULL, NULL, NULL},
        {STUN_CHANNEL_BIND, SM_CHANNEL_BIND, &turn_cred_long_term, true, true, turn_do_channel_bind,
         NULL, NULL, NULL},
        /* RFC 6062: TCP connections cannot survive a failover, nothing to hold. */
        {STUN_CONNECT, SM_CONNECT, &turn_cred_long_term, true, false, turn_do_connect, NULL, NULL,
         NULL},
        {STUN_CONNECTION_BIND, SM_CONNECTION_BIND, &turn_cred_long_term, false, false,
         turn_do_connection_bind, NULL, turn_connection_bind_nonce, NULL},
};

static const struct turn_method *method_row(uint16_t method)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].method == method)
			return &methods[i];
	return NULL;
}

void turn_resp_begin(struct req *q, struct stun_wr *wr, uint8_t *buf, uint8_t cls)
{
	const char *sw = q->w->r->cfg.software;

	q->cls = cls;
	stun_wr_init(wr, buf, RESP_MAX, q->m->method, cls, q->m->tid);
	/* Classic clients (Debian's stun) take 0x8022 as RFC 3489's padded
	 * SERVER and reject the whole answer when its length is not 4-aligned. */
	if (q->m->classic) {
		stun_wr_classic(wr, q->m->tid0);
		return;
	}
	if (sw[0])
		stun_wr_attr(wr, STUN_A_SOFTWARE, sw, strlen(sw));
}

/* Integrity when the request was authenticated; FINGERPRINT when it had one. */
void turn_resp_send(struct req *q, struct stun_wr *wr)
{
	struct conn_return rp;
	int len, rc;

	if (q->keylen > 0) {
		if (q->mi256)
			stun_wr_integrity256(wr, q->key, (size_t)q->keylen);
		else
			stun_wr_integrity(wr, q->key, (size_t)q->keylen);
	}
	/* RFC 3489 has no FINGERPRINT: a classic client would not know it. */
	if (q->m->fp >= 0 && !q->m->classic)
		stun_wr_fingerprint(wr);
	len = stun_wr_finish(wr);
	if (len < 0) {
		log_warn("response to %s does not fit, not sent", stun_method_name(q->m->method));
		return;
	}
	/* Decision 5: a state change is answered once the standby has it. */
	if (q->row && q->row->hold && q->cls == STUN_SUCCESS && q->c->ops->replicates &&
	    q->c->ops->return_path(q->c, &rp) && sync_hold(q->w, &rp, wr->buf, (size_t)len))
		return;
	if (q->change || q->resp_port)
		rc = q->c->ops->send_alt(q->c, q->change, q->resp_port, wr->buf, (size_t)len);
	else
		rc = q->c->ops->send(q->c, wr->buf, (size_t)len);
	if (rc == -ENOBUFS)
		worker_drop(q->w, DROP_BACKPRESSURE, &q->c->client);
}

void turn_count_error(struct worker *w, int code)
{
	if (code >= 300 && code < 700)
		STAT_INC(&w->st, errors[code / 100 - 3][code % 100]);
}

void turn_error_why(struct req *q, int code, const char *reason)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	turn_count_error(q->w, code);
	turn_twist_count_error(q, code);
	turn_resp_begin(q, &wr, buf, STUN_ERROR);
	stun_wr_error(&wr, STUN_A_ERROR_CODE, code, reason);
	turn_resp_send(q, &wr);
}

void turn_error(struct req *q, int code)
{
	turn_error_why(q, code, NULL);
}

void turn_ok(struct req *q)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	turn_resp_begin(q, &wr, buf, STUN_SUCCESS);
	turn_resp_send(q, &wr);
}

bool turn_unauth_allowed(struct req *q)
{
	if (ratelimit_take(q->w->r->rl, &q->c->client, q->w->now_ms))
		return true;
	worker_drop(q->w, DROP_RATELIMIT, &q->c->client);
	return false;
}

bool turn_integrity_ok(const struct stun_msg *m, const uint8_t *key, int keylen)
{
	if (m->mi256 >= 0)
		return stun_msg_integrity256_ok(m, key, (size_t)keylen);
	return stun_msg_integrity_ok(m, key, (size_t)keylen);
}

void turn_error_unknown(struct req *q, const uint16_t *types, size_t n)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	turn_count_error(q->w, 420);
	turn_resp_begin(q, &wr, buf, STUN_ERROR);
	stun_wr_error(&wr, STUN_A_ERROR_CODE, 420, NULL);
	stun_wr_unknown(&wr, types, n);
	turn_resp_send(q, &wr);
}

static void handle_request(struct req *q)
{
	const struct turn_method *row = q->row;
	uint16_t unknown[STUN_MAX_UNKNOWN];
	size_t nunknown;

	turn_twist_mark(q);
	if (!row || !row->request) {
		if (turn_unauth_allowed(q))
			turn_error(q, 400);
		return;
	}
	/* The RFC 5780 alternate sockets serve discovery, not relaying. */
	if (q->c->binding_only && row->method != STUN_BINDING) {
		if (turn_unauth_allowed(q))
			turn_error(q, 403);
		return;
	}
	q->cred = row->cred;
	if (!q->cred && row->cred_opt && row->cred_opt->applies(q->m))
		q->cred = row->cred_opt;
	if (q->cred) {
		if (row->nonce_alt)
			q->nonce_alt = row->nonce_alt(q);
		if (q->cred->verify(q) < 0)
			return;
	}
	/* An ICE check's user is a pair of ufrags, no TURN user. */
	if (q->cred && q->cred->turn_user) {
		q->c->authed = true;
		if (q->c->a && strcmp(q->c->a->user, q->user) != 0) {
			STAT_INC(&q->w->st, auth_fail[AUTHF_WRONG_USER]);
			return turn_error(q, 441);
		}
	}
	/* RFC 8489 §6.3.1: unknown comprehension-required attributes, after
	 * auth; TWIST's are known only with twist.enabled (the client's probe). */
	nunknown = turn_twist_unknown(q, unknown);
	if (nunknown)
		return turn_error_unknown(q, unknown, nunknown);
	if (turn_twist_request(q))
		return;
	if (row->needs_alloc && !q->c->a)
		return turn_error(q, 437);
	row->request(q);
}

/* Per worker and kind: a scanner on a public port cannot flood the log. */
#define MISDIRECT_LOG_MS 10000
#define MISDIRECT_SHOW   24 /* bytes of the payload quoted in the log line */

bool turn_misdirected(struct worker *w, const struct conn *c, const uint8_t *buf, size_t len)
{
	enum misdirect_kind k = misdirect_classify(buf, len, c->ops->stream);
	const struct misdirect_desc *d = misdirect_desc(k);
	char from[TW_ADDR_STRLEN], to[TW_ADDR_STRLEN], esc[LOG_ESC_SIZE(MISDIRECT_SHOW)];

	if (k == MISDIRECT_NONE)
		return false;
	STAT_INC(&w->st, misdirected[k]);
	if (!log_ratelimit(&w->log_misdirect[k], w->now_ms, MISDIRECT_LOG_MS))
		return true;
	log_info("%s from %s on %s %s: %s (starts \"%s\"; %llu on worker %u so far, "
	         "twist_misdirected_total{kind=\"%s\"}; logged every %u s)",
	         d->what, tw_addr_fmt(&c->client, from, sizeof(from)), c->ops->name,
	         tw_addr_fmt(&c->local, to, sizeof(to)), d->hint,
	         log_esc(buf, len < MISDIRECT_SHOW ? len : MISDIRECT_SHOW, esc, sizeof(esc)),
	         (unsigned long long)STAT_GET(&w->st, misdirected[k]), w->id, d->name,
	         MISDIRECT_LOG_MS / 1000);
	return true;
}

static void not_stun(struct worker *w, struct conn *c, const uint8_t *buf, size_t len)
{
	turn_misdirected(w, c, buf, len);
	worker_drop(w, DROP_NOT_STUN, &c->client);
}

/*
 * RFC 8489 §12.2 (RFC 5389 §12.2): a request without the magic cookie is
 * RFC 3489's. Only Binding requests over datagrams are answered
 * (MAPPED-ADDRESS; RFC 3489 sent Binding over UDP only), under the
 * per-source limit, since a classic client cannot be told apart from a
 * spoofed one by anything it sends. 0 to go on, -1 when dropped.
 */
static int classic_admit(struct worker *w, struct req *q)
{
	if (q->m->method != STUN_BINDING || q->m->cls != STUN_REQUEST || q->c->ops->stream) {
		worker_drop(w, DROP_CLASSIC, &q->c->client);
		return -1;
	}
	STAT_INC(&w->st, classic_bindings);
	return turn_unauth_allowed(q) ? 0 : -1;
}

static int parse(struct worker *w, struct stun_msg *m, const uint8_t *buf, size_t len)
{
	int rc = stun_msg_parse(m, buf, len);

	if (rc == -EBADMSG && w->r->cfg.rfc3489)
		rc = stun_classic_parse(m, buf, len);
	return rc;
}

static void handle_stun(struct worker *w, struct conn *c, const uint8_t *buf, size_t len)
{
	const struct turn_method *row;
	struct stun_msg m;
	struct req q;
	int rc;

	rc = parse(w, &m, buf, len);
	if (rc == -EBADMSG)
		return not_stun(w, c, buf, len);
	if (rc == 0 && m.fp >= 0 && !stun_msg_fingerprint_ok(&m))
		return worker_drop(w, DROP_FINGERPRINT, &c->client);
	memset(&q, 0, sizeof(q));
	q.w = w;
	q.c = c;
	q.m = &m;
	if (rc < 0) {
		/* -EPROTO: a real STUN header with broken attributes. A request
		 * is answered (and counted as a 400), anything else is dropped;
		 * so is a broken classic message (its header proves little). */
		if (m.cls != STUN_REQUEST || m.classic)
			return worker_drop(w, DROP_MALFORMED, &c->client);
		if (turn_unauth_allowed(&q))
			turn_error(&q, 400);
		return;
	}
	if (m.classic && classic_admit(w, &q) < 0)
		return;
	/* RFC 6062: another worker owns the id; it reads the request again. */
	if (m.cls == STUN_REQUEST && m.method == STUN_CONNECTION_BIND && tcp_relay_elsewhere(&q))
		return;
	row = method_row(m.method);
	q.row = row;
	STAT_INC(&w->st, requests[row ? row->stat : SM_OTHER]);
	switch (m.cls) {
	case STUN_REQUEST:
		return handle_request(&q);
	case STUN_INDICATION:
		/* RFC 8489 §6.3.2: unknown comprehension-required means discard. */
		if (m.nunknown)
			return worker_drop(w, DROP_MALFORMED, &c->client);
		if (row && row->indication)
			row->indication(w, c, &m);
		return; /* other indications are ignored */
	default:
		return worker_drop(w, DROP_UNEXPECTED, &c->client);
	}
}

void turn_client_input(struct worker *w, struct conn *c, uint8_t *buf, size_t len)
{
	if (len == 0)
		return worker_drop(w, DROP_NOT_STUN, &c->client);
	switch (demux_first_byte(buf[0])) {
	case DEMUX_STUN:
		return handle_stun(w, c, buf, len);
	case DEMUX_CHDATA:
		return turn_chdata_input(w, c, buf, len);
	case DEMUX_CHDATA_RFC5766:
		if (w->r->cfg.rfc5766_channels)
			return turn_chdata_input(w, c, buf, len);
		return not_stun(w, c, buf, len);
	default:
		return not_stun(w, c, buf, len);
	}
}
