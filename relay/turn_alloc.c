/*
 * The TURN allocation's requests (RFC 8656 §7-§11): Allocate, Refresh,
 * CreatePermission and ChannelBind, and STUN Binding (RFC 8489 §3).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "proto/chdata.h"
#include "proto/stun.h"
#include "common/log.h"
#include "relay/anycast.h"
#include "relay/cluster.h"
#include "relay/policy.h"
#include "relay/ports.h"
#include "relay/tcp_relay.h"
#include "relay/turn.h"
#include "relay/turn_int.h"

/* The lifetime to grant, in seconds; -1 when LIFETIME is malformed (400). */
long turn_pick_lifetime(struct req *q)
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

	turn_resp_begin(q, &wr, buf, STUN_SUCCESS);
	for (unsigned i = 0; i < a->n_rs; i++)
		stun_wr_xaddr(&wr, STUN_A_XOR_RELAYED_ADDRESS, &a->rs[i].addr);
	stun_wr_u32(&wr, STUN_A_LIFETIME, (uint32_t)left);
	stun_wr_xaddr(&wr, STUN_A_XOR_MAPPED_ADDRESS, &q->c->client);
	if (a->reservation)
		stun_wr_u64(&wr, STUN_A_RESERVATION_TOKEN, a->reservation);
	if (v6_failed)
		stun_wr_address_error(&wr, TW_AF_INET6, 440);
	turn_resp_send(q, &wr);
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

/*
 * The relay socket a RESERVATION-TOKEN holds (§7.2), taken before the
 * allocation claims its quota: the held port already counts against the
 * same user, so an RTP/RTCP pair fits a quota of two.
 */
static int take_reserved(struct req *q, int *fd, struct tw_addr *bound)
{
	const struct stun_attr *rt = stun_msg_find(q->m, STUN_A_RESERVATION_TOKEN);
	uint64_t token;

	*fd = -1;
	if (!rt)
		return 0;
	if (stun_attr_u64(q->m, rt, &token) < 0)
		return 400;
	*fd = ports_take(q->w->r->ports, token, bound);
	return *fd < 0 ? 508 : 0; /* §7.2: an unknown or expired token */
}

static int open_relay_socks(struct req *q, struct allocation *a, uint8_t fam, bool dual,
                            bool *v6_failed)
{
	const struct stun_msg *m = q->m;
	struct relay *r = q->w->r;
	const struct stun_attr *ep = stun_msg_find(m, STUN_A_EVEN_PORT);
	bool even = ep != NULL, reserve = false;
	struct tw_addr bound;
	uint64_t token = 0;
	int fd;

	if (ep && stun_attr_even_port(m, ep, &reserve) < 0)
		return 400;
	fd = ports_open(r->ports, &r->relay_addr[fam == TW_AF_INET6], even, reserve, q->user,
	                &token, &bound, q->w->now_ms);
	if (fd < 0)
		return fd == -EDQUOT ? 486 : 508;
	if (reserve)
		a->reservation = token;
	alloc_relay_add(a, fd, &bound);
	if (dual) {
		if (!r->relay_addr[1].family)
			fd = -EAFNOSUPPORT;
		else
			fd = ports_open(r->ports, &r->relay_addr[1], false, false, NULL, &token,
			                &bound, q->w->now_ms);
		if (fd >= 0)
			alloc_relay_add(a, fd, &bound);
		else
			*v6_failed = true;
	}
	return 0;
}

/*
 * RFC 6062 §5.1: a TCP allocation, asked for over a stream control
 * connection, has one relayed address that listens; no UDP socket, no
 * EVEN-PORT, no reservation and one family.
 */
static int tcp_transport_ok(struct req *q)
{
	const struct stun_msg *m = q->m;

	if (!q->c->ops->stream)
		return 442;
	if (stun_msg_find(m, STUN_A_EVEN_PORT) || stun_msg_find(m, STUN_A_RESERVATION_TOKEN) ||
	    stun_msg_find(m, STUN_A_ADDITIONAL_ADDRESS_FAMILY))
		return 400;
	return 0;
}

/* RFC 8489 §14.16: the name a TLS client checks the alternate's certificate against. */
static bool over_tls(const struct conn_ops *ops)
{
	return strcmp(ops->name, "tls") == 0 || strcmp(ops->name, "dtls") == 0 ||
	       strcmp(ops->name, "wss") == 0;
}

