/*
 * Helper for tests/bench/standby_ready.sh: how soon a standby twist-relay
 * that imports N replicated allocations is ready, with every socket bound
 * (docs/ha.md, "Standby readiness"). Loopback only.
 *
 *   standby_ready feed   --ipc DIR --n N [flow options] [--timeout-ms T]
 *       A fake active relay on a twist-syncd's ipc: answers syncd's start-up
 *       dump with N UDP flow tuples (dump_reply, then dump_end), then keeps
 *       draining what syncd sends until SIGTERM or the timeout.
 *   standby_ready wait   --metrics PORT --pid PID --n N [--syncd-metrics PORT]
 *                        [--timeout-ms T] [--period-ms 10]
 *       Polls the relay's /metrics every period until twist_allocations == N
 *       and twist_sync_imported_total >= N; prints key=value lines with
 *       CLOCK_REALTIME stamps in ms (comparable with the daemons' log
 *       stamps), the relay's open descriptors then, and when syncd's /ready
 *       first answered 200 (what twist-ha checks) in the same poll loop.
 *   standby_ready probe  --index I [flow options] [--timeout-ms T]
 *       Binds flow I's client ip:port and the peer address, sends ChannelData
 *       on channel 0x4000 to the listener and checks it leaves the relayed
 *       address to the peer; then the peer answers and the client must get it
 *       as ChannelData from the listener. No Allocate is sent.
 *   standby_ready metric --port PORT --name NAME
 *       Prints one metric's value (or -1).
 *   standby_ready freeport
 *       Prints a TCP port free on 127.0.0.1 at the time of asking.
 *   standby_ready sockbench --n N [--listen IP:PORT] [--client-port P]
 *       No relay: opens N UDP sockets the way the standby imports a flow's
 *       client socket (SO_REUSEADDR + SO_REUSEPORT, 4 MiB buffers,
 *       IP_FREEBIND + IP_TRANSPARENT, bind to the listener, connect to flow
 *       i's client) after one listener socket, and prints the time per
 *       1000. It shows the kernel's cost alone, for N the relay cannot hold
 *       here (N + 10 descriptors fit where 2N do not).
 *
 * Flow options (all flows): --listen 127.0.0.1:3978 --relay-ip 127.0.0.3
 * --port-min 20000 --peer 127.0.0.9:19999 --client-port 15000 --lifetime 600
 * [--perm-lifetime S] [--client-ip IP].
 * Flow i: client 127.0.(1 + i / 250).(1 + i % 250):client-port (with
 * --client-ip: IP:(client-port + i)), local the listener, relayed
 * relay-ip:(port-min + i), one permission for the peer's IP (lifetime
 * min(lifetime, 300) or --perm-lifetime), channel 0x4000 bound to the
 * peer, user "demo".
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/flow.h"
#include "tests/syncd/fakerelay.h"

#define CHAN     0x4000
#define PER_MSG  512
#define HTTP_BUF (1 << 18)

struct opts {
	const char *ipc;
	unsigned n, index;
	struct sockaddr_in listen, peer;
	struct in_addr relay_ip;
	unsigned port_min, client_port, lifetime, perm_lifetime;
	struct in_addr client_ip; /* 0: 127.0.x.y per flow */
	int metrics, syncd_metrics, pid;
	int timeout_ms, period_ms;
	const char *name;
	int port;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "standby_ready: %s\n", what);
	exit(2);
}

