/*
 * SQLite access for the user database. Every statement is prepared with
 * bound parameters; nothing is ever spliced into SQL text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "proto/stun.h"
#include "relay/userdb.h"

/* twistctl waits this long for a concurrent writer; the relay only reads (WAL). */
#define BUSY_MS 5000

struct userdb {
	sqlite3 *h;
};

static const char schema_sql[] =
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        "CREATE TABLE users ("
        " name TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 508),"
        " realm TEXT NOT NULL CHECK (length(CAST(realm AS BLOB)) BETWEEN 1 AND 255),"
        " key_md5 BLOB NOT NULL CHECK (length(key_md5) = 16),"
        " key_sha256 BLOB NOT NULL CHECK (length(key_sha256) = 32),"
        " quota INTEGER CHECK (quota IS NULL OR quota BETWEEN 0 AND 4294967294),"
        " bandwidth INTEGER CHECK (bandwidth IS NULL OR bandwidth >= 0),"
        " created INTEGER NOT NULL,"
        " PRIMARY KEY (name, realm)) WITHOUT ROWID;"
        "CREATE TABLE rest_secrets ("
        " id INTEGER PRIMARY KEY,"
        " secret TEXT NOT NULL UNIQUE CHECK (length(CAST(secret AS BLOB)) BETWEEN 16 AND 255),"
        " not_after INTEGER CHECK (not_after IS NULL OR not_after > 0),"
        " created INTEGER NOT NULL);"
        "INSERT INTO schema_version VALUES (1);";

const char *userdb_errmsg(struct userdb *db)
{
	return sqlite3_errmsg(db->h);
}

static int exec(struct userdb *db, const char *sql)
{
	return sqlite3_exec(db->h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* -1: no schema_version table (a new file); else the version. */
static int64_t schema_version(struct userdb *db)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db->h, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int table_count(struct userdb *db)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Under an exclusive transaction, so two first openers make one schema. */
static int schema_check(struct userdb *db, const char *path, bool create, char *err, size_t errlen)
{
	int64_t v;
	int n;

	if (exec(db, "BEGIN IMMEDIATE") < 0) {
		snprintf(err, errlen, "%s: %s", path, userdb_errmsg(db));
		return -1;
	}
	v = schema_version(db);
	if (v < 0 && create && (n = table_count(db)) == 0) {
		if (exec(db, schema_sql) < 0) {
			snprintf(err, errlen, "%s: cannot create the schema: %s", path,
			         userdb_errmsg(db));
			exec(db, "ROLLBACK");
			return -1;
		}
		v = USERDB_VERSION;
	}
	exec(db, "COMMIT");
	if (v < 0) {
		snprintf(err, errlen, "%s: not a twist user database (no schema_version table)",
		         path);
		return -1;
	}
	if (v != USERDB_VERSION) {
		snprintf(err, errlen, "%s: schema version %lld, this twist knows only %d", path,
		         (long long)v, USERDB_VERSION);
		return -1;
	}
	return 0;
}

int userdb_open(const char *path, bool create, struct userdb **out, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
	struct userdb *db = calloc(1, sizeof(*db));
	struct stat sb;
	bool is_new = stat(path, &sb) < 0;

	*out = NULL;
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         db->h ? sqlite3_errmsg(db->h) : "cannot open the database");
		goto bad;
	}
	/* Keys and REST secrets inside: not world-readable. */
	if (is_new && create && chmod(path, 0640) < 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		goto bad;
	}
	sqlite3_busy_timeout(db->h, BUSY_MS);
	sqlite3_extended_result_codes(db->h, 1);
	if (exec(db, "PRAGMA journal_mode=WAL") < 0 || exec(db, "PRAGMA foreign_keys=ON") < 0) {
		snprintf(err, errlen, "%s: %s", path, userdb_errmsg(db));
		goto bad;
	}
	if (schema_check(db, path, create, err, errlen) < 0)
		goto bad;
	*out = db;
	return 0;
bad:
	userdb_close(db);
	return -1;
}

void userdb_close(struct userdb *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->h);
	free(db);
}

int userdb_keys(struct userdb_user *u, const char *pass, size_t plen)
{
	size_t nlen = strlen(u->name), rlen = strlen(u->realm);

	if (stun_key_longterm(STUN_PWALG_MD5, u->name, nlen, u->realm, rlen, pass, plen,
	                      u->key_md5) < 0 ||
	    stun_key_longterm(STUN_PWALG_SHA256, u->name, nlen, u->realm, rlen, pass, plen,
	                      u->key_sha256) < 0)
		return -EINVAL;
	return 0;
}

