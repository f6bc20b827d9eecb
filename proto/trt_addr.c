/*
 * Dummy-prefix mapping and the translator's access checks (proto/trt_addr.h).
 */
#include <errno.h>
#include <string.h>

#include "proto/trt_addr.h"

static const uint8_t wkp[12] = {0x00, 0x64, 0xff, 0x9b};
static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t zero[12];

bool trt_prefix_is_wkp(const struct tw_cidr *prefix)
{
	return prefix->net.family == TW_AF_INET6 && prefix->prefix == 96 &&
	       memcmp(prefix->net.ip, wkp, sizeof(wkp)) == 0;
}

int trt_prefix_check(const struct tw_cidr *prefix)
{
	if (prefix->net.family != TW_AF_INET6 || prefix->prefix != 96)
		return -EINVAL;
	/* These already mean "an IPv4 address" to the socket API. */
	if (memcmp(prefix->net.ip, mapped, 12) == 0 || memcmp(prefix->net.ip, zero, 12) == 0)
		return -EINVAL;
	return 0;
}

void trt_addr_embed(const struct tw_cidr *prefix, const struct tw_addr *v4, struct tw_addr *v6)
{
	memset(v6, 0, sizeof(*v6));
	v6->family = TW_AF_INET6;
	v6->port = v4->port;
	memcpy(v6->ip, prefix->net.ip, 12);
	memcpy(v6->ip + 12, v4->ip, 4);
}

int trt_addr_extract(const struct tw_cidr *prefix, const struct tw_addr *v6, struct tw_addr *v4)
{
	if (v6->family != TW_AF_INET6 || prefix->net.family != TW_AF_INET6 ||
	    prefix->prefix != 96 || memcmp(v6->ip, prefix->net.ip, 12) != 0)
		return -EINVAL;
	memset(v4, 0, sizeof(*v4));
	v4->family = TW_AF_INET;
	v4->port = v6->port;
	memcpy(v4->ip, v6->ip + 12, 4);
	return 0;
}

struct range {
	uint32_t net;
	uint8_t len;
	enum trt_deny why;
};

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

/* Refused for every prefix (the contract's list). */
static const struct range always[] = {
        {V4(0, 0, 0, 0), 8, TRT_DENY_RESERVED},           {V4(127, 0, 0, 0), 8, TRT_DENY_LOOPBACK},
        {V4(169, 254, 0, 0), 16, TRT_DENY_LINKLOCAL},     {V4(224, 0, 0, 0), 4, TRT_DENY_MULTICAST},
        {V4(255, 255, 255, 255), 32, TRT_DENY_BROADCAST}, {V4(240, 0, 0, 0), 4, TRT_DENY_RESERVED},
};

/* RFC 1918 and the RFC 6598 shared space: refused unless allow_private. */
static const struct range private[] = {
        {V4(10, 0, 0, 0), 8, TRT_DENY_PRIVATE},
        {V4(172, 16, 0, 0), 12, TRT_DENY_PRIVATE},
        {V4(192, 168, 0, 0), 16, TRT_DENY_PRIVATE},
        {V4(100, 64, 0, 0), 10, TRT_DENY_PRIVATE},
};

/*
 * RFC 6052 §3.1: the well-known prefix must not carry non-global IPv4
 * addresses. The entries of the IANA IPv4 special-purpose registry whose
 * "Globally Reachable" is False (or N/A), not already refused above.
 * Exceptions inside 192.0.0.0/24 that are global: .9 and .10.
 */
static const struct range nonglobal[] = {
        {V4(192, 0, 0, 0), 24, TRT_DENY_NONGLOBAL_WKP},    /* IETF protocol assignments */
        {V4(192, 0, 2, 0), 24, TRT_DENY_NONGLOBAL_WKP},    /* TEST-NET-1 */
        {V4(192, 88, 99, 0), 24, TRT_DENY_NONGLOBAL_WKP},  /* deprecated 6to4 relay anycast */
        {V4(198, 18, 0, 0), 15, TRT_DENY_NONGLOBAL_WKP},   /* benchmarking */
        {V4(198, 51, 100, 0), 24, TRT_DENY_NONGLOBAL_WKP}, /* TEST-NET-2 */
        {V4(203, 0, 113, 0), 24, TRT_DENY_NONGLOBAL_WKP},  /* TEST-NET-3 */
};

