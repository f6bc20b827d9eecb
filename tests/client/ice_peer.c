/*
 * ice_peer: the C side of the ICE interop tests (tests/integration/
 * ice_aioice.sh, ice_libnice.sh). It offers its credentials and candidates
 * in DIR/NAME.offer, reads the peer's DIR/PEER.offer, connects, then sends
 * COUNT datagrams "ping N", answers each "ping N" with "pong N", and writes
 * DIR/NAME.done once every pong is back. It exits when both sides are done
 * (or at --timeout) and prints one "RESULT key=value..." line.
 *
 * Offer file: ufrag, pwd, one candidate line each (RFC 8839 form), "end".
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/ice/ice.h"
#include "common/clock.h"
#include "common/log.h"

#define MAX_COUNT 100000

struct peer {
	struct event_base *eb;
	struct ice_agent *a;
	struct ice_config cfg;
	const char *dir, *name, *peer_name;
	unsigned count, sent, pongs, pings_in, timeout_s, delay_ms, restart_after;
	uint8_t *got;
	/* pongs owed while the agent had no selected pair yet (-ENOTCONN): a
	 * controlling aioice sends as soon as its own check succeeds, which can
	 * be a tick before ours does */
	unsigned *owed, nowed;
	bool offered, remote_set, done;
	/* --restart: an ICE restart half-way through the stream (RFC 8445 §9),
	 * new offers in NAME.offer2; done only once a pair is selected again */
	bool do_restart, restarted, remote2_set;
	bool unreachable; /* --no-data: checks only, for RUN_S seconds */
	unsigned run_s;
	uint64_t start_ms;
	struct event *timer;
	int exit_code;
};

static void path(const struct peer *p, const char *who, const char *ext, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s.%s", p->dir, who, ext);
}

static void write_offer(struct peer *p, const char *ext)
{
	struct ice_cand c[64];
	char fn[512], tmp[520], line[ICE_CAND_STRLEN];
	const char *u, *w;
	size_t n = ice_local_candidates(p->a, c, 64);
	FILE *f;

	path(p, p->name, ext, fn, sizeof(fn));
	snprintf(tmp, sizeof(tmp), "%s.tmp", fn);
	f = fopen(tmp, "w");
	if (!f)
		fatal("cannot write %s", tmp);
	ice_local_credentials(p->a, &u, &w);
	fprintf(f, "%s\n%s\n", u, w);
	for (size_t i = 0; i < n; i++)
		if (ice_cand_fmt(&c[i], line, sizeof(line)) > 0)
			fprintf(f, "%s\n", line);
	fprintf(f, "end\n");
	fclose(f);
	rename(tmp, fn);
	log_info("ice_peer: offer %s with %zu candidates", fn, n);
}

/* Reads the peer's offer once it is complete; 1 when read. */
static int read_offer(struct peer *p, const char *ext)
{
	static struct ice_cand c[256];
	char fn[512], ufrag[300] = "", pwd[300] = "", line[600];
	size_t n = 0;
	bool end = false;
	FILE *f;

	path(p, p->peer_name, ext, fn, sizeof(fn));
	f = fopen(fn, "r");
	if (!f)
		return 0;
	if (!fgets(ufrag, sizeof(ufrag), f) || !fgets(pwd, sizeof(pwd), f)) {
		fclose(f);
		return 0;
	}
	ufrag[strcspn(ufrag, "\r\n")] = '\0';
	pwd[strcspn(pwd, "\r\n")] = '\0';
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "end") == 0) {
			end = true;
			break;
		}
		if (n < 256 && ice_cand_parse(line, &c[n]) == 0)
			n++;
		else
			log_info("ice_peer: skipped candidate '%s'", line);
	}
	fclose(f);
	if (!end)
		return 0;
	if (ice_set_remote(p->a, ufrag, pwd, c, n) < 0)
		fatal("bad remote credentials in %s", fn);
	log_info("ice_peer: remote offer %s: %zu candidates", fn, n);
	return 1;
}

static bool exists(const struct peer *p, const char *who, const char *ext)
{
	char fn[512];
	struct stat st;

	path(p, who, ext, fn, sizeof(fn));
	return stat(fn, &st) == 0;
}

static void touch(const struct peer *p, const char *ext)
{
	char fn[512];
	FILE *f;

	path(p, p->name, ext, fn, sizeof(fn));
	f = fopen(fn, "w");
	if (f)
		fclose(f);
}

