/*
 * TWIST flows (docs/twist-protocol.md): one client UDP 5-tuple bound to one
 * relayed port on twist.relay_ipv4/6 and one peer, relayed through the
 * relay's TUN device (relay/twist_tun.h). A kind of struct flow (decision
 * 11) that replicates (relay/twist_sync.c, docs/ha.md "TWIST flows").
 *
 * Threads: a flow lives on the worker whose listener took its Allocate;
 * the TUN is read on worker 0. The one thing both sides touch is the
 * plane's port table (relayed port -> flows), under the plane's mutex:
 * worker 0 finds a flow there and sends on the flow's connected client
 * socket while holding it; a flow leaves the table before its socket is
 * closed. docs/architecture.md "TWIST data path" says why.
 */
#ifndef TWIST_RELAY_TWIST_FLOW_H
#define TWIST_RELAY_TWIST_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/stun.h"
#include "proto/twist.h"
#include "relay/conn.h"
#include "relay/dataplane.h"
#include "proto/flow.h"
#include "relay/flow.h"
#include "relay/relay.h"

struct twist_plane;

enum twist_drop {
	TWD_BAD,         /* client datagram of no known shape */
	TWD_NOT_LATCHED, /* client segment for a listen flow with no peer yet */
	TWD_WRONG_PEER,  /* client segment to another port than the flow's peer */
	TWD_MALFORMED,   /* a TUN packet or a segment that does not parse */
	TWD_PROTO,       /* a TUN packet neither UDP nor TCP (ICMP, IPv6 ND...) */
	TWD_NO_FLOW,     /* a peer packet no flow takes (not latched, not armed) */
	TWD_TUN_WRITE,   /* the TUN refused a packet */
	TWD_SEND,        /* the client socket refused a segment */
	/* Tunnel mode (docs/twist-protocol.md §9): what a client's ESP may not be. */
	TWD_ESP,         /* not ESP as RFC 4303 lays it out (length, padding) */
	TWD_ESP_DUMMY,   /* next header 59: a dummy packet, discarded by design */
	TWD_SPI,         /* another SPI than the flow's */
	TWD_INNER,       /* the inner packet does not parse (fragment, lengths, checksum) */
	TWD_INNER_SRC,   /* inner source other than the flow's relayed address and port */
	TWD_INNER_DST,   /* inner destination other than the flow's peer */
	TWD_INNER_PROTO, /* inner protocol other than the flow's */
	TWD__COUNT,
};

#define TWIST_ERR_CODES 10 /* 400 401 403 437 440 441 442 443 486 508 */

struct twist_stats {
	int64_t flows[2][2];        /* [connect, listen][udp, tcp] */
	uint64_t pkts[2], bytes[2]; /* [to_peer, to_client] */
	uint64_t drops[TWD__COUNT];
	uint64_t errors[TWIST_ERR_CODES];
	uint64_t gro_reads, gro_dgrams; /* client reads that carried > 1 datagram, and those */
	uint64_t tso_reads, tso_segs;   /* TUN reads that were TCP super-packets, their segments */
};

/* What a TWIST Allocate asks for, checked (relay/turn_twist.c). */
struct twist_ask {
	uint8_t type, proto, family, ka;
	uint8_t mode;        /* TWIST_ENCAP_*: the server's choice */
	struct tw_addr peer; /* connect: the peer; listen: the only peer allowed, or family 0 */
	bool has_cookie;
	uint8_t cookie[TWIST_COOKIE_LEN];
	const char *user;
	uint64_t lifetime_s;
	const uint8_t *tid;
};

struct twist_flow {
	struct flow flow;   /* first */
	struct conn c;      /* the client 5-tuple; c.tw points back here */
	struct dp_handle h; /* the connected per-client socket */
	struct twist_plane *tp;
	struct twist_flow *pnext; /* the other flows on the same relayed port */
	struct tw_addr relayed;   /* relayed IP and port */
	struct tw_addr server;    /* the STUN address the client talks to (a wildcard
	                           * listener's c.local is 0.0.0.0): encapsulated answers */
	struct tw_addr peer;      /* connect: from the start; listen: once latched */
	struct tw_addr want;      /* listen: only this peer; family 0 = any */
	uint8_t type, proto, ka;
	uint8_t encap_mode;   /* TWIST_ENCAP_TRANSPORT or _TUNNEL, fixed at Allocate */
	uint32_t spi;         /* tunnel mode: the SPI both directions carry */
	uint32_t esp_seq_out; /* tunnel mode: the last sequence number sent (worker 0, under the
	                         lock) */
	int latched;          /* atomic: peer is valid */
	int client_spoke;     /* atomic: listen: the client sent a segment, the peer's go bare */
	bool in_plane;        /* linked in the port table, counted */
	bool encap_reply;     /* the answer being sent goes back encapsulated */
	bool latch_told;      /* the latch (worker 0's doing) is queued for the standby */
	bool spoke_told;      /* client_spoke is queued for the standby */
	bool quiet_copy;      /* imported and not heard from here: no idle expiry */
	uint64_t armed_seq;   /* listen: oldest armed flow latches first */
	uint64_t expires, last_client_ms;
	uint8_t tid[STUN_TID_LEN];
	uint8_t cookie[TWIST_COOKIE_LEN];
	char user[CFG_STR];
};

