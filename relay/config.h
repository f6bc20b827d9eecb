/*
 * twist-relay configuration as plain structs. config.c is the only file that
 * includes libyaml; config_check.c validates; nothing else sees YAML.
 */
#ifndef TWIST_RELAY_CONFIG_H
#define TWIST_RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "proto/addr.h"
#include "proto/trt_addr.h"

#define CFG_MAX_LISTEN     16
#define CFG_MAX_RELAY      4
#define CFG_MAX_USERS      10000
#define CFG_MAX_CIDRS      256
#define CFG_STR            256
#define CFG_MAX_WS_ORIGINS 32
#define CFG_MAX_DOC        (1024 * 1024) /* bytes of YAML, checked before parsing */
#define CFG_CONTROL_SOCKET "/run/twist/relay.sock"
#define CFG_TUN_NAME       16 /* IFNAMSIZ */
#define CFG_MAX_SIBLINGS   16
#define CFG_MAX_ANYCAST    8
#define CFG_TRT_RULES      256
#define CFG_TRT_SOURCES    64
#define CFG_TRT_FTP_PORTS  16
#define CFG_NFT_NAME       64
#define CFG_MAX_FP_IFS     8

/* fastpath.enabled (docs/fastpath.md) */
enum cfg_fastpath {
	CFG_FP_OFF,
	CFG_FP_AUTO, /* used if it loads; otherwise logged, user-space path */
	CFG_FP_ON,   /* a failure to load or attach stops the start */
};

struct cfg_listen {
	struct tw_addr addr; /* ip and port */
	bool udp;
	bool tcp;
	bool ws;   /* TURN over WebSocket (relay/ws.h) on this TCP port */
	bool tls;  /* TURN over TLS (RFC 8656 §3.2); the tls: section */
	bool wss;  /* TURN over WebSocket over TLS; the tls: and websocket: sections */
	bool dtls; /* TURN over DTLS (RFC 7350) on this UDP port; the tls: section */
};

/* The listener needs the TLS context (relay/tls.h). */
static inline bool cfg_listen_tls(const struct cfg_listen *l)
{
	return l->tls || l->wss || l->dtls;
}

/* The listener has a TCP socket. */
static inline bool cfg_listen_stream(const struct cfg_listen *l)
{
	return l->tcp || l->tls || l->ws || l->wss;
}

#define CFG_MAX_MICE_KEYS 64

/* mice.keys: one MN-HA security association (RFC 4285): SPI, key, home address. */
struct cfg_mice_key {
	unsigned spi;
	char key[CFG_STR];
	struct tw_addr home;
};

/* cluster.siblings[]: another relay of the cluster (relay/cluster.h). */
struct cfg_sibling {
	char name[CFG_STR];
	char report[CFG_STR];  /* its nanomsg PUB address, SUB-connected to */
	struct tw_addr alt[2]; /* ALTERNATE-SERVER per family: [0] IPv4, [1] IPv6 */
	char domain[CFG_STR];  /* ALTERNATE-DOMAIN over TLS; "" = none */
};

struct cfg_user {
	char name[CFG_STR];
	char password[CFG_STR];
};

struct config {
	char source[CFG_STR]; /* file name, or "<embedded>" */

	struct cfg_listen listen[CFG_MAX_LISTEN];
	unsigned n_listen;

	/* Relay addresses: at most one per family is used for allocations. */
	struct tw_addr relay[CFG_MAX_RELAY];
	unsigned n_relay;
	uint16_t port_min, port_max; /* default 49152..65535 */

	unsigned workers; /* 0: one per online CPU */

	/* auth */
	char realm[CFG_STR];    /* default "twist.local" */
	struct cfg_user *users; /* malloc'd array */
	unsigned n_users;
	char database[CFG_STR];     /* SQLite user database (relay/userdb.h); "" = none */
	char rest_secret[CFG_STR];  /* TURN REST shared secret; "" = off */
	char nonce_secret[CFG_STR]; /* "" = random per process (single node only) */
	unsigned nonce_lifetime;    /* seconds, default 600 */
	bool sha256;                /* offer PASSWORD-ALGORITHMS SHA-256 (default true) */
	unsigned unauth_rate;       /* 401 responses per second per source IP, default 20 */
	unsigned unauth_burst;      /* default 40 */
	unsigned backoff_after;     /* failed authentications from a source before it
	                             * backs off (relay/guard.h); 0 = off; default 5 */
	unsigned backoff_base_ms;   /* the first back-off, doubling; default 250 */
	unsigned backoff_max_ms;    /* the longest; default 60000 */

