/*
 * A TWIST flow's control side: the Allocate (with the long-term credential
 * retry of RFC 8489 §9.2), Refresh, keepalives and teardown, as a state
 * machine without I/O (c->ops does it). The data path is tc_data.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/tc_client.h"
#include "common/log.h"

#define TC_RTO_MS    500 /* RFC 8489 §6.2.1 */
#define TC_RTO_TRIES 7   /* RFC 8489 §6.2.1 Rc */
/* After an ICMP error: an answer within 0.7 s (100 + 200 + 400 ms), or lost.
 * Longer than an HA pair's takeover, short enough for a dead lone server. */
#define TC_PROBE_TRIES   3
#define TC_PROBE_RTO_MS  100
#define TC_AUTH_TRIES    3    /* 401 then 438s before we give up */
#define TC_LIFETIME      600  /* what we ask a Refresh for (RFC 8656 default) */
#define TC_FAILED_HOLD   5000 /* a refused tuple's packets are dropped this long */
#define TC_RETRY_MS      5000 /* a listen port is armed again after a failure */
#define TC_MAX_REDIRECTS 3    /* 300s one Allocate follows */

static uint64_t now(const struct tc_flow *f)
{
	return f->c->ops->now_ms(f->c);
}

const char *tc_state_name(enum tc_state s)
{
	switch (s) {
	case TC_ALLOCATING:
		return "allocating";
	case TC_ACTIVE:
		return "active";
	case TC_CLOSING:
		return "closing";
	case TC_FAILED:
		return "failed";
	}
	return "?";
}

static void change_state(struct tc_flow *f, enum tc_state s)
{
	log_debug("flow %u: %s -> %s", f->id, tc_state_name(f->state), tc_state_name(s));
	f->state = s;
}

void tc_client_fatal(struct tc_client *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s", msg);
	c->exit_code = 1;
	c->ops->stop(c);
}

bool tc_server_gone(int err)
{
	return err == -ECONNREFUSED || err == -EHOSTUNREACH || err == -ENETUNREACH ||
	       err == -EHOSTDOWN || err == -ENETDOWN;
}

int tc_flow_send(struct tc_flow *f, const uint8_t *p, size_t len)
{
	int ret = f->c->ops->send(f, p, len);

	if (ret < 0) {
		f->c->st.drops[TC_DROP_SEND]++;
		/* Not here, deep in a send: the flow's timer handles it (tc_flow_rtx). */
		if (tc_server_gone(ret) && !f->sock_err) {
			f->sock_err = ret;
			if (!f->in_txn)
				f->c->ops->timer(f, 1);
		}
		return ret;
	}
	f->last_tx_ms = now(f);
	return 0;
}

static void txn_send(struct tc_flow *f)
{
	tc_flow_send(f, f->req, f->req_len);
	f->tries++;
	f->c->ops->timer(f, f->rto_ms);
}

static void alloc_req(const struct tc_flow *f, struct tc_alloc_req *r)
{
	memset(r, 0, sizeof(*r));
	r->transport = f->proto;
	r->keepalive = f->c->conf->keepalive;
	r->mode = f->c->mode ? f->c->mode : TWIST_ENCAP_TRANSPORT;
	if (f->listener) {
		r->type = TWIST_TYPE_LISTEN;
		r->family = TW_AF_INET; /* the TUN's IPv4 address receives */
		r->has_cookie = f->listener->has_cookie;
		memcpy(r->cookie, f->listener->cookie, TWIST_COOKIE_LEN);
	} else {
		r->type = TWIST_TYPE_CONNECT;
		r->family = f->map.peer.family;
		r->peer = f->map.peer;
	}
}

