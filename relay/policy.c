/*
 * Peer address policy: RFC 8656 §21.3 ("a TURN server can be used to reach
 * hosts the attacker could not reach directly") and the special-purpose
 * registries (RFC 6890). Documentation ranges (RFC 5737, RFC 3849) stay
 * allowed: the network-namespace lab uses them.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/config.h"
#include "relay/policy.h"

struct policy {
	struct tw_cidr allow[CFG_MAX_CIDRS];
	unsigned n_allow;
	struct tw_cidr deny[CFG_MAX_CIDRS];
	unsigned n_deny;
	bool allow_loopback;
	/*
	 * The relay's own IPs (listeners, relay addresses, metrics, the RFC
	 * 5780 other address): never peers unless allow_self, whatever the
	 * port, since other services on the host answer there too. A wildcard listener answers on
	 * every loopback address of its family (sockets are IPV6_V6ONLY).
	 */
	bool allow_self;
	struct tw_addr self[CFG_MAX_LISTEN + CFG_MAX_RELAY + 2];
	unsigned n_self;
	bool self_lo4, self_lo6;
};

struct v4_range {
	uint32_t net;
	unsigned prefix;
};

static const struct v4_range v4_special[] = {
        {0x00000000, 8},  /* "this network" (RFC 1122 §3.2.1.3); Linux routes 0.0.0.0 to us */
        {0x0a000000, 8},  /* private (RFC 1918) */
        {0x64400000, 10}, /* shared address space, carrier-grade NAT (RFC 6598) */
        {0x7f000000, 8},  /* loopback */
        {0xa9fe0000, 16}, /* link-local (RFC 3927), cloud metadata services live here */
        {0xac100000, 12}, /* private */
        {0xc0a80000, 16}, /* private */
        {0xe0000000, 4},  /* multicast */
        {0xf0000000, 4},  /* reserved (RFC 1112), with 255.255.255.255 broadcast */
};

#define EMBEDDED_MAX 2

static bool zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void self_add(struct policy *p, const struct tw_addr *a)
{
	if (a->family != TW_AF_INET && a->family != TW_AF_INET6)
		return;
	if (zero(a->ip, tw_addr_iplen(a))) {
		if (a->family == TW_AF_INET)
			p->self_lo4 = true;
		else
			p->self_lo6 = true;
	}
	for (unsigned i = 0; i < p->n_self; i++)
		if (tw_addr_ip_eq(&p->self[i], a))
			return;
	p->self[p->n_self] = *a;
	p->self[p->n_self++].port = 0;
}

struct policy *policy_new(const struct config *cfg)
{
	struct policy *p;

	if (cfg->n_allow > CFG_MAX_CIDRS || cfg->n_deny > CFG_MAX_CIDRS ||
	    cfg->n_listen > CFG_MAX_LISTEN || cfg->n_relay > CFG_MAX_RELAY)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->allow, cfg->allow, cfg->n_allow * sizeof(p->allow[0]));
	p->n_allow = cfg->n_allow;
	memcpy(p->deny, cfg->deny, cfg->n_deny * sizeof(p->deny[0]));
	p->n_deny = cfg->n_deny;
	p->allow_loopback = cfg->allow_loopback;
	p->allow_self = cfg->allow_self;
	for (unsigned i = 0; i < cfg->n_listen; i++)
		self_add(p, &cfg->listen[i].addr);
	for (unsigned i = 0; i < cfg->n_relay; i++)
		self_add(p, &cfg->relay[i]);
	if (cfg->metrics_enabled)
		self_add(p, &cfg->metrics);
	if (cfg->rfc5780_other.family)
		self_add(p, &cfg->rfc5780_other);
	return p;
}

void policy_free(struct policy *p)
{
	free(p);
}

static uint32_t v4_get(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool v4_is_special(uint32_t ip)
{
	for (size_t i = 0; i < sizeof(v4_special) / sizeof(v4_special[0]); i++) {
		uint32_t mask = ~0u << (32 - v4_special[i].prefix);

		if ((ip & mask) == v4_special[i].net)
			return true;
	}
	return false;
}

static bool v4_is_loopback(uint32_t ip)
{
	return ip >> 24 == 127;
}

static bool v6_is_loopback(const uint8_t ip[16])
{
	return zero(ip, 15) && ip[15] == 1;
}

/*
 * 64:ff9b:1::/48, local-use NAT64 (RFC 8215): where the IPv4 sits depends on
 * the prefix length the site chose, so the whole range is denied; a site
 * that relays through its own translator allows it explicitly.
 */
static const uint8_t nat64_local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};

static bool v6_is_special(const uint8_t ip[16])
{
	return (zero(ip, 15) && ip[15] <= 1) ||             /* :: and ::1 */
	       (ip[0] & 0xfe) == 0xfc ||                    /* unique local fc00::/7 (RFC 4193) */
	       (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) || /* link-local fe80::/10 */
	       ip[0] == 0xff ||                             /* multicast ff00::/8 */
	       memcmp(ip, nat64_local, sizeof(nat64_local)) == 0;
}

static void v4_put(struct tw_addr *a, uint32_t ip)
{
	memset(a, 0, sizeof(*a));
	a->family = TW_AF_INET;
	a->ip[0] = (uint8_t)(ip >> 24);
	a->ip[1] = (uint8_t)(ip >> 16);
	a->ip[2] = (uint8_t)(ip >> 8);
	a->ip[3] = (uint8_t)ip;
}

