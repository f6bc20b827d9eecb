#include <event2/buffer.h>

#include "common/metrics_http.h"
#include "syncd/metrics.h"

static void metric(struct evbuffer *b, const char *name, const char *type, const char *help,
                   uint64_t v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
	                    name, (unsigned long long)v);
}

static void head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void seconds(struct evbuffer *b, const char *name, const char *help, uint64_t us)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu.%06llu\n", name, help, name,
	                    name, (unsigned long long)(us / 1000000),
	                    (unsigned long long)(us % 1000000));
}

static void dir2(struct evbuffer *b, const char *name, const char *help, uint64_t tx, uint64_t rx)
{
	head(b, name, "counter", help);
	evbuffer_add_printf(b, "%s{dir=\"tx\"} %llu\n%s{dir=\"rx\"} %llu\n", name,
	                    (unsigned long long)tx, name, (unsigned long long)rx);
}

static void write_session(struct evbuffer *b, const struct session *s)
{
	const struct tx *tx = &s->tx;

	head(b, "twist_syncd_info", "gauge", "This node and its peer session.");
	evbuffer_add_printf(b,
	                    "twist_syncd_info{node_id=\"%llu\",epoch=\"%016llx\",peer_id=\"%llu\","
	                    "peer_epoch=\"%016llx\",state=\"%s\",table=\"%s\"} 1\n",
	                    (unsigned long long)s->cfg.node_id, (unsigned long long)s->cfg.epoch,
	                    (unsigned long long)s->peer_id, (unsigned long long)s->peer_epoch,
	                    session_state_name(s->state), session_sync_name(s->sync));
	metric(b, "twist_syncd_peer_up", "gauge", "1 while the session with the peer is up.",
	       s->state == SESS_UP);
	metric(b, "twist_syncd_synced", "gauge",
	       "1 when this node's table is a complete copy of the peer's, or it is master.",
	       session_synced(s));
	metric(b, "twist_syncd_resyncing", "gauge", "1 while a bulk resync is being received.",
	       s->sync == SYNC_RECEIVING);
	metric(b, "twist_syncd_master", "gauge", "1 when the role file says master.", s->master);
	metric(b, "twist_syncd_peer_master", "gauge", "1 when the peer says it is master.",
	       s->peer_master);
	metric(b, "twist_syncd_split_brain", "gauge", "1 while both nodes claim the VIP.",
	       s->split);
	metric(b, "twist_syncd_session_epoch", "gauge",
	       "This syncd's session epoch (low 48 bits; the full value is in twist_syncd_info).",
	       s->cfg.epoch & 0xffffffffffffull);
	metric(b, "twist_syncd_flows", "gauge", "Flows in the table.", s->table->live);
	metric(b, "twist_syncd_queue_depth", "gauge",
	       "Flows changed locally and not yet sent (coalesced).", s->table->queued);
	metric(b, "twist_syncd_window_batches", "gauge", "Sent messages not yet acknowledged.",
	       tx->next - tx->base);
	metric(b, "twist_syncd_window_bytes", "gauge", "Packed bytes kept for resends.", tx->bytes);
	metric(b, "twist_syncd_rx_held", "gauge", "Messages from the peer waiting for a gap.",
	       s->rx.held);
	metric(b, "twist_syncd_tokens_waiting", "gauge",
	       "Relay tokens waiting for the peer's acknowledgement.", tx->n_tokens);
}

