/*
 * What ice.h promises on top of the check list: selection and regular
 * nomination (RFC 8445 §8.1), consent freshness (RFC 7675 §5.1), the
 * restart that keeps the old pair for data (RFC 8445 §9), the tick and
 * the dispatch of received datagrams.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/ice/ice_core.h"
#include "common/log.h"

static void stop_other_checks(struct ice_agent *a, uint8_t comp)
{
	for (size_t i = 0; i < a->npair; i++) {
		struct ice_cpair *p = &a->pair[i];

		if (a->loc[p->p.local].comp == comp &&
		    (p->p.state == ICE_PAIR_FROZEN || p->p.state == ICE_PAIR_WAITING))
			ice_pair_change_state(a, p, ICE_PAIR_FAILED);
	}
	a->ntrig = 0;
}

static uint64_t consent_jitter(struct ice_agent *a)
{
	uint16_t r;

	/* RFC 7675 §5.1: uniformly in 0.8 to 1.2 times the interval */
	a->io->random(a->io_ctx, &r, sizeof(r));
	return (uint64_t)a->cfg.consent_interval_ms * (800 + (uint64_t)r % 401) / 1000;
}

static bool same_pair(const struct ice_sel *x, const struct ice_sel *y)
{
	return tw_addr_eq(&x->lc.addr, &y->lc.addr) && tw_addr_eq(&x->rc.addr, &y->rc.addr) &&
	       x->base == y->base;
}

/*
 * The first selection after a restart replaces the pair that carried the
 * data meanwhile. RFC 7675 §5.1: its consent expires consent_timeout_ms
 * after its last answer; it is watched until then, so that a moving node
 * can tell when its old path may no longer be used.
 */
static void old_keep(struct ice_agent *a, uint8_t comp)
{
	struct ice_sel *o = &a->old[0];

	/* a free slot, else the one whose consent lapses first */
	for (size_t i = 0; i < ICE_OLD_MAX; i++) {
		if (!a->old[i].active) {
			o = &a->old[i];
			break;
		}
		if (a->old[i].consent_ok_ms < o->consent_ok_ms)
			o = &a->old[i];
	}
	*o = a->sel[comp];
	o->tx_active = false;
	/* one whose consent was lost already was reported as disconnected */
	o->active = !o->consent_lost;
}

static void old_tick(struct ice_agent *a, uint64_t now)
{
	char lb[ICE_CAND_STRLEN], rb[ICE_CAND_STRLEN];

	for (size_t i = 0; i < ICE_OLD_MAX; i++) {
		struct ice_sel *o = &a->old[i];
		uint8_t c = o->lc.comp;

		if (!o->active || now - o->consent_ok_ms < a->cfg.consent_timeout_ms)
			continue;
		o->active = false;
		if (a->sel[c].active && same_pair(o, &a->sel[c]))
			continue; /* selected again: its consent is fresh */
		ice_cand_fmt(&o->lc, lb, sizeof(lb));
		ice_cand_fmt(&o->rc, rb, sizeof(rb));
		log_info("ice: component %u: consent on the old pair %s -> %s lapsed", c, lb, rb);
		a->st.old_lapsed++;
		if (a->cfg.on_old_lapsed)
			a->cfg.on_old_lapsed(a, c, &o->lc, &o->rc, a->cfg.arg);
	}
}

void ice_select(struct ice_agent *a, size_t pi)
{
	struct ice_cpair *p = &a->pair[pi];
	const struct ice_cand *l = &a->loc[p->p.local], *r = &a->rem[p->p.remote];
	struct ice_sel *s = &a->sel[l->comp];
	char lb[ICE_CAND_STRLEN], rb[ICE_CAND_STRLEN];
	uint64_t now = ice_now(a);

	/* controlled: the highest-priority nominated pair wins (§8.1.1) */
	if (s->active && !s->consent_lost && a->renewed[l->comp] && s->prio >= p->p.prio)
		return;
	if (s->active && !a->renewed[l->comp])
		old_keep(a, l->comp);
	memset(s, 0, sizeof(*s));
	s->active = true;
	s->base = l->base;
	s->lc = *l;
	s->rc = *r;
	s->prio = p->p.prio;
	s->consent_ok_ms = now;
	s->consent_next = now + consent_jitter(a);
	if (a->base[l->base].relay)
		ice_turn_bind(a->base[l->base].turn, &r->addr, now);
	ice_cand_fmt(l, lb, sizeof(lb));
	ice_cand_fmt(r, rb, sizeof(rb));
	log_info("ice: component %u selected %s -> %s", l->comp, lb, rb);
	a->st.selections++;
	if (a->controlling) {
		stop_other_checks(a, l->comp);
		a->nominating = false;
	}
	a->renewed[l->comp] = true;
	a->restarting = false;
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++)
		if (!a->renewed[c])
			a->restarting = true;
	ice_agent_update_state(a);
}

