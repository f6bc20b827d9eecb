/*
 * Allocations (RFC 8656 §5) and their permissions and channels. A worker
 * owns its allocations: the table, the timers and the sockets are touched by
 * that worker's thread only.
 */
#ifndef TWIST_RELAY_ALLOC_H
#define TWIST_RELAY_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/stun.h"
#include "relay/conn.h"
#include "relay/dataplane.h"
#include "relay/fastpath_alloc.h"
#include "relay/flow.h"
#include "relay/registry.h"
#include "relay/relay.h"

#define PERM_LIFETIME_MS 300000 /* RFC 8656 §9 */
#define CHAN_LIFETIME_MS 600000 /* RFC 8656 §12 */
#define CHAN_COOLDOWN_MS 300000 /* no rebinding for 5 min after expiry (§12) */
#define ALLOC_MAX_PERMS  64
#define ALLOC_MAX_CHANS  64

struct allocation;
struct tcpr_conn;

struct perm {
	struct tw_addr ip; /* port is 0: permissions are per IP (§9) */
	uint64_t expires;
};

struct chan {
	struct tw_addr peer;
	uint64_t expires; /* bound until then, then cooling down for CHAN_COOLDOWN_MS */
	uint16_t num;
	bool cooling; /* expired, counted out of the channels gauge */
};

struct relay_sock {
	struct dp_handle h; /* in the worker's data-plane epoll set */
	struct tw_addr addr;
	struct allocation *a;
};

/* A TURN allocation: the first kind of flow (relay/flow.h). */
struct allocation {
	struct flow flow;         /* first: key, worker, lifecycle, replication */
	struct allocation *hnext; /* worker hash chain */
	struct conn *conn;        /* the client side, once attached */

	struct relay_sock rs[2];
	uint8_t n_rs;
	bool claimed;  /* holds its registry entry */
	bool in_table; /* in the worker's hash */
	bool dont_fragment;
	bool tcp;               /* RFC 6062: rs[0] listens, peers over TCP */
	struct tcpr_conn *tcpr; /* its peer connections (relay/tcp_relay.c) */
	uint64_t expires;
	uint8_t alloc_tid[STUN_TID_LEN]; /* for retransmitted Allocates (§7.2) */
	uint64_t reservation;            /* token handed out with this allocation, 0 = none */

	char *user; /* who made it: other users get 441 (§5) */

	/* Grown on demand up to ALLOC_MAX_*: most allocations have one or two. */
	struct perm *perms;
	struct chan *chans;
	uint16_t n_perms, cap_perms;
	uint16_t n_chans, cap_chans;

	/* Per-allocation bandwidth cap: a token bucket in bytes. The rate is
	 * the user's own (user database) or limits.bandwidth, fixed when the
	 * allocation is made; 0 = unlimited. */
	uint64_t bw_rate, bw_tokens, bw_last_ms;

	/* For twistctl sessions; read only on the owning worker. */
	uint64_t created_ms;
	uint64_t bytes_to_peer, bytes_to_client;
	/* Channels in the fast path's maps (relay/fastpath_alloc.c). */
	struct fp_inst *fp;
	uint8_t n_fp, cap_fp;
};

struct alloc_table *alloc_table_new(uint32_t seed);
void alloc_table_free(struct alloc_table *t); /* the worker has freed its flows */
size_t alloc_table_count(const struct alloc_table *t);

struct allocation *alloc_find(struct worker *w, const struct alloc_key *k);

/*
 * A new allocation for k, owned by user, with its registry entry claimed
 * (quotas enforced unless it comes from the peer). 0, or -EEXIST (another
 * worker has the 5-tuple), -EDQUOT, -ENOSPC, -ENOMEM; on error nothing is
 * left. Build it with alloc_relay_add/alloc_attach, then alloc_publish;
 * alloc_free gives back whatever was built at any step.
 */
int alloc_new(struct worker *w, const struct alloc_key *k, const char *user, bool replicates,
              bool enforce_quota, struct allocation **out);
/* Takes a bound relay socket (fd and its port) into a. */
void alloc_relay_add(struct allocation *a, int fd, const struct tw_addr *addr);
/*
 * Sets the relay sockets up (DONT-FRAGMENT, RFC 8656 §14.8) and watches
 * them with fn. -EOPNOTSUPP when DF cannot be set (the client gets 420).
 */
int alloc_relay_watch(struct allocation *a, dp_readable_fn fn);
/* The client side: c's transport gives a its connection (0 or -errno). */
int alloc_attach(struct allocation *a, struct conn *c);
/* Makes a built allocation visible: table, worker list, replication. */
void alloc_publish(struct allocation *a);
/* Closes and frees; tells the standby. */
void alloc_delete(struct allocation *a);
/* The same without telling the standby. alloc_free(NULL) is a no-op. */
void alloc_free(struct allocation *a);

/* Mutators: each marks the allocation for replication itself. */
void alloc_set_expiry(struct allocation *a, uint64_t expires_ms);

/* Replaces the user name (the allocation owns a copy); -ENOMEM. */
int alloc_set_user(struct allocation *a, const char *user);
/* Room for n permissions and m channels; -ENOMEM. */
int alloc_reserve(struct allocation *a, unsigned n, unsigned m);

/* NULL if the peer IP has no live permission. */
struct perm *alloc_perm_find(struct allocation *a, const struct tw_addr *peer);
/* Installs or refreshes; -ENOSPC at ALLOC_MAX_PERMS. */
int alloc_perm_add(struct allocation *a, const struct tw_addr *peer);

struct chan *alloc_chan_by_num(struct allocation *a, uint16_t num); /* bound or cooling */
struct chan *alloc_chan_by_peer(struct allocation *a, const struct tw_addr *peer);
/*
 * ChannelBind rules (§11.2): 0 bound or refreshed; -EBUSY the number is
 * bound to another peer, or the peer to another number; -ENOSPC full.
 */
int alloc_chan_bind(struct allocation *a, uint16_t num, const struct tw_addr *peer);
static inline bool chan_live(const struct chan *c, uint64_t now)
{
	return c->expires > now;
}

/* The relay socket of the peer's family, or NULL (443). */
struct relay_sock *alloc_relay_for(struct allocation *a, uint8_t family);

/* Calls fn for each of w's allocations (on w's thread). */
void alloc_each(struct worker *w, void (*fn)(struct allocation *a, void *arg), void *arg);

/* Bandwidth cap: true if len bytes may pass now. */
bool alloc_bw_take(struct allocation *a, size_t len);

#endif
