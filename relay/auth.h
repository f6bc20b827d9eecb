/*
 * Authentication for twist-relay: long-term credentials (static users and
 * TURN REST time-limited credentials), stateless nonces, USERHASH.
 * Thread-safe: workers call the lookups concurrently; auth_reload swaps the
 * user table under a lock (SIGHUP), auth_db_install (relay/auth_db.h) the
 * user database's snapshot. Never on the ChannelData path.
 */
#ifndef TWIST_RELAY_AUTH_H
#define TWIST_RELAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct config;
struct auth;

#define AUTH_NONCE_MAX 128 /* bytes, well below RFC 8489's 763 */

enum auth_nonce {
	AUTH_NONCE_OK,
	AUTH_NONCE_STALE, /* well-formed and ours, but too old: 438 */
	AUTH_NONCE_BAD,   /* not ours, or for another client: 438 as well */
};

struct auth *auth_new(const struct config *cfg);
void auth_free(struct auth *a);
/* Replaces users, realm and REST secret from cfg (SIGHUP). 0 or -errno. */
int auth_reload(struct auth *a, const struct config *cfg);

/*
 * Stateless nonce (DESIGN decision 6): HMAC-SHA256 over the nonce secret, a
 * time bucket and the client's address and port, so a sibling with the same
 * secret accepts it for the same client. With sha256 enabled it starts with
 * the RFC 8489 security-feature cookie "obMatJos2" and the
 * password-algorithms bit.
 * Writes a NUL-terminated string; returns its length.
 */
size_t auth_nonce_make(struct auth *a, const struct tw_addr *client, uint64_t now_s,
                       char out[AUTH_NONCE_MAX + 1]);
enum auth_nonce auth_nonce_check(struct auth *a, const struct tw_addr *client, const uint8_t *nonce,
                                 size_t len, uint64_t now_s);
/* True if the nonce carries the password-algorithms security feature bit. */
bool auth_nonce_has_pwalgs(const uint8_t *nonce, size_t len);

/*
 * The long-term key for username (not NUL-terminated) under algorithm alg
 * (STUN_PWALG_MD5 or _SHA256). Static users first (the YAML list, then the
 * database), then REST usernames of the form "expiry[:user]" whose password
 * is base64(HMAC-SHA1(secret, username)).
 * Returns the key length, -ENOENT (unknown user), -EKEYEXPIRED (REST
 * credential past its expiry) or -EINVAL.
 */
int auth_key(struct auth *a, const char *user, size_t ulen, uint16_t alg, uint64_t now_s,
             uint8_t key[32]);
/*
 * The idx-th candidate key: a static user has one (idx 0); a REST username
 * has one per active secret (rotation: the configured secret, then the
 * database's). -ENOENT past the last, so a caller tries idx = 0, 1, ...
 * until the message's integrity checks or this fails.
 */
int auth_key_at(struct auth *a, const char *user, size_t ulen, uint16_t alg, uint64_t now_s,
                unsigned idx, uint8_t key[32]);
/*
 * The user's own quota (allocations) and bandwidth (bytes/s per allocation)
 * from the database; left as they are (the global defaults the caller put
 * there) for users without their own and for REST users.
 */
void auth_user_limits(struct auth *a, const char *user, uint32_t *quota, uint64_t *bandwidth);

/* USERHASH: finds the static user whose hash matches; copies the name. 0 or -ENOENT. */
int auth_userhash_find(struct auth *a, const uint8_t hash[32], char *user, size_t userlen);

const char *auth_realm(struct auth *a); /* stable for the life of a */
bool auth_sha256_enabled(const struct auth *a);

#endif
