/*
 * Integration: two twist-syncd processes on loopback, each with a fake
 * relay (fakerelay.c) on its ipc. Checks replication, deletes, sync before
 * answer, tokens without a peer, kill -9 and restart of the standby (bulk
 * resync with mark-and-sweep), a 100,000-flow bulk resync, hostile relay
 * input, and a clean SIGTERM.
 *
 *   syncd_it PATH/TO/twist-syncd
 *
 * Every check is on behaviour (what arrived, what was counted), never on how
 * long it took: the machine is shared. Durations are printed for the log;
 * tests/bench/syncbench.c measures them. Every wait is bounded by WAIT_MS, a
 * bound generous enough for an ASan build on a loaded 2-core machine; an
 * alarm stops everything after 570 s. Processes are stopped by pid only.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/syncd/fakerelay.h"
#include "tests/syncd/util.h"

#define BIG_FIRST 10000u
#define BIG_N     100000u
/* Only bounds a wait for a condition; never a verdict on speed. */
#define WAIT_MS     60000
#define BIG_WAIT_MS 180000

static const char *bin;
static char tmp[128];
static struct fr_node nd[2];
static struct frelay fa, fb;
static struct frelay *fra[] = {&fa}, *frb[] = {&fb}, *both[] = {&fa, &fb};
static uint8_t truth[FR_MAX];
static size_t truth_n;
static uint64_t t_start; /* before the first push: no flow is older */

static void alarm_cb(int sig)
{
	(void)sig;
	for (int i = 0; i < 2; i++)
		if (nd[i].pid > 0)
			kill(nd[i].pid, SIGKILL);
	(void)!write(2, "syncd_it: timed out\n", 20);
	_exit(1);
}

static void cleanup(void)
{
	for (int i = 0; i < 2; i++)
		if (nd[i].pid > 0)
			fr_stop(nd[i].pid, true, WAIT_MS);
	fr_close(&fa);
	fr_close(&fb);
	if (tmp[0])
		fr_rmtree(tmp);
}

