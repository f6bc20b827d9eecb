/*
 * TWIST requests in the TURN core (docs/twist-protocol.md §3): an Allocate
 * with REQUESTED-TYPE, and Allocate/Refresh on a TWIST flow's 5-tuple.
 * Plain TURN requests never reach these handlers.
 */
#include <string.h>

#include "common/log.h"
#include "relay/policy.h"
#include "relay/turn.h"
#include "relay/turn_int.h"
#include "relay/twist_flow.h"

#define TWIST_CAPS_SERVED                                                                    \
	(TWIST_CAP_TRANSPORT | TWIST_CAP_TUNNEL | TWIST_CAP_KA_NATT | TWIST_CAP_KA_BINDING | \
	 TWIST_CAP_CONNECT | TWIST_CAP_LISTEN | TWIST_CAP_INTERWORKING)

static bool is_twist_attr(uint16_t t)
{
	return t == TWIST_A_CAPS || t == TWIST_A_REQUESTED_TYPE || t == TWIST_A_ENCAP_TYPE ||
	       t == TWIST_A_COOKIE || t == TWIST_A_SPI;
}

size_t turn_twist_unknown(const struct req *q, uint16_t *out)
{
	const struct stun_msg *m = q->m;
	size_t n = 0;
	bool known = q->w->r->twist && (m->method == STUN_BINDING || m->method == STUN_ALLOCATE ||
	                                m->method == STUN_REFRESH);

	for (uint8_t i = 0; i < m->nunknown; i++)
		if (!known || !is_twist_attr(m->unknown[i]))
			out[n++] = m->unknown[i];
	return n;
}

void turn_twist_mark(struct req *q)
{
	q->twist = q->c->tw ||
	           (q->m->method == STUN_ALLOCATE && stun_msg_find(q->m, TWIST_A_REQUESTED_TYPE));
}

void turn_twist_binding(struct req *q, struct stun_wr *wr)
{
	if (q->w->r->twist && stun_msg_find(q->m, TWIST_A_CAPS))
		twist_wr_caps(wr, TWIST_CAPS_SERVED);
}

static void success(struct req *q, const struct twist_flow *f)
{
	struct twist_encap e = {f->encap_mode, f->ka, TWIST_KEEPALIVE_S};
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	turn_resp_begin(q, &wr, buf, STUN_SUCCESS);
	stun_wr_xaddr(&wr, STUN_A_XOR_RELAYED_ADDRESS, &f->relayed);
	stun_wr_xaddr(&wr, STUN_A_XOR_MAPPED_ADDRESS, &f->c.client);
	stun_wr_u32(&wr, STUN_A_LIFETIME, twist_flow_left_s(f, q->w->now_ms));
	twist_wr_encap(&wr, &e);
	if (f->type == TWIST_TYPE_LISTEN)
		twist_wr_cookie(&wr, f->cookie);
	if (f->encap_mode == TWIST_ENCAP_TUNNEL)
		twist_wr_spi(&wr, f->spi);
	turn_resp_send(q, &wr);
}

/*
 * The mode (spec §9.1): tunnel when ENCAP-TYPE asks for it and the
 * client's TWIST-CAPS in the same Allocate says it can do tunnel mode;
 * the server's own caps always include it. Tunnel mode asked for without
 * the caps that back it is a request that contradicts itself: 0, a 400.
 */
static uint8_t encap_mode(const struct stun_msg *m, const struct twist_encap *e)
{
	const struct stun_attr *a = stun_msg_find(m, TWIST_A_CAPS);
	uint32_t caps = 0;

	if (e->mode == TWIST_ENCAP_TRANSPORT)
		return TWIST_ENCAP_TRANSPORT;
	if (!a || twist_attr_caps(m, a, &caps) < 0 || !(caps & TWIST_CAP_TUNNEL) ||
	    !(TWIST_CAPS_SERVED & TWIST_CAP_TUNNEL))
		return 0;
	return TWIST_ENCAP_TUNNEL;
}

/* REQUESTED-TYPE, ENCAP-TYPE, TWIST-CAPS and TWIST-COOKIE: 0 or 400. */
static int twist_attrs(struct req *q, struct twist_ask *ask)
{
	const struct stun_msg *m = q->m;
	const struct stun_attr *a;
	struct twist_encap e = {TWIST_ENCAP_TRANSPORT, TWIST_KA_NATT, 0};

	a = stun_msg_find(m, TWIST_A_REQUESTED_TYPE);
	if (twist_attr_type(m, a, &ask->type) < 0 ||
	    (ask->type != TWIST_TYPE_CONNECT && ask->type != TWIST_TYPE_LISTEN))
		return 400;
	a = stun_msg_find(m, TWIST_A_ENCAP_TYPE);
	if (a && twist_attr_encap(m, a, &e) < 0)
		return 400;
	ask->mode = encap_mode(m, &e);
	if (!ask->mode)
		return 400;
	ask->ka = e.keepalive;
	a = stun_msg_find(m, TWIST_A_COOKIE);
	if (a) {
		if (ask->type != TWIST_TYPE_LISTEN || twist_attr_cookie(m, a, ask->cookie) < 0)
			return 400;
		ask->has_cookie = true;
	}
	return 0;
}

/* The server's own STUN port on its own addresses would be demultiplexed as STUN (§4). */
static bool is_own_stun(struct req *q, const struct tw_addr *peer)
{
	const struct config *cfg = &q->w->r->cfg;
	const struct tw_addr *own[2] = {&cfg->twist_relay4, &cfg->twist_relay6};

	if (tw_addr_ip_eq(peer, own[0]) || tw_addr_ip_eq(peer, own[1]))
		return true;
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (peer->port == cfg->listen[i].addr.port &&
		    (tw_addr_ip_eq(peer, &cfg->listen[i].addr) ||
		     tw_addr_ip_eq(peer, &q->c->local)))
			return true;
	return false;
}

