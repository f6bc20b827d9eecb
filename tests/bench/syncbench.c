/*
 * syncbench: twist-syncd replication figures for docs/sync-protocol.md.
 *
 *   syncbench PATH/TO/twist-syncd [--rate N] [--seconds N] [--bulk N] [--runs N]
 *
 * Two twist-syncd on loopback, master A and backup B, each with a fake
 * relay (tests/syncd/fakerelay.c) in this process, so one clock times both
 * ends:
 *  - lag: relay A pushes N changes/s (each in its own message, as a relay
 *    under light load does) stamped with the send time; relay B timestamps
 *    each import. That is relay-to-relay lag, ipc hops included; syncd A's
 *    own ACK-based p50/p99 (its /metrics) are printed beside it.
 *  - bulk: A holds --bulk flows; B is killed (-9) and restarted with an
 *    empty table; reported are B's BulkBegin->BulkEnd time and the time
 *    from B's start until its relay has every flow and peer_synced.
 */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/syncd/fakerelay.h"
#include "tests/syncd/util.h"

static const char *bin;
static char tmp[128];
static struct fr_node nd[2];
static struct frelay fa, fb;
static struct frelay *both[] = {&fa, &fb};
static uint64_t *lag;
static size_t n_lag, cap_lag;

static void die(const char *msg)
{
	fprintf(stderr, "syncbench: %s\n", msg);
	for (int i = 0; i < 2; i++)
		if (nd[i].pid > 0)
			fr_stop(nd[i].pid, true, 2000);
	exit(1);
}