static void show_log(const struct fr_node *n)
{
	char line[512];
	FILE *f = fopen(n->log, "r");

	if (!f)
		return;
	fprintf(stderr, "--- %s\n", n->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static void __attribute__((format(printf, 1, 2), noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	show_log(&nd[0]);
	show_log(&nd[1]);
	cleanup();
	exit(1);
}

#define CHECK(c, ...)                      \
	do {                               \
		if (!(c))                  \
			fail(__VA_ARGS__); \
	} while (0)

static void step(const char *what)
{
	printf("syncd_it: %s\n", what);
	fflush(stdout);
}

static void node_start(struct fr_node *n)
{
	static const char *const extra[] = {"--log-level", "info", NULL};

	CHECK(fr_node_start(n, &nd[n == &nd[0] ? 1 : 0], bin, extra) > 0, "cannot start %s", bin);
}

static bool is_synced(void *arg)
{
	return ((struct frelay *)arg)->synced;
}

struct live_want {
	struct frelay *r;
	size_t n;
};

static bool live_is(void *arg)
{
	struct live_want *w = arg;

	return w->r->live == w->n;
}

struct token_want {
	struct frelay *r;
	uint64_t t;
};

static bool has_token(void *arg)
{
	struct token_want *w = arg;

	return fr_has_token(w->r, w->t);
}

struct count_want {
	size_t *v;
	size_t n;
};

static bool count_ge(void *arg)
{
	struct count_want *w = arg;

	return *w->v >= w->n;
}

struct metric_want {
	uint16_t port;
	const char *name;
	double v;
};

static bool metric_is(void *arg)
{
	struct metric_want *w = arg;

	if (fr_metric(w->port, w->name) == w->v)
		return true;
	usleep(20000); /* fr_wait polls fast; /metrics needs no such rate */
	return false;
}

/* Waits (bounded) until syncd on port reports name == v; the last value or -1. */
static double metric_wait(uint16_t port, const char *name, double v)
{
	struct metric_want w = {port, name, v};

	fr_wait(both, 2, metric_is, &w, WAIT_MS);
	return fr_metric(port, name);
}

static void truth_set(unsigned first, unsigned n, bool present)
{
	for (unsigned i = first; i < first + n; i++) {
		truth_n += present && !truth[i];
		truth_n -= !present && truth[i];
		truth[i] = present;
	}
}

/*
 * r's table is exactly the truth, with the state the pushes gave it. Flows
 * are pushed with 600 s to live; what is left can be no less than 600 s
 * minus the time since the first push (and a second of rounding), however
 * slow the machine.
 */
static void check_table(const struct frelay *r, const char *who)
{
	uint64_t age_s = (fr_now_us() - t_start) / 1000000 + 1;
	uint32_t min_life = age_s < 600 ? 600 - (uint32_t)age_s : 0;

	for (unsigned i = 0; i < FR_MAX; i++) {
		const struct fr_flow *e = &r->tab[i];

		CHECK(e->present == truth[i], "%s: flow %u %s", who, i,
		      truth[i] ? "missing" : "should not be there");
		if (!e->present)
			continue;
		CHECK(e->relport == 49152 + i % 16384 && e->nperm == 1 && e->nchan == 1 &&
		              e->lifetime <= 600 && e->lifetime >= min_life && e->lifetime > 0,
		      "%s: flow %u has the wrong state (lifetime %u, want %u..600)", who, i,
		      e->lifetime, min_life);
	}
	CHECK(r->live == truth_n, "%s: %zu flows, expected %zu", who, r->live, truth_n);
}

/* Asks B's syncd for its whole table and checks it. */
static void check_b_table(const char *who)
{
	struct count_want w = {&fb.dump_ends, fb.dump_ends + 1};

	fr_clear(&fb);
	CHECK(fr_ask_dump(&fb) == 0, "cannot ask B for a dump");
	CHECK(fr_wait(frb, 1, count_ge, &w, WAIT_MS), "B never finished its dump");
	check_table(&fb, who);
}

static void setup(void)
{
	struct sigaction sa = {.sa_handler = alarm_cb};

	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm(570);
	t_start = fr_now_us();
	snprintf(tmp, sizeof(tmp), "/tmp/syncd_it.XXXXXX");
	CHECK(mkdtemp(tmp), "mkdtemp");
	CHECK(fr_node_init(&nd[0], tmp, "a", 1, "master") == 0 &&
	              fr_node_init(&nd[1], tmp, "b", 2, "backup") == 0,
	      "cannot set up the nodes (ports, directories)");
	CHECK(nd[0].port != nd[1].port && nd[0].mport != nd[1].mport && nd[0].port != nd[1].mport &&
	              nd[0].mport != nd[1].port,
	      "port clash, run again");
	node_start(&nd[0]);
	node_start(&nd[1]);
	CHECK(fr_open(&fa, nd[0].dir) == 0 && fr_open(&fb, nd[1].dir) == 0, "fake relays");
}

static void test_replication(void)
{
	struct live_want lw = {&fb, 1000};
	uint64_t t0;

	step("pair up: B becomes a synced copy of master A");
	CHECK(fr_wait(frb, 1, is_synced, &fb, WAIT_MS), "B never reported peer_synced");
	CHECK(fr_metric(nd[1].mport, "twist_syncd_peer_up") == 1, "B: session not up");
	step("replication: 1000 flows pushed into A come out of B");
	t0 = fr_now_us();
	CHECK(fr_push_range(&fa, 0, 1000, false, 0) == 0, "push to A");
	truth_set(0, 1000, true);
	CHECK(fr_wait(both, 2, live_is, &lw, WAIT_MS), "B's relay got %zu of 1000 flows", fb.live);
	printf("syncd_it: 1000 flows A -> B in %.1f ms\n", (double)(fr_now_us() - t0) / 1000);
	check_table(&fb, "B's relay after replication");
	CHECK(fa.imports == 0, "A's relay got its own flows back");

	step("deletes: 100 deletes pushed into A reach B");
	CHECK(fr_push_range(&fa, 0, 100, true, 0) == 0, "push deletes to A");
	truth_set(0, 100, false);
	lw.n = 900;
	CHECK(fr_wait(both, 2, live_is, &lw, WAIT_MS), "B's relay has %zu flows, not 900", fb.live);
	CHECK(fb.deletes == 100, "B's relay got %zu deletes", fb.deletes);
	check_table(&fb, "B's relay after deletes");
}

static void test_tokens(void)
{
	struct token_want tw = {&fa, 0x77};
	struct live_want lw = {&fb, 901};
	uint64_t t0 = fr_now_us(), rtt;

	step("sync before answer: the token comes back after B has the flow");
	CHECK(fr_push_range(&fa, 5000, 1, false, 0x77) == 0, "push token");
	truth_set(5000, 1, true);
	CHECK(fr_wait(both, 2, has_token, &tw, WAIT_MS), "token 0x77 never came back");
	rtt = fr_now_us() - t0;
	/* B's syncd acks after its relay was sent the flow; the ipc may still hold it. */
	CHECK(fr_wait(both, 2, live_is, &lw, WAIT_MS),
	      "B's relay lacks the flow of an acked token");
	CHECK(fr_metric(nd[0].mport, "twist_syncd_tokens_total{result=\"acked\"}") == 1,
	      "A: token not counted as acked");
	printf("syncd_it: token round trip (relay A -> peer ACK -> relay A) %.2f ms\n",
	       (double)rtt / 1000);
}

static void restart_b(unsigned reply_first, unsigned reply_n)
{
	struct count_want w = {&fb.dump_asks, fb.dump_asks + 1};

	fb.reply_first = reply_first;
	fb.reply_n = reply_n;
	fb.synced = false;
	node_start(&nd[1]);
	CHECK(fr_wait(frb, 1, count_ge, &w, WAIT_MS),
	      "restarted B never asked its relay for flows");
	fb.synced = false; /* only what B says after its restart counts */
}

static void test_restart(void)
{
	struct token_want tw = {&fa, 0x88};
	uint64_t t0;

	step("kill -9 B; tokens come back unreplicated once A sees B gone");
	CHECK(fr_stop(nd[1].pid, true, WAIT_MS) == 0, "kill B");
	nd[1].pid = 0;
	/* A declares the peer down after 1 s of silence: wait for it, don't time it. */
	CHECK(metric_wait(nd[0].mport, "twist_syncd_peer_up", 0) == 0, "A still thinks B is up");
	t0 = fr_now_us();
	CHECK(fr_push_range(&fa, 1000, 100, false, 0x88) == 0, "push while B is down");
	truth_set(1000, 100, true);
	CHECK(fr_wait(fra, 1, has_token, &tw, WAIT_MS), "token without a peer never came back");
	printf("syncd_it: token without a peer came back after %.1f ms\n",
	       (double)(fr_now_us() - t0) / 1000);
	CHECK(fr_metric(nd[0].mport, "twist_syncd_tokens_total{result=\"unreplicated\"}") == 1,
	      "A: unreplicated token not counted");

	step("restart B: its relay offers 10 stale flows; A's bulk restores B and sweeps them");
	restart_b(300000, 10);
	CHECK(fr_wait(frb, 1, is_synced, &fb, WAIT_MS), "restarted B never became synced");
	CHECK(fr_metric(nd[1].mport, "twist_syncd_resyncs_total{role=\"receiver\"}") == 1,
	      "B: no bulk received");
	CHECK(fr_metric(nd[1].mport, "twist_syncd_swept_total") == 10, "B: stale flows not swept");
	CHECK(fb.deletes >= 110, "B's relay was not told to delete the stale flows");
	check_b_table("B's table after restart");
}

static void test_big_bulk(void)
{
	struct live_want lw = {&fb, 0};
	uint64_t t0, tsync;
	double proto_s;

	step("100,000 flows into A, replicated live to B");
	t0 = fr_now_us();
	CHECK(fr_push_range(&fa, BIG_FIRST, BIG_N, false, 0) == 0, "push 100k to A");
	truth_set(BIG_FIRST, BIG_N, true);
	lw.n = truth_n;
	CHECK(fr_wait(both, 2, live_is, &lw, BIG_WAIT_MS), "B's relay has %zu flows of %zu",
	      fb.live, truth_n);
	printf("syncd_it: 100k flows pushed and replicated live in %.0f ms\n",
	       (double)(fr_now_us() - t0) / 1000);

	step("kill -9 B and restart it: bulk resync of the whole table");
	CHECK(fr_stop(nd[1].pid, true, WAIT_MS) == 0, "kill B");
	nd[1].pid = 0;
	fr_clear(&fb);
	t0 = fr_now_us();
	restart_b(0, 0);
	CHECK(fr_wait(frb, 1, is_synced, &fb, BIG_WAIT_MS), "B never synced after the big restart");
	tsync = fr_now_us() - t0;
	CHECK(fr_wait(frb, 1, live_is, &lw, BIG_WAIT_MS), "B's relay has %zu flows of %zu", fb.live,
	      truth_n);
	proto_s = fr_metric(nd[1].mport, "twist_syncd_resync_last_seconds");
	CHECK(fr_metric(nd[1].mport, "twist_syncd_resync_last_flows") == (double)truth_n,
	      "B: bulk size");
	/* Printed only: syncbench (tests/bench/) is where the resync time is measured. */
	printf("syncd_it: bulk resync of %zu flows: %.1f ms BulkBegin->BulkEnd at B, "
	       "%.1f ms from B's start to synced\n",
	       truth_n, proto_s * 1000, (double)tsync / 1000);
	check_table(&fb, "B's relay after the big bulk");
}

static void test_hostile_and_stop(void)
{
	static const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};

	step("hostile relay input is counted, nothing breaks");
	CHECK(fr_send_raw(&fa, garbage, sizeof(garbage)) == 0, "send garbage");
	CHECK(metric_wait(nd[0].mport,
	                  "twist_syncd_drops_total{source=\"relay\",reason=\"garbage\"}", 1) == 1,
	      "A: garbage from the relay not counted");
	CHECK(fr_metric(nd[0].mport,
	                "twist_syncd_drops_total{source=\"peer\",reason=\"garbage\"}") == 0,
	      "A: the peer sent garbage");

	step("SIGTERM: both stop cleanly");
	for (int i = 0; i < 2; i++) {
		CHECK(fr_stop(nd[i].pid, false, WAIT_MS) == 0, "node %d did not exit cleanly",
		      i + 1);
		nd[i].pid = 0;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: syncd_it PATH/TO/twist-syncd\n");
		return 2;
	}
	bin = argv[1];
	setup();
	test_replication();
	test_tokens();
	test_restart();
	test_big_bulk();
	test_hostile_and_stop();
	cleanup();
	printf("syncd_it: all passed\n");
	return 0;
}
