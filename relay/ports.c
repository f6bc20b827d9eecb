#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay/netaddr.h"
#include "relay/ports.h"
#include "relay/registry.h"

#define MAX_RESERVED 1024
#define RELAY_RCVBUF (1 << 20)
/*
 * Random probes before the scan. Each costs a bitmap test, and a bind only
 * when the bitmap says free; with the range half full, 8 probes all miss
 * one time in 256, and the scan still finds a port.
 */
#define RANDOM_TRIES 8
#define POOL_BYTES   256 /* one getrandom() per 64 draws */

struct reservation {
	uint64_t token;
	uint64_t expires_ms;
	int fd;
	struct tw_addr bound;
	char *user; /* charged in the registry; NULL when not charged */
};

struct ports {
	pthread_mutex_t lock;
	uint16_t min, max;
	struct registry *reg;
	unsigned used[2];
	uint8_t map[2][65536 / 8]; /* [0] IPv4, [1] IPv6 */
	unsigned n_res;
	struct reservation res[MAX_RESERVED];
	unsigned pool_left; /* unread bytes at the end of pool */
	uint8_t pool[POOL_BYTES];
};

/* The candidates for one request: count ports from first, step apart. */
struct span {
	unsigned first, step, count;
};

static int fam_idx(const struct tw_addr *a)
{
	return a->family == TW_AF_INET6;
}

/* The map is written under the lock, and read without it by ports_bound
 * (the packet path), hence byte-wide atomics. */
static bool is_used(const struct ports *p, int f, unsigned port)
{
	return __atomic_load_n(&p->map[f][port / 8], __ATOMIC_RELAXED) & (1u << (port % 8));
}

static void set_used(struct ports *p, int f, unsigned port, bool used)
{
	uint8_t bit = (uint8_t)(1u << (port % 8));

	if (used && !is_used(p, f, port)) {
		__atomic_fetch_or(&p->map[f][port / 8], bit, __ATOMIC_RELAXED);
		p->used[f]++;
	} else if (!used && is_used(p, f, port)) {
		__atomic_fetch_and(&p->map[f][port / 8], (uint8_t)~bit, __ATOMIC_RELAXED);
		p->used[f]--;
	}
}

bool ports_bound(const struct ports *p, const struct tw_addr *a)
{
	return a->port >= p->min && a->port <= p->max && is_used(p, fam_idx(a), a->port);
}

struct ports *ports_new(uint16_t min, uint16_t max, struct registry *reg)
{
	struct ports *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->min = min;
	p->max = max;
	p->reg = reg;
	return p;
}

static void res_drop(struct ports *p, struct reservation *r)
{
	if (r->user && p->reg)
		registry_unhold(p->reg, r->user);
	free(r->user);
	*r = p->res[--p->n_res];
}

