/*
 * twist-ha: start-up, options, the tick and signals. See ha/ha.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ha/ha.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: twist-ha --fifo PATH --role-file PATH --track-file PATH [options]\n"
	        "\n"
	        "  --fifo PATH               keepalived notify_fifo (created if missing)\n"
	        "  --role-file PATH          written with \"master\" or \"backup\" for "
	        "twist-syncd\n"
	        "  --track-file PATH         keepalived track_file (weight 1): 0 healthy,\n"
	        "                            -DEMOTE syncd down or resyncing, -254 relay down\n"
	        "  --instance NAME           follow this vrrp_instance (default: any)\n"
	        "  --group NAME              follow this vrrp_sync_group instead\n"
	        "  --relay IP:PORT           twist-relay metrics address (default 127.0.0.1:9641)\n"
	        "  --syncd IP:PORT           twist-syncd metrics address; checks /health, /ready\n"
	        "  --metrics IP:PORT         serve our own /metrics there (off by default;\n"
	        "                            the deployed units use 127.0.0.1:9643)\n"
	        "  --syncd-pidfile PATH      SIGHUP twist-syncd after a role change\n"
	        "  --keepalived-pidfile PATH keepalived's VRRP process (-r): its death = stopped\n"
	        "  --vip IP                  first role: master when IP is local\n"
	        "  --interval-ms N           check period (default 100)\n"
	        "  --timeout-ms N            HTTP timeout (default 80)\n"
	        "  --fail-after N            failed checks in a row before acting (default 3)\n"
	        "  --demote N                priority lowered while syncd is not ready (default "
	        "100)\n"
	        "  --anycast table:N         announce the anycast routes in kernel table N\n"
	        "                            (BIRD exports it) while this site is fit\n"
	        "  --anycast-prefix IP[/LEN] a service address (/32 or /128; up to 4)\n"
	        "  --anycast-dev NAME        the device the routes go through (default "
	        "twist-any)\n"
	        "  --serving IP:PORT         where /serving is checked (default: --relay)\n"
	        "  --pidfile PATH            write our pid\n"
	        "  --log-level LEVEL         error, warn, info (default), debug\n"
	        "  --help, --version\n");
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

/* "192.0.2.1:9641" or "[2001:db8::1]:9641"; numeric only. */
static int parse_target(const char *s, struct ha_target *t)
{
	const char *colon, *host = s;
	size_t hlen;
	unsigned port;
	uint8_t buf[16];

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(t->host))
		return -EINVAL;
	memcpy(t->host, host, hlen);
	t->host[hlen] = '\0';
	if (inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, t->host, buf) != 1)
		return -EINVAL;
	if (parse_uint(colon + 1, 1, 65535, &port) < 0)
		return -EINVAL;
	t->port = (uint16_t)port;
	return 0;
}

/* "table:N", the one action: see docs/operations.md "Multi-site" for why. */
static int parse_anycast(const char *s, struct ha_config *cfg)
{
	unsigned t;

	if (strncmp(s, "table:", 6) != 0 || parse_uint(s + 6, 1, 0xffffffffu, &t) < 0)
		return -EINVAL;
	/* 253-255 are the kernel's default, main and local tables. */
	if (t >= 253 && t <= 255)
		return -EINVAL;
	cfg->anycast_table = t;
	cfg->have_anycast = true;
	return 0;
}

/* A host address, with /32 or /128 if a length is given. */
static int parse_prefix(const char *s, struct ha_config *cfg)
{
	struct ha_prefix *p = &cfg->prefixes[cfg->n_prefixes];
	const char *slash = strchr(s, '/');
	char ip[64];
	size_t len = slash ? (size_t)(slash - s) : strlen(s);

	if (cfg->n_prefixes == HA_ANYCAST_PREFIXES || len == 0 || len >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, len);
	ip[len] = '\0';
	if (inet_pton(AF_INET, ip, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, p->addr) == 1)
		p->family = AF_INET6;
	else
		return -EINVAL;
	if (slash && strcmp(slash + 1, p->family == AF_INET ? "32" : "128") != 0)
		return -EINVAL;
	cfg->n_prefixes++;
	return 0;
}

