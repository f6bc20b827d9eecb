/*
 * Connections are few and short: at most CONTROL_CONNS at once, each with a
 * deadline for its next line and one for its whole life, so a client that
 * stays silent or trickles bytes cannot keep twistctl (or anyone) out.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/accept_pause.h"
#include "common/log.h"
#include "relay/auth.h"
#include "relay/control.h"
#include "relay/control_int.h"
#include "relay/control_parse.h"
#include "relay/relay.h"
#include "relay/userdb_load.h"

#define CONTROL_CONNS      16
#define CONTROL_DEADLINE_S 10 /* for each line, and for the answer to drain */
#define CONTROL_LIFE_S     60 /* the whole connection, so a trickle cannot hold a slot */

static void conn_free(struct ctl_conn *k)
{
	struct ctl_conn **pp;

	for (pp = &k->c->conns; *pp && *pp != k; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = k->next;
	k->c->n_conns--;
	if (k->job)
		control_job_orphan(k->job);
	if (k->life)
		event_free(k->life);
	bufferevent_free(k->bev);
	free(k);
}

void control_reply(struct ctl_conn *k, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(k->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\n", 1);
}

static void reply_status(struct ctl_conn *k, const char *verb)
{
	struct userdb_loader *l = k->c->r->udb;
	struct userdb_load_stats st;

	if (!l) {
		control_reply(k, "error no user database (auth.database is not set)");
		return;
	}
	userdb_loader_done(l, &st);
	if (st.rc < 0)
		control_reply(k, "error %s failed: %s; serving the last snapshot of %u users", verb,
		              strerror(-st.rc), st.users);
	else
		control_reply(k,
		              "ok users=%u secrets=%u skipped=%u shadowed=%u load_ms=%llu "
		              "load_cpu_ms=%llu "
		              "kib=%zu",
		              st.users, st.secrets, st.skipped, st.shadowed,
		              (unsigned long long)st.ms, (unsigned long long)st.cpu_ms,
		              st.bytes / 1024);
}

static void run(struct ctl_conn *k, enum control_verb v, const char *arg)
{
	struct relay *r = k->c->r;

	switch (v) {
	case CONTROL_PING:
		control_reply(k, "ok pong");
		break;
	case CONTROL_RELOAD:
		if (!r->udb) {
			control_reply(k, "error no user database (auth.database is not set)");
			break;
		}
		/* Answered by control_reload_done; no more lines until then. */
		k->wait_gen = userdb_loader_request(r->udb);
		bufferevent_disable(k->bev, EV_READ);
		break;
	case CONTROL_STATUS:
		reply_status(k, "last load");
		break;
	case CONTROL_REALM:
		control_reply(k, "ok %s", auth_realm(r->auth));
		break;
	case CONTROL_HELP:
		control_reply(k, "ok commands: ping reload status realm help quit drain undrain "
		                 "role state siblings sessions");
		break;
	case CONTROL_DRAIN:
	case CONTROL_UNDRAIN:
	case CONTROL_ROLE:
	case CONTROL_STATE:
	case CONTROL_SIBLINGS:
		control_run_cluster(k, v);
		break;
	case CONTROL_SESSIONS:
		/* Answered by the workers' snapshots; no more lines until then. */
		if (control_sessions(k, arg) == 0)
			bufferevent_disable(k->bev, EV_READ);
		break;
	case CONTROL_QUIT:
		control_reply(k, "ok bye");
		k->closing = true;
		break;
	}
}

void control_on_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char words[CONTROL_LINE_MAX + 1];
	enum control_verb v;
	size_t len;
	char *line;
	int rc;

	while (!k->closing && k->wait_gen == 0 && !k->job) {
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);

		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
				control_reply(k, "error line longer than %d bytes",
				              CONTROL_LINE_MAX);
				k->closing = true;
			}
			break;
		}
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (!line)
			break;
		rc = control_parse_arg(line, len, &v, words, sizeof(words));
		if (rc == 0)
			run(k, v, words);
		else if (rc == -ENOENT)
			control_reply(k, "error unknown command (try 'help')");
		else if (rc == -E2BIG)
			control_reply(k, "error line longer than %d bytes", CONTROL_LINE_MAX);
		else
			control_reply(k, "error malformed line (one command, printable ASCII; only "
			                 "sessions takes an "
			                 "argument)");
		if (rc == -E2BIG)
			k->closing = true;
		free(line);
	}
	if (k->closing) {
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(k);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *k = arg;

	(void)bev;
	if (k->closing)
		conn_free(k);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *k = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("control: a connection timed out");
	conn_free(k);
}

