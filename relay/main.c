/*
 * twist-relay: STUN/TURN relay. Start-up, signals, reload and shutdown; the
 * packet path lives in the workers.
 */
#include <errno.h>
#include <stddef.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "relay/auth.h"
#include "relay/cluster.h"
#include "relay/control.h"
#include "relay/metrics.h"
#include "relay/policy.h"
#include "relay/ports.h"
#include "relay/registry.h"
#include "relay/sync.h"
#include "relay/tcp.h"
#include "relay/tls.h"
#include "relay/userdb_load.h"
#include "relay/worker.h"

#define RELAY_NOFILE (1u << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage: twist-relay [--config FILE]\n"
	           "       twist-relay --check-config FILE\n"
	           "       twist-relay --help | --version\n"
	           "\n"
	           "Without --config, runs on the embedded demo default: UDP and TCP on\n"
	           "127.0.0.1:3478 and [::1]:3478, realm twist.local, user demo/demo,\n"
	           "metrics on http://127.0.0.1:9641/metrics.\n"
	           "Signals: SIGHUP reloads users (the YAML list and auth.database), the tls "
	           "certificate and the\n"
	           "log level; SIGTERM stops. twistctl(8) manages auth.database's users\n"
	           "and asks for a reload over control.socket.\n");
}

static int load_config(const char *path, struct config *cfg)
{
	char err[512];
	int rc;

	if (path)
		rc = config_load_file(path, cfg, err, sizeof(err));
	else
		rc = config_load_string(config_default_yaml, strlen(config_default_yaml),
		                        "<embedded>", cfg, err, sizeof(err));
	if (rc == 0)
		rc = config_validate(cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "twist-relay: %s\n", err);
		config_clear(cfg);
		return -1;
	}
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* Two descriptors per UDP allocation (relay socket, per-client socket).
	 * With CAP_SYS_RESOURCE the hard limit can rise too, up to fs.nr_open. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		struct rlimit want = {RELAY_NOFILE, RELAY_NOFILE};

		if (rl.rlim_max < RELAY_NOFILE && setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the open-file limit: %s", strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("open-file limit %llu (%llu allocations)", (unsigned long long)rl.rlim_cur,
		         (unsigned long long)rl.rlim_cur / 2);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

/* New connections get the new certificate; a broken one keeps the old. */
static void tls_reload(struct relay *r, const struct config *cfg)
{
	char err[512];

	if (!r->tls)
		return;
	if (tls_server_reload(r->tls, cfg, err, sizeof(err)) < 0)
		log_err("SIGHUP: %s; keeping the running certificate", err);
	else if (cfg->tls_cert[0])
		log_info("SIGHUP: reloaded tls certificate %s", cfg->tls_cert);
}

/* twist.* is the TUN device, its routes and the port table: built once. */
static bool twist_changed(const struct config *a, const struct config *b)
{
	return a->twist_enabled != b->twist_enabled ||
	       !tw_addr_eq(&a->twist_relay4, &b->twist_relay4) ||
	       !tw_addr_eq(&a->twist_relay6, &b->twist_relay6) ||
	       a->twist_port_min != b->twist_port_min || a->twist_port_max != b->twist_port_max ||
	       strcmp(a->twist_tun, b->twist_tun) != 0 ||
	       a->twist_idle_timeout != b->twist_idle_timeout ||
	       a->twist_max_flows_per_user != b->twist_max_flows_per_user;
}

/* The home agent holds the keys it started with (relay/mice_ha.h). */
static bool mice_changed(const struct config *a, const struct config *b)
{
	return a->mice_enabled != b->mice_enabled || a->mice_port != b->mice_port ||
	       a->mice_option_type != b->mice_option_type || a->n_mice_keys != b->n_mice_keys ||
	       memcmp(a->mice_keys, b->mice_keys, a->n_mice_keys * sizeof(a->mice_keys[0])) != 0 ||
	       a->mice_max_lifetime != b->mice_max_lifetime ||
	       a->mice_max_bindings != b->mice_max_bindings || a->mice_rate != b->mice_rate ||
	       a->mice_burst != b->mice_burst;
}