/* A new transaction (new id, the current credentials) for method. */
static int txn_start(struct tc_flow *f, uint16_t method, uint32_t lifetime)
{
	struct tc_client *c = f->c;
	struct tc_alloc_req r;
	int n;

	if (c->ops->random(f->tid, sizeof(f->tid)) < 0)
		return -EIO;
	if (method == STUN_ALLOCATE) {
		alloc_req(f, &r);
		n = tc_stun_allocate(f->req, sizeof(f->req), f->tid, &r, &c->cred);
	} else if (method == STUN_BINDING) {
		n = tc_stun_binding(f->req, sizeof(f->req), f->tid, 0);
	} else {
		n = tc_stun_refresh(f->req, sizeof(f->req), f->tid, lifetime, &c->cred);
	}
	if (n < 0)
		return n;
	f->req_len = (size_t)n;
	f->req_method = method;
	f->req_lifetime = lifetime;
	f->req_authed = c->cred.have && method != STUN_BINDING;
	f->in_txn = true;
	f->tries = 0;
	f->max_tries = TC_RTO_TRIES;
	f->rto_ms = TC_RTO_MS;
	txn_send(f);
	return 0;
}

static void flow_fail(struct tc_flow *f)
{
	struct tc_listener *l = f->listener;

	f->c->st.flows_failed++;
	tc_data_refuse(f);
	tc_queue_clear(&f->q);
	change_state(f, TC_FAILED);
	f->reap_ms = now(f) + TC_FAILED_HOLD;
	if (l && l->armed == f) {
		l->armed = NULL;
		l->retry_ms = now(f) + TC_RETRY_MS;
	}
}

static void flow_close(struct tc_flow *f)
{
	tc_table_del(&f->c->table, &f->node);
	tc_queue_clear(&f->q);
	change_state(f, TC_CLOSING);
	f->c->st.flows_closed++;
	if (txn_start(f, STUN_REFRESH, 0) < 0)
		f->dead = true;
}

static const char *fmt(const struct tw_addr *a, char *buf)
{
	return tw_addr_fmt(a, buf, TW_ADDR_STRLEN);
}

static int flow_open(struct tc_flow *f)
{
	int ret = f->c->ops->open(f);

	if (ret == 0)
		f->srv = f->c->server_addr;
	return ret;
}

/*
 * f's server gave no answer to an Allocate (or refused its socket): the
 * selection moves on, and new flows follow it. Flows still on the old
 * server find out for themselves, each at its next send or timer.
 */
static void server_failed(struct tc_flow *f)
{
	struct tc_client *c = f->c;
	enum tc_srv_move m = tc_srv_failed(&c->sel, &f->srv, now(f));
	char a[TW_ADDR_STRLEN], b[TW_ADDR_STRLEN];

	if (m == TC_SRV_STALE)
		return;
	c->st.server_failures++;
	log_info("server %s failed: new flows go to %s (%s)", fmt(&f->srv, a), fmt(&c->sel.cur, b),
	         tc_srv_move_name(m));
	if (tw_addr_eq(&c->sel.cur, &c->server_addr) || c->ops->server_set(c, &c->sel.cur) < 0)
		return;
	c->st.server_switches++;
	/* The realm and nonce are the new server's to give. */
	c->cred.have = false;
}

/* A new socket and a new Allocate for the same application 5-tuple. */
static void reopen(struct tc_flow *f)
{
	struct tc_client *c = f->c;
	char a[TW_ADDR_STRLEN];

	c->ops->timer(f, 0);
	c->ops->close(f);
	f->in_txn = false;
	f->sock_err = 0;
	f->reopens++;
	f->auth_tries = 0;
	f->redirects = 0;
	c->st.reopens++;
	change_state(f, TC_ALLOCATING);
	log_info("flow %u: reopening on %s (attempt %u)", f->id, fmt(&c->server_addr, a),
	         f->reopens);
	if (flow_open(f) < 0 || txn_start(f, STUN_ALLOCATE, 0) < 0)
		flow_fail(f);
}

/*
 * Draft §12: the server stopped answering f. An open flow is reopened
 * where new flows go (the same server, unless another flow already found
 * it dead); an Allocate without an answer fails its server first. A
 * listen flow is not moved: its relayed address would change, so its
 * listener arms a new one. Bounded: one try per server, and one more.
 */
static void flow_lost(struct tc_flow *f, const char *why)
{
	struct tc_client *c = f->c;
	char a[TW_ADDR_STRLEN];

	if (f->state == TC_CLOSING) {
		f->dead = true;
		return;
	}
	if (f->state == TC_FAILED)
		return;
	c->st.lost++;
	log_info("flow %u: server %s lost: %s", f->id, fmt(&f->srv, a), why);
	if (f->state == TC_ALLOCATING)
		server_failed(f);
	if (f->listener || f->reopens > c->sel.n ||
	    (f->state == TC_ALLOCATING && tw_addr_eq(&f->srv, &c->server_addr))) {
		flow_fail(f);
		return;
	}
	reopen(f);
}

