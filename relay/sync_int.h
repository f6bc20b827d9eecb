/*
 * Inside replication (relay/sync.c, the main thread's side; relay/
 * sync_worker.c, the workers'): what the two sides share. Nothing else
 * includes this header.
 */
#ifndef TWIST_RELAY_SYNC_INT_H
#define TWIST_RELAY_SYNC_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/flow.h"
#include "relay/flowconv.h"
#include "relay/import_check.h"
#include "relay/relay.h"

#define FLUSH_BATCH 64   /* tuples per message */
#define MAX_DELETES 4096 /* delete tuples waiting for the ipc */
#define MAX_TOKENS  1024 /* held responses per worker */

/* A received message shared by the workers that apply its flows. */
struct shared_msg {
	Twist__Local *msg;
	int refs;
};

enum item_kind { ITEM_FLOW, ITEM_TOKEN, ITEM_DUMP };

struct item {
	struct item *next;
	enum item_kind kind;
	struct shared_msg *sm;
	const Twist__Flow *flow;
	uint64_t token;
};

struct held {
	struct held *next;
	uint64_t token, deadline;
	int fd;
	struct tw_addr dst;
	size_t len;
	uint8_t buf[];
};

struct sync_worker {
	pthread_mutex_t lock; /* inbox only: the main thread appends */
	struct item *in_head, *in_tail;
	struct event *ev_inbox, *ev_flush, *ev_held;
	/* Everything below belongs to the worker thread. */
	struct flow *dirty_head, *dirty_tail;
	struct alloc_key del[MAX_DELETES];
	unsigned n_del;
	uint64_t tokens[MAX_TOKENS];
	unsigned n_tokens;
	struct held *held_head, *held_tail;
	uint64_t token_seq;
	struct flow_out out[FLUSH_BATCH];
	Twist__Flow *flows[FLUSH_BATCH];
};

struct sync {
	struct relay *r;
	struct import_limits lim; /* decision 14: what the peer sends is checked */
	uint64_t refused_log;
	int push, pull;
	struct event *ev_pull, *ev_dump;
	bool dump_sent;
	int peer_synced;   /* atomic */
	uint64_t heard_ms; /* atomic */
};

/* Drops a reference; the last one frees the message. Any thread. */
void sync_shared_put(struct shared_msg *sm);

#endif
