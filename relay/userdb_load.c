/*
 * The loader thread (relay/userdb_load.h). Locking: l->mu guards the
 * request and done generations and the stats; the SQLite handle belongs to
 * the thread alone (before the thread starts, to userdb_loader_new).
 */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"
#include "relay/auth.h"
#include "relay/auth_db.h"
#include "relay/userdb.h"
#include "relay/userdb_load.h"

#define POLL_MS 1000

struct userdb_loader {
	char *path;
	struct auth *auth;
	struct userdb *db;
	int64_t version; /* data_version at the last load */
	dev_t dev;       /* the file the handle has open */
	ino_t ino;
	bool gone_logged;

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint64_t req_gen, done_gen;
	struct userdb_load_stats st;

	struct event *done_ev; /* on the main loop: runs done() */
	void (*done)(void *arg);
	void *arg;
};

struct build {
	struct auth_db *d;
	unsigned skipped;
	uint64_t now;
};

static int add_user(void *arg, const struct userdb_user *u)
{
	struct build *b = arg;
	uint32_t quota = u->quota < 0 ? USERSET_QUOTA_DEFAULT : (uint32_t)u->quota;
	uint64_t bw = u->bandwidth < 0 ? USERSET_BW_DEFAULT : (uint64_t)u->bandwidth;
	int rc = userset_add(b->d->users, u->name, strlen(u->name), u->key_md5, u->key_sha256,
	                     quota, bw);

	if (rc == -ENOMEM)
		return rc;
	b->skipped += rc < 0;
	return 0;
}

/* Expired secrets stay out; past AUTH_DB_SECRETS the newest are dropped. */
static int add_secret(void *arg, const struct userdb_secret *s)
{
	struct build *b = arg;

	if (s->not_after > 0 && (uint64_t)s->not_after < b->now)
		return 0;
	if (auth_db_secret_add(b->d, s->secret, strlen(s->secret), (uint64_t)s->not_after) < 0)
		b->skipped++;
	return 0;
}

/* One read transaction: users and secrets of one committed state. */
static int snapshot_build(struct userdb_loader *l, struct build *b)
{
	const char *realm = auth_realm(l->auth);
	unsigned n = 0;
	int rc;

	if (userdb_read_begin(l->db) < 0)
		return -EIO;
	if ((rc = userdb_user_count(l->db, realm, &n)) < 0)
		goto done;
	rc = -ENOMEM;
	if (!(b->d = auth_db_new(n, realm, strlen(realm))))
		goto done;
	b->now = clock_wall_s();
	if ((rc = userdb_user_each(l->db, realm, add_user, b)) < 0 ||
	    (rc = userdb_secret_each(l->db, add_secret, b)) < 0)
		goto done;
	rc = userdb_data_version(l->db, &l->version);
done:
	userdb_read_end(l->db);
	return rc;
}

static uint64_t thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int load(struct userdb_loader *l, struct userdb_load_stats *st)
{
	uint64_t t0 = clock_mono_ms(), c0 = thread_cpu_ms();
	struct build b = {0};
	int rc;

	memset(st, 0, sizeof(*st));
	rc = snapshot_build(l, &b);
	if (rc == 0) {
		st->bytes = userset_bytes(b.d->users);
		rc = auth_db_install(l->auth, b.d);
		b.d = rc == 0 ? NULL : b.d;
	}
	auth_db_free(b.d);
	st->rc = rc;
	st->skipped = b.skipped;
	st->ms = clock_mono_ms() - t0;
	st->cpu_ms = thread_cpu_ms() - c0;
	auth_db_counts(l->auth, &st->users, &st->secrets, &st->shadowed);
	if (rc < 0)
		log_err("user database %s: not loaded (%s: %s), keeping the last snapshot of %u "
		        "users",
		        l->path, strerror(-rc), userdb_errmsg(l->db), st->users);
	else
		log_info("user database %s: %u users (%u shadowed by auth.users), %u REST secrets, "
		         "%u rows skipped, loaded in %llu ms (%llu ms CPU), %zu KiB",
		         l->path, st->users, st->shadowed, st->secrets, st->skipped,
		         (unsigned long long)st->ms, (unsigned long long)st->cpu_ms,
		         st->bytes / 1024);
	return rc;
}

