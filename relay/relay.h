/*
 * Process-wide state of twist-relay and the per-worker state. Workers share
 * only what is listed in struct relay; everything on the packet path is
 * owned by one worker thread and needs no lock.
 */
#ifndef TWIST_RELAY_RELAY_H
#define TWIST_RELAY_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "relay/config.h"
#include "relay/stats.h"

struct epoll_event;

struct event_base;
struct event;
struct evconnlistener;
struct auth;
struct policy;
struct ports;
struct registry;
struct alloc_table;
struct ratelimit;
struct guard;
struct worker;
struct tcp_conn;
struct tcp_worker;
struct dtls_worker;
struct connlimit;
struct flow;
struct sync;
struct sync_worker;
struct userdb_loader;
struct twist_plane;
struct mice_ha;
struct stcred;
struct cluster;
struct trt;
struct fastpath;

#define RX_BATCH    32
#define RX_BUFSZ    4096 /* bigger datagrams are counted as DROP_OVERSIZE */
#define RX_HEADROOM 4    /* room for a ChannelData header in front of peer data */
#define TX_BATCH    128

struct listener {
	struct worker *w;
	int fd;
	struct event *ev;
	struct tw_addr addr;
	/* RFC 5780 §4.1: its discovery set, indexed by the STUN_CHANGE_* bits
	 * (>> 1) that lead from the primary listener to each socket, and its
	 * own index there; NULL without stun.rfc5780. */
	struct listener **set;
	unsigned set_pos;
	bool mice; /* the M-ICE encapsulation port: STUN by FINGERPRINT only (mice_port.h) */
};

struct relay {
	struct config cfg;
	char config_path[CFG_STR]; /* "" = embedded default */
	struct auth *auth;
	struct userdb_loader *udb; /* NULL without auth.database; main thread owns it */
	struct policy *policy;
	struct ports *ports;
	struct registry *reg;
	struct ratelimit *rl;    /* unauthenticated answers per source, all workers */
	struct guard *guard;     /* failed-authentication back-off, all workers */
	struct connlimit *conns; /* stream connections per source, all workers */
	struct tls_server *tls;  /* NULL without a tls listener (relay/tls.h) */
	struct worker **workers;
	unsigned n_workers;
	struct tw_addr relay_addr[2]; /* [0] IPv4, [1] IPv6; family 0 = none */
	uint32_t seed;
	int ready;                 /* all workers running; atomic */
	struct sync *sync;         /* NULL without ha.enabled */
	uint64_t sync_bad_msgs;    /* undecodable messages from twist-syncd; atomic */
	uint64_t sync_refused[24]; /* flows import_check refused, by reason; atomic */
	uint64_t sync_clamped;     /* lifetimes import_check clamped; atomic */
	int64_t import_backlog;    /* tuples handed to workers, not applied yet; atomic */
	int sync_loaded;           /* twist-syncd answered the start-up dump; atomic */
	struct twist_plane *twist; /* NULL unless twist.enabled (relay/twist_flow.h) */
	struct mice_ha *mice;      /* NULL unless mice.enabled (relay/mice_ha.h) */
	struct stcred *stcred;     /* ICE short-term credentials, the HA's (relay/stcred.h) */
	struct cluster *cluster;   /* NULL without cluster.node (relay/cluster.h) */
	int draining;              /* twistctl drain: redirect new Allocates; atomic */
	int redirecting;           /* above cluster.high_water, until low_water; atomic */
	uint64_t redirects[3];     /* 300s sent, by enum redirect_reason; atomic */
	uint64_t redirects_none;   /* wanted to redirect, no sibling could take it; atomic */
	struct trt *trt;           /* NULL unless trt.enabled (relay/trt.h) */
	struct fastpath *fp;       /* NULL: the user-space path only (relay/fastpath.h) */
};

/*
 * One recvmmsg batch, with headroom in front of each datagram. Queued sends
 * point into these buffers without copying; the batch's sends are flushed
 * before the next recvmmsg reuses them (relay/dataplane.c).
 */