/* Between the flow kind and the plane (relay/twist_plane.c). */
/* Links an imported f at f->relayed.port (with its cookie), no quota: 0 or -ERANGE. */
int twist_plane_adopt(struct twist_plane *tp, struct twist_flow *f);
/* Latches an imported listen flow to peer (once). */
void twist_plane_latch(struct twist_plane *tp, struct twist_flow *f, const struct tw_addr *peer);
/* Takes a port (new, or the cookie's) and links f there; 0 or a STUN error code. */
int twist_plane_link(struct twist_plane *tp, struct twist_flow *f, const struct twist_ask *ask);
void twist_plane_unlink(struct twist_plane *tp, struct twist_flow *f);
void twist_plane_to_peer(struct twist_plane *tp, const struct twist_flow *f, const uint8_t *seg,
                         size_t len);
/* Tunnel mode: a whole IP packet, checked by the caller, into the TUN as it is
 * (seg_len: its segment's length, for the byte counter). */
void twist_plane_to_peer_ip(struct twist_plane *tp, const uint8_t *pkt, size_t len, size_t seg_len);
/* Writes what this worker's twist_plane_to_peer() calls gathered: after each drain. */
void twist_plane_flush(struct twist_plane *tp, const struct worker *w);
void twist_plane_drop(struct twist_plane *tp, enum twist_drop d);
bool twist_plane_up(const struct twist_plane *tp);
uint64_t twist_plane_idle_ms(const struct twist_plane *tp);

/* NULL with err set: the TUN or its routes could not be set up. */
struct twist_plane *twist_plane_new(const struct config *cfg, char *err, size_t errlen);
/* Reads the TUN on w's loop (worker 0). */
int twist_plane_watch(struct twist_plane *tp, struct worker *w);
/* Stops reading (before the workers go); the device goes with twist_plane_free. */
void twist_plane_unwatch(struct twist_plane *tp);
void twist_plane_free(struct twist_plane *tp);
void twist_plane_stats(struct twist_plane *tp, struct twist_stats *out);
void twist_count_error(struct twist_plane *tp, int code);
/* One read from a client socket that carried n > 1 datagrams (UDP_GRO). */
void twist_count_gro(struct twist_plane *tp, uint64_t n);
const char *twist_drop_name(enum twist_drop d);
extern const int twist_err_codes[TWIST_ERR_CODES];

/*
 * A new flow for the client of c (a UDP listener's), published. Returns 0,
 * or a STUN error code: 403 unknown cookie, 441 cookie of another user,
 * 486 quota or armed flows, 508 no port or socket.
 */
int twist_flow_new(struct worker *w, const struct conn *c, const struct twist_ask *ask,
                   struct twist_flow **out);
/* Lifetime left in seconds. */
uint32_t twist_flow_left_s(const struct twist_flow *f, uint64_t now_ms);
void twist_flow_set_expiry(struct twist_flow *f, uint64_t expires_ms);
/*
 * Gives the relayed port back now (the flow relays nothing more) while its
 * client socket stays for one last answer; flow_delete() follows.
 */
void twist_flow_release(struct twist_flow *f);

/* The parts twist_flow_new() is made of, for the standby's imports (relay/twist_sync.c). */
struct twist_flow *twist_flow_alloc(struct worker *w, const struct alloc_key *k);
/* The connected per-client socket, watched: 0 or -errno. */
int twist_flow_connect(struct twist_flow *f);
/* This worker's TWIST flow of that 5-tuple, or NULL. */
struct twist_flow *twist_flow_find(struct worker *w, const struct alloc_key *k);

/* Replication: tuples (relay/twist_tuple.c, pure), imports (relay/twist_sync.c). */
struct flow_out;
void twist_flow_export(const struct twist_flow *f, uint64_t now_ms, struct flow_out *o);
/* The fields a flow is born with, from a checked tuple. */
void twist_tuple_birth(struct twist_flow *f, const Twist__Flow *t);
/* What changes during its life. */
struct twist_state {
	uint64_t expires;    /* on this node's clock */
	struct tw_addr peer; /* family 0: not latched */
	bool client_spoke;
};
void twist_tuple_state(const Twist__Flow *t, uint64_t now_ms, struct twist_state *st);
/* Builds, updates or (a delete) frees the flow of a checked tuple: 0 or -errno, *why set. */
int twist_flow_import(struct worker *w, const Twist__Flow *t, const char **why);

#endif