static int parse_sa(const char *s, struct sockaddr_in *sa)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	size_t n;

	if (!colon || (n = (size_t)(colon - s)) >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

/* The addresses of flow i. */
static void flow_addrs(const struct opts *o, unsigned i, struct sockaddr_in *client,
                       struct sockaddr_in *relayed)
{
	memset(client, 0, sizeof(*client));
	client->sin_family = AF_INET;
	client->sin_addr.s_addr = htonl(0x7f000000u | (1u + i / 250) << 8 | (1u + i % 250));
	client->sin_port = htons((uint16_t)o->client_port);
	if (o->client_ip.s_addr) {
		client->sin_addr = o->client_ip;
		client->sin_port = htons((uint16_t)(o->client_port + i));
	}
	memset(relayed, 0, sizeof(*relayed));
	relayed->sin_family = AF_INET;
	relayed->sin_addr = o->relay_ip;
	relayed->sin_port = htons((uint16_t)(o->port_min + i));
}

static size_t put_sa(uint8_t *out, const struct sockaddr_in *sa)
{
	memcpy(out, &sa->sin_addr, 4);
	memcpy(out + 4, &sa->sin_port, 2);
	return 6;
}

/* Feed ----------------------------------------------------------------------- */

struct flowbuf {
	Twist__Flow f;
	Twist__Perm perm, *perms[1];
	Twist__Chan chan, *chans[1];
	ProtobufCBinaryData rel[1];
	uint8_t client[6], local[6], relayed[6], pip[4], cpeer[6];
};

static void flow_build(const struct opts *o, unsigned i, struct flowbuf *b)
{
	struct sockaddr_in c, r;

	memset(b, 0, sizeof(*b));
	flow_addrs(o, i, &c, &r);
	twist__flow__init(&b->f);
	b->f.client.data = b->client;
	b->f.client.len = put_sa(b->client, &c);
	b->f.local.data = b->local;
	b->f.local.len = put_sa(b->local, &o->listen);
	b->f.transport = 17;
	b->rel[0].data = b->relayed;
	b->rel[0].len = put_sa(b->relayed, &r);
	b->f.n_relayed = 1;
	b->f.relayed = b->rel;
	b->f.lifetime = o->lifetime;
	b->f.user = (char *)"demo";
	b->f.realm = (char *)"";
	twist__perm__init(&b->perm);
	memcpy(b->pip, &o->peer.sin_addr, 4);
	b->perm.ip.data = b->pip;
	b->perm.ip.len = 4;
	b->perm.lifetime = o->lifetime < 300 ? o->lifetime : 300;
	if (o->perm_lifetime)
		b->perm.lifetime = o->perm_lifetime;
	b->perms[0] = &b->perm;
	b->f.n_perms = 1;
	b->f.perms = b->perms;
	twist__chan__init(&b->chan);
	b->chan.number = CHAN;
	b->chan.peer.data = b->cpeer;
	b->chan.peer.len = put_sa(b->cpeer, &o->peer);
	b->chan.lifetime = o->lifetime;
	b->chans[0] = &b->chan;
	b->f.n_chans = 1;
	b->f.chans = b->chans;
}

static int send_local(int sock, const Twist__Local *m, int timeout_ms)
{
	size_t len = twist__local__get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	uint64_t end = mono_us() + (uint64_t)timeout_ms * 1000;
	int rc;

	if (!buf)
		return -1;
	twist__local__pack(m, buf);
	while ((rc = nn_send(sock, buf, len, NN_DONTWAIT)) < 0 && nn_errno() == EAGAIN &&
	       mono_us() < end && !stop)
		usleep(1000);
	free(buf);
	return rc < 0 ? -1 : 0;
}

/* Waits for a message from syncd; dump is set if it asked for our flows. 0, or -1 on timeout. */
static int recv_one(int pull, int timeout_ms, bool *dump)
{
	int fd;
	size_t sz = sizeof(fd);
	struct pollfd p;
	void *buf = NULL;
	int n;

	if (nn_getsockopt(pull, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0)
		return -1;
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	while ((n = nn_recv(pull, &buf, NN_MSG, NN_DONTWAIT)) >= 0) {
		Twist__Local *m = flow_local_unpack(buf, (size_t)n);

		nn_freemsg(buf);
		if (m) {
			if (m->dump && dump)
				*dump = true;
			twist__local__free_unpacked(m, flow_allocator());
		}
	}
	return 0;
}

static int cmd_feed(const struct opts *o)
{
	int push = fr_ipc_connect(NN_PUSH, o->ipc, "sync-in.ipc"),
	    pull = fr_ipc_connect(NN_PULL, o->ipc, "sync-out.ipc");
	uint64_t end = mono_us() + (uint64_t)o->timeout_ms * 1000;
	struct flowbuf *fb = calloc(PER_MSG, sizeof(*fb));
	Twist__Flow *ptr[PER_MSG];
	bool dump = false;

	if (push < 0 || pull < 0 || !fb)
		die("feed: cannot open the ipc sockets");
	while (!dump && !stop && mono_us() < end)
		recv_one(pull, 100, &dump);
	if (!dump)
		die("feed: twist-syncd never asked for a dump");
	for (unsigned first = 0; first < o->n || first == 0; first += PER_MSG) {
		unsigned k = o->n - first < PER_MSG ? o->n - first : PER_MSG;
		Twist__Local m;

		for (unsigned j = 0; j < k; j++) {
			flow_build(o, first + j, &fb[j]);
			ptr[j] = &fb[j].f;
		}
		twist__local__init(&m);
		m.n_flows = k;
		m.flows = ptr;
		m.dump_reply = 1;
		m.dump_end = first + k >= o->n;
		if (send_local(push, &m, 5000) < 0)
			die("feed: send to twist-syncd failed");
		if (m.dump_end)
			break;
	}
	printf("fed=%u\n", o->n);
	fflush(stdout);
	while (!stop && mono_us() < end)
		recv_one(pull, 100, NULL);
	nn_close(push);
	nn_close(pull);
	free(fb);
	return 0;
}

/* Metrics ---------------------------------------------------------------------- */

static int http_get(int port, const char *path, char *buf, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {1, 0};
	char req[200];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	n = snprintf(req, sizeof(req),
	             "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	while (got + 1 < cap && (n = (int)read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	close(fd);
	return got ? 0 : -1;
}

/* The first sample of name (exact, labels included if given), or -1. */
static double metric_in(const char *body, const char *name)
{
	size_t nl = strlen(name);

	for (const char *line = body; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
			return strtod(line + nl + 1, NULL);
	return -1;
}

static double metric(int port, const char *name)
{
	static char buf[HTTP_BUF];

	if (http_get(port, "/metrics", buf, sizeof(buf)) < 0)
		return -1;
	return metric_in(buf, name);
}

static int count_fds(int pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int cmd_wait(const struct opts *o)
{
	static char buf[HTTP_BUF];
	uint64_t start = mono_us(), end = start + (uint64_t)o->timeout_ms * 1000, next = start;
	uint64_t synced_rt = 0, first_alloc_rt = 0;
	double allocs = -1, imported = -1, failed = -1;
	int fds0 = count_fds(o->pid), polls = 0;

	printf("fds_before=%d\n", fds0);
	fflush(stdout);
	while (!stop && mono_us() < end) {
		uint64_t t = mono_us();

		if (t < next)
			usleep((useconds_t)(next - t));
		next += (uint64_t)o->period_ms * 1000;
		polls++;
		/* What twist-ha checks: syncd's /ready answers 200 from BulkEnd on. */
		if (o->syncd_metrics && !synced_rt &&
		    http_get(o->syncd_metrics, "/ready", buf, sizeof(buf)) == 0 &&
		    strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0)
			synced_rt = now_ms(CLOCK_REALTIME);
		if (http_get(o->metrics, "/metrics", buf, sizeof(buf)) < 0)
			continue;
		allocs = metric_in(buf, "twist_allocations");
		imported = metric_in(buf, "twist_sync_imported_total");
		failed = metric_in(buf, "twist_sync_import_failed_total");
		if (!first_alloc_rt && allocs > 0)
			first_alloc_rt = now_ms(CLOCK_REALTIME);
		if (allocs == (double)o->n && imported >= (double)o->n) {
			uint64_t rt = now_ms(CLOCK_REALTIME);
			int fds = count_fds(o->pid);

			printf("ready_rt_ms=%llu\nfirst_alloc_rt_ms=%llu\nsyncd_ready_rt_ms=%llu\n"
			       "allocations=%.0f\nimported=%.0f\nimport_failed=%.0f\nfds_ready=%d\n"
			       "polls=%d\nwaited_ms=%.1f\n",
			       (unsigned long long)rt, (unsigned long long)first_alloc_rt,
			       (unsigned long long)synced_rt, allocs, imported, failed, fds, polls,
			       (double)(mono_us() - start) / 1000);
			return 0;
		}
	}
	printf("ready_rt_ms=0\nallocations=%.0f\nimported=%.0f\nimport_failed=%.0f\nfds_ready=%d\n",
	       allocs, imported, failed, count_fds(o->pid));
	fprintf(stderr, "standby_ready: wait: not ready within %d ms\n", o->timeout_ms);
	return 1;
}

/* Probe ------------------------------------------------------------------------ */

static int udp_bound(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t recv_within(int fd, void *buf, size_t cap, struct sockaddr_in *from, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	socklen_t sl = sizeof(*from);

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &sl);
}

static const char *fmt_sa(const struct sockaddr_in *sa, char *out, size_t cap)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(out, cap, "%s:%u", ip, ntohs(sa->sin_port));
	return out;
}

static int cmd_probe(const struct opts *o)
{
	struct sockaddr_in client, relayed, from;
	char a[64], b[64], payload[64], in[2048];
	uint8_t pkt[4 + sizeof(payload)];
	int cfd, pfd, rc = 1;
	size_t plen;
	ssize_t n;

	flow_addrs(o, o->index, &client, &relayed);
	pfd = udp_bound(&o->peer);
	cfd = udp_bound(&client);
	if (pfd < 0 || cfd < 0) {
		fprintf(stderr, "standby_ready: probe: cannot bind the %s socket: %s\n",
		        pfd < 0 ? "peer" : "client", strerror(errno));
		return 2;
	}
	/* Client -> listener as ChannelData -> out of the relayed address -> peer. */
	plen = (size_t)snprintf(payload, sizeof(payload), "standby-probe %u %llu", o->index,
	                        (unsigned long long)mono_us());
	pkt[0] = CHAN >> 8;
	pkt[1] = CHAN & 0xff;
	pkt[2] = (uint8_t)(plen >> 8);
	pkt[3] = (uint8_t)plen;
	memcpy(pkt + 4, payload, plen);
	/* ChannelData over UDP needs no padding (RFC 8656 §12.5). */
	if (sendto(cfd, pkt, 4 + plen, 0, (struct sockaddr *)&o->listen, sizeof(o->listen)) < 0)
		goto out;
	n = recv_within(pfd, in, sizeof(in), &from, o->timeout_ms);
	if (n < 0) {
		printf("probe_index=%u\nclient=%s\nto_peer=none\n", o->index,
		       fmt_sa(&client, a, sizeof(a)));
		goto out;
	}
	printf("probe_index=%u\nclient=%s\nto_peer_from=%s\nto_peer_ok=%d\n", o->index,
	       fmt_sa(&client, a, sizeof(a)), fmt_sa(&from, b, sizeof(b)),
	       (size_t)n == plen && memcmp(in, payload, plen) == 0 &&
	               from.sin_addr.s_addr == relayed.sin_addr.s_addr &&
	               from.sin_port == relayed.sin_port);
	if ((size_t)n != plen || memcmp(in, payload, plen) != 0 ||
	    from.sin_addr.s_addr != relayed.sin_addr.s_addr || from.sin_port != relayed.sin_port)
		goto out;
	/* Peer -> relayed address -> ChannelData to the client, from the listener. */
	if (sendto(pfd, payload, plen, 0, (struct sockaddr *)&relayed, sizeof(relayed)) < 0)
		goto out;
	n = recv_within(cfd, in, sizeof(in), &from, o->timeout_ms);
	if (n < 0) {
		printf("to_client=none\n");
		goto out;
	}
	{
		bool ok = (size_t)n >= 4 + plen && in[0] == (char)(CHAN >> 8) &&
		          in[1] == (char)(CHAN & 0xff) &&
		          ((unsigned)(uint8_t)in[2] << 8 | (uint8_t)in[3]) == plen &&
		          memcmp(in + 4, payload, plen) == 0 &&
		          from.sin_addr.s_addr == o->listen.sin_addr.s_addr &&
		          from.sin_port == o->listen.sin_port;

		printf("to_client_from=%s\nto_client_ok=%d\n", fmt_sa(&from, b, sizeof(b)), ok);
		rc = ok ? 0 : 1;
	}
out:
	close(cfd);
	close(pfd);
	return rc;
}

static int cmd_sockbench(const struct opts *o)
{
	int one = 1, buf = 4 << 20, *fds = calloc(o->n + 1, sizeof(int));
	uint64_t t0 = mono_us(), last = t0;

	if (!fds)
		die("sockbench: memory");
	for (unsigned i = 0; i <= o->n; i++) {
		struct sockaddr_in c, r;
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			fprintf(stderr, "standby_ready: sockbench: socket %u: %s\n", i,
			        strerror(errno));
			return 1;
		}
		fds[i] = fd;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&o->listen, sizeof(o->listen)) < 0) {
			fprintf(stderr, "standby_ready: sockbench: bind %u: %s\n", i,
			        strerror(errno));
			return 1;
		}
		if (i == 0) /* the listener */
			continue;
		flow_addrs(o, i - 1, &c, &r);
		if (connect(fd, (const struct sockaddr *)&c, sizeof(c)) < 0) {
			fprintf(stderr, "standby_ready: sockbench: connect %u: %s\n", i,
			        strerror(errno));
			return 1;
		}
		if (i % 1000 == 0 || i == o->n) {
			uint64_t t = mono_us();

			printf("sockets=%u total_ms=%.1f last_block_us_each=%.1f\n", i,
			       (double)(t - t0) / 1000,
			       (double)(t - last) / (i % 1000 ? i % 1000 : 1000));
			fflush(stdout);
			last = t;
		}
	}
	for (unsigned i = 0; i <= o->n; i++)
		close(fds[i]);
	free(fds);
	return 0;
}

static int cmd_freeport(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		die("freeport");
	printf("%u\n", ntohs(sa.sin_port));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.client_port = 15000,
	                 .port_min = 20000,
	                 .lifetime = 600,
	                 .timeout_ms = 30000,
	                 .period_ms = 10};
	struct sigaction sa = {.sa_handler = on_signal};
	const char *cmd;

	parse_sa("127.0.0.1:3978", &o.listen);
	parse_sa("127.0.0.9:19999", &o.peer);
	inet_pton(AF_INET, "127.0.0.3", &o.relay_ip);
	if (argc < 2)
		die("usage: standby_ready feed|wait|probe|metric|freeport [options] (see the "
		    "source)");
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			die("option without a value");
		i++;
		if (!strcmp(k, "--ipc"))
			o.ipc = v;
		else if (!strcmp(k, "--n"))
			o.n = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--index"))
			o.index = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--listen")) {
			if (parse_sa(v, &o.listen) < 0)
				die("bad --listen");
		} else if (!strcmp(k, "--peer")) {
			if (parse_sa(v, &o.peer) < 0)
				die("bad --peer");
		} else if (!strcmp(k, "--relay-ip")) {
			if (inet_pton(AF_INET, v, &o.relay_ip) != 1)
				die("bad --relay-ip");
		} else if (!strcmp(k, "--port-min"))
			o.port_min = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--client-port"))
			o.client_port = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--lifetime"))
			o.lifetime = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--perm-lifetime"))
			o.perm_lifetime = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--client-ip")) {
			if (inet_pton(AF_INET, v, &o.client_ip) != 1)
				die("bad --client-ip");
		} else if (!strcmp(k, "--metrics"))
			o.metrics = atoi(v);
		else if (!strcmp(k, "--syncd-metrics"))
			o.syncd_metrics = atoi(v);
		else if (!strcmp(k, "--pid"))
			o.pid = atoi(v);
		else if (!strcmp(k, "--timeout-ms"))
			o.timeout_ms = atoi(v);
		else if (!strcmp(k, "--period-ms"))
			o.period_ms = atoi(v);
		else if (!strcmp(k, "--name"))
			o.name = v;
		else if (!strcmp(k, "--port"))
			o.port = atoi(v);
		else
			die("unknown option");
	}
	if (o.index >= 250u * 254u || o.n > 250u * 254u ||
	    (strcmp(cmd, "sockbench") && o.port_min + (o.n ? o.n : 1) - 1 > 65535))
		die("flow numbers out of range");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "feed")) {
		if (!o.ipc || !o.n)
			die("feed needs --ipc and --n");
		return cmd_feed(&o);
	}
	if (!strcmp(cmd, "wait")) {
		if (!o.metrics || !o.pid || !o.n || o.period_ms <= 0)
			die("wait needs --metrics, --pid and --n");
		return cmd_wait(&o);
	}
	if (!strcmp(cmd, "probe"))
		return cmd_probe(&o);
	if (!strcmp(cmd, "metric")) {
		if (!o.port || !o.name)
			die("metric needs --port and --name");
		printf("%.15g\n", metric(o.port, o.name));
		return 0;
	}
	if (!strcmp(cmd, "freeport"))
		return cmd_freeport();
	if (!strcmp(cmd, "sockbench")) {
		if (!o.n)
			die("sockbench needs --n");
		return cmd_sockbench(&o);
	}
	die("unknown command");
	return 2;
}
