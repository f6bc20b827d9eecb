/*
 * A relay core without sockets on the client side: one worker, built from a
 * YAML config, and fake client connections (relay/conn.h) that capture what
 * the core sends. Relay sockets are real and bound on 127.0.0.1 only.
 * Shared by test_turn (cmocka) and fuzz_relay (libFuzzer).
 */
#ifndef TWIST_TESTS_RELAY_HARNESS_H
#define TWIST_TESTS_RELAY_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/stun.h"
#include "relay/conn.h"
#include "relay/relay.h"

#define FAKE_KEEP 8

struct fake_conn {
	struct conn c;
	uint8_t out[FAKE_KEEP][2048]; /* the last messages sent, a ring */
	size_t out_len[FAKE_KEEP];
	unsigned out_change[FAKE_KEEP]; /* STUN_CHANGE_* bits each left with */
	uint16_t out_port[FAKE_KEEP];   /* RESPONSE-PORT each went to; 0 = none */
	unsigned n_out;                 /* control messages sent, in all */
	unsigned n_data;                /* relayed data messages sent */
	/* RFC 5780: an alternate set around local (alt_other: IP and port
	 * both changed); without it, alt_addr says -EOPNOTSUPP. */
	bool alt;
	struct tw_addr alt_other;
};

struct harness {
	struct relay r;
	struct worker *w;
	uint64_t frozen_ms; /* non-zero: the worker's clock, for tests that count */
};

/* A cmocka test's state: a harness and one datagram client. */
struct harness_ctx {
	struct harness h;
	struct fake_conn fc;
};

/* *state = a new harness_ctx with extra config and that client; 0 or -1. */
int harness_ctx_setup(void **state, const char *extra, const char *client);
int harness_ctx_teardown(void **state);

/* extra: YAML appended to the test config (may be NULL). 0 or -1. */
int harness_init(struct harness *h, const char *extra);
void harness_fini(struct harness *h);
/* Frees every flow (as a worker shutdown would), so the next run starts clean. */
void harness_reset(struct harness *h);

void fake_conn_init(struct fake_conn *fc, struct harness *h, const char *client, bool stream);
/* One message from the client, as a transport would hand it in. */
void fake_input(struct harness *h, struct fake_conn *fc, const uint8_t *buf, size_t len);
/* An RFC 5780 set: local's IP and port against other's ("ip:port"). */
void fake_conn_alt(struct fake_conn *fc, const char *other);
/* The last message sent to the client, parsed (also classic); false if none or unparsable. */
bool fake_last(struct fake_conn *fc, struct stun_msg *m);
/* Its ERROR-CODE, 0 for a success response, -1 for no response. */
int fake_last_code(struct fake_conn *fc);

/* Requests: begin, add attributes through q->wr, then sign or finish. */
struct treq {
	struct stun_wr wr;
	uint8_t buf[1500];
};
void treq_begin(struct treq *q, uint16_t method, uint8_t cls, uint8_t tid_seed);
/* USERNAME, REALM, a fresh NONCE for fc's client, MESSAGE-INTEGRITY; length. */
size_t treq_sign(struct harness *h, struct treq *q, const struct fake_conn *fc, const char *user,
                 const char *pass);
/* The same with a user name of any bytes (NUL included). */
size_t treq_sign_as(struct harness *h, struct treq *q, const struct fake_conn *fc, const char *user,
                    size_t ulen, const char *pass);
size_t treq_end(struct treq *q);

#endif