static void on_data(struct ice_agent *a, uint8_t comp, const uint8_t *buf, size_t len, void *arg)
{
	struct peer *p = arg;
	char msg[64];
	unsigned n;

	if (len >= sizeof(msg))
		return;
	memcpy(msg, buf, len);
	msg[len] = '\0';
	if (sscanf(msg, "ping %u", &n) == 1) {
		p->pings_in++;
		snprintf(msg, sizeof(msg), "pong %u", n);
		if (ice_send(a, comp, msg, strlen(msg)) == -ENOTCONN && p->nowed < MAX_COUNT)
			p->owed[p->nowed++] = n;
	} else if (sscanf(msg, "pong %u", &n) == 1 && n < p->count && !p->got[n]) {
		p->got[n] = 1;
		p->pongs++;
	}
}

static void on_state(struct ice_agent *a, enum ice_state s, void *arg)
{
	(void)a;
	(void)arg;
	printf("STATE %s\n", ice_state_name(s));
	fflush(stdout);
}

static void send_some(struct peer *p)
{
	char msg[32];

	for (; p->nowed; p->nowed--) {
		snprintf(msg, sizeof(msg), "pong %u", p->owed[p->nowed - 1]);
		if (ice_send(p->a, 1, msg, strlen(msg)) < 0)
			return;
	}

	/* a few per tick: paced, so a healthy path loses none */
	for (int i = 0; i < 4 && p->sent < p->count; i++) {
		snprintf(msg, sizeof(msg), "ping %u", p->sent);
		if (ice_send(p->a, 1, msg, strlen(msg)) < 0)
			return;
		p->sent++;
	}
}

static void finish(struct peer *p, int code)
{
	const struct ice_stats *st = ice_agent_stats(p->a);
	struct ice_cand l, r;
	bool sel = ice_selected_pair(p->a, 1, &l, &r) == 0;

	printf("RESULT name=%s state=%s role=%s sent=%u pongs=%u pings_in=%u checks_sent=%llu "
	       "check_rtx=%llu checks_same_tick=%llu ticks=%llu resp_401=%llu "
	       "resp_487_sent=%llu resp_487_recv=%llu role_switches=%llu prflx_remote=%llu "
	       "consent_ok=%llu selections=%llu pairs_dropped=%llu drops=%llu checks_in=%llu "
	       "data_in=%llu "
	       "selected=%s:%s\n",
	       p->name, ice_state_name(ice_agent_state(p->a)),
	       ice_agent_controlling(p->a) ? "controlling" : "controlled", p->sent, p->pongs,
	       p->pings_in, (unsigned long long)st->checks_sent, (unsigned long long)st->check_rtx,
	       (unsigned long long)st->checks_same_tick, (unsigned long long)st->ticks,
	       (unsigned long long)st->resp_401, (unsigned long long)st->resp_487_sent,
	       (unsigned long long)st->resp_487_recv, (unsigned long long)st->role_switches,
	       (unsigned long long)st->prflx_remote, (unsigned long long)st->consent_ok,
	       (unsigned long long)st->selections, (unsigned long long)st->pairs_dropped,
	       (unsigned long long)st->drops, (unsigned long long)st->checks_in,
	       (unsigned long long)st->data_in, sel ? ice_cand_type_name(l.type) : "none",
	       sel ? ice_cand_type_name(r.type) : "none");
	fflush(stdout);
	p->exit_code = code;
	event_base_loopbreak(p->eb);
}

static void restart_step(struct peer *p)
{
	if (!p->restarted && p->sent >= p->count / 2) {
		if (ice_restart(p->a, NULL, NULL) < 0)
			fatal("ice_restart failed");
		write_offer(p, "offer2");
		p->restarted = true;
	}
	if (p->restarted && !p->remote2_set)
		p->remote2_set = read_offer(p, "offer2");
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t el = clock_mono_ms() - p->start_ms;
	enum ice_state s = ice_agent_state(p->a);
	(void)fd;
	(void)what;

	if (p->unreachable) {
		if (!p->remote_set && p->offered && el >= p->delay_ms)
			p->remote_set = read_offer(p, "offer");
		if (el >= p->run_s * 1000ull)
			finish(p, 0);
		return;
	}
	if (el >= p->timeout_s * 1000ull) {
		log_warn("ice_peer: timeout in state %s", ice_state_name(s));
		finish(p, 1);
		return;
	}
	if (!p->offered)
		return;
	if (!p->remote_set) {
		if (el >= p->delay_ms)
			p->remote_set = read_offer(p, "offer");
		return;
	}
	if (s == ICE_CONNECTED || s == ICE_COMPLETED)
		send_some(p);
	if (p->do_restart)
		restart_step(p);
	if (!p->done && p->pongs == p->count &&
	    (!p->do_restart || ice_agent_stats(p->a)->selections >= 2)) {
		p->done = true;
		touch(p, "done");
	}
	if (p->done && exists(p, p->peer_name, "done"))
		finish(p, 0);
}

