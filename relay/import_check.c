#include <string.h>

#include "proto/chdata.h"
#include "proto/twist.h"
#include "proto/twist_esp.h"
#include "relay/alloc.h"
#include "relay/config.h"
#include "relay/import_check.h"
#include "relay/policy.h"

#define PERM_MAX_S (PERM_LIFETIME_MS / 1000)
#define CHAN_MAX_S (CHAN_LIFETIME_MS / 1000)

void import_limits_init(struct import_limits *lim, const struct config *cfg,
                        const struct policy *policy, const struct tw_addr relay_addr[2])
{
	memset(lim, 0, sizeof(*lim));
	lim->max_lifetime = cfg->max_lifetime;
	lim->policy = policy;
	lim->relay[0] = relay_addr[0];
	lim->relay[1] = relay_addr[1];
	lim->port_min = cfg->port_min;
	lim->port_max = cfg->port_max;
	lim->rfc5766_channels = cfg->rfc5766_channels;
	lim->trt = cfg->trt_enabled;
	cfg_trt_policy(cfg, &lim->trt_policy);
	lim->trt_port = cfg->trt_port;
	lim->trt_sources = cfg->trt_sources;
	lim->n_trt_sources = cfg->n_trt_sources;
	lim->trt_idle = cfg->trt_udp_idle_timeout;
	lim->twist = cfg->twist_enabled;
	lim->twist_relay[0] = cfg->twist_relay4;
	lim->twist_relay[1] = cfg->twist_relay6;
	lim->twist_port_min = cfg->twist_port_min;
	lim->twist_port_max = cfg->twist_port_max;
	/* Tunnel mode is always offered with twist (docs/twist-protocol.md §9). */
	lim->twist_tunnel = cfg->twist_enabled;
}

static unsigned clamp(uint32_t *v, uint32_t max);

static bool in_trt_prefix(const Twist__Flow *f, const struct import_limits *lim)
{
	struct tw_addr l;

	return lim->trt && flow_addr_get(&f->local, &l) == 0 &&
	       tw_cidr_match(&lim->trt_policy.prefix, &l);
}

/* A mapping this node's translator could have made: its identity, source, destinations. */
static int trt_check(Twist__Flow *f, const struct import_limits *lim, unsigned *clamped)
{
	const Twist__Trt *m = f->trt;
	struct tw_addr c, l, a;
	bool ours = false;
	unsigned n;

	if (!lim->trt)
		return IMPORT_TRT_OFF;
	flow_addr_get(&f->client, &c); /* flow_valid() checked both */
	flow_addr_get(&f->local, &l);
	if (!tw_addr_ip_eq(&l, &lim->trt_policy.prefix.net) || l.port != lim->trt_port)
		return IMPORT_TRT_IDENTITY;
	if (f->deleted)
		return IMPORT_OK;
	flow_addr_get(&m->source, &a);
	for (unsigned i = 0; i < lim->n_trt_sources; i++)
		ours |= tw_addr_ip_eq(&a, &lim->trt_sources[i]);
	/* Without ipv4_sources the kernel chose the active's source: no use here. */
	if (!ours || a.port == 0)
		return IMPORT_TRT_SOURCE;
	for (size_t i = 0; i < m->n_dests; i++) {
		flow_addr_get(&m->dests[i], &a);
		if (trt_policy_check(&lim->trt_policy, &c, &a) != TRT_OK)
			return IMPORT_TRT_DENIED;
	}
	n = clamp(&f->lifetime, lim->trt_idle);
	if (clamped)
		*clamped = n;
	return IMPORT_OK;
}

static int fam(const struct tw_addr *a)
{
	return a->family == TW_AF_INET6;
}

