/*
 * What auth.c, auth_nonce.c and auth_db.c share: the immutable credential
 * table and struct auth with its locks (see auth.c's comment on locking).
 * Private to those three files.
 */
#ifndef TWIST_RELAY_AUTH_INT_H
#define TWIST_RELAY_AUTH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/stun.h"
#include "relay/config.h"
#include "relay/userset.h"

#define NONCE_SF_LEN  4 /* base64 of the 24 security-feature bits */
#define NONCE_PFX_MAX (STUN_NONCE_COOKIE_LEN + NONCE_SF_LEN)
#define SECRET_RANDOM 32

struct realm_name {
	struct realm_name *next;
	char s[];
};

/* Immutable once built. */
struct table {
	struct userset *users; /* auth.users from the YAML file */
	const char *realm;     /* owned by struct auth's realm list */
	size_t realm_len;
	char rest_secret[CFG_STR];
	size_t rest_len; /* 0: REST credentials off */
	uint8_t nonce_key[CFG_STR];
	size_t nonce_key_len;
	uint64_t nonce_lifetime;
	bool sha256;
	char prefix[NONCE_PFX_MAX]; /* security-feature cookie, or empty */
	size_t prefix_len;
};

struct auth {
	pthread_rwlock_t lock;
	pthread_mutex_t reload_lock;
	struct table *t;      /* under lock */
	struct auth_db *db;   /* under lock; NULL: no user database */
	const char *db_realm; /* under lock: the interned realm db was built for */
	struct realm_name *realms;
	const char *realm; /* atomic: current realm */
	bool sha256;       /* atomic: copy of t->sha256 for the const getter */
	uint8_t random_secret[SECRET_RANDOM];
};

#endif