/*
 * The IPv4 addresses an IPv6 address stands for, where a dual-stack socket,
 * a translator or a tunnel on the path would deliver it to IPv4. Returns
 * how many were written to out.
 */
static int v6_embedded(const uint8_t ip[16], struct tw_addr out[EMBEDDED_MAX])
{
	static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};

	/* ::ffff:a.b.c.d, IPv4-mapped (RFC 4291 §2.5.5.2). */
	if (zero(ip, 10) && ip[10] == 0xff && ip[11] == 0xff)
		goto last32;
	/* ::ffff:0:a.b.c.d, IPv4-translated (RFC 2765 §2.1, SIIT). */
	if (zero(ip, 8) && ip[8] == 0xff && ip[9] == 0xff && ip[10] == 0 && ip[11] == 0)
		goto last32;
	/* ::a.b.c.d, IPv4-compatible (RFC 4291 §2.5.5.1, deprecated); not :: or ::1. */
	if (zero(ip, 12) && !(zero(ip + 12, 3) && ip[15] <= 1))
		goto last32;
	/* 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052 §2.1). */
	if (memcmp(ip, nat64, sizeof(nat64)) == 0)
		goto last32;
	/* 2002::/16, 6to4 (RFC 3056 §2): the relay router is bits 16..47. */
	if (ip[0] == 0x20 && ip[1] == 0x02) {
		v4_put(&out[0], v4_get(ip + 2));
		return 1;
	}
	/* 2001::/32, Teredo (RFC 4380 §4): server, and the client obfuscated. */
	if (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0 && ip[3] == 0) {
		v4_put(&out[0], v4_get(ip + 4));
		v4_put(&out[1], ~v4_get(ip + 12));
		return 2;
	}
	return 0;
last32:
	v4_put(&out[0], v4_get(ip + 12));
	return 1;
}

static bool is_self(const struct policy *p, const struct tw_addr *a)
{
	for (unsigned i = 0; i < p->n_self; i++)
		if (tw_addr_ip_eq(&p->self[i], a))
			return true;
	if (a->family == TW_AF_INET)
		return p->self_lo4 && v4_is_loopback(v4_get(a->ip));
	return p->self_lo6 && v6_is_loopback(a->ip);
}

static bool cidr_any(const struct tw_cidr *c, unsigned n, const struct tw_addr *a)
{
	for (unsigned i = 0; i < n; i++)
		if (tw_cidr_match(&c[i], a))
			return true;
	return false;
}

enum policy_verdict policy_check(const struct policy *p, const struct tw_addr *peer)
{
	struct tw_addr v4[EMBEDDED_MAX];
	int nv4 = 0;

	if (peer->family == TW_AF_INET6)
		nv4 = v6_embedded(peer->ip, v4);
	else if (peer->family != TW_AF_INET)
		return POLICY_DENY_SPECIAL;

	/* A deny range on IPv4 also covers that IPv4 hidden in IPv6. */
	if (cidr_any(p->deny, p->n_deny, peer))
		return POLICY_DENY_CONFIG;
	for (int i = 0; i < nv4; i++)
		if (cidr_any(p->deny, p->n_deny, &v4[i]))
			return POLICY_DENY_CONFIG;

	/*
	 * Issue 17: a peer on our own addresses would let a client reach our
	 * listener (a Binding answered through the relay, the relay chained
	 * through itself) and any other service on the host. No allow range
	 * opens them; only allow_self does. Hidden IPv4 forms count too.
	 */
	if (!p->allow_self) {
		if (is_self(p, peer))
			return POLICY_DENY_SELF;
		for (int i = 0; i < nv4; i++)
			if (is_self(p, &v4[i]))
				return POLICY_DENY_SELF;
	}

	/*
	 * An allow range opens only the form it is written in: allowing
	 * 10.0.0.0/8 does not allow ::ffff:10.0.0.1. A peer that is really
	 * meant to be reached is reached by its plain address.
	 */
	if (cidr_any(p->allow, p->n_allow, peer))
		return POLICY_ALLOW;

	if (peer->family == TW_AF_INET) {
		uint32_t ip = v4_get(peer->ip);

		if (v4_is_loopback(ip) && p->allow_loopback)
			return POLICY_ALLOW;
		return v4_is_special(ip) ? POLICY_DENY_SPECIAL : POLICY_ALLOW;
	}
	if (v6_is_loopback(peer->ip) && p->allow_loopback)
		return POLICY_ALLOW;
	if (v6_is_special(peer->ip))
		return POLICY_DENY_SPECIAL;
	/*
	 * allow_loopback does not reach here on purpose: it exists for a demo
	 * whose peer runs on this host, which 127.0.0.1 or ::1 serves. An
	 * embedded 127/8 means something else: through NAT64 or 6to4 it is the
	 * gateway's own loopback, and on a dual-stack socket it is a way round
	 * ACLs and logs that only look for the plain form.
	 */
	for (int i = 0; i < nv4; i++)
		if (v4_is_special(v4_get(v4[i].ip)))
			return POLICY_DENY_EMBEDDED;
	return POLICY_ALLOW;
}

const char *policy_verdict_name(enum policy_verdict v)
{
	switch (v) {
	case POLICY_ALLOW:
		return "allow";
	case POLICY_DENY_CONFIG:
		return "deny-config";
	case POLICY_DENY_SELF:
		return "deny-self";
	case POLICY_DENY_SPECIAL:
		return "deny-special";
	case POLICY_DENY_EMBEDDED:
		return "deny-embedded";
	}
	return "?";
}
