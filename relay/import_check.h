/*
 * Imported flows are checked like client input (DESIGN decision 14): a
 * tuple from the peer must describe something this node's own TURN code
 * could have built. Pure: no sockets, no worker, no clock, so it is unit
 * tested from a table and fuzzed. relay/standby.c calls it before
 * flowconv_apply().
 */
#ifndef TWIST_RELAY_IMPORT_CHECK_H
#define TWIST_RELAY_IMPORT_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/flow.h"
#include "proto/trt_addr.h"

struct config;
struct policy;

struct import_limits {
	uint32_t max_lifetime;       /* seconds, the allocation's: cfg max_lifetime */
	const struct policy *policy; /* permission and channel peers: policy_check() */
	struct tw_addr
	        relay[2]; /* struct relay's relay_addr[]: [0] IPv4, [1] IPv6, family 0 = none */
	uint16_t port_min, port_max; /* the relayed port range */
	bool rfc5766_channels;       /* channel numbers up to 0x7FFF, else 0x4FFF */
	/* Translator mappings (docs/trt.md "HA"); trt false: refused. */
	bool trt;
	struct trt_policy
	        trt_policy; /* prefix and rules; the host's addresses are not known here */
	uint16_t trt_port;
	const struct tw_addr *trt_sources;
	unsigned n_trt_sources;
	uint32_t trt_idle; /* udp_idle_timeout */
	/* TWIST flows (docs/ha.md "TWIST flows"); twist false: refused. */
	bool twist;
	bool twist_tunnel;             /* tunnel mode served here */
	struct tw_addr twist_relay[2]; /* twist.relay_ipv4/6; family 0 = not served */
	uint16_t twist_port_min, twist_port_max;
	/* Whether the flow's user may authenticate here; NULL: not checked. */
	bool (*user_known)(void *arg, const char *user);
	void *user_arg;
};

/* Why a flow was refused; 0 is accepted. Each is a counter or a log word. */
enum import_reason {
	IMPORT_OK,
	IMPORT_MALFORMED,       /* fails flow_valid() */
	IMPORT_TOO_MANY_PERMS,  /* more than ALLOC_MAX_PERMS */
	IMPORT_TOO_MANY_CHANS,  /* more than ALLOC_MAX_CHANS */
	IMPORT_RELAYED_ADDR,    /* a relayed IP that is not one of our relay addresses */
	IMPORT_RELAYED_PORT,    /* a relayed port outside port_min..port_max */
	IMPORT_RELAYED_FAMILY,  /* two relayed addresses of one family */
	IMPORT_PEER_FAMILY,     /* a peer of a family with no relayed address (RFC 8656 443) */
	IMPORT_PEER_DENIED,     /* policy_check() denies a permission or channel peer */
	IMPORT_CHAN_NUMBER,     /* outside the configured channel range (RFC 8656 §12) */
	IMPORT_CHAN_DUP_NUMBER, /* one number bound twice (§11.2) */
	IMPORT_CHAN_DUP_PEER,   /* one peer bound to two numbers (§11.2) */
	IMPORT_TRT_OFF,         /* a translator mapping, and trt.enabled is off here */
	IMPORT_TRT_IDENTITY,    /* local is not PREFIX::0 port trt.port, or an allocation's is */
	IMPORT_TRT_SOURCE,      /* a mapping's IPv4 source that is not one of trt.ipv4_sources */
	IMPORT_TRT_DENIED,      /* a destination the translator's rules refuse */
	IMPORT_TWIST_OFF,       /* a TWIST flow, and twist.enabled is off here */
	IMPORT_TWIST_ENCAP,     /* an encapsulation mode this node does not serve */
	IMPORT_USER_UNKNOWN,    /* a user this node would not authenticate */
	IMPORT__COUNT,
};

/* The limits of this node: its config, its policy, struct relay's relay_addr[]. */
void import_limits_init(struct import_limits *lim, const struct config *cfg,
                        const struct policy *policy, const struct tw_addr relay_addr[2]);

/*
 * 0 (IMPORT_OK), or the enum import_reason of the first rule f breaks;
 * then f is unchanged. A delete needs only a valid identity. An accepted
 * flow has its lifetimes clamped in place to this node's maxima (the
 * allocation's to max_lifetime, a permission's to 300 s, a channel's to
 * 600 s: RFC 8656 §9 and §12), and *clamped (if not NULL) says how many.
 * A TWIST flow (f->twist) instead needs its relayed address to be one of
 * twist.relay_ipv4/6 with the port in twist's range, its peer (or a listen
 * flow's wanted peer) one a client could ask for, its mode served here
 * and its user known; its lifetime is clamped to max_lifetime.
 */
int import_check(Twist__Flow *f, const struct import_limits *lim, unsigned *clamped);
const char *import_reason_name(enum import_reason r);

#endif
