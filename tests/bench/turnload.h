/*
 * turnload: a TURN load generator for benchmarks (tests/bench/). One thread,
 * one epoll loop: N client sessions (one UDP socket each), an optional
 * built-in peer that echoes or sinks, pacing by the clock.
 *
 *   turnload.c    options, phases, the report
 *   tl_session.c  TURN control: Allocate with the 401 round trip,
 *                 CreatePermission, ChannelBind, Refresh, delete
 *   tl_load.c     the data path: paced sends, receive, the peer
 *   tl_stats.c    latency histograms, CPU and drop counters from /proc
 *
 * Loopback only: every address must be in 127.0.0.0/8.
 */
#ifndef TWIST_BENCH_TURNLOAD_H
#define TWIST_BENCH_TURNLOAD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/addr.h"
#include "proto/stun.h"

#define TL_BATCH     64   /* datagrams per recvmmsg/sendmmsg */
#define TL_PKT_MAX   9216 /* largest datagram we build or read */
#define TL_SIZE_MIN  24   /* payload: magic, session, seq, timestamp */
#define TL_SIZE_MAX  8192
#define TL_REQ_MAX   512 /* one control request */
#define TL_NONCE_MAX 256
#define TL_REALM_MAX 128
#define TL_MAX_SESS  20000
#define TL_MAX_RUN_S 3600 /* no run lasts longer than this */

/* Payload header, written by the sender and checked by every receiver. */
#define TL_MAGIC    0xB1544C31u  /* not STUN (0..3) nor ChannelData (0x40..0x4F) */
#define TL_SEQ_MEAS (1ull << 63) /* sent inside the measurement window */

enum tl_mode {
	TL_MODE_LOAD,  /* allocations + data */
	TL_MODE_SETUP, /* allocations only, timed */
	TL_MODE_PEER,  /* only the echo/sink peer */
};

enum tl_data {
	TL_DATA_CHANNEL, /* ChannelData after ChannelBind */
	TL_DATA_SEND,    /* Send indications after CreatePermission */
	TL_DATA_BARE,    /* no TURN: ChannelData framing straight to barefwd */
	TL_DATA_RAW,     /* no TURN, no framing: plain datagrams to barefwd */
};

struct tl_opts {
	enum tl_mode mode;
	enum tl_data data;
	struct sockaddr_in server;
	struct sockaddr_in peer;
	bool builtin_peer; /* run the peer in this process */
	bool echo;         /* peer echoes (round trip) or sinks (one way) */
	const char *user, *pass;
	unsigned allocs;
	unsigned window; /* control transactions in flight during set-up */
	double rate;     /* packets per second, all sessions together */
	unsigned size;   /* payload bytes */
	double warmup, duration, drain;
	double setup_timeout;
	unsigned lifetime; /* requested allocation lifetime */
	unsigned refresh;  /* seconds between refreshes; 0: from the lifetime */
	pid_t pid;         /* relay process whose CPU we read; 0: none */
	const char *label;
	bool quiet;
};

/* Log-linear histogram of nanoseconds: about 3% resolution, exact max. */
#define TL_HIST_BUCKETS (64 + 40 * 32)
struct tl_hist {
	uint64_t n, max;
	uint64_t b[TL_HIST_BUCKETS];
};

void tl_hist_add(struct tl_hist *h, uint64_t v);
uint64_t tl_hist_pct(const struct tl_hist *h, double pct);

/* Control states (one transaction in flight per session). */
enum tl_state {
	TL_ST_NEW,
	TL_ST_ALLOC,   /* Allocate sent (first without credentials) */
	TL_ST_PERM,    /* CreatePermission sent */
	TL_ST_BIND,    /* ChannelBind sent */
	TL_ST_READY,   /* data may flow, nothing in flight */
	TL_ST_REFRESH, /* Refresh sent; data still flows */
	TL_ST_REBIND,  /* ChannelBind or CreatePermission again; data flows */
	TL_ST_DELETE,  /* Refresh with LIFETIME 0 sent */
	TL_ST_CLOSED,
	TL_ST_FAILED,
};

