/*
 * A stand-in for the translator's TCP relay around proto/ftp_alg.c, shared by
 * test_ftp_alg.c and fuzz_ftp_alg.c: it holds each side's unread bytes,
 * feeds them in pieces of chosen sizes, answers events as the relay would
 * (a listener on port 50000 + id, or a failure) and keeps the transcripts.
 */
#ifndef TWIST_TESTS_PROTO_FTP_ALG_UTIL_H
#define TWIST_TESTS_PROTO_FTP_ALG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/ftp_alg.h"

enum { FA_CLIENT, FA_SERVER };

#define FA_IN_MAX  8192
#define FA_LOG_MAX 2048

struct fa_run {
	struct ftp_alg a;
	size_t cap;         /* of each per-call buffer: FTP_ALG_STEP_MAX .. sizeof(sb) */
	size_t first, rest; /* piece sizes: the first of each step, then the rest */
	bool fail_listen;   /* answer ACTIVE_OPEN with ftp_alg_active_failed() */
	uint8_t in[2][FA_IN_MAX];
	size_t in_n[2], in_off[2], first_left[2];
	uint8_t sb[2 * FTP_ALG_STEP_MAX], cb[2 * FTP_ALG_STEP_MAX];
	uint8_t *out[2]; /* [FA_CLIENT]: what the server got; [FA_SERVER]: the client */
	size_t out_n[2], out_max;
	char log[FA_LOG_MAX]; /* events, "open 0 [v6]:p;" and "cancel 0;" */
	size_t log_n;
	size_t in_total, events, calls;
	bool broken; /* an output or the log overflowed, or the pump got stuck */
};

/* out_max: the size of each transcript, allocated here; fa_run_free() frees. */
int fa_run_init(struct fa_run *r, const struct ftp_alg_env *env, size_t cap, size_t first,
                size_t rest, bool fail_listen, size_t out_max);
void fa_run_free(struct fa_run *r);
/* Queues n bytes from side dir and feeds everything that can go. */
void fa_run_step(struct fa_run *r, int dir, const void *p, size_t n);
/* The lab's addresses (docs/trt.md "FTP"): client, PREFIX::X4, the translator. */
void fa_env_lab(struct ftp_alg_env *env);

#endif
