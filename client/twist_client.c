/*
 * twist-client: the TWIST shim (draft-kaplan-behave-twist-00 §8.1). A TUN
 * device below the host's stack; every new UDP or TCP 5-tuple routed into
 * it gets a TWIST flow of its own. See twist-client(8).
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/tc_client.h"
#include "common/clock.h"
#include "common/log.h"

#define TC_STUN_PORT 3478

static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"route", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},
        {"tun", required_argument, NULL, 't'},
        {"tun-addr4", required_argument, NULL, '4'},
        {"tun-addr6", required_argument, NULL, '6'},
        {"nat64", required_argument, NULL, 'n'},
        {"map", required_argument, NULL, 'm'},
        {"mtu", required_argument, NULL, 'M'},
        {"keepalive", required_argument, NULL, 'k'},
        {"mode", required_argument, NULL, 'e'},
        {"udp-idle", required_argument, NULL, 'U'},
        {"tcp-idle", required_argument, NULL, 'T'},
        {"max-flows", required_argument, NULL, 'F'},
        {"log-level", required_argument, NULL, 'L'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: twist-client --server HOST[:PORT]... --user U --password P\n"
	        "         [--route PREFIX]... [--listen tcp:PORT|udp:PORT]... [--tun NAME]\n"
	        "         [--nat64 PREFIX/96] [--map LOCAL=PEER]... [--config FILE]\n"
	        "options:\n"
	        "  --server HOST[:PORT]   a TWIST relay (port 3478 by default); repeat for\n"
	        "                         the servers to fall back to, in order\n"
	        "  --user U, --password P long-term credentials\n"
	        "  --route PREFIX         route PREFIX into the TUN: connect flows\n"
	        "  --listen tcp:PORT|udp:PORT  a relayed address for the local server on PORT\n"
	        "  --tun NAME             TUN device name (twc0)\n"
	        "  --tun-addr4 ADDR       the TUN's IPv4 address (169.254.87.1, or none)\n"
	        "  --tun-addr6 ADDR       the TUN's IPv6 address (fd74:7769:7374::1, or none)\n"
	        "  --nat64 PREFIX/96      IPv6 destinations in PREFIX reach their IPv4 address\n"
	        "  --map LOCAL=PEER       IPv4 destination LOCAL reaches IPv6 PEER\n"
	        "  --mtu N                the TUN's MTU (1400)\n"
	        "  --keepalive natt|binding  keepalive asked of the server (natt)\n"
	        "  --mode transport|tunnel  encapsulation asked of the server (transport)\n"
	        "  --udp-idle S           a UDP flow ends after S s without packets (60)\n"
	        "  --tcp-idle S           a TCP flow without FIN or RST ends after S s (3600)\n"
	        "  --max-flows N          flows at most (1024)\n"
	        "  --log-level L          error, warn, info or debug (info)\n"
	        "  --config FILE          YAML file with the same keys\n"
	        "  --help, --version\n");
}

static int parse_args(struct tc_conf *conf, int argc, char **argv)
{
	char err[256];
	bool cli_servers = false;
	int ch;

	/* The file first, wherever --config stands: the command line wins. */
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--config") &&
		    tc_conf_yaml(conf, argv[i + 1], err, sizeof(err)) < 0) {
			fprintf(stderr, "twist-client: %s\n", err);
			return -1;
		}
	}
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *key = NULL;

		/* A --server list on the command line replaces the file's. */
		if (ch == 's' && !cli_servers) {
			conf->nservers = 0;
			cli_servers = true;
		}

		for (const struct option *o = opts; o->name; o++)
			if (o->val == ch)
				key = o->name;
		if (ch == 'h') {
			usage(stdout);
			exit(0);
		}
		if (ch == 'V') {
			printf("twist-client %s\n", TWIST_VERSION);
			exit(0);
		}
		if (!key || ch == '?') {
			usage(stderr);
			return -1;
		}
		if (ch == 'c')
			continue;
		if (tc_conf_set(conf, key, optarg, err, sizeof(err)) < 0) {
			fprintf(stderr, "twist-client: --%s\n", err);
			return -1;
		}
	}
	if (optind < argc || tc_conf_check(conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "twist-client: %s\n", optind < argc ? "unexpected arguments" : err);
		return -1;
	}
	return 0;
}

