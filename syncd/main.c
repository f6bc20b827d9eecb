/*
 * twist-syncd: replicates the relay's flow tuples to the other node of an
 * HA pair (DESIGN "Data flow", decisions 4, 5 and 7; docs/sync-protocol.md).
 * One thread, one libevent loop: the relay ipc, the peer link, the role
 * file, the metrics server and the session's timers all run on it.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "syncd/link.h"
#include "syncd/local.h"
#include "syncd/metrics.h"
#include "syncd/options.h"
#include "syncd/role.h"
#include "syncd/session.h"

#define ROLE_POLL_US 100000 /* the role file is checked this often */

struct syncd {
	struct options *opt;
	struct event_base *base;
	struct table *table;
	struct session *sess;
	struct sync_stats st;
	struct link *link;
	struct local *local;
	struct role *role;
	struct metrics_http *metrics;
	struct metrics_src msrc; /* what the metrics pages read */
	struct event *ev_timer, *ev_role, *ev_term, *ev_int, *ev_hup;
};

/* After any input or timer: let the session act, send, and sleep until it needs us. */
static void kick(struct syncd *d)
{
	uint64_t now = clock_mono_us(), next;
	struct timeval tv;

	session_run(d->sess, now);
	if (local_take_lost(d->local)) {
		log_warn("relay ipc: messages for the relay were dropped; sending the whole table");
		session_relay_dump(d->sess, now);
	}
	local_flush(d->local);
	link_want_write(d->link, session_wants_write(d->sess));
	next = session_next_run(d->sess, now);
	next = next > now ? next - now : 0;
	if (next > 1000000)
		next = 1000000;
	tv.tv_sec = (time_t)(next / 1000000);
	tv.tv_usec = (suseconds_t)(next % 1000000);
	event_add(d->ev_timer, &tv);
}

static int ops_peer_send(void *arg, const uint8_t *buf, size_t len)
{
	struct syncd *d = arg;

	return link_send(d->link, buf, len);
}

static void ops_relay_flow(void *arg, const Twist__Flow *f)
{
	struct syncd *d = arg;

	local_flow(d->local, f);
}

static void ops_relay_tokens(void *arg, const uint64_t *tokens, size_t n)
{
	struct syncd *d = arg;

	local_tokens(d->local, tokens, n);
}

static void ops_relay_dump_end(void *arg)
{
	struct syncd *d = arg;

	local_dump_end(d->local);
}

static void ops_relay_synced(void *arg, bool synced)
{
	struct syncd *d = arg;

	local_synced(d->local, synced);
}

static void on_peer_input(void *arg, const uint8_t *buf, size_t len)
{
	struct syncd *d = arg;

	session_peer_input(d->sess, buf, len, clock_mono_us());
}

static void on_peer_writable(void *arg)
{
	struct syncd *d = arg;

	session_tx_ready(d->sess, clock_mono_us());
	kick(d);
}

static void on_local_input(void *arg, Twist__Local *m)
{
	struct syncd *d = arg;

	session_local_input(d->sess, m, clock_mono_us());
}

static void on_dump_asked(void *arg)
{
	struct syncd *d = arg;

	session_dump_asked(d->sess, clock_mono_us());
}

static void on_drained(void *arg)
{
	kick(arg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kick(arg);
}

static void role_apply(struct syncd *d, bool force)
{
	session_set_master(d->sess, role_check(d->role, force), clock_mono_us());
}

static void role_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	role_apply(arg, false);
	kick(arg);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct syncd *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reading the role file again");
		role_apply(d, true);
		kick(d);
		return;
	}
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(d->base);
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	while (v == 0)
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			fatal("getrandom: %s", strerror(errno));
	return v;
}

static struct event_base *base_new(void)
{
	struct event_config *c = event_config_new();
	struct event_base *b;

	if (!c)
		return NULL;
	/* Sub-millisecond batch and ACK timers: the lag budget is 5 ms. */
	event_config_set_flag(c, EVENT_BASE_FLAG_PRECISE_TIMER);
	b = event_base_new_with_config(c);
	event_config_free(c);
	return b;
}

