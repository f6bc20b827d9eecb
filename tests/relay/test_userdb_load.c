/*
 * relay/userdb_load.c over a real file: the first snapshot at start, a
 * requested reload that sees another connection's commit, the once-a-second
 * poll of data_version, and a file that disappears (the last snapshot stays).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "proto/stun.h"
#include "relay/auth.h"
#include "relay/config.h"
#include "relay/userdb.h"
#include "relay/userdb_load.h"

#define REALM "example.org"

static char dir[64], path[128];
static unsigned done_calls;

static void on_done(void *arg)
{
	(void)arg;
	done_calls++;
}

static void add(struct userdb *db, const char *name, const char *pass)
{
	struct userdb_user u = {.name = name, .realm = REALM, .quota = -1, .bandwidth = -1};

	assert_int_equal(userdb_keys(&u, pass, strlen(pass)), 0);
	assert_int_equal(userdb_user_add(db, &u), 0);
}

static bool known(struct auth *a, const char *name)
{
	uint8_t key[32];

	return auth_key(a, name, strlen(name), STUN_PWALG_MD5, 0, key) == 16;
}

/* Runs the loop until the loader has done gen; bounded by count. */
static void wait_done(struct event_base *base, struct userdb_loader *l, uint64_t gen)
{
	for (int i = 0; i < 1000 && userdb_loader_done(l, NULL) < gen; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_true(userdb_loader_done(l, NULL) >= gen);
}

static void test_loader(void **state)
{
	struct userdb_load_stats st;
	struct event_base *base;
	struct userdb_loader *l;
	struct userdb *db;
	struct config cfg;
	struct auth *a;
	char err[256], f[160];
	uint64_t gen;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_userdb_load.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/users.db", dir);
	evthread_use_pthreads();
	base = event_base_new();
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.realm, sizeof(cfg.realm), REALM);
	cfg.sha256 = true;
	a = auth_new(&cfg);
	assert_non_null(a);

	assert_int_equal(userdb_open(path, true, &db, err, sizeof(err)), 0);
	add(db, "alice", "a");
	l = userdb_loader_new(path, a, base, on_done, NULL, err, sizeof(err));
	assert_non_null(l);
	assert_true(known(a, "alice")); /* loaded before userdb_loader_new returns */

	/* another connection commits; a request sees it, and done() runs */
	add(db, "bob", "b");
	gen = userdb_loader_request(l);
	wait_done(base, l, gen);
	assert_true(known(a, "bob"));
	assert_true(done_calls >= 1);
	userdb_loader_done(l, &st);
	assert_int_equal(st.rc, 0);
	assert_int_equal(st.users, 2);

	/* without a request, the poll of data_version finds a commit */
	add(db, "carol", "c");
	for (int i = 0; i < 500 && !known(a, "carol"); i++)
		usleep(10000);
	assert_true(known(a, "carol"));

	/* the file goes away: the last snapshot keeps serving */
	userdb_close(db);
	unlink(path);
	snprintf(f, sizeof(f), "%s-wal", path);
	unlink(f);
	snprintf(f, sizeof(f), "%s-shm", path);
	unlink(f);
	gen = userdb_loader_request(l);
	wait_done(base, l, gen);
	assert_true(known(a, "alice"));
	assert_true(known(a, "carol"));

	/* a new file in its place is picked up through the inode */
	assert_int_equal(userdb_open(path, true, &db, err, sizeof(err)), 0);
	add(db, "dave", "d");
	gen = userdb_loader_request(l);
	wait_done(base, l, gen);
	assert_true(known(a, "dave"));
	assert_false(known(a, "alice"));
	userdb_close(db);

	userdb_loader_free(l);
	auth_free(a);
	event_base_free(base);
	unlink(path);
	snprintf(f, sizeof(f), "%s-wal", path);
	unlink(f);
	snprintf(f, sizeof(f), "%s-shm", path);
	unlink(f);
	rmdir(dir);
}

static void test_open_error(void **state)
{
	struct event_base *base = event_base_new();
	struct config cfg;
	struct auth *a;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.realm, sizeof(cfg.realm), REALM);
	a = auth_new(&cfg);
	assert_null(userdb_loader_new("/nonexistent-dir/users.db", a, base, on_done, NULL, err,
	                              sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/users.db"));
	auth_free(a);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_loader),
	        cmocka_unit_test(test_open_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