static void on_life(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	log_debug("control: a connection reached its %d s limit", CONTROL_LIFE_S);
	conn_free(arg);
}

void control_reload_done(void *arg)
{
	struct control *c = arg;
	struct ctl_conn *k, *next;
	uint64_t done;

	if (!c || !c->r->udb)
		return;
	done = userdb_loader_done(c->r->udb, NULL);
	for (k = c->conns; k; k = next) {
		next = k->next;
		if (k->wait_gen == 0 || k->wait_gen > done)
			continue;
		k->wait_gen = 0;
		reply_status(k, "reload");
		bufferevent_enable(k->bev, EV_READ);
		control_on_read(k->bev, k); /* lines that came while it waited; may free k */
	}
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct control *c = arg;
	struct timeval tv = {CONTROL_DEADLINE_S, 0}, life = {CONTROL_LIFE_S, 0};
	struct ctl_conn *k;

	(void)lis;
	(void)sa;
	(void)salen;
	if (c->n_conns >= CONTROL_CONNS || !(k = calloc(1, sizeof(*k)))) {
		static const char busy[] = "error too many control connections\n";

		if (write(fd, busy, sizeof(busy) - 1) < 0) {
			/* the refusal is best effort */
		}
		close(fd);
		if (c->refused++ % 100 == 0)
			log_warn("control: refused a connection (%u open)", c->n_conns);
		return;
	}
	k->c = c;
	k->bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
	if (!k->bev) {
		close(fd);
		free(k);
		return;
	}
	k->next = c->conns;
	c->conns = k;
	c->n_conns++;
	k->life = evtimer_new(evconnlistener_get_base(lis), on_life, k);
	if (!k->life || evtimer_add(k->life, &life) < 0) {
		conn_free(k);
		return;
	}
	bufferevent_setcb(k->bev, control_on_read, on_write, on_event, k);
	bufferevent_set_timeouts(k->bev, &tv, &tv);
	bufferevent_setwatermark(k->bev, EV_READ, 0, CONTROL_LINE_MAX + 2);
	bufferevent_enable(k->bev, EV_READ | EV_WRITE);
}

/* A socket file that nobody answers on is left over from a crash. */
static int clear_stale(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (errno == ENOENT)
		return 0;
	if (errno != ECONNREFUSED)
		return -errno;
	return unlink(sun->sun_path) < 0 && errno != ENOENT ? -errno : 0;
}

/* control.group: twistctl's users share a group rather than run as root. */
static int set_group(const char *path, const char *group)
{
	struct group *g;

	if (!group[0])
		return 0;
	errno = 0;
	if (!(g = getgrnam(group))) {
		log_err("control.group %s: %s", group, errno ? strerror(errno) : "no such group");
		return -1;
	}
	if (chown(path, (uid_t)-1, g->gr_gid) < 0) {
		log_err("control.socket %s: cannot give it to group %s: %s", path, group,
		        strerror(errno));
		return -1;
	}
	return 0;
}

struct control *control_new(struct relay *r, struct event_base *base, const char *path)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char what[sizeof(sun.sun_path) + 16];
	mode_t old;
	int rc;

	if (!c)
		return NULL;
	c->r = r;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("control.socket %s: path too long", path);
		goto bad;
	}
	strcpy(sun.sun_path, path);
	if ((rc = clear_stale(&sun)) < 0) {
		log_err("control.socket %s: %s", path,
		        rc == -EADDRINUSE ? "another process answers on it (a relay running?)"
		                          : strerror(-rc));
		goto bad;
	}
	/* 0660 from the start: no window in which anyone else could connect. */
	old = umask(0117);
	c->lis = evconnlistener_new_bind(base, on_accept, c,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 8,
	                                 (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (!c->lis) {
		log_err("control.socket %s: %s", path, strerror(errno));
		goto bad;
	}
	snprintf(what, sizeof(what), "control socket %s", path);
	if (!(c->pause = accept_pause_attach(c->lis, what, NULL, NULL))) {
		evconnlistener_free(c->lis);
		goto bad;
	}
	strcpy(c->path, path);
	if (set_group(path, r->cfg.control_group) < 0) {
		accept_pause_free(c->pause);
		evconnlistener_free(c->lis);
		unlink(path);
		goto bad;
	}
	log_info("control socket %s", path);
	return c;
bad:
	free(c);
	return NULL;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->conns)
		conn_free(c->conns);
	control_jobs_free(c);
	accept_pause_free(c->pause);
	evconnlistener_free(c->lis);
	unlink(c->path);
	free(c);
}
