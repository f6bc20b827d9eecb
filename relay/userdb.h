/*
 * The user database: SQLite, shared by twistctl (which writes it) and
 * twist-relay (which reads it into a snapshot off the packet path,
 * relay/userdb_load.c). It never holds a password: a user has one long-term
 * key per password algorithm (RFC 8489 §9.2.2), derived by twistctl.
 *
 * Schema version 1 (docs/operations.md, "The user database"):
 *   schema_version(version)
 *   users(name, realm, key_md5, key_sha256, quota, bandwidth, created)
 *   rest_secrets(id, secret, not_after, created)
 * A NULL quota or bandwidth means "the global limit"; 0 means unlimited.
 */
#ifndef TWIST_RELAY_USERDB_H
#define TWIST_RELAY_USERDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USERDB_VERSION    1
#define USERDB_LIMIT_NONE (-1) /* quota or bandwidth not set: the global one */
#define USERDB_SECRET_MIN 16   /* like auth.rest_secret */
#define USERDB_SECRET_MAX 255

struct userdb;

struct userdb_user {
	const char *name;
	const char *realm;
	uint8_t key_md5[16];
	uint8_t key_sha256[32];
	int64_t quota;     /* allocations, or USERDB_LIMIT_NONE */
	int64_t bandwidth; /* bytes/s per allocation, or USERDB_LIMIT_NONE */
	int64_t created;   /* seconds since the epoch */
};

struct userdb_secret {
	int64_t id;
	const char *secret;
	int64_t not_after; /* seconds since the epoch; 0 = none */
	int64_t created;
};

/*
 * Opens path; with create, makes the file (mode 0640) and the schema if it
 * is new. WAL mode, so the relay reads while twistctl writes. 0, or -1 with
 * a message in err.
 */
int userdb_open(const char *path, bool create, struct userdb **out, char *err, size_t errlen);
void userdb_close(struct userdb *db);
/* The last SQLite error, for messages. */
const char *userdb_errmsg(struct userdb *db);

/* Both keys of name:realm:password (RFC 8489 §9.2.2). 0 or -EINVAL. */
int userdb_keys(struct userdb_user *u, const char *pass, size_t plen);

/* 0; -EEXIST, -ENOENT as the verb says; -EIO on a database error. */
int userdb_user_add(struct userdb *db, const struct userdb_user *u);
int userdb_user_del(struct userdb *db, const char *name, const char *realm);
int userdb_user_passwd(struct userdb *db, const struct userdb_user *u);
/*
 * Users of realm (all realms when NULL), by name then realm; stops when cb
 * returns non-zero (0 or -errno), and returns that.
 */
int userdb_user_each(struct userdb *db, const char *realm,
                     int (*cb)(void *arg, const struct userdb_user *u), void *arg);
int userdb_user_count(struct userdb *db, const char *realm, unsigned *n);

int userdb_secret_add(struct userdb *db, const char *secret, int64_t not_after, int64_t *id);
int userdb_secret_del(struct userdb *db, int64_t id);
/* Oldest first, the order in which the relay tries them. */
int userdb_secret_each(struct userdb *db, int (*cb)(void *arg, const struct userdb_secret *s),
                       void *arg);

/* A read transaction, so that a snapshot sees one state of the file. */
int userdb_read_begin(struct userdb *db);
void userdb_read_end(struct userdb *db);
/* PRAGMA data_version: changes when another connection commits. */
int userdb_data_version(struct userdb *db, int64_t *v);

#endif