static int best_valid(const struct ice_agent *a, uint8_t comp)
{
	int best = -1;

	for (size_t i = 0; i < a->npair; i++) {
		const struct ice_cpair *p = &a->pair[i];

		if (!p->valid || a->loc[p->p.local].comp != comp)
			continue;
		if (best < 0 || p->p.prio > a->pair[best].p.prio)
			best = (int)i;
	}
	return best;
}

static bool better_pending(const struct ice_agent *a, uint8_t comp, uint64_t prio)
{
	for (size_t i = 0; i < a->npair; i++) {
		const struct ice_cpair *p = &a->pair[i];

		if (a->loc[p->p.local].comp == comp && p->p.prio > prio &&
		    (p->p.state == ICE_PAIR_WAITING || p->p.state == ICE_PAIR_IN_PROGRESS ||
		     p->p.state == ICE_PAIR_FROZEN))
			return true;
	}
	return false;
}

/*
 * Regular nomination (RFC 8445 §8.1.1): once a pair is valid, wait for
 * better pairs up to nominate_delay_ms, then check the best valid pair
 * again with USE-CANDIDATE, as a triggered check.
 */
static void nominate_tick(struct ice_agent *a)
{
	uint64_t now = ice_now(a);

	if (!a->controlling || a->nominating || !a->have_remote)
		return;
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++) {
		int bi;

		if (a->renewed[c] && a->sel[c].active)
			continue;
		bi = best_valid(a, c);
		if (bi < 0)
			continue;
		if (better_pending(a, c, a->pair[bi].p.prio) &&
		    now < a->first_valid_ms + a->cfg.nominate_delay_ms)
			continue;
		a->pair[bi].use_cand = true;
		ice_pair_change_state(a, &a->pair[bi], ICE_PAIR_WAITING);
		memmove(a->trig + 1, a->trig, a->ntrig * sizeof(a->trig[0]));
		a->trig[0] = (uint16_t)bi;
		a->ntrig++;
		a->nominating = true;
		return;
	}
}

static void consent_send(struct ice_agent *a, struct ice_sel *s)
{
	struct ice_check_req req = {
	        .prio = ice_cand_priority(ICE_CAND_PRFLX, (uint16_t)(s->lc.prio >> 8), s->lc.comp),
	        .controlling = a->controlling,
	        .tb = a->tb,
	};
	uint8_t buf[ICE_MSG_MAX];
	int n;

	a->io->random(a->io_ctx, s->tid, sizeof(s->tid));
	n = ice_msg_check(buf, sizeof(buf), s->tid, a->rufrag, a->lufrag, a->rpwd, &req);
	if (n < 0)
		return;
	s->tx_active = true;
	a->st.consent_sent++;
	ice_base_send(a, s->base, &s->rc.addr, buf, (size_t)n);
}

static void consent_tick(struct ice_agent *a)
{
	uint64_t now = ice_now(a);

	old_tick(a, now);
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++) {
		struct ice_sel *s = &a->sel[c];

		if (!s->active || s->consent_lost)
			continue;
		if (now - s->consent_ok_ms >= a->cfg.consent_timeout_ms) {
			/* RFC 7675 §5.1: no more data on this pair */
			s->consent_lost = true;
			log_warn("ice: component %u: consent lost", c);
			ice_agent_change_state(a, ICE_DISCONNECTED);
			continue;
		}
		if (now >= s->consent_next) {
			s->consent_next = now + consent_jitter(a);
			consent_send(a, s);
		}
	}
}

static bool consent_answer(struct ice_agent *a, const struct tw_addr *from,
                           const struct stun_msg *m)
{
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++) {
		struct ice_sel *s = &a->sel[c];

		if (!s->tx_active || memcmp(s->tid, m->tid, STUN_TID_LEN) != 0)
			continue;
		s->tx_active = false;
		if (m->cls == STUN_SUCCESS && tw_addr_eq(from, &s->rc.addr) &&
		    ice_msg_answer_ok(m, a->rpwd)) {
			s->consent_ok_ms = ice_now(a);
			a->st.consent_ok++;
		}
		return true;
	}
	return false;
}

