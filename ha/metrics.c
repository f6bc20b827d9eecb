/*
 * twist-ha's own /metrics (--metrics IP:PORT): the role it wrote, the VRRP
 * state it heard, its health checks and the verdicts they led to, and what
 * came through the notify FIFO. Served on twist-ha's event loop, the one
 * that changes these numbers, so the page reads them without locks.
 */
#include <event2/buffer.h>

#include "common/metrics_http.h"
#include "ha/ha.h"

static void head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct evbuffer *b, const char *name, const char *label, const char *value,
                   uint64_t v)
{
	evbuffer_add_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)v);
}

static void metric(struct evbuffer *b, const char *name, const char *type, const char *help,
                   uint64_t v)
{
	head(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void write_role(struct evbuffer *b, const struct ha *h)
{
	static const enum vrrp_state vrrp[] = {
	        VRRP_MASTER,          VRRP_BACKUP,
	        VRRP_FAULT,           VRRP_STOP,
	        VRRP_DELETED,         VRRP_MASTER_RX_LOWER_PRI,
	        VRRP_MASTER_PRIORITY, VRRP_BACKUP_PRIORITY,
	};

	head(b, "twist_ha_state", "gauge", "1 for the state twist-ha is in (from keepalived).");
	for (int s = 0; s < HA_N_STATES; s++)
		sample(b, "twist_ha_state", "state", ha_state_name((enum ha_state)s),
		       h->state == (enum ha_state)s);
	head(b, "twist_ha_state_changes_total", "counter", "Transitions into each state.");
	for (int s = 0; s < HA_N_STATES; s++)
		sample(b, "twist_ha_state_changes_total", "state", ha_state_name((enum ha_state)s),
		       h->entered[s]);
	metric(b, "twist_ha_master", "gauge",
	       "1 when the role file says master, 0 when it says backup or is not written yet.",
	       h->role_written && h->role_written[0] == 'm');
	metric(b, "twist_ha_role_write_failures_total", "counter",
	       "Role file writes that failed (retried every tick).", h->role_write_failed);
	head(b, "twist_ha_vrrp_state", "gauge",
	     "1 for the last VRRP state keepalived reported for our instance or group.");
	for (size_t i = 0; i < sizeof(vrrp) / sizeof(vrrp[0]); i++)
		sample(b, "twist_ha_vrrp_state", "state", vrrp_state_name(vrrp[i]),
		       h->have_vrrp_seen && h->vrrp_seen == vrrp[i]);
	metric(b, "twist_ha_vrrp_priority", "gauge",
	       "The priority in keepalived's last event for our instance or group.", h->priority);
}

static bool check_active(const struct ha *h, const struct ha_check *c)
{
	return c->conn != NULL || c == &h->relay;
}

static void write_checks(struct evbuffer *b, const struct ha *h)
{
	const struct {
		const char *name;
		const struct ha_check *c;
	} all[] = {
	        {"relay_health", &h->relay},        {"relay_ready", &h->relay_ready},
	        {"syncd_health", &h->syncd_health}, {"syncd_ready", &h->syncd_ready},
	        {"relay_serving", &h->serving},     {"syncd_standby", &h->standby},
	};
	const size_t n = sizeof(all) / sizeof(all[0]);

	/* Only the checks this twist-ha makes (the options say which). */
	head(b, "twist_ha_check_up", "gauge", "1 when the last answer of a health check was 200.");
	for (size_t i = 0; i < n; i++)
		if (check_active(h, all[i].c))
			sample(b, "twist_ha_check_up", "check", all[i].name,
			       all[i].c->probe.last_code == 200);
	head(b, "twist_ha_check_failures_total", "counter",
	     "Health checks that got no answer or not 200.");
	for (size_t i = 0; i < n; i++)
		if (check_active(h, all[i].c))
			sample(b, "twist_ha_check_failures_total", "check", all[i].name,
			       all[i].c->failed_total);
	head(b, "twist_ha_check_consecutive_failures", "gauge",
	     "Failed health checks in a row (acted on at --fail-after).");
	for (size_t i = 0; i < n; i++)
		if (check_active(h, all[i].c))
			sample(b, "twist_ha_check_consecutive_failures", "check", all[i].name,
			       all[i].c->probe.fails);
}

static void write_anycast(struct evbuffer *b, const struct ha *h)
{
	if (!h->cfg.have_anycast)
		return;
	metric(b, "twist_ha_anycast_announced", "gauge",
	       "1 while the anycast routes are in the table BIRD exports.", h->announced);
	head(b, "twist_ha_anycast_changes_total", "counter",
	     "Anycast route changes, by what was done.");
	sample(b, "twist_ha_anycast_changes_total", "to", "announced", h->any_changes[1]);
	sample(b, "twist_ha_anycast_changes_total", "to", "withdrawn", h->any_changes[0]);
	head(b, "twist_ha_anycast_reason", "gauge",
	     "1 for the reason of the last decision: announced, or why the site is withdrawn.");
	for (int r = 0; r < HA_N_ANYCAST; r++)
		sample(b, "twist_ha_anycast_reason", "reason", ha_anycast_name((enum ha_anycast)r),
		       h->any_decided && h->any_reason == (enum ha_anycast)r);
	head(b, "twist_ha_anycast_decisions_total", "counter",
	     "Times the decision changed to each reason.");
	for (int r = 0; r < HA_N_ANYCAST; r++)
		sample(b, "twist_ha_anycast_decisions_total", "reason",
		       ha_anycast_name((enum ha_anycast)r), h->any_reasons[r]);
	metric(b, "twist_ha_anycast_route_failures_total", "counter",
	       "Route changes the kernel refused (retried on the next check).", h->any_failures);
}

static void write_health(struct evbuffer *b, const struct ha *h)
{
	head(b, "twist_ha_health", "gauge",
	     "1 for the verdict in keepalived's track file (none before the first write).");
	for (int v = 0; v < HA_N_VERDICTS; v++)
		sample(b, "twist_ha_health", "verdict", ha_verdict_name((enum ha_verdict)v),
		       h->verdict_written && h->verdict == (enum ha_verdict)v);
	head(b, "twist_ha_health_changes_total", "counter",
	     "Track file verdict changes, by the new verdict (demote: priority lowered).");
	for (int v = 0; v < HA_N_VERDICTS; v++)
		sample(b, "twist_ha_health_changes_total", "verdict",
		       ha_verdict_name((enum ha_verdict)v), h->verdicts[v]);
}

static void write_fifo(struct evbuffer *b, const struct ha *h)
{
	const char *name = "twist_ha_notify_lines_total";

	head(b, name, "counter",
	     "notify_fifo lines: ours, other instances, ignored (LVS), malformed, overlong.");
	sample(b, name, "result", "ours", h->lines_ok);
	sample(b, name, "result", "other", h->lines_other);
	sample(b, name, "result", "ignored", h->lines_ignored);
	sample(b, name, "result", "malformed", h->lines_bad);
	sample(b, name, "result", "overlong", h->overlong_closed + h->lines.overlong);
}

static int metrics_page(struct evbuffer *b, void *arg)
{
	const struct ha *h = arg;

	write_role(b, h);
	write_health(b, h);
	write_checks(b, h);
	write_anycast(b, h);
	write_fifo(b, h);
	return 200;
}

/* Alive whenever the loop answers. */
static int health_page(struct evbuffer *b, void *arg)
{
	(void)arg;
	evbuffer_add_printf(b, "ok\n");
	return 200;
}

int ha_metrics_start(struct ha *h)
{
	static const struct metrics_http_page pages[] = {
	        {"/metrics", metrics_page},
	        {"/health", health_page},
	};

	if (!h->cfg.have_metrics)
		return 0;
	h->http = metrics_http_start(h->base, h->cfg.metrics.host, h->cfg.metrics.port, pages,
	                             sizeof(pages) / sizeof(pages[0]), h);
	return h->http ? 0 : -1;
}

void ha_metrics_stop(struct ha *h)
{
	metrics_http_stop(h->http);
	h->http = NULL;
}