static void send_300(struct req *q, const struct tw_addr *alt, const char *domain, const char *who)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	turn_count_error(q->w, 300);
	turn_resp_begin(q, &wr, buf, STUN_ERROR);
	stun_wr_error(&wr, STUN_A_ERROR_CODE, 300, NULL);
	stun_wr_addr(&wr, STUN_A_ALTERNATE_SERVER, alt);
	if (domain[0] && over_tls(q->c->ops))
		stun_wr_attr(&wr, STUN_A_ALTERNATE_DOMAIN, domain, strlen(domain));
	turn_resp_send(q, &wr);
	if (log_enabled(LOG_LVL_DEBUG)) {
		char cb[TW_ADDR_STRLEN], ab[TW_ADDR_STRLEN];

		log_debug("allocate from %s redirected to %s (%s)",
		          tw_addr_fmt(&q->c->client, cb, sizeof(cb)),
		          tw_addr_fmt(alt, ab, sizeof(ab)), who);
	}
}

/* Draining or above high water: a sibling takes it. True when answered. */
static bool redirect_to_sibling(struct req *q)
{
	struct relay *r = q->w->r;
	struct cluster_target t;
	enum redirect_reason why;

	if (!cluster_should_redirect(r, &why))
		return false;
	/* ALTERNATE-SERVER is in the client's own family (RFC 8489 §14.15). */
	if (cluster_pick(r, &q->c->client, q->c->client.family, &t) < 0) {
		__atomic_add_fetch(&r->redirects_none, 1, __ATOMIC_RELAXED);
		if (log_ratelimit(&q->w->log_redirect, q->w->now_ms, 10000))
			log_warn("cluster: %s, but no healthy sibling can take a new allocation: "
			         "serving it here",
			         why == REDIRECT_DRAINING ? "draining" : "above high water");
		return false;
	}
	__atomic_add_fetch(&r->redirects[why], 1, __ATOMIC_RELAXED);
	send_300(q, &t.alt, t.domain, t.name);
	return true;
}

/*
 * On an anycast address: this node's own unicast address takes it, so the
 * allocation outlives a move of the anycast route (relay/anycast.h).
 */
static bool redirect_to_unicast(struct req *q)
{
	struct relay *r = q->w->r;
	struct tw_addr alt;

	if (!anycast_pin(&r->cfg, &q->c->local, q->c->client.family, &alt))
		return false;
	__atomic_add_fetch(&r->redirects[REDIRECT_ANYCAST], 1, __ATOMIC_RELAXED);
	send_300(q, &alt, r->cfg.cluster_domain, "anycast: this node");
	return true;
}

/*
 * RFC 8489 §10, RFC 8656 §7.2: a new Allocate goes elsewhere when this
 * node is draining or above its high water (a sibling, relay/cluster.h),
 * or when it arrived on an anycast address (this node's unicast address).
 * A sibling comes first: pinning a client to a node that is leaving would
 * only delay the move. Only here, so a Refresh or any request on an
 * existing allocation is never redirected; and only after authentication,
 * so the 300 carries MESSAGE-INTEGRITY and an off-path attacker cannot
 * forge one the client would follow. True when answered.
 */
bool turn_allocate_redirect(struct req *q)
{
	return redirect_to_sibling(q) || redirect_to_unicast(q);
}

static int open_relay_stream(struct req *q, struct allocation *a, uint8_t fam)
{
	struct relay *r = q->w->r;
	struct tw_addr bound;
	int fd;

	fd = ports_open_stream(r->ports, &r->relay_addr[fam == TW_AF_INET6], &bound);
	if (fd < 0)
		return 508;
	alloc_relay_add(a, fd, &bound);
	a->tcp = true;
	return 0;
}

