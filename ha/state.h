/*
 * twist-ha's two decisions, as pure functions (no I/O, unit-tested):
 *
 * 1. The role. keepalived's ordered notify_fifo events drive an explicit
 *    state; twist-syncd is told "master" only in HA_MASTER, "backup" in every
 *    other state (DESIGN decision 7: the role comes from VRRP, not scripts).
 *
 * 2. The health verdict written to keepalived's track_file. A dead relay
 *    puts the instance in FAULT, so the peer takes the VIP at once; a syncd
 *    that is down or not ready (bulk resync unfinished) lowers the priority,
 *    so an out-of-sync node never wins an election it has a choice in.
 */
#ifndef TWIST_HA_STATE_H
#define TWIST_HA_STATE_H

#include <stdbool.h>

#include "ha/notify.h"

enum ha_state {
	HA_INIT,    /* no event from keepalived yet */
	HA_BACKUP,  /* VRRP backup: a hot standby */
	HA_MASTER,  /* VRRP master: this node holds the VIPs */
	HA_FAULT,   /* VRRP fault: not serving, not electable */
	HA_STOPPED, /* keepalived stopped, deleted the instance, or died */
};

const char *ha_state_name(enum ha_state s);

/* The state after a VRRP event for our instance (or group). */
enum ha_state ha_state_next(enum ha_state cur, enum vrrp_state ev);

/* What the role file says in a state: "master" or "backup". */
const char *ha_state_role(enum ha_state s);

/* One HTTP check, as consecutive results. */
struct ha_probe {
	unsigned fails; /* consecutive failures (no answer, or not 200) */
	unsigned oks;   /* consecutive 200s */
	bool ever_ok;
	int last_code; /* HTTP status, 0 when there was no answer */
};

void ha_probe_result(struct ha_probe *p, int code);

enum ha_verdict {
	VERDICT_OK,
	VERDICT_DEMOTE, /* lower the VRRP priority */
	VERDICT_FAULT,  /* VRRP FAULT: give the VIPs away */
};

struct ha_verdict_cfg {
	unsigned fail_after; /* consecutive failures before acting, >= 1 */
	bool syncd;          /* twist-syncd is checked (HA replication on) */
};

/*
 * relay is twist-relay's /health (alive); relay_ready its /ready (with HA:
 * every replicated flow is built, nothing queued for import). A standby
 * whose relay is still building allocations must not look electable
 * (DESIGN decision 7), just as one whose syncd is resyncing.
 */
enum ha_verdict ha_verdict(const struct ha_verdict_cfg *cfg, const struct ha_probe *relay,
                           const struct ha_probe *relay_ready, const struct ha_probe *syncd_health,
                           const struct ha_probe *syncd_ready);

const char *ha_verdict_name(enum ha_verdict v);

#endif
