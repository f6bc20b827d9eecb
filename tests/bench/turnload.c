/*
 * turnload: TURN load generator for twist's benchmarks. Options, the run's
 * phases (set-up, load, delete) and the report. See turnload.h for the
 * layout and docs/benchmarks.md for how the numbers are used.
 *
 * Output: one "turnload key=value ..." line on stdout, a human summary on
 * stderr (unless --quiet). Exit 0 when the run worked (loss is a number,
 * not a failure), 1 when it did not (no allocation, nothing delivered),
 * 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/bench/turnload.h"

static volatile sig_atomic_t stop_requested;

struct snap {
	uint64_t t;
	double relay_cpu, self_cpu;
	uint64_t relayed;
	uint64_t kd_mine, kd_all;
	bool have_cpu, have_kd;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: turnload [options]               load through a TURN relay\n"
	        "       turnload --setup [options]       time authenticated set-up\n"
	        "       turnload --bare [--raw] [options] load through barefwd\n"
	        "       turnload --peer-only --peer ADDR [--sink] [-d S]\n"
	        "\n"
	        "  -s, --server ADDR:PORT  relay or barefwd (default 127.0.0.1:3478)\n"
	        "  -p, --peer ADDR:PORT    peer; built in unless --external-peer\n"
	        "                          (default 127.0.0.1:0, any port)\n"
	        "      --external-peer     the peer at --peer is another process\n"
	        "      --sink              the peer drops instead of echoing (one way)\n"
	        "  -n, --allocs N          sessions, one UDP socket each (default 16)\n"
	        "  -r, --rate PPS          offered packets/s, all sessions (default 10000)\n"
	        "  -l, --size BYTES        payload size, %d..%d (default 100)\n"
	        "  -d, --duration S        measured seconds (default 10, at most %d)\n"
	        "      --warmup S          load before measuring (default 1)\n"
	        "      --drain S           wait for late packets (default 0.5)\n"
	        "      --send              Send/Data indications instead of channels\n"
	        "      --bare              no TURN: ChannelData framing to barefwd\n"
	        "      --raw               with --bare: plain datagrams\n"
	        "      --setup             N x (Allocate with its 401, CreatePermission,\n"
	        "                          ChannelBind), timed; then deleted\n"
	        "  -w, --window N          sessions setting up at once (default 64)\n"
	        "      --setup-timeout S   give up on set-up after S (default 60)\n"
	        "      --lifetime S        requested LIFETIME (default 600)\n"
	        "      --refresh S         refresh every S (default lifetime/2, <= 120)\n"
	        "  -u, --user NAME         (default demo)\n"
	        "  -k, --password PASS     (default demo)\n"
	        "      --pid PID           relay process: CPU per relayed packet\n"
	        "      --label TEXT        copied into the result line\n"
	        "  -q, --quiet             only the result line\n",
	        TL_SIZE_MIN, TL_SIZE_MAX, TL_MAX_RUN_S);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_alarm(int sig)
{
	static const char msg[] = "turnload: hard time limit reached, exiting\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(3);
}

/*
 * Loopback, or the documentation ranges (RFC 5737) that only a lab of
 * network namespaces routes (tests/bench/fastpath.sh): this tool must never
 * load anything beyond this host.
 */
static bool addr_allowed(const struct tw_addr *a)
{
	static const uint8_t doc[3][3] = {{192, 0, 2}, {198, 51, 100}, {203, 0, 113}};

	if (a->family != TW_AF_INET)
		return false;
	if (a->ip[0] == 127)
		return true;
	for (unsigned i = 0; i < 3; i++)
		if (memcmp(a->ip, doc[i], 3) == 0)
			return true;
	return false;
}