/* trt.* are the last fields of struct config; both copies were zeroed before loading. */
static bool trt_changed(const struct config *a, const struct config *b)
{
	size_t off = offsetof(struct config, trt_enabled);

	return memcmp((const char *)a + off, (const char *)b + off, sizeof(*a) - off) != 0;
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct relay *r = arg;
	struct config cfg;

	(void)sig;
	(void)what;
	if (!r->config_path[0]) {
		log_info("SIGHUP: running on the embedded default, nothing to reload");
		return;
	}
	if (load_config(r->config_path, &cfg) < 0) {
		log_err("SIGHUP: %s not reloaded, keeping the running config", r->config_path);
		return;
	}
	if (auth_reload(r->auth, &cfg) < 0)
		log_err("SIGHUP: users not reloaded");
	else
		log_info("SIGHUP: reloaded %u users, log level %s", cfg.n_users,
		         log_level_name(cfg.log_level));
	if (strcmp(cfg.database, r->cfg.database) != 0 ||
	    strcmp(cfg.control_socket, r->cfg.control_socket) != 0)
		log_warn("SIGHUP: auth.database and control.socket change only on a restart");
	if (twist_changed(&cfg, &r->cfg))
		log_warn("SIGHUP: the twist section changes only on a restart");
	if (mice_changed(&cfg, &r->cfg))
		log_warn("SIGHUP: the mice section changes only on a restart");
	if (trt_changed(&cfg, &r->cfg))
		log_warn("SIGHUP: the trt section changes only on a restart");
	tls_reload(r, &cfg);
	/* After auth_reload: the snapshot is built for the realm now running. */
	if (r->udb)
		userdb_loader_request(r->udb);
	log_set_level(cfg.log_level);
	config_clear(&cfg);
}

/* "udp+tls+dtls": what one listen entry serves, for the start-up log. */
static const char *listen_transports(const struct cfg_listen *l, char *out, size_t len)
{
	const struct {
		bool on;
		const char *name;
	} t[] = {{l->udp, "udp"}, {l->tcp, "tcp"}, {l->tls, "tls"},
	         {l->ws, "ws"},   {l->wss, "wss"}, {l->dtls, "dtls"}};
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].on && n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "+" : "", t[i].name);
	return out;
}

static void log_startup(const struct relay *r)
{
	const struct config *cfg = &r->cfg;
	char a[TW_ADDR_STRLEN], t[32];

	log_info("twist-relay %s, config %s, %u workers", TWIST_VERSION, cfg->source, r->n_workers);
	for (unsigned i = 0; i < cfg->n_listen; i++)
		log_info("listening on %s (%s)", tw_addr_fmt(&cfg->listen[i].addr, a, sizeof(a)),
		         listen_transports(&cfg->listen[i], t, sizeof(t)));
	for (int f = 0; f < 2; f++)
		if (r->relay_addr[f].family)
			log_info("relay address %s, ports %u-%u",
			         tw_addr_fmt_ip(&r->relay_addr[f], a, sizeof(a)), cfg->port_min,
			         cfg->port_max);
	if (cfg->allow_loopback)
		log_warn("DEMO SETTING: peers.allow_loopback is on, clients may relay to this "
		         "host's loopback services; never use this in production");
	if (cfg->allow_self)
		log_warn("DEMO SETTING: peers.allow_self is on, clients may relay to this relay's "
		         "own listen, relay and metrics addresses; never use this in production");
	if (!cfg->nonce_secret[0])
		log_info("no auth.nonce_secret: nonces are random per process (set one for an HA "
		         "pair)");
}

/*
 * An explicitly configured control.socket must work. The default one is
 * best effort: a relay started by hand, without /run/twist, runs without it.
 */