void ice_core_tick(struct ice_agent *a)
{
	if (a->state == ICE_CLOSED)
		return;
	a->st.ticks++;
	ice_gather_tick(a);
	ice_checks_retransmit(a);
	ice_checks_pace(a);
	nominate_tick(a);
	consent_tick(a);
	ice_agent_update_state(a);
}

static bool known_remote(const struct ice_agent *a, uint8_t comp, const struct tw_addr *from)
{
	if (a->sel[comp].active && tw_addr_eq(&a->sel[comp].rc.addr, from))
		return true;
	for (size_t i = 0; i < a->nrem; i++)
		if (a->rem[i].comp == comp && tw_addr_eq(&a->rem[i].addr, from))
			return true;
	return false;
}

static void recv_stun(struct ice_agent *a, int base, const struct tw_addr *from, const uint8_t *buf,
                      size_t len)
{
	struct stun_msg m;

	if (stun_msg_parse(&m, buf, len) < 0 || m.method != STUN_BINDING)
		goto drop;
	if (m.cls == STUN_REQUEST) {
		/* RFC 8445 §7.3: checks carry FINGERPRINT; without it this is not ICE */
		if (m.fp < 0 || !stun_msg_fingerprint_ok(&m))
			goto drop;
		ice_check_incoming(a, base, from, &m);
		return;
	}
	if (m.cls == STUN_INDICATION)
		return; /* keepalives (RFC 8445 §11) */
	if (!a->base[base].relay && ice_gather_answer(a, base, &m))
		return;
	if (consent_answer(a, from, &m) || ice_check_answer(a, base, from, &m))
		return;
drop:
	a->st.drops++;
}

void ice_core_recv(struct ice_agent *a, int base, const struct tw_addr *from, const uint8_t *buf,
                   size_t len)
{
	uint8_t comp = a->base[base].comp;

	if (a->state == ICE_CLOSED)
		return;
	if (stun_is_msg(buf, len)) {
		recv_stun(a, base, from, buf, len);
		return;
	}
	if (!known_remote(a, comp, from)) {
		a->st.drops++;
		return;
	}
	a->st.data_in++;
	if (a->cfg.on_data)
		a->cfg.on_data(a, comp, buf, len, a->cfg.arg);
}

void ice_core_turn_recv(struct ice_agent *a, int turn, const uint8_t *buf, size_t len)
{
	struct ice_turn *t = &a->turn[turn];
	const uint8_t *data;
	struct tw_addr peer;
	size_t dlen;

	int rc = ice_turn_recv(t, buf, len, ice_now(a), &peer, &data, &dlen);

	a->st.forged_300 = a->st.turn_redirects = 0;
	for (size_t i = 0; i < a->nturn; i++) {
		a->st.forged_300 += a->turn[i].forged_300;
		a->st.turn_redirects += a->turn[i].redirects;
	}
	if (rc != 1)
		return;
	for (size_t i = 0; i < a->nbase; i++) {
		if (a->base[i].turn == t) {
			ice_core_recv(a, (int)i, &peer, data, dlen);
			return;
		}
	}
}

void ice_core_close(struct ice_agent *a)
{
	ice_agent_change_state(a, ICE_CLOSED);
}

void ice_local_credentials(const struct ice_agent *a, const char **ufrag, const char **pwd)
{
	*ufrag = a->lufrag;
	*pwd = a->lpwd;
}

size_t ice_local_candidates(const struct ice_agent *a, struct ice_cand *out, size_t cap)
{
	size_t n = 0;

	/* peer-reflexive candidates are learnt, never offered (RFC 8445 §5.3) */
	for (size_t i = 0; i < a->nloc && n < cap; i++)
		if (a->loc[i].type != ICE_CAND_PRFLX)
			out[n++] = a->loc[i];
	return n;
}

static int remote_add(struct ice_agent *a, const struct ice_cand *c)
{
	if (c->comp < 1 || c->comp > a->cfg.ncomp || !c->addr.family || !c->addr.port)
		return -EINVAL;
	for (size_t i = 0; i < a->nrem; i++)
		if (a->rem[i].comp == c->comp && tw_addr_eq(&a->rem[i].addr, &c->addr))
			return -EEXIST;
	if (a->nrem == ICE_MAX_REMOTE)
		return -ENOSPC;
	a->rem[a->nrem] = *c;
	a->rem[a->nrem].base = -1;
	return (int)a->nrem++;
}