static void write_counters(struct evbuffer *b, const struct sync_stats *st)
{
	dir2(b, "twist_syncd_batches_total", "Batches sent and applied.", st->batches_tx,
	     st->batches_rx);
	dir2(b, "twist_syncd_flows_total", "Flows sent and applied.", st->flows_tx, st->flows_rx);
	dir2(b, "twist_syncd_acks_total", "ACKs sent and received.", st->acks_tx, st->acks_rx);
	dir2(b, "twist_syncd_nacks_total", "NACK ranges sent and received.", st->nacks_tx,
	     st->nacks_rx);
	dir2(b, "twist_syncd_hellos_total", "HELLOs sent and received.", st->hellos_tx,
	     st->hellos_rx);
	dir2(b, "twist_syncd_alives_total", "ALIVEs sent and received.", st->alives_tx,
	     st->alives_rx);
	metric(b, "twist_syncd_resends_total", "counter", "Messages sent again after a NACK.",
	       st->resends);
	head(b, "twist_syncd_resyncs_total", "counter", "Bulk resyncs sent and received.");
	evbuffer_add_printf(b, "twist_syncd_resyncs_total{role=\"source\"} %llu\n",
	                    (unsigned long long)st->bulk_tx);
	evbuffer_add_printf(b, "twist_syncd_resyncs_total{role=\"receiver\"} %llu\n",
	                    (unsigned long long)st->bulk_rx);
	seconds(b, "twist_syncd_resync_last_seconds",
	        "Duration of the last bulk resync received (BulkBegin to BulkEnd).",
	        st->bulk_last_us);
	metric(b, "twist_syncd_resync_last_flows", "gauge", "Flows in the last bulk received.",
	       st->bulk_last_flows);
	head(b, "twist_syncd_tokens_total", "counter",
	     "Relay tokens answered: after the peer's ACK, or at once without a session.");
	evbuffer_add_printf(b, "twist_syncd_tokens_total{result=\"acked\"} %llu\n",
	                    (unsigned long long)st->tokens_acked);
	evbuffer_add_printf(b, "twist_syncd_tokens_total{result=\"unreplicated\"} %llu\n",
	                    (unsigned long long)st->tokens_unreplicated);
	metric(b, "twist_syncd_split_brains_total", "counter", "Split brains detected.",
	       st->split_brain);
	metric(b, "twist_syncd_peer_restarts_total", "counter", "New epochs seen from the peer.",
	       st->peer_restarts);
	metric(b, "twist_syncd_peer_down_total", "counter", "Sessions lost to silence.",
	       st->peer_down);
	metric(b, "twist_syncd_tx_blocked_total", "counter", "Sends to the peer that met EAGAIN.",
	       st->tx_blocked);
	metric(b, "twist_syncd_expired_total", "counter", "Flows aged out of the table.",
	       st->expired);
	metric(b, "twist_syncd_swept_total", "counter", "Flows deleted by a bulk's sweep.",
	       st->swept);
	dir2(b, "twist_syncd_relay_messages_total", "Messages to (tx) and from (rx) the relay.",
	     st->relay_msgs, st->local_msgs);
	dir2(b, "twist_syncd_relay_flows_total", "Flows to (tx) and from (rx) the relay.",
	     st->relay_flows, st->local_flows);
	metric(b, "twist_syncd_relay_overflow_total", "counter",
	       "Messages for the relay dropped (queue full); the relay then gets the whole table.",
	       st->relay_overflow);
	metric(b, "twist_syncd_late_dump_flows_total", "counter",
	       "Flows of relay dump replies after the session started (kept on a master, dropped "
	       "on a backup).",
	       st->dump_late);
	head(b, "twist_syncd_drops_total", "counter", "Messages refused, by source and reason.");
	for (int src = 0; src < SRC__COUNT; src++)
		for (int r = 0; r < DROP__COUNT; r++)
			evbuffer_add_printf(
			        b, "twist_syncd_drops_total{source=\"%s\",reason=\"%s\"} %llu\n",
			        stats_source_name((enum drop_source)src),
			        stats_drop_name((enum drop_reason)r),
			        (unsigned long long)st->drops[src][r]);
}

static void write_lag(struct evbuffer *b, const struct sync_stats *st)
{
	head(b, "twist_syncd_replication_lag_seconds", "histogram",
	     "Local change received to the peer's covering ACK.");
	for (int i = 0; i < LAG_BUCKETS; i++)
		evbuffer_add_printf(b,
		                    "twist_syncd_replication_lag_seconds_bucket{le=\"%g\"} %llu\n",
		                    (double)stats_lag_bounds_us[i] / 1e6,
		                    (unsigned long long)st->lag_bucket[i]);
	evbuffer_add_printf(b, "twist_syncd_replication_lag_seconds_bucket{le=\"+Inf\"} %llu\n",
	                    (unsigned long long)st->lag_n);
	evbuffer_add_printf(b, "twist_syncd_replication_lag_seconds_sum %.6f\n",
	                    (double)st->lag_sum_us / 1e6);
	evbuffer_add_printf(b, "twist_syncd_replication_lag_seconds_count %llu\n",
	                    (unsigned long long)st->lag_n);
	seconds(b, "twist_syncd_replication_lag_p50_seconds",
	        "Median replication lag over the last 4096 samples.", stats_lag_pct(st, 50));
	seconds(b, "twist_syncd_replication_lag_p99_seconds",
	        "99th percentile replication lag over the last 4096 samples.",
	        stats_lag_pct(st, 99));
}

static int metrics_page(struct evbuffer *b, void *arg)
{
	const struct metrics_src *src = arg;

	write_session(b, src->sess);
	write_counters(b, src->st);
	write_lag(b, src->st);
	metric(b, "twist_syncd_relay_queue_bytes", "gauge", "Bytes waiting for the relay.",
	       local_queued_bytes(src->local));
	return 200;
}

/* 200 whenever the loop answers (the relay ipc is bound before it starts). */
static int health_page(struct evbuffer *b, void *arg)
{
	const struct metrics_src *src = arg;

	evbuffer_add_printf(b, "%s\n", session_synced(src->sess) ? "synced" : "resyncing");
	return 200;
}

/* DESIGN decision 7: an out-of-sync node must not win VRRP; the HA glue reads this. */
static int ready_page(struct evbuffer *b, void *arg)
{
	const struct metrics_src *src = arg;
	const struct session *s = src->sess;
	bool ok = session_ready(s);

	evbuffer_add_printf(b, "%s\n",
	                    ok ? (s->master ? "master" : "synced")
	                       : (session_synced(s) ? "peer lost" : "resyncing"));
	return ok ? 200 : 503;
}

struct metrics_http *metrics_start(struct event_base *base, const struct tw_addr *addr,
                                   struct metrics_src *src)
{
	static const struct metrics_http_page pages[] = {
	        {"/metrics", metrics_page},
	        {"/health", health_page},
	        {"/ready", ready_page},
	};
	char ip[TW_ADDR_STRLEN];

	tw_addr_fmt_ip(addr, ip, sizeof(ip));
	return metrics_http_start(base, ip, addr->port, pages, sizeof(pages) / sizeof(pages[0]),
	                          src);
}
