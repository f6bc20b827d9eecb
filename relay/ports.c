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

#define MAX_RESERVED 1024
#define RELAY_RCVBUF (1 << 20)

struct reservation {
	uint64_t token;
	uint64_t expires_ms;
	int fd;
	struct tw_addr bound;
};

struct ports {
	pthread_mutex_t lock;
	uint16_t min, max;
	uint32_t cursor[2];
	unsigned used[2];
	uint8_t map[2][65536 / 8]; /* [0] IPv4, [1] IPv6 */
	unsigned n_res;
	struct reservation res[MAX_RESERVED];
};

static int fam_idx(const struct tw_addr *a)
{
	return a->family == TW_AF_INET6;
}

static bool is_used(struct ports *p, int f, unsigned port)
{
	return p->map[f][port / 8] & (1u << (port % 8));
}

static void set_used(struct ports *p, int f, unsigned port, bool used)
{
	if (used && !is_used(p, f, port)) {
		p->map[f][port / 8] |= (uint8_t)(1u << (port % 8));
		p->used[f]++;
	} else if (!used && is_used(p, f, port)) {
		p->map[f][port / 8] &= (uint8_t) ~(1u << (port % 8));
		p->used[f]--;
	}
}

struct ports *ports_new(uint16_t min, uint16_t max, uint32_t seed)
{
	struct ports *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->min = min;
	p->max = max;
	/* Start somewhere unpredictable, then walk: spreads ports, no rescans. */
	p->cursor[0] = seed % ((unsigned)max - min + 1);
	p->cursor[1] = (seed >> 16) % ((unsigned)max - min + 1);
	return p;
}

void ports_free(struct ports *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n_res; i++)
		close(p->res[i].fd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int sock_bind(const struct tw_addr *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct tw_addr a = *ip;
	socklen_t sl;
	int fd, one = 1, rcvbuf = RELAY_RCVBUF;

	fd = socket(netaddr_family(ip), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ip->family == TW_AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* A standby binds the VIP before it holds it (DESIGN decision 2). */
	netaddr_nonlocal(fd, ip, true);
	/* The kernel's 208 KiB default is ~25 ms of a busy flow: too little to ride
	 * out a worker's scheduling hiccup. It costs nothing until used. FORCE
	 * passes net.core.rmem_max when we hold CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	a.port = port;
	sl = netaddr_to_sa(&a, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Tries free ports from the cursor on; marks ports the kernel says are busy. */
int ports_open(struct ports *p, const struct tw_addr *ip, bool even, bool reserve, uint64_t *token,
               struct tw_addr *bound, uint64_t now_ms)
{
	unsigned span = (unsigned)p->max - p->min + 1;
	int f = fam_idx(ip), fd = -EADDRNOTAVAIL, fd2 = -1;
	unsigned tries;

	pthread_mutex_lock(&p->lock);
	if (reserve && p->n_res >= MAX_RESERVED) {
		fd = -ENOSPC;
		goto done;
	}
	for (tries = 0; tries < span; tries++) {
		unsigned port = p->min + (p->cursor[f]++ % span);

		if (is_used(p, f, port))
			continue;
		if ((even || reserve) && (port & 1))
			continue;
		if (reserve && (port + 1 > p->max || is_used(p, f, port + 1)))
			continue;
		fd = sock_bind(ip, (uint16_t)port);
		if (fd == -EADDRINUSE) {
			set_used(p, f, port, true); /* someone else has it; skip it from now on */
			fd = -EADDRNOTAVAIL;
			continue;
		}
		if (fd < 0)
			goto done;
		if (reserve) {
			fd2 = sock_bind(ip, (uint16_t)(port + 1));
			if (fd2 < 0) {
				close(fd);
				fd = -EADDRNOTAVAIL;
				continue;
			}
			struct reservation *r = &p->res[p->n_res++];

			if (getrandom(&r->token, sizeof(r->token), 0) != sizeof(r->token))
				r->token = ((uint64_t)rand() << 32) ^ (uint64_t)rand() ^ now_ms;
			r->fd = fd2;
			r->expires_ms = now_ms + PORTS_RESERVE_MS;
			r->bound = *ip;
			r->bound.port = (uint16_t)(port + 1);
			*token = r->token;
			set_used(p, f, port + 1, true);
		}
		set_used(p, f, port, true);
		*bound = *ip;
		bound->port = (uint16_t)port;
		goto done;
	}
done:
	pthread_mutex_unlock(&p->lock);
	return fd;
}

int ports_bind(struct ports *p, const struct tw_addr *bound)
{
	int f = fam_idx(bound), fd;

	pthread_mutex_lock(&p->lock);
	if (is_used(p, f, bound->port)) {
		fd = -EADDRINUSE;
		goto done;
	}
	fd = sock_bind(bound, bound->port);
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
		p->res[i] = p->res[--p->n_res];
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
		*r = p->res[--p->n_res];
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