static int parse_args(int argc, char **argv, struct ha_config *cfg)
{
	enum {
		O_FIFO = 256,
		O_ROLE,
		O_TRACK,
		O_INSTANCE,
		O_GROUP,
		O_RELAY,
		O_SYNCD,
		O_METRICS,
		O_SYNCD_PID,
		O_VRRP_PID,
		O_VIP,
		O_INTERVAL,
		O_TIMEOUT,
		O_FAIL,
		O_DEMOTE,
		O_PIDFILE,
		O_ANYCAST,
		O_ANY_PREFIX,
		O_ANY_DEV,
		O_SERVING,
		O_LOG,
		O_HELP,
		O_VERSION
	};
	static const struct option opts[] = {
	        {"fifo", required_argument, NULL, O_FIFO},
	        {"role-file", required_argument, NULL, O_ROLE},
	        {"track-file", required_argument, NULL, O_TRACK},
	        {"instance", required_argument, NULL, O_INSTANCE},
	        {"group", required_argument, NULL, O_GROUP},
	        {"relay", required_argument, NULL, O_RELAY},
	        {"syncd", required_argument, NULL, O_SYNCD},
	        {"metrics", required_argument, NULL, O_METRICS},
	        {"syncd-pidfile", required_argument, NULL, O_SYNCD_PID},
	        {"keepalived-pidfile", required_argument, NULL, O_VRRP_PID},
	        {"vip", required_argument, NULL, O_VIP},
	        {"interval-ms", required_argument, NULL, O_INTERVAL},
	        {"timeout-ms", required_argument, NULL, O_TIMEOUT},
	        {"fail-after", required_argument, NULL, O_FAIL},
	        {"demote", required_argument, NULL, O_DEMOTE},
	        {"pidfile", required_argument, NULL, O_PIDFILE},
	        {"anycast", required_argument, NULL, O_ANYCAST},
	        {"anycast-prefix", required_argument, NULL, O_ANY_PREFIX},
	        {"anycast-dev", required_argument, NULL, O_ANY_DEV},
	        {"serving", required_argument, NULL, O_SERVING},
	        {"log-level", required_argument, NULL, O_LOG},
	        {"help", no_argument, NULL, O_HELP},
	        {"version", no_argument, NULL, O_VERSION},
	        {NULL, 0, NULL, 0},
	};
	enum log_level level;
	uint8_t ip[16];
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *bad = NULL;

		switch (o) {
		case O_FIFO:
			cfg->fifo_path = optarg;
			break;
		case O_ROLE:
			cfg->role_path = optarg;
			break;
		case O_TRACK:
			cfg->track_path = optarg;
			break;
		case O_INSTANCE:
			cfg->instance = optarg;
			break;
		case O_GROUP:
			cfg->group = optarg;
			break;
		case O_RELAY:
			if (parse_target(optarg, &cfg->relay) < 0)
				bad = "--relay wants IP:PORT or [IPv6]:PORT";
			break;
		case O_SYNCD:
			if (parse_target(optarg, &cfg->syncd) < 0)
				bad = "--syncd wants IP:PORT or [IPv6]:PORT";
			cfg->have_syncd = true;
			break;
		case O_METRICS:
			if (parse_target(optarg, &cfg->metrics) < 0)
				bad = "--metrics wants IP:PORT or [IPv6]:PORT";
			cfg->have_metrics = true;
			break;
		case O_SYNCD_PID:
			cfg->syncd_pid = optarg;
			break;
		case O_VRRP_PID:
			cfg->vrrp_pid = optarg;
			break;
		case O_VIP:
			cfg->vip = optarg;
			if (inet_pton(AF_INET, optarg, ip) != 1 &&
			    inet_pton(AF_INET6, optarg, ip) != 1)
				bad = "--vip wants an IPv4 or IPv6 address";
			break;
		case O_INTERVAL:
			if (parse_uint(optarg, 10, 10000, &cfg->interval_ms) < 0)
				bad = "--interval-ms must be 10..10000";
			break;
		case O_TIMEOUT:
			if (parse_uint(optarg, 10, 10000, &cfg->timeout_ms) < 0)
				bad = "--timeout-ms must be 10..10000";
			break;
		case O_FAIL:
			if (parse_uint(optarg, 1, 100, &cfg->fail_after) < 0)
				bad = "--fail-after must be 1..100";
			break;
		case O_DEMOTE:
			if (parse_uint(optarg, 1, 253, &cfg->demote) < 0)
				bad = "--demote must be 1..253";
			break;
		case O_PIDFILE:
			cfg->pidfile = optarg;
			break;
		case O_ANYCAST:
			if (parse_anycast(optarg, cfg) < 0)
				bad = "--anycast wants table:N (N 1..4294967295, not 253-255)";
			break;
		case O_ANY_PREFIX:
			if (parse_prefix(optarg, cfg) < 0)
				bad = "--anycast-prefix wants an IPv4 (/32) or IPv6 (/128) "
				      "address, "
				      "at most 4";
			break;
		case O_ANY_DEV:
			cfg->anycast_dev = optarg;
			if (!optarg[0] || strlen(optarg) >= IFNAMSIZ || strchr(optarg, '/') ||
			    strchr(optarg, '%'))
				bad = "--anycast-dev wants an interface name (1..15 bytes)";
			break;
		case O_SERVING:
			if (parse_target(optarg, &cfg->serving) < 0)
				bad = "--serving wants IP:PORT or [IPv6]:PORT";
			cfg->have_serving = true;
			break;
		case O_LOG:
			if (log_level_parse(optarg, &level) < 0)
				bad = "--log-level must be error, warn, info or debug";
			else
				log_set_level(level);
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("twist-ha %s\n", TWIST_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (bad) {
			fprintf(stderr, "twist-ha: %s, got '%s'\n", bad, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "twist-ha: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!cfg->fifo_path || !cfg->role_path || !cfg->track_path) {
		fprintf(stderr, "twist-ha: --fifo, --role-file and --track-file are required\n");
		return -EINVAL;
	}
	if (cfg->instance && cfg->group) {
		fprintf(stderr, "twist-ha: --instance and --group exclude each other\n");
		return -EINVAL;
	}
	if (cfg->have_anycast != (cfg->n_prefixes > 0)) {
		fprintf(stderr, "twist-ha: --anycast and --anycast-prefix go together\n");
		return -EINVAL;
	}
	if (!cfg->have_serving)
		cfg->serving = cfg->relay;
	if (cfg->timeout_ms >= cfg->interval_ms * cfg->fail_after)
		fprintf(stderr,
		        "twist-ha: warning: --timeout-ms %u is not below interval x "
		        "fail-after; a hung relay is noticed late\n",
		        cfg->timeout_ms);
	return 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ha *h = arg;

	(void)fd;
	(void)what;
	ha_fifo_check(h);
	ha_vrrp_watch(h);
	/* A role write that failed is retried here. */
	if (h->role_written != ha_state_role(h->state) && h->state != HA_INIT)
		ha_change_state(h, h->state, "retry");
	ha_health_tick(h);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct ha *h = arg;

	(void)sig;
	(void)what;
	log_info("state %s, role %s, priority %u, health %s; notify lines: %llu ours, %llu other, "
	         "%llu ignored, %llu malformed, %llu overlong; failed checks: relay %llu, "
	         "syncd %llu/%llu",
	         ha_state_name(h->state), h->role_written ? h->role_written : "-", h->priority,
	         h->verdict_written ? ha_verdict_name(h->verdict) : "unknown",
	         (unsigned long long)h->lines_ok, (unsigned long long)h->lines_other,
	         (unsigned long long)h->lines_ignored, (unsigned long long)h->lines_bad,
	         (unsigned long long)(h->overlong_closed + h->lines.overlong),
	         (unsigned long long)h->relay.failed_total,
	         (unsigned long long)h->syncd_health.failed_total,
	         (unsigned long long)h->syncd_ready.failed_total);
	if (h->cfg.have_anycast)
		log_info("anycast %s (%s), %llu announcements, %llu withdrawals, %llu route "
		         "failures",
		         h->announced ? "announced" : "withdrawn", ha_anycast_name(h->any_reason),
		         (unsigned long long)h->any_changes[1],
		         (unsigned long long)h->any_changes[0],
		         (unsigned long long)h->any_failures);
}

static int run(struct ha *h)
{
	struct timeval tv = {.tv_sec = h->cfg.interval_ms / 1000,
	                     .tv_usec = (h->cfg.interval_ms % 1000) * 1000};
	struct event *sigs[4];
	int rc;

	h->base = event_base_new();
	if (!h->base)
		fatal("event_base_new failed");
	rc = ha_fifo_open(h);
	if (rc < 0)
		fatal("cannot open notify_fifo %s: %s", h->cfg.fifo_path,
		      rc == -ENOTSUP ? "exists and is not a FIFO" : strerror(-rc));
	if (ha_role_init(h) < 0)
		fatal("cannot write the role file %s", h->cfg.role_path);
	if (ha_health_init(h) < 0)
		fatal("cannot set up the health checks (or write %s)", h->cfg.track_path);
	if (ha_anycast_init(h) < 0)
		fatal("cannot set up --anycast (see above; it needs CAP_NET_ADMIN and "
		      "/dev/net/tun)");
	if (ha_metrics_start(h) < 0)
		fatal("cannot serve metrics on %s port %u", h->cfg.metrics.host,
		      h->cfg.metrics.port);
	h->ev_tick = event_new(h->base, -1, EV_PERSIST, on_tick, h);
	sigs[0] = evsignal_new(h->base, SIGTERM, on_stop, h->base);
	sigs[1] = evsignal_new(h->base, SIGINT, on_stop, h->base);
	sigs[2] = evsignal_new(h->base, SIGUSR1, on_usr1, h);
	sigs[3] = evsignal_new(h->base, SIGHUP, on_usr1, h);
	if (!h->ev_tick || event_add(h->ev_tick, &tv) < 0)
		fatal("cannot start the timer");
	for (int i = 0; i < 4; i++)
		if (!sigs[i] || event_add(sigs[i], NULL) < 0)
			fatal("cannot watch signals");
	log_info("twist-ha %s: fifo %s, role file %s, track file %s, relay %s:%u%s%s, every %u ms",
	         TWIST_VERSION, h->cfg.fifo_path, h->cfg.role_path, h->cfg.track_path,
	         h->cfg.relay.host, h->cfg.relay.port, h->cfg.have_syncd ? ", syncd " : "",
	         h->cfg.have_syncd ? h->cfg.syncd.host : "", h->cfg.interval_ms);
	ha_health_tick(h);
	event_base_dispatch(h->base);
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_free(h->ev_tick);
	ha_metrics_stop(h);
	ha_anycast_fini(h);
	ha_health_fini(h);
	ha_fifo_close(h);
	event_base_free(h->base);
	return 0;
}

int main(int argc, char **argv)
{
	struct ha h;
	char pid[32];

	memset(&h, 0, sizeof(h));
	h.fifo_fd = -1;
	h.cfg.interval_ms = 100;
	h.cfg.timeout_ms = 80;
	h.cfg.fail_after = 3;
	h.cfg.demote = 100;
	h.cfg.anycast_dev = "twist-any";
	snprintf(h.cfg.relay.host, sizeof(h.cfg.relay.host), "127.0.0.1");
	h.cfg.relay.port = 9641;
	if (parse_args(argc, argv, &h.cfg) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (h.cfg.pidfile) {
		snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ha_file_write_atomic(h.cfg.pidfile, pid) < 0)
			fatal("cannot write pid file %s", h.cfg.pidfile);
	}
	run(&h);
	if (h.cfg.pidfile)
		unlink(h.cfg.pidfile);
	return 0;
}
