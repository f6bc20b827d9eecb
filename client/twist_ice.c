/*
 * twist-ice: an M-ICE mobile node (MN) or correspondent node (CN), see
 * twist-ice(8) and docs/mice.md ("Moving"). The MN's offer travels in a
 * Binding Update through the home agent (twist-relay with mice:), the
 * CN's answer in the Binding Acknowledgement; ICE (client/ice) finds the
 * path, and a UDP echo stream runs on it. When the MN's addresses change
 * it restarts ICE with new candidates and credentials and offers again.
 */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/tice.h"
#include "common/clock.h"
#include "common/log.h"

#define TICE_TICK_MS     100
#define TICE_RTX_MS      1000 /* a BU without its answer goes again (new sequence number) */
#define TICE_RTX_MAX     120
#define TICE_PAIR_STRLEN (2 * (TW_ADDR_STRLEN + 8) + 4)

static uint64_t now_ms(void)
{
	return clock_mono_ms();
}

static double t_s(const struct tice *t)
{
	return (double)(now_ms() - t->start_ms) / 1000.0;
}

static void pair_fmt(const struct ice_cand *l, const struct ice_cand *r, char *out, size_t cap)
{
	char lb[TW_ADDR_STRLEN], rb[TW_ADDR_STRLEN];

	snprintf(out, cap, "%s:%s->%s:%s", ice_cand_type_name(l->type),
	         tw_addr_fmt(&l->addr, lb, sizeof(lb)), ice_cand_type_name(r->type),
	         tw_addr_fmt(&r->addr, rb, sizeof(rb)));
}

static void sel_fmt(const struct tice *t, char *out, size_t cap)
{
	struct ice_cand l, r;

	if (ice_selected_pair(t->a, 1, &l, &r) < 0)
		snprintf(out, cap, "none");
	else
		pair_fmt(&l, &r, out, cap);
}

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void sig_send(struct tice *t, const uint8_t *buf, int n)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char b[TW_ADDR_STRLEN];

	if (n < 0) {
		log_warn("twist-ice: cannot build a mobility message: %s", strerror(-n));
		return;
	}
	sl = tw_addr_to_sa(&t->ha, &ss);
	if (sendto(t->fd, buf, (size_t)n, 0, (struct sockaddr *)&ss, sl) < 0)
		log_warn("twist-ice: to the home agent %s: %s", tw_addr_fmt(&t->ha, b, sizeof(b)),
		         strerror(errno));
}

/* A registration (no peer, no description): the CN's, and both nodes' refreshes. */
static void register_send(struct tice *t)
{
	uint8_t buf[MH_MAX_LEN];

	t->seq++;
	sig_send(t, buf, tice_bu_build(&t->sig, t->seq, NULL, NULL, buf, sizeof(buf)));
	t->rtx_ms = now_ms() + TICE_RTX_MS;
}

/* The MN's offer to the CN, through the home agent; again (new number) until answered. */
static void offer_send(struct tice *t)
{
	static struct mice_ice d;
	uint8_t buf[MH_MAX_LEN];
	int rc = tice_desc_local(t->a, &d);

	if (rc < 0) {
		log_warn("twist-ice: no candidates to offer yet");
		t->rtx_ms = now_ms() + TICE_RTX_MS;
		return;
	}
	t->seq++;
	t->offer_seq = t->seq;
	t->offer_out = true;
	t->offer_due = false;
	sig_send(t, buf, tice_bu_build(&t->sig, t->seq, &t->sig.peer, &d, buf, sizeof(buf)));
	t->rtx_ms = now_ms() + TICE_RTX_MS;
	log_info("twist-ice: offer sent, sequence %u, %u candidates, ufrag %s", t->seq, d.n_cands,
	         d.ufrag);
}

static int remote_from(const struct mice_ice *d, struct ice_cand *c)
{
	for (size_t i = 0; i < d->n_cands; i++)
		tice_cand_from_mice(&d->cand[i], &c[i]);
	return d->n_cands;
}

/* MN: the CN's answer to our current offer. */
static void on_answer(struct tice *t, const struct mice_mh *m)
{
	static struct ice_cand c[MICE_MAX_CANDS];
	int n;

	if (!t->offer_out || m->seq != t->offer_seq || !m->has_ice)
		return; /* an answer to an offer a move superseded */
	t->offer_out = false;
	t->tries = 0;
	n = remote_from(&m->ice, c);
	if (ice_set_remote(t->a, m->ice.ufrag, m->ice.pwd, c, (size_t)n) < 0)
		log_warn("twist-ice: the answer's credentials were refused");
	emit("answer t=%.1f seq=%u cands=%d", t_s(t), m->seq, n);
}