	/* peers */
	bool allow_loopback; /* demo only; logged loudly */
	bool allow_self;     /* peers may be our own listen, relay and metrics IPs; demo only */
	struct tw_cidr allow[CFG_MAX_CIDRS];
	unsigned n_allow;
	struct tw_cidr deny[CFG_MAX_CIDRS];
	unsigned n_deny;

	/* limits */
	unsigned max_allocations;  /* total, 0 = unlimited; default 100000 */
	unsigned user_quota;       /* per user, 0 = unlimited; default 0 */
	uint64_t bandwidth;        /* bytes/s per allocation, 0 = unlimited */
	unsigned default_lifetime; /* 600 */
	unsigned max_lifetime;     /* 3600 */
	/* stream (TCP) client connections; docs/operations.md "Hostile clients: TCP" */
	unsigned tcp_connections;         /* open at once, whole process; default 10000 */
	unsigned tcp_per_source;          /* from one IPv4 address or IPv6 /64; default 64 */
	unsigned tcp_unauth_per_source;   /* of which not authenticated yet; default 8 */
	unsigned tcp_frame_deadline_ms;   /* a begun frame must be complete by then; 10000 */
	unsigned tcp_request_deadline_ms; /* first complete frame after accept; 10000 */
	unsigned tcp_auth_deadline_ms;    /* first authenticated request after accept; 30000 */

	/* websocket: TURN over WebSocket listeners (docs/websocket.md) */
	char ws_path[CFG_STR];                        /* the URI path; default "/turn" */
	char ws_origins[CFG_MAX_WS_ORIGINS][CFG_STR]; /* allowed Origin values; none = any */
	unsigned n_ws_origins;
	unsigned ws_max_header;  /* bytes of request head; default 8192 */
	unsigned ws_max_message; /* bytes of one reassembled message; default 65556 */
	/* tls: for listeners with the tls transport (relay/tls.h) */
	char tls_cert[CFG_STR];        /* PEM chain; "" = a throwaway self-signed one */
	char tls_key[CFG_STR];         /* PEM private key; with tls_cert */
	char tls_ciphers[CFG_STR];     /* TLS 1.2 cipher list; "" = ECDHE with AEAD only */
	char tls_min_version[CFG_STR]; /* "1.2" (default) or "1.3" */

	/* compat */
	bool rfc5766_channels; /* accept channels 0x5000..0x7FFF (default false) */
	bool rfc3489;          /* answer classic RFC 3489 Binding requests (default true) */

	/* stun.rfc5780: NAT behaviour discovery. The alternate IP and port of
	 * the one UDP listener of that family; family 0 = off. */
	struct tw_addr rfc5780_other;

	/* ha: replication through the local twist-syncd */
	bool ha_enabled;
	char ha_ipc_dir[CFG_STR];     /* default /run/twist: sync-in.ipc, sync-out.ipc */
	unsigned ha_sync_deadline_ms; /* sync before answer: longest wait, default 5 */

	char ha_role_file[CFG_STR]; /* twist-ha's role file; default <ipc_dir>/role */

	/* cluster: sibling reports and ALTERNATE-SERVER (docs/cluster-protocol.md);
	 * off while cluster_node is "" */
	char cluster_node[CFG_STR];
	char cluster_secret[CFG_STR];
	char cluster_secret_file[CFG_STR];
	char cluster_listen[CFG_STR]; /* nanomsg PUB address, e.g. tcp://0.0.0.0:3491 */
	unsigned cluster_interval_ms; /* default 1000 */
	unsigned cluster_capacity;    /* reported; default limits.max_allocations */
	unsigned cluster_high_water;  /* redirect new Allocates above it; 0 = never */
	unsigned cluster_low_water;   /* stop again at or below it; 0 = 90% of high_water */
	struct cfg_sibling siblings[CFG_MAX_SIBLINGS];
	unsigned n_siblings;
	/* cluster.anycast: service addresses shared with other sites (IP only).
	 * A new Allocate on one is sent to cluster_unicast, this node's own
	 * address, which stays routed here when the anycast route moves. */
	struct tw_addr cluster_anycast[CFG_MAX_ANYCAST];
	unsigned n_cluster_anycast;
	struct tw_addr cluster_unicast[2]; /* per family: [0] IPv4, [1] IPv6 */
	char cluster_domain[CFG_STR];      /* ALTERNATE-DOMAIN naming it over TLS; "" = none */

