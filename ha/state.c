#include "ha/state.h"

const char *ha_state_name(enum ha_state s)
{
	switch (s) {
	case HA_INIT:
		return "init";
	case HA_BACKUP:
		return "backup";
	case HA_MASTER:
		return "master";
	case HA_FAULT:
		return "fault";
	case HA_STOPPED:
		return "stopped";
	}
	return "?";
}

enum ha_state ha_state_next(enum ha_state cur, enum vrrp_state ev)
{
	switch (ev) {
	case VRRP_MASTER:
		return HA_MASTER;
	case VRRP_BACKUP:
		return HA_BACKUP;
	case VRRP_FAULT:
		return HA_FAULT;
	case VRRP_STOP:
	case VRRP_DELETED:
		return HA_STOPPED;
	case VRRP_MASTER_RX_LOWER_PRI:
		/* A master hearing a lower priority: it stays master. */
	case VRRP_MASTER_PRIORITY:
	case VRRP_BACKUP_PRIORITY:
		/* Priority news only (notify_priority_changes). */
		return cur;
	}
	return cur;
}

const char *ha_state_role(enum ha_state s)
{
	return s == HA_MASTER ? "master" : "backup";
}

void ha_probe_result(struct ha_probe *p, int code)
{
	p->last_code = code;
	if (code == 200) {
		p->fails = 0;
		if (p->oks < 1000000)
			p->oks++;
		p->ever_ok = true;
	} else {
		p->oks = 0;
		if (p->fails < 1000000)
			p->fails++;
	}
}

/* Down: never answered 200 yet, or failed fail_after times in a row. */
static bool probe_down(const struct ha_verdict_cfg *cfg, const struct ha_probe *p)
{
	return !p->ever_ok || p->fails >= cfg->fail_after;
}

static bool probe_unready(const struct ha_verdict_cfg *cfg, const struct ha_probe *p)
{
	/* An unready service answers 503 at once: no need to wait for a streak. */
	return probe_down(cfg, p) || (p->last_code != 0 && p->last_code != 200);
}

enum ha_verdict ha_verdict(const struct ha_verdict_cfg *cfg, const struct ha_probe *relay,
                           const struct ha_probe *relay_ready, const struct ha_probe *syncd_health,
                           const struct ha_probe *syncd_ready)
{
	if (probe_down(cfg, relay))
		return VERDICT_FAULT;
	if (!cfg->syncd)
		return VERDICT_OK;
	if (probe_down(cfg, syncd_health) || probe_unready(cfg, syncd_ready) ||
	    probe_unready(cfg, relay_ready))
		return VERDICT_DEMOTE;
	return VERDICT_OK;
}

const char *ha_verdict_name(enum ha_verdict v)
{
	switch (v) {
	case VERDICT_OK:
		return "healthy";
	case VERDICT_DEMOTE:
		return "demoted";
	case VERDICT_FAULT:
		return "fault";
	}
	return "?";
}
