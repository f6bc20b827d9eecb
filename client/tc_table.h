/*
 * The shim's 5-tuple table and the bounded queue a flow holds while its
 * Allocate is under way. No I/O, no clock.
 *
 * A key is what the application's packets carry on the TUN (protocol, its
 * own address and port, the destination it used). Every packet read from
 * the TUN comes from the application's side, so its addresses are a key as
 * they stand. Entries are embedded in the caller's objects; the table never
 * allocates per entry.
 */
#ifndef TWIST_CLIENT_TC_TABLE_H
#define TWIST_CLIENT_TC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct tc_key {
	uint8_t proto;
	struct tw_addr local;  /* the application's address and port */
	struct tw_addr remote; /* the destination it used */
};

struct tc_node {
	struct tc_node *next;
	struct tc_key key;
	bool linked;
};

struct tc_table {
	struct tc_node **bucket;
	size_t nbucket; /* a power of two */
	size_t count, max;
	uint32_t seed;
};

/* max entries; returns 0 or -ENOMEM. */
int tc_table_init(struct tc_table *t, size_t max, uint32_t seed);
void tc_table_fini(struct tc_table *t);
/* -EEXIST when the key is there, -ENOSPC when the table is full. */
int tc_table_add(struct tc_table *t, struct tc_node *n);
void tc_table_del(struct tc_table *t, struct tc_node *n);
struct tc_node *tc_table_find(const struct tc_table *t, const struct tc_key *k);
bool tc_key_eq(const struct tc_key *a, const struct tc_key *b);

/* A copy of packets in arrival order, capped in count and bytes. */
struct tc_qpkt {
	struct tc_qpkt *next;
	size_t len;
	uint8_t data[];
};

struct tc_queue {
	struct tc_qpkt *head, *tail;
	size_t n, bytes;
	size_t max_n, max_bytes;
};

#define TC_QUEUE_PKTS  32
#define TC_QUEUE_BYTES 65536

void tc_queue_init(struct tc_queue *q, size_t max_n, size_t max_bytes);
/* 0, -ENOBUFS when it would go over a cap (the packet is dropped), -ENOMEM. */
int tc_queue_push(struct tc_queue *q, const uint8_t *p, size_t len);
/* The oldest packet, which the caller frees; NULL when empty. */
struct tc_qpkt *tc_queue_pop(struct tc_queue *q);
void tc_queue_clear(struct tc_queue *q);

#endif
