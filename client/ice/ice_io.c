/*
 * ice.h on libevent: the sockets (UDP host sockets, the TURN server's UDP
 * socket or TCP stream), the Ta timer, and struct ice_io_ops for the engine.
 * The only file of the agent that includes socket or event headers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/ice/ice_core.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/chdata.h"

#define IO_MAX_SOCKS  (ICE_MAX_BASES + ICE_COMP_MAX)
#define TCP_FRAME_MAX (STUN_HDR_LEN + 65535 + 4)

struct io_sock {
	struct ice_agent *a;
	int fd;
	struct event *ev;
	struct bufferevent *bev; /* TURN over TCP */
	int base;                /* host socket: its base; -1 for a TURN socket */
	int turn;                /* TURN socket: the TURN index; else -1 */
};

struct ice_io {
	struct event_base *eb;
	struct event *tick;
	struct io_sock sock[IO_MAX_SOCKS];
	size_t nsock;
};

static struct ice_io *io_of(struct ice_agent *a)
{
	return a->evio;
}

static int io_send(void *ctx, int sock, const struct tw_addr *dst, const void *buf, size_t len)
{
	struct ice_io *io = io_of(ctx);
	struct io_sock *s = &io->sock[sock];
	struct sockaddr_storage ss;
	socklen_t sl;

	if (s->bev)
		return bufferevent_write(s->bev, buf, len) == 0 ? 0 : -EIO;
	sl = tw_addr_to_sa(dst, &ss);
	if (sendto(s->fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

static void io_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	if (RAND_bytes(buf, (int)len) != 1)
		fatal("RAND_bytes failed");
}

static uint64_t io_now(void *ctx)
{
	(void)ctx;
	return clock_mono_ms();
}

static int io_reconnect(void *ctx, int sock, const struct tw_addr *dst);

static const struct ice_io_ops io_ops = {io_send, io_random, io_now, io_reconnect};

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct io_sock *s = arg;
	uint8_t buf[2048];
	struct sockaddr_storage ss;
	struct tw_addr from;
	(void)what;

	for (int i = 0; i < 64; i++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return;
		if (tw_addr_from_sa((struct sockaddr *)&ss, &from) < 0)
			continue;
		if (s->turn >= 0) {
			if (tw_addr_eq(&from, &s->a->turn[s->turn].server))
				ice_core_turn_recv(s->a, s->turn, buf, (size_t)n);
		} else {
			ice_core_recv(s->a, s->base, &from, buf, (size_t)n);
		}
	}
}

/* RFC 8656 §11.7 / RFC 6062: STUN and ChannelData back to back on the stream. */
static long tcp_frame_len(const uint8_t *h)
{
	uint16_t l = (uint16_t)(h[2] << 8 | h[3]);

	if ((h[0] & 0xc0) == 0)
		return STUN_HDR_LEN + (long)l;
	if ((h[0] & 0xc0) == 0x40)
		return CHDATA_HDR_LEN + (long)l + (long)chdata_pad(l, true);
	return -1;
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct io_sock *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t h[4];

	while (evbuffer_get_length(in) >= 4) {
		long n;

		evbuffer_copyout(in, h, 4);
		n = tcp_frame_len(h);
		if (n < 0) {
			log_warn("ice: garbage on the TURN TCP stream; closing it");
			bufferevent_disable(bev, EV_READ);
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		if (evbuffer_get_length(in) < (size_t)n)
			return;
		ice_core_turn_recv(s->a, s->turn, evbuffer_pullup(in, n), (size_t)n);
		evbuffer_drain(in, (size_t)n);
	}
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		log_warn("ice: the TURN TCP connection %s",
		         what & BEV_EVENT_EOF ? "closed" : "failed");
}

/* A slot a closed socket left (s->a NULL), else a new one. */
static struct io_sock *sock_new(struct ice_agent *a)
{
	struct ice_io *io = io_of(a);
	struct io_sock *s = NULL;

	for (size_t i = 0; i < io->nsock && !s; i++)
		if (!io->sock[i].a)
			s = &io->sock[i];
	if (!s && io->nsock == IO_MAX_SOCKS)
		return NULL;
	if (!s)
		s = &io->sock[io->nsock++];
	memset(s, 0, sizeof(*s));
	s->a = a;
	s->fd = -1;
	s->base = -1;
	s->turn = -1;
	return s;
}

static void sock_close(struct io_sock *s)
{
	if (s->ev)
		event_free(s->ev);
	if (s->bev)
		bufferevent_free(s->bev);
	else if (s->fd >= 0)
		close(s->fd);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

static int tcp_connect(struct ice_agent *a, struct io_sock *s, const struct tw_addr *srv)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	s->bev = bufferevent_socket_new(io_of(a)->eb, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev)
		return -ENOMEM;
	bufferevent_setcb(s->bev, on_tcp_read, NULL, on_tcp_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	sl = tw_addr_to_sa(srv, &ss);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, (int)sl) < 0)
		return -ECONNREFUSED;
	return 0;
}

/* A TURN redirect over TCP: the stream to the old server ends, one to dst starts. */
static int io_reconnect(void *ctx, int sock, const struct tw_addr *dst)
{
	struct io_sock *s = &io_of(ctx)->sock[sock];

	if (!s->bev)
		return 0;
	bufferevent_free(s->bev);
	s->bev = NULL;
	return tcp_connect(ctx, s, dst);
}

static int udp_open(struct ice_agent *a, const struct tw_addr *bind_to, struct io_sock **out)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct io_sock *s = sock_new(a);
	int rc;

	if (!s)
		return -ENOSPC;
	sl = tw_addr_to_sa(bind_to, &ss);
	s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&ss, sl) < 0) {
		rc = -errno;
		goto bad;
	}
	s->ev = event_new(io_of(a)->eb, s->fd, EV_READ | EV_PERSIST, on_udp, s);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		rc = -ENOMEM;
		goto bad;
	}
	*out = s;
	return 0;