void turn_do_allocate(struct req *q)
{
	const struct stun_msg *m = q->m;
	struct conn *c = q->c;
	struct worker *w = q->w;
	const struct stun_attr *rt;
	struct allocation *a;
	struct alloc_key k;
	struct tw_addr tbound;
	uint8_t proto, fam;
	bool dual, v6_failed = false;
	long lifetime;
	int code, rc, tfd;

	if (c->a) {
		/* §7.2: a retransmission gets the same answer, anything else 437. */
		if (memcmp(c->a->alloc_tid, m->tid, STUN_TID_LEN) == 0)
			allocate_success(q, c->a, false);
		else
			turn_error(q, 437);
		return;
	}
	rt = stun_msg_find(m, STUN_A_REQUESTED_TRANSPORT);
	if (!rt || stun_attr_transport(m, rt, &proto) < 0)
		return turn_error(q, 400);
	if (proto == STUN_PROTO_TCP && (code = tcp_transport_ok(q)) != 0)
		return turn_error(q, code);
	if (proto != STUN_PROTO_UDP && proto != STUN_PROTO_TCP)
		return turn_error(q, 442);
	if (stun_msg_find(m, STUN_A_RESERVATION_TOKEN) &&
	    (stun_msg_find(m, STUN_A_EVEN_PORT) ||
	     stun_msg_find(m, STUN_A_REQUESTED_ADDRESS_FAMILY)))
		return turn_error(q, 400);
	code = allocate_families(q, &fam, &dual);
	if (code)
		return turn_error(q, code);
	lifetime = turn_pick_lifetime(q);
	if (lifetime < 0)
		return turn_error(q, 400);
	if (lifetime == 0)
		lifetime = w->r->cfg.default_lifetime;
	/* A RESERVATION-TOKEN names a port held here: it cannot go elsewhere. */
	if (!stun_msg_find(m, STUN_A_RESERVATION_TOKEN) && turn_allocate_redirect(q))
		return;

	code = take_reserved(q, &tfd, &tbound);
	if (code)
		return turn_error(q, code);
	k = (struct alloc_key){
	        .transport = c->ops->transport, .client = c->client, .local = c->local};
	rc = alloc_new(w, &k, q->user, c->ops->replicates, true, &a);
	if (rc < 0) {
		if (tfd >= 0) {
			close(tfd);
			ports_release(w->r->ports, &tbound);
		}
		if (rc == -EEXIST) /* another worker is creating it: the retransmit goes there */
			return worker_drop(w, DROP_NOT_OWNER, &c->client);
		return turn_error(q, rc == -EDQUOT ? 486 : 508);
	}
	if (tfd >= 0)
		alloc_relay_add(a, tfd, &tbound);
	else if (proto == STUN_PROTO_TCP)
		code = open_relay_stream(q, a, fam);
	else
		code = open_relay_socks(q, a, fam, dual, &v6_failed);
	if (code)
		goto bad;
	a->dont_fragment = stun_msg_find(m, STUN_A_DONT_FRAGMENT) != NULL;
	memcpy(a->alloc_tid, m->tid, STUN_TID_LEN);
	a->expires = w->now_ms + (uint64_t)lifetime * 1000;
	rc = alloc_relay_watch(a, a->tcp ? tcp_relay_readable : turn_relay_readable);
	if (rc == -EOPNOTSUPP) {
		/* RFC 8656 §7.2: DONT-FRAGMENT that cannot be honoured is unknown. */
		uint16_t df = STUN_A_DONT_FRAGMENT;
		uint8_t buf[RESP_MAX];
		struct stun_wr wr;

		alloc_free(a);
		turn_count_error(w, 420);
		turn_resp_begin(q, &wr, buf, STUN_ERROR);
		stun_wr_error(&wr, STUN_A_ERROR_CODE, 420, NULL);
		stun_wr_unknown(&wr, &df, 1);
		return turn_resp_send(q, &wr);
	}
	code = 508;
	if (rc < 0 || alloc_attach(a, c) < 0)
		goto bad;
	alloc_publish(a); /* replicated from here on */
	if (log_enabled(LOG_LVL_INFO)) {
		char cb[TW_ADDR_STRLEN], rl[TW_ADDR_STRLEN], u[LOG_ESC_SIZE(64)];

		log_info("allocation %s for %s (%s) via %s, %lds",
		         tw_addr_fmt(&a->rs[0].addr, rl, sizeof(rl)),
		         tw_addr_fmt(&c->client, cb, sizeof(cb)),
		         log_esc(a->user, strlen(a->user), u, sizeof(u)), c->ops->name, lifetime);
	}
	allocate_success(q, a, v6_failed);
	return;
bad:
	alloc_free(a);
	turn_error(q, code);
}

void turn_do_refresh(struct req *q)
{
	const struct stun_attr *raf = stun_msg_find(q->m, STUN_A_REQUESTED_ADDRESS_FAMILY);
	struct allocation *a = q->c->a;
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;
	long lifetime;
	uint8_t fam;
	int code;

	if (raf) {
		/* §7.3: asking to refresh a family the allocation does not have. */
		code = family_attr(q->m, raf, &fam);
		if (code)
			return turn_error(q, code);
		if (!alloc_relay_for(a, fam))
			return turn_error(q, 443);
	}
	lifetime = turn_pick_lifetime(q);
	if (lifetime < 0)
		return turn_error(q, 400);
	if (lifetime == 0) {
		STAT_INC(&q->w->st, allocs_deleted);
		alloc_delete(a);
	} else {
		alloc_set_expiry(a, q->w->now_ms + (uint64_t)lifetime * 1000);
	}
	turn_resp_begin(q, &wr, buf, STUN_SUCCESS);
	stun_wr_u32(&wr, STUN_A_LIFETIME, (uint32_t)lifetime);
	turn_resp_send(q, &wr);
}