/* CN: an offer relayed by the home agent; a new one (new credentials) restarts ICE. */
static void on_offer(struct tice *t, const struct mice_mh *m)
{
	static struct ice_cand c[MICE_MAX_CANDS];
	static struct mice_ice d;
	uint8_t buf[MH_MAX_LEN];
	bool again = !strcmp(t->rufrag, m->ice.ufrag) && !strcmp(t->rpwd, m->ice.pwd);
	int n;

	if (!again) {
		if (t->rufrag[0] && ice_restart(t->a, NULL, NULL) < 0)
			return;
		n = remote_from(&m->ice, c);
		if (ice_set_remote(t->a, m->ice.ufrag, m->ice.pwd, c, (size_t)n) < 0) {
			log_warn("twist-ice: the offer's credentials were refused");
			return;
		}
		strcpy(t->rufrag, m->ice.ufrag);
		strcpy(t->rpwd, m->ice.pwd);
		emit("offer t=%.1f seq=%u cands=%d restart=%d", t_s(t), m->seq, n,
		     ice_agent_stats(t->a)->selections > 0);
	}
	if (tice_desc_local(t->a, &d) < 0)
		return;
	sig_send(t, buf, tice_ba_build(&t->sig, m->seq, &m->home, &d, buf, sizeof(buf)));
}

/* The home agent's answer to our own BU. */
static void on_own_ba(struct tice *t, const struct mice_mh *m)
{
	if (m->status == MH_ST_SEQ_OUT_OF_WIN) {
		/* RFC 6275 §9.5.1: it names the last number it took; go on from there */
		t->seq = m->seq;
		t->rtx_ms = 0;
		return;
	}
	if (m->status != MH_ST_ACCEPTED) {
		log_warn("twist-ice: the home agent answered %u (%s)", m->status,
		         mice_mh_status_name(m->status));
		return;
	}
	if (!t->registered)
		emit("registered t=%.1f lifetime=%u", t_s(t), m->lifetime * 4u);
	t->registered = true;
	if (!t->mn)
		t->tries = 0;
	t->refresh_ms = now_ms() + (uint64_t)m->lifetime * 4000 / 2;
}

static void on_sig(evutil_socket_t fd, short what, void *arg)
{
	struct tice *t = arg;
	static struct mice_mh m;
	uint8_t buf[MH_MAX_LEN + 1];
	(void)what;

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		int rc;

		if (n < 0)
			return;
		rc = tice_msg_read(&t->sig, &m, buf, (size_t)n);
		if (rc == -EACCES && m.type == MH_TYPE_BA)
			log_warn("twist-ice: an unsigned answer, status %u (%s): wrong --spi or "
			         "--key?",
			         m.status, mice_mh_status_name(m.status));
		if (rc < 0)
			continue;
		if (m.type == MH_TYPE_BA && tw_addr_ip_eq(&m.home, &t->sig.home))
			on_own_ba(t, &m);
		else if (m.type == MH_TYPE_BA && t->mn && tw_addr_ip_eq(&m.home, &t->sig.peer))
			on_answer(t, &m);
		else if (m.type == MH_TYPE_BU && !t->mn && m.has_ice &&
		         tw_addr_ip_eq(&m.peer, &t->sig.home))
			on_offer(t, &m);
	}
}

static void on_gathered(struct ice_agent *a, void *arg)
{
	struct tice *t = arg;
	(void)a;

	t->gathered = true;
	if (t->mn)
		offer_send(t);
	else
		register_send(t);
}

static void on_data(struct ice_agent *a, uint8_t comp, const uint8_t *buf, size_t len, void *arg)
{
	struct tice *t = arg;
	char msg[64], pair[TICE_PAIR_STRLEN];
	unsigned long long seq;
	unsigned gen;

	if (!t->mn) {
		ice_send(a, comp, buf, len); /* the CN echoes */
		t->echoes_in++;
		return;
	}
	if (len >= sizeof(msg))
		return;
	memcpy(msg, buf, len);
	msg[len] = '\0';
	if (sscanf(msg, "tice %llu %u", &seq, &gen) != 2)
		return;
	t->echoed++;
	if (t->moving && gen > t->move_gen) {
		/* the first echo of a datagram sent on the new pair */
		t->moving = false;
		sel_fmt(t, pair, sizeof(pair));
		emit("resumed move=%u t=%.3f gap_ms=%" PRIu64 " pair=%s", t->moves, t_s(t),
		     now_ms() - t->move_ms, pair);
	}
}

static void on_old_lapsed(struct ice_agent *a, uint8_t comp, const struct ice_cand *l,
                          const struct ice_cand *r, void *arg)
{
	struct tice *t = arg;
	char pair[TICE_PAIR_STRLEN];
	(void)a;
	(void)comp;

	pair_fmt(l, r, pair, sizeof(pair));
	emit("lapsed t=%.3f moves=%u since_last_move_ms=%" PRIu64 " pair=%s", t_s(t), t->moves,
	     now_ms() - t->move_ms, pair);
}