/* Our relay address of the family, the port in range, one per family. */
static int relayed_check(const Twist__Flow *f, const struct import_limits *lim, bool has[2])
{
	struct tw_addr r;

	for (size_t i = 0; i < f->n_relayed; i++) {
		if (flow_addr_get(&f->relayed[i], &r) < 0)
			return IMPORT_MALFORMED;
		if (!lim->relay[fam(&r)].family || !tw_addr_ip_eq(&r, &lim->relay[fam(&r)]))
			return IMPORT_RELAYED_ADDR;
		if (r.port < lim->port_min || r.port > lim->port_max)
			return IMPORT_RELAYED_PORT;
		if (has[fam(&r)])
			return IMPORT_RELAYED_FAMILY;
		has[fam(&r)] = true;
	}
	return IMPORT_OK;
}

/* What the TURN code asks of a peer from a client (relay/turn.c peer_check). */
static int peer_check(const struct tw_addr *p, const struct import_limits *lim, const bool has[2])
{
	if (!has[fam(p)])
		return IMPORT_PEER_FAMILY;
	/* The relay's own relay IP is a peer when it is another client's
	 * relayed address; the port is checked per datagram (turn_data.c). */
	switch (policy_check(lim->policy, p)) {
	case POLICY_ALLOW:
		break;
	case POLICY_DENY_SELF:
		if (lim->relay[fam(p)].family && tw_addr_ip_eq(&lim->relay[fam(p)], p))
			break;
		return IMPORT_PEER_DENIED;
	default:
		return IMPORT_PEER_DENIED;
	}
	return IMPORT_OK;
}

static int perms_check(const Twist__Flow *f, const struct import_limits *lim, const bool has[2])
{
	struct tw_addr p;
	int rc;

	if (f->n_perms > ALLOC_MAX_PERMS)
		return IMPORT_TOO_MANY_PERMS;
	for (size_t i = 0; i < f->n_perms; i++) {
		if (flow_ip_get(&f->perms[i]->ip, &p) < 0)
			return IMPORT_MALFORMED;
		if ((rc = peer_check(&p, lim, has)) != IMPORT_OK)
			return rc;
	}
	return IMPORT_OK;
}

static int chans_check(const Twist__Flow *f, const struct import_limits *lim, const bool has[2])
{
	struct tw_addr peer[ALLOC_MAX_CHANS];
	uint32_t max = lim->rfc5766_channels ? CHAN_MAX_RFC5766 : CHAN_MAX;
	int rc;

	if (f->n_chans > ALLOC_MAX_CHANS)
		return IMPORT_TOO_MANY_CHANS;
	for (size_t i = 0; i < f->n_chans; i++) {
		const Twist__Chan *c = f->chans[i];

		if (c->number < CHAN_MIN || c->number > max)
			return IMPORT_CHAN_NUMBER;
		if (flow_addr_get(&c->peer, &peer[i]) < 0)
			return IMPORT_MALFORMED;
		if ((rc = peer_check(&peer[i], lim, has)) != IMPORT_OK)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (f->chans[j]->number == c->number)
				return IMPORT_CHAN_DUP_NUMBER;
			if (tw_addr_eq(&peer[j], &peer[i]))
				return IMPORT_CHAN_DUP_PEER;
		}
	}
	return IMPORT_OK;
}

static unsigned clamp(uint32_t *v, uint32_t max)
{
	if (*v <= max)
		return 0;
	*v = max;
	return 1;
}

/* What relay/turn_twist.c asks of a peer: the policy allows it, and it is not twist's own. */
static int twist_peer_check(const ProtobufCBinaryData *b, const struct import_limits *lim)
{
	struct tw_addr p;

	if (b->len == 0)
		return IMPORT_OK;
	flow_addr_get(b, &p); /* flow_valid() checked it */
	if (policy_check(lim->policy, &p) != POLICY_ALLOW ||
	    tw_addr_ip_eq(&p, &lim->twist_relay[0]) || tw_addr_ip_eq(&p, &lim->twist_relay[1]))
		return IMPORT_PEER_DENIED;
	return IMPORT_OK;
}