struct tl_txn {
	uint8_t tid[STUN_TID_LEN];
	uint16_t method;
	uint8_t tries;
	uint8_t stale;    /* 401/438 retries for this request */
	uint64_t sent_ns; /* last (re)transmission */
	uint64_t rto_ns;
	size_t len;
	uint8_t buf[TL_REQ_MAX];
};

struct tl_sess {
	int fd;
	uint32_t idx;
	uint16_t chan;
	enum tl_state state;
	bool data_ok; /* allocation and permission (or channel) in place */
	bool authed;  /* realm and nonce known */
	int err;      /* last error code or -errno, for the report */
	uint8_t reopens;
	struct tw_addr relayed;
	uint32_t lifetime;
	uint64_t t_start_ns, next_refresh_ns;
	char realm[TL_REALM_MAX];
	uint8_t nonce[TL_NONCE_MAX];
	uint16_t realmlen, noncelen;
	uint8_t key[16];
	uint8_t hdr[64]; /* data header in front of the payload */
	uint8_t hdrlen;
	uint16_t pktlen; /* header + payload (+ padding) */
	struct tl_txn txn;
};

/* Everything one run owns; counters are since start unless _m (measured). */
struct tl_run {
	struct tl_opts o;
	int ep;
	int peer_fd;
	struct tw_addr peer_tw;
	struct tl_sess *sess;
	unsigned nsess;
	unsigned rr; /* round-robin cursor for sends */
	uint64_t t_start, t_meas, t_stop, t_end;
	uint64_t sched; /* packets the schedule asked for so far */
	uint64_t seq;
	bool measuring;

	uint64_t sent, sent_m, send_err, behind;
	uint64_t rx, rx_m, peer_rx, peer_rx_m, peer_tx_err;
	uint64_t junk, misrouted, icmp_err;
	struct tl_hist rtt, owd, setup;

	unsigned pending, ready, failed, closed;
	unsigned setup_ok; /* sessions that reached READY, ever */
	uint64_t txn_ok, txn_retx, txn_timeout, txn_401, txn_438;
	uint64_t refresh_ok, refresh_fail, reopens;
	int last_err;

	uint8_t ports[65536 / 8]; /* our own local UDP ports, for /proc/net/udp */
};

static inline bool tl_data_is_turn(const struct tl_run *r)
{
	return r->o.data == TL_DATA_CHANNEL || r->o.data == TL_DATA_SEND;
}

/* tl_stats.c */
static inline uint64_t tl_ns(double s)
{
	return (uint64_t)(s * 1e9);
}
uint64_t tl_now_ns(void);
int tl_proc_cpu(pid_t pid, double *sec);
int tl_self_cpu(double *sec);
/* Drops counted on our sockets (by local port) and RcvbufErrors for all UDP. */
int tl_udp_drops(const uint8_t *ports, uint64_t *mine, uint64_t *rcvbuf_all);
void tl_port_mark(uint8_t *ports, int fd);

/* tl_session.c */
int tl_sess_open(struct tl_run *r, struct tl_sess *s);
void tl_sess_start(struct tl_run *r, struct tl_sess *s);
void tl_sess_input(struct tl_run *r, struct tl_sess *s, const struct stun_msg *m);
void tl_sess_timers(struct tl_run *r, uint64_t now);
void tl_sess_delete(struct tl_run *r, struct tl_sess *s);
const char *tl_state_name(enum tl_state st);

/* tl_load.c */
#define TL_EV_PEER UINT32_MAX
int tl_peer_open(struct tl_run *r);
void tl_peer_input(struct tl_run *r);
void tl_client_input(struct tl_run *r, struct tl_sess *s);
void tl_load_send(struct tl_run *r, uint64_t now);
void tl_data_prepare(struct tl_run *r, struct tl_sess *s);
int tl_sock_udp(const struct sockaddr_in *bind_to, const struct sockaddr_in *connect_to,
                int bufsize);
int tl_loop_once(struct tl_run *r, int timeout_ms);

#endif
