/*
 * The check list at run time (RFC 8445 §6.1.4, §7.2, §7.3): pairs added
 * by trickle and by peer-reflexive discovery under the cap, checks paced
 * at one per Ta tick (triggered first), retransmissions (§14.3), answers
 * to incoming checks with 401 and 487, and the handling of answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/ice/ice_core.h"
#include "common/log.h"

static struct ice_cpair *pair_at(struct ice_agent *a, size_t i)
{
	return &a->pair[i];
}

static const struct ice_cand *pair_local(const struct ice_agent *a, const struct ice_cpair *p)
{
	return &a->loc[p->p.local];
}

static const struct ice_cand *pair_remote(const struct ice_agent *a, const struct ice_cpair *p)
{
	return &a->rem[p->p.remote];
}

static uint64_t pair_prio(const struct ice_agent *a, uint16_t l, uint16_t r)
{
	return a->controlling ? ice_pair_priority(a->loc[l].prio, a->rem[r].prio)
	                      : ice_pair_priority(a->rem[r].prio, a->loc[l].prio);
}

/* The one place a pair changes state (RFC 8445 §6.1.2.6 names the states). */
void ice_pair_change_state(struct ice_agent *a, struct ice_cpair *p, enum ice_pair_state s)
{
	char lb[TW_ADDR_STRLEN], rb[TW_ADDR_STRLEN];

	if (p->p.state == s)
		return;
	log_debug("ice: pair %s -> %s: %s -> %s",
	          tw_addr_fmt(&pair_local(a, p)->addr, lb, sizeof(lb)),
	          tw_addr_fmt(&pair_remote(a, p)->addr, rb, sizeof(rb)),
	          ice_pair_state_name(p->p.state), ice_pair_state_name(s));
	p->p.state = s;
}

static int pair_find(const struct ice_agent *a, uint16_t l, uint16_t r)
{
	for (size_t i = 0; i < a->npair; i++)
		if (a->pair[i].p.local == l && a->pair[i].p.remote == r)
			return (int)i;
	return -1;
}

static void trig_remove(struct ice_agent *a, size_t pi)
{
	size_t k = 0;

	for (size_t i = 0; i < a->ntrig; i++)
		if (a->trig[i] != pi)
			a->trig[k++] = a->trig[i];
	a->ntrig = k;
}

static void trig_push(struct ice_agent *a, size_t pi, bool front)
{
	trig_remove(a, pi);
	if (front) {
		memmove(a->trig + 1, a->trig, a->ntrig * sizeof(a->trig[0]));
		a->trig[0] = (uint16_t)pi;
	} else {
		a->trig[a->ntrig] = (uint16_t)pi;
	}
	a->ntrig++;
}

/* RFC 8445 §6.1.2.5: at the cap, a new pair replaces the lowest-priority unchecked one. */
static int pair_slot(struct ice_agent *a, uint64_t prio)
{
	size_t max = a->cfg.max_pairs, low = SIZE_MAX;

	if (a->npair < max)
		return (int)a->npair++;
	for (size_t i = 0; i < a->npair; i++) {
		enum ice_pair_state s = a->pair[i].p.state;

		/* a valid pair waiting for its nomination check is not unchecked */
		if ((s != ICE_PAIR_FROZEN && s != ICE_PAIR_WAITING) || a->pair[i].valid)
			continue;
		if (low == SIZE_MAX || a->pair[i].p.prio < a->pair[low].p.prio)
			low = i;
	}
	a->st.pairs_dropped++;
	if (low == SIZE_MAX || a->pair[low].p.prio >= prio)
		return -ENOSPC;
	trig_remove(a, low);
	return (int)low;
}

int ice_pair_add(struct ice_agent *a, uint16_t local, uint16_t remote, enum ice_pair_state s)
{
	uint64_t prio = pair_prio(a, local, remote);
	int i = pair_slot(a, prio);

	if (i < 0)
		return i;
	memset(&a->pair[i], 0, sizeof(a->pair[i]));
	a->pair[i].p.local = local;
	a->pair[i].p.remote = remote;
	a->pair[i].p.prio = prio;
	a->pair[i].p.state = s;
	return i;
}

static bool foundation_active(const struct ice_agent *a, uint16_t l, uint16_t r)
{
	struct ice_pair probe = {.local = l, .remote = r};

	for (size_t i = 0; i < a->npair; i++) {
		if (ice_pair_same_foundation(a->loc, a->rem, &a->pair[i].p, &probe))
			return true;
	}
	return false;
}

static bool can_pair(const struct ice_cand *l, const struct ice_cand *r)
{
	return l->comp == r->comp && l->addr.family == r->addr.family &&
	       l->type != ICE_CAND_SRFLX && l->type != ICE_CAND_PRFLX;
}