/* The registry may be gone already (relay shutdown): reservations are not returned. */
void ports_free(struct ports *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n_res; i++) {
		close(p->res[i].fd);
		free(p->res[i].user);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/*
 * 32 random bits from the kernel's CSPRNG, buffered so that a port costs a
 * memcpy, not a system call. Lock held. -EAGAIN if getrandom() fails.
 */
static int rand32(struct ports *p, uint32_t *out)
{
	if (p->pool_left < sizeof(*out)) {
		if (getrandom(p->pool, sizeof(p->pool), 0) != (ssize_t)sizeof(p->pool))
			return -EAGAIN;
		p->pool_left = sizeof(p->pool);
	}
	p->pool_left -= sizeof(*out);
	memcpy(out, p->pool + p->pool_left, sizeof(*out));
	return 0;
}

/* Uniform in [0, n), n > 0: multiply and shift, rejecting the biased few. */
static int rand_below(struct ports *p, uint32_t n, uint32_t *out)
{
	uint32_t x, lim = (uint32_t)-n % n;
	uint64_t m;

	do {
		if (rand32(p, &x) < 0)
			return -EAGAIN;
		m = (uint64_t)x * n;
	} while ((uint32_t)m < lim);
	*out = (uint32_t)(m >> 32);
	return 0;
}

/*
 * RFC 6062 §5.1: a TCP relayed address listens, and the relay's own
 * connections to peers leave from it too, so every socket on it shares
 * the port (SO_REUSEPORT; only the listener takes connections).
 */
static int stream_bind(const struct tw_addr *ip, uint16_t port)
{
	struct tw_addr a = *ip;
	int fd = netaddr_socket(ip, SOCK_STREAM), one = 1;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return netaddr_close_err(fd);
	a.port = port;
	fd = netaddr_bind(fd, &a, true);
	if (fd >= 0 && listen(fd, 16) < 0)
		return netaddr_close_err(fd);
	return fd;
}

static int sock_bind(const struct tw_addr *ip, uint16_t port, bool stream)
{
	struct tw_addr a = *ip;
	int fd, rcvbuf = RELAY_RCVBUF;

	if (stream)
		return stream_bind(ip, port);
	fd = netaddr_socket(ip, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	/* The kernel's 208 KiB default is ~25 ms of a busy flow: too little to ride
	 * out a worker's scheduling hiccup. It costs nothing until used. FORCE
	 * passes net.core.rmem_max when we hold CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		return netaddr_close_err(fd);
	a.port = port;
	return netaddr_bind(fd, &a, true);
}

static struct span span_of(const struct ports *p, bool even, bool reserve)
{
	struct span s = {p->min, 1, (unsigned)p->max - p->min + 1};
	unsigned last = reserve ? (unsigned)p->max - 1 : p->max;

	if (even || reserve) {
		s.first = (p->min + 1u) & ~1u;
		s.step = 2;
		s.count = last >= s.first && last <= p->max ? (last - s.first) / 2 + 1 : 0;
	}
	return s;
}

static bool port_free(struct ports *p, int f, unsigned port, bool reserve)
{
	return !is_used(p, f, port) && !(reserve && is_used(p, f, port + 1));
}

/*
 * Binds port (and port+1 with reserve). 0; -EADDRINUSE when the kernel has
 * either taken; or -errno. A port the kernel has taken is not marked in the
 * bitmap: it is someone else's (an ephemeral port, a TCP port in
 * TIME_WAIT) for a while only, and marking it would take it out of the
 * range for good and count it in ports_in_use (the relay's metric).
 */
static int bind_pair(const struct tw_addr *ip, unsigned port, bool reserve, bool stream, int *fd,
                     int *fd2)
{
	*fd = sock_bind(ip, (uint16_t)port, stream);
	if (*fd < 0 || !reserve)
		return *fd < 0 ? *fd : 0;
	*fd2 = sock_bind(ip, (uint16_t)(port + 1), false);
	if (*fd2 >= 0)
		return 0;
	close(*fd);
	return *fd2;
}

/*
 * RFC 8656 §7.2 asks for relayed ports that are hard to guess (RFC 6056):
 * random probes (RFC 6056 §3.3.2), then a scan from a random point
 * (§3.3.1) so that an almost-full range still yields its last ports.
 * Returns the port with its socket(s) bound, -EADDRNOTAVAIL, or -errno.
 */
static int pick(struct ports *p, const struct tw_addr *ip, bool even, bool reserve, bool stream,
                int *fd, int *fd2)
{
	struct span s = span_of(p, even, reserve);
	int f = fam_idx(ip), rc;
	unsigned port;
	uint32_t k = 0;

	if (s.count == 0)
		return -EADDRNOTAVAIL;
	for (unsigned i = 0; i < RANDOM_TRIES + s.count; i++) {
		if (i <= RANDOM_TRIES) {
			if (rand_below(p, s.count, &k) < 0)
				return -EAGAIN;
		} else {
			k = (k + 1) % s.count;
		}
		port = s.first + s.step * k;
		if (!port_free(p, f, port, reserve))
			continue;
		rc = bind_pair(ip, port, reserve, stream, fd, fd2);
		if (rc == 0)
			return (int)port;
		if (rc != -EADDRINUSE)
			return rc;
	}
	return -EADDRNOTAVAIL;
}

static int reserve_add(struct ports *p, const struct tw_addr *ip, unsigned port, int fd2,
                       const char *user, uint64_t *token, uint64_t now_ms)
{
	struct reservation *r = &p->res[p->n_res];
	uint64_t t;

	if (getrandom(&t, sizeof(t), 0) != sizeof(t))
		return -EAGAIN;
	r->user = NULL;
	if (user && p->reg) {
		r->user = strdup(user);
		if (!r->user)
			return -ENOMEM;
	}
	p->n_res++;
	r->token = t;
	r->fd = fd2;
	r->expires_ms = now_ms + PORTS_RESERVE_MS;
	r->bound = *ip;
	r->bound.port = (uint16_t)(port + 1);
	*token = t;
	return 0;
}

/* Lock order: ports, then the registry (which never calls back). */
int ports_open(struct ports *p, const struct tw_addr *ip, bool even, bool reserve, const char *user,
               uint64_t *token, struct tw_addr *bound, uint64_t now_ms)
{
	int f = fam_idx(ip), fd = -1, fd2 = -1, port, rc;
	bool held = false;

	pthread_mutex_lock(&p->lock);
	if (reserve && p->n_res >= MAX_RESERVED) {
		rc = -ENOSPC;
		goto bad;
	}
	/* RFC 8656 §7.2's held port is the user's until claimed: charge it first. */
	if (reserve && user && p->reg) {
		rc = registry_hold(p->reg, user);
		if (rc < 0)
			goto bad;
		held = true;
	}
	port = pick(p, ip, even, reserve, false, &fd, &fd2);
	if (port < 0) {
		rc = port;
		goto bad;
	}
	if (reserve) {
		rc = reserve_add(p, ip, (unsigned)port, fd2, user, token, now_ms);
		if (rc < 0) {
			close(fd);
			close(fd2);
			goto bad;
		}
		set_used(p, f, (unsigned)port + 1, true);
	}
	set_used(p, f, (unsigned)port, true);
	*bound = *ip;
	bound->port = (uint16_t)port;
	pthread_mutex_unlock(&p->lock);
	return fd;
bad:
	if (held)
		registry_unhold(p->reg, user);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int ports_open_stream(struct ports *p, const struct tw_addr *ip, struct tw_addr *bound)
{
	int fd = -1, fd2 = -1, port;

	pthread_mutex_lock(&p->lock);
	port = pick(p, ip, false, false, true, &fd, &fd2);
	if (port >= 0) {
		set_used(p, fam_idx(ip), (unsigned)port, true);
		*bound = *ip;
		bound->port = (uint16_t)port;
	}
	pthread_mutex_unlock(&p->lock);
	return port < 0 ? port : fd;
}

int ports_bind(struct ports *p, const struct tw_addr *bound)
{
	int f = fam_idx(bound), fd;

	pthread_mutex_lock(&p->lock);
	if (is_used(p, f, bound->port)) {
		fd = -EADDRINUSE;
		goto done;
	}
	fd = sock_bind(bound, bound->port, false);
	if (fd >= 0)
		set_used(p, f, bound->port, true);
done:
	pthread_mutex_unlock(&p->lock);
	return fd;
}

int ports_take(struct ports *p, uint64_t token, struct tw_addr *bound)
{
	int fd = -ENOENT;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->n_res; i++) {
		if (p->res[i].token != token)
			continue;
		fd = p->res[i].fd;
		*bound = p->res[i].bound;
		res_drop(p, &p->res[i]);
		break;
	}
	pthread_mutex_unlock(&p->lock);
	return fd;
}

void ports_release(struct ports *p, const struct tw_addr *bound)
{
	pthread_mutex_lock(&p->lock);
	set_used(p, fam_idx(bound), bound->port, false);
	pthread_mutex_unlock(&p->lock);
}

void ports_reap(struct ports *p, uint64_t now_ms)
{
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->n_res;) {
		struct reservation *r = &p->res[i];

		if (r->expires_ms > now_ms) {
			i++;
			continue;
		}
		close(r->fd);
		set_used(p, fam_idx(&r->bound), r->bound.port, false);
		res_drop(p, r);
	}
	pthread_mutex_unlock(&p->lock);
}

unsigned ports_in_use(struct ports *p, uint8_t family)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->used[family == TW_AF_INET6];
	pthread_mutex_unlock(&p->lock);
	return n;
}