/* The selected pair changed: datagrams sent from now on carry the next generation. */
static void gen_update(struct tice *t)
{
	struct ice_cand l, r;
	char pair[TICE_PAIR_STRLEN];

	if (ice_selected_pair(t->a, 1, &l, &r) < 0)
		return;
	if (t->gen && tw_addr_eq(&l.addr, &t->gen_l.addr) && tw_addr_eq(&r.addr, &t->gen_r.addr))
		return;
	t->gen++;
	t->gen_l = l;
	t->gen_r = r;
	pair_fmt(&l, &r, pair, sizeof(pair));
	emit("pair t=%.1f gen=%u pair=%s", t_s(t), t->gen, pair);
}

static void on_send(evutil_socket_t fd, short what, void *arg)
{
	struct tice *t = arg;
	char msg[64];
	int n;
	(void)fd;
	(void)what;

	gen_update(t);
	if (!t->gen || (t->send_max && t->sent >= t->send_max))
		return;
	n = snprintf(msg, sizeof(msg), "tice %" PRIu64 " %u", t->sent, t->gen);
	/* counted even when the old pair's address is gone: the gap shows as sent - echoed */
	if (ice_send(t->a, 1, msg, (size_t)n) != -ENOTCONN)
		t->sent++;
}

static bool addrs_same(const struct tw_addr *x, size_t nx, const struct tw_addr *y, size_t ny)
{
	if (nx != ny)
		return false;
	for (size_t i = 0; i < nx; i++) {
		bool found = false;

		for (size_t j = 0; j < ny && !found; j++)
			found = tw_addr_eq(&x[i], &y[j]);
		if (!found)
			return false;
	}
	return true;
}

/*
 * The MN's addresses changed (rtnetlink): RFC 8445 §9, a restart with new
 * credentials, candidates gathered on the new addresses, a new offer. The
 * old pair carries data (if it still can) until the new one is selected.
 */
static void on_addrs(void *arg)
{
	struct tice *t = arg;
	struct tw_addr now[TICE_MAX_ADDRS];
	size_t n = ice_host_addrs(now, TICE_MAX_ADDRS);
	char list[TICE_MAX_ADDRS * TW_ADDR_STRLEN] = "", b[TW_ADDR_STRLEN];
	int rc;

	if (addrs_same(now, n, t->addrs, t->naddrs))
		return;
	memcpy(t->addrs, now, n * sizeof(now[0]));
	t->naddrs = n;
	for (size_t i = 0; i < n; i++) {
		strcat(list, i ? "," : "");
		strcat(list, tw_addr_fmt_ip(&now[i], b, sizeof(b)));
	}
	if (!n) {
		/* between the old link going down and the new one coming up */
		emit("addrs t=%.1f none", t_s(t));
		t->gone_ms = ice_watch_first_ms(t->watch);
		return;
	}
	t->moves++;
	t->moving = true;
	/* the move began with the kernel's first message, not after the quiet time */
	t->move_ms = t->gone_ms ? t->gone_ms : ice_watch_first_ms(t->watch);
	t->gone_ms = 0;
	t->move_gen = t->gen;
	emit("move n=%u t=%.3f addrs=%s", t->moves, (double)(t->move_ms - t->start_ms) / 1000.0,
	     list);
	t->offer_out = false; /* an answer to the old offer is of no use now */
	t->offer_due = true;
	t->tries = 0;
	/* the offer waits for on_gathered: sent earlier it would lack the new srflx */
	t->gathered = false;
	if ((rc = ice_restart(t->a, NULL, NULL)) < 0 || (rc = ice_regather(t->a)) < 0) {
		log_warn("twist-ice: restart after the move: %s", strerror(-rc));
		t->gathered = true; /* offer what there is */
	}
}

static void status_line(struct tice *t)
{
	char pair[TICE_PAIR_STRLEN];

	sel_fmt(t, pair, sizeof(pair));
	if (t->mn)
		emit("t=%.1f sent=%" PRIu64 " echoed=%" PRIu64 " pair=%s state=%s", t_s(t), t->sent,
		     t->echoed, pair, ice_state_name(ice_agent_state(t->a)));
	else
		emit("t=%.1f echoes=%" PRIu64 " pair=%s state=%s", t_s(t), t->echoes_in, pair,
		     ice_state_name(ice_agent_state(t->a)));
}

static void finish(struct tice *t, int code)
{
	const struct ice_stats *st = ice_agent_stats(t->a);

	status_line(t);
	emit("RESULT role=%s sent=%" PRIu64 " echoed=%" PRIu64 " moves=%u selections=%" PRIu64
	     " old_lapsed=%" PRIu64 " regathers=%" PRIu64 " forged_300=%" PRIu64,
	     t->mn ? "mn" : "cn", t->sent, t->echoed, t->moves, st->selections, st->old_lapsed,
	     st->regathers, st->forged_300);
	t->exit_code = code;
	event_base_loopbreak(t->eb);
}

