/*
 * twist-syncd's counters and the replication-lag window. Plain integers:
 * the daemon is one thread, and /metrics runs on the same loop.
 */
#ifndef TWIST_SYNCD_STATS_H
#define TWIST_SYNCD_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Why a message (or part of one) was refused. Each is counted per source. */
enum drop_reason {
	DROP_GARBAGE,        /* not protobuf, or not our message */
	DROP_OVERSIZED,      /* above FLOW_MAX_MSG */
	DROP_BUDGET,         /* protobuf-c would allocate more than FLOW_BUDGET(len) */
	DROP_INVALID_FLOW,   /* decodes, but a flow breaks flow_valid() */
	DROP_INVALID,        /* decodes, but a field is out of range (node_id 0, seq 0...) */
	DROP_VERSION,        /* HELLO of another protocol version */
	DROP_SELF,           /* carries our own node id: a loop or a misconfiguration */
	DROP_WRONG_EPOCH,    /* not from the peer session we know */
	DROP_NO_SESSION,     /* data before the session is up */
	DROP_REPLAYED_SEQ,   /* at or below the cumulative ACK, or already buffered */
	DROP_FAR_FUTURE_SEQ, /* beyond the window: cannot be ours */
	DROP_OVERFLOW,       /* no room to buffer or queue it now (it is asked for again) */
	DROP__COUNT
};

enum drop_source { SRC_PEER, SRC_RELAY, SRC__COUNT };

#define LAG_WINDOW  4096 /* recent samples kept for the p50/p99 gauges */
#define LAG_BUCKETS 12

struct sync_stats {
	uint64_t drops[SRC__COUNT][DROP__COUNT];
	uint64_t batches_tx, batches_rx, flows_tx, flows_rx;
	uint64_t resends, nacks_tx, nacks_rx, acks_tx, acks_rx;
	uint64_t hellos_tx, hellos_rx, alives_tx, alives_rx;
	uint64_t bulk_tx, bulk_rx; /* bulks sent / completed as receiver */
	uint64_t bulk_last_us;     /* duration of the last completed receive */
	uint64_t bulk_last_flows;
	uint64_t split_brain, peer_restarts, peer_down;
	uint64_t tokens_acked, tokens_unreplicated;
	uint64_t local_msgs, local_flows; /* from the relay */
	uint64_t relay_msgs, relay_flows; /* to the relay */
	uint64_t relay_overflow;          /* messages for the relay dropped: queue full */
	uint64_t dump_late;               /* dump-reply flows after the session started */
	uint64_t tx_blocked;              /* peer sends that met EAGAIN */
	uint64_t expired;                 /* flows aged out of the table */
	uint64_t swept;                   /* flows deleted by a bulk's mark-and-sweep */
	/* Replication lag: local change in -> covering ACK back, microseconds. */
	uint64_t lag_ring[LAG_WINDOW];
	uint64_t lag_n; /* samples ever taken */
	uint64_t lag_sum_us;
	uint64_t lag_bucket[LAG_BUCKETS]; /* cumulative, Prometheus style */
};

extern const uint64_t stats_lag_bounds_us[LAG_BUCKETS];

const char *stats_drop_name(enum drop_reason r);
const char *stats_source_name(enum drop_source s);
void stats_lag_add(struct sync_stats *st, uint64_t lag_us);
/* Percentile (0..100) over the recent window; 0 without samples. */
uint64_t stats_lag_pct(const struct sync_stats *st, unsigned pct);

#endif
