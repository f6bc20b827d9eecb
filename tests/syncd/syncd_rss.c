/*
 * Integration (issue 8): a 1 MiB hostile protobuf message, 1 MiB of empty
 * repeated Flows, sent three times to a real twist-syncd over the peer link
 * (nanomsg PAIR over tcp on loopback, as the peer node) and three times over
 * the relay's ipc. Each must be counted as drops_total{reason="budget"} and
 * must raise syncd's peak resident memory (VmHWM) by less than 8 MiB. Before
 * the byte budget (proto/flow.h) protobuf-c built ~110 MiB for each.
 *
 *   syncd_rss PATH/TO/twist-syncd
 *
 * Memory, not time, is asserted; every wait is bounded and an alarm ends
 * everything after 60 s. Under ASan, freed memory sits in a quarantine
 * (256 MiB by default), so three refusals would look like three times the
 * cost: syncd runs with quarantine_size_mb=0 appended to ASAN_OPTIONS.
 * The process is stopped by its pid only.
 */
#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/syncd/fakerelay.h"
#include "tests/syncd/util.h"

#define SENDS     3
#define LIMIT_KIB (8 * 1024)

static struct fr_node a, b; /* a runs; b is us, the peer */
static struct frelay fr;
static int pair = -1;
static char tmp[64];
static int failed;

static void alarm_cb(int sig)
{
	(void)sig;
	if (a.pid > 0)
		kill(a.pid, SIGKILL);
	(void)!write(2, "syncd_rss: timed out\n", 21);
	_exit(1);
}

static void show_log(void)
{
	char line[512];
	FILE *f = fopen(a.log, "r");

	if (!f)
		return;
	fprintf(stderr, "--- %s\n", a.log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fclose(f);
}

static void cleanup(void)
{
	if (a.pid > 0 && fr_stop(a.pid, false, 5000) != 0) {
		fprintf(stderr, "FAIL: twist-syncd did not exit cleanly\n");
		failed = 1;
	}
	a.pid = 0;
	if (pair >= 0)
		nn_close(pair);
	fr_close(&fr);
	if (failed)
		show_log();
	if (tmp[0])
		fr_rmtree(tmp);
}

static void __attribute__((noreturn)) fail(const char *what)
{
	fprintf(stderr, "FAIL: %s\n", what);
	failed = 1;
	cleanup();
	exit(1);
}

/* A field of /proc/PID/status in KiB, or -1. */
static long status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static bool metric_is(const char *name, double want, int timeout_ms)
{
	uint64_t end = fr_now_us() + (uint64_t)timeout_ms * 1000;

	do {
		if (fr_metric(a.mport, name) == want)
			return true;
		usleep(20000);
	} while (fr_now_us() < end);
	return false;
}

static int pair_send(const void *m, size_t len)
{
	uint64_t end = fr_now_us() + 5000000;

	while (nn_send(pair, m, len, NN_DONTWAIT) < 0) {
		if (nn_errno() != EAGAIN || fr_now_us() > end)
			return -1;
		usleep(10000);
	}
	return 0;
}

/* Resets VmHWM to the current RSS (Linux 4.0, "5" > clear_refs), so each side is measured alone. */
static void hwm_reset(pid_t pid)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	if (!(f = fopen(path, "w")) || fputs("5", f) < 0 || fclose(f) != 0)
		fail("cannot reset VmHWM through /proc/PID/clear_refs");
}

