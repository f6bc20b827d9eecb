/*
 * Per-worker counters. Each worker is the only writer of its own struct, so
 * increments are a relaxed load and store (plain moves on x86), not a locked
 * add; the metrics thread reads with relaxed loads and sums the workers.
 */
#ifndef TWIST_RELAY_STATS_H
#define TWIST_RELAY_STATS_H

#include <stdint.h>

#include "relay/misdirect.h"

enum drop_reason {
	DROP_NOT_STUN,      /* neither STUN nor ChannelData */
	DROP_MALFORMED,     /* STUN/ChannelData that fails to parse */
	DROP_FINGERPRINT,   /* FINGERPRINT present and wrong */
	DROP_NO_ALLOCATION, /* indication or ChannelData with no allocation */
	DROP_NO_PERMISSION, /* peer not permitted (either direction) */
	DROP_NO_CHANNEL,    /* ChannelData on an unbound channel */
	DROP_POLICY,        /* Send indication to a denied peer */
	DROP_BANDWIDTH,     /* over the per-allocation cap */
	DROP_RATELIMIT,     /* 401 suppressed by the per-source rate limit */
	DROP_OVERSIZE,      /* truncated on receive */
	DROP_SEND_ERROR,    /* the kernel refused to send */
	DROP_BACKPRESSURE,  /* TCP client output buffer full */
	DROP_NOT_OWNER,     /* arrived at a worker that does not own the 5-tuple */
	DROP_UNEXPECTED,    /* a response or unknown class from a client */
	DROP_CLASSIC,       /* a classic (RFC 3489) message other than a Binding request
	                     * over a datagram transport */
	DROP__COUNT,
};

enum auth_fail {
	AUTHF_MISSING,     /* no integrity: the normal first 401 */
	AUTHF_BAD_REQUEST, /* integrity without username/realm/nonce */
	AUTHF_NONCE,       /* stale or foreign nonce: 438 */
	AUTHF_UNKNOWN_USER,
	AUTHF_EXPIRED,    /* REST credential past expiry */
	AUTHF_INTEGRITY,  /* wrong password */
	AUTHF_WRONG_USER, /* 441: another user's allocation */
	AUTHF_BACKOFF,    /* refused unchecked: the source or user is backed off (guard.h) */
	AUTHF__COUNT,
};

/* ICE checks answered with short-term credentials (relay/turn_ice.c), by outcome. */
enum ice_check {
	ICE_CHECK_OK,            /* 200 */
	ICE_CHECK_UNKNOWN_USER,  /* 401: no live credentials for USERNAME */
	ICE_CHECK_INTEGRITY,     /* 401: wrong password */
	ICE_CHECK_BAD_REQUEST,   /* 400: no PRIORITY, or not one role attribute */
	ICE_CHECK_ROLE_CONFLICT, /* 487 */
	ICE_CHECK__COUNT,
};

/* Why a stream client connection was closed by the relay, or not accepted. */
enum conn_close {
	CLOSE_PEER,             /* EOF or an error from the client's side */
	CLOSE_IDLE,             /* no allocation and nothing heard for a while */
	CLOSE_BAD_FRAME,        /* neither STUN nor ChannelData: framing lost */
	CLOSE_FRAME_UNAUTH,     /* a frame longer than allowed before authentication */
	CLOSE_FRAME_DEADLINE,   /* a frame begun and not finished in time */
	CLOSE_REQUEST_DEADLINE, /* no complete frame in time after accept */
	CLOSE_AUTH_DEADLINE,    /* not authenticated in time after accept */
	CLOSE_WS_REFUSED,       /* WebSocket handshake refused with an HTTP status */
	CLOSE_WS_ERROR,         /* a WebSocket protocol error, answered with a close code */
	CLOSE_WS_CLOSED,        /* the client closed the WebSocket (close frame echoed) */
	CLOSE__COUNT,
};

/* Close codes the relay sends on a WebSocket protocol error (RFC 6455 §7.4.1). */
enum ws_err {
	WS_ERR_PROTOCOL, /* 1002 */
	WS_ERR_DATA,     /* 1003: a text frame */
	WS_ERR_UTF8,     /* 1007 */
	WS_ERR_TOO_BIG,  /* 1009 */
	WS_ERR_OTHER,
	WS_ERR__COUNT,
};
#define WS_REFUSE_N 17 /* WS_HS_NREFUSALS; proto/ws_handshake.h checks it */

enum conn_refuse {
	REFUSE_TOTAL,  /* limits.tcp_connections reached */
	REFUSE_SOURCE, /* limits.tcp_per_source reached for the address (IPv6: /64) */
	REFUSE_UNAUTH, /* limits.tcp_unauth_per_source reached */
	REFUSE_NOFILE, /* out of descriptors: accepted on the spare and closed */
	REFUSE__COUNT,
};

/* How a TLS handshake ended (relay/tls.h). */
enum tls_hs {
	TLSHS_OK,         /* completed */
	TLSHS_VERSION,    /* the client offered only versions below tls.min_version */
	TLSHS_NO_CIPHER,  /* no cipher suite in common */
	TLSHS_OTHER,      /* any other TLS error */
	TLSHS_INCOMPLETE, /* closed (EOF, a deadline) before it completed */
	TLSHS__COUNT,
};

