#include "ha/announce.h"

/*
 * Alive: answered 200 at least once and not failed fail_after times since.
 * A withdrawn route also waits for fail_after 200s in a row before it is
 * announced again, so a relay that answers every other check does not make
 * BGP flap (each flap is an UPDATE to every router upstream, and routers
 * damp prefixes that flap).
 */
static bool alive(const struct ha_anycast_in *in, const struct ha_probe *p)
{
	if (!p->ever_ok || p->fails >= in->fail_after)
		return false;
	return in->announced || p->oks >= in->fail_after;
}

/* A page that says no (503 draining, 404) is believed at once. */
static bool says_yes(const struct ha_anycast_in *in, const struct ha_probe *p)
{
	return alive(in, p) && (p->last_code == 200 || p->last_code == 0);
}

enum ha_anycast ha_anycast_decide(const struct ha_anycast_in *in)
{
	if (!alive(in, in->relay))
		return ANYCAST_RELAY_DOWN;
	if (!says_yes(in, in->relay_ready))
		return ANYCAST_RELAY_UNREADY;
	if (!says_yes(in, in->serving))
		return ANYCAST_NOT_SERVING;
	if (!in->syncd)
		return ANYCAST_ANNOUNCE;
	if (in->state != HA_MASTER)
		return ANYCAST_NOT_MASTER;
	if (!alive(in, in->syncd_health))
		return ANYCAST_SYNCD_DOWN;
	if (!says_yes(in, in->syncd_ready))
		return ANYCAST_UNSYNCED;
	if (!says_yes(in, in->standby))
		return ANYCAST_NO_STANDBY;
	return ANYCAST_ANNOUNCE;
}

const char *ha_anycast_name(enum ha_anycast a)
{
	switch (a) {
	case ANYCAST_ANNOUNCE:
		return "announced";
	case ANYCAST_RELAY_DOWN:
		return "relay_down";
	case ANYCAST_RELAY_UNREADY:
		return "relay_unready";
	case ANYCAST_NOT_SERVING:
		return "not_serving";
	case ANYCAST_SYNCD_DOWN:
		return "syncd_down";
	case ANYCAST_UNSYNCED:
		return "unsynced";
	case ANYCAST_NO_STANDBY:
		return "no_standby";
	case ANYCAST_NOT_MASTER:
		return "not_master";
	}
	return "?";
}
