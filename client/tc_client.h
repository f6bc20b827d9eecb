/*
 * twist-client at run time: the shim's state and its flows. The engine
 * (tc_flow.c, tc_data.c) does no I/O and reads no clock: it reaches the
 * sockets, the TUN, the timers and the loop through struct tc_ops, which
 * tc_io.c implements with libevent and the unit tests with a fake.
 *
 * A flow is one TWIST flow: one UDP socket of its own toward the server
 * (so one client 5-tuple per application connection, as the draft's
 * requirement 4 wants), one Allocate, and then the segments of exactly one
 * application 5-tuple.
 */
#ifndef TWIST_CLIENT_TC_CLIENT_H
#define TWIST_CLIENT_TC_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "client/tc_conf.h"
#include "client/tc_pkt.h"
#include "client/tc_srv.h"
#include "client/tc_stun.h"
#include "client/tc_table.h"
#include "client/tc_tun.h"

struct event_base;
struct tc_flow;
struct tc_client;

/* The engine's outside world. Each returns 0 or -errno where it returns int. */
struct tc_ops {
	/* A UDP socket of the flow's own, connected to the server, watched. */
	int (*open)(struct tc_flow *f);
	void (*close)(struct tc_flow *f);
	int (*send)(struct tc_flow *f, const uint8_t *p, size_t len);
	/* The flow's one retransmission timer: fires tc_flow_rtx() after ms; 0 stops it. */
	void (*timer)(struct tc_flow *f, unsigned ms);
	int (*tun_write)(struct tc_client *c, const uint8_t *p, size_t len);
	uint64_t (*now_ms)(struct tc_client *c);
	int (*random)(uint8_t *p, size_t n);
	/* A line for the user on stdout (listen flows). */
	void (*announce)(struct tc_client *c, const char *line);
	/* End the event loop (a fatal answer). */
	void (*stop)(struct tc_client *c);
	/* The server new flows use from now on (a followed 300); flows already
	 * open keep their socket to the old one. */
	int (*server_set)(struct tc_client *c, const struct tw_addr *a);
};

enum tc_state {
	TC_ALLOCATING, /* Allocate sent, packets queued */
	TC_ACTIVE,     /* segments flow */
	TC_CLOSING,    /* Refresh with LIFETIME 0 sent */
	TC_FAILED,     /* refused: its packets are dropped until it is reaped */
};

enum tc_drop {
	TC_DROP_NOT_IP,       /* TUN: not a UDP/TCP packet we can parse */
	TC_DROP_NOT_NEW,      /* TUN: TCP without a flow and not a SYN */
	TC_DROP_QUEUE_FULL,   /* TUN: the Allocate is slow and the queue is full */
	TC_DROP_FLOW_FAILED,  /* TUN: the flow's Allocate was refused */
	TC_DROP_TABLE_FULL,   /* TUN: max-flows reached */
	TC_DROP_SEND,         /* a send to the server failed */
	TC_DROP_BAD_SEGMENT,  /* relay: not our ports, or a bad checksum */
	TC_DROP_PEER_UNKNOWN, /* relay: a listen flow's segment before its peer is known */
	TC_DROP_STUN,         /* relay: STUN that is no answer of ours */
	TC_DROP_FORGED_300,   /* relay: a 300 whose integrity does not verify: ignored */
	TC_DROP_ESP,          /* relay, tunnel mode: bad ESP, another SPI, or an inner packet
	                       * not from the flow's peer to its relayed address */
	TC_DROP_MAX,
};

struct tc_stats {
	uint64_t flows_created, flows_failed, flows_closed;
	uint64_t pkts_out, pkts_in, bytes_out, bytes_in;
	uint64_t keepalives, refreshes;
	uint64_t redirects;       /* 300s followed */
	uint64_t lost;            /* flows whose server stopped answering or whose socket failed */
	uint64_t reopens;         /* Allocates that reopened a lost flow */
	uint64_t icmp_probes;     /* ICMP errors on active flows, checked by a Binding */
	uint64_t server_failures; /* servers given up on (no answer to an Allocate) */
	uint64_t server_switches; /* ...after which new flows went elsewhere */
	uint64_t drops[TC_DROP_MAX];
};

struct tc_client;

/* One --listen: the flow that waits for the next peer, and the port's cookie. */
struct tc_listener {
	struct tc_client *c;
	struct tc_listen spec;
	struct tc_flow *armed; /* NULL while none is armed */
	bool has_cookie;
	uint8_t cookie[TWIST_COOKIE_LEN];
	uint64_t retry_ms; /* when to arm again after a failure */
};