static void pair_new(struct ice_agent *a, uint16_t l, uint16_t r)
{
	enum ice_pair_state s;

	if (!can_pair(&a->loc[l], &a->rem[r]) || pair_find(a, l, r) >= 0)
		return;
	s = foundation_active(a, l, r) ? ICE_PAIR_FROZEN : ICE_PAIR_WAITING;
	ice_pair_add(a, l, r, s);
	if (a->base[a->loc[l].base].relay)
		ice_turn_permit(a->base[a->loc[l].base].turn, &a->rem[r].addr, ice_now(a));
}

void ice_pairs_for_remote(struct ice_agent *a, size_t ri)
{
	for (size_t l = 0; l < a->nloc; l++)
		pair_new(a, (uint16_t)l, (uint16_t)ri);
}

void ice_pairs_for_local(struct ice_agent *a, size_t li)
{
	if (!a->have_remote)
		return;
	for (size_t r = 0; r < a->nrem; r++)
		pair_new(a, (uint16_t)li, (uint16_t)r);
}

void ice_role_switch(struct ice_agent *a)
{
	a->controlling = !a->controlling;
	a->st.role_switches++;
	a->nominating = false;
	for (size_t i = 0; i < a->npair; i++)
		a->pair[i].p.prio = pair_prio(a, a->pair[i].p.local, a->pair[i].p.remote);
	log_info("ice: role conflict: now %s", a->controlling ? "controlling" : "controlled");
}

/* RFC 8445 §14.3: RTO = max(500 ms, N * Ta) with N the pairs in Waiting or In-Progress. */
static unsigned check_rto(const struct ice_agent *a)
{
	uint64_t n = 0, rto;

	for (size_t i = 0; i < a->npair; i++)
		if (a->pair[i].p.state == ICE_PAIR_WAITING ||
		    a->pair[i].p.state == ICE_PAIR_IN_PROGRESS)
			n++;
	rto = n * a->cfg.ta_ms;
	return (unsigned)(rto > a->cfg.rto_min_ms ? rto : a->cfg.rto_min_ms);
}

static int check_transmit(struct ice_agent *a, struct ice_cpair *p)
{
	const struct ice_cand *l = pair_local(a, p), *r = pair_remote(a, p);
	struct ice_check_req req = {
	        .prio = ice_cand_priority(ICE_CAND_PRFLX, (uint16_t)(l->prio >> 8), l->comp),
	        .controlling = p->tx_controlling,
	        .tb = a->tb,
	        .use_cand = p->use_cand && p->tx_controlling,
	};
	uint8_t buf[ICE_MSG_MAX];
	int n;

	n = ice_msg_check(buf, sizeof(buf), p->tid, a->rufrag, a->lufrag, a->rpwd, &req);
	if (n < 0)
		return n;
	p->sent++;
	p->next_ms = ice_now(a) + p->rto_ms;
	p->rto_ms *= 2;
	return ice_base_send(a, l->base, &r->addr, buf, (size_t)n);
}

static void check_start(struct ice_agent *a, size_t pi)
{
	struct ice_cpair *p = pair_at(a, pi);
	char lb[TW_ADDR_STRLEN], rb[TW_ADDR_STRLEN];

	ice_pair_change_state(a, p, ICE_PAIR_IN_PROGRESS);
	p->tx_active = true;
	p->tx_controlling = a->controlling;
	p->sent = 0;
	p->rto_ms = check_rto(a);
	a->io->random(a->io_ctx, p->tid, sizeof(p->tid));
	if (a->st.checks_sent && a->last_check_tick == a->st.ticks)
		a->st.checks_same_tick++;
	a->last_check_tick = a->st.ticks;
	a->st.checks_sent++;
	log_debug("ice: check %llu tick %llu %s -> %s%s", (unsigned long long)a->st.checks_sent,
	          (unsigned long long)a->st.ticks,
	          tw_addr_fmt(&pair_local(a, p)->addr, lb, sizeof(lb)),
	          tw_addr_fmt(&pair_remote(a, p)->addr, rb, sizeof(rb)),
	          p->use_cand && a->controlling ? " USE-CANDIDATE" : "");
	check_transmit(a, p);
}

static int next_ordinary(const struct ice_agent *a, enum ice_pair_state want)
{
	int best = -1;

	for (size_t i = 0; i < a->npair; i++) {
		if (a->pair[i].p.state != want)
			continue;
		if (best < 0 || a->pair[i].p.prio > a->pair[best].p.prio)
			best = (int)i;
	}
	return best;
}

/* RFC 8445 §6.1.4.2: one check per Ta, the triggered queue first. */
void ice_checks_pace(struct ice_agent *a)
{
	int pi = -1;

	if (!a->have_remote)
		return;
	while (a->ntrig && pi < 0) {
		pi = a->trig[0];
		trig_remove(a, (size_t)pi);
		if (a->pair[pi].tx_active)
			pi = -1;
	}
	if (pi < 0)
		pi = next_ordinary(a, ICE_PAIR_WAITING);
	if (pi < 0)
		pi = next_ordinary(a, ICE_PAIR_FROZEN);
	if (pi >= 0)
		check_start(a, (size_t)pi);
}

