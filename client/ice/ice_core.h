/*
 * The ICE engine behind ice.h: check list, checks, nomination, consent,
 * restart (RFC 8445, RFC 7675). No I/O and no clock of its own: the
 * outside is struct ice_io_ops, time comes in through it, and ice_io.c
 * (or a unit test) registers the sockets and calls ice_core_tick() every Ta.
 */
#ifndef TWIST_CLIENT_ICE_CORE_H
#define TWIST_CLIENT_ICE_CORE_H

#include "client/ice/ice.h"
#include "client/ice/ice_io_ops.h"
#include "client/ice/ice_msg.h"
#include "client/ice/ice_turn.h"

#define ICE_MAX_BASES  16
#define ICE_MAX_LOCAL  32
#define ICE_MAX_REMOTE 128
#define ICE_OLD_MAX    16

struct ice_base {
	bool relay;
	/*
	 * A host base whose address went away (ice_regather): gone while a
	 * selected pair still sends from it, free once nothing does; a free
	 * slot is reused by the next host address.
	 */
	bool gone, free;
	int sock; /* host: its UDP socket; relay: the TURN socket */
	uint8_t comp;
	struct tw_addr addr;   /* host: bound address; relay: relayed address */
	struct ice_turn *turn; /* relay only */
};

struct ice_cpair {
	struct ice_pair p;
	bool valid, nominated, remote_nominated, use_cand;
	/* the check's transaction */
	bool tx_active, tx_controlling;
	uint8_t tid[STUN_TID_LEN];
	uint64_t next_ms;
	unsigned rto_ms, sent;
};

/* A selected pair, by value: it outlives the check list across a restart. */
struct ice_sel {
	bool active, consent_lost;
	int base;
	struct ice_cand lc, rc;
	uint64_t prio;
	bool tx_active;
	uint8_t tid[STUN_TID_LEN];
	uint64_t consent_next, consent_ok_ms;
};

struct ice_gtx {
	bool active;
	int base;
	uint8_t tid[STUN_TID_LEN];
	uint64_t next_ms;
	unsigned rto_ms, sent;
};

struct ice_agent {
	struct ice_config cfg;
	const struct ice_io_ops *io;
	void *io_ctx;
	void *evio; /* ice_io.c's state */
	enum ice_state state;
	bool controlling;
	uint64_t tb;
	char lufrag[ICE_UFRAG_MAX + 1], lpwd[ICE_PWD_MAX + 1];
	char rufrag[ICE_UFRAG_MAX + 1], rpwd[ICE_PWD_MAX + 1];
	bool have_remote, restarting, gathered;
	bool renewed[ICE_COMP_MAX + 1]; /* selected again since the restart */
	struct ice_base base[ICE_MAX_BASES];
	size_t nbase;
	struct ice_turn turn[ICE_COMP_MAX];
	size_t nturn;
	struct ice_gtx gtx[ICE_MAX_BASES];
	unsigned gather_pending;
	struct ice_cand loc[ICE_MAX_LOCAL];
	size_t nloc;
	struct ice_cand rem[ICE_MAX_REMOTE];
	size_t nrem;
	struct ice_cpair pair[ICE_MAX_PAIRS];
	size_t npair;
	uint16_t trig[ICE_MAX_PAIRS];
	size_t ntrig;
	bool nominating;
	uint64_t first_valid_ms;
	uint64_t last_check_tick;
	struct ice_sel sel[ICE_COMP_MAX + 1];
	/*
	 * Pairs a restart's new selection replaced, watched until their consent
	 * lapses; several, since a node may move again before that.
	 */
	struct ice_sel old[ICE_OLD_MAX];
	unsigned prflx_seq;
	struct ice_stats st;
};

int ice_core_init(struct ice_agent *a, const struct ice_config *cfg, const struct ice_io_ops *io,
                  void *io_ctx);
/* A host socket bound to addr; returns the base index. */
int ice_core_add_host(struct ice_agent *a, int sock, uint8_t comp, const struct tw_addr *addr);
/* A socket to the TURN server for comp; returns the TURN index. */
int ice_core_add_turn(struct ice_agent *a, int sock, uint8_t comp, bool tcp);
/* Sends the srflx Bindings and the Allocates; on_gathered when all are answered. */
void ice_core_gather(struct ice_agent *a);
/*
 * Host base bi's address is gone: its candidates go, and the slot is freed
 * unless a selected pair still sends from it. True when freed: the caller
 * then closes the socket. Only between ice_restart() and ice_set_remote().
 */
bool ice_core_drop_host(struct ice_agent *a, int bi);
/*
 * Gathers again after a restart (the node moved): the server-reflexive
 * candidates of every live host base asked for anew, the TURN allocations
 * made again from the new address; on_gathered when all are answered.
 * -EBUSY once remote candidates were given since the restart.
 */
int ice_core_regather(struct ice_agent *a);
void ice_core_recv(struct ice_agent *a, int base, const struct tw_addr *from, const uint8_t *buf,
                   size_t len);
void ice_core_turn_recv(struct ice_agent *a, int turn, const uint8_t *buf, size_t len);
void ice_core_tick(struct ice_agent *a);
void ice_core_close(struct ice_agent *a);

/* Between ice_agent.c and ice_check.c. */
void ice_agent_change_state(struct ice_agent *a, enum ice_state s);
void ice_agent_update_state(struct ice_agent *a);
uint64_t ice_now(const struct ice_agent *a);
int ice_base_send(struct ice_agent *a, int base, const struct tw_addr *dst, const void *buf,
                  size_t len);
int ice_local_for_base(const struct ice_agent *a, int base);
void ice_select(struct ice_agent *a, size_t pi);
int ice_pair_add(struct ice_agent *a, uint16_t local, uint16_t remote, enum ice_pair_state s);
void ice_pairs_for_remote(struct ice_agent *a, size_t ri);
void ice_pairs_for_local(struct ice_agent *a, size_t li);
void ice_checks_pace(struct ice_agent *a);
void ice_checks_retransmit(struct ice_agent *a);
void ice_check_incoming(struct ice_agent *a, int base, const struct tw_addr *from,
                        const struct stun_msg *m);
bool ice_check_answer(struct ice_agent *a, int base, const struct tw_addr *from,
                      const struct stun_msg *m);
void ice_role_switch(struct ice_agent *a);
void ice_pair_change_state(struct ice_agent *a, struct ice_cpair *p, enum ice_pair_state s);
int ice_local_creds_set(struct ice_agent *a, const char *ufrag, const char *pwd);
void ice_gather_tick(struct ice_agent *a);
bool ice_gather_answer(struct ice_agent *a, int base, const struct stun_msg *m);

#endif