struct rx_batch {
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage src[RX_BATCH];
	uint8_t buf[RX_BATCH][RX_HEADROOM + RX_BUFSZ];
};

/*
 * Datagrams to send. At flush time a run for one socket goes out in one
 * sendmmsg, and within it equal-sized datagrams to one destination become
 * one UDP GSO send (UDP_SEGMENT).
 */
struct tx_queue {
	unsigned n;
	int fd[TX_BATCH];
	bool has_dst[TX_BATCH];
	struct tw_addr dst[TX_BATCH];
	struct iovec iov[TX_BATCH];
	struct sockaddr_storage sa[TX_BATCH];
	struct mmsghdr out[TX_BATCH];
	uint8_t ctl[TX_BATCH][32];
};

struct worker {
	struct relay *r;
	unsigned id;
	pthread_t thread;
	struct event_base *base;
	struct event *tick;
	struct listener udp[2 * CFG_MAX_LISTEN]; /* and the mice port on each address */
	unsigned n_udp;
	struct listener udp_alt[3];  /* stun.rfc5780's extra sockets (udp.c) */
	struct listener *alt_set[4]; /* the primary and those three */
	struct evconnlistener *tcp[CFG_MAX_LISTEN];
	struct tw_addr tcp_addr[CFG_MAX_LISTEN];
	uint8_t tcp_kind[CFG_MAX_LISTEN]; /* enum stream_kind (relay/tcp.h) */
	unsigned n_tcp;
	struct alloc_table *allocs;
	struct flow *flows;         /* every published flow (relay/flow.h) */
	struct flow *dead;          /* closed this pass, freed by worker_reap */
	struct tcp_conn *tcp_conns; /* all client connections, for shutdown */
	struct tcpr_conn *tcpr;     /* RFC 6062 peer connections, by CONNECTION-ID */
	struct tcp_worker *tcpw;    /* accept back-off and the spare descriptor (tcp_accept.c) */
	struct tcp_inbox *tcpin;    /* data connections handed over (tcp_handover.c) */
	struct dtls_worker *dtlsw;  /* dtls listeners and sessions (dtls.c); NULL without */
	struct sync_worker *sw;     /* replication state; NULL without HA */
	uint64_t now_ms;            /* monotonic, refreshed at each callback */
	uint64_t log_last[DROP__COUNT];
	uint64_t log_misdirect[MISDIRECT_N];
	uint64_t log_import;
	uint64_t log_redirect; /* no sibling to redirect to */
	uint64_t log_fastpath;
	/* Data-plane sockets (per-client and relayed): an epoll set of their
	 * own, edge-triggered; libevent watches only its descriptor (dataplane.c). */
	int dfd;
	struct event *dev;
	struct epoll_event *dp_evs;
	struct rx_batch rx;
	struct tx_queue tx;
	bool gso_off; /* the kernel refused UDP_SEGMENT once: plain sends from then on */
	int stop;     /* atomic: leave the loop */
	struct stats st;
};

/* Whether peer's IP is the relay address of its family (relay ports live there). */
static inline bool relay_is_relay_ip(const struct relay *r, const struct tw_addr *peer)
{
	const struct tw_addr *ra = &r->relay_addr[peer->family == TW_AF_INET6];

	return ra->family && tw_addr_ip_eq(ra, peer);
}

/* Builds what the workers share and the workers (not started) from r->cfg. */
int relay_init(struct relay *r);
/* Frees what relay_init built, after the workers stopped; safe on a partial init. */
void relay_fini(struct relay *r);

static inline uint64_t relay_now_ms(void)
{
	return clock_mono_ms();
}

static inline uint64_t relay_wall_s(void)
{
	return clock_wall_s();
}

/* Counts a drop and logs it at most once a second per reason. */
void worker_drop(struct worker *w, enum drop_reason why, const struct tw_addr *from);

#endif