	/* operations */
	char control_socket[CFG_STR]; /* twistctl's Unix socket; "" = none;
	                               * default CFG_CONTROL_SOCKET, best effort */
	char control_group[CFG_STR];  /* the socket's group; "" = the relay's own */
	bool metrics_enabled;
	struct tw_addr metrics;   /* default 127.0.0.1:9641 */
	enum log_level log_level; /* default info */
	bool log_syslog;
	char software[CFG_STR]; /* SOFTWARE attribute; "" = none */

	/* twist: TWIST flows (docs/twist-protocol.md), off by default */
	bool twist_enabled;
	struct tw_addr twist_relay4, twist_relay6; /* family 0 = that family not served */
	uint16_t twist_port_min, twist_port_max;   /* default 49152..65535, never below 16384 */
	char twist_tun[CFG_TUN_NAME];              /* default "twist0" */
	unsigned twist_idle_timeout;               /* s, default 60 */
	unsigned twist_max_flows_per_user;         /* default 64; 0 = unlimited */

	/* mice: the M-ICE home agent on the UDP encapsulation port (docs/mice.md) */
	bool mice_enabled;
	uint16_t mice_port;        /* default 4191 (RFC 5555) */
	unsigned mice_option_type; /* the MIP-ICE option's type, default 18 (RFC 5096) */
	struct cfg_mice_key mice_keys[CFG_MAX_MICE_KEYS];
	unsigned n_mice_keys;
	unsigned mice_max_lifetime; /* s, default 3600; longer requests are cut */
	unsigned mice_max_bindings; /* binding cache entries, default 1024 */
	unsigned mice_rate;         /* mobility messages per second per source IP, default 10 */
	unsigned mice_burst;        /* default 20 */

	/* fastpath: the TC eBPF ChannelData fast path (relay/fastpath.h) */
	enum cfg_fastpath fastpath;                      /* default off */
	char fastpath_ifs[CFG_MAX_FP_IFS][CFG_TUN_NAME]; /* interfaces it attaches to */
	unsigned n_fastpath_ifs;

	/* trt: the IPv6-to-IPv4 transport relay translator (docs/trt.md), off by default.
	 * Keep it last: main.c compares this tail of two configs on SIGHUP. */
	bool trt_enabled;
	struct tw_cidr trt_prefix;        /* default 64:ff9b::/96; only /96 */
	uint16_t trt_port;                /* transparent listeners' port, default 4630 */
	bool trt_nft;                     /* install our nft table and route, default true */
	char trt_nft_table[CFG_NFT_NAME]; /* default "twist_trt" */
	struct tw_addr trt_sources[CFG_TRT_SOURCES]; /* paired IPv4 sources; none = kernel's */
	unsigned n_trt_sources;
	struct trt_rule trt_allow[CFG_TRT_RULES], trt_deny[CFG_TRT_RULES];
	unsigned n_trt_allow, n_trt_deny;
	bool trt_allow_private;
	unsigned trt_tcp_idle_timeout;             /* s, default 7440 (RFC 5382) */
	unsigned trt_tcp_keepalive;                /* s, default 600 */
	unsigned trt_udp_idle_timeout;             /* s, default 300 (RFC 4787) */
	uint16_t trt_ftp_ports[CFG_TRT_FTP_PORTS]; /* default {21} */
	unsigned n_trt_ftp_ports;
	unsigned trt_max_tcp, trt_max_udp; /* default 20000 each */
};

/* The translator's rules as proto/trt_addr.h takes them (no self addresses). */
static inline void cfg_trt_policy(const struct config *c, struct trt_policy *p)
{
	p->prefix = c->trt_prefix;
	p->allow_private = c->trt_allow_private;
	p->allow = c->trt_allow;
	p->n_allow = c->n_trt_allow;
	p->deny = c->trt_deny;
	p->n_deny = c->n_trt_deny;
}

/* The embedded default (README "quick start"): a YAML document. */
extern const char config_default_yaml[];

/*
 * Parse YAML into cfg (which is first reset to defaults). On error returns
 * -1 and writes "name:line:column: message" to err.
 * Unknown keys are errors.
 */
int config_load_file(const char *path, struct config *cfg, char *err, size_t errlen);
int config_load_string(const char *yaml, size_t len, const char *name, struct config *cfg,
                       char *err, size_t errlen);
void config_defaults(struct config *cfg);
void config_trt_defaults(struct config *cfg);
void config_clear(struct config *cfg); /* frees users; safe to call twice */

/* Semantic checks (ranges, families, relay address per listen family...). */
int config_validate(const struct config *cfg, char *err, size_t errlen);

#endif