/* Request and indication counters, one slot per method the relay knows. */
enum stats_method {
	SM_OTHER, /* methods with no row in the table */
	SM_BINDING,
	SM_ALLOCATE,
	SM_REFRESH,
	SM_SEND,
	SM_DATA,
	SM_CREATE_PERMISSION,
	SM_CHANNEL_BIND,
	SM_CONNECT,
	SM_CONNECTION_BIND,
	SM__COUNT,
};

struct stats {
	uint64_t rx_client_pkts, rx_client_bytes; /* data from clients (ChannelData, Send) */
	uint64_t tx_peer_pkts, tx_peer_bytes;     /* of which relayed to peers */
	uint64_t rx_peer_pkts, rx_peer_bytes;     /* data from peers */
	uint64_t tx_client_pkts, tx_client_bytes; /* relayed to clients */
	uint64_t requests[SM__COUNT];             /* by method */
	uint64_t errors[7][100]; /* error responses by class 3..6 and number; [0] unused */
	uint64_t drops[DROP__COUNT];
	uint64_t auth_fail[AUTHF__COUNT];
	uint64_t ice_checks[ICE_CHECK__COUNT];
	uint64_t misdirected[MISDIRECT_N]; /* by what the bytes looked like; [NONE] unused */
	uint64_t allocs_created, allocs_expired, allocs_deleted;
	uint64_t binding_changed[4];   /* RFC 5780 answers by STUN_CHANGE_* bits >> 1; [0] unused */
	uint64_t classic_bindings;     /* classic RFC 3489 Binding requests taken */
	int64_t permissions, channels; /* gauges */
	uint64_t tcp_conns_accepted;
	int64_t tcp_conns;
	uint64_t tcp_closed[CLOSE__COUNT];
	uint64_t tcp_refused[REFUSE__COUNT];
	uint64_t tcp_read_paused;   /* reading stopped: the client does not read its answers */
	uint64_t tcp_accept_paused; /* accepting stopped: out of descriptors, or another error */
	uint64_t malloc_trims;      /* freed memory given back after connections closed */
	/* TURN over WebSocket (relay/ws.c); its connections count as tcp_* too */
	uint64_t ws_upgraded;              /* handshakes accepted */
	int64_t ws_conns;                  /* gauge: upgraded connections open */
	int64_t ws_allocs;                 /* gauge: allocations whose app-connection is ws */
	uint64_t ws_refused[WS_REFUSE_N];  /* handshakes refused, by enum ws_hs_refusal */
	uint64_t ws_errors[WS_ERR__COUNT]; /* close codes sent for protocol errors */
	uint64_t ws_pings;                 /* pings answered */
	uint64_t tls_conns_accepted;       /* of the stream connections, those on tls listeners */
	uint64_t tls_handshakes[TLSHS__COUNT];
	/* RFC 6062 TCP relay (relay/tcp_relay.c) */
	int64_t tcpr_conns; /* gauge: peer connections open */
	uint64_t tcpr_bytes_to_peer, tcpr_bytes_to_client;
	uint64_t tcpr_failed;      /* Connects answered 447 */
	uint64_t tcpr_expired;     /* ids never bound within 30 s */
	uint64_t tcpr_refused;     /* peers without a permission, or over the cap */
	uint64_t tcpr_bound;       /* data connections bound (ConnectionBind) */
	uint64_t tcpr_handed_over; /* data connections moved to the id's worker */
	/* TURN over DTLS (relay/dtls.c) */
	uint64_t dtls_handshakes[TLSHS__COUNT];
	uint64_t dtls_cookies; /* HelloVerifyRequests sent (no state kept) */
	uint64_t dtls_garbage; /* datagrams from unknown sources that are no ClientHello */
	uint64_t dtls_refused; /* cookie-verified clients refused by the caps */
	int64_t dtls_sessions; /* gauge */
	/* replication */
	uint64_t sync_exported, sync_imported, sync_import_failed, sync_tcp_skipped;
	uint64_t sync_send_again, sync_deletes_lost;
	uint64_t sync_held, sync_acked, sync_deadline_expired;
};

#define STAT_ADD(s, field, n) __atomic_store_n(&(s)->field, (s)->field + (n), __ATOMIC_RELAXED)
#define STAT_INC(s, field)    STAT_ADD(s, field, 1)
#define STAT_GET(s, field)    __atomic_load_n(&(s)->field, __ATOMIC_RELAXED)

const char *stats_drop_name(enum drop_reason r);
const char *stats_auth_fail_name(enum auth_fail f);
const char *stats_ice_check_name(enum ice_check c);
const char *stats_method_name(enum stats_method m);
const char *stats_close_name(enum conn_close c);
const char *stats_refuse_name(enum conn_refuse r);
const char *stats_ws_err_name(enum ws_err e);
const char *stats_tls_hs_name(enum tls_hs h);

#endif