/* Retransmissions and refreshes of the signalling, the status line, the end. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tice *t = arg;
	uint64_t now = now_ms();
	bool waiting = t->mn ? t->offer_out : !t->registered;
	(void)fd;
	(void)what;

	if (t->duration_ms && now - t->start_ms >= t->duration_ms)
		return finish(t, 0);
	if (now >= t->print_ms) {
		t->print_ms += 1000;
		status_line(t);
	}
	if (!t->gathered)
		return;
	if ((waiting || t->offer_due) && now >= t->rtx_ms) {
		if (++t->tries > TICE_RTX_MAX) {
			log_warn("twist-ice: no answer from the home agent after %u tries",
			         TICE_RTX_MAX);
			return finish(t, 1);
		}
		if (t->mn)
			offer_send(t);
		else
			register_send(t);
	} else if (!waiting && !t->offer_due && t->refresh_ms && now >= t->refresh_ms) {
		t->refresh_ms = 0;
		register_send(t);
	}
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg, 0);
}

static int sig_open(struct tice *t)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct tw_addr any = {.family = t->ha.family};

	sl = tw_addr_to_sa(&any, &ss);
	t->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || bind(t->fd, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	t->sig_ev = event_new(t->eb, t->fd, EV_READ | EV_PERSIST, on_sig, t);
	return t->sig_ev && event_add(t->sig_ev, NULL) == 0 ? 0 : -ENOMEM;
}

static void timers_start(struct tice *t)
{
	struct timeval tick = {0, TICE_TICK_MS * 1000};
	struct timeval send = {t->interval_ms / 1000, (t->interval_ms % 1000) * 1000};

	t->tick = event_new(t->eb, -1, EV_PERSIST, on_tick, t);
	t->sigint = evsignal_new(t->eb, SIGINT, on_signal, t);
	t->sigterm = evsignal_new(t->eb, SIGTERM, on_signal, t);
	if (!t->tick || !t->sigint || !t->sigterm || event_add(t->tick, &tick) < 0 ||
	    event_add(t->sigint, NULL) < 0 || event_add(t->sigterm, NULL) < 0)
		fatal("twist-ice: no timers");
	if (!t->mn)
		return;
	t->send_ev = event_new(t->eb, -1, EV_PERSIST, on_send, t);
	if (!t->send_ev || event_add(t->send_ev, &send) < 0)
		fatal("twist-ice: no send timer");
	t->watch = ice_watch_new(t->eb, on_addrs, t);
	if (!t->watch)
		fatal("twist-ice: cannot watch the addresses (rtnetlink)");
	t->naddrs = ice_host_addrs(t->addrs, TICE_MAX_ADDRS);
}

static void tice_free(struct tice *t)
{
	ice_agent_free(t->a);
	ice_watch_free(t->watch);
	if (t->sig_ev)
		event_free(t->sig_ev);
	if (t->send_ev)
		event_free(t->send_ev);
	if (t->tick)
		event_free(t->tick);
	if (t->sigint)
		event_free(t->sigint);
	if (t->sigterm)
		event_free(t->sigterm);
	if (t->fd >= 0)
		close(t->fd);
	event_base_free(t->eb);
}

int main(int argc, char **argv)
{
	static struct tice t;
	int rc;

	log_init("twist-ice", LOG_LVL_INFO, false);
	t.fd = -1;
	t.interval_ms = 100;
	t.sig.lifetime = 600 / 4;
	t.sig.opt_type = MICE_OPT_EXPERIMENTAL;
	tice_args(&t, argc, argv);
	if (!t.interval_ms)
		t.interval_ms = 1;
	t.eb = event_base_new();
	if (!t.eb)
		fatal("twist-ice: no event base");
	t.cfg.controlling = t.mn;
	t.cfg.on_gathered = on_gathered;
	t.cfg.on_data = on_data;
	t.cfg.on_old_lapsed = on_old_lapsed;
	t.cfg.arg = &t;
	t.start_ms = now_ms();
	t.print_ms = t.start_ms + 1000;
	if ((rc = sig_open(&t)) < 0)
		fatal("twist-ice: socket to the home agent: %s", strerror(-rc));
	t.a = ice_agent_new(t.eb, &t.cfg);
	if (!t.a)
		fatal("twist-ice: cannot create the ICE agent");
	timers_start(&t);
	if (ice_gather(t.a) < 0)
		fatal("twist-ice: gathering failed");
	event_base_dispatch(t.eb);
	tice_free(&t);
	return t.exit_code;
}
