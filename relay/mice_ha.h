/*
 * twist-relay's M-ICE home-agent role (docs/mice.md §4): on the UDP
 * encapsulation port, what proto/mice_demux did not take as STUN comes
 * here. An authenticated Binding Update registers its sender's home
 * address -> care-of address binding; one that names a correspondent is
 * relayed to it, re-signed with the correspondent's key, and the
 * correspondent's Binding Acknowledgement (the ICE answer) is relayed back.
 *
 * No sockets: answers leave through the caller's send function, so the
 * core is tested with a fake. One per process, shared by the workers
 * under a mutex; mobility signalling is rare and rate-limited, never on
 * the data path.
 */
#ifndef TWIST_RELAY_MICE_HA_H
#define TWIST_RELAY_MICE_HA_H

#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct config;
struct mice_ha;
struct stcred;

struct mice_ha_out {
	void (*send)(void *ctx, const struct tw_addr *dst, const uint8_t *buf, size_t len);
	void *ctx;
	/* The HA's address and port here: its ICE candidate (family 0: none). */
	struct tw_addr local;
};

enum mice_drop {
	MICE_DROP_MALFORMED,     /* not a BU or BA we parse */
	MICE_DROP_RATE,          /* over mice.rate from that source */
	MICE_DROP_BA_AUTH,       /* a BA without valid authentication */
	MICE_DROP_BA_UNEXPECTED, /* a BA that answers nothing we relayed */
	MICE_DROP_TOO_BIG,       /* relayed with our options, over 2048 bytes */
	MICE_DROP__COUNT,
};

/* BU outcomes, by the status in our answer. */
enum mice_bu_result {
	MICE_BU_ACCEPTED,
	MICE_BU_AUTH_FAILED,  /* 144: none, unknown SPI, wrong MAC */
	MICE_BU_NOT_HOME,     /* 133: the home address is not the SPI's */
	MICE_BU_SEQUENCE,     /* 135: not newer than the last accepted */
	MICE_BU_NO_RESOURCES, /* 130: the binding cache is full */
	MICE_BU_PEER_UNKNOWN, /* 128: the correspondent has no binding */
	MICE_BU__COUNT,
};

struct mice_ha_stats {
	uint64_t rx_bu, rx_ba, stun;
	uint64_t bu[MICE_BU__COUNT];
	uint64_t relayed_bu, relayed_ba;
	uint64_t drops[MICE_DROP__COUNT];
	uint64_t bindings; /* now */
};

/*
 * From a validated config with mice.enabled; NULL on allocation failure.
 * creds (may be NULL) receives, per key index, the HA's ICE credentials
 * for the node, which its checks to the HA must use (docs/mice.md §6.1).
 */
struct mice_ha *mice_ha_new(const struct config *cfg, uint32_t seed, struct stcred *creds);
void mice_ha_free(struct mice_ha *ha);
/* One datagram the demux gave to the mobility handler. Thread-safe. */
void mice_ha_input(struct mice_ha *ha, uint64_t now_ms, const struct tw_addr *src,
                   const uint8_t *buf, size_t len, const struct mice_ha_out *out);
/* A datagram on the port that the demux took as STUN (counted only). */
void mice_ha_count_stun(struct mice_ha *ha);
/* Drops expired bindings (worker 0's 1 s tick). */
void mice_ha_sweep(struct mice_ha *ha, uint64_t now_ms);
void mice_ha_stats(struct mice_ha *ha, struct mice_ha_stats *st);
const char *mice_drop_name(enum mice_drop d);
const char *mice_bu_result_name(enum mice_bu_result r);

#endif