/*
 * An ICMP error is unauthenticated, and while an HA pair fails over the
 * node that still holds the VIP for a moment answers exactly so, its relay
 * dead (docs/ha.md "TWIST flows"). An active flow therefore asks the
 * server with a Binding, quickly retransmitted, and is lost only if no
 * answer comes (tc_flow_rtx): its TCP connections live on when the standby
 * answers instead.
 */
static bool probe_first(struct tc_flow *f)
{
	if (f->state != TC_ACTIVE)
		return false;
	f->sock_err = 0;
	f->c->st.icmp_probes++;
	if (!f->in_txn && txn_start(f, STUN_BINDING, 0) == 0) {
		f->max_tries = TC_PROBE_TRIES;
		f->rto_ms = TC_PROBE_RTO_MS;
		f->c->ops->timer(f, f->rto_ms);
	}
	return f->in_txn;
}

void tc_flow_sock_error(struct tc_flow *f, int err)
{
	if (f->dead || f->state == TC_FAILED || probe_first(f))
		return;
	f->in_txn = false;
	f->sock_err = 0;
	f->c->ops->timer(f, 0);
	flow_lost(f, strerror(-err));
}

void tc_flow_rtx(struct tc_flow *f)
{
	char why[64];

	if (f->sock_err) {
		bool resend = f->in_txn && f->state == TC_ACTIVE;

		tc_flow_sock_error(f, f->sock_err);
		if (!resend)
			return; /* lost, or a probe just sent */
	}
	if (!f->in_txn)
		return;
	if (f->tries < f->max_tries) {
		f->rto_ms *= 2;
		txn_send(f);
		return;
	}
	f->in_txn = false;
	log_warn("flow %u: no answer from the server to %s", f->id,
	         stun_method_name(f->req_method));
	snprintf(why, sizeof(why), "no answer to %s", stun_method_name(f->req_method));
	flow_lost(f, why);
}

static void print_listen(const struct tc_flow *f)
{
	char a[TW_ADDR_STRLEN], line[96];
	const struct tc_listen *s = &f->listener->spec;

	snprintf(line, sizeof(line), "listen %s:%u relayed %s",
	         s->proto == STUN_PROTO_TCP ? "tcp" : "udp", s->port,
	         tw_addr_fmt(&f->map.relayed, a, sizeof(a)));
	f->c->ops->announce(f->c, line);
}

static void flush_queue(struct tc_flow *f)
{
	struct tc_qpkt *e;

	while ((e = tc_queue_pop(&f->q))) {
		tc_data_to_relay(f, e->data, e->len);
		free(e);
	}
}

static void refresh_at(struct tc_flow *f, uint32_t lifetime)
{
	uint32_t early = lifetime > 120 ? 60 : lifetime / 2;

	f->refresh_ms = now(f) + (uint64_t)(lifetime - early) * 1000;
}

static void allocated(struct tc_flow *f, const struct tc_resp *r)
{
	char a[TW_ADDR_STRLEN];

	if (!r->has_relayed || r->relayed.port < TWIST_MIN_RELAY_PORT) {
		log_warn("flow %u: Allocate success without a usable XOR-RELAYED-ADDRESS", f->id);
		flow_fail(f);
		return;
	}
	f->map.relayed = r->relayed;
	f->encap = r->has_encap ? r->encap
	                        : (struct twist_encap){TWIST_ENCAP_TRANSPORT, TWIST_KA_NATT,
	                                               TWIST_KEEPALIVE_S};
	if (!f->encap.interval_s)
		f->encap.interval_s = TWIST_KEEPALIVE_S;
	if (f->encap.mode == TWIST_ENCAP_TUNNEL && !r->has_spi) {
		log_warn("flow %u: tunnel mode without a usable TWIST-SPI", f->id);
		flow_fail(f);
		return;
	}
	f->spi = r->spi;
	refresh_at(f, r->has_lifetime ? r->lifetime : TC_LIFETIME);
	change_state(f, TC_ACTIVE);
	tc_srv_ok(&f->c->sel, &f->srv);
	log_info("flow %u: %s %s, %s mode", f->id, f->reopens ? "reopened, relayed" : "relayed",
	         tw_addr_fmt(&f->map.relayed, a, sizeof(a)),
	         f->encap.mode == TWIST_ENCAP_TUNNEL ? "tunnel" : "transport");
	f->reopens = 0;
	if (f->listener) {
		if (r->has_cookie) {
			f->listener->has_cookie = true;
			memcpy(f->listener->cookie, r->cookie, TWIST_COOKIE_LEN);
		}
		print_listen(f);
	}
	flush_queue(f);
}