/* Sends m SENDS times through send, waits for the count, checks VmHWM. */
static void attack(const char *side, int (*send)(const void *, size_t), const uint8_t *m,
                   size_t len, const char *counter)
{
	long hwm0, rss0, hwm, rss;
	char what[160];

	hwm_reset(a.pid);
	hwm0 = status_kib(a.pid, "VmHWM");
	rss0 = status_kib(a.pid, "VmRSS");
	if (hwm0 < 0 || rss0 < 0)
		fail("cannot read /proc/PID/status");
	for (int i = 0; i < SENDS; i++) {
		if (send(m, len) < 0)
			fail("send");
		snprintf(what, sizeof(what), "%s: message %d was not counted as budget", side,
		         i + 1);
		if (!metric_is(counter, i + 1, 10000))
			fail(what);
	}
	hwm = status_kib(a.pid, "VmHWM");
	rss = status_kib(a.pid, "VmRSS");
	printf("syncd_rss: %s: %d x %zu bytes: VmHWM %ld -> %ld KiB (+%ld), VmRSS %ld -> %ld "
	       "KiB\n",
	       side, SENDS, len, hwm0, hwm, hwm - hwm0, rss0, rss);
	fflush(stdout);
	snprintf(what, sizeof(what), "%s: VmHWM rose by %ld KiB (limit %d KiB)", side, hwm - hwm0,
	         LIMIT_KIB);
	if (hwm - hwm0 >= LIMIT_KIB)
		fail(what);
}

/*
 * nanomsg may lose what is sent while its connection comes up: send junk
 * until syncd counts some, so that the link is known to carry messages.
 */
static void peer_link_up(void)
{
	static const uint8_t junk[] = {0xff, 0xff};
	const char *name = "twist_syncd_drops_total{source=\"peer\",reason=\"garbage\"}";
	uint64_t end = fr_now_us() + 10000000;

	while (fr_metric(a.mport, name) < 1) {
		if (fr_now_us() > end)
			fail("the peer link never carried a message");
		pair_send(junk, sizeof(junk));
		usleep(50000);
	}
}

static int relay_send(const void *m, size_t len)
{
	return fr_send_raw(&fr, m, len);
}

static void asan_no_quarantine(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char v[512];

	snprintf(v, sizeof(v), "%s%squarantine_size_mb=0", old ? old : "", old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", v, 1);
}

static void start(const char *bin)
{
	static const char *const extra[] = {"--log-level", "info", NULL};
	char url[64];
	int v = 4 << 20;

	snprintf(tmp, sizeof(tmp), "/tmp/syncd_rss.XXXXXX");
	if (!mkdtemp(tmp))
		fail("mkdtemp");
	/* a (id 1) binds its --listen; we play b (id 2) and connect to it. */
	if (fr_node_init(&a, tmp, "a", 1, "master") < 0 || fr_node_init(&b, tmp, "b", 2, "backup"))
		fail("cannot set up the node (ports, directories)");
	asan_no_quarantine();
	if (fr_node_start(&a, &b, bin, extra) <= 0)
		fail("cannot start twist-syncd");
	if (!metric_is("twist_syncd_peer_up", 0, 10000))
		fail("no /metrics");
	if (fr_open(&fr, a.dir) < 0)
		fail("fake relay");
	pair = nn_socket(AF_SP, NN_PAIR);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", a.port);
	if (pair < 0 || nn_setsockopt(pair, NN_SOL_SOCKET, NN_SNDBUF, &v, sizeof(v)) < 0 ||
	    nn_connect(pair, url) < 0)
		fail("peer socket");
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = alarm_cb};
	uint8_t *m;
	size_t len;

	if (argc != 2) {
		fprintf(stderr, "usage: syncd_rss PATH/TO/twist-syncd\n");
		return 2;
	}
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	start(argv[1]);

	peer_link_up();
	m = util_hostile_sync(2, &len);
	attack("peer link", pair_send, m, len,
	       "twist_syncd_drops_total{source=\"peer\",reason=\"budget\"}");
	free(m);
	m = util_hostile_local(&len);
	attack("relay ipc", relay_send, m, len,
	       "twist_syncd_drops_total{source=\"relay\",reason=\"budget\"}");
	free(m);
	if (fr_metric(a.mport, "twist_syncd_flows") != 0)
		fail("the table changed");
	cleanup();
	printf("syncd_rss: all passed\n");
	return 0;
}
