/*
 * barefwd: the ceiling for the relay benchmarks. The data plane of a TURN
 * relay with everything else taken out: no STUN, no auth, no permissions,
 * no timers. What one process on this kernel can forward over loopback
 * with the same system calls a relay needs.
 *
 *   client --[4-byte ChannelData header + payload]--> listen socket
 *   barefwd strips the header and sends the payload from a per-client
 *   "relayed" socket (connected to the peer) to the fixed peer;
 *   the peer's answer to that socket gets the header back and leaves through
 *   the listen socket to the client.
 *
 * That is one socket per client, as a TURN allocation has, and the header
 * work of a channel. --raw forwards the datagrams unchanged instead.
 * Batched: recvmmsg/sendmmsg, up to 64 datagrams, one epoll loop, one
 * thread. Clients are learned from their first datagram (at most
 * --max-clients); there is no expiry: restart barefwd between runs.
 *
 *   barefwd --listen 127.0.0.1:3579 --peer 127.0.0.1:3580 [--raw] [-d S]
 *
 * Stops after --duration seconds (default 3600) or on SIGTERM/SIGINT, and
 * prints its counters as one key=value line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH     64
#define PKT_MAX   9216
#define HDR       4 /* ChannelData header (RFC 8656 §12.4) */
#define EV_LISTEN UINT32_MAX

struct client {
	struct sockaddr_in addr;
	int fd; /* connected to the peer */
	uint16_t chan;
	bool used;
};

struct fwd {
	struct sockaddr_in listen, peer;
	bool raw;
	double duration;
	unsigned max_clients;
	int ep, lfd;
	struct client *tab; /* open addressing, size = 2 * max_clients rounded up */
	unsigned tabsize, nclients;
	uint64_t up, down, bad, drop_full, send_err;
};

/* Headroom in front of each buffer, so the header goes on without a copy. */
static uint8_t buf[BATCH][HDR + PKT_MAX];
static struct iovec iov[BATCH];
static struct mmsghdr msg[BATCH];
static struct sockaddr_in name[BATCH];
static struct client *owner[BATCH];

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	if (*end || port < 1 || port > 65535 || inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return -EINVAL;
	/* Loopback only: a benchmark tool, never a real forwarder. */
	if ((ntohl(out->sin_addr.s_addr) >> 24) != 127)
		return -EINVAL;
	out->sin_port = htons((uint16_t)port);
	return 0;
}

static int sock_udp(const struct sockaddr_in *bind_to, const struct sockaddr_in *connect_to)
{
	int fd, big = 8 << 20, one = 1, rc;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind_to && bind(fd, (const struct sockaddr *)bind_to, sizeof(*bind_to)) < 0)
		goto bad;
	if (connect_to && connect(fd, (const struct sockaddr *)connect_to, sizeof(*connect_to)) < 0)
		goto bad;
	return fd;
bad:
	rc = -errno;
	close(fd);
	return rc;
}

static unsigned addr_hash(const struct sockaddr_in *a)
{
	uint32_t h = a->sin_addr.s_addr * 2654435761u;

	return (h ^ ((uint32_t)a->sin_port * 40503u)) * 2246822519u;
}

static struct client *client_find(struct fwd *f, const struct sockaddr_in *a, bool create)
{
	unsigned i = addr_hash(a) & (f->tabsize - 1);
	struct epoll_event ev = {.events = EPOLLIN};
	struct client *c;

	for (;; i = (i + 1) & (f->tabsize - 1)) {
		c = &f->tab[i];
		if (!c->used)
			break;
		if (c->addr.sin_port == a->sin_port &&
		    c->addr.sin_addr.s_addr == a->sin_addr.s_addr)
			return c;
	}
	if (!create || f->nclients >= f->max_clients)
		return NULL;
	c->fd = sock_udp(NULL, &f->peer);
	if (c->fd < 0)
		return NULL;
	ev.data.u32 = i;
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		close(c->fd);
		return NULL;
	}
	c->addr = *a;
	c->used = true;
	f->nclients++;
	return c;
}

static void rx_reset(unsigned n, bool names)
{
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = buf[i] + HDR;
		iov[i].iov_len = PKT_MAX;
		msg[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
		if (names) {
			msg[i].msg_hdr.msg_name = &name[i];
			msg[i].msg_hdr.msg_namelen = sizeof(name[i]);
		}
	}
}

/* sendmmsg of msg[from, to) on fd; what the kernel refuses is counted. */
static void send_run(struct fwd *f, int fd, unsigned from, unsigned to)
{
	while (from < to) {
		int n = sendmmsg(fd, msg + from, to - from, 0);

		if (n <= 0) {
			f->send_err += to - from;
			return;
		}
		from += (unsigned)n;
	}
}