static void on_success(struct tc_flow *f, const struct tc_resp *r)
{
	if (f->req_method == STUN_ALLOCATE) {
		allocated(f, r);
	} else if (f->req_lifetime == 0) {
		f->dead = true;
	} else {
		f->c->st.refreshes++;
		refresh_at(f, r->has_lifetime ? r->lifetime : TC_LIFETIME);
	}
}

static void fmt_unknown(const struct tc_resp *r, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < r->nunknown && off < cap; i++)
		off += (size_t)snprintf(out + off, cap - off, " 0x%04x", r->unknown[i]);
}

/* Retries with fresh credentials: true when the request went out again. */
static bool auth_retry(struct tc_flow *f, const struct tc_resp *r)
{
	struct tc_client *c = f->c;

	if (!r->has_realm_nonce || ++f->auth_tries > TC_AUTH_TRIES)
		return false;
	if (tc_cred_set(&c->cred, r->realm, r->nonce) < 0)
		return false;
	return txn_start(f, f->req_method, f->req_lifetime) == 0;
}

int tc_server_outside(const struct tc_conf *conf, const struct tw_addr *a)
{
	struct tw_addr peer;

	for (size_t i = 0; i < conf->nroutes; i++)
		if (tw_cidr_match(&conf->routes[i], a))
			return -EINVAL;
	tc_xlate_peer(&conf->xlate, a, &peer);
	return tw_addr_eq(&peer, a) ? 0 : -EINVAL;
}

/*
 * RFC 8489 §10: an authenticated 300 to an Allocate names another server.
 * New flows go there from now on; the Allocate starts again, without
 * credentials, since the realm and nonce are the new server's to give.
 * True when the Allocate went out again.
 */
static bool follow_redirect(struct tc_flow *f, const struct tc_resp *r)
{
	struct tc_client *c = f->c;
	struct tw_addr old = c->server_addr;
	char a[TW_ADDR_STRLEN];

	if (f->req_method != STUN_ALLOCATE || !r->has_alt || f->redirects >= TC_MAX_REDIRECTS ||
	    r->alt.family != old.family || tc_server_outside(c->conf, &r->alt) < 0)
		return false;
	if (tw_addr_eq(&r->alt, &old) || c->ops->server_set(c, &r->alt) < 0)
		return false;
	tc_srv_redirect(&c->sel, &r->alt);
	c->st.redirects++;
	f->redirects++;
	log_info("flow %u: redirected by 300 to %s", f->id, tw_addr_fmt(&r->alt, a, sizeof(a)));
	c->ops->close(f);
	if (flow_open(f) < 0)
		return false;
	c->cred.have = false;
	f->auth_tries = 0;
	return txn_start(f, STUN_ALLOCATE, f->req_lifetime) == 0;
}

static void on_error(struct tc_flow *f, const struct tc_resp *r)
{
	struct tc_client *c = f->c;
	char unk[64], a[TW_ADDR_STRLEN];

	if (r->code == 420) {
		fmt_unknown(r, unk, sizeof(unk));
		tc_client_fatal(c,
		                "server %s does not support TWIST: it answered 420 (%s) to %s, "
		                "unknown attributes:%s",
		                fmt(&f->srv, a), r->reason, stun_method_name(f->req_method), unk);
		return;
	}
	if (r->code == 401 && f->req_authed) {
		tc_client_fatal(c,
		                "server %s refused the credentials of user '%s' (401 %s): "
		                "wrong user name or password",
		                fmt(&f->srv, a), c->conf->user, r->reason);
		return;
	}
	if ((r->code == 401 || r->code == 438) && auth_retry(f, r))
		return;
	if (r->code == 300 && follow_redirect(f, r))
		return;
	log_warn("flow %u: %s refused: %d %s", f->id, stun_method_name(f->req_method), r->code,
	         r->reason);
	/* An expired cookie: the next listen flow asks for a new port. */
	if (r->code == 403 && f->listener && f->req_method == STUN_ALLOCATE)
		f->listener->has_cookie = false;
	if (f->state == TC_CLOSING)
		f->dead = true;
	else
		flow_fail(f);
}

