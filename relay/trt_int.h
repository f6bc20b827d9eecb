/*
 * What the translator's files share (relay/trt*.c); nothing else includes
 * this. All of it is touched by worker 0's thread only, except the
 * counters, which the main thread reads with relaxed atomic loads.
 */
#ifndef TWIST_RELAY_TRT_INT_H
#define TWIST_RELAY_TRT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/config.h"
#include "relay/flow.h"
#include "relay/relay.h"
#include "relay/trt.h"

struct event;
struct evconnlistener;
struct accept_pause;
struct trt_syn;
struct trt_umap;
struct trt_pipes;

#define TRT_MAX_SELF 64
#define TRT_BUF      (65535 + 64)

struct trt {
	struct relay *r;
	struct worker *w; /* worker 0: owns every socket below and every pair and mapping */
	const struct config *cfg;
	struct trt_policy pol;
	struct tw_addr self[TRT_MAX_SELF];
	uint32_t seed;
	bool nft_installed, route_installed;
	int tcp_fd, udp_fd, raw_fd; /* the transparent listeners; raw: our own IPv6 packets */
	struct evconnlistener *tcp_l;
	struct accept_pause *tcp_pause;
	struct event *udp_ev;
	int urg_fd; /* epoll set of TCP sockets, EPOLLPRI only (trt_tcp.c) */
	struct event *urg_ev;
	struct trt_syn *syn; /* the SYN queue (relay/trt_syn.c) */
	struct trt_pipes
	        *pipes; /* lent to TCP directions with bytes in flight (relay/trt_pipe.c) */
	struct trt_umap **ubucket;
	unsigned umask;
	unsigned n_tcp, n_udp; /* live pairs (and held SYNs), mappings: the limits */
	unsigned trim_peak;    /* most pairs and mappings since memory was last given back */
	const struct trt_filter_ops *filter;
	uint64_t log_last[TRT_DENY__COUNT], icmp_last_ms;
	unsigned icmp_tokens;
	struct trt_stats st;
	uint8_t buf[TRT_BUF];
};

#define TRT_INC(t, f)    STAT_INC(&(t)->st, f)
#define TRT_ADD(t, f, n) STAT_ADD(&(t)->st, f, n)

uint64_t trt_now(struct trt *t);
/* The fixed ranges, self, the ACL: TRT_OK or why not. */
enum trt_deny trt_check(struct trt *t, const struct tw_addr *c6, const struct tw_addr *d4);
/* Counts a denial and logs it, at a rate limit, with the mapping A6:p -> X4:r via Y4:q. */
void trt_denied(struct trt *t, enum trt_proto p, const struct tw_addr *c6, const struct tw_addr *d4,
                enum trt_deny why);
void trt_drop(struct trt *t, enum trt_drop d);
/* The IPv4 source paired with the client's address (one per client); NULL: the kernel's. */
const struct tw_addr *trt_source(const struct trt *t, const struct tw_addr *c6);
/* A non-blocking IPv4 socket bound to the client's paired source. -errno. */
int trt_v4_socket(struct trt *t, int type, const struct tw_addr *c6);
/* Sends one IPv6 packet we built (RST, ICMPv6) to dst. */
int trt_raw_send(struct trt *t, const uint8_t *pkt, size_t len, const struct tw_addr *dst);
/* An ICMPv6 error to c6 from d6 quoting q, rate-limited and counted. */
void trt_icmp_send(struct trt *t, const struct trt_icmp6 *e, const struct tw_addr *d6,
                   const struct tw_addr *c6, const uint8_t *q, size_t qlen);
void trt_mapping_add(struct trt *t, enum trt_proto p, int delta);

/* relay/trt_nft.c: the table, the SYN queue's number, the local route. */
int trt_nft_install(struct trt *t, unsigned queue, char *err, size_t errlen);
void trt_nft_remove(struct trt *t);

/* relay/trt_tcp.c */
int trt_tcp_start(struct trt *t, char *err, size_t errlen);
void trt_tcp_stop(struct trt *t);
/* Both sides connected: relay them (an FTP data connection, relay/trt_ftp.c). */
void trt_tcp_pair_start(struct trt *t, int fd6, int fd4, const struct tw_addr *c6,
                        const struct tw_addr *d4);
/* An IPv4 connection made for a held SYN, handed over at accept. */
void trt_tcp_adopt(struct trt *t, int fd6, int fd4, const struct tw_addr *c6,
                   const struct tw_addr *d4);

/* relay/trt_pipe.c: the pool of splice pipes. */
struct trt_pipes *trt_pipes_new(void);
void trt_pipes_free(struct trt_pipes *pp);
int trt_pipe_get(struct trt_pipes *pp, int fds[2]);
void trt_pipe_put(struct trt_pipes *pp, int fds[2], bool empty);
unsigned trt_pipes_used(const struct trt_pipes *pp);

/* relay/trt_syn.c: SYNs held on an NFQUEUE until the IPv4 side answers. */
struct trt_syn *trt_syn_new(struct trt *t, unsigned queue, char *err, size_t errlen);
void trt_syn_free(struct trt_syn *s);
/* The connected IPv4 socket for the accepted c6 -> d6, or -ENOENT. */
int trt_syn_take(struct trt_syn *s, const struct tw_addr *c6, const struct tw_addr *d6);

/* relay/trt_udp.c */
int trt_udp_start(struct trt *t, char *err, size_t errlen);
void trt_udp_stop(struct trt *t);

#endif