/*
 * Whether the file changed since the last load: another connection
 * committed (data_version), or the path now names another file (restored
 * from a backup, or moved into place), which needs a new handle.
 */
static bool changed(struct userdb_loader *l)
{
	struct stat sb;
	int64_t v;

	if (stat(l->path, &sb) < 0) {
		if (!l->gone_logged)
			log_err("user database %s: %s; keeping the last snapshot", l->path,
			        strerror(errno));
		l->gone_logged = true;
		return false;
	}
	if (l->gone_logged)
		log_info("user database %s is back", l->path);
	l->gone_logged = false;
	if (sb.st_dev != l->dev || sb.st_ino != l->ino) {
		struct userdb *db;
		char err[256];

		if (userdb_open(l->path, false, &db, err, sizeof(err)) < 0) {
			log_err("user database: %s; keeping the last snapshot", err);
			return false;
		}
		userdb_close(l->db);
		l->db = db;
		l->dev = sb.st_dev;
		l->ino = sb.st_ino;
		return true;
	}
	return userdb_data_version(l->db, &v) == 0 && v != l->version;
}

static void *loader_main(void *arg)
{
	struct userdb_loader *l = arg;
	struct userdb_load_stats st;
	struct timespec ts;
	uint64_t gen;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		if (l->req_gen == l->done_gen) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += POLL_MS / 1000;
			if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT &&
			    l->req_gen == l->done_gen && !l->stop) {
				pthread_mutex_unlock(&l->mu);
				if (changed(l) && load(l, &st) == 0) {
					pthread_mutex_lock(&l->mu);
					l->st = st;
					continue;
				}
				pthread_mutex_lock(&l->mu);
			}
			continue;
		}
		gen = l->req_gen;
		pthread_mutex_unlock(&l->mu);
		changed(l); /* a replaced file gets a new handle first */
		load(l, &st);
		pthread_mutex_lock(&l->mu);
		l->st = st;
		l->done_gen = gen;
		event_active(l->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct userdb_loader *l = arg;

	(void)fd;
	(void)what;
	if (l->done)
		l->done(l->arg);
}

struct userdb_loader *userdb_loader_new(const char *path, struct auth *a, struct event_base *base,
                                        void (*done)(void *arg), void *arg, char *err,
                                        size_t errlen)
{
	struct userdb_loader *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;
	struct stat sb;

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a wall-clock step must not stall it */
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	l->auth = a;
	l->done = done;
	l->arg = arg;
	if (!(l->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	if (userdb_open(path, true, &l->db, err, errlen) < 0)
		goto bad;
	if (stat(path, &sb) == 0) {
		l->dev = sb.st_dev;
		l->ino = sb.st_ino;
	}
	if (load(l, &l->st) < 0) {
		snprintf(err, errlen, "%s: cannot load the users: %s", path, strerror(-l->st.rc));
		goto bad;
	}
	if (!(l->done_ev = event_new(base, -1, 0, on_done, l))) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	if (pthread_create(&l->thread, NULL, loader_main, l) != 0) {
		snprintf(err, errlen, "cannot start the user database thread");
		goto bad;
	}
	l->started = true;
	return l;
bad:
	userdb_loader_free(l);
	return NULL;
}

void userdb_loader_free(struct userdb_loader *l)
{
	if (!l)
		return;
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	}
	if (l->done_ev)
		event_free(l->done_ev);
	userdb_close(l->db);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->path);
	free(l);
}

uint64_t userdb_loader_request(struct userdb_loader *l)
{
	uint64_t gen;

	pthread_mutex_lock(&l->mu);
	gen = ++l->req_gen;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return gen;
}

uint64_t userdb_loader_done(struct userdb_loader *l, struct userdb_load_stats *st)
{
	uint64_t gen;

	pthread_mutex_lock(&l->mu);
	gen = l->done_gen;
	if (st)
		*st = l->st;
	pthread_mutex_unlock(&l->mu);
	return gen;
}