static void check_failed(struct ice_agent *a, struct ice_cpair *p)
{
	if (p->use_cand) {
		/* the nomination failed: the pair is no longer a candidate for it */
		p->use_cand = false;
		p->valid = false;
		a->nominating = false;
	}
	p->tx_active = false;
	ice_pair_change_state(a, p, ICE_PAIR_FAILED);
	ice_agent_update_state(a);
}

void ice_checks_retransmit(struct ice_agent *a)
{
	uint64_t now = ice_now(a);

	for (size_t i = 0; i < a->npair; i++) {
		struct ice_cpair *p = pair_at(a, i);

		if (!p->tx_active || now < p->next_ms)
			continue;
		if (p->sent >= a->cfg.check_max_tx) {
			check_failed(a, p);
			continue;
		}
		a->st.check_rtx++;
		check_transmit(a, p);
	}
}

static void answer(struct ice_agent *a, int base, const struct tw_addr *to,
                   const struct stun_msg *m, int code)
{
	uint8_t buf[ICE_MSG_MAX];
	int n;

	if (code)
		n = ice_msg_error(buf, sizeof(buf), m->tid, code, code == 487 ? a->lpwd : NULL);
	else
		n = ice_msg_success(buf, sizeof(buf), m->tid, to, a->lpwd);
	if (n > 0)
		ice_base_send(a, base, to, buf, (size_t)n);
}

static int remote_find(const struct ice_agent *a, const struct tw_addr *addr, uint8_t comp)
{
	for (size_t i = 0; i < a->nrem; i++)
		if (a->rem[i].comp == comp && tw_addr_eq(&a->rem[i].addr, addr))
			return (int)i;
	return -1;
}

/* RFC 8445 §7.3.1.3: a check from an address we were not told of. */
static int remote_prflx(struct ice_agent *a, const struct tw_addr *from, uint8_t comp,
                        uint32_t prio)
{
	struct ice_cand *c;

	if (a->nrem == ICE_MAX_REMOTE)
		return -ENOSPC;
	c = &a->rem[a->nrem];
	memset(c, 0, sizeof(*c));
	c->type = ICE_CAND_PRFLX;
	c->comp = comp;
	c->prio = prio;
	c->addr = *from;
	c->base = -1;
	snprintf(c->foundation, sizeof(c->foundation), "prflx%u", a->prflx_seq++);
	a->st.prflx_remote++;
	return (int)a->nrem++;
}

static void nominate(struct ice_agent *a, size_t pi)
{
	a->pair[pi].nominated = true;
	ice_select(a, pi);
}

/* The pair an incoming check names: found, or added as Waiting (§7.3.1.4). */
static int incoming_pair(struct ice_agent *a, int base, const struct tw_addr *from,
                         const struct ice_check_req *req)
{
	int li = ice_local_for_base(a, base), ri, pi;

	if (li < 0)
		return -ENOENT;
	ri = remote_find(a, from, a->loc[li].comp);
	if (ri < 0)
		ri = remote_prflx(a, from, a->loc[li].comp, req->prio);
	if (ri < 0)
		return ri;
	pi = pair_find(a, (uint16_t)li, (uint16_t)ri);
	if (pi < 0)
		pi = ice_pair_add(a, (uint16_t)li, (uint16_t)ri, ICE_PAIR_WAITING);
	return pi;
}

void ice_check_incoming(struct ice_agent *a, int base, const struct tw_addr *from,
                        const struct stun_msg *m)
{
	struct ice_check_req req;
	struct ice_cpair *p;
	int rc, pi;

	a->st.checks_in++;
	rc = ice_msg_check_read(m, a->lufrag, a->lpwd, &req);
	if (rc < 0) {
		if (rc == -EACCES)
			a->st.resp_401++;
		answer(a, base, from, m, rc == -EACCES ? 401 : 400);
		return;
	}
	switch (ice_role_check(a->controlling, a->tb, req.controlling, req.tb)) {
	case ICE_ROLE_OK:
		break;
	case ICE_ROLE_487:
		a->st.resp_487_sent++;
		answer(a, base, from, m, 487);
		return;
	case ICE_ROLE_SWITCH:
		ice_role_switch(a);
		break;
	}
	answer(a, base, from, m, 0);
	pi = incoming_pair(a, base, from, &req);
	if (pi < 0)
		return;
	p = pair_at(a, (size_t)pi);
	if (p->p.state != ICE_PAIR_SUCCEEDED && !p->tx_active) {
		ice_pair_change_state(a, p, ICE_PAIR_WAITING);
		/* a pair the controlling peer nominates goes first: it sends on it already */
		trig_push(a, (size_t)pi, req.use_cand && !a->controlling);
	}
	/* RFC 8445 §7.3.1.5; aggressive nomination from the peer is taken too */
	if (req.use_cand && !a->controlling) {
		p->remote_nominated = true;
		if (p->valid)
			nominate(a, (size_t)pi);
	}
}

