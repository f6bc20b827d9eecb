/*
 * The sending half of the data stream: sequence numbers, the window of
 * packed messages kept for resends, the coalescing flush of the dirty
 * queue, the bulk walk, cumulative ACKs and NACKs from the peer, and the
 * relay's tokens waiting for the ACK that covers their flows.
 */
#ifndef TWIST_SYNCD_TX_H
#define TWIST_SYNCD_TX_H

#include "syncd/session.h"

int tx_init(struct tx *tx);
void tx_free(struct tx *tx);
/* A new peer session: nothing sent so far means anything to it. */
void tx_reset(struct session *s);

/* A local change was queued at now. */
void tx_changed(struct session *s, uint64_t now);
void tx_tokens_add(struct session *s, const uint64_t *tokens, size_t n);
/* Hands every waiting token back at once, counted as unreplicated. */
void tx_tokens_release_all(struct session *s, const char *why);

void tx_bulk_start(struct session *s);
void tx_on_ack(struct session *s, const Twist__Ack *a, uint64_t now);
void tx_run(struct session *s, uint64_t now);
uint64_t tx_next_run(const struct session *s, uint64_t now);
/* The highest seq sent at least once (what ALIVE announces). */
uint64_t tx_last_sent(const struct session *s);

#endif
