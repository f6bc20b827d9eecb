/*
 * Which worker owns each allocation's 5-tuple, and the quotas. Taken only
 * when an allocation is created or deleted (a mutex, off the packet path).
 * The kernel steers a client to its worker once the per-client socket is
 * connected; until then a retransmitted Allocate may land on another worker,
 * and the registry keeps it from making a second allocation.
 */
#ifndef TWIST_RELAY_REGISTRY_H
#define TWIST_RELAY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct registry;

struct alloc_key {
	uint8_t transport; /* STUN_PROTO_UDP / _TCP: the client's transport */
	struct tw_addr client;
	struct tw_addr local;
};

struct registry *registry_new(unsigned max_total, unsigned user_quota, uint32_t seed);
void registry_free(struct registry *g);
/*
 * 0; -EEXIST if the 5-tuple is taken (*owner is set); -EDQUOT over the
 * user's quota; -ENOSPC over the total. Quotas are not enforced for flows
 * replicated from the active (enforce false), which enforced them already.
 */
int registry_claim(struct registry *g, const struct alloc_key *k, const char *user, unsigned worker,
                   bool enforce, unsigned *owner);
void registry_release(struct registry *g, const struct alloc_key *k, const char *user);
/*
 * A relay port held for a RESERVATION-TOKEN (RFC 8656 §7.2) counts against
 * its user's quota like an allocation, until it is claimed or expires.
 * registry_hold: 0; -EDQUOT over the user's quota; -ENOMEM.
 */
int registry_hold(struct registry *g, const char *user);
void registry_unhold(struct registry *g, const char *user);
size_t registry_count(struct registry *g);
void registry_set_limits(struct registry *g, unsigned max_total, unsigned user_quota);
/*
 * Where a user's own quota comes from (the user database): fn may replace
 * *quota, which holds the global one; 0 means unlimited. Called with the
 * registry's lock held, so fn must not call back into the registry.
 */
typedef void registry_quota_fn(void *arg, const char *user, unsigned *quota);
void registry_set_quota_fn(struct registry *g, registry_quota_fn *fn, void *arg);

bool alloc_key_eq(const struct alloc_key *a, const struct alloc_key *b);
uint32_t alloc_key_hash(const struct alloc_key *k, uint32_t seed);

#endif