struct tc_flow {
	struct tc_node node; /* in c->table once its application 5-tuple is known */
	TAILQ_ENTRY(tc_flow) link;
	struct tc_client *c;
	struct tc_listener *listener; /* NULL for connect */
	unsigned id;
	enum tc_state state;
	uint8_t proto;
	void *io; /* the ops' own: socket and events */
	struct tc_map map;
	bool latched; /* peer known (always for connect) */
	bool dead;    /* to be freed once the callback that ended it returns */
	struct tc_queue q;
	/* The one outstanding transaction (Allocate or Refresh). */
	uint8_t tid[STUN_TID_LEN];
	uint8_t req[768];
	size_t req_len;
	uint16_t req_method;
	uint32_t req_lifetime;
	bool req_authed;
	bool in_txn;
	unsigned tries, rto_ms, auth_tries;
	unsigned max_tries; /* of the transaction under way */
	unsigned redirects; /* 300s this flow's Allocate followed (TC_MAX_REDIRECTS) */
	struct tw_addr srv; /* the server its socket is connected to */
	unsigned reopens;   /* Allocates since it was lost; 0 while it is not */
	int sock_err;       /* a send saw the server gone: handled at the timer */
	/* Timers, driven by the client's one-second tick (monotonic ms). */
	uint64_t last_tx_ms;   /* anything sent: keepalives are due after a silence */
	uint64_t last_data_ms; /* a segment either way: the idle timeout */
	uint64_t refresh_ms, reap_ms;
	struct twist_encap encap;
	uint32_t spi, esp_seq; /* tunnel mode: the server's SPI, the last sequence sent */
	bool fin_out, fin_in, rst;
};

TAILQ_HEAD(tc_flow_list, tc_flow);

struct tc_client {
	const struct tc_ops *ops;
	void *io;
	struct event_base *base;
	const struct tc_conf *conf;
	struct tc_tun tun;
	struct sockaddr_storage server;
	socklen_t server_len;
	struct tw_addr server_addr;
	/* The --server list, a learned 300 and their back-off (tc_srv.h). */
	struct tc_srvsel sel;
	struct tc_cred cred;
	struct tc_table table;
	struct tc_flow_list flows;
	size_t nflows;
	unsigned next_id;
	struct tc_listener listeners[TC_MAX_LISTEN];
	size_t nlisteners;
	struct tc_stats st;
	uint8_t mode;  /* TWIST_ENCAP_* new flows ask for (conf's, unless the server cannot) */
	int exit_code; /* set with a fatal answer (401 after credentials, 420) */
	uint64_t log_forged; /* the forged-300 warning's rate limit */
};

/* tc_flow.c: the control side of a flow. */
struct tc_flow *tc_flow_connect(struct tc_client *c, const struct tc_key *k,
                                const struct tw_addr *peer);
struct tc_flow *tc_flow_listen(struct tc_client *c, struct tc_listener *l);
void tc_flow_free(struct tc_flow *f);
/* Keepalive, Refresh, idle and close timers. */
void tc_flow_tick(struct tc_flow *f, uint64_t now_ms);
/* One datagram from the server on f's socket. Afterwards f->dead: the caller frees f. */
void tc_flow_input(struct tc_flow *f, const uint8_t *p, size_t len);
/* f's retransmission timer fired. Afterwards f->dead: the caller frees f. */
void tc_flow_rtx(struct tc_flow *f);
/*
 * f's socket failed (-err: ICMP unreachable, say): the server is gone, f
 * is reopened (tc_flow.c). Afterwards f->dead: the caller frees f.
 */
void tc_flow_sock_error(struct tc_flow *f, int err);
/* True for the errors that mean the server is not there (not a full buffer). */
bool tc_server_gone(int err);
/* The application's TCP ended (FIN both ways or RST): close after the grace. */
void tc_flow_tcp_track(struct tc_flow *f, const uint8_t *seg, size_t len, bool out);
/* Stops the loop with an exit code and a message (an answer that ends the program). */
void tc_client_fatal(struct tc_client *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
int tc_flow_send(struct tc_flow *f, const uint8_t *p, size_t len);
const char *tc_state_name(enum tc_state s);
/* 0 when a is no address the TUN routes or translates (its flows would loop). */
int tc_server_outside(const struct tc_conf *conf, const struct tw_addr *a);

/* tc_io.c: the ops on libevent and real sockets. */
extern const struct tc_ops tc_io_ops;
/* Reads what the TUN has (a bounded batch) into the engine, then sends. */
void tc_io_tun_drain(struct tc_client *c);

/* tc_data.c: the data path. */
void tc_data_from_tun(struct tc_client *c, uint8_t *pkt, size_t len);
void tc_data_to_relay(struct tc_flow *f, uint8_t *seg, size_t len);
void tc_data_from_relay(struct tc_flow *f, const uint8_t *seg, size_t len);
/* Tunnel mode: one ESP datagram from the relay. */
void tc_data_from_relay_esp(struct tc_flow *f, const uint8_t *p, size_t len);
/* A connect flow was refused: an RST for the application's queued SYN. */
void tc_data_refuse(struct tc_flow *f);
/* A listen flow learned its peer: it joins the table and a new flow is armed. */
int tc_data_latch(struct tc_flow *f, const struct tw_addr *peer);

#endif