bad:
	sock_close(s); /* the slot is free again: a regather may retry */
	return rc;
}

static int host_open(struct ice_agent *a, const struct tw_addr *addr, uint8_t comp)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct tw_addr bound;
	struct io_sock *s;
	char b[TW_ADDR_STRLEN];
	int rc = udp_open(a, addr, &s);

	if (rc < 0) {
		log_warn("ice: host socket on %s: %s", tw_addr_fmt(addr, b, sizeof(b)),
		         strerror(-rc));
		return rc;
	}
	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    tw_addr_from_sa((struct sockaddr *)&ss, &bound) < 0)
		rc = -EADDRNOTAVAIL;
	else
		rc = ice_core_add_host(a, (int)(s - io_of(a)->sock), comp, &bound);
	if (rc < 0) {
		sock_close(s);
		return rc;
	}
	s->base = rc;
	return 0;
}

static int turn_open(struct ice_agent *a, uint8_t comp)
{
	const struct tw_addr *srv = &a->cfg.turn_server;
	struct tw_addr any = {.family = srv->family};
	struct io_sock *s;
	int rc;

	if (a->cfg.turn_transport == ICE_TURN_UDP) {
		rc = udp_open(a, &any, &s);
		if (rc < 0)
			return rc;
	} else {
		s = sock_new(a);
		if (!s)
			return -ENOSPC;
		rc = tcp_connect(a, s, srv);
		if (rc < 0)
			return rc;
	}
	s->turn = ice_core_add_turn(a, (int)(s - io_of(a)->sock), comp,
	                            a->cfg.turn_transport == ICE_TURN_TCP);
	return s->turn < 0 ? s->turn : 0;
}

static bool addr_usable(const struct ifaddrs *ifa, struct tw_addr *out)
{
	if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP) || (ifa->ifa_flags & IFF_LOOPBACK))
		return false;
	if (tw_addr_from_sa(ifa->ifa_addr, out) < 0)
		return false;
	/* link-local IPv6 needs a scope the candidate line cannot carry */
	return !(out->family == TW_AF_INET6 && out->ip[0] == 0xfe && (out->ip[1] & 0xc0) == 0x80);
}