static void bind_limit(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

/* Runs a prepared write; 0, -EEXIST on a constraint, -ENOENT when no row changed. */
static int step_write(struct userdb *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		return -EEXIST;
	if (rc == SQLITE_CONSTRAINT_CHECK)
		return -EINVAL;
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(db->h) > 0 ? 0 : -ENOENT;
}

static sqlite3_stmt *prepare(struct userdb *db, const char *sql)
{
	sqlite3_stmt *st;

	return sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

int userdb_user_add(struct userdb *db, const struct userdb_user *u)
{
	sqlite3_stmt *st = prepare(db, "INSERT INTO users (name, realm, key_md5, key_sha256, "
	                               "quota, bandwidth, created) VALUES (?,?,?,?,?,?,?)");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, u->realm, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, u->key_md5, 16, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, u->key_sha256, 32, SQLITE_STATIC);
	bind_limit(st, 5, u->quota);
	bind_limit(st, 6, u->bandwidth);
	sqlite3_bind_int64(st, 7, u->created ? u->created : (int64_t)time(NULL));
	return step_write(db, st);
}

int userdb_user_del(struct userdb *db, const char *name, const char *realm)
{
	sqlite3_stmt *st = prepare(db, "DELETE FROM users WHERE name = ? AND realm = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, realm, -1, SQLITE_STATIC);
	return step_write(db, st);
}

int userdb_user_passwd(struct userdb *db, const struct userdb_user *u)
{
	sqlite3_stmt *st = prepare(db, "UPDATE users SET key_md5 = ?, key_sha256 = ? "
	                               "WHERE name = ? AND realm = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, u->key_md5, 16, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, u->key_sha256, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, u->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, u->realm, -1, SQLITE_STATIC);
	return step_write(db, st);
}

static int64_t column_limit(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? USERDB_LIMIT_NONE
	                                                 : sqlite3_column_int64(st, i);
}

/* One row into u; -EINVAL for a row the CHECKs should have kept out. */
static int user_row(sqlite3_stmt *st, struct userdb_user *u)
{
	if (sqlite3_column_bytes(st, 2) != 16 || sqlite3_column_bytes(st, 3) != 32)
		return -EINVAL;
	u->name = (const char *)sqlite3_column_text(st, 0);
	u->realm = (const char *)sqlite3_column_text(st, 1);
	if (!u->name || !u->realm)
		return -EINVAL;
	memcpy(u->key_md5, sqlite3_column_blob(st, 2), 16);
	memcpy(u->key_sha256, sqlite3_column_blob(st, 3), 32);
	u->quota = column_limit(st, 4);
	u->bandwidth = column_limit(st, 5);
	u->created = sqlite3_column_int64(st, 6);
	return 0;
}

int userdb_user_each(struct userdb *db, const char *realm,
                     int (*cb)(void *arg, const struct userdb_user *u), void *arg)
{
	sqlite3_stmt *st = prepare(db, "SELECT name, realm, key_md5, key_sha256, quota, bandwidth, "
	                               "created FROM users WHERE ?1 IS NULL OR realm = ?1 "
	                               "ORDER BY name, realm"); /* the key's order: no sort */
	struct userdb_user u;
	int rc;

	if (!st)
		return -EIO;
	if (realm)
		sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = user_row(st, &u)) < 0 || (rc = cb(arg, &u)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	return rc == SQLITE_ROW ? -EIO : rc > 0 ? -EIO : rc;
}

int userdb_user_count(struct userdb *db, const char *realm, unsigned *n)
{
	sqlite3_stmt *st = prepare(db, "SELECT count(*) FROM users WHERE ?1 IS NULL OR realm = ?1");
	int rc = -EIO;

	if (!st)
		return -EIO;
	if (realm)
		sqlite3_bind_text(st, 1, realm, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = (unsigned)sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int userdb_secret_add(struct userdb *db, const char *secret, int64_t not_after, int64_t *id)
{
	sqlite3_stmt *st = prepare(db, "INSERT INTO rest_secrets (secret, not_after, created) "
	                               "VALUES (?,?,?)");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, secret, -1, SQLITE_STATIC);
	if (not_after > 0)
		sqlite3_bind_int64(st, 2, not_after);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	rc = step_write(db, st);
	if (rc == 0 && id)
		*id = sqlite3_last_insert_rowid(db->h);
	return rc;
}

int userdb_secret_del(struct userdb *db, int64_t id)
{
	sqlite3_stmt *st = prepare(db, "DELETE FROM rest_secrets WHERE id = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return step_write(db, st);
}

int userdb_secret_each(struct userdb *db, int (*cb)(void *arg, const struct userdb_secret *s),
                       void *arg)
{
	sqlite3_stmt *st = prepare(db, "SELECT id, secret, not_after, created FROM rest_secrets "
	                               "ORDER BY id");
	struct userdb_secret s;
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s.id = sqlite3_column_int64(st, 0);
		s.secret = (const char *)sqlite3_column_text(st, 1);
		s.not_after = sqlite3_column_int64(st, 2); /* NULL reads as 0 */
		s.created = sqlite3_column_int64(st, 3);
		if (!s.secret) {
			rc = -EINVAL;
			break;
		}
		if ((rc = cb(arg, &s)) != 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	return rc > 0 ? -EIO : rc;
}

int userdb_read_begin(struct userdb *db)
{
	return exec(db, "BEGIN");
}

void userdb_read_end(struct userdb *db)
{
	exec(db, "COMMIT");
}

int userdb_data_version(struct userdb *db, int64_t *v)
{
	sqlite3_stmt *st = prepare(db, "PRAGMA data_version");
	int rc = -EIO;

	if (!st)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}