/* Transport, peer and relayed family: 0 or an error code. */
static int twist_target(struct req *q, struct twist_ask *ask)
{
	const struct stun_msg *m = q->m;
	const struct stun_attr *rt = stun_msg_find(m, STUN_A_REQUESTED_TRANSPORT);
	const struct stun_attr *pa = stun_msg_find(m, STUN_A_XOR_PEER_ADDRESS);
	const struct stun_attr *raf = stun_msg_find(m, STUN_A_REQUESTED_ADDRESS_FAMILY);
	const struct config *cfg = &q->w->r->cfg;

	if (!rt || stun_attr_transport(m, rt, &ask->proto) < 0)
		return 400;
	if (ask->proto != STUN_PROTO_UDP && ask->proto != STUN_PROTO_TCP)
		return 442;
	if ((!pa && ask->type == TWIST_TYPE_CONNECT) ||
	    (pa && stun_attr_xaddr(m, pa, &ask->peer) < 0))
		return 400;
	ask->family = pa && ask->type == TWIST_TYPE_CONNECT ? ask->peer.family : TW_AF_INET;
	if (raf && raf->len != 4)
		return 400;
	if (raf && stun_attr_family(m, raf, &ask->family) < 0)
		return 440;
	if (!(ask->family == TW_AF_INET6 ? cfg->twist_relay6 : cfg->twist_relay4).family)
		return 440;
	if (pa && ask->peer.family != ask->family)
		return 443;
	if (pa && (policy_check(q->w->r->policy, &ask->peer) != POLICY_ALLOW ||
	           is_own_stun(q, &ask->peer)))
		return 403;
	return 0;
}

static void twist_allocate(struct req *q)
{
	struct twist_ask ask = {.user = q->user, .tid = q->m->tid};
	struct twist_flow *f = NULL;
	long lifetime;
	int code;

	if (q->c->tw) {
		/* A retransmission gets the same answer, anything else 437. */
		if (memcmp(q->c->tw->tid, q->m->tid, STUN_TID_LEN) == 0)
			return success(q, q->c->tw);
		return turn_error(q, 437);
	}
	if (q->c->a)
		return turn_error(q, 437);
	/* A flow is one client UDP 5-tuple (§1). */
	if (q->c->ops->stream || q->c->ops->transport != STUN_PROTO_UDP)
		return turn_error(q, 400);
	code = twist_attrs(q, &ask);
	if (!code)
		code = twist_target(q, &ask);
	if (code)
		return turn_error(q, code);
	lifetime = turn_pick_lifetime(q);
	if (lifetime < 0)
		return turn_error(q, 400);
	ask.lifetime_s = lifetime ? (uint64_t)lifetime : q->w->r->cfg.default_lifetime;
	/* A cookie names a listening port here: only a fresh flow can go elsewhere. */
	if (!ask.has_cookie && turn_allocate_redirect(q))
		return;
	code = twist_flow_new(q->w, q->c, &ask, &f);
	if (code)
		return turn_error(q, code);
	if (log_enabled(LOG_LVL_INFO)) {
		char cb[TW_ADDR_STRLEN], rb[TW_ADDR_STRLEN], pb[TW_ADDR_STRLEN];

		log_info("twist %s flow %s for %s, peer %s",
		         ask.type == TWIST_TYPE_CONNECT ? "connect" : "listen",
		         tw_addr_fmt(&f->relayed, rb, sizeof(rb)),
		         tw_addr_fmt(&q->c->client, cb, sizeof(cb)),
		         ask.peer.family ? tw_addr_fmt(&ask.peer, pb, sizeof(pb)) : "any");
	}
	success(q, f);
}

static void twist_refresh(struct req *q)
{
	struct twist_flow *f = q->c->tw;
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;
	long lifetime;

	if (strcmp(f->user, q->user) != 0)
		return turn_error(q, 441);
	lifetime = turn_pick_lifetime(q);
	if (lifetime < 0)
		return turn_error(q, 400);
	/* The port is free before the client hears so (its next Allocate may
	 * reach another worker at once); the socket goes after the answer,
	 * which leaves on it. */
	if (lifetime)
		twist_flow_set_expiry(f, q->w->now_ms + (uint64_t)lifetime * 1000);
	else
		twist_flow_release(f);
	turn_resp_begin(q, &wr, buf, STUN_SUCCESS);
	stun_wr_u32(&wr, STUN_A_LIFETIME, (uint32_t)lifetime);
	turn_resp_send(q, &wr);
	if (lifetime == 0)
		flow_delete(&f->flow);
}

bool turn_twist_request(struct req *q)
{
	uint16_t method = q->m->method;

	if (!q->twist)
		return false;
	/* A new flow's answer waits for the standby, as an allocation's does
	 * (decision 5); a Refresh's is not held (a lost lifetime is clamped). */
	if (method != STUN_ALLOCATE)
		q->row = NULL;
	if (method == STUN_ALLOCATE) {
		twist_allocate(q);
		return true;
	}
	if (method == STUN_REFRESH && q->c->tw) {
		twist_refresh(q);
		return true;
	}
	/* Other methods on a TWIST 5-tuple: Binding is answered as usual, the rest 437. */
	if (method != STUN_BINDING) {
		turn_error(q, 437);
		return true;
	}
	return false;
}

void turn_twist_count_error(struct req *q, int code)
{
	if (q->twist && q->m->method == STUN_ALLOCATE)
		twist_count_error(q->w->r->twist, code);
}
