/*
 * keepalived's notify_fifo. Opened read-write, so that keepalived closing
 * its end (restart, reload) is not an end of file to us. keepalived may also
 * remove and recreate the FIFO: each tick compares the path's inode with
 * ours and reopens when they differ.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "ha/ha.h"

static bool follows(const struct ha *h, const struct notify_event *ev)
{
	if (h->cfg.group)
		return ev->kind == NOTIFY_GROUP && strcmp(ev->name, h->cfg.group) == 0;
	if (ev->kind != NOTIFY_INSTANCE)
		return false;
	return !h->cfg.instance || strcmp(ev->name, h->cfg.instance) == 0;
}

void ha_notify_line(const uint8_t *line, size_t len, void *arg)
{
	struct ha *h = arg;
	struct notify_event ev;
	char why[NOTIFY_NAME_MAX + 64];
	int rc;

	rc = notify_parse(line, len, &ev);
	if (rc == -ENOMSG) {
		h->lines_ignored++;
		return;
	}
	if (rc < 0) {
		h->lines_bad++;
		if (log_ratelimit(&h->last_bad_log_ms, clock_mono_ms(), 1000))
			log_warn("notify_fifo: malformed line of %zu bytes dropped (%llu so far; "
			         "logged once a second)",
			         len, (unsigned long long)h->lines_bad);
		return;
	}
	if (!follows(h, &ev)) {
		h->lines_other++;
		log_debug("notify_fifo: %s \"%s\" %s: not ours", notify_kind_name(ev.kind), ev.name,
		          vrrp_state_name(ev.state));
		return;
	}
	h->lines_ok++;
	h->priority = ev.priority;
	h->vrrp_seen = ev.state;
	h->have_vrrp_seen = true;
	snprintf(why, sizeof(why), "%s \"%s\" %s %u", notify_kind_name(ev.kind), ev.name,
	         vrrp_state_name(ev.state), ev.priority);
	log_debug("notify_fifo: %s", why);
	ha_change_state(h, ha_state_next(h->state, ev.state), why);
}

static void on_fifo(evutil_socket_t fd, short what, void *arg)
{
	struct ha *h = arg;
	uint8_t buf[4096];

	(void)what;
	/* Bounded: a writer that never stops cannot starve the health checks. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			notify_lines_feed(&h->lines, buf, (size_t)n, ha_notify_line, h);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			log_warn("notify_fifo: read: %s", strerror(errno));
		break;
	}
}

int ha_fifo_open(struct ha *h)
{
	struct stat st;
	int fd;

	if (mkfifo(h->cfg.fifo_path, 0600) < 0 && errno != EEXIST)
		return -errno;
	fd = open(h->cfg.fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return -ENOTSUP;
	}
	h->ev_fifo = event_new(h->base, fd, EV_READ | EV_PERSIST, on_fifo, h);
	if (!h->ev_fifo || event_add(h->ev_fifo, NULL) < 0) {
		event_free(h->ev_fifo);
		h->ev_fifo = NULL;
		close(fd);
		return -ENOMEM;
	}
	h->fifo_fd = fd;
	h->fifo_dev = st.st_dev;
	h->fifo_ino = st.st_ino;
	notify_lines_init(&h->lines);
	return 0;
}

void ha_fifo_close(struct ha *h)
{
	/* The line assembly starts afresh on reopen; the counter must not go back. */
	h->overlong_closed += h->lines.overlong;
	h->lines.overlong = 0;
	if (h->ev_fifo)
		event_free(h->ev_fifo);
	h->ev_fifo = NULL;
	if (h->fifo_fd >= 0)
		close(h->fifo_fd);
	h->fifo_fd = -1;
}

void ha_fifo_check(struct ha *h)
{
	static uint64_t last_log;
	struct stat st;
	int rc;

	if (h->fifo_fd >= 0 && stat(h->cfg.fifo_path, &st) == 0 && st.st_dev == h->fifo_dev &&
	    st.st_ino == h->fifo_ino)
		return;
	if (h->fifo_fd >= 0)
		log_info("notify_fifo %s was replaced: reopening", h->cfg.fifo_path);
	ha_fifo_close(h);
	rc = ha_fifo_open(h);
	if (rc < 0 && log_ratelimit(&last_log, clock_mono_ms(), 5000))
		log_err("cannot open notify_fifo %s: %s", h->cfg.fifo_path, strerror(-rc));
}
