/*
 * Keeps relay/auth.c's user database snapshot current, off the packet path.
 *
 * A loader thread owns the SQLite connection. Once a second it checks the
 * file (stat) and PRAGMA data_version; when either changed, and whenever
 * asked (SIGHUP, twistctl over the control socket), it reads the whole
 * database in one read transaction into a new snapshot and installs it with
 * auth_db_install. The workers never wait on SQLite: they read the snapshot
 * under auth's read lock, as they read the YAML users. A snapshot that
 * cannot be read (the file is gone, corrupt, locked) leaves the last good
 * one in place, and the loader logs why.
 */
#ifndef TWIST_RELAY_USERDB_LOAD_H
#define TWIST_RELAY_USERDB_LOAD_H

#include <stddef.h>
#include <stdint.h>

struct auth;
struct event_base;
struct userdb_loader;

struct userdb_load_stats {
	int rc;            /* of the last load: 0 or -errno */
	unsigned users;    /* in the installed snapshot */
	unsigned secrets;  /* active REST secrets in it */
	unsigned skipped;  /* rows refused (bad name, past AUTH_DB_SECRETS) */
	unsigned shadowed; /* users the YAML list wins over */
	uint64_t ms;       /* how long the last load took */
	uint64_t cpu_ms;   /* the loader thread's CPU time for it */
	size_t bytes;      /* heap the snapshot's user table holds */
};

/*
 * Opens (creating if new) path, loads the first snapshot before returning,
 * then starts the thread. done(arg) runs on base's thread after every
 * requested load. NULL with a message in err.
 */
struct userdb_loader *userdb_loader_new(const char *path, struct auth *a, struct event_base *base,
                                        void (*done)(void *arg), void *arg, char *err,
                                        size_t errlen);
void userdb_loader_free(struct userdb_loader *l); /* joins the thread */
/* Asks for a load now; returns the generation to wait for. Any thread. */
uint64_t userdb_loader_request(struct userdb_loader *l);
/* The last generation done, and its stats. Any thread. */
uint64_t userdb_loader_done(struct userdb_loader *l, struct userdb_load_stats *st);

#endif