/* Client side: strip the header, send runs of one client on its socket. */
static void listen_input(struct fwd *f)
{
	for (int round = 0; round < 8; round++) {
		unsigned k = 0, start;
		int n;

		rx_reset(BATCH, true);
		n = recvmmsg(f->lfd, msg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			uint8_t *p = buf[i] + HDR;
			size_t len = msg[i].msg_len;
			struct client *c = client_find(f, &name[i], true);

			if (!c) {
				f->drop_full++;
				continue;
			}
			if (!f->raw) {
				uint16_t dlen = (uint16_t)(p[2] << 8 | p[3]);

				if (len < HDR || p[0] < 0x40 || p[0] > 0x4F || dlen > len - HDR) {
					f->bad++;
					continue;
				}
				c->chan = (uint16_t)(p[0] << 8 | p[1]);
				p += HDR;
				len = dlen;
			}
			/* Compact the batch in place: slot k gets datagram i. */
			iov[k].iov_base = p;
			iov[k].iov_len = len;
			msg[k].msg_hdr = (struct msghdr){.msg_iov = &iov[k], .msg_iovlen = 1};
			owner[k] = c;
			k++;
		}
		f->up += k;
		for (unsigned i = 0, j; i < k; i = j) {
			start = i;
			for (j = i + 1; j < k && owner[j] == owner[start]; j++)
				;
			send_run(f, owner[start]->fd, start, j);
		}
		if (n < BATCH)
			return;
	}
}

/*
 * Peer side of one client: add the header in the headroom and send the
 * batch to the client through the listen socket.
 */
static void relayed_input(struct fwd *f, struct client *c)
{
	for (int round = 0; round < 4; round++) {
		int n;

		rx_reset(BATCH, false);
		n = recvmmsg(c->fd, msg, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ECONNREFUSED)
			continue;
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			uint8_t *p = buf[i] + HDR;
			size_t len = msg[i].msg_len;

			if (!f->raw) {
				p -= HDR;
				p[0] = (uint8_t)(c->chan >> 8);
				p[1] = (uint8_t)c->chan;
				p[2] = (uint8_t)(len >> 8);
				p[3] = (uint8_t)len;
				len += HDR;
			}
			iov[i].iov_base = p;
			iov[i].iov_len = len;
			msg[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i],
			                                 .msg_iovlen = 1,
			                                 .msg_name = &c->addr,
			                                 .msg_namelen = sizeof(c->addr)};
		}
		f->down += (unsigned)n;
		send_run(f, f->lfd, 0, (unsigned)n);
		if (n < BATCH)
			return;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fwd_run(struct fwd *f)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_LISTEN}, evs[64];
	uint64_t end = now_ms() + (uint64_t)(f->duration * 1000);

	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->lfd = sock_udp(&f->listen, NULL);
	if (f->ep < 0 || f->lfd < 0) {
		fprintf(stderr, "barefwd: cannot listen on %s:%u: %s\n",
		        inet_ntoa(f->listen.sin_addr), ntohs(f->listen.sin_port),
		        strerror(f->lfd < 0 ? -f->lfd : errno));
		return -1;
	}
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &ev) < 0)
		return -1;
	while (!stop_requested && now_ms() < end) {
		int n = epoll_wait(f->ep, evs, 64, 200);

		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;

			if (id == EV_LISTEN)
				listen_input(f);
			else if (id < f->tabsize && f->tab[id].used)
				relayed_input(f, &f->tab[id]);
		}
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: barefwd --listen ADDR:PORT --peer ADDR:PORT [--raw]\n"
	             "               [--duration S] [--max-clients N]\n"
	             "Loopback addresses only. Default: ChannelData header stripped toward\n"
	             "the peer and added back toward the client; --raw: unchanged.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"listen", required_argument, NULL, 'L'},
	        {"peer", required_argument, NULL, 'p'},
	        {"raw", no_argument, NULL, 'R'},
	        {"duration", required_argument, NULL, 'd'},
	        {"max-clients", required_argument, NULL, 'm'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct fwd f = {.duration = 3600, .max_clients = 20000};
	struct sigaction sa = {.sa_handler = on_signal};
	bool have_listen = false, have_peer = false;
	struct rlimit rl;
	int c, rc;

	while ((c = getopt_long(argc, argv, "L:p:Rd:m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			have_listen = parse_addr(optarg, &f.listen) == 0;
			break;
		case 'p':
			have_peer = parse_addr(optarg, &f.peer) == 0;
			break;
		case 'R':
			f.raw = true;
			break;
		case 'd':
			f.duration = atof(optarg);
			break;
		case 'm':
			f.max_clients = (unsigned)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!have_listen || !have_peer || f.duration <= 0 || f.duration > 86400 ||
	    f.max_clients < 1 || f.max_clients > 1000000 || optind != argc) {
		usage(stderr);
		return 2;
	}
	for (f.tabsize = 16; f.tabsize < 2 * f.max_clients; f.tabsize *= 2)
		;
	f.tab = calloc(f.tabsize, sizeof(*f.tab));
	if (!f.tab)
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = fwd_run(&f);
	printf("barefwd mode=%s clients=%u up=%llu down=%llu bad=%llu drop_full=%llu "
	       "send_err=%llu\n",
	       f.raw ? "raw" : "channel", f.nclients, (unsigned long long)f.up,
	       (unsigned long long)f.down, (unsigned long long)f.bad,
	       (unsigned long long)f.drop_full, (unsigned long long)f.send_err);
	return rc < 0 ? 1 : 0;
}
