/* The relay stand-in of ftp_alg_util.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_alg_util.h"

void fa_env_lab(struct ftp_alg_env *env)
{
	memset(env, 0, sizeof(*env));
	tw_addr_parse_ip("2001:db8:12:1::2", &env->client);
	tw_addr_parse_ip("fd64:7472::c633:640a", &env->server6);
	tw_addr_parse_ip("198.51.100.1", &env->source4);
}

int fa_run_init(struct fa_run *r, const struct ftp_alg_env *env, size_t cap, size_t first,
                size_t rest, bool fail_listen, size_t out_max)
{
	memset(r, 0, sizeof(*r));
	ftp_alg_init(&r->a, env);
	r->cap = cap;
	r->first = first;
	r->rest = rest ? rest : FA_IN_MAX;
	r->fail_listen = fail_listen;
	r->out_max = out_max;
	r->out[0] = malloc(out_max);
	r->out[1] = malloc(out_max);
	if (!r->out[0] || !r->out[1]) {
		fa_run_free(r);
		return -1;
	}
	return 0;
}

void fa_run_free(struct fa_run *r)
{
	free(r->out[0]);
	free(r->out[1]);
	r->out[0] = r->out[1] = NULL;
}

static void keep(struct fa_run *r, int side, const struct ftp_alg_buf *b)
{
	if (b->len > b->cap || r->out_n[side] + b->len > r->out_max) {
		r->broken = true;
		return;
	}
	memcpy(r->out[side] + r->out_n[side], b->p, b->len);
	r->out_n[side] += b->len;
}

static void log_add(struct fa_run *r, const char *s)
{
	size_t n = strlen(s);

	if (r->log_n + n >= FA_LOG_MAX) {
		r->broken = true;
		return;
	}
	memcpy(r->log + r->log_n, s, n + 1);
	r->log_n += n;
}

/* What the relay does with an event. */
static void on_event(struct fa_run *r)
{
	const struct ftp_alg_event *ev = ftp_alg_event(&r->a);
	struct ftp_alg_buf s = {r->sb, r->cap, 0};
	char line[96], ip[TW_ADDR_STRLEN];

	switch (ev->kind) {
	case FTP_ALG_EV_NONE:
		return;
	case FTP_ALG_EV_ACTIVE_OPEN:
		snprintf(line, sizeof(line), "open %u %s;", ev->id,
		         tw_addr_fmt(&ev->addr, ip, sizeof(ip)));
		log_add(r, line);
		if (r->fail_listen)
			ftp_alg_active_failed(&r->a, &s);
		else
			ftp_alg_active_ready(&r->a, (uint16_t)(50000 + ev->id), &s);
		break;
	case FTP_ALG_EV_ACTIVE_CANCEL:
		snprintf(line, sizeof(line), "cancel %u;", ev->id);
		log_add(r, line);
		break;
	}
	r->events++;
	keep(r, FA_CLIENT, &s);
}

/* One call on side dir; returns whether anything moved. */
static bool feed_once(struct fa_run *r, int dir)
{
	size_t avail = r->in_n[dir] - r->in_off[dir], n, used;
	struct ftp_alg_buf s = {r->sb, r->cap, 0}, c = {r->cb, r->cap, 0};
	const uint8_t *p = r->in[dir] + r->in_off[dir];

	if (!avail)
		return false;
	n = r->first_left[dir] ? r->first_left[dir] : r->rest;
	if (n > avail)
		n = avail;
	if (dir == FA_CLIENT)
		used = ftp_alg_from_client(&r->a, p, n, &s, &c);
	else
		used = ftp_alg_from_server(&r->a, p, n, &s, &c);
	r->calls++;
	if (used > n)
		r->broken = true;
	r->in_off[dir] += used;
	r->first_left[dir] -= used < r->first_left[dir] ? used : r->first_left[dir];
	keep(r, FA_CLIENT, &s);
	keep(r, FA_SERVER, &c);
	/* An event comes only with the LF of the line that caused it. */
	if (ftp_alg_event(&r->a)->kind != FTP_ALG_EV_NONE &&
	    (!used || p[used - 1] != '\n' ||
	     dir != (ftp_alg_event(&r->a)->kind == FTP_ALG_EV_ACTIVE_OPEN ? FA_CLIENT : FA_SERVER)))
		r->broken = true;
	on_event(r);
	return used || s.len || c.len || ftp_alg_event(&r->a)->kind != FTP_ALG_EV_NONE;
}

void fa_run_step(struct fa_run *r, int dir, const void *p, size_t n)
{
	if (r->in_n[dir] + n > FA_IN_MAX) {
		r->broken = true;
		return;
	}
	memcpy(r->in[dir] + r->in_n[dir], p, n);
	r->in_n[dir] += n;
	r->in_total += n;
	r->first_left[dir] = r->first;
	/*
	 * Like the relay: client bytes that arrived are all fed (until the
	 * ALG blocks them) before the server's next call, whatever pieces
	 * they came in. Each call moves a byte, an output or an event, so
	 * the guard only catches a stuck pump.
	 */
	for (size_t guard = 0; guard < 4 * FA_IN_MAX + 64; guard++) {
		bool moved = false;

		while (guard++ < 4 * FA_IN_MAX + 64 && feed_once(r, FA_CLIENT))
			moved = true;
		moved |= feed_once(r, FA_SERVER);
		if (!moved)
			return;
	}
	r->broken = true;
}
