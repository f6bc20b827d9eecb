/*
 * The receiving half of the data stream: sequenced messages (Batch,
 * BulkBegin, BulkEnd) are applied strictly in seq order, exactly once;
 * early ones wait in a ring; the cumulative ACK and the NACK ranges of the
 * gaps go back to the sender. A bulk is mark-and-sweep: BulkBegin opens a
 * table generation, BulkEnd deletes what the bulk did not touch.
 */
#ifndef TWIST_SYNCD_RX_H
#define TWIST_SYNCD_RX_H

#include "syncd/session.h"

int rx_init(struct rx *rx);
void rx_free(struct rx *rx);
/* A new peer session: its seqs start again at 1. */
void rx_reset(struct session *s);

/* A Batch, BulkBegin or BulkEnd of len packed bytes; takes m. */
void rx_on_seq(struct session *s, Twist__Sync *m, size_t len, uint64_t now);
void rx_on_alive(struct session *s, const Twist__Alive *a, uint64_t now);
void rx_run(struct session *s, uint64_t now);
uint64_t rx_next_run(const struct session *s);

#endif