static void local_prflx(struct ice_agent *a, const struct ice_cpair *p,
                        const struct tw_addr *mapped)
{
	const struct ice_cand *l = pair_local(a, p);
	struct ice_cand *c;

	for (size_t i = 0; i < a->nloc; i++)
		if (tw_addr_eq(&a->loc[i].addr, mapped))
			return;
	if (a->nloc == ICE_MAX_LOCAL)
		return;
	c = &a->loc[a->nloc++];
	*c = *l;
	c->type = ICE_CAND_PRFLX;
	c->addr = *mapped;
	c->rel = l->addr;
	c->prio = ice_cand_priority(ICE_CAND_PRFLX, (uint16_t)(l->prio >> 8), l->comp);
	ice_cand_foundation(c, &a->base[l->base].addr, NULL);
	a->st.prflx_local++;
}

static void unfreeze_foundation(struct ice_agent *a, const struct ice_cpair *done)
{
	for (size_t i = 0; i < a->npair; i++) {
		struct ice_cpair *p = pair_at(a, i);

		if (p->p.state == ICE_PAIR_FROZEN &&
		    ice_pair_same_foundation(a->loc, a->rem, &p->p, &done->p))
			ice_pair_change_state(a, p, ICE_PAIR_WAITING);
	}
}

static void check_succeeded(struct ice_agent *a, size_t pi, const struct stun_msg *m)
{
	struct ice_cpair *p = pair_at(a, pi);
	const struct stun_attr *x = stun_msg_find(m, STUN_A_XOR_MAPPED_ADDRESS);
	struct tw_addr mapped;

	p->tx_active = false;
	ice_pair_change_state(a, p, ICE_PAIR_SUCCEEDED);
	if (x && stun_attr_xaddr(m, x, &mapped) == 0)
		local_prflx(a, p, &mapped);
	if (!p->valid && !a->first_valid_ms)
		a->first_valid_ms = ice_now(a);
	p->valid = true;
	unfreeze_foundation(a, p);
	if ((p->use_cand && p->tx_controlling) || (!a->controlling && p->remote_nominated))
		nominate(a, pi);
	ice_agent_update_state(a);
}

static void check_error(struct ice_agent *a, size_t pi, const struct stun_msg *m)
{
	struct ice_cpair *p = pair_at(a, pi);
	const struct stun_attr *e = stun_msg_find(m, STUN_A_ERROR_CODE);
	const char *reason;
	size_t rlen;
	int code = 0;

	if (e)
		stun_attr_error(m, e, &code, &reason, &rlen);
	if (code == 487) {
		/* RFC 8445 §7.2.5.1: switch (unless done already) and check again */
		a->st.resp_487_recv++;
		if (p->tx_controlling == a->controlling)
			ice_role_switch(a);
		p->tx_active = false;
		ice_pair_change_state(a, p, ICE_PAIR_WAITING);
		trig_push(a, pi, true);
		return;
	}
	check_failed(a, p);
}

static int pair_by_tid(const struct ice_agent *a, const uint8_t *tid)
{
	for (size_t i = 0; i < a->npair; i++)
		if (a->pair[i].tx_active && memcmp(a->pair[i].tid, tid, STUN_TID_LEN) == 0)
			return (int)i;
	return -1;
}

/* An answer to one of our checks; false if it answers none. */
bool ice_check_answer(struct ice_agent *a, int base, const struct tw_addr *from,
                      const struct stun_msg *m)
{
	int pi = pair_by_tid(a, m->tid);
	struct ice_cpair *p;

	if (pi < 0)
		return false;
	p = pair_at(a, (size_t)pi);
	/* 400 and 401 carry no integrity; a success and a 487 must */
	if ((m->cls == STUN_SUCCESS || stun_msg_find(m, STUN_A_MESSAGE_INTEGRITY)) &&
	    !ice_msg_answer_ok(m, a->rpwd)) {
		a->st.drops++;
		return true;
	}
	/* RFC 8445 §7.2.5.2.1: the answer must come back on the same path */
	if (!tw_addr_eq(from, &pair_remote(a, p)->addr) || pair_local(a, p)->base != base) {
		check_failed(a, p);
		return true;
	}
	if (m->cls == STUN_SUCCESS)
		check_succeeded(a, (size_t)pi, m);
	else
		check_error(a, (size_t)pi, m);
	return true;
}
