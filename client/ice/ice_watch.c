/*
 * Address watching for a moving node (twist-ice): rtnetlink tells us at
 * once that an interface address came or went (RTMGRP_IPV4_IFADDR,
 * RTMGRP_IPV6_IFADDR, and link changes), so a move is noticed without a
 * polling delay; the messages are not parsed, only drained, and the
 * caller compares the address set itself (getifaddrs) once they settle.
 * A move is several messages (link down, address deleted, address added,
 * link up), hence the short quiet time before the callback.
 */
#include <errno.h>
#include <event2/event.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/ice/ice.h"
#include "common/clock.h"
#include "common/log.h"

#define WATCH_QUIET_MS 50

struct ice_watch {
	int fd;
	struct event *ev, *quiet;
	void (*cb)(void *arg);
	void *arg;
	uint64_t first_ms; /* the first message since the last callback; 0: none */
};

static void on_quiet(evutil_socket_t fd, short what, void *arg)
{
	struct ice_watch *w = arg;
	(void)fd;
	(void)what;
	w->cb(w->arg);
	w->first_ms = 0;
}

uint64_t ice_watch_first_ms(const struct ice_watch *w)
{
	return w->first_ms;
}

static void on_netlink(evutil_socket_t fd, short what, void *arg)
{
	struct ice_watch *w = arg;
	struct timeval tv = {0, WATCH_QUIET_MS * 1000};
	char buf[8192];
	(void)what;

	if (!w->first_ms)
		w->first_ms = clock_mono_ms();
	/* bounded: a burst larger than this is read on the next wakeup */
	for (int i = 0; i < 64; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break; /* EAGAIN, or ENOBUFS: messages lost, the set is read anyway */
	event_add(w->quiet, &tv);
}

struct ice_watch *ice_watch_new(struct event_base *eb, void (*cb)(void *arg), void *arg)
{
	struct sockaddr_nl sa = {
	        .nl_family = AF_NETLINK,
	        .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_LINK,
	};
	struct ice_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cb = cb;
	w->arg = arg;
	w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_warn("ice: no rtnetlink socket: %s", strerror(errno));
		goto bad;
	}
	w->ev = event_new(eb, w->fd, EV_READ | EV_PERSIST, on_netlink, w);
	w->quiet = evtimer_new(eb, on_quiet, w);
	if (!w->ev || !w->quiet || event_add(w->ev, NULL) < 0)
		goto bad;
	return w;
bad:
	ice_watch_free(w);
	return NULL;
}

void ice_watch_free(struct ice_watch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->quiet)
		event_free(w->quiet);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}
