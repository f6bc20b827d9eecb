/*
 * The engine's ops on the real world: a connected UDP socket per flow and
 * its libevent events, the TUN device, the monotonic clock, OpenSSL's
 * random bytes, stdout.
 */
#include <endian.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client/tc_client.h"
#include "common/clock.h"
#include "common/udp_gso.h"
#include "proto/cursor.h"
#include "proto/tso.h"
#include "proto/tso_gather.h"
#include "proto/twist.h"

struct tc_io_flow {
	int fd;
	struct event *rd, *rtx;
};

/* A relay's UDP GSO burst, read whole (UDP_GRO); 64 KB is the most one can be. */
#define RX_GRO_BUF 65536
static uint8_t rxbuf[RX_GRO_BUF > TC_MAX_PKT ? RX_GRO_BUF : TC_MAX_PKT];

/*
 * UDP GSO (UDP_SEGMENT): while the TUN is drained, one flow's segments of
 * one size are gathered and go out in one sendmsg; the kernel cuts them
 * into the same bare datagrams it would have sent one by one (all of the
 * size, the last one shorter or equal), so the wire does not change.
 */
#define GSO_MAX_SEGS 64
#define GSO_MAX_LEN  65000

static struct {
	struct tc_flow *f; /* NULL while empty */
	size_t seg, n, len;
	bool closed; /* the last segment was shorter: nothing may follow */
	uint8_t buf[GSO_MAX_LEN];
} gso;
static bool gso_batching, gso_off;
/* While the TUN is drained (at most 64 reads), one reading of the clock serves. */
static uint64_t drain_now_ms;

static void gso_flush(void)
{
	struct tc_flow *f = gso.f;
	struct tc_io_flow *io;
	int ret;

	if (!f)
		return;
	io = f->io;
	ret = udp_send_segs(io->fd, gso.buf, gso.len, gso.seg, &gso_off);
	if (ret < 0)
		f->c->st.drops[TC_DROP_SEND] += gso.n;
	gso.f = NULL;
	gso.n = gso.len = 0;
	gso.closed = false;
}

static bool gso_fits(const struct tc_flow *f, size_t len)
{
	return gso.f == f && !gso.closed && len <= gso.seg && gso.n < GSO_MAX_SEGS &&
	       gso.len + len <= GSO_MAX_LEN;
}

/*
 * TUN writes. While a flow's socket is drained (on_read), packets go
 * through the gatherer (proto/tso_gather.c): a relay's burst of one
 * connection's segments reaches the host's TCP as one TSO super-packet.
 * Anything else is written at once, after what is held.
 */
static struct tso_gather *tun_gather;
static bool rx_batching;

static int tun_flush(struct tc_client *c)
{
	return tun_gather ? tso_gather_flush(tun_gather, c->tun.fd) : 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct tc_flow *f = arg;
	struct tc_io_flow *io = f->io;

	(void)what;
	rx_batching = true;
	/* Bounded, so the TUN and the other flows get their turn; a flow that
	 * moved to a new socket (reopened, redirected) is done with this one. */
	for (int i = 0; i < 64 && !f->dead && !f->c->exit_code && f->io == io; i++) {
		size_t seg;
		ssize_t n = udp_recv_gro(fd, rxbuf, sizeof(rxbuf), NULL, &seg);

		if (n == -EMSGSIZE)
			continue; /* more than a UDP datagram can carry: not the relay */
		if (n < 0) {
			/* An ICMP error on the connected socket: the server is gone. */
			if (tc_server_gone((int)n))
				tc_flow_sock_error(f, (int)n);
			break;
		}
		/* Coalesced datagrams (UDP_GRO) are cut at the size the kernel gives. */
		for (size_t off = 0; off < (size_t)n && !f->dead && f->io == io; off += seg)
			tc_flow_input(f, rxbuf + off,
			              (size_t)n - off < seg ? (size_t)n - off : seg);
	}
	rx_batching = false;
	if (tun_flush(f->c) < 0)
		f->c->st.drops[TC_DROP_SEND]++;
	if (f->dead)
		tc_flow_free(f);
}

static void on_rtx(evutil_socket_t fd, short what, void *arg)
{
	struct tc_flow *f = arg;

	(void)fd;
	(void)what;
	tc_flow_rtx(f);
	if (f->dead)
		tc_flow_free(f);
}

static void io_close(struct tc_flow *f)
{
	struct tc_io_flow *io = f->io;

	if (!io)
		return;
	if (gso.f == f)
		gso_flush();
	if (io->rd)
		event_free(io->rd);
	if (io->rtx)
		event_free(io->rtx);
	if (io->fd >= 0)
		close(io->fd);
	free(io);
	f->io = NULL;
}