/* A peer address from the request, checked for family and policy: 0 or an error code. */
/*
 * The relay's own addresses are denied as peers (POLICY_DENY_SELF), with
 * one exception: another client's relayed address on this relay, so that
 * two clients of one relay reach each other (WebRTC, both relayed). A
 * permission is per IP (RFC 8656 §9), so it is granted for the relay IP
 * and turn_data.c lets through only datagrams to bound relay ports; a
 * channel names its port and is checked here too.
 */
static bool peer_is_other_relayed(struct req *q, const struct tw_addr *peer, bool with_port)
{
	struct relay *r = q->w->r;

	if (!relay_is_relay_ip(r, peer))
		return false;
	return !with_port || turn_relayed_peer_ok(q->c->a, peer);
}

static int peer_check(struct req *q, const struct stun_attr *pa, struct tw_addr *peer,
                      bool with_port)
{
	enum policy_verdict v;

	if (stun_attr_xaddr(q->m, pa, peer) < 0)
		return 400;
	if (!alloc_relay_for(q->c->a, peer->family))
		return 443;
	v = policy_check(q->w->r->policy, peer);
	if (v == POLICY_DENY_SELF && peer_is_other_relayed(q, peer, with_port))
		v = POLICY_ALLOW;
	if (v != POLICY_ALLOW) {
		if (log_enabled(LOG_LVL_DEBUG)) {
			char a[TW_ADDR_STRLEN];

			log_debug("peer %s denied by policy", tw_addr_fmt(peer, a, sizeof(a)));
		}
		return 403;
	}
	return 0;
}

int turn_peer_check(struct req *q, const struct stun_attr *pa, struct tw_addr *peer)
{
	return peer_check(q, pa, peer, true);
}

void turn_do_create_permission(struct req *q)
{
	const struct stun_msg *m = q->m;
	struct allocation *a = q->c->a;
	struct tw_addr peers[STUN_MAX_ATTRS];
	unsigned n = 0, fresh = 0;
	int code;

	/* §8.2: all peers are checked before any permission is installed. */
	for (unsigned i = 0; i < m->nattrs; i++) {
		if (m->attr[i].type != STUN_A_XOR_PEER_ADDRESS)
			continue;
		code = peer_check(q, &m->attr[i], &peers[n], false);
		if (code)
			return turn_error(q, code);
		fresh += alloc_perm_find(a, &peers[n]) == NULL;
		n++;
	}
	if (n == 0)
		return turn_error(q, 400);
	if (a->n_perms + fresh > ALLOC_MAX_PERMS)
		return turn_error(q, 508);
	for (unsigned i = 0; i < n; i++)
		alloc_perm_add(a, &peers[i]);
	turn_ok(q);
}

void turn_do_channel_bind(struct req *q)
{
	const struct stun_attr *ca = stun_msg_find(q->m, STUN_A_CHANNEL_NUMBER);
	const struct stun_attr *pa = stun_msg_find(q->m, STUN_A_XOR_PEER_ADDRESS);
	struct allocation *a = q->c->a;
	struct tw_addr peer;
	uint16_t num;
	int code;

	/* RFC 6062 §5: a TCP allocation has no channels. */
	if (!ca || !pa || a->tcp || stun_attr_channel(q->m, ca, &num) < 0)
		return turn_error(q, 400);
	if (!(q->w->r->cfg.rfc5766_channels ? chan_valid_rfc5766(num) : chan_valid(num)))
		return turn_error(q, 400);
	code = peer_check(q, pa, &peer, true);
	if (code)
		return turn_error(q, code);
	if (!alloc_perm_find(a, &peer) && a->n_perms >= ALLOC_MAX_PERMS)
		return turn_error(q, 508);
	switch (alloc_chan_bind(a, num, &peer)) {
	case 0:
		break;
	case -EBUSY:
		return turn_error(q, 400); /* §11.2: number or peer bound elsewhere */
	default:
		return turn_error(q, 508);
	}
	alloc_perm_add(a, &peer); /* §11.2: a binding installs or refreshes the permission */
	turn_ok(q);
}

/*
 * CHANGE-REQUEST's flags (RFC 5780 §7.2), 0 without one: a blank one is
 * what stuntman's client sends with every Binding. -1 when malformed.
 */
