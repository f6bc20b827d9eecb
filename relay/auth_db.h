/*
 * A snapshot of the user database (relay/userdb_load.c builds it off the
 * packet path): users with their stored keys and limits, and the REST
 * secrets. Immutable once handed to auth_db_install; the workers read it
 * through relay/auth.h's lookups, exactly as they read the YAML users.
 */
#ifndef TWIST_RELAY_AUTH_DB_H
#define TWIST_RELAY_AUTH_DB_H

#include <stddef.h>
#include <stdint.h>

#include "relay/userset.h"

struct auth;

/* REST secrets accepted at once: each is one more HMAC for a bad password. */
#define AUTH_DB_SECRETS    8
#define AUTH_DB_SECRET_MAX 255

struct auth_db_secret {
	char s[AUTH_DB_SECRET_MAX + 1];
	size_t len;
	uint64_t not_after; /* seconds since the epoch; 0 = none */
};

struct auth_db {
	struct userset *users;
	struct auth_db_secret secrets[AUTH_DB_SECRETS];
	unsigned n_secrets;
	unsigned shadowed; /* users the YAML list wins over, set by auth_db_install */
};

/* Room for n_users of realm. NULL when out of memory. */
struct auth_db *auth_db_new(unsigned n_users, const char *realm, size_t rlen);
void auth_db_free(struct auth_db *d);
/* 0; -ENOSPC past AUTH_DB_SECRETS; -EINVAL for an empty or long secret. */
int auth_db_secret_add(struct auth_db *d, const char *s, size_t len, uint64_t not_after);
/*
 * Makes d the snapshot the lookups use (NULL: none) and frees the one it
 * replaces once no lookup holds it. A snapshot of another realm than the
 * running one is refused with -ESTALE (the realm changed while it loaded);
 * on error d stays the caller's.
 */
int auth_db_install(struct auth *a, struct auth_db *d);
/* Users and secrets in the current snapshot, for logs and the control socket. */
void auth_db_counts(struct auth *a, unsigned *users, unsigned *secrets, unsigned *shadowed);

#endif
