/*
 * The short-term credential store (RFC 8489 §9.1) behind the TURN core's
 * "short-term" credential kind: ICE connectivity checks addressed to this
 * relay (RFC 8445 §7.3). The M-ICE home agent fills it: one entry per
 * mobile node, the home agent's own ufrag and password for that node and
 * the node's ufrag, expiring with the node's binding (docs/mice.md §6.1).
 *
 * Bounded: a fixed array indexed by owner (the home agent's key index),
 * scanned under one mutex; checks are rare next to relayed data.
 */
#ifndef TWIST_RELAY_STCRED_H
#define TWIST_RELAY_STCRED_H

#include <stddef.h>
#include <stdint.h>

#define STCRED_UFRAG_LEN 8  /* what we generate: 48 random bits */
#define STCRED_PWD_LEN   24 /* 144 random bits, above RFC 8445's 128 */
#define STCRED_FRAG_MAX  256
#define STCRED_PWD_MAX   32 /* the TURN core's key buffer */

struct stcred;

struct stcred *stcred_new(unsigned max);
void stcred_free(struct stcred *s);
/*
 * The credentials of owner, replacing its previous ones: checks must carry
 * USERNAME "lfrag:rfrag" and integrity keyed with pwd until expires_ms
 * (the workers' monotonic clock). 0, -ENOSPC (owner out of range) or
 * -EINVAL (a fragment or password too long).
 */
int stcred_set(struct stcred *s, unsigned owner, const char *lfrag, const char *rfrag,
               const char *pwd, uint64_t expires_ms);
void stcred_drop(struct stcred *s, unsigned owner);
/* The key for a USERNAME of ulen bytes: its length, or -ENOENT (unknown or expired). */
int stcred_key(struct stcred *s, const char *user, size_t ulen, uint64_t now_ms,
               uint8_t key[STCRED_PWD_MAX]);
/* len random ice-chars (RFC 8839 §5.4) and a NUL into out; 0 or -EIO. */
int stcred_random(char *out, size_t len);

#endif