static int io_open(struct tc_flow *f)
{
	struct tc_client *c = f->c;
	struct tc_io_flow *io = calloc(1, sizeof(*io));
	int err, rcvbuf = 4 << 20;

	if (!io)
		return -ENOMEM;
	f->io = io;
	io->fd = socket(c->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (io->fd < 0 || connect(io->fd, (struct sockaddr *)&c->server, c->server_len) < 0)
		goto bad;
	/* The relay's bursts of segments for a download; best effort (FORCE wants CAP_NET_ADMIN).
	 */
	if (setsockopt(io->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(io->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* Its bursts arrive as one read each (on_read); best effort too. */
	(void)udp_gro_on(io->fd);
	io->rd = event_new(c->base, io->fd, EV_READ | EV_PERSIST, on_read, f);
	io->rtx = evtimer_new(c->base, on_rtx, f);
	if (!io->rd || !io->rtx || event_add(io->rd, NULL) < 0)
		goto bad;
	return 0;
bad:
	err = errno ? -errno : -ENOMEM;
	io_close(f);
	return err;
}

static int io_send(struct tc_flow *f, const uint8_t *p, size_t len)
{
	struct tc_io_flow *io = f->io;

	if (gso.f && !gso_fits(f, len))
		gso_flush();
	if (!gso_batching || len > GSO_MAX_LEN)
		return send(io->fd, p, len, 0) < 0 ? -errno : 0;
	if (!gso.f) {
		gso.f = f;
		gso.seg = len;
	}
	memcpy(gso.buf + gso.len, p, len);
	gso.len += len;
	gso.n++;
	gso.closed = len < gso.seg;
	return 0;
}

static void io_timer(struct tc_flow *f, unsigned ms)
{
	struct tc_io_flow *io = f->io;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (ms)
		evtimer_add(io->rtx, &tv);
	else
		evtimer_del(io->rtx);
}

static int io_tun_write(struct tc_client *c, const uint8_t *p, size_t len)
{
	/* All zero: one whole packet, its checksum done (tc_pkt_in). */
	struct virtio_net_hdr vh = {0};
	struct iovec iov[2] = {{&vh, sizeof(vh)}, {(void *)p, len}};
	struct twist_ip ip;
	int ret;

	if (!c->tun.vnet)
		return write(c->tun.fd, p, len) < 0 ? -errno : 0;
	if (rx_batching && !tun_gather)
		tun_gather = tso_gather_new();
	if (rx_batching && tun_gather && twist_ip_parse(p, len, &ip) == 0 &&
	    (size_t)(ip.seg - p) + ip.seg_len == len)
		return tso_gather_put(tun_gather, c->tun.fd, c, &ip.src, &ip.dst, ip.proto, ip.seg,
		                      ip.seg_len);
	ret = tun_flush(c);
	return writev(c->tun.fd, iov, 2) < 0 ? -errno : ret;
}

/*
 * A TCP super-packet from the host's TSO becomes the MSS-sized packets its
 * TCP would have sent without it (proto/tso.c, in place). The IP header's
 * length is set for the engine's parser; its checksum is not, as the IP
 * header goes no further; the TCP checksum is made whole by tc_pkt_out().
 */
static int tun_seg(void *ctx, uint8_t *pkt, size_t len, size_t iphl, int last)
{
	struct tc_client *c = ctx;

	(void)iphl;
	(void)last;
	tc_data_from_tun(c, pkt, len);
	return c->exit_code;
}

static void tun_cut(struct tc_client *c, uint8_t *pkt, size_t len, size_t mss)
{
	if (tso_cut(pkt, len, mss, tun_seg, c) == -EINVAL)
		c->st.drops[TC_DROP_NOT_IP]++;
}

static void tun_input(struct tc_client *c, uint8_t *buf, size_t n)
{
	struct virtio_net_hdr vh;

	if (!c->tun.vnet) {
		tc_data_from_tun(c, buf, n);
		return;
	}
	if (n < sizeof(vh)) {
		c->st.drops[TC_DROP_NOT_IP]++;
		return;
	}
	memcpy(&vh, buf, sizeof(vh));
	buf += sizeof(vh);
	n -= sizeof(vh);
	/* NEEDS_CSUM alone needs nothing: tc_pkt_out() makes every checksum whole. */
	switch (vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		tc_data_from_tun(c, buf, n);
		return;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		tun_cut(c, buf, n, le16toh(vh.gso_size));
		return;
	default:
		c->st.drops[TC_DROP_NOT_IP]++;
	}
}

void tc_io_tun_drain(struct tc_client *c)
{
	static uint8_t buf[sizeof(struct virtio_net_hdr) + TC_MAX_PKT];

	drain_now_ms = clock_mono_ms();
	gso_batching = true;
	/* Bounded, so the flows' sockets get their turn under load. */
	for (int i = 0; i < 64 && !c->exit_code; i++) {
		ssize_t n = read(c->tun.fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		tun_input(c, buf, (size_t)n);
	}
	gso_batching = false;
	gso_flush();
}

static uint64_t io_now_ms(struct tc_client *c)
{
	(void)c;
	return gso_batching ? drain_now_ms : clock_mono_ms();
}

static int io_random(uint8_t *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -EIO;
}

static void io_announce(struct tc_client *c, const char *line)
{
	(void)c;
	printf("%s\n", line);
	fflush(stdout);
}

static void io_stop(struct tc_client *c)
{
	event_base_loopexit(c->base, NULL);
}

static int io_server_set(struct tc_client *c, const struct tw_addr *a)
{
	if (a->family != TW_AF_INET && a->family != TW_AF_INET6)
		return -EAFNOSUPPORT;
	c->server_len = tw_addr_to_sa(a, &c->server);
	c->server_addr = *a;
	return 0;
}

const struct tc_ops tc_io_ops = {
        .open = io_open,
        .close = io_close,
        .send = io_send,
        .timer = io_timer,
        .tun_write = io_tun_write,
        .now_ms = io_now_ms,
        .random = io_random,
        .announce = io_announce,
        .stop = io_stop,
        .server_set = io_server_set,
};
