/*
 * The transport relay translator's addresses (RFC 3142, docs/trt.md): an
 * IPv4 destination embedded in the low 32 bits of a /96 dummy prefix (the
 * RFC 6052 §2.2 /96 form), which IPv4 destinations are never relayed, and
 * the operator's allow/deny rules. Pure: no sockets, no clock.
 */
#ifndef TWIST_PROTO_TRT_ADDR_H
#define TWIST_PROTO_TRT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

/* Why a mapping was refused; the names are the metric's `reason` label. */
enum trt_deny {
	TRT_OK,
	TRT_DENY_ACL,
	TRT_DENY_LOOPBACK,
	TRT_DENY_LINKLOCAL,
	TRT_DENY_MULTICAST,
	TRT_DENY_BROADCAST,
	TRT_DENY_RESERVED,
	TRT_DENY_SELF,
	TRT_DENY_PRIVATE,
	TRT_DENY_NONGLOBAL_WKP,
	TRT_DENY_LIMIT,
	TRT_DENY__COUNT,
};

/* One allow or deny rule: an IPv6 source prefix and an IPv4 destination prefix. */
struct trt_rule {
	struct tw_cidr src, dst;
};

struct trt_policy {
	struct tw_cidr prefix; /* the dummy /96 */
	bool allow_private;
	const struct trt_rule *allow, *deny;
	size_t n_allow, n_deny;
	const struct tw_addr *self; /* the box's own IPv4 addresses */
	size_t n_self;
};

/* The RFC 6052 well-known prefix, 64:ff9b::/96. */
bool trt_prefix_is_wkp(const struct tw_cidr *prefix);
/* 0 if prefix can be a dummy prefix (IPv6, exactly /96, not IPv4-mapped or ::/96). */
int trt_prefix_check(const struct tw_cidr *prefix);

/* PREFIX::a.b.c.d from an IPv4 address; the port is copied. */
void trt_addr_embed(const struct tw_cidr *prefix, const struct tw_addr *v4, struct tw_addr *v6);
/* The IPv4 address in v6 (port copied); -EINVAL if v6 is outside prefix. */
int trt_addr_extract(const struct tw_cidr *prefix, const struct tw_addr *v6, struct tw_addr *v4);

/*
 * The ranges refused whatever the rules say (docs/trt.md "Access control"):
 * TRT_OK or the reason. wkp: the prefix is 64:ff9b::/96, so only globally
 * reachable destinations (IANA IPv4 special-purpose registry) pass.
 */
enum trt_deny trt_addr_classify(const struct tw_addr *v4, bool allow_private, bool wkp);
/* Deny rules first, then allow rules; nothing matching is denied. */
bool trt_acl_permits(const struct trt_policy *p, const struct tw_addr *src6,
                     const struct tw_addr *dst4);
/* The whole check for client src6 reaching dst4: the fixed ranges, self, then the ACL. */
enum trt_deny trt_policy_check(const struct trt_policy *p, const struct tw_addr *src6,
                               const struct tw_addr *dst4);

const char *trt_deny_name(enum trt_deny d);

#endif