/* The first check list (RFC 8445 §6.1.2), merged with pairs early checks made. */
static void checklist_form(struct ice_agent *a)
{
	struct ice_pair tmp[ICE_MAX_PAIRS];
	size_t n = ice_checklist_form(a->loc, a->nloc, a->rem, a->nrem, a->controlling,
	                              a->cfg.max_pairs, tmp, ICE_MAX_PAIRS);

	for (size_t i = 0; i < n; i++) {
		bool have = false;

		for (size_t j = 0; j < a->npair && !have; j++)
			have = a->pair[j].p.local == tmp[i].local &&
			       a->pair[j].p.remote == tmp[i].remote;
		if (!have)
			ice_pair_add(a, tmp[i].local, tmp[i].remote, tmp[i].state);
	}
	for (size_t i = 0; i < a->npair; i++) {
		const struct ice_cand *l = &a->loc[a->pair[i].p.local];

		if (a->base[l->base].relay)
			ice_turn_permit(a->base[l->base].turn, &a->rem[a->pair[i].p.remote].addr,
			                ice_now(a));
	}
}

int ice_set_remote(struct ice_agent *a, const char *ufrag, const char *pwd,
                   const struct ice_cand *cands, size_t n)
{
	size_t ul = strlen(ufrag), pl = strlen(pwd);

	if (ul < ICE_UFRAG_MIN || ul > ICE_UFRAG_MAX || pl < ICE_PWD_MIN || pl > ICE_PWD_MAX)
		return -EINVAL;
	memcpy(a->rufrag, ufrag, ul + 1);
	memcpy(a->rpwd, pwd, pl + 1);
	for (size_t i = 0; i < n; i++)
		remote_add(a, &cands[i]);
	a->have_remote = true;
	checklist_form(a);
	if (a->state == ICE_FAILED || a->state == ICE_DISCONNECTED)
		ice_agent_change_state(a, ICE_CHECKING);
	log_info("ice: remote set: %zu candidates, %zu pairs", a->nrem, a->npair);
	ice_agent_update_state(a);
	return 0;
}

int ice_add_remote_candidate(struct ice_agent *a, const struct ice_cand *c)
{
	int ri = remote_add(a, c);

	if (ri < 0)
		return ri == -EEXIST ? 0 : ri;
	ice_pairs_for_remote(a, (size_t)ri);
	ice_agent_update_state(a);
	return 0;
}

int ice_send(struct ice_agent *a, uint8_t comp, const void *buf, size_t len)
{
	struct ice_sel *s;

	if (comp < 1 || comp > a->cfg.ncomp)
		return -EINVAL;
	s = &a->sel[comp];
	if (!s->active)
		return -ENOTCONN;
	if (s->consent_lost)
		return -EPERM;
	a->st.data_out++;
	return ice_base_send(a, s->base, &s->rc.addr, buf, len);
}

int ice_restart(struct ice_agent *a, const char *ufrag, const char *pwd)
{
	size_t k = 0;
	int rc = ice_local_creds_set(a, ufrag, pwd);

	if (rc < 0)
		return rc;
	log_info("ice: restart");
	a->have_remote = false;
	a->nrem = 0;
	a->npair = 0;
	a->ntrig = 0;
	a->nominating = false;
	a->first_valid_ms = 0;
	for (size_t i = 0; i < a->nloc; i++)
		if (a->loc[i].type != ICE_CAND_PRFLX)
			a->loc[k++] = a->loc[i];
	a->nloc = k;
	a->restarting = false;
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++) {
		a->renewed[c] = false;
		if (a->sel[c].active)
			a->restarting = true;
	}
	return 0;
}

enum ice_state ice_agent_state(const struct ice_agent *a)
{
	return a->state;
}

bool ice_agent_controlling(const struct ice_agent *a)
{
	return a->controlling;
}

const struct ice_stats *ice_agent_stats(const struct ice_agent *a)
{
	return &a->st;
}

int ice_selected_pair(const struct ice_agent *a, uint8_t comp, struct ice_cand *local,
                      struct ice_cand *remote)
{
	if (comp < 1 || comp > a->cfg.ncomp || !a->sel[comp].active)
		return -ENOTCONN;
	*local = a->sel[comp].lc;
	*remote = a->sel[comp].rc;
	return 0;
}