static int parse_addr(const char *s, uint16_t defport, struct sockaddr_in *out)
{
	struct tw_addr a;

	if (tw_addr_parse(s, defport, &a) < 0 || !addr_allowed(&a)) {
		fprintf(stderr,
		        "turnload: '%s': want an IPv4 loopback address (127.x.y.z[:port]) or "
		        "one of 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (a namespace lab)\n",
		        s);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons(a.port);
	memcpy(&out->sin_addr, a.ip, 4);
	return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "turnload: '%s' must be a number in %g..%g\n", s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

enum {
	OPT_EXTERNAL = 256,
	OPT_SINK,
	OPT_PEER_ONLY,
	OPT_WARMUP,
	OPT_DRAIN,
	OPT_SEND,
	OPT_BARE,
	OPT_RAW,
	OPT_SETUP,
	OPT_SETUP_TIMEOUT,
	OPT_LIFETIME,
	OPT_REFRESH,
	OPT_PID,
	OPT_LABEL,
};

static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"peer", required_argument, NULL, 'p'},
        {"external-peer", no_argument, NULL, OPT_EXTERNAL},
        {"sink", no_argument, NULL, OPT_SINK},
        {"peer-only", no_argument, NULL, OPT_PEER_ONLY},
        {"allocs", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"size", required_argument, NULL, 'l'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"send", no_argument, NULL, OPT_SEND},
        {"bare", no_argument, NULL, OPT_BARE},
        {"raw", no_argument, NULL, OPT_RAW},
        {"setup", no_argument, NULL, OPT_SETUP},
        {"window", required_argument, NULL, 'w'},
        {"setup-timeout", required_argument, NULL, OPT_SETUP_TIMEOUT},
        {"lifetime", required_argument, NULL, OPT_LIFETIME},
        {"refresh", required_argument, NULL, OPT_REFRESH},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'k'},
        {"pid", required_argument, NULL, OPT_PID},
        {"label", required_argument, NULL, OPT_LABEL},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

