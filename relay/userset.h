/*
 * A set of long-term users: name -> keys, USERHASH -> name, and the user's
 * own limits. Built once, then immutable: readers need no lock of their own
 * (relay/auth.c swaps whole sets under its lock). Used for the YAML users
 * and for each snapshot of the user database.
 */
#ifndef TWIST_RELAY_USERSET_H
#define TWIST_RELAY_USERSET_H

#include <stddef.h>
#include <stdint.h>

/* A limit not set for the user: the global one applies. */
#define USERSET_QUOTA_DEFAULT UINT32_MAX
#define USERSET_BW_DEFAULT    UINT64_MAX

/* RFC 8489 §14.3: USERNAME is fewer than 509 bytes. */
#define USERSET_NAME_MAX 508

struct userset_user {
	char *name;
	size_t len;
	uint8_t key_md5[16];
	uint8_t key_sha256[32];
	uint8_t userhash[32]; /* RFC 8489 §14.4 */
	uint32_t quota;       /* allocations, 0 = unlimited */
	uint64_t bandwidth;   /* bytes/s per allocation, 0 = unlimited */
};

struct userset;

/* Room for cap users of realm (copied). NULL when out of memory. */
struct userset *userset_new(unsigned cap, const char *realm, size_t rlen);
void userset_free(struct userset *s);
/*
 * Adds a user with its keys already derived (the database stores keys).
 * 0; -EEXIST (name taken), -ENOSPC (cap reached), -EINVAL, -ENOMEM.
 */
int userset_add(struct userset *s, const char *name, size_t len, const uint8_t md5[16],
                const uint8_t sha256[32], uint32_t quota, uint64_t bandwidth);
/* Same, deriving both keys from the password (RFC 8489 §9.2.2). */
int userset_add_password(struct userset *s, const char *name, size_t len, const char *pass,
                         size_t plen);
const struct userset_user *userset_find(const struct userset *s, const char *name, size_t len);
const struct userset_user *userset_find_hash(const struct userset *s, const uint8_t hash[32]);
unsigned userset_count(const struct userset *s);
/* The i-th user added, i < userset_count. */
const struct userset_user *userset_at(const struct userset *s, unsigned i);
const char *userset_realm(const struct userset *s);
/* Heap bytes held, for the reload log line. */
size_t userset_bytes(const struct userset *s);

#endif