/* HOST, HOST:PORT, [V6] or [V6]:PORT, into a. */
static int resolve_server(const char *spec, struct tw_addr *a)
{
	struct sockaddr_storage ss = {0};
	char host[TC_STR_MAX], port[8] = "3478";
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res;
	size_t hl = strlen(spec);
	int ret;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		hl = (size_t)(end - spec - 1);
		memmove(host, spec + 1, hl);
		if (end[1])
			snprintf(port, sizeof(port), "%s", end + 2);
	} else if (colon && colon == strchr(spec, ':')) {
		hl = (size_t)(colon - spec);
		memcpy(host, spec, hl);
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		memcpy(host, spec, hl);
	}
	host[hl] = '\0';
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		log_err("server %s: %s", spec, gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(&ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return tw_addr_from_sa((const struct sockaddr *)&ss, a);
}

/*
 * Every --server, in order. A server must not be behind the TUN: its own
 * flows would loop into it.
 */
static int resolve_servers(struct tc_client *c)
{
	const struct tc_conf *conf = c->conf;
	struct tw_addr addrs[TC_MAX_SERVERS];

	for (size_t i = 0; i < conf->nservers; i++) {
		if (resolve_server(conf->servers[i], &addrs[i]) < 0)
			return -EINVAL;
		if (tc_server_outside(conf, &addrs[i]) < 0) {
			log_err("server %s is inside a routed prefix: its flows would loop into "
			        "the TUN",
			        conf->servers[i]);
			return -EINVAL;
		}
	}
	tc_srv_init(&c->sel, addrs, conf->nservers);
	return 0;
}

/*
 * TWIST-CAPS in a Binding (draft §9 step 1): a server without TWIST answers
 * 420, and we stop before anything is routed into the TUN.
 */
static int probe(struct tc_client *c, const char *name)
{
	uint8_t req[128], buf[2048], tid[STUN_TID_LEN];
	struct tc_resp r;
	char a[TW_ADDR_STRLEN];
	int fd, n, ret = -ETIMEDOUT;
	uint32_t caps = c->conf->mode == TWIST_ENCAP_TUNNEL ? TC_CAPS_TUNNEL : TC_CAPS;

	fd = socket(c->server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&c->server, c->server_len) < 0 ||
	    RAND_bytes(tid, sizeof(tid)) != 1 ||
	    (n = tc_stun_binding(req, sizeof(req), tid, caps)) < 0)
		goto done;
	for (int rto = 500; rto <= 4000 && ret == -ETIMEDOUT; rto *= 2) {
		struct pollfd p = {fd, POLLIN, 0};

		send(fd, req, (size_t)n, 0);
		while (poll(&p, 1, rto) == 1) {
			ssize_t got = recv(fd, buf, sizeof(buf), 0);

			if (got > 0 && tc_stun_read(buf, (size_t)got, tid, NULL, &r) == 0) {
				ret = 0;
				break;
			}
		}
	}
done:
	if (fd >= 0)
		close(fd);
	tw_addr_fmt(&c->server_addr, a, sizeof(a));
	if (ret < 0) {
		log_err("server %s (%s): no answer to a STUN Binding", name, a);
		return ret;
	}
	if (r.cls == STUN_ERROR && r.code == 420) {
		log_err("server %s (%s) does not support TWIST: it answered 420 (%s) to TWIST-CAPS",
		        name, a, r.reason);
		return -EPROTONOSUPPORT;
	}
	if (r.cls != STUN_SUCCESS || !r.has_caps)
		log_warn("server %s (%s): no TWIST-CAPS in its Binding answer (%d); trying anyway",
		         name, a, r.code);
	else
		log_info("server %s (%s): TWIST caps 0x%x", name, a, r.caps);
	c->mode = c->conf->mode;
	/* Both TWIST-CAPS must have it (spec §9.1); transport mode still works. */
	if (c->mode == TWIST_ENCAP_TUNNEL && r.has_caps && !(r.caps & TWIST_CAP_TUNNEL)) {
		log_warn("server %s (%s) does not offer tunnel mode: using transport mode", name,
		         a);
		c->mode = TWIST_ENCAP_TRANSPORT;
	}
	return 0;
}

/*
 * The first server of the list that answers the probe is where flows
 * start; the others wait for it to fail (draft §12). One without TWIST
 * is a mistake in the settings, not an outage: we stop.
 */
static int probe_servers(struct tc_client *c)
{
	int ret = -ETIMEDOUT;

	for (size_t i = 0; i < c->sel.n; i++) {
		if (c->ops->server_set(c, &c->sel.list[i].addr) < 0)
			continue;
		ret = probe(c, c->conf->servers[i]);
		if (ret == 0)
			tc_srv_start(&c->sel, i);
		if (ret != -ETIMEDOUT)
			return ret;
	}
	return ret;
}