static void on_flow(struct frelay *r, const Twist__Flow *f)
{
	(void)r;
	if (f->reservation && n_lag < cap_lag)
		lag[n_lag++] = fr_now_us() - f->reservation;
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

static bool asked(void *arg)
{
	return ((struct frelay *)arg)->dump_asks > 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, unsigned p)
{
	size_t i = (n * p + 99) / 100;

	return n ? v[i ? i - 1 : 0] : 0;
}

/* One change of flow i, stamped with its send time in reservation. */
static void push_stamped(unsigned i)
{
	struct util_flow u;
	Twist__Flow *fp = &u.f;
	Twist__Local m = TWIST__LOCAL__INIT;

	util_flow_init(&u, i, false, 1, 1, 600);
	u.f.reservation = fr_now_us();
	m.n_flows = 1;
	m.flows = &fp;
	if (fr_send(&fa, &m) < 0)
		die("push to A failed");
}

static void bench_lag(unsigned rate, unsigned seconds)
{
	uint64_t start, period = 1000000 / rate, total = (uint64_t)rate * seconds;
	double s50, s99;

	cap_lag = total;
	lag = calloc(cap_lag, sizeof(*lag));
	if (!lag)
		die("out of memory");
	fb.on_flow = on_flow;
	start = fr_now_us();
	for (uint64_t k = 0; k < total; k++) {
		uint64_t due = start + k * period, now;

		while ((now = fr_now_us()) < due)
			fr_poll_us(both, 2,
			           (int64_t)(due - now)); /* sleeps: the syncds need the CPUs */
		push_stamped((unsigned)(k % 1000)); /* 1000 flows, each changed once a second */
		fr_poll(both, 2, 0);
	}
	for (int i = 0; i < 50 && n_lag < total; i++)
		fr_poll(both, 2, 10);
	fb.on_flow = NULL;
	qsort(lag, n_lag, sizeof(*lag), cmp_u64);
	s50 = fr_metric(nd[0].mport, "twist_syncd_replication_lag_p50_seconds");
	s99 = fr_metric(nd[0].mport, "twist_syncd_replication_lag_p99_seconds");
	printf("lag: %u changes/s for %u s, %zu of %llu seen at relay B\n", rate, seconds, n_lag,
	       (unsigned long long)total);
	printf("lag: relay A -> relay B   p50 %.3f ms  p99 %.3f ms  max %.3f ms\n",
	       (double)pct(lag, n_lag, 50) / 1000, (double)pct(lag, n_lag, 99) / 1000,
	       n_lag ? (double)lag[n_lag - 1] / 1000 : 0.0);
	printf("lag: syncd A (change in -> peer ACK, last 4096)  p50 %.3f ms  p99 %.3f ms\n",
	       s50 * 1000, s99 * 1000);
	free(lag);
}

/* Resident memory of a process, in KiB (0 if unknown). */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void bench_bulk(unsigned n, unsigned runs)
{
	static const char *const extra[] = {"--log-level", "warn", NULL};
	struct live_want lw = {&fb, 0};
	uint64_t t0;

	if (fr_push_range(&fa, 100000, n, false, 0) < 0)
		die("push to A failed");
	lw.n = fb.live + n;
	if (!fr_wait(both, 2, live_is, &lw, 120000))
		die("B never got the bulk flows live");
	for (unsigned r = 0; r < runs; r++) {
		double proto, tx;

		fr_stop(nd[1].pid, true, 5000);
		nd[1].pid = 0;
		fr_clear(&fb);
		fb.synced = false;
		fb.dump_asks = 0;
		t0 = fr_now_us();
		if (fr_node_start(&nd[1], &nd[0], bin, extra) <= 0)
			die("cannot restart B");
		if (!fr_wait(both, 2, asked, &fb, 10000))
			die("restarted B never spoke to its relay");
		fb.synced = false;
		if (!fr_wait(both, 2, is_synced, &fb, 30000) ||
		    !fr_wait(both, 2, live_is, &lw, 30000))
			die("restarted B never synced");
		tx = (double)(fr_now_us() - t0) / 1000;
		proto = fr_metric(nd[1].mport, "twist_syncd_resync_last_seconds") * 1000;
		printf("bulk: run %u: %zu flows  BulkBegin->BulkEnd at B %.1f ms  "
		       "B start -> relay B has all + synced %.1f ms  (B's RSS %ld MiB)\n",
		       r + 1, lw.n, proto, tx, rss_kib(nd[1].pid) / 1024);
	}
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(int argc, char **argv)
{
	static const char *const extra[] = {"--log-level", "warn", NULL};
	unsigned rate = 1000, seconds = 10, bulk = 100000, runs = 3;

	if (argc < 2) {
		fprintf(stderr, "usage: syncbench PATH/TO/twist-syncd [--rate N] [--seconds N] "
		                "[--bulk N] [--runs N]\n");
		return 2;
	}
	bin = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		unsigned v = (unsigned)strtoul(argv[i + 1], NULL, 10);

		if (!strcmp(argv[i], "--rate") && v)
			rate = v;
		else if (!strcmp(argv[i], "--seconds") && v)
			seconds = v;
		else if (!strcmp(argv[i], "--bulk") && v)
			bulk = v;
		else if (!strcmp(argv[i], "--runs") && v)
			runs = v;
		else
			die("bad arguments");
	}
	if (bulk > FR_MAX - 100000)
		die("--bulk too large");
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmp, sizeof(tmp), "/tmp/syncbench.XXXXXX");
	if (!mkdtemp(tmp) || fr_node_init(&nd[0], tmp, "a", 1, "master") < 0 ||
	    fr_node_init(&nd[1], tmp, "b", 2, "backup") < 0)
		die("set-up failed");
	if (fr_node_start(&nd[0], &nd[1], bin, extra) <= 0 ||
	    fr_node_start(&nd[1], &nd[0], bin, extra) <= 0)
		die("cannot start twist-syncd");
	if (fr_open(&fa, nd[0].dir) < 0 || fr_open(&fb, nd[1].dir) < 0)
		die("fake relays");
	if (!fr_wait(both, 2, is_synced, &fb, 10000))
		die("the pair never synced");
	printf("syncbench: twist-syncd pair on loopback, %ld CPUs\n",
	       sysconf(_SC_NPROCESSORS_ONLN));
	bench_lag(rate, seconds);
	bench_bulk(bulk, runs);
	for (int i = 0; i < 2; i++)
		fr_stop(nd[i].pid, false, 5000);
	fr_close(&fa);
	fr_close(&fb);
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
