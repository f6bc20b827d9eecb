/*
 * twist-ha: keepalived glue for a twist pair (DESIGN decisions 7 and 10).
 *
 * keepalived does VRRP; twist-ha only listens and reports:
 *   - keepalived's notify_fifo -> the node's role -> the role file that
 *     twist-syncd reads (written atomically, then syncd gets SIGHUP);
 *   - every interval, HTTP checks of twist-relay /health and twist-syncd
 *     /health and /ready -> a number in keepalived's track_file: 0 when
 *     healthy, -demote while syncd is down or resyncing, HA_TRACK_FAULT when
 *     the relay is down (keepalived: track_file weight 1);
 *   - with --anycast, the same checks plus the relay's /serving -> the
 *     anycast service routes in a kernel table that BIRD exports (ha/anycast.c).
 */
#ifndef TWIST_HA_HA_H
#define TWIST_HA_HA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ha/announce.h"
#include "ha/notify.h"
#include "ha/state.h"

#define HA_TRACK_FAULT -254 /* below -253: keepalived puts the instance in FAULT */
#define HA_N_STATES    (HA_STOPPED + 1)
#define HA_N_VERDICTS  (VERDICT_FAULT + 1)

struct event_base;
struct event;
struct evhttp_connection;
struct metrics_http;
struct ha;

struct ha_target {
	char host[64]; /* numeric IPv4 or IPv6, no brackets */
	uint16_t port;
};

#define HA_ANYCAST_PREFIXES 4

/* A host route to announce: the service's /32 or /128. */
struct ha_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

struct ha_config {
	const char *fifo_path;
	const char *role_path;
	const char *track_path;
	const char *instance;  /* follow INSTANCE lines with this name; NULL: any */
	const char *group;     /* or GROUP lines with this name */
	const char *vip;       /* optional: the first role is master when it is local */
	const char *syncd_pid; /* optional: SIGHUP after a role change */
	const char *vrrp_pid;  /* optional: keepalived's VRRP process; its death = stopped */
	const char *pidfile;   /* optional: our own */
	struct ha_target relay;
	struct ha_target syncd;
	bool have_syncd;
	struct ha_target metrics; /* --metrics: our own /metrics */
	bool have_metrics;
	unsigned interval_ms;
	unsigned timeout_ms;
	unsigned fail_after;
	unsigned demote;
	/* --anycast table:N */
	bool have_anycast;
	uint32_t anycast_table;
	const char *anycast_dev;
	struct ha_prefix prefixes[HA_ANYCAST_PREFIXES];
	unsigned n_prefixes;
	struct ha_target serving; /* /serving: the relay's metrics address unless --serving */
	bool have_serving;
};

struct ha_check {
	struct ha *h;
	const char *name; /* "relay /health" ... */
	const char *path;
	const struct ha_target *target;
	const char *want; /* a 200 whose body lacks this line counts as 503 */
	struct evhttp_connection *conn;
	bool in_flight;
	struct ha_probe probe;
	uint64_t failed_total;
	uint64_t last_log_ms;
};

struct ha {
	struct ha_config cfg;
	struct event_base *base;
	struct event *ev_tick;

	enum ha_state state;
	unsigned priority;
	const char *role_written; /* "master", "backup", or NULL before the first write */
	uint64_t role_write_failed;
	uint64_t entered[HA_N_STATES]; /* transitions into each state */
	enum vrrp_state vrrp_seen;     /* the last event for our instance or group */
	bool have_vrrp_seen;

	enum ha_verdict verdict;
	bool verdict_written;
	uint64_t verdicts[HA_N_VERDICTS]; /* verdict changes, by the new verdict */

	/* notify_fifo */
	int fifo_fd;
	dev_t fifo_dev;
	ino_t fifo_ino;
	struct event *ev_fifo;
	struct notify_lines lines;
	uint64_t lines_ok, lines_bad, lines_ignored, lines_other;
	uint64_t overlong_closed; /* overlong lines counted by FIFOs since closed */
	uint64_t last_bad_log_ms;

	struct ha_check relay, relay_ready, syncd_health, syncd_ready;
	struct ha_check serving, standby; /* with --anycast */
	struct metrics_http *http;

	/* --anycast: the routes, and why they are (not) there */
	struct ha_anycast_io *any;
	bool announced;
	enum ha_anycast any_reason;
	bool any_decided;
	uint64_t any_changes[2];            /* [0] withdrawals, [1] announcements */
	uint64_t any_failures;              /* route changes the kernel refused (retried) */
	uint64_t any_reasons[HA_N_ANYCAST]; /* decisions that changed to each reason */
};

/* ha/role.c: the one place the state changes. */
void ha_change_state(struct ha *h, enum ha_state next, const char *why);
int ha_role_init(struct ha *h);
void ha_vrrp_watch(struct ha *h);

/* ha/fifo.c */
int ha_fifo_open(struct ha *h);
void ha_fifo_check(struct ha *h);
void ha_fifo_close(struct ha *h);
void ha_notify_line(const uint8_t *line, size_t len, void *arg);

/* ha/health.c */
int ha_health_init(struct ha *h);
void ha_health_tick(struct ha *h);
void ha_health_fini(struct ha *h);
void ha_health_update(struct ha *h);

/* ha/anycast.c: the routes in the table BIRD exports; see docs/operations.md. */
int ha_anycast_init(struct ha *h);
void ha_anycast_update(struct ha *h);
void ha_anycast_fini(struct ha *h);

/* ha/metrics.c: /metrics, /health and /ready on --metrics; 0 or -1. */
int ha_metrics_start(struct ha *h);
void ha_metrics_stop(struct ha *h);

/* ha/files.c: small files, written whole and atomically. */
int ha_file_write_atomic(const char *path, const char *content);
int ha_file_read_small(const char *path, char *buf, size_t len);
int ha_pidfile_read(const char *path, pid_t *pid);

#endif