static void on_gathered(struct ice_agent *a, void *arg)
{
	struct peer *p = arg;
	(void)a;

	if (!p->offered) {
		write_offer(p, "offer");
		p->offered = true;
	}
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: ice_peer --dir D --name N --peer P --role controlling|controlled\n"
	        "  [--host IP]... [--stun IP:PORT] [--turn IP:PORT --turn-user U --turn-pass W\n"
	        "  [--turn-tcp]] [--relay-only] [--count N] [--timeout S] [--tie-breaker N]\n"
	        "  [--delay-ms MS] [--no-data RUN_S] [--max-tx N] [--restart] [-v]\n");
	exit(2);
}

static void parse_args(struct peer *p, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"dir", 1, 0, 'd'},
	        {"name", 1, 0, 'n'},
	        {"peer", 1, 0, 'p'},
	        {"role", 1, 0, 'r'},
	        {"host", 1, 0, 'H'},
	        {"stun", 1, 0, 's'},
	        {"turn", 1, 0, 't'},
	        {"turn-user", 1, 0, 'u'},
	        {"turn-pass", 1, 0, 'w'},
	        {"turn-tcp", 0, 0, 'T'},
	        {"relay-only", 0, 0, 'R'},
	        {"count", 1, 0, 'c'},
	        {"timeout", 1, 0, 'o'},
	        {"tie-breaker", 1, 0, 'b'},
	        {"delay-ms", 1, 0, 'D'},
	        {"no-data", 1, 0, 'U'},
	        {"max-tx", 1, 0, 'm'},
	        {"restart", 0, 0, 'X'},
	        {0, 0, 0, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			p->dir = optarg;
			break;
		case 'n':
			p->name = optarg;
			break;
		case 'p':
			p->peer_name = optarg;
			break;
		case 'r':
			p->cfg.controlling = strcmp(optarg, "controlling") == 0;
			break;
		case 'H':
			if (p->cfg.nhost == ICE_MAX_HOST_ADDRS ||
			    tw_addr_parse_ip(optarg, &p->cfg.host[p->cfg.nhost++]) < 0)
				usage();
			break;
		case 's':
			if (tw_addr_parse(optarg, 3478, &p->cfg.stun_server) < 0)
				usage();
			break;
		case 't':
			if (tw_addr_parse(optarg, 3478, &p->cfg.turn_server) < 0)
				usage();
			break;
		case 'u':
			p->cfg.turn_user = optarg;
			break;
		case 'w':
			p->cfg.turn_pass = optarg;
			break;
		case 'T':
			p->cfg.turn_transport = ICE_TURN_TCP;
			break;
		case 'R':
			p->cfg.relay_only = true;
			break;
		case 'c':
			p->count = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			p->timeout_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			p->cfg.tie_breaker = strtoull(optarg, NULL, 10);
			break;
		case 'D':
			p->delay_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'U':
			p->unreachable = true;
			p->run_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			p->cfg.check_max_tx = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'X':
			p->do_restart = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		default:
			usage();
		}
	}
	if (!p->dir || !p->name || !p->peer_name || p->count > MAX_COUNT)
		usage();
}

int main(int argc, char **argv)
{
	struct peer p = {.count = 1000, .timeout_s = 60, .exit_code = 1};
	struct timeval tv = {0, 10000};

	log_init("ice_peer", LOG_LVL_INFO, false);
	parse_args(&p, argc, argv);
	p.got = calloc(p.count ? p.count : 1, 1);
	p.owed = calloc(MAX_COUNT, sizeof(*p.owed));
	p.cfg.on_state = on_state;
	p.cfg.on_data = on_data;
	p.cfg.on_gathered = on_gathered;
	p.cfg.arg = &p;
	p.eb = event_base_new();
	p.a = p.eb ? ice_agent_new(p.eb, &p.cfg) : NULL;
	if (!p.a)
		fatal("cannot create the agent");
	p.start_ms = clock_mono_ms();
	p.timer = event_new(p.eb, -1, EV_PERSIST, on_timer, &p);
	event_add(p.timer, &tv);
	if (ice_gather(p.a) < 0)
		fatal("gathering failed");
	event_base_dispatch(p.eb);
	event_free(p.timer);
	ice_agent_free(p.a);
	event_base_free(p.eb);
	free(p.got);
	free(p.owed);
	return p.exit_code;
}