size_t ice_host_addrs(struct tw_addr *out, size_t cap)
{
	struct ifaddrs *ifs, *ifa;
	size_t n = 0;

	if (getifaddrs(&ifs) < 0)
		return 0;
	for (ifa = ifs; ifa && n < cap; ifa = ifa->ifa_next)
		if (addr_usable(ifa, &out[n]))
			out[n++].port = 0;
	freeifaddrs(ifs);
	return n;
}

static size_t host_addrs(const struct ice_agent *a, struct tw_addr *out, size_t cap)
{
	size_t n = 0;

	if (!a->cfg.nhost)
		return ice_host_addrs(out, cap);
	for (size_t i = 0; i < a->cfg.nhost && n < cap; i++)
		out[n++] = a->cfg.host[i];
	return n;
}

int ice_gather(struct ice_agent *a)
{
	struct tw_addr addrs[ICE_MAX_HOST_ADDRS];
	size_t n = a->cfg.relay_only ? 0 : host_addrs(a, addrs, ICE_MAX_HOST_ADDRS);

	if (a->state != ICE_NEW)
		return -EALREADY;
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++) {
		for (size_t i = 0; i < n; i++)
			host_open(a, &addrs[i], c);
		if (a->cfg.turn_server.family && turn_open(a, c) < 0)
			log_warn("ice: no socket to the TURN server for component %u", c);
	}
	ice_core_gather(a);
	return 0;
}

static bool same_ip(const struct tw_addr *x, const struct tw_addr *y)
{
	return x->family == y->family &&
	       memcmp(x->ip, y->ip, x->family == TW_AF_INET6 ? 16 : 4) == 0;
}

static bool have_host(const struct ice_agent *a, const struct tw_addr *ip, uint8_t comp)
{
	for (size_t i = 0; i < a->nbase; i++) {
		const struct ice_base *b = &a->base[i];

		if (!b->relay && !b->gone && !b->free && b->comp == comp && same_ip(&b->addr, ip))
			return true;
	}
	return false;
}

static bool listed(const struct tw_addr *ip, const struct tw_addr *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (same_ip(ip, &addrs[i]))
			return true;
	return false;
}

int ice_regather(struct ice_agent *a)
{
	struct ice_io *io = io_of(a);
	struct tw_addr addrs[ICE_MAX_HOST_ADDRS];
	size_t n = a->cfg.relay_only ? 0 : host_addrs(a, addrs, ICE_MAX_HOST_ADDRS);

	if (a->have_remote)
		return -EBUSY;
	for (size_t i = 0; i < io->nsock; i++) {
		struct io_sock *s = &io->sock[i];

		if (s->a && s->base >= 0 && !listed(&a->base[s->base].addr, addrs, n) &&
		    ice_core_drop_host(a, s->base))
			sock_close(s);
	}
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++)
		for (size_t i = 0; i < n; i++)
			if (!have_host(a, &addrs[i], c))
				host_open(a, &addrs[i], c);
	return ice_core_regather(a);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ice_core_tick(arg);
}

struct ice_agent *ice_agent_new(struct event_base *eb, const struct ice_config *cfg)
{
	struct ice_agent *a = calloc(1, sizeof(*a));
	struct ice_io *io = calloc(1, sizeof(*io));
	struct timeval tv;

	if (!a || !io)
		goto bad;
	if (ice_core_init(a, cfg, &io_ops, a) < 0)
		goto bad;
	a->evio = io;
	io->eb = eb;
	tv.tv_sec = a->cfg.ta_ms / 1000;
	tv.tv_usec = (a->cfg.ta_ms % 1000) * 1000;
	io->tick = event_new(eb, -1, EV_PERSIST, on_tick, a);
	if (!io->tick || event_add(io->tick, &tv) < 0)
		goto bad;
	return a;
bad:
	if (io && io->tick)
		event_free(io->tick);
	free(io);
	free(a);
	return NULL;
}

void ice_agent_free(struct ice_agent *a)
{
	struct ice_io *io;

	if (!a)
		return;
	io = a->evio;
	ice_core_close(a);
	for (size_t i = 0; i < io->nsock; i++)
		if (io->sock[i].a)
			sock_close(&io->sock[i]);
	if (io->tick)
		event_free(io->tick);
	free(io);
	free(a);
}
