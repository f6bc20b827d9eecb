/*
 * The IPv6-to-IPv4 transport relay translator (RFC 3142, docs/trt.md): the
 * dummy prefix captured by nftables TPROXY into one transparent TCP
 * listener and one UDP socket; TCP relayed as a pair of connections,
 * UDP as mappings. Everything runs on worker 0's loop: its sockets,
 * timers and counters have one writer; the main thread reads the
 * counters (relaxed atomics) for /metrics.
 *
 * Each TCP pair and each UDP mapping is a struct flow (relay/flow.h) of
 * worker 0: the 1 s sweep ends idle ones, and shutdown frees them.
 */
#ifndef TWIST_RELAY_TRT_H
#define TWIST_RELAY_TRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/trt_addr.h"
#include "proto/trt_pkt.h"

struct relay;
struct trt;
struct evbuffer;

enum trt_proto { TRT_TCP, TRT_UDP };
enum trt_dir { TRT_TO_V4, TRT_TO_V6 };

/* Packets dropped that are no denial (twist_trt_dropped_total{reason}). */
enum trt_drop {
	TRT_DROP_FILTERED,  /* UDP from an IPv4 source the client never sent to */
	TRT_DROP_BAD,       /* outside the prefix, or a datagram the socket refused */
	TRT_DROP_DESTS,     /* a UDP mapping with all its destinations in use */
	TRT_DROP_ICMP_RATE, /* an ICMPv6 error over the rate limit */
	TRT_DROP_SEND,      /* a send failed (buffer full, unreachable) */
	TRT_DROP_SYN_HELD,  /* a retransmitted SYN for a connection being made */
	TRT_DROP__COUNT,
};

#define TRT_ALG_KINDS \
	6 /* proto/ftp_alg.h's rewrites: epsv, pasv_reply, epsv_all, eprt, lprt, lpsv */

struct trt_stats {
	int64_t mappings[2]; /* [tcp, udp], live */
	uint64_t mappings_total[2];
	uint64_t bytes[2][2]; /* [tcp, udp][to_v4, to_v6] */
	uint64_t denied[TRT_DENY__COUNT];
	uint64_t icmp[TRT_ICMP__COUNT];
	uint64_t alg[TRT_ALG_KINDS];
	uint64_t drops[TRT_DROP__COUNT];
	uint64_t splice_fallback; /* TCP reads copied through user space: no pipe was free */
};

/*
 * The FTP hook (docs/trt.md "FTP"): connections to a port in trt.ftp_ports
 * are relayed through buffers, not splice, and every read passes through
 * input(), which moves what it can from the two inputs (bytes from the
 * client, bytes from the server) into the two outputs; what it leaves is
 * offered again at the next read of either side. -1 closes the pair with
 * a RST both ways. relay/trt_ftp.c is the filter (the FTP ALG).
 */
struct trt_filter_env {
	struct tw_addr client;  /* A6:p */
	struct tw_addr server6; /* PREFIX::X4, r */
	struct tw_addr server4; /* X4:r */
	struct tw_addr source4; /* Y4:q, the IPv4 leg's own address */
};

struct trt_filter_ops {
	void *(*open)(struct trt *t, const struct trt_filter_env *env);
	int (*input)(void *ctx, struct evbuffer *from_v6, struct evbuffer *from_v4,
	             struct evbuffer *to_v4, struct evbuffer *to_v6);
	void (*close)(void *ctx);
};

extern const struct trt_filter_ops trt_ftp_ops;

/*
 * Sets up capture (the nft table and local route with trt.nft), the
 * listeners, the SYN queue, on worker 0. NULL with err set.
 */
struct trt *trt_new(struct relay *r, char *err, size_t errlen);
/* Stops the listeners and the SYN queue, before the workers go. */
void trt_unwatch(struct trt *t);
/* After the workers freed their flows: the table and route go. trt_free(NULL) is a no-op. */
void trt_free(struct trt *t);
void trt_stats_read(const struct trt *t, struct trt_stats *out);
/*
 * True once the pairs and mappings have fallen by `by` or more below their
 * peak since the last true (worker 0's tick then gives freed memory back,
 * as after a flood of TURN connections).
 */
bool trt_shrunk(struct trt *t, unsigned by);
void trt_set_filter(struct trt *t, const struct trt_filter_ops *ops);
/* For the ALG: one rewrite of the kind (enum ftp_alg_rw's order). */
void trt_count_alg(struct trt *t, unsigned kind);

/*
 * A UDP mapping from the peer's tuple (relay/standby.c, on worker 0): its
 * IPv4 socket bound to the exact Y4:q (IP_FREEBIND: the source may be a
 * VIP that arrives at failover), its destination sockets, its idle timer.
 * A delete frees it quietly. 0 or -errno.
 */
struct Twist__Flow;
int trt_udp_import(struct trt *t, const struct Twist__Flow *f);

const char *trt_drop_name(enum trt_drop d);
extern const char *const trt_alg_kind_names[TRT_ALG_KINDS];

#endif
