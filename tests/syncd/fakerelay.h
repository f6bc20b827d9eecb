/*
 * A stand-in for twist-relay's end of replication, for the integration
 * test and the benchmark: it connects to a twist-syncd's ipc (PUSH to
 * sync-in.ipc, PULL from sync-out.ipc) and keeps what syncd tells it in a
 * table indexed by the flow numbers of tests/syncd/util.h. Also: spawning
 * and stopping processes by pid, free loopback ports, and reading one
 * metric over HTTP.
 */
#ifndef TWIST_TESTS_SYNCD_FAKERELAY_H
#define TWIST_TESTS_SYNCD_FAKERELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/flow.h"

#define FR_MAX 400000 /* flow numbers the table can hold */

struct fr_flow {
	uint32_t lifetime;
	uint16_t relport;
	uint8_t present, nperm, nchan;
};

struct frelay {
	int push, pull;
	struct fr_flow *tab;
	size_t live, imports, deletes, dump_ends, msgs, heartbeats;
	bool synced;
	uint64_t tokens[4096];
	size_t n_tokens;
	size_t dump_asks; /* syncd asked us for our flows */
	/* Answer a dump request with flows [reply_first, reply_first + reply_n). */
	unsigned reply_first, reply_n;
	/* Called for every flow imported (the benchmark's lag probe). */
	void (*on_flow)(struct frelay *r, const Twist__Flow *f);
	void *arg;
};

uint64_t fr_now_us(void);
/* A nanomsg socket of proto connected to ipc://dir/name; -1 on error. */
int fr_ipc_connect(int proto, const char *dir, const char *name);
int fr_open(struct frelay *r, const char *dir);
void fr_close(struct frelay *r);
/* Forgets the table (before asking syncd for a dump). */
void fr_clear(struct frelay *r);
/* Sends m, retrying EAGAIN for up to 30 s. */
int fr_send(struct frelay *r, const Twist__Local *m);
int fr_send_raw(struct frelay *r, const void *buf, size_t len);
/* Flows [first, first+n) (or their deletes), in messages of up to 512 flows; token rides on the
 * last. */
int fr_push_range(struct frelay *r, unsigned first, unsigned n, bool del, uint64_t token);
int fr_ask_dump(struct frelay *r);
/* Handles whatever syncd sent, waiting up to timeout_ms for the first message. */
int fr_poll(struct frelay **rs, size_t n, int timeout_ms);
int fr_poll_us(struct frelay **rs, size_t n, int64_t timeout_us);
/* Polls until cond(arg) or timeout_ms; true if cond held. */
bool fr_wait(struct frelay **rs, size_t n, bool (*cond)(void *), void *arg, int timeout_ms);
bool fr_has_token(const struct frelay *r, uint64_t token);

pid_t fr_spawn(char *const argv[], const char *log);

/* One twist-syncd of a loopback pair: its id, ports and files. */
struct fr_node {
	int id;
	uint16_t port, mport;
	char dir[200], role[256], log[256];
	pid_t pid;
};

/* Fills n under tmp (dir tmp/<name>, free ports) and writes its role file. */
int fr_node_init(struct fr_node *n, const char *tmp, const char *name, int id, const char *role);
/* Starts n's twist-syncd paired with p (extra: more arguments, NULL-terminated). */
pid_t fr_node_start(struct fr_node *n, const struct fr_node *p, const char *bin,
                    const char *const *extra);
/* SIGTERM (or SIGKILL when kill9), then waits up to timeout_ms; the exit status or -1. */
int fr_stop(pid_t pid, bool kill9, int timeout_ms);
uint16_t fr_free_port(void);
/* Removes dir and everything below it (a test's scratch directory). */
void fr_rmtree(const char *dir);
/* The value of the first sample of metric name (with labels, if given), or -1. */
double fr_metric(uint16_t port, const char *name);

#endif
