/*
 * The engine's ops on the real world: a connected UDP socket per flow and
 * its libevent events, the TUN device, the monotonic clock, OpenSSL's
 * random bytes, stdout.
 */
#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/tc_client.h"
#include "common/clock.h"

struct tc_io_flow {
	int fd;
	struct event *rd, *rtx;
};

static uint8_t rxbuf[TC_MAX_PKT];

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct tc_flow *f = arg;

	(void)what;
	/* Bounded, so the TUN and the other flows get their turn. */
	for (int i = 0; i < 64 && !f->dead && !f->c->exit_code; i++) {
		ssize_t n = recv(fd, rxbuf, sizeof(rxbuf), 0);

		if (n < 0)
			break; /* EAGAIN, or an ICMP error on the connected socket */
		tc_flow_input(f, rxbuf, (size_t)n);
	}
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
	int err;

	if (!io)
		return -ENOMEM;
	f->io = io;
	io->fd = socket(c->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (io->fd < 0 || connect(io->fd, (struct sockaddr *)&c->server, c->server_len) < 0)
		goto bad;
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

	return send(io->fd, p, len, 0) < 0 ? -errno : 0;
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
	return write(c->tun.fd, p, len) < 0 ? -errno : 0;
}

static uint64_t io_now_ms(struct tc_client *c)
{
	(void)c;
	return clock_mono_ms();
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
};