static int add_route(struct tc_client *c, const struct tw_cidr *r)
{
	const struct tc_conf *conf = c->conf;
	const struct tw_addr *src =
	        r->net.family == TW_AF_INET ? &conf->tun_addr4 : &conf->tun_addr6;
	char a[TW_ADDR_STRLEN];
	int ret;

	if (!src->family) {
		log_err("route %s/%u: the TUN has no address of that family",
		        tw_addr_fmt_ip(&r->net, a, sizeof(a)), r->prefix);
		return -EINVAL;
	}
	ret = tc_tun_route_add(&c->tun, r, src);
	if (ret < 0)
		log_err("route %s/%u into %s: %s", tw_addr_fmt_ip(&r->net, a, sizeof(a)), r->prefix,
		        c->tun.name, strerror(-ret));
	return ret;
}

static int tun_up(struct tc_client *c)
{
	const struct tc_conf *conf = c->conf;
	struct tw_cidr r;
	int ret = tc_tun_open(&c->tun, conf->tun);

	if (ret == -EPERM) {
		log_err("creating TUN device %s needs root or CAP_NET_ADMIN: %s", conf->tun,
		        strerror(-ret));
		return ret;
	}
	if (ret < 0 ||
	    (ret = tc_tun_setup(&c->tun, conf->mtu, &conf->tun_addr4, &conf->tun_addr6)) < 0) {
		log_err("TUN device %s: %s", conf->tun, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < conf->nroutes; i++)
		if (add_route(c, &conf->routes[i]) < 0)
			return -EINVAL;
	if (conf->xlate.nat64 && add_route(c, &conf->xlate.nat64_pfx) < 0)
		return -EINVAL;
	if (conf->nlisten && (ret = tc_tun_source_route(&c->tun, &conf->tun_addr4)) < 0) {
		log_err("a source route for %s's listen flows: %s", c->tun.name, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < conf->xlate.nmap; i++) {
		r.net = conf->xlate.map[i].local;
		r.prefix = 32;
		if (add_route(c, &r) < 0)
			return -EINVAL;
	}
	return 0;
}

static void on_tun(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tc_io_tun_drain(arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tc_client *c = arg;
	struct tc_flow *f, *next;
	uint64_t now = clock_mono_ms();

	(void)fd;
	(void)what;
	for (f = TAILQ_FIRST(&c->flows); f; f = next) {
		next = TAILQ_NEXT(f, link);
		tc_flow_tick(f, now);
	}
	for (size_t i = 0; i < c->nlisteners; i++) {
		struct tc_listener *l = &c->listeners[i];

		if (!l->armed && now >= l->retry_ms)
			tc_flow_listen(c, l);
	}
}

static const char *drop_name(enum tc_drop d)
{
	switch (d) {
	case TC_DROP_NOT_IP:
		return "not_ip";
	case TC_DROP_NOT_NEW:
		return "tcp_not_syn";
	case TC_DROP_QUEUE_FULL:
		return "queue_full";
	case TC_DROP_FLOW_FAILED:
		return "flow_failed";
	case TC_DROP_TABLE_FULL:
		return "table_full";
	case TC_DROP_SEND:
		return "send";
	case TC_DROP_BAD_SEGMENT:
		return "bad_segment";
	case TC_DROP_PEER_UNKNOWN:
		return "peer_unknown";
	case TC_DROP_STUN:
		return "stun";
	case TC_DROP_FORGED_300:
		return "forged_300";
	case TC_DROP_ESP:
		return "esp";
	case TC_DROP_MAX:
		break;
	}
	return "?";
}

/* SIGUSR1: the counters and every flow, in the log. */
static void status(struct tc_client *c)
{
	const struct tc_stats *s = &c->st;
	struct tc_flow *f;
	char a[TW_ADDR_STRLEN], b[TW_ADDR_STRLEN], r[TW_ADDR_STRLEN];

	log_info("status: server %s%s lost %" PRIu64 " reopens %" PRIu64 " server_failures %" PRIu64
	         " server_switches %" PRIu64 " redirects %" PRIu64 " icmp_probes %" PRIu64,
	         tw_addr_fmt(&c->server_addr, a, sizeof(a)), c->sel.learned ? " (from a 300)" : "",
	         s->lost, s->reopens, s->server_failures, s->server_switches, s->redirects,
	         s->icmp_probes);
	log_info("status: flows %zu (created %" PRIu64 " failed %" PRIu64 " closed %" PRIu64
	         ") packets out %" PRIu64 " in %" PRIu64 " bytes out %" PRIu64 " in %" PRIu64
	         " keepalives %" PRIu64 " refreshes %" PRIu64,
	         c->nflows, s->flows_created, s->flows_failed, s->flows_closed, s->pkts_out,
	         s->pkts_in, s->bytes_out, s->bytes_in, s->keepalives, s->refreshes);
	for (int d = 0; d < TC_DROP_MAX; d++)
		if (s->drops[d])
			log_info("status: dropped %s %" PRIu64, drop_name((enum tc_drop)d),
			         s->drops[d]);
	TAILQ_FOREACH(f, &c->flows, link)
	log_info("status: flow %u %s %s %s -> %s relayed %s", f->id,
	         f->proto == STUN_PROTO_TCP ? "tcp" : "udp", tc_state_name(f->state),
	         tw_addr_fmt(&f->map.local, a, sizeof(a)), tw_addr_fmt(&f->map.peer, b, sizeof(b)),
	         tw_addr_fmt(&f->map.relayed, r, sizeof(r)));
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct tc_client *c = arg;

	(void)what;
	if (sig == SIGUSR1) {
		status(c);
		return;
	}
	log_info("signal %d: removing %s and its routes", (int)sig, c->tun.name);
	event_base_loopexit(c->base, NULL);
}

/* On the way out, a Refresh with LIFETIME 0 for each flow (one try: we do not wait). */
static void flows_end(struct tc_client *c)
{
	struct tc_flow *f;
	uint8_t buf[512], tid[STUN_TID_LEN];
	int n;

	while ((f = TAILQ_FIRST(&c->flows))) {
		if (f->state == TC_ACTIVE && c->cred.have &&
		    c->ops->random(tid, sizeof(tid)) == 0 &&
		    (n = tc_stun_refresh(buf, sizeof(buf), tid, 0, &c->cred)) > 0)
			c->ops->send(f, buf, (size_t)n);
		tc_flow_free(f);
	}
}

static int run(struct tc_client *c)
{
	struct event *ev_tun, *ev_tick, *ev_sig[3];
	const int sigs[3] = {SIGTERM, SIGINT, SIGUSR1};
	struct timeval one = {1, 0};
	int ret = -ENOMEM;

	ev_tun = event_new(c->base, c->tun.fd, EV_READ | EV_PERSIST, on_tun, c);
	ev_tick = event_new(c->base, -1, EV_PERSIST, on_tick, c);
	for (int i = 0; i < 3; i++)
		ev_sig[i] = evsignal_new(c->base, sigs[i], on_signal, c);
	if (!ev_tun || !ev_tick || !ev_sig[0] || !ev_sig[1] || !ev_sig[2])
		goto done;
	event_add(ev_tun, NULL);
	event_add(ev_tick, &one);
	for (int i = 0; i < 3; i++)
		event_add(ev_sig[i], NULL);
	for (size_t i = 0; i < c->nlisteners; i++)
		tc_flow_listen(c, &c->listeners[i]);
	log_info("%s up: mtu %u, %zu routes", c->tun.name, c->conf->mtu, c->tun.nroutes);
	event_base_dispatch(c->base);
	ret = c->exit_code ? -EPROTO : 0;
done:
	flows_end(c);
	if (ev_tun)
		event_free(ev_tun);
	if (ev_tick)
		event_free(ev_tick);
	for (int i = 0; i < 3; i++)
		if (ev_sig[i])
			event_free(ev_sig[i]);
	return ret;
}

int main(int argc, char **argv)
{
	static struct tc_conf conf;
	static struct tc_client c;
	int ret = 1;

	tc_conf_defaults(&conf);
	if (parse_args(&conf, argc, argv) < 0)
		return 2;
	log_init("twist-client", conf.log_level, false);
	signal(SIGPIPE, SIG_IGN);
	c.conf = &conf;
	c.ops = &tc_io_ops;
	c.tun.fd = -1;
	c.cred.user = conf.user;
	c.cred.pass = conf.password;
	TAILQ_INIT(&c.flows);
	for (size_t i = 0; i < conf.nlisten; i++) {
		c.listeners[i].c = &c;
		c.listeners[i].spec = conf.listen[i];
	}
	c.nlisteners = conf.nlisten;
	if (resolve_servers(&c) < 0)
		return 1;
	if (tc_table_init(&c.table, conf.max_flows, (uint32_t)clock_mono_us()) < 0)
		return 1;
	c.base = event_base_new();
	if (!c.base || tun_up(&c) < 0 || probe_servers(&c) < 0)
		goto done;
	ret = run(&c) < 0 ? 1 : 0;
done:
	tc_tun_close(&c.tun);
	tc_table_fini(&c.table);
	if (c.base)
		event_base_free(c.base);
	return ret;
}
