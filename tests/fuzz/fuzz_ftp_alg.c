/*
 * libFuzzer harness for proto/ftp_alg.c, the translator's FTP ALG. Input:
 * one byte picks the output buffers' size and whether listeners fail, two
 * pick piece sizes, and the rest is a session script of records, each a
 * control byte (bit 0: from the server; the rest: a length, 0 meaning an
 * overlong 600) and that many bytes. The script runs whole and in the
 * chosen pieces through the relay stand-in of tests/proto/ftp_alg_util.c;
 * both must give the same bytes, events and counters, with output bounded
 * by the input and every event on a line's LF.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_alg_util.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (16 * 2 * FA_IN_MAX + 1024)

static struct fa_run runs[2];

static size_t count_lf(const struct fa_run *r, int dir)
{
	size_t n = 0;

	for (size_t i = 0; i < r->in_n[dir]; i++)
		n += r->in[dir][i] == '\n';
	return n;
}

static size_t count_str(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

static void play(struct fa_run *r, const uint8_t *p, size_t n)
{
	while (n) {
		int dir = p[0] & 1 ? FA_SERVER : FA_CLIENT;
		size_t len = p[0] >> 1;

		p++;
		n--;
		if (!len)
			len = 600;
		if (len > n)
			len = n;
		fa_run_step(r, dir, p, len);
		p += len;
		n -= len;
	}
}

static void check_run(const struct fa_run *r)
{
	size_t opens = count_str(r->log, "open "), cancels = count_str(r->log, "cancel ");

	CHECK(!r->broken);
	for (int d = 0; d < 2; d++)
		CHECK(r->out_n[d] <= 16 * r->in_total + 1024);
	CHECK(opens <= count_lf(r, FA_CLIENT));
	CHECK(cancels <= count_lf(r, FA_SERVER) && cancels <= opens);
	/* Only the client's own address gets a proxy. */
	CHECK(count_str(r->log, " [2001:db8:12:1::2]:") == opens);
	CHECK(r->a.pend_n <= FTP_ALG_PENDING_MAX);
	CHECK(r->a.cl.len < FTP_ALG_LINE_MAX && r->a.sv.len < FTP_ALG_LINE_MAX);
	CHECK(strcmp(ftp_alg_state_name(r->a.state), "unknown"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ftp_alg_env env;
	size_t cap;
	bool fail;

	if (size < 3 || size > FA_IN_MAX)
		return 0;
	cap = FTP_ALG_STEP_MAX + data[0] % (FTP_ALG_STEP_MAX + 1);
	fail = data[0] & 0x80;
	fa_env_lab(&env);
	CHECK(fa_run_init(&runs[0], &env, sizeof(runs[0].sb), 0, 0, fail, OUT_MAX) == 0);
	CHECK(fa_run_init(&runs[1], &env, cap, data[1] % 16, 1 + data[2] % 32, fail, OUT_MAX) == 0);
	play(&runs[0], data + 3, size - 3);
	play(&runs[1], data + 3, size - 3);
	check_run(&runs[0]);
	check_run(&runs[1]);
	for (int d = 0; d < 2; d++) {
		CHECK(runs[0].out_n[d] == runs[1].out_n[d]);
		CHECK(!memcmp(runs[0].out[d], runs[1].out[d], runs[0].out_n[d]));
		CHECK(runs[0].in_off[d] == runs[1].in_off[d]);
	}
	CHECK(!strcmp(runs[0].log, runs[1].log));
	CHECK(!memcmp(runs[0].a.rewrites, runs[1].a.rewrites, sizeof(runs[0].a.rewrites)));
	CHECK(!memcmp(runs[0].a.anomalies, runs[1].a.anomalies, sizeof(runs[0].a.anomalies)));
	CHECK(runs[0].a.state == runs[1].a.state);
	fa_run_free(&runs[0]);
	fa_run_free(&runs[1]);
	return 0;
}