/* An indication: the Data indication that names a listen flow's peer. */
static void on_indication(struct tc_flow *f, const struct tc_resp *r)
{
	if (r->method != STUN_DATA || !r->has_peer || !r->data) {
		f->c->st.drops[TC_DROP_STUN]++;
		return;
	}
	if (f->listener && !f->latched && tc_data_latch(f, &r->peer) < 0)
		return;
	if (!tw_addr_eq(&r->peer, &f->map.peer)) {
		f->c->st.drops[TC_DROP_STUN]++;
		return;
	}
	tc_data_from_relay(f, r->data, r->data_len);
}

static void on_stun(struct tc_flow *f, const uint8_t *p, size_t len)
{
	struct tc_resp r;
	const struct tc_cred *cred = f->req_authed ? &f->c->cred : NULL;
	int ret = f->in_txn ? tc_stun_read(p, len, f->tid, cred, &r) : -ESRCH;

	if (ret == -ESRCH && tc_stun_read(p, len, NULL, NULL, &r) == 0) {
		on_indication(f, &r);
		return;
	}
	if (ret < 0 || r.method != f->req_method) {
		/* Binding answers to our keepalives land here too: not a drop. */
		if (!(ret == -ESRCH && r.method == STUN_BINDING))
			f->c->st.drops[TC_DROP_STUN]++;
		return;
	}
	/* A 300 we cannot verify is not an answer: an off-path attacker could
	 * send one to steer us. The real answer (or the timeout) still comes. */
	if (r.cls == STUN_ERROR && r.code == 300 && (!r.integrity_ok || !r.has_alt)) {
		f->c->st.drops[TC_DROP_FORGED_300]++;
		if (log_ratelimit(&f->c->log_forged, now(f), 10000))
			log_warn("flow %u: ignored a 300 Try Alternate without valid "
			         "MESSAGE-INTEGRITY (counted; logged once in 10 s)",
			         f->id);
		return;
	}
	f->in_txn = false;
	f->c->ops->timer(f, 0);
	/* A keepalive's answer, success or not: the server is there. */
	if (f->req_method == STUN_BINDING)
		return;
	if (r.cls == STUN_SUCCESS)
		on_success(f, &r);
	else
		on_error(f, &r);
}

void tc_flow_input(struct tc_flow *f, const uint8_t *p, size_t len)
{
	if (f->dead || f->c->exit_code || len == 0)
		return;
	if (len == 1 && p[0] == TWIST_KEEPALIVE_BYTE)
		return;
	if (p[0] < 0x40 && stun_is_msg(p, len)) {
		on_stun(f, p, len);
		return;
	}
	if (f->state == TC_ACTIVE && f->encap.mode == TWIST_ENCAP_TUNNEL) {
		tc_data_from_relay_esp(f, p, len);
		return;
	}
	if (f->state != TC_ACTIVE || !f->latched) {
		f->c->st.drops[TC_DROP_PEER_UNKNOWN]++;
		return;
	}
	tc_data_from_relay(f, p, len);
}

static struct tc_flow *flow_new(struct tc_client *c, uint8_t proto)
{
	struct tc_flow *f;

	if (c->nflows >= c->conf->max_flows)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	int ret;

	f->c = c;
	f->proto = proto;
	f->id = ++c->next_id;
	tc_queue_init(&f->q, TC_QUEUE_PKTS, TC_QUEUE_BYTES);
	TAILQ_INSERT_TAIL(&c->flows, f, link);
	c->nflows++;
	ret = flow_open(f);
	if (ret < 0) {
		log_warn("flow %u: cannot open a socket to the server: %s", f->id, strerror(-ret));
		tc_flow_free(f);
		return NULL;
	}
	f->last_tx_ms = f->last_data_ms = now(f);
	c->st.flows_created++;
	return f;
}

