/*
 * Which peer addresses a client may reach (RFC 8656 §21.3 and §21.1.2's
 * advice). Pure functions over proto/addr.h values, so tests need no sockets.
 */
#ifndef TWIST_RELAY_POLICY_H
#define TWIST_RELAY_POLICY_H

#include <stdbool.h>

#include "proto/addr.h"

struct config;
struct policy;

enum policy_verdict {
	POLICY_ALLOW,
	POLICY_DENY_CONFIG,   /* an explicit deny range */
	POLICY_DENY_SELF,     /* one of the relay's own addresses (issue 17) */
	POLICY_DENY_SPECIAL,  /* loopback, unspecified, private, link-local, multicast, ... */
	POLICY_DENY_EMBEDDED, /* one of those hidden in ::ffff:, ::a.b.c.d, 64:ff9b::/96, 2002::/16
	                       */
};

struct policy *policy_new(const struct config *cfg);
void policy_free(struct policy *p);

/*
 * Order: explicit deny ranges, then the relay's own addresses (every listen,
 * relay and metrics IP, any port; a wildcard listener adds its family's
 * loopback) unless allow_self, then explicit allow ranges (which may open a
 * special range, e.g. a lab's 198.51.100.0/24), then the special-address
 * default deny. IPv4 hidden inside IPv6 is judged as the IPv4 address.
 * allow_loopback opens 127.0.0.0/8 and ::1 only.
 */
enum policy_verdict policy_check(const struct policy *p, const struct tw_addr *peer);
const char *policy_verdict_name(enum policy_verdict v);

#endif