static int change_flags(const struct stun_msg *m, unsigned *change)
{
	const struct stun_attr *cr = stun_msg_find(m, STUN_A_CHANGE_REQUEST);
	uint32_t v;

	*change = 0;
	if (!cr)
		return 0;
	if (stun_attr_u32(m, cr, &v) < 0)
		return -1;
	*change = v & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
	return 0;
}

/*
 * RFC 5780 §7.3: with an alternate address, the answer says where it left
 * from (RESPONSE-ORIGIN) and where the other IP and port are
 * (OTHER-ADDRESS, both changed from the socket the request came on). A
 * classic answer says the same as RFC 3489 §11.2 did.
 */
static void binding_addrs(struct req *q, struct stun_wr *wr, const struct tw_addr *origin,
                          const struct tw_addr *other)
{
	bool classic = q->m->classic;

	stun_wr_addr(wr, classic ? STUN_A_SOURCE_ADDRESS : STUN_A_RESPONSE_ORIGIN, origin);
	stun_wr_addr(wr, classic ? STUN_A_CHANGED_ADDRESS : STUN_A_OTHER_ADDRESS, other);
}

/* RESPONSE-PORT (RFC 5780 §7.5): the port, 0 without one; -1 when malformed. */
static int response_port(const struct stun_msg *m, uint16_t *port)
{
	const struct stun_attr *rp = stun_msg_find(m, STUN_A_RESPONSE_PORT);
	uint32_t v;

	*port = 0;
	if (!rp)
		return 0;
	if (stun_attr_u32(m, rp, &v) < 0 || (v >> 16) == 0)
		return -1;
	*port = (uint16_t)(v >> 16);
	return 0;
}

/*
 * RFC 5780 §7.6: PADDING asks for an answer as large as the request, to
 * probe fragmentation. Never larger (no amplification), and cut to what
 * fits in one answer with room left for FINGERPRINT.
 */
static void binding_padding(struct stun_wr *wr, const struct stun_attr *pad)
{
	static const uint8_t zeros[RESP_MAX];
	size_t room = RESP_MAX - wr->len, len = pad->len;

	if (room < 4 + 8)
		return;
	if (len > room - 4 - 8)
		len = (room - 4 - 8) & ~(size_t)3;
	stun_wr_attr(wr, STUN_A_PADDING, zeros, len);
}

void turn_do_binding(struct req *q)
{
	const struct conn_ops *ops = q->c->ops;
	struct tw_addr origin, other;
	uint8_t buf[RESP_MAX];
	const struct stun_attr *pad = stun_msg_find(q->m, STUN_A_PADDING);
	uint16_t unknown[3];
	struct stun_wr wr;
	size_t nunknown = 0;
	bool alt;

	if (change_flags(q->m, &q->change) < 0 || response_port(q->m, &q->resp_port) < 0) {
		q->change = q->resp_port = 0; /* errors go back the way they came */
		return turn_error(q, 400);
	}
	if (turn_ice_check(q) < 0)
		return;
	alt = ops->alt_addr && ops->alt_addr(q->c, q->change, &origin) == 0 &&
	      ops->alt_addr(q->c, STUN_CHANGE_IP | STUN_CHANGE_PORT, &other) == 0;
	/* §7.2, §7.5: no alternate address here (none configured, or not UDP). */
	if (q->change && !alt)
		unknown[nunknown++] = STUN_A_CHANGE_REQUEST;
	if (q->resp_port && !alt)
		unknown[nunknown++] = STUN_A_RESPONSE_PORT;
	if (pad && !alt)
		unknown[nunknown++] = STUN_A_PADDING;
	if (nunknown) {
		q->change = q->resp_port = 0;
		return turn_error_unknown(q, unknown, nunknown);
	}
	/* An answer aimed at another port reflects: limited like other answers
	 * to unauthenticated sources. */
	if (q->resp_port && !turn_unauth_allowed(q))
		return;
	turn_resp_begin(q, &wr, buf, STUN_SUCCESS);
	/* RFC 8489 §12.2: a classic client reads MAPPED-ADDRESS. */
	if (q->m->classic)
		stun_wr_addr(&wr, STUN_A_MAPPED_ADDRESS, &q->c->client);
	else
		stun_wr_xaddr(&wr, STUN_A_XOR_MAPPED_ADDRESS, &q->c->client);
	if (alt)
		binding_addrs(q, &wr, &origin, &other);
	if (pad)
		binding_padding(&wr, pad);
	if (q->change)
		STAT_INC(&q->w->st, binding_changed[q->change >> 1]);
	turn_twist_binding(q, &wr);
	turn_resp_send(q, &wr);
}
