/*
 * relay/userdb.c (the SQLite schema and queries) and the database snapshot
 * behind relay/auth.c: keys from the database equal the YAML path's keys,
 * YAML wins over the database, REST secrets rotate, limits are per user.
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
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "proto/stun.h"
#include "relay/auth.h"
#include "relay/auth_db.h"
#include "relay/config.h"
#include "relay/userdb.h"

#define REALM "example.org"
#define NOW   1690000000u

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_userdb.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/users.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char f[160];

	(void)state;
	for (const char *sfx = "\0-wal\0-shm\0";; sfx += strlen(sfx) + 1) {
		snprintf(f, sizeof(f), "%s%s", path, sfx);
		unlink(f);
		if (strcmp(sfx, "-shm") == 0)
			break;
	}
	rmdir(dir);
	return 0;
}

static struct userdb *db_new(void)
{
	struct userdb *db;
	char err[256];

	assert_int_equal(userdb_open(path, true, &db, err, sizeof(err)), 0);
	return db;
}

static void user_put(struct userdb *db, const char *name, const char *pass, int64_t quota,
                     int64_t bw)
{
	struct userdb_user u = {.name = name, .realm = REALM, .quota = quota, .bandwidth = bw};

	assert_int_equal(userdb_keys(&u, pass, strlen(pass)), 0);
	assert_int_equal(userdb_user_add(db, &u), 0);
}

static void test_schema(void **state)
{
	struct userdb *db;
	char err[256];
	struct stat sb;
	sqlite3 *h;

	(void)state;
	/* without create, a missing file is an error that names it */
	assert_int_equal(userdb_open(path, false, &db, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	db = db_new();
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	userdb_close(db);
	/* reopening keeps it */
	db = db_new();
	userdb_close(db);

	/* a newer schema is refused with a clear message */
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "UPDATE schema_version SET version = 2", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(userdb_open(path, true, &db, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "schema version 2"));
	teardown(NULL);
	setup(NULL);

	/* some other SQLite file is not taken over */
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(userdb_open(path, true, &db, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a twist user database"));
}

static int count_cb(void *arg, const struct userdb_user *u)
{
	(*(unsigned *)arg)++;
	assert_string_equal(u->realm, REALM);
	return 0;
}

static void test_users(void **state)
{
	struct userdb *db = db_new();
	struct userdb_user u = {.name = "alice", .realm = REALM, .quota = -1, .bandwidth = -1};
	unsigned n = 0;
	sqlite3 *h;
	sqlite3_stmt *st;

	(void)state;
	user_put(db, "alice", "wonderland", -1, -1);
	user_put(db, "bob", "builder", 3, 1000);
	assert_int_equal(userdb_keys(&u, "x", 1), 0);
	assert_int_equal(userdb_user_add(db, &u), -EEXIST);
	u.realm = "other.org";
	assert_int_equal(userdb_user_add(db, &u), 0); /* same name, another realm */
	assert_int_equal(userdb_user_count(db, REALM, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(userdb_user_count(db, NULL, &n), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(userdb_user_each(db, REALM, count_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(userdb_user_del(db, "carol", REALM), -ENOENT);
	assert_int_equal(userdb_user_del(db, "alice", "other.org"), 0);
	u.name = "carol";
	u.realm = REALM;
	assert_int_equal(userdb_user_passwd(db, &u), -ENOENT);
	userdb_close(db);

	/* no password anywhere in the file: only the two keys */
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(
	        sqlite3_prepare_v2(h, "SELECT * FROM users WHERE name = 'alice'", -1, &st, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	for (int i = 0; i < sqlite3_column_count(st); i++)
		if (sqlite3_column_type(st, i) == SQLITE_TEXT)
			assert_null(strstr((const char *)sqlite3_column_text(st, i), "wonderland"));
	sqlite3_finalize(st);
	/* the CHECKs keep a malformed key out */
	assert_int_not_equal(sqlite3_exec(h,
	                                  "INSERT INTO users VALUES ('x', 'r', x'00', x'00', "
	                                  "NULL, NULL, 0)",
	                                  NULL, NULL, NULL),
	                     SQLITE_OK);
	sqlite3_close(h);
}

/* The snapshot as relay/userdb_load.c builds it. */
struct build {
	struct auth_db *d;
};

static int build_user(void *arg, const struct userdb_user *u)
{
	struct build *b = arg;

	return userset_add(b->d->users, u->name, strlen(u->name), u->key_md5, u->key_sha256,
	                   u->quota < 0 ? USERSET_QUOTA_DEFAULT : (uint32_t)u->quota,
	                   u->bandwidth < 0 ? USERSET_BW_DEFAULT : (uint64_t)u->bandwidth);
}

static int build_secret(void *arg, const struct userdb_secret *s)
{
	struct build *b = arg;

	return auth_db_secret_add(b->d, s->secret, strlen(s->secret), (uint64_t)s->not_after);
}

static struct auth_db *snapshot(struct userdb *db, const char *realm)
{
	struct build b;
	unsigned n;

	assert_int_equal(userdb_user_count(db, realm, &n), 0);
	b.d = auth_db_new(n, realm, strlen(realm));
	assert_non_null(b.d);
	assert_int_equal(userdb_user_each(db, realm, build_user, &b), 0);
	assert_int_equal(userdb_secret_each(db, build_secret, &b), 0);
	return b.d;
}

static void cfg_init(struct config *cfg, struct cfg_user *users, unsigned n)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->realm, sizeof(cfg->realm), REALM);
	cfg->users = users;
	cfg->n_users = n;
	snprintf(cfg->nonce_secret, sizeof(cfg->nonce_secret), "cluster-nonce-secret");
	cfg->nonce_lifetime = 600;
	cfg->sha256 = true;
}

static void test_keys_equal_yaml(void **state)
{
	struct cfg_user yaml[] = {{.name = "alice", .password = "wonderland"}};
	struct userdb *db = db_new();
	struct config cfg;
	struct auth *from_yaml, *from_db;
	struct auth_db *d;
	uint8_t k1[32], k2[32], hash[32];
	char name[64];

	(void)state;
	user_put(db, "alice", "wonderland", -1, -1);
	cfg_init(&cfg, yaml, 1);
	from_yaml = auth_new(&cfg);
	cfg_init(&cfg, NULL, 0);
	from_db = auth_new(&cfg);
	assert_non_null(from_yaml);
	assert_non_null(from_db);
	assert_int_equal(auth_key(from_db, "alice", 5, STUN_PWALG_MD5, NOW, k2), -ENOENT);
	assert_int_equal(auth_db_install(from_db, snapshot(db, REALM)), 0);
	assert_int_equal(auth_key(from_yaml, "alice", 5, STUN_PWALG_MD5, NOW, k1), 16);
	assert_int_equal(auth_key(from_db, "alice", 5, STUN_PWALG_MD5, NOW, k2), 16);
	assert_memory_equal(k1, k2, 16);
	assert_int_equal(auth_key(from_yaml, "alice", 5, STUN_PWALG_SHA256, NOW, k1), 32);
	assert_int_equal(auth_key(from_db, "alice", 5, STUN_PWALG_SHA256, NOW, k2), 32);
	assert_memory_equal(k1, k2, 32);
	/* USERHASH finds database users too */
	stun_userhash("alice", 5, REALM, strlen(REALM), hash);
	assert_int_equal(auth_userhash_find(from_db, hash, name, sizeof(name)), 0);
	assert_string_equal(name, "alice");
	/* a snapshot of another realm is refused, the last one stays */
	d = snapshot(db, "other.org");
	assert_int_equal(auth_db_install(from_db, d), -ESTALE);
	auth_db_free(d); /* still ours */
	assert_int_equal(auth_key(from_db, "alice", 5, STUN_PWALG_MD5, NOW, k2), 16);
	/* and a removed snapshot takes its users along */
	assert_int_equal(auth_db_install(from_db, NULL), 0);
	assert_int_equal(auth_key(from_db, "alice", 5, STUN_PWALG_MD5, NOW, k2), -ENOENT);
	auth_free(from_yaml);
	auth_free(from_db);
	userdb_close(db);
}

static void test_yaml_wins(void **state)
{
	struct cfg_user yaml[] = {{.name = "alice", .password = "from-yaml"}};
	struct userdb *db = db_new();
	struct config cfg;
	struct auth *a;
	struct auth_db *d;
	uint8_t key[32], want[16];
	struct userdb_user u = {.name = "alice", .realm = REALM};
	uint32_t quota = 7;
	uint64_t bw = 9;

	(void)state;
	user_put(db, "alice", "from-db", 1, 100);
	user_put(db, "bob", "builder", 2, 0);
	cfg_init(&cfg, yaml, 1);
	a = auth_new(&cfg);
	d = snapshot(db, REALM);
	assert_int_equal(auth_db_install(a, d), 0);
	assert_int_equal(d->shadowed, 1);
	assert_int_equal(auth_key(a, "alice", 5, STUN_PWALG_MD5, NOW, key), 16);
	assert_int_equal(userdb_keys(&u, "from-yaml", 9), 0);
	memcpy(want, u.key_md5, 16);
	assert_memory_equal(key, want, 16);
	/* the YAML user has no limits of its own: the defaults stay */
	auth_user_limits(a, "alice", &quota, &bw);
	assert_int_equal(quota, 7);
	assert_int_equal(bw, 9);
	/* bob's own: quota 2, bandwidth 0 (unlimited) */
	auth_user_limits(a, "bob", &quota, &bw);
	assert_int_equal(quota, 2);
	assert_int_equal(bw, 0);
	auth_free(a);
	userdb_close(db);
}

/* The REST password for username under secret, as an application server makes it. */
static void rest_password(const char *secret, const char *user, char out[29])
{
	unsigned char mac[STUN_HMAC_MAX];

	assert_int_equal(stun_hmac(STUN_HASH_SHA1, (const uint8_t *)secret, strlen(secret), user,
	                           strlen(user), NULL, 0, mac),
	                 20);
	EVP_EncodeBlock((unsigned char *)out, mac, 20);
}

/* Whether some candidate key of auth equals the key made from secret. */
static bool rest_accepted(struct auth *a, const char *secret, const char *user, uint64_t now)
{
	struct userdb_user u = {.name = user, .realm = REALM};
	uint8_t key[32];
	char pass[29];
	int rc;

	rest_password(secret, user, pass);
	assert_int_equal(userdb_keys(&u, pass, 28), 0);
	for (unsigned idx = 0;
	     (rc = auth_key_at(a, user, strlen(user), STUN_PWALG_MD5, now, idx, key)) > 0; idx++)
		if (memcmp(key, u.key_md5, 16) == 0)
			return true;
	return false;
}

static void test_secret_rotation(void **state)
{
	struct userdb *db = db_new();
	struct config cfg;
	struct auth *a;
	int64_t old_id, new_id, gone_id;
	const char *user = "1700000000:alice";

	(void)state;
	cfg_init(&cfg, NULL, 0);
	snprintf(cfg.rest_secret, sizeof(cfg.rest_secret), "configured-secret-0");
	a = auth_new(&cfg);
	assert_int_equal(userdb_secret_add(db, "old-secret-0123456", NOW + 100, &old_id), 0);
	assert_int_equal(userdb_secret_add(db, "new-secret-0123456", 0, &new_id), 0);
	assert_int_equal(userdb_secret_add(db, "gone-secret-012345", 0, &gone_id), 0);
	assert_int_equal(userdb_secret_add(db, "new-secret-0123456", 0, NULL), -EEXIST);
	assert_int_equal(userdb_secret_add(db, "short", 0, NULL), -EINVAL);
	assert_int_equal(userdb_secret_del(db, gone_id), 0);
	assert_int_equal(userdb_secret_del(db, gone_id), -ENOENT);
	assert_int_equal(auth_db_install(a, snapshot(db, REALM)), 0);

	/* every active secret is accepted, the configured one too */
	assert_true(rest_accepted(a, "configured-secret-0", user, NOW));
	assert_true(rest_accepted(a, "old-secret-0123456", user, NOW));
	assert_true(rest_accepted(a, "new-secret-0123456", user, NOW));
	assert_false(rest_accepted(a, "gone-secret-012345", user, NOW));
	assert_false(rest_accepted(a, "never-a-secret-000", user, NOW));
	/* past its not-after the old secret is refused, the new one still works */
	assert_false(rest_accepted(a, "old-secret-0123456", user, NOW + 101));
	assert_true(rest_accepted(a, "new-secret-0123456", user, NOW + 101));
	/* the username's own expiry still counts, with any secret */
	assert_int_equal(auth_key_at(a, user, strlen(user), STUN_PWALG_MD5, 1700000001u, 1,
	                             (uint8_t[32]){0}),
	                 -EKEYEXPIRED);
	/* a static user has exactly one key */
	auth_free(a);
	userdb_close(db);
}

static void test_secret_cap(void **state)
{
	struct auth_db *d = auth_db_new(0, REALM, strlen(REALM));

	(void)state;
	for (int i = 0; i < AUTH_DB_SECRETS; i++)
		assert_int_equal(auth_db_secret_add(d, "0123456789abcdef", 16, 0), 0);
	assert_int_equal(auth_db_secret_add(d, "0123456789abcdef", 16, 0), -ENOSPC);
	assert_int_equal(auth_db_secret_add(d, "", 0, 0), -EINVAL);
	auth_db_free(d);
	auth_db_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_keys_equal_yaml, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_yaml_wins, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_secret_rotation, setup, teardown),
	        cmocka_unit_test(test_secret_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
