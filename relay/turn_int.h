/*
 * Inside the TURN core (turn.c, turn_auth.c, turn_alloc.c, turn_data.c,
 * and tcp_relay.c for RFC 6062's requests):
 * one request being answered, the method table, and the credential kinds.
 * Nothing outside these files includes this header.
 */
#ifndef TWIST_RELAY_TURN_INT_H
#define TWIST_RELAY_TURN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/stun.h"
#include "relay/alloc.h"
#include "relay/conn.h"
#include "relay/relay.h"

#define RESP_MAX 1500

struct turn_method;

/* One client request being answered. */
struct req {
	struct worker *w;
	struct conn *c;
	const struct stun_msg *m;
	const struct turn_method *row;
	char user[CFG_STR];
	uint8_t key[32];
	int keylen;         /* 0 until authenticated */
	bool mi256;         /* answer with MESSAGE-INTEGRITY-SHA256 */
	uint8_t cls;        /* of the response being built */
	unsigned change;    /* STUN_CHANGE_* bits: the answer leaves from that socket */
	uint16_t resp_port; /* RESPONSE-PORT: the answer goes to the client's IP there */
	/* A second address whose nonces are good here too (set from the row's
	 * nonce_alt); NULL: only the client's own. */
	const struct tw_addr *nonce_alt;
	bool twist;                   /* a TWIST Allocate, or a request on a TWIST flow's 5-tuple */
	const struct cred_kind *cred; /* what authenticated it; NULL: nothing */
};

/*
 * A way to authenticate a request (RFC 8489 §9): long-term credentials
 * (static users, the user database, TURN REST secrets) and short-term
 * ones (ICE checks, turn_ice.c). verify() returns 0 with q->user and
 * q->key set, or -1 having answered (or dropped) the request itself.
 */
struct cred_kind {
	const char *name;
	int (*verify)(struct req *q);
	/* For a row's optional kind: whether the request asks for it. */
	bool (*applies)(const struct stun_msg *m);
	/* Its users are TURN users: they own allocations (441 on another's). */
	bool turn_user;
};

extern const struct cred_kind turn_cred_long_term;
extern const struct cred_kind turn_cred_short_term;

/* One row per STUN method (DESIGN decision 11). */
struct turn_method {
	uint16_t method;
	enum stats_method stat;       /* its own counter slot */
	const struct cred_kind *cred; /* NULL: answered without credentials */
	bool needs_alloc;             /* 437 unless the 5-tuple has an allocation */
	bool hold;                    /* success waits for the standby (decision 5) */
	void (*request)(struct req *q);
	void (*indication)(struct worker *w, struct conn *c, const struct stun_msg *m);
	/* Optional: another client address whose nonce the request may carry. */
	const struct tw_addr *(*nonce_alt)(struct req *q);
	/* Without cred: the kind a request may still ask for (applies()). */
	const struct cred_kind *cred_opt;
};

/* Responses (turn.c). */
void turn_resp_begin(struct req *q, struct stun_wr *wr, uint8_t *buf, uint8_t cls);
void turn_resp_send(struct req *q, struct stun_wr *wr);
void turn_error(struct req *q, int code);
/* With a reason phrase of our own instead of the code's usual one. */
void turn_error_why(struct req *q, int code, const char *reason);
void turn_ok(struct req *q);
void turn_count_error(struct worker *w, int code);
/* 420 naming these comprehension-required attributes (RFC 8489 §14.13). */
void turn_error_unknown(struct req *q, const uint16_t *types, size_t n);
/* The per-source limit on answers a spoofed flood would reflect. */
bool turn_unauth_allowed(struct req *q);
/* RFC 8489 §9.2.4: with both, MESSAGE-INTEGRITY-SHA256 is the one that counts. */
bool turn_integrity_ok(const struct stun_msg *m, const uint8_t *key, int keylen);

/* An ICE check (turn_ice.c): PRIORITY and the role, 0 or -1 when answered. */
int turn_ice_check(struct req *q);

/* Handlers (turn_alloc.c, turn_data.c). */
void turn_do_binding(struct req *q);
void turn_do_allocate(struct req *q);
void turn_do_refresh(struct req *q);
void turn_do_create_permission(struct req *q);
void turn_do_channel_bind(struct req *q);
/* RFC 6062 (tcp_relay.c). */
void turn_do_connect(struct req *q);
void turn_do_connection_bind(struct req *q);
const struct tw_addr *turn_connection_bind_nonce(struct req *q);
/* A ConnectionBind naming an id of another worker, on a connection that
 * can move there: marks it (conn.tcpr_owner) and says true. */
bool tcp_relay_elsewhere(struct req *q);
/* XOR-PEER-ADDRESS checked for family and policy: 0 or an error code. */
int turn_peer_check(struct req *q, const struct stun_attr *pa, struct tw_addr *peer);
void turn_do_send(struct worker *w, struct conn *c, const struct stun_msg *m);
void turn_chdata_input(struct worker *w, struct conn *c, const uint8_t *buf, size_t len);
/*
 * A new, authenticated Allocate on a draining or loaded node, or on an
 * anycast address: answered 300 with ALTERNATE-SERVER naming a sibling
 * (relay/cluster.h) or this node's unicast address (relay/anycast.h).
 * True when answered; false when it is to be served here.
 */
bool turn_allocate_redirect(struct req *q);
/* The lifetime to grant in seconds (RFC 8656 §7.2); -1 when LIFETIME is malformed. */
long turn_pick_lifetime(struct req *q);

/* TWIST (turn_twist.c). The unknown attributes left once TWIST's are known. */
size_t turn_twist_unknown(const struct req *q, uint16_t *out);
/* Sets q->twist before authentication, so that its errors are counted as TWIST's. */
void turn_twist_mark(struct req *q);
/* Handles the request if it is TWIST's: true when answered. */
bool turn_twist_request(struct req *q);
/* TWIST-CAPS in a Binding success, when asked. */
void turn_twist_binding(struct req *q, struct stun_wr *wr);
void turn_twist_count_error(struct req *q, int code);

/* peer (on the relay's own IP) is another allocation's bound relayed port. */
bool turn_relayed_peer_ok(const struct allocation *a, const struct tw_addr *peer);

#endif
