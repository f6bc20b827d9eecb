/*
 * The TWIST plane's insides, shared by its two files: relay/twist_plane.c
 * (ports, users, cookies, the client-to-peer side) and relay/twist_peer.c
 * (the TUN's peer-to-client side, on worker 0).
 */
#ifndef TWIST_RELAY_TWIST_PLANE_INT_H
#define TWIST_RELAY_TWIST_PLANE_INT_H

#include <event2/util.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "relay/twist_flow.h"

#define COOKIE_LINGER_MS 30000 /* spec §6: a cookie outlives its last flow by 30 s */
#define MAX_ARMED        8     /* spec §6: armed flows waiting on one port */
#define USER_BUCKETS     256
#define TUN_BATCH        64             /* packets read per wake-up */
#define TUN_BUF          (65536 + 1024) /* a TSO read: up to 64 KB of IP packet */
#define TSO_OUT_MAX      65000          /* bytes per UDP GSO send (64 KB with headers) */
#define TSO_OUT_SEGS     64             /* datagrams per UDP GSO send (the kernel's most) */
#define GSO_SLOTS        1024           /* config_check.c's MAX_WORKERS */

/* One relayed port: its flows, and the cookie that re-arms it. */
struct tw_port {
	struct twist_flow *head;
	uint64_t user_h; /* who holds the cookie */
	uint64_t linger_until;
	uint8_t cookie[TWIST_COOKIE_LEN];
	uint8_t narmed;
	bool cookie_live;
};

struct tw_user {
	struct tw_user *next;
	uint64_t h;
	unsigned n;
};

/*
 * A worker's own gathering of segments for the TUN, and its client-to-peer
 * counts since its last flush: one atomic add per flush instead of two per
 * segment on the cache line every worker and the TUN reader share (5 % of
 * the relay's time in one bulk TCP flow). A line each: workers write only
 * their own.
 */
struct tp_slot {
	_Alignas(64) struct tso_gather *gso; /* made on first use */
	uint64_t pkts, bytes;
};

struct twist_plane {
	pthread_mutex_t mu; /* ports, users, flows' pnext and latching */
	int fd;
	struct event *ev;
	struct tw_addr relay[2];
	uint16_t pmin, pmax, cursor;
	struct tw_port *ports;
	struct tw_user *users[USER_BUCKETS];
	unsigned max_per_user;
	uint64_t idle_ms, seq;
	uint8_t key[16];
	struct twist_stats st; /* atomic */
	struct tp_slot slot[GSO_SLOTS];
	uint8_t buf[TUN_BUF];      /* the reader's; one thread reads */
	uint8_t ind[TUN_BUF + 64]; /* the reader's: a Data indication around a segment */
	uint8_t out[TUN_BUF];      /* the reader's: a TSO read's segments for one send */
	bool no_gso;               /* the reader's: the kernel refused UDP GSO for good */
};

#define TW_ADD(tp, field, n) __atomic_add_fetch(&(tp)->st.field, (n), __ATOMIC_RELAXED)

/* The port's entry, or NULL outside the range; under tp->mu. */
struct tw_port *twist_port_of(struct twist_plane *tp, uint16_t port);

/* The TUN's read callback (worker 0's loop): peer packets to their flows. */
void twist_tun_cb(evutil_socket_t fd, short what, void *arg);

#endif