static int control_start(struct relay *r, struct event_base *base, struct control **out)
{
	const char *path = r->cfg.control_socket;
	bool dflt = strcmp(path, CFG_CONTROL_SOCKET) == 0;

	*out = NULL;
	if (!path[0])
		return 0;
	if (dflt && access("/run/twist", W_OK) < 0) {
		log_info("no control socket: /run/twist is not writable (set control.socket)");
		return 0;
	}
	*out = control_new(r, base, path);
	if (!*out && dflt) {
		log_warn("running without a control socket");
		return 0;
	}
	return *out ? 0 : -1;
}

static int userdb_start(struct relay *r, struct event_base *base, struct control *ctl)
{
	char err[512];

	if (!r->cfg.database[0])
		return 0;
	r->udb = userdb_loader_new(r->cfg.database, r->auth, base, control_reload_done, ctl, err,
	                           sizeof(err));
	if (!r->udb) {
		log_err("auth.database: %s", err);
		return -1;
	}
	return 0;
}

static int run(struct relay *r)
{
	struct event_base *base;
	struct event *ev_term, *ev_int, *ev_hup;
	struct metrics_http *m = NULL;
	struct control *ctl = NULL;
	int rc = 1;

	base = event_base_new();
	if (!base)
		return 1;
	ev_term = evsignal_new(base, SIGTERM, on_stop, base);
	ev_int = evsignal_new(base, SIGINT, on_stop, base);
	ev_hup = evsignal_new(base, SIGHUP, on_reload, r);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	if (relay_init(r) < 0) {
		log_err("start-up failed");
		goto done;
	}
	if (control_start(r, base, &ctl) < 0 || userdb_start(r, base, ctl) < 0)
		goto done;
	if (r->cfg.metrics_enabled && !(m = metrics_start(r, base)))
		goto done;
	if (sync_start(r, base) < 0) {
		log_err("ha: cannot reach twist-syncd's ipc in %s", r->cfg.ha_ipc_dir);
		goto done;
	}
	if (cluster_start(r, base) < 0) {
		log_err("cluster: cannot start");
		goto done;
	}
	log_startup(r);
	for (unsigned i = 0; i < r->n_workers; i++)
		if (worker_start(r->workers[i]) < 0)
			fatal("cannot start worker %u", i);
	__atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);
	log_info("ready");
	event_base_dispatch(base);
	__atomic_store_n(&r->ready, 0, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < r->n_workers; i++)
		worker_stop(r->workers[i]);
	for (unsigned i = 0; i < r->n_workers; i++)
		worker_join(r->workers[i]);
	log_info("stopped");
	rc = 0;
done:
	metrics_http_stop(m);
	control_free(ctl);
	userdb_loader_free(r->udb); /* before auth goes with relay_fini */
	r->udb = NULL;
	cluster_stop(r); /* before relay_fini: reports read the registry */
	relay_fini(r);
	sync_stop(r);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(base);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", required_argument, NULL, 'C'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	static struct relay r; /* large (config tables): not on the stack */
	const char *path = NULL, *check = NULL;
	int c;

	/* A reload signal that arrives before the loop's handler must not kill us. */
	signal(SIGHUP, SIG_IGN);

	while ((c = getopt_long(argc, argv, "c:C:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("twist-relay %s\n", TWIST_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "twist-relay: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check) {
		if (load_config(check, &r.cfg) < 0)
			return 1;
		printf("%s: ok\n", check);
		config_clear(&r.cfg);
		return 0;
	}
	if (load_config(path, &r.cfg) < 0)
		return 1;
	if (path && strlen(path) >= sizeof(r.config_path)) {
		fprintf(stderr, "twist-relay: config path too long\n");
		return 1;
	}
	if (path)
		strcpy(r.config_path, path);
	log_init("twist-relay", r.cfg.log_level, r.cfg.log_syslog);
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0)
		fatal("libevent without thread support");
	raise_nofile();
	return run(&r);
}