struct tc_flow *tc_flow_connect(struct tc_client *c, const struct tc_key *k,
                                const struct tw_addr *peer)
{
	struct tc_flow *f = flow_new(c, k->proto);

	if (!f)
		return NULL;
	f->node.key = *k;
	f->map.local = k->local;
	f->map.remote = k->remote;
	f->map.peer = *peer;
	f->latched = true;
	if (tc_table_add(&c->table, &f->node) < 0 || txn_start(f, STUN_ALLOCATE, 0) < 0) {
		tc_flow_free(f);
		return NULL;
	}
	return f;
}

struct tc_flow *tc_flow_listen(struct tc_client *c, struct tc_listener *l)
{
	struct tc_flow *f = flow_new(c, l->spec.proto);

	if (!f) {
		l->retry_ms = c->ops->now_ms(c) + TC_RETRY_MS;
		return NULL;
	}
	f->listener = l;
	l->armed = f;
	if (txn_start(f, STUN_ALLOCATE, 0) < 0) {
		tc_flow_free(f);
		return NULL;
	}
	return f;
}

void tc_flow_free(struct tc_flow *f)
{
	struct tc_client *c;

	if (!f)
		return;
	c = f->c;
	if (f->listener && f->listener->armed == f) {
		f->listener->armed = NULL;
		f->listener->retry_ms = now(f) + TC_RETRY_MS;
	}
	tc_table_del(&c->table, &f->node);
	tc_queue_clear(&f->q);
	c->ops->close(f);
	TAILQ_REMOVE(&c->flows, f, link);
	c->nflows--;
	free(f);
}

static void keepalive(struct tc_flow *f)
{
	uint8_t ka = TWIST_KEEPALIVE_BYTE;

	f->c->st.keepalives++;
	if (f->encap.keepalive != TWIST_KA_BINDING) {
		tc_flow_send(f, &ka, 1);
		return;
	}
	/* A transaction: no answer within its retransmissions means the
	 * server is gone (draft §12). A Refresh under way tells as much. */
	if (!f->in_txn)
		txn_start(f, STUN_BINDING, 0);
}

/* True when the application's side of f is done with it. */
static bool finished(const struct tc_flow *f, uint64_t now)
{
	const struct tc_conf *conf = f->c->conf;
	uint64_t last = f->last_data_ms;
	unsigned idle = f->proto == STUN_PROTO_TCP ? conf->tcp_idle_s : conf->udp_idle_s;

	if (!f->latched)
		return false; /* an armed listen flow waits for its peer */
	if (f->reap_ms && now >= f->reap_ms)
		return true;
	return now - last >= (uint64_t)idle * 1000;
}

void tc_flow_tick(struct tc_flow *f, uint64_t now)
{
	if (f->dead || (f->state == TC_FAILED && now >= f->reap_ms)) {
		tc_flow_free(f);
		return;
	}
	if (f->state != TC_ACTIVE)
		return;
	if (finished(f, now)) {
		flow_close(f);
		if (f->dead)
			tc_flow_free(f);
		return;
	}
	if (now - f->last_tx_ms >= (uint64_t)f->encap.interval_s * 1000)
		keepalive(f);
	if (now >= f->refresh_ms && !f->in_txn)
		txn_start(f, STUN_REFRESH, TC_LIFETIME);
}

void tc_flow_tcp_track(struct tc_flow *f, const uint8_t *seg, size_t len, bool out)
{
	uint8_t flags;

	if (f->proto != STUN_PROTO_TCP || len < TC_TCP_HDR)
		return;
	flags = seg[13];
	if (flags & 0x04)
		f->rst = true;
	if (flags & 0x01) {
		if (out)
			f->fin_out = true;
		else
			f->fin_in = true;
	}
	/* RFC 9293 §3.6: after both FINs only the last ACK (and TIME-WAIT
	 * retransmissions) remain; the grace period lets them through. */
	if (!f->reap_ms && (f->rst || (f->fin_in && f->fin_out)))
		f->reap_ms = now(f) + (uint64_t)f->c->conf->tcp_grace_s * 1000;
}
