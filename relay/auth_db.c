/*
 * The user database snapshot (relay/auth_db.h): built off the packet path
 * by relay/userdb_load.c, installed here, read by auth.c's lookups.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "relay/auth.h"
#include "relay/auth_db.h"
#include "relay/auth_int.h"

struct auth_db *auth_db_new(unsigned n_users, const char *realm, size_t rlen)
{
	struct auth_db *d = calloc(1, sizeof(*d));

	if (d && !(d->users = userset_new(n_users, realm, rlen))) {
		free(d);
		d = NULL;
	}
	return d;
}

void auth_db_free(struct auth_db *d)
{
	if (!d)
		return;
	userset_free(d->users);
	OPENSSL_cleanse(d, sizeof(*d));
	free(d);
}

int auth_db_secret_add(struct auth_db *d, const char *s, size_t len, uint64_t not_after)
{
	if (len == 0 || len > AUTH_DB_SECRET_MAX)
		return -EINVAL;
	if (d->n_secrets == AUTH_DB_SECRETS)
		return -ENOSPC;
	memcpy(d->secrets[d->n_secrets].s, s, len);
	d->secrets[d->n_secrets].len = len;
	d->secrets[d->n_secrets].not_after = not_after;
	d->n_secrets++;
	return 0;
}

/* The snapshot's users the YAML list shadows. Caller holds reload_lock. */
static unsigned db_shadowed(const struct auth *a, const struct auth_db *d)
{
	const struct userset *y = a->t->users;
	unsigned n = 0;

	if (userset_count(y) == 0)
		return 0;
	for (unsigned i = 0; i < userset_count(d->users); i++) {
		const struct userset_user *u = userset_at(d->users, i);

		n += userset_find(y, u->name, u->len) != NULL;
	}
	return n;
}

int auth_db_install(struct auth *a, struct auth_db *d)
{
	struct auth_db *old;
	const char *realm = NULL;
	int rc = 0;

	pthread_mutex_lock(&a->reload_lock);
	if (d) {
		const char *r = userset_realm(d->users);

		if (strcmp(r, a->t->realm) != 0) {
			rc = -ESTALE;
			goto done;
		}
		realm = a->t->realm;
		d->shadowed = db_shadowed(a, d);
	}
	pthread_rwlock_wrlock(&a->lock);
	old = a->db;
	a->db = d;
	a->db_realm = realm;
	pthread_rwlock_unlock(&a->lock);
	auth_db_free(old);
done:
	pthread_mutex_unlock(&a->reload_lock);
	return rc;
}

void auth_db_counts(struct auth *a, unsigned *users, unsigned *secrets, unsigned *shadowed)
{
	pthread_rwlock_rdlock(&a->lock);
	*users = a->db ? userset_count(a->db->users) : 0;
	*secrets = a->db ? a->db->n_secrets : 0;
	*shadowed = a->db ? a->db->shadowed : 0;
	pthread_rwlock_unlock(&a->lock);
}
