#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics_http.h"
#include "proto/stun.h"
#include "proto/ws_handshake.h"
#include "relay/mice_ha.h"
#include "relay/cluster.h"
#include "relay/fastpath.h"
#include "relay/guard.h"
#include "relay/import_check.h"
#include "relay/metrics.h"
#include "relay/trt.h"
#include "relay/twist_flow.h"
#include "relay/ports.h"
#include "relay/registry.h"
#include "relay/sync.h"

/* Sums one counter over the workers; each is read with a relaxed load. */
#define SUM(r, field)                                                           \
	({                                                                      \
		uint64_t _s = 0;                                                \
		for (unsigned _i = 0; _i < (r)->n_workers; _i++)                \
			_s += (uint64_t)STAT_GET(&(r)->workers[_i]->st, field); \
		_s;                                                             \
	})

/* The HELP and TYPE lines of a metric family; its samples follow. */
static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of a family with one label. */
static void sample(struct evbuffer *b, const char *name, const char *label, const char *value,
                   uint64_t v)
{
	evbuffer_add_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)v);
}

static void counter(struct evbuffer *b, const char *name, const char *help, const char *type,
                    uint64_t v)
{
	family(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* The program's counters, all zero without a fast path. */
static void fastpath_totals(struct relay *r, uint64_t fs[FP_ST__COUNT])
{
	if (r->fp)
		fastpath_stats(r->fp, fs);
	else
		memset(fs, 0, FP_ST__COUNT * sizeof(fs[0]));
}

/*
 * What the fast path relayed counts as relayed, as if user space had
 * carried it: data bytes in and out, plus the 4-byte header towards
 * clients (relay/turn_data.c counts the same way).
 */
static void write_traffic(struct evbuffer *b, struct relay *r)
{
	uint64_t fs[FP_ST__COUNT];

	fastpath_totals(r, fs);
	const struct {
		const char *dir;
		uint64_t pkts, bytes;
	} t[] = {
	        {"client_in", SUM(r, rx_client_pkts) + fs[FP_ST_C2P_PKTS],
	         SUM(r, rx_client_bytes) + fs[FP_ST_C2P_BYTES]},
	        {"peer_out", SUM(r, tx_peer_pkts) + fs[FP_ST_C2P_PKTS],
	         SUM(r, tx_peer_bytes) + fs[FP_ST_C2P_BYTES]},
	        {"peer_in", SUM(r, rx_peer_pkts) + fs[FP_ST_P2C_PKTS],
	         SUM(r, rx_peer_bytes) + fs[FP_ST_P2C_BYTES]},
	        {"client_out", SUM(r, tx_client_pkts) + fs[FP_ST_P2C_PKTS],
	         SUM(r, tx_client_bytes) + fs[FP_ST_P2C_BYTES] + 4 * fs[FP_ST_P2C_PKTS]},
	};

	family(b, "twist_packets_total", "counter", "Relayed packets by direction.");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		sample(b, "twist_packets_total", "dir", t[i].dir, t[i].pkts);
	family(b, "twist_bytes_total", "counter", "Relayed bytes by direction.");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		sample(b, "twist_bytes_total", "dir", t[i].dir, t[i].bytes);
}

/* docs/fastpath.md, "Counters". */
static void write_fastpath(struct evbuffer *b, struct relay *r)
{
	uint64_t fs[FP_ST__COUNT];

	fastpath_totals(r, fs);
	counter(b, "twist_fastpath_enabled", "1 if the TC fast path is attached.", "gauge",
	        r->fp != NULL);
	counter(b, "twist_fastpath_entries", "Channels in the fast path's maps.", "gauge",
	        r->fp ? fastpath_entries(r->fp) : 0);
	family(b, "twist_fastpath_packets_total", "counter",
	       "Packets relayed by the fast path (also in twist_packets_total).");
	sample(b, "twist_fastpath_packets_total", "dir", "client_to_peer", fs[FP_ST_C2P_PKTS]);
	sample(b, "twist_fastpath_packets_total", "dir", "peer_to_client", fs[FP_ST_P2C_PKTS]);
	family(b, "twist_fastpath_bytes_total", "counter",
	       "Application data bytes relayed by the fast path (without ChannelData headers).");
	sample(b, "twist_fastpath_bytes_total", "dir", "client_to_peer", fs[FP_ST_C2P_BYTES]);
	sample(b, "twist_fastpath_bytes_total", "dir", "peer_to_client", fs[FP_ST_P2C_BYTES]);
	family(b, "twist_fastpath_fallbacks_total", "counter",
	       "Packets the fast path left to user space, by reason (dropped: lost after a "
	       "helper failed).");
	for (int i = FP_ST_FB_NO_ENTRY; i < FP_ST__COUNT; i++)
		sample(b, "twist_fastpath_fallbacks_total", "reason",
		       fastpath_stat_name((enum fp_stat)i), fs[i]);
}

static void write_reasons(struct evbuffer *b, struct relay *r)
{
	char code[8];

	family(b, "twist_drops_total", "counter", "Packets dropped, by reason.");
	for (int i = 0; i < DROP__COUNT; i++)
		sample(b, "twist_drops_total", "reason", stats_drop_name((enum drop_reason)i),
		       SUM(r, drops[i]));
	family(b, "twist_auth_failures_total", "counter", "Failed authentications.");
	for (int i = 0; i < AUTHF__COUNT; i++)
		sample(b, "twist_auth_failures_total", "reason",
		       stats_auth_fail_name((enum auth_fail)i), SUM(r, auth_fail[i]));
	family(b, "twist_ice_checks_total", "counter",
	       "ICE checks answered with short-term credentials, by outcome.");
	for (int i = 0; i < ICE_CHECK__COUNT; i++)
		sample(b, "twist_ice_checks_total", "result",
		       stats_ice_check_name((enum ice_check)i), SUM(r, ice_checks[i]));
	family(b, "twist_misdirected_total", "counter",
	       "Bytes from clients that spoke TLS, DTLS or HTTP to a TURN port, by kind (also "
	       "in drops).");
	for (int i = MISDIRECT_TLS; i < MISDIRECT_N; i++)
		sample(b, "twist_misdirected_total", "kind",
		       misdirect_desc((enum misdirect_kind)i)->name, SUM(r, misdirected[i]));
	family(b, "twist_requests_total", "counter", "STUN requests and indications.");
	for (int i = 0; i < SM__COUNT; i++) {
		uint64_t v = SUM(r, requests[i]);

		if (v)
			sample(b, "twist_requests_total", "method",
			       stats_method_name((enum stats_method)i), v);
	}
	family(b, "twist_error_responses_total", "counter", "Error responses by code.");
	for (int c = 0; c < 4; c++) {
		for (int n = 0; n < 100; n++) {
			uint64_t v = SUM(r, errors[c][n]);

			if (!v)
				continue;
			snprintf(code, sizeof(code), "%d", (c + 3) * 100 + n);
			sample(b, "twist_error_responses_total", "code", code, v);
		}
	}
}

/* docs/operations.md, "NAT behaviour discovery": RFC 5780 and RFC 3489 answers. */
static void write_stun_compat(struct evbuffer *b, struct relay *r)
{
	static const char *const change[] = {NULL, "port", "ip", "ip_port"};

	family(b, "twist_binding_changed_total", "counter",
	       "Binding answers sent from the alternate IP and/or port (RFC 5780 CHANGE-REQUEST).");
	for (int i = 1; i < 4; i++)
		sample(b, "twist_binding_changed_total", "change", change[i],
		       SUM(r, binding_changed[i]));
	counter(b, "twist_classic_binding_requests_total",
	        "Classic RFC 3489 Binding requests answered or rate-limited.", "counter",
	        SUM(r, classic_bindings));
}

/* TURN over DTLS (docs/operations.md, "DTLS"). */
static void write_dtls(struct evbuffer *b, struct relay *r)
{
	counter(b, "twist_dtls_sessions", "Open DTLS client sessions (past the cookie).", "gauge",
	        SUM(r, dtls_sessions));
	counter(b, "twist_dtls_cookies_total", "DTLS HelloVerifyRequests sent.", "counter",
	        SUM(r, dtls_cookies));
	counter(b, "twist_dtls_garbage_total",
	        "Datagrams on dtls ports from unknown sources that were no ClientHello.", "counter",
	        SUM(r, dtls_garbage));
	counter(b, "twist_dtls_refused_total", "DTLS clients refused by the connection caps.",
	        "counter", SUM(r, dtls_refused));
	family(b, "twist_dtls_handshakes_total", "counter",
	       "DTLS handshakes past the cookie, by how they ended.");
	for (int i = 0; i < TLSHS__COUNT; i++)
		sample(b, "twist_dtls_handshakes_total", "result",
		       stats_tls_hs_name((enum tls_hs)i), SUM(r, dtls_handshakes[i]));
}

/* docs/operations.md, "Hostile clients: TCP": one reason per limit. */
static void write_tcp(struct evbuffer *b, struct relay *r)
{
	family(b, "twist_tcp_refused_total", "counter",
	       "TCP connections closed at accept, by the limit that refused them.");
	for (int i = 0; i < REFUSE__COUNT; i++)
		sample(b, "twist_tcp_refused_total", "reason",
		       stats_refuse_name((enum conn_refuse)i), SUM(r, tcp_refused[i]));
	family(b, "twist_tcp_closed_total", "counter", "TCP client connections closed, by reason.");
	for (int i = 0; i < CLOSE__COUNT; i++)
		sample(b, "twist_tcp_closed_total", "reason", stats_close_name((enum conn_close)i),
		       SUM(r, tcp_closed[i]));
	counter(b, "twist_tcp_read_paused_total",
	        "Times reading from a TCP client stopped until it read its answers.", "counter",
	        SUM(r, tcp_read_paused));
	counter(b, "twist_tcp_accept_paused_total",
	        "Times a worker stopped accepting TCP for a while (out of descriptors).", "counter",
	        SUM(r, tcp_accept_paused));
	counter(b, "twist_malloc_trims_total",
	        "Times freed memory went back to the system after many connections closed.",
	        "counter", SUM(r, malloc_trims));
	family(b, "twist_stream_accepted_total", "counter",
	       "Stream client connections accepted, by transport.");
	sample(b, "twist_stream_accepted_total", "transport", "tcp",
	       SUM(r, tcp_conns_accepted) - SUM(r, tls_conns_accepted));
	sample(b, "twist_stream_accepted_total", "transport", "tls", SUM(r, tls_conns_accepted));
	family(b, "twist_tls_handshakes_total", "counter",
	       "TLS handshakes on client connections, by how they ended.");
	for (int i = 0; i < TLSHS__COUNT; i++)
		sample(b, "twist_tls_handshakes_total", "result", stats_tls_hs_name((enum tls_hs)i),
		       SUM(r, tls_handshakes[i]));
	write_dtls(b, r);
}

/*
 * TURN over WebSocket (docs/operations.md, "WebSocket"). Its connections
 * are stream connections, counted in the twist_tcp_* families as well;
 * these say what only WebSocket has. Gauges are summed as uint64_t: a
 * worker's share may be negative, the total is not.
 */
static void write_ws(struct evbuffer *b, struct relay *r)
{
	counter(b, "twist_ws_connections", "Open WebSocket client connections (upgraded).", "gauge",
	        SUM(r, ws_conns));
	counter(b, "twist_ws_allocations",
	        "Live allocations whose app-connection is ws (draft-chenxin §4).", "gauge",
	        SUM(r, ws_allocs));
	counter(b, "twist_ws_upgraded_total", "WebSocket handshakes accepted.", "counter",
	        SUM(r, ws_upgraded));
	counter(b, "twist_ws_pings_total", "WebSocket pings answered with a pong.", "counter",
	        SUM(r, ws_pings));
	family(b, "twist_ws_refused_total", "counter",
	       "WebSocket handshakes refused, by reason (the HTTP status is in the docs).");
	for (int i = 1; i < WS_HS_NREFUSALS; i++)
		sample(b, "twist_ws_refused_total", "reason",
		       ws_hs_refusal_name((enum ws_hs_refusal)i), SUM(r, ws_refused[i]));
	family(b, "twist_ws_errors_total", "counter",
	       "WebSocket connections failed on a protocol error, by the close code sent.");
	for (int i = 0; i < WS_ERR__COUNT; i++)
		sample(b, "twist_ws_errors_total", "code", stats_ws_err_name((enum ws_err)i),
		       SUM(r, ws_errors[i]));
}

/* RFC 6062 TCP relay allocations (docs/operations.md, "TCP relay"). */
static void write_tcp_relay(struct evbuffer *b, struct relay *r)
{
	counter(b, "twist_tcp_relay_connections", "Open RFC 6062 peer connections.", "gauge",
	        SUM(r, tcpr_conns));
	family(b, "twist_tcp_relay_bytes_total", "counter",
	       "Bytes piped between RFC 6062 data connections and peers, by direction.");
	sample(b, "twist_tcp_relay_bytes_total", "dir", "to_peer", SUM(r, tcpr_bytes_to_peer));
	sample(b, "twist_tcp_relay_bytes_total", "dir", "to_client", SUM(r, tcpr_bytes_to_client));
	family(b, "twist_tcp_relay_events_total", "counter",
	       "RFC 6062 connection events: bound, handed over to the id's worker, "
	       "connect failed (447), expired unbound, refused peers.");
	sample(b, "twist_tcp_relay_events_total", "event", "bound", SUM(r, tcpr_bound));
	sample(b, "twist_tcp_relay_events_total", "event", "handed_over", SUM(r, tcpr_handed_over));
	sample(b, "twist_tcp_relay_events_total", "event", "connect_failed", SUM(r, tcpr_failed));
	sample(b, "twist_tcp_relay_events_total", "event", "expired", SUM(r, tcpr_expired));
	sample(b, "twist_tcp_relay_events_total", "event", "refused", SUM(r, tcpr_refused));
}

static void write_import(struct evbuffer *b, struct relay *r)
{
	family(b, "twist_sync_import_refused_total", "counter",
	       "Flows from twist-syncd refused by the import check, by reason.");
	for (int i = 1; i < IMPORT__COUNT; i++)
		sample(b, "twist_sync_import_refused_total", "reason",
		       import_reason_name((enum import_reason)i),
		       __atomic_load_n(&r->sync_refused[i], __ATOMIC_RELAXED));
	counter(b, "twist_sync_import_clamped_total",
	        "Lifetimes from twist-syncd cut to this node's maxima.", "counter",
	        __atomic_load_n(&r->sync_clamped, __ATOMIC_RELAXED));
}

static void write_sync(struct evbuffer *b, struct relay *r)
{
	write_import(b, r);
	counter(b, "twist_sync_connected", "twist-syncd heard from in the last 1.5 s.", "gauge",
	        sync_connected(r));
	counter(b, "twist_sync_peer_ready", "The standby holds every flow: responses wait for it.",
	        "gauge", sync_peer_ready(r));
	counter(b, "twist_sync_exported_total", "Flow tuples pushed to twist-syncd.", "counter",
	        SUM(r, sync_exported));
	counter(b, "twist_sync_imported_total", "Flow tuples applied from twist-syncd.", "counter",
	        SUM(r, sync_imported));
	counter(b, "twist_sync_import_failed_total", "Flow tuples that could not be applied.",
	        "counter", SUM(r, sync_import_failed));
	counter(b, "twist_sync_tcp_skipped_total", "TCP flows not imported (cannot survive).",
	        "counter", SUM(r, sync_tcp_skipped));
	counter(b, "twist_sync_send_again_total", "Pushes deferred by ipc backpressure.", "counter",
	        SUM(r, sync_send_again));
	counter(b, "twist_sync_deletes_lost_total", "Delete tuples dropped on a full queue.",
	        "counter", SUM(r, sync_deletes_lost));
	counter(b, "twist_sync_held_total", "Responses held until the standby acknowledged.",
	        "counter", SUM(r, sync_held));
	counter(b, "twist_sync_acked_total", "Held responses released by the standby's ack.",
	        "counter", SUM(r, sync_acked));
	counter(b, "twist_sync_deadline_expired_total",
	        "Held responses sent at the deadline without the standby's ack.", "counter",
	        SUM(r, sync_deadline_expired));
	counter(b, "twist_sync_import_backlog", "Tuples received, not built yet.", "gauge",
	        (uint64_t)__atomic_load_n(&r->import_backlog, __ATOMIC_RELAXED));
	counter(b, "twist_sync_bad_messages_total", "Undecodable messages from twist-syncd.",
	        "counter", __atomic_load_n(&r->sync_bad_msgs, __ATOMIC_RELAXED));
}

static void write_guard(struct evbuffer *b, struct relay *r)
{
	struct guard_stats gs;

	guard_stats(r->guard, relay_now_ms(), &gs);
	counter(b, "twist_auth_backoff_refused_source_total",
	        "Authentications refused unchecked: the source is backed off.", "counter",
	        gs.refused_source);
	counter(b, "twist_auth_backoff_refused_user_total",
	        "Authentications refused unchecked: a failing source on a guessed username.",
	        "counter", gs.refused_user);
	counter(b, "twist_auth_backoff_failures_total", "Failed authentications counted.",
	        "counter", gs.failures);
	counter(b, "twist_auth_backoff_evicted_total",
	        "Back-off records pushed out by a full table.", "counter", gs.evicted);
	counter(b, "twist_auth_backoff_sources", "Sources with failures on record.", "gauge",
	        gs.sources);
	counter(b, "twist_auth_backoff_users", "Usernames with failures on record.", "gauge",
	        gs.users);
}

/* Samples with two labels (twist_twist_flows{type,proto}). */
static void write_twist(struct evbuffer *b, struct relay *r)
{
	static const char *const types[2] = {"connect", "listen"}, *const protos[2] = {"udp",
	                                                                               "tcp"};
	static const char *const dirs[2] = {"to_peer", "to_client"};
	struct twist_stats st;
	char code[8];

	twist_plane_stats(r->twist, &st);
	family(b, "twist_twist_flows", "gauge", "Live TWIST flows by type and protocol.");
	for (unsigned t = 0; t < 2; t++)
		for (unsigned p = 0; p < 2; p++)
			evbuffer_add_printf(b, "twist_twist_flows{type=\"%s\",proto=\"%s\"} %lld\n",
			                    types[t], protos[p], (long long)st.flows[t][p]);
	family(b, "twist_twist_packets_total", "counter", "TWIST segments relayed, by direction.");
	for (unsigned d = 0; d < 2; d++)
		sample(b, "twist_twist_packets_total", "dir", dirs[d], st.pkts[d]);
	family(b, "twist_twist_bytes_total", "counter",
	       "TWIST segment bytes relayed (without IP header), by direction.");
	for (unsigned d = 0; d < 2; d++)
		sample(b, "twist_twist_bytes_total", "dir", dirs[d], st.bytes[d]);
	family(b, "twist_twist_dropped_total", "counter", "TWIST packets dropped, by reason.");
	for (unsigned i = 0; i < TWD__COUNT; i++)
		sample(b, "twist_twist_dropped_total", "reason",
		       twist_drop_name((enum twist_drop)i), st.drops[i]);
	counter(b, "twist_twist_gro_reads_total",
	        "Reads from TWIST client sockets that carried more than one datagram (UDP_GRO).",
	        "counter", st.gro_reads);
	counter(b, "twist_twist_gro_datagrams_total", "Datagrams those reads carried.", "counter",
	        st.gro_dgrams);
	counter(b, "twist_twist_tso_reads_total",
	        "TUN reads that were a peer's TCP super-packet (TSO toward the relay).", "counter",
	        st.tso_reads);
	counter(b, "twist_twist_tso_segments_total", "Segments those reads were cut into.",
	        "counter", st.tso_segs);
	family(b, "twist_twist_allocate_errors_total", "counter",
	       "TWIST Allocate requests answered with an error, by code.");
	for (unsigned i = 0; i < TWIST_ERR_CODES; i++) {
		snprintf(code, sizeof(code), "%d", twist_err_codes[i]);
		sample(b, "twist_twist_allocate_errors_total", "code", code, st.errors[i]);
	}
}

/* mice.enabled: the home agent (docs/mice.md §6). */
static void write_mice(struct evbuffer *b, struct relay *r)
{
	struct mice_ha_stats st;

	mice_ha_stats(r->mice, &st);
	counter(b, "twist_mice_bindings", "Live M-ICE home-agent bindings.", "gauge", st.bindings);
	family(b, "twist_mice_messages_total", "counter",
	       "Datagrams on the M-ICE encapsulation port, by kind.");
	sample(b, "twist_mice_messages_total", "kind", "stun", st.stun);
	sample(b, "twist_mice_messages_total", "kind", "binding_update", st.rx_bu);
	sample(b, "twist_mice_messages_total", "kind", "binding_ack", st.rx_ba);
	family(b, "twist_mice_binding_updates_total", "counter",
	       "Binding Updates answered, by result.");
	for (unsigned i = 0; i < MICE_BU__COUNT; i++)
		sample(b, "twist_mice_binding_updates_total", "result",
		       mice_bu_result_name((enum mice_bu_result)i), st.bu[i]);
	family(b, "twist_mice_relayed_total", "counter",
	       "Messages relayed between mobile and correspondent nodes.");
	sample(b, "twist_mice_relayed_total", "kind", "binding_update", st.relayed_bu);
	sample(b, "twist_mice_relayed_total", "kind", "binding_ack", st.relayed_ba);
	family(b, "twist_mice_dropped_total", "counter", "Mobility messages dropped, by reason.");
	for (unsigned i = 0; i < MICE_DROP__COUNT; i++)
		sample(b, "twist_mice_dropped_total", "reason", mice_drop_name((enum mice_drop)i),
		       st.drops[i]);
}

/* docs/cluster-protocol.md: redirection and the siblings. */
static void write_cluster(struct evbuffer *b, struct relay *r)
{
	static const char *const why[REDIRECT__COUNT] = {"high_water", "draining", "anycast"};

	family(b, "twist_redirects_total", "counter",
	       "New Allocates answered 300 Try Alternate, by reason.");
	for (int i = 0; i < REDIRECT__COUNT; i++)
		sample(b, "twist_redirects_total", "reason", why[i],
		       __atomic_load_n(&r->redirects[i], __ATOMIC_RELAXED));
	counter(b, "twist_redirects_unavailable_total",
	        "Allocates served here although draining or above high water: no sibling could "
	        "take them.",
	        "counter", __atomic_load_n(&r->redirects_none, __ATOMIC_RELAXED));
	counter(b, "twist_draining", "1 while draining (twistctl drain).", "gauge",
	        (uint64_t)__atomic_load_n(&r->draining, __ATOMIC_RELAXED));
	counter(b, "twist_redirecting", "1 while above cluster.high_water (until low_water).",
	        "gauge", (uint64_t)__atomic_load_n(&r->redirecting, __ATOMIC_RELAXED));
	cluster_metrics(r, b);
}

/* The translator (docs/trt.md "Metrics"); proto and dir are two labels. */
static void write_trt(struct evbuffer *b, struct relay *r)
{
	static const char *const protos[2] = {"tcp", "udp"}, *const dirs[2] = {"to_v4", "to_v6"};
	struct trt_stats st;

	trt_stats_read(r->trt, &st);
	family(b, "twist_trt_mappings", "gauge",
	       "Live translator mappings (TCP pairs, UDP mappings).");
	for (unsigned p = 0; p < 2; p++)
		sample(b, "twist_trt_mappings", "proto", protos[p], (uint64_t)st.mappings[p]);
	family(b, "twist_trt_mappings_total", "counter", "Translator mappings created.");
	for (unsigned p = 0; p < 2; p++)
		sample(b, "twist_trt_mappings_total", "proto", protos[p], st.mappings_total[p]);
	family(b, "twist_trt_bytes_total", "counter",
	       "Payload bytes relayed, by protocol and direction.");
	for (unsigned p = 0; p < 2; p++)
		for (unsigned d = 0; d < 2; d++)
			evbuffer_add_printf(b,
			                    "twist_trt_bytes_total{proto=\"%s\",dir=\"%s\"} %llu\n",
			                    protos[p], dirs[d], (unsigned long long)st.bytes[p][d]);
	family(b, "twist_trt_denied_total", "counter", "Mappings refused, by reason.");
	for (unsigned i = TRT_DENY_ACL; i < TRT_DENY__COUNT; i++)
		sample(b, "twist_trt_denied_total", "reason", trt_deny_name((enum trt_deny)i),
		       st.denied[i]);
	family(b, "twist_trt_alg_rewrites_total", "counter", "FTP ALG rewrites, by kind.");
	for (unsigned i = 0; i < TRT_ALG_KINDS; i++)
		sample(b, "twist_trt_alg_rewrites_total", "kind", trt_alg_kind_names[i], st.alg[i]);
	family(b, "twist_trt_icmp_sent_total", "counter",
	       "ICMPv6 errors sent to clients, by type.");
	for (unsigned i = 0; i < TRT_ICMP__COUNT; i++)
		sample(b, "twist_trt_icmp_sent_total", "type",
		       trt_icmp_kind_name((enum trt_icmp_kind)i), st.icmp[i]);
	family(b, "twist_trt_dropped_total", "counter", "Translator packets dropped, by reason.");
	for (unsigned i = 0; i < TRT_DROP__COUNT; i++)
		sample(b, "twist_trt_dropped_total", "reason", trt_drop_name((enum trt_drop)i),
		       st.drops[i]);
	counter(b, "twist_trt_splice_fallback_total",
	        "TCP reads copied through user space because no splice pipe was free.", "counter",
	        st.splice_fallback);
}

static int metrics_page(struct evbuffer *b, void *arg)
{
	struct relay *r = arg;
	int64_t perms = 0, chans = 0, conns = 0;

	for (unsigned i = 0; i < r->n_workers; i++) {
		perms += STAT_GET(&r->workers[i]->st, permissions);
		chans += STAT_GET(&r->workers[i]->st, channels);
		conns += STAT_GET(&r->workers[i]->st, tcp_conns);
	}
	counter(b, "twist_allocations", "Live allocations.", "gauge", registry_count(r->reg));
	counter(b, "twist_permissions", "Live permissions.", "gauge", (uint64_t)perms);
	counter(b, "twist_channels", "Live channel bindings.", "gauge", (uint64_t)chans);
	counter(b, "twist_tcp_connections", "Open TCP client connections.", "gauge",
	        (uint64_t)conns);
	counter(b, "twist_allocations_created_total", "Allocations created.", "counter",
	        SUM(r, allocs_created));
	counter(b, "twist_allocations_expired_total", "Allocations that timed out.", "counter",
	        SUM(r, allocs_expired));
	counter(b, "twist_allocations_deleted_total", "Allocations deleted by the client.",
	        "counter", SUM(r, allocs_deleted));
	counter(b, "twist_relay_ports_in_use", "Relay ports bound (IPv4 and IPv6).", "gauge",
	        ports_in_use(r->ports, TW_AF_INET) + ports_in_use(r->ports, TW_AF_INET6));
	counter(b, "twist_workers", "Worker threads.", "gauge", r->n_workers);
	write_guard(b, r);
	write_tcp(b, r);
	write_ws(b, r);
	write_tcp_relay(b, r);
	write_stun_compat(b, r);
	write_traffic(b, r);
	write_fastpath(b, r);
	write_reasons(b, r);
	if (r->cfg.ha_enabled)
		write_sync(b, r);
	if (r->twist)
		write_twist(b, r);
	if (r->mice)
		write_mice(b, r);
	write_cluster(b, r);
	if (r->trt)
		write_trt(b, r);
	return 200;
}

/*
 * /ready: what twist-ha weighs for VRRP priority (DESIGN decision 7). With
 * HA, a relay is ready once every flow twist-syncd holds is built here;
 * until then a failover to this node would find allocations missing.
 */
static int ready_page(struct evbuffer *b, void *arg)
{
	struct relay *r = arg;
	bool up = __atomic_load_n(&r->ready, __ATOMIC_ACQUIRE);
	bool ok = up && sync_importing_done(r);

	if (ok)
		evbuffer_add_printf(b, "ready\n");
	else if (!up)
		evbuffer_add_printf(b, "starting\n");
	else if (!__atomic_load_n(&r->sync_loaded, __ATOMIC_ACQUIRE))
		evbuffer_add_printf(b, "waiting for twist-syncd's flows\n");
	else
		evbuffer_add_printf(
		        b, "importing %lld flows\n",
		        (long long)__atomic_load_n(&r->import_backlog, __ATOMIC_RELAXED));
	return ok ? 200 : 503;
}

static int health_page(struct evbuffer *b, void *arg)
{
	struct relay *r = arg;
	bool ok = __atomic_load_n(&r->ready, __ATOMIC_ACQUIRE);

	evbuffer_add_printf(b, ok ? "ok\n" : "starting\n");
	return ok ? 200 : 503;
}

/*
 * /serving: the anycast signal (twist-ha --anycast). 200 while this node
 * takes new allocations; 503 while it drains or is not ready, so that the
 * route is withdrawn and existing allocations run down here.
 */
static int serving_page(struct evbuffer *b, void *arg)
{
	struct relay *r = arg;
	bool up = __atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) && sync_importing_done(r);
	bool draining = __atomic_load_n(&r->draining, __ATOMIC_RELAXED);

	if (up && !draining) {
		evbuffer_add_printf(b, "serving\n");
		return 200;
	}
	evbuffer_add_printf(b, draining ? "draining\n" : "not ready\n");
	return 503;
}

struct metrics_http *metrics_start(struct relay *r, struct event_base *base)
{
	static const struct metrics_http_page pages[] = {
	        {"/metrics", metrics_page},
	        {"/health", health_page},
	        {"/ready", ready_page},
	        {"/serving", serving_page},
	};
	char ip[TW_ADDR_STRLEN];

	tw_addr_fmt_ip(&r->cfg.metrics, ip, sizeof(ip));
	return metrics_http_start(base, ip, r->cfg.metrics.port, pages,
	                          sizeof(pages) / sizeof(pages[0]), r);
}