static uint32_t v4_u32(const struct tw_addr *a)
{
	return V4(a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
}

static bool in_range(uint32_t ip, const struct range *r)
{
	uint32_t mask = r->len ? ~(uint32_t)0 << (32 - r->len) : 0;

	return (ip & mask) == r->net;
}

static enum trt_deny lookup(uint32_t ip, const struct range *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (in_range(ip, &t[i]))
			return t[i].why;
	return TRT_OK;
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

enum trt_deny trt_addr_classify(const struct tw_addr *v4, bool allow_private, bool wkp_prefix)
{
	uint32_t ip;
	enum trt_deny d;

	if (v4->family != TW_AF_INET)
		return TRT_DENY_RESERVED;
	ip = v4_u32(v4);
	d = lookup(ip, always, N(always));
	if (d != TRT_OK)
		return d;
	if (!allow_private && (d = lookup(ip, private, N(private))) != TRT_OK)
		return d;
	if (!wkp_prefix)
		return TRT_OK;
	/* allow_private opens RFC 1918 for an operator's own prefix, never for the WKP. */
	if ((d = lookup(ip, private, N(private))) != TRT_OK)
		return TRT_DENY_NONGLOBAL_WKP;
	if (ip == V4(192, 0, 0, 9) || ip == V4(192, 0, 0, 10))
		return TRT_OK;
	return lookup(ip, nonglobal, N(nonglobal));
}

static bool rule_match(const struct trt_rule *r, const struct tw_addr *src6,
                       const struct tw_addr *dst4)
{
	return tw_cidr_match(&r->src, src6) && tw_cidr_match(&r->dst, dst4);
}

bool trt_acl_permits(const struct trt_policy *p, const struct tw_addr *src6,
                     const struct tw_addr *dst4)
{
	for (size_t i = 0; i < p->n_deny; i++)
		if (rule_match(&p->deny[i], src6, dst4))
			return false;
	for (size_t i = 0; i < p->n_allow; i++)
		if (rule_match(&p->allow[i], src6, dst4))
			return true;
	return false;
}

enum trt_deny trt_policy_check(const struct trt_policy *p, const struct tw_addr *src6,
                               const struct tw_addr *dst4)
{
	enum trt_deny d = trt_addr_classify(dst4, p->allow_private, trt_prefix_is_wkp(&p->prefix));

	if (d != TRT_OK)
		return d;
	for (size_t i = 0; i < p->n_self; i++)
		if (tw_addr_ip_eq(&p->self[i], dst4))
			return TRT_DENY_SELF;
	return trt_acl_permits(p, src6, dst4) ? TRT_OK : TRT_DENY_ACL;
}

const char *trt_deny_name(enum trt_deny d)
{
	switch (d) {
	case TRT_OK:
		return "ok";
	case TRT_DENY_ACL:
		return "acl";
	case TRT_DENY_LOOPBACK:
		return "loopback";
	case TRT_DENY_LINKLOCAL:
		return "linklocal";
	case TRT_DENY_MULTICAST:
		return "multicast";
	case TRT_DENY_BROADCAST:
		return "broadcast";
	case TRT_DENY_RESERVED:
		return "reserved";
	case TRT_DENY_SELF:
		return "self";
	case TRT_DENY_PRIVATE:
		return "private";
	case TRT_DENY_NONGLOBAL_WKP:
		return "nonglobal_wkp";
	case TRT_DENY_LIMIT:
		return "limit";
	case TRT_DENY__COUNT:
		break;
	}
	return "?";
}
