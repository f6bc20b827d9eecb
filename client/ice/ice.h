/*
 * twist_ice: an RFC 8445 ICE agent on libevent (one data stream, one or
 * two components, UDP toward peers; TURN over UDP or TCP toward the
 * server). See docs/ice.md.
 *
 *   a = ice_agent_new(base, &cfg);      cfg.on_gathered, on_state, on_data
 *   ice_gather(a);                      host, srflx, relay candidates
 *   ice_local_credentials(a, ...), ice_local_candidates(a, ...)
 *   ice_set_remote(a, ufrag, pwd, cands, n);   checks start
 *   ice_add_remote_candidate(a, &c);           trickle
 *   ice_send(a, comp, buf, len);               on the selected pair
 *   ice_restart(a, ufrag, pwd);                old pair carries data meanwhile
 *   ice_regather(a);                           after a restart, when addresses changed
 *   ice_agent_free(a);
 */
#ifndef TWIST_CLIENT_ICE_H
#define TWIST_CLIENT_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/ice/ice_cand.h"

struct event_base;
struct ice_agent;

enum ice_state {
	ICE_NEW,
	ICE_GATHERING,
	ICE_CHECKING,
	ICE_CONNECTED,
	ICE_COMPLETED,
	ICE_FAILED,
	ICE_DISCONNECTED, /* consent lost (RFC 7675 §5.1) */
	ICE_CLOSED,
};

enum ice_turn_transport { ICE_TURN_UDP, ICE_TURN_TCP };

#define ICE_MAX_HOST_ADDRS 8

struct ice_config {
	bool controlling;
	uint64_t tie_breaker; /* 0: random */
	uint8_t ncomp;        /* 1 (default) or 2 */
	/* Host addresses to gather on; none: every non-loopback interface that is up. */
	struct tw_addr host[ICE_MAX_HOST_ADDRS];
	size_t nhost;
	struct tw_addr stun_server; /* family 0: no server-reflexive candidates */
	struct tw_addr turn_server; /* family 0: no relayed candidates */
	const char *turn_user, *turn_pass;
	enum ice_turn_transport turn_transport;
	bool relay_only;              /* offer and pair relayed candidates only */
	unsigned ta_ms;               /* default 50 */
	unsigned max_pairs;           /* default 100 */
	unsigned rto_min_ms;          /* default 500 (RFC 8445 §14.3) */
	unsigned check_max_tx;        /* transmissions of one check, default 7 */
	unsigned nominate_delay_ms;   /* regular nomination waits this, default 500 */
	unsigned consent_interval_ms; /* default 5000 (RFC 7675 §5.1) */
	unsigned consent_timeout_ms;  /* default 30000 */
	const char *ufrag, *pwd;      /* local credentials; NULL: random */

	void (*on_state)(struct ice_agent *a, enum ice_state s, void *arg);
	void (*on_gathered)(struct ice_agent *a, void *arg);
	void (*on_data)(struct ice_agent *a, uint8_t comp, const uint8_t *buf, size_t len,
	                void *arg);
	/*
	 * The pair a restart's selection replaced has had no consent answer
	 * for consent_timeout_ms (RFC 7675 §5.1): it may never carry data again.
	 */
	void (*on_old_lapsed)(struct ice_agent *a, uint8_t comp, const struct ice_cand *local,
	                      const struct ice_cand *remote, void *arg);
	void *arg;
};

/* Counters: the tests read them; twist-ice prints them. */
struct ice_stats {
	uint64_t ticks;            /* Ta ticks so far */
	uint64_t checks_sent;      /* new check transactions (retransmissions not counted) */
	uint64_t check_rtx;        /* retransmissions */
	uint64_t checks_same_tick; /* two new checks in one tick: must stay 0 */
	uint64_t checks_in, resp_401, resp_487_sent, resp_487_recv, role_switches;
	uint64_t prflx_remote, prflx_local;
	uint64_t pairs_dropped; /* beyond max_pairs */
	uint64_t consent_sent, consent_ok;
	uint64_t selections; /* pairs selected (a restart selects again) */
	uint64_t data_in, data_out;
	uint64_t drops; /* malformed or unexpected datagrams */
	uint64_t regathers, hosts_dropped;
	uint64_t old_lapsed;     /* replaced pairs whose consent lapsed */
	uint64_t turn_redirects; /* authenticated 300s followed (RFC 8489 §10) */
	uint64_t forged_300;     /* 300s without a valid MESSAGE-INTEGRITY: ignored */
};

struct ice_agent *ice_agent_new(struct event_base *base, const struct ice_config *cfg);
void ice_agent_free(struct ice_agent *a);

int ice_gather(struct ice_agent *a);
void ice_local_credentials(const struct ice_agent *a, const char **ufrag, const char **pwd);
/* Copies up to cap local candidates (the relay_only policy applied); returns the count. */
size_t ice_local_candidates(const struct ice_agent *a, struct ice_cand *out, size_t cap);

int ice_set_remote(struct ice_agent *a, const char *ufrag, const char *pwd,
                   const struct ice_cand *cands, size_t n);
int ice_add_remote_candidate(struct ice_agent *a, const struct ice_cand *c);

/* -ENOTCONN without a selected pair, -EPERM once consent is lost. */
int ice_send(struct ice_agent *a, uint8_t comp, const void *buf, size_t len);

/* RFC 8445 §9: new local credentials; ice_set_remote() then gives the peer's. */
int ice_restart(struct ice_agent *a, const char *ufrag, const char *pwd);

/*
 * RFC 8445 §9 with new addresses: after ice_restart() and before
 * ice_set_remote(), host sockets follow the interfaces' addresses now
 * (those gone closed, unless the selected pair still uses one; new ones
 * opened), server-reflexive and relayed candidates are gathered again,
 * and on_gathered runs when done. -EBUSY after ice_set_remote().
 */
int ice_regather(struct ice_agent *a);

/*
 * A moving node's address watch (rtnetlink): cb runs once the kernel's
 * address and link messages have been quiet for 50 ms; the caller then
 * compares ice_host_addrs() with what it had. NULL when no socket.
 */
struct ice_watch;
struct ice_watch *ice_watch_new(struct event_base *base, void (*cb)(void *arg), void *arg);
void ice_watch_free(struct ice_watch *w);
/* In cb: when the first message of this burst arrived (monotonic ms). */
uint64_t ice_watch_first_ms(const struct ice_watch *w);
/* The addresses ice_gather() would use without cfg.host: up, not loopback, not link-local. */
size_t ice_host_addrs(struct tw_addr *out, size_t cap);

enum ice_state ice_agent_state(const struct ice_agent *a);
bool ice_agent_controlling(const struct ice_agent *a);
const struct ice_stats *ice_agent_stats(const struct ice_agent *a);
/* The selected pair of a component: 0, or -ENOTCONN. */
int ice_selected_pair(const struct ice_agent *a, uint8_t comp, struct ice_cand *local,
                      struct ice_cand *remote);
const char *ice_state_name(enum ice_state s);

#endif
