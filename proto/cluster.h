/*
 * A sibling load report (docs/cluster-protocol.md): what one relay tells
 * the others about itself once per interval, HMAC-SHA256 over a shared
 * secret. Wire format only, no I/O: relay/cluster.c publishes and receives.
 */
#ifndef TWIST_PROTO_CLUSTER_H
#define TWIST_PROTO_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

#define CLUSTER_VERSION    1
#define CLUSTER_NAME_MAX   32 /* bytes of a node name */
#define CLUSTER_RECENT_MAX 32 /* client hashes a report carries */
#define CLUSTER_MAC_LEN    32
#define CLUSTER_FIXED_LEN  52 /* header and counters, before the name */
#define CLUSTER_MSG_MAX \
	(CLUSTER_FIXED_LEN + 1 + CLUSTER_NAME_MAX + 1 + CLUSTER_RECENT_MAX * 8 + CLUSTER_MAC_LEN)

#define CLUSTER_F_DRAINING    0x01
#define CLUSTER_F_REDIRECTING 0x02

enum cluster_role {
	CLUSTER_ROLE_STANDALONE,
	CLUSTER_ROLE_MASTER,
	CLUSTER_ROLE_BACKUP,
};

enum cluster_sync {
	CLUSTER_SYNC_NONE,    /* no HA */
	CLUSTER_SYNC_DOWN,    /* twist-syncd silent */
	CLUSTER_SYNC_PARTIAL, /* connected, the standby not synced */
	CLUSTER_SYNC_SYNCED,
};

enum cluster_verdict {
	CLUSTER_OK,
	CLUSTER_BAD_HMAC,
	CLUSTER_STALE,
	CLUSTER_MALFORMED,
	CLUSTER__COUNT,
};

struct cluster_report {
	char name[CLUSTER_NAME_MAX + 1];
	uint64_t seq;     /* strictly increasing per sender boot */
	uint64_t boot_id; /* random per process: a restart starts a new sequence */
	uint64_t wall_ms; /* sender's clock: reports older than the window are stale */
	uint32_t allocs, capacity;
	uint64_t bytes_per_s; /* relayed, both directions */
	uint16_t cpu_permille;
	uint8_t flags; /* CLUSTER_F_* */
	uint8_t role;  /* enum cluster_role */
	uint8_t sync;  /* enum cluster_sync */
	uint8_t n_recent;
	uint64_t recent[CLUSTER_RECENT_MAX]; /* cluster_client_hash of redirected clients */
};

/* The report in buf (CLUSTER_MSG_MAX); its length, or -EINVAL (bad name, counts). */
int cluster_report_pack(const struct cluster_report *r, const uint8_t *key, size_t keylen,
                        uint8_t *buf, size_t cap);
/*
 * Checks the length and header, then the HMAC, then decodes: CLUSTER_OK
 * with *r filled, else the verdict (never STALE: that is the receiver's
 * replay check, cluster_report_fresh).
 */
enum cluster_verdict cluster_report_unpack(const uint8_t *buf, size_t len, const uint8_t *key,
                                           size_t keylen, struct cluster_report *r);

/*
 * Replay and reorder protection for one sibling: last is the newest
 * accepted (boot_id, seq). A report is fresh when its wall clock is within
 * window_ms of now_wall_ms and its sequence is newer than last's, or it
 * comes from a new boot and is newer than the last report by the clock (so
 * that two boots' reports cannot be replayed in turn).
 */
bool cluster_report_fresh(const struct cluster_report *r, uint64_t last_boot, uint64_t last_seq,
                          uint64_t last_wall_ms, uint64_t now_wall_ms, uint64_t window_ms);

/*
 * A client's transport address, keyed with the cluster secret so that a
 * report names no address and every node computes the same value.
 */
uint64_t cluster_client_hash(const uint8_t *key, size_t keylen, const struct tw_addr *client);

const char *cluster_verdict_name(enum cluster_verdict v);
const char *cluster_role_name(enum cluster_role r);
const char *cluster_sync_name(enum cluster_sync s);

#endif