static int parse_opts(int argc, char **argv, struct tl_opts *o)
{
	bool bare = false, raw = false, send_ind = false;
	double v;
	int c, rc = 0;

	*o = (struct tl_opts){
	        .mode = TL_MODE_LOAD,
	        .data = TL_DATA_CHANNEL,
	        .builtin_peer = true,
	        .echo = true,
	        .user = "demo",
	        .pass = "demo",
	        .allocs = 16,
	        .window = 64,
	        .rate = 10000,
	        .size = 100,
	        .warmup = 1,
	        .duration = 10,
	        .drain = 0.5,
	        .setup_timeout = 60,
	        .lifetime = 600,
	        .label = "-",
	};
	(void)parse_addr("127.0.0.1:3478", 3478, &o->server);
	(void)parse_addr("127.0.0.1:0", 0, &o->peer);
	while (rc == 0 &&
	       (c = getopt_long(argc, argv, "s:p:n:r:l:d:w:u:k:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			rc = parse_addr(optarg, 3478, &o->server);
			break;
		case 'p':
			rc = parse_addr(optarg, 0, &o->peer);
			break;
		case OPT_EXTERNAL:
			o->builtin_peer = false;
			break;
		case OPT_SINK:
			o->echo = false;
			break;
		case OPT_PEER_ONLY:
			o->mode = TL_MODE_PEER;
			break;
		case 'n':
			if ((rc = parse_num(optarg, 1, TL_MAX_SESS, &v)) == 0)
				o->allocs = (unsigned)v;
			break;
		case 'r':
			rc = parse_num(optarg, 1, 1e8, &o->rate);
			break;
		case 'l':
			if ((rc = parse_num(optarg, TL_SIZE_MIN, TL_SIZE_MAX, &v)) == 0)
				o->size = (unsigned)v;
			break;
		case 'd':
			rc = parse_num(optarg, 0.1, TL_MAX_RUN_S, &o->duration);
			break;
		case OPT_WARMUP:
			rc = parse_num(optarg, 0, 60, &o->warmup);
			break;
		case OPT_DRAIN:
			rc = parse_num(optarg, 0, 10, &o->drain);
			break;
		case OPT_SEND:
			send_ind = true;
			break;
		case OPT_BARE:
			bare = true;
			break;
		case OPT_RAW:
			raw = true;
			break;
		case OPT_SETUP:
			o->mode = TL_MODE_SETUP;
			break;
		case 'w':
			if ((rc = parse_num(optarg, 1, TL_MAX_SESS, &v)) == 0)
				o->window = (unsigned)v;
			break;
		case OPT_SETUP_TIMEOUT:
			rc = parse_num(optarg, 1, 600, &o->setup_timeout);
			break;
		case OPT_LIFETIME:
			if ((rc = parse_num(optarg, 0, 86400, &v)) == 0)
				o->lifetime = (unsigned)v;
			break;
		case OPT_REFRESH:
			if ((rc = parse_num(optarg, 1, 3600, &v)) == 0)
				o->refresh = (unsigned)v;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'k':
			o->pass = optarg;
			break;
		case OPT_PID:
			if ((rc = parse_num(optarg, 1, 1 << 30, &v)) == 0)
				o->pid = (pid_t)v;
			break;
		case OPT_LABEL:
			o->label = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			rc = -EINVAL;
			break;
		}
	}
	if (rc == 0 && optind != argc) {
		fprintf(stderr, "turnload: unexpected argument '%s'\n", argv[optind]);
		rc = -EINVAL;
	}
	if (rc == 0 && (raw && !bare)) {
		fprintf(stderr, "turnload: --raw needs --bare\n");
		rc = -EINVAL;
	}
	if (rc == 0 && bare && (send_ind || o->mode == TL_MODE_SETUP)) {
		fprintf(stderr, "turnload: --bare has no TURN: no --send, no --setup\n");
		rc = -EINVAL;
	}
	if (rc == 0 && o->mode == TL_MODE_PEER && o->peer.sin_port == 0) {
		fprintf(stderr, "turnload: --peer-only needs --peer ADDR:PORT\n");
		rc = -EINVAL;
	}
	if (rc == 0 && !o->builtin_peer && o->peer.sin_port == 0) {
		fprintf(stderr, "turnload: --external-peer needs --peer ADDR:PORT\n");
		rc = -EINVAL;
	}
	if (bare)
		o->data = raw ? TL_DATA_RAW : TL_DATA_BARE;
	else if (send_ind)
		o->data = TL_DATA_SEND;
	if (rc < 0)
		usage(stderr);
	return rc;
}

static const char *data_name(enum tl_data d)
{
	switch (d) {
	case TL_DATA_CHANNEL:
		return "channel";
	case TL_DATA_SEND:
		return "send";
	case TL_DATA_BARE:
		return "bare";
	case TL_DATA_RAW:
		return "bare-raw";
	}
	return "?";
}

#define KD_SPLIT_MAX 1024

static bool kd_split(const struct tl_run *r)
{
	return r->o.allocs <= KD_SPLIT_MAX;
}

static void snap_take(struct tl_run *r, struct snap *s)
{
	s->t = tl_now_ns();
	s->have_cpu = r->o.pid > 0 && tl_proc_cpu(r->o.pid, &s->relay_cpu) == 0;
	if (tl_self_cpu(&s->self_cpu) < 0)
		s->self_cpu = 0;
	/* An external peer's count is unknown: each echo it sent back was
	 * relayed twice, a lower bound. */
	s->relayed = r->o.builtin_peer ? r->rx + r->peer_rx : 2 * r->rx;
	/*
	 * Splitting drops into ours and the server's walks /proc/net/udp, every
	 * UDP socket on the host: with thousands that stalls this one thread
	 * for up to seconds at the edge of the window, and the stall shows up
	 * as latency. Above KD_SPLIT_MAX sessions only the total is read. The
	 * set-up report has no drop counts at all.
	 */
	s->have_kd = r->o.mode != TL_MODE_SETUP &&
	             tl_udp_drops(kd_split(r) ? r->ports : NULL, &s->kd_mine, &s->kd_all) == 0;
}

static int run_init(struct tl_run *r)
{
	struct rlimit rl;

	r->peer_fd = -1;
	/* One socket per session, plus the peer and epoll. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0)
		return -errno;
	if (r->o.builtin_peer || r->o.mode == TL_MODE_PEER) {
		int rc = tl_peer_open(r);

		if (rc < 0) {
			fprintf(stderr, "turnload: peer socket on port %u: %s\n",
			        ntohs(r->o.peer.sin_port), strerror(-rc));
			return rc;
		}
	}
	r->peer_tw = (struct tw_addr){.family = TW_AF_INET, .port = ntohs(r->o.peer.sin_port)};
	memcpy(r->peer_tw.ip, &r->o.peer.sin_addr, 4);
	return 0;
}

static int sessions_open(struct tl_run *r)
{
	int rc;

	r->nsess = 0;
	r->sess = calloc(r->o.allocs, sizeof(*r->sess));
	if (!r->sess)
		return -ENOMEM;
	for (unsigned i = 0; i < r->o.allocs; i++) {
		struct tl_sess *s = &r->sess[i];

		s->idx = i;
		rc = tl_sess_open(r, s);
		if (rc < 0) {
			fprintf(stderr, "turnload: socket for session %u: %s\n", i, strerror(-rc));
			return rc;
		}
		r->nsess++;
	}
	return 0;
}

/* Starts sessions, at most window at once, until all are ready or failed. */
static void phase_setup(struct tl_run *r)
{
	uint64_t deadline = tl_now_ns() + tl_ns(r->o.setup_timeout), last = 0;
	unsigned next = 0;

	if (!tl_data_is_turn(r) && r->o.mode == TL_MODE_LOAD) {
		for (unsigned i = 0; i < r->nsess; i++) {
			r->sess[i].state = TL_ST_READY;
			tl_data_prepare(r, &r->sess[i]);
			r->sess[i].data_ok = true;
		}
		r->ready = r->nsess;
		r->setup_ok = r->nsess;
		return;
	}
	while (!stop_requested) {
		uint64_t now;

		while (next < r->nsess && r->pending < r->o.window)
			tl_sess_start(r, &r->sess[next++]);
		if (next == r->nsess && r->pending == 0)
			break;
		now = tl_now_ns();
		if (now > deadline) {
			fprintf(stderr, "turnload: set-up timed out with %u sessions pending\n",
			        r->pending + (r->nsess - next));
			break;
		}
		if (tl_loop_once(r, 2) < 0)
			break;
		if (now - last >= 2000000) {
			tl_sess_timers(r, now);
			last = now;
		}
	}
}

static void phase_load(struct tl_run *r, struct snap *s0, struct snap *s1)
{
	uint64_t last = 0;

	r->t_start = tl_now_ns();
	r->t_meas = r->t_start + tl_ns(r->o.warmup);
	r->t_stop = r->t_meas + tl_ns(r->o.duration);
	r->t_end = r->t_stop + tl_ns(r->o.drain);
	while (!stop_requested) {
		uint64_t now = tl_now_ns(), next;
		int timeout = 1;

		if (!r->measuring && now >= r->t_meas) {
			snap_take(r, s0);
			r->measuring = true;
		}
		if (now >= r->t_end)
			break;
		tl_load_send(r, now);
		/* Sleep until the next packet is due, but at least 1 ms: a
		 * spinning generator would steal the relay's CPU. */
		if (now < r->t_stop) {
			next = r->t_start + (uint64_t)((double)(r->sched + 1) / r->o.rate * 1e9);
			if (next > now + 1000000)
				timeout = (int)((next - now) / 1000000);
		} else {
			timeout = (int)((r->t_end - now) / 1000000) + 1;
		}
		if (timeout > 100)
			timeout = 100;
		if (tl_loop_once(r, timeout) < 0)
			break;
		if (now - last >= 10000000) {
			tl_sess_timers(r, now);
			last = now;
		}
	}
	if (!r->measuring)
		snap_take(r, s0);
	snap_take(r, s1);
}

/* Refresh with LIFETIME 0 for every allocation; at most 3 s. */
static void phase_delete(struct tl_run *r)
{
	uint64_t deadline = tl_now_ns() + 3000000000ull, last = 0;
	unsigned busy;

	if (!tl_data_is_turn(r))
		return;
	for (unsigned i = 0; i < r->nsess; i++)
		tl_sess_delete(r, &r->sess[i]);
	do {
		uint64_t now = tl_now_ns();

		busy = 0;
		for (unsigned i = 0; i < r->nsess; i++)
			busy += r->sess[i].state == TL_ST_DELETE;
		if (busy == 0 || now > deadline)
			break;
		(void)tl_loop_once(r, 5);
		if (now - last >= 5000000) {
			tl_sess_timers(r, now);
			last = now;
		}
	} while (!stop_requested);
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static int report_load(struct tl_run *r, const struct snap *s0, const struct snap *s1)
{
	const struct tl_opts *o = &r->o;
	uint64_t delivered = o->echo ? r->rx_m : r->peer_rx_m;
	uint64_t relayed = s1->relayed - s0->relayed;
	double cpu = s0->have_cpu && s1->have_cpu ? s1->relay_cpu - s0->relay_cpu : -1;
	double gen = s1->self_cpu - s0->self_cpu;
	double wall = (double)(s1->t - s0->t) / 1e9;
	double loss = 1 - ratio((double)delivered, (double)r->sent_m);
	double loss_up = o->builtin_peer ? 1 - ratio((double)r->peer_rx_m, (double)r->sent_m) : -1;
	uint64_t kd_mine = s1->kd_mine - s0->kd_mine;
	uint64_t kd_other = s1->kd_all - s0->kd_all;
	/* Not split: every drop is in kdrops_other and kdrops_tool is -1. */
	long long kd_tool = kd_split(r) ? (long long)kd_mine : -1;
	int rc = 0;

	if (r->sent_m == 0 || delivered == 0)
		rc = 1;
	if (r->setup_ok < o->allocs || r->failed > 0)
		rc = 1;
	kd_other = kd_other > kd_mine ? kd_other - kd_mine : 0;
	printf("turnload label=%s mode=load data=%s echo=%d allocs=%u ready=%u failed=%u size=%u "
	       "target_pps=%.0f duration_s=%.3f sent=%llu offered_pps=%.0f peer_rx=%llu rx=%llu "
	       "delivered_pps=%.0f loss=%.6f loss_up=%.6f unsent=%llu send_err=%llu "
	       "rtt_p50_us=%.1f rtt_p99_us=%.1f rtt_max_us=%.1f owd_p50_us=%.1f owd_p99_us=%.1f "
	       "owd_max_us=%.1f relayed=%llu relay_cpu_s=%.3f relayed_per_cpu_s=%.0f "
	       "cpu_s_per_mpkt=%.4f gen_cpu_s=%.3f gen_cpu_frac=%.3f kdrops_tool=%lld "
	       "kdrops_other=%llu misrouted=%llu junk=%llu refresh_ok=%llu refresh_fail=%llu "
	       "retx=%llu reopens=%llu exit=%d\n",
	       o->label, data_name(o->data), o->echo, o->allocs, r->setup_ok, r->failed, o->size,
	       o->rate, o->duration, (unsigned long long)r->sent_m, (double)r->sent_m / o->duration,
	       (unsigned long long)r->peer_rx_m, (unsigned long long)r->rx_m,
	       (double)delivered / o->duration, loss, loss_up, (unsigned long long)r->behind,
	       (unsigned long long)r->send_err, us(tl_hist_pct(&r->rtt, 50)),
	       us(tl_hist_pct(&r->rtt, 99)), us(r->rtt.max), us(tl_hist_pct(&r->owd, 50)),
	       us(tl_hist_pct(&r->owd, 99)), us(r->owd.max), (unsigned long long)relayed, cpu,
	       cpu > 0 ? (double)relayed / cpu : 0, relayed ? cpu / (double)relayed * 1e6 : 0, gen,
	       ratio(gen, wall), kd_tool, (unsigned long long)kd_other,
	       (unsigned long long)r->misrouted, (unsigned long long)r->junk,
	       (unsigned long long)r->refresh_ok, (unsigned long long)r->refresh_fail,
	       (unsigned long long)r->txn_retx, (unsigned long long)r->reopens, rc);
	fflush(stdout);
	if (o->quiet)
		return rc;
	fprintf(stderr,
	        "\n%s via %s:%u, %u sessions (%u ready, %u failed), %u-byte payloads\n"
	        "  offered   %10.0f pkt/s (target %.0f; %llu unsent, %llu send errors)\n"
	        "  delivered %10.0f pkt/s %s, loss %.4f%% (to the peer: %.4f%%; -100: unknown)\n",
	        data_name(o->data), inet_ntoa(o->server.sin_addr), ntohs(o->server.sin_port),
	        o->allocs, r->setup_ok, r->failed, o->size, (double)r->sent_m / o->duration,
	        o->rate, (unsigned long long)r->behind, (unsigned long long)r->send_err,
	        (double)delivered / o->duration, o->echo ? "back at the clients" : "at the peer",
	        loss * 100, loss_up * 100);
	if (o->echo)
		fprintf(stderr, "  round trip p50 %.1f us, p99 %.1f us, max %.1f us\n",
		        us(tl_hist_pct(&r->rtt, 50)), us(tl_hist_pct(&r->rtt, 99)), us(r->rtt.max));
	if (o->builtin_peer)
		fprintf(stderr, "  one way    p50 %.1f us, p99 %.1f us, max %.1f us\n",
		        us(tl_hist_pct(&r->owd, 50)), us(tl_hist_pct(&r->owd, 99)), us(r->owd.max));
	if (cpu >= 0)
		fprintf(stderr,
		        "  relay pid %d: %.3f CPU s for %llu relayed packets = %.0f pkt per "
		        "CPU-second (%.3f CPU s per million)\n",
		        (int)o->pid, cpu, (unsigned long long)relayed,
		        cpu > 0 ? (double)relayed / cpu : 0,
		        relayed ? cpu / (double)relayed * 1e6 : 0);
	fprintf(stderr, "  turnload itself: %.3f CPU s (%.0f%% of one core)\n", gen,
	        100 * ratio(gen, wall));
	if (kd_mine || kd_other)
		fprintf(stderr, "  kernel UDP drops: %llu on turnload's sockets, %llu elsewhere\n",
		        (unsigned long long)kd_mine, (unsigned long long)kd_other);
	if (r->misrouted)
		fprintf(stderr, "  %llu packets came back to the wrong session\n",
		        (unsigned long long)r->misrouted);
	return rc;
}

static int report_setup(struct tl_run *r, const struct snap *s0, const struct snap *s1)
{
	const struct tl_opts *o = &r->o;
	double wall = (double)(s1->t - s0->t) / 1e9;
	double cpu = s0->have_cpu && s1->have_cpu ? s1->relay_cpu - s0->relay_cpu : -1;
	uint64_t txns = r->txn_ok + r->txn_401 + r->txn_438;
	int rc = r->setup_ok == o->allocs ? 0 : 1;

	printf("turnload label=%s mode=setup allocs=%u window=%u ok=%u failed=%u elapsed_s=%.3f "
	       "setups_per_s=%.1f txn_per_s=%.1f setup_p50_ms=%.3f setup_p99_ms=%.3f "
	       "setup_max_ms=%.3f relay_cpu_s=%.3f cpu_ms_per_setup=%.4f retx=%llu "
	       "timeouts=%llu last_err=%d exit=%d\n",
	       o->label, o->allocs, o->window, r->setup_ok, r->failed, wall,
	       ratio(r->setup_ok, wall), ratio((double)txns, wall),
	       us(tl_hist_pct(&r->setup, 50)) / 1000, us(tl_hist_pct(&r->setup, 99)) / 1000,
	       us(r->setup.max) / 1000, cpu, r->setup_ok && cpu >= 0 ? cpu * 1000 / r->setup_ok : 0,
	       (unsigned long long)r->txn_retx, (unsigned long long)r->txn_timeout, r->last_err,
	       rc);
	fflush(stdout);
	if (!o->quiet)
		fprintf(stderr,
		        "\nset-up via %s:%u: %u of %u sessions in %.3f s = %.1f per second\n"
		        "  (each: Allocate, 401, Allocate, CreatePermission, ChannelBind;\n"
		        "   %.1f transactions per second, %u at once)\n"
		        "  per session p50 %.2f ms, p99 %.2f ms; %llu retransmissions\n",
		        inet_ntoa(o->server.sin_addr), ntohs(o->server.sin_port), r->setup_ok,
		        o->allocs, wall, ratio(r->setup_ok, wall), ratio((double)txns, wall),
		        o->window, us(tl_hist_pct(&r->setup, 50)) / 1000,
		        us(tl_hist_pct(&r->setup, 99)) / 1000, (unsigned long long)r->txn_retx);
	return rc;
}

static int run_peer(struct tl_run *r)
{
	uint64_t end = tl_now_ns() + tl_ns(r->o.duration);

	if (!r->o.quiet)
		fprintf(stderr, "turnload: %s peer on %s:%u for %.0f s\n",
		        r->o.echo ? "echo" : "sink", inet_ntoa(r->o.peer.sin_addr),
		        ntohs(r->o.peer.sin_port), r->o.duration);
	while (!stop_requested && tl_now_ns() < end)
		if (tl_loop_once(r, 100) < 0)
			break;
	printf("turnload label=%s mode=peer echo=%d rx=%llu tx_err=%llu junk=%llu exit=0\n",
	       r->o.label, r->o.echo, (unsigned long long)r->peer_rx,
	       (unsigned long long)r->peer_tx_err, (unsigned long long)r->junk);
	return 0;
}

int main(int argc, char **argv)
{
	static struct tl_run run;
	struct tl_run *r = &run;
	struct sigaction sa = {.sa_handler = on_signal};
	struct snap s0 = {0}, s1 = {0};
	double limit;
	int rc;

	if (parse_opts(argc, argv, &r->o) < 0)
		return 2;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	/* Every run ends by itself, whatever the server does. */
	limit = r->o.setup_timeout + r->o.warmup + r->o.duration + r->o.drain + 30;
	alarm((unsigned)limit);

	if (run_init(r) < 0)
		return 1;
	if (r->o.mode == TL_MODE_PEER)
		return run_peer(r);
	if (sessions_open(r) < 0)
		return 1;

	if (r->o.mode == TL_MODE_SETUP) {
		snap_take(r, &s0);
		phase_setup(r);
		snap_take(r, &s1);
		phase_delete(r);
		return report_setup(r, &s0, &s1);
	}
	phase_setup(r);
	if (r->setup_ok == 0) {
		fprintf(stderr, "turnload: no session could be set up (last error %d)\n",
		        r->last_err);
		rc = report_load(r, &s0, &s0);
		return rc ? rc : 1;
	}
	phase_load(r, &s0, &s1);
	phase_delete(r);
	return report_load(r, &s0, &s1);
}