static int start(struct syncd *d)
{
	struct options *o = d->opt;
	struct timeval poll = {0, ROLE_POLL_US};
	const struct session_ops sops = {
	        .peer_send = ops_peer_send,
	        .relay_flow = ops_relay_flow,
	        .relay_tokens = ops_relay_tokens,
	        .relay_dump_end = ops_relay_dump_end,
	        .relay_synced = ops_relay_synced,
	        .arg = d,
	};
	const struct link_ops lops = {.input = on_peer_input,
	                              .drained = on_drained,
	                              .writable = on_peer_writable,
	                              .arg = d};
	const struct local_ops cops = {.input = on_local_input,
	                               .drained = on_drained,
	                               .dump_asked = on_dump_asked,
	                               .arg = d};
	bool binds = o->node_id < o->peer_id;

	if (!(d->base = base_new()))
		return -ENOMEM;
	o->cfg.node_id = o->node_id;
	o->cfg.peer_id = o->peer_id;
	o->cfg.epoch = random_u64();
	if (!(d->table = table_new((uint32_t)random_u64())) ||
	    !(d->sess = session_new(&o->cfg, d->table, &d->st, &sops, clock_mono_us())) ||
	    !(d->role = role_new(o->role_file)))
		return -ENOMEM;
	d->ev_timer = event_new(d->base, -1, 0, timer_cb, d);
	d->ev_role = event_new(d->base, -1, EV_PERSIST, role_cb, d);
	d->ev_term = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->ev_int = evsignal_new(d->base, SIGINT, signal_cb, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, signal_cb, d);
	if (!d->ev_timer || !d->ev_role || !d->ev_term || !d->ev_int || !d->ev_hup ||
	    event_add(d->ev_role, &poll) < 0 || event_add(d->ev_term, NULL) < 0 ||
	    event_add(d->ev_int, NULL) < 0 || event_add(d->ev_hup, NULL) < 0)
		return -ENOMEM;
	/* Deterministic: one connection, never two crossing ones (PAIR takes one pipe). */
	if (!(d->link = link_open(d->base, binds ? o->listen : o->peer, binds, &lops)))
		return -EADDRNOTAVAIL;
	if (!(d->local = local_open(d->base, o->ipc_dir, &d->st, &cops)))
		return -EADDRNOTAVAIL;
	d->msrc = (struct metrics_src){.sess = d->sess, .local = d->local, .st = &d->st};
	if (o->metrics_on && !(d->metrics = metrics_start(d->base, &o->metrics, &d->msrc)))
		return -EADDRNOTAVAIL;
	role_apply(d, true);
	log_info("twist-syncd %s: node %llu (epoch %016llx), peer node %llu, role %s",
	         TWIST_VERSION, (unsigned long long)o->node_id, (unsigned long long)o->cfg.epoch,
	         (unsigned long long)o->peer_id, d->sess->master ? "master" : "backup");
	return 0;
}

static void stop(struct syncd *d)
{
	metrics_http_stop(d->metrics);
	local_close(d->local);
	link_close(d->link);
	if (d->ev_timer)
		event_free(d->ev_timer);
	if (d->ev_role)
		event_free(d->ev_role);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_hup)
		event_free(d->ev_hup);
	session_free(d->sess);
	table_free(d->table);
	role_free(d->role);
	if (d->base)
		event_base_free(d->base);
}

int main(int argc, char **argv)
{
	static struct options o;
	static struct syncd d;
	int rc = 1;

	/* twist-ha may signal a role change before the loop's handler exists;
	 * SIGHUP's default action would kill us. The role file is read at start. */
	signal(SIGHUP, SIG_IGN);
	if (options_parse(argc, argv, &o) < 0)
		return 2;
	log_init("twist-syncd", o.level, o.syslog);
	signal(SIGPIPE, SIG_IGN);
	d.opt = &o;
	if (start(&d) < 0) {
		log_err("start-up failed");
		goto done;
	}
	kick(&d);
	event_base_dispatch(d.base);
	log_info("stopped");
	rc = 0;
done:
	stop(&d);
	return rc;
}
