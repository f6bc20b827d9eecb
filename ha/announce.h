/*
 * The anycast decision (issue 14), a pure function like ha/state.h's: is
 * this site fit to attract new clients, so that twist-ha announces the
 * service prefix to BIRD, or must it withdraw it?
 *
 * A site announces only when its relay is alive (/health), ready (/ready:
 * every replicated flow is built) and serving (/serving: not draining),
 * and, in an HA pair (--syncd), this node is the VRRP master, its syncd is
 * up and synced, and the standby's session is up. Anything else withdraws,
 * and the first reason found is reported (metrics, log).
 */
#ifndef TWIST_HA_ANNOUNCE_H
#define TWIST_HA_ANNOUNCE_H

#include <stdbool.h>

#include "ha/state.h"

enum ha_anycast {
	ANYCAST_ANNOUNCE,
	ANYCAST_RELAY_DOWN,    /* /health: never 200, or fail_after misses */
	ANYCAST_RELAY_UNREADY, /* /ready not 200 */
	ANYCAST_NOT_SERVING,   /* /serving not 200: draining, or no such page */
	ANYCAST_SYNCD_DOWN,    /* twist-syncd /health down */
	ANYCAST_UNSYNCED,      /* twist-syncd /ready not 200: resyncing */
	ANYCAST_NO_STANDBY,    /* no session with the standby's syncd */
	ANYCAST_NOT_MASTER,    /* VRRP: another node of the pair serves */
};

#define HA_N_ANYCAST (ANYCAST_NOT_MASTER + 1)

struct ha_anycast_in {
	unsigned fail_after; /* as for the verdict; also the 200s in a row to announce */
	bool syncd;          /* HA pair: the last four fields count */
	bool announced;      /* what is announced now (hysteresis) */
	const struct ha_probe *relay, *relay_ready, *serving;
	const struct ha_probe *syncd_health, *syncd_ready, *standby;
	enum ha_state state;
};

enum ha_anycast ha_anycast_decide(const struct ha_anycast_in *in);

/* "announced" or the reason for withdrawing, for logs and metric labels. */
const char *ha_anycast_name(enum ha_anycast a);

#endif