static int twist_check(Twist__Flow *f, const struct import_limits *lim, unsigned *clamped)
{
	const Twist__Twist *t = f->twist;
	const struct tw_addr *ours;
	struct tw_addr r;
	unsigned n;
	int rc;

	if (!lim->twist)
		return IMPORT_TWIST_OFF;
	flow_addr_get(&f->relayed[0], &r); /* flow_valid(): exactly one, well formed */
	ours = &lim->twist_relay[fam(&r)];
	if (!ours->family || !tw_addr_ip_eq(&r, ours))
		return IMPORT_RELAYED_ADDR;
	if (r.port < lim->twist_port_min || r.port > lim->twist_port_max)
		return IMPORT_RELAYED_PORT;
	if ((rc = twist_peer_check(&t->peer, lim)) != IMPORT_OK ||
	    (rc = twist_peer_check(&t->want, lim)) != IMPORT_OK)
		return rc;
	if (t->encap_mode == TWIST_ENCAP_TUNNEL ? !lim->twist_tunnel || !twist_spi_ok(t->spi)
	                                        : t->spi != 0)
		return IMPORT_TWIST_ENCAP;
	if (lim->user_known && !lim->user_known(lim->user_arg, f->user))
		return IMPORT_USER_UNKNOWN;
	n = clamp(&f->lifetime, lim->max_lifetime);
	if (clamped)
		*clamped = n;
	return IMPORT_OK;
}

int import_check(Twist__Flow *f, const struct import_limits *lim, unsigned *clamped)
{
	bool has[2] = {false, false};
	unsigned n = 0;
	int rc;

	if (clamped)
		*clamped = 0;
	if (!flow_valid(f))
		return IMPORT_MALFORMED;
	if (f->trt || (f->deleted && in_trt_prefix(f, lim)))
		return trt_check(f, lim, clamped);
	if (f->deleted)
		return IMPORT_OK;
	if (in_trt_prefix(f, lim))
		return IMPORT_TRT_IDENTITY;
	if (f->twist)
		return twist_check(f, lim, clamped);
	if ((rc = relayed_check(f, lim, has)) != IMPORT_OK ||
	    (rc = perms_check(f, lim, has)) != IMPORT_OK ||
	    (rc = chans_check(f, lim, has)) != IMPORT_OK)
		return rc;
	/* Clamped, not refused: the peer may run with longer maxima, and the flow is still good. */
	n += clamp(&f->lifetime, lim->max_lifetime);
	for (size_t i = 0; i < f->n_perms; i++)
		n += clamp(&f->perms[i]->lifetime, PERM_MAX_S);
	for (size_t i = 0; i < f->n_chans; i++)
		n += clamp(&f->chans[i]->lifetime, CHAN_MAX_S);
	if (clamped)
		*clamped = n;
	return IMPORT_OK;
}

const char *import_reason_name(enum import_reason r)
{
	switch (r) {
	case IMPORT_OK:
		return "ok";
	case IMPORT_MALFORMED:
		return "malformed";
	case IMPORT_TOO_MANY_PERMS:
		return "too_many_perms";
	case IMPORT_TOO_MANY_CHANS:
		return "too_many_chans";
	case IMPORT_RELAYED_ADDR:
		return "relayed_addr";
	case IMPORT_RELAYED_PORT:
		return "relayed_port";
	case IMPORT_RELAYED_FAMILY:
		return "relayed_family";
	case IMPORT_PEER_FAMILY:
		return "peer_family";
	case IMPORT_PEER_DENIED:
		return "peer_denied";
	case IMPORT_CHAN_NUMBER:
		return "chan_number";
	case IMPORT_CHAN_DUP_NUMBER:
		return "chan_dup_number";
	case IMPORT_CHAN_DUP_PEER:
		return "chan_dup_peer";
	case IMPORT_TRT_OFF:
		return "trt_off";
	case IMPORT_TRT_IDENTITY:
		return "trt_identity";
	case IMPORT_TRT_SOURCE:
		return "trt_source";
	case IMPORT_TRT_DENIED:
		return "trt_denied";
	case IMPORT_TWIST_OFF:
		return "twist_off";
	case IMPORT_TWIST_ENCAP:
		return "twist_encap";
	case IMPORT_USER_UNKNOWN:
		return "user_unknown";
	case IMPORT__COUNT:
		break;
	}
	return "?";
}
