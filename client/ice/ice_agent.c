/*
 * The agent's state, its public calls (ice.h) and what runs every Ta:
 * gathering (srflx Bindings, TURN allocations), selection and
 * nomination (RFC 8445 §8), consent freshness (RFC 7675) and restart (§9).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/ice/ice_core.h"
#include "common/log.h"

#define GATHER_RTO_MS 500
#define GATHER_MAX_TX 5

const char *ice_state_name(enum ice_state s)
{
	switch (s) {
	case ICE_NEW:
		return "new";
	case ICE_GATHERING:
		return "gathering";
	case ICE_CHECKING:
		return "checking";
	case ICE_CONNECTED:
		return "connected";
	case ICE_COMPLETED:
		return "completed";
	case ICE_FAILED:
		return "failed";
	case ICE_DISCONNECTED:
		return "disconnected";
	case ICE_CLOSED:
		return "closed";
	}
	return "?";
}

uint64_t ice_now(const struct ice_agent *a)
{
	return a->io->now(a->io_ctx);
}

void ice_agent_change_state(struct ice_agent *a, enum ice_state s)
{
	if (a->state == s || a->state == ICE_CLOSED)
		return;
	log_info("ice: %s -> %s", ice_state_name(a->state), ice_state_name(s));
	a->state = s;
	if (a->cfg.on_state)
		a->cfg.on_state(a, s, a->cfg.arg);
}

static bool all_selected(const struct ice_agent *a)
{
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++)
		if (!a->sel[c].active || a->sel[c].consent_lost)
			return false;
	return true;
}

static bool checks_pending(const struct ice_agent *a)
{
	for (size_t i = 0; i < a->npair; i++) {
		enum ice_pair_state s = a->pair[i].p.state;

		if (s == ICE_PAIR_WAITING || s == ICE_PAIR_IN_PROGRESS || s == ICE_PAIR_FROZEN)
			return true;
	}
	return false;
}

static bool any_valid(const struct ice_agent *a)
{
	for (size_t i = 0; i < a->npair; i++)
		if (a->pair[i].valid)
			return true;
	return false;
}

/*
 * The transition function of enum ice_state for what the check list
 * decides; closing, consent loss and a restart's new remote set their
 * states where they happen.
 */
void ice_agent_update_state(struct ice_agent *a)
{
	switch (a->state) {
	case ICE_NEW:
	case ICE_GATHERING:
		if (a->have_remote && a->npair)
			ice_agent_change_state(a, ICE_CHECKING);
		break;
	case ICE_FAILED:
	case ICE_DISCONNECTED: /* left only by a restart (ice_set_remote) */
	case ICE_CHECKING:
	case ICE_CONNECTED:
	case ICE_COMPLETED:
	case ICE_CLOSED:
		break;
	}
	if (a->state != ICE_CHECKING && a->state != ICE_CONNECTED && a->state != ICE_COMPLETED)
		return;
	if (all_selected(a) && !a->restarting)
		ice_agent_change_state(a, checks_pending(a) ? ICE_CONNECTED : ICE_COMPLETED);
	else if (!all_selected(a) && a->gathered && a->npair && !checks_pending(a) && !any_valid(a))
		ice_agent_change_state(a, ICE_FAILED);
}

int ice_core_init(struct ice_agent *a, const struct ice_config *cfg, const struct ice_io_ops *io,
                  void *io_ctx)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	a->io = io;
	a->io_ctx = io_ctx;
	if (!a->cfg.ncomp)
		a->cfg.ncomp = 1;
	if (a->cfg.ncomp > ICE_COMP_MAX)
		return -EINVAL;
#define DEF(f, v)      \
	if (!a->cfg.f) \
	a->cfg.f = (v)
	DEF(ta_ms, 50);
	DEF(max_pairs, ICE_MAX_PAIRS);
	DEF(rto_min_ms, 500);
	DEF(check_max_tx, 7);
	DEF(nominate_delay_ms, 500);
	DEF(consent_interval_ms, 5000);
	DEF(consent_timeout_ms, 30000);
#undef DEF
	if (a->cfg.max_pairs > ICE_MAX_PAIRS)
		a->cfg.max_pairs = ICE_MAX_PAIRS;
	a->controlling = cfg->controlling;
	a->tb = cfg->tie_breaker;
	if (!a->tb)
		io->random(io_ctx, &a->tb, sizeof(a->tb));
	return ice_local_creds_set(a, cfg->ufrag, cfg->pwd);
}

int ice_local_creds_set(struct ice_agent *a, const char *ufrag, const char *pwd)
{
	static const char chars[] =
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
	uint8_t r[32];

	if (ufrag || pwd) {
		if (!ufrag || !pwd || strlen(ufrag) < ICE_UFRAG_MIN ||
		    strlen(ufrag) > ICE_UFRAG_MAX || strlen(pwd) < ICE_PWD_MIN ||
		    strlen(pwd) > ICE_PWD_MAX)
			return -EINVAL;
		strcpy(a->lufrag, ufrag);
		strcpy(a->lpwd, pwd);
		return 0;
	}
	a->io->random(a->io_ctx, r, sizeof(r));
	for (size_t i = 0; i < 8; i++)
		a->lufrag[i] = chars[r[i] % 64];
	a->lufrag[8] = '\0';
	for (size_t i = 0; i < 24; i++)
		a->lpwd[i] = chars[r[8 + i] % 64];
	a->lpwd[24] = '\0';
	return 0;
}

/* A free slot left by a dropped host base, else a new one. */
static int base_slot(struct ice_agent *a)
{
	for (size_t i = 0; i < a->nbase; i++)
		if (a->base[i].free)
			return (int)i;
	if (a->nbase == ICE_MAX_BASES)
		return -ENOSPC;
	return (int)a->nbase++;
}

int ice_core_add_host(struct ice_agent *a, int sock, uint8_t comp, const struct tw_addr *addr)
{
	struct ice_base *b;
	struct ice_cand *c;
	int bi;

	if (a->nloc == ICE_MAX_LOCAL)
		return -ENOSPC;
	bi = base_slot(a);
	if (bi < 0)
		return bi;
	b = &a->base[bi];
	memset(b, 0, sizeof(*b));
	memset(&a->gtx[bi], 0, sizeof(a->gtx[bi]));
	b->sock = sock;
	b->comp = comp;
	b->addr = *addr;
	if (a->cfg.relay_only)
		return bi;
	c = &a->loc[a->nloc++];
	memset(c, 0, sizeof(*c));
	c->type = ICE_CAND_HOST;
	c->comp = comp;
	c->addr = *addr;
	c->base = bi;
	c->prio = ice_cand_priority(ICE_CAND_HOST, (uint16_t)(65535 - bi), comp);
	ice_cand_foundation(c, addr, NULL);
	return bi;
}

static void on_alloc(void *arg, struct ice_turn *t, int err);

int ice_core_add_turn(struct ice_agent *a, int sock, uint8_t comp, bool tcp)
{
	struct ice_turn *t;

	if (a->nturn == ICE_COMP_MAX || a->nbase == ICE_MAX_BASES)
		return -ENOSPC;
	t = &a->turn[a->nturn];
	ice_turn_init(t, a->io, a->io_ctx, sock, tcp, &a->cfg.turn_server, a->cfg.turn_user,
	              a->cfg.turn_pass);
	t->on_alloc = on_alloc;
	t->arg = a;
	a->base[a->nbase].relay = true;
	a->base[a->nbase].sock = sock;
	a->base[a->nbase].comp = comp;
	a->base[a->nbase].turn = t;
	a->nbase++;
	return (int)a->nturn++;
}

static void gather_done_one(struct ice_agent *a)
{
	if (a->gather_pending && --a->gather_pending == 0) {
		a->gathered = true;
		log_info("ice: gathering done, %zu local candidates", a->nloc);
		if (a->cfg.on_gathered)
			a->cfg.on_gathered(a, a->cfg.arg);
		ice_agent_update_state(a);
	}
}

static void local_added(struct ice_agent *a, size_t li)
{
	char b[ICE_CAND_STRLEN];

	ice_cand_fmt(&a->loc[li], b, sizeof(b));
	log_info("ice: local candidate %s", b);
	ice_pairs_for_local(a, li);
}

static void on_alloc(void *arg, struct ice_turn *t, int err)
{
	struct ice_agent *a = arg;
	struct ice_cand *c;
	int bi = -1;

	for (size_t i = 0; i < a->nbase; i++)
		if (a->base[i].turn == t)
			bi = (int)i;
	if (!err && bi >= 0 && a->nloc < ICE_MAX_LOCAL) {
		a->base[bi].addr = t->relayed;
		c = &a->loc[a->nloc];
		memset(c, 0, sizeof(*c));
		c->type = ICE_CAND_RELAY;
		c->comp = a->base[bi].comp;
		c->addr = t->relayed;
		c->rel = t->mapped;
		c->base = bi;
		c->prio = ice_cand_priority(ICE_CAND_RELAY, (uint16_t)(65535 - bi), c->comp);
		ice_cand_foundation(c, &t->relayed, &t->server);
		local_added(a, a->nloc++);
	}
	gather_done_one(a);
}

static int gather_send(struct ice_agent *a, struct ice_gtx *g)
{
	uint8_t buf[64];
	struct stun_wr w;
	int n;

	stun_wr_init(&w, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, g->tid);
	stun_wr_fingerprint(&w);
	n = stun_wr_finish(&w);
	if (n < 0)
		return n;
	g->sent++;
	g->next_ms = ice_now(a) + g->rto_ms;
	g->rto_ms *= 2;
	return a->io->send(a->io_ctx, a->base[g->base].sock, &a->cfg.stun_server, buf, (size_t)n);
}

/* The srflx Bindings and the Allocates of every live base; on_gathered when all are answered. */
static void gather_start(struct ice_agent *a)
{
	uint64_t now = ice_now(a);

	a->gathered = false;
	a->gather_pending = 1; /* held until every request is out */
	for (size_t i = 0; i < a->nbase; i++) {
		struct ice_gtx *g = &a->gtx[i];

		if (a->base[i].gone || a->base[i].free)
			continue;
		if (a->base[i].relay) {
			/* one kept for a selected pair is not allocated again */
			if (a->base[i].turn->state != ICE_TURN_IDLE)
				continue;
			a->gather_pending++;
			ice_turn_start(a->base[i].turn, now);
			continue;
		}
		if (!a->cfg.stun_server.family || a->cfg.relay_only ||
		    a->cfg.stun_server.family != a->base[i].addr.family)
			continue;
		g->active = true;
		g->base = (int)i;
		g->rto_ms = GATHER_RTO_MS;
		a->io->random(a->io_ctx, g->tid, sizeof(g->tid));
		a->gather_pending++;
		gather_send(a, g);
	}
	for (size_t i = 0; i < a->nloc; i++)
		local_added(a, i);
	gather_done_one(a);
}

void ice_core_gather(struct ice_agent *a)
{
	ice_agent_change_state(a, ICE_GATHERING);
	gather_start(a);
}

static bool base_selected(const struct ice_agent *a, int bi)
{
	for (uint8_t c = 1; c <= a->cfg.ncomp; c++)
		if (a->sel[c].active && a->sel[c].base == bi)
			return true;
	return false;
}

/* Keeps the local candidates keep() accepts; safe only with no pairs (after a restart). */
static void locals_filter(struct ice_agent *a,
                          bool (*keep)(const struct ice_agent *, const struct ice_cand *))
{
	size_t k = 0;

	for (size_t i = 0; i < a->nloc; i++)
		if (keep(a, &a->loc[i]))
			a->loc[k++] = a->loc[i];
	a->nloc = k;
}

static bool on_live_base(const struct ice_agent *a, const struct ice_cand *c)
{
	return !a->base[c->base].gone && !a->base[c->base].free;
}

bool ice_core_drop_host(struct ice_agent *a, int bi)
{
	struct ice_base *b = &a->base[bi];
	char s[TW_ADDR_STRLEN];

	if (a->have_remote || b->relay || b->free)
		return false;
	if (!b->gone) {
		log_info("ice: host address %s is gone", tw_addr_fmt(&b->addr, s, sizeof(s)));
		a->st.hosts_dropped++;
	}
	b->gone = true;
	a->gtx[bi].active = false;
	locals_filter(a, on_live_base);
	if (base_selected(a, bi))
		return false;
	memset(b, 0, sizeof(*b));
	b->free = true; /* addr family 0: nothing is delivered to it */
	return true;
}

/* Host candidates stay; what a server told us is asked again. */
static bool is_host(const struct ice_agent *a, const struct ice_cand *c)
{
	(void)a;
	return c->type == ICE_CAND_HOST;
}

int ice_core_regather(struct ice_agent *a)
{
	if (a->have_remote)
		return -EBUSY;
	if (a->state == ICE_NEW || a->state == ICE_CLOSED)
		return -EINVAL;
	locals_filter(a, is_host);
	for (size_t i = 0; i < a->nbase; i++) {
		struct ice_base *b = &a->base[i];

		/* the server sees a new 5-tuple: the old allocation is not ours to use */
		if (b->relay && !base_selected(a, (int)i))
			ice_turn_reset(b->turn);
	}
	a->st.regathers++;
	log_info("ice: gathering again, %zu host candidates", a->nloc);
	gather_start(a);
	return 0;
}

bool ice_gather_answer(struct ice_agent *a, int base, const struct stun_msg *m)
{
	struct ice_gtx *g = &a->gtx[base];
	const struct stun_attr *x;
	struct ice_cand *c;
	struct tw_addr mapped;

	if (!g->active || memcmp(g->tid, m->tid, STUN_TID_LEN) != 0)
		return false;
	g->active = false;
	x = stun_msg_find(m, STUN_A_XOR_MAPPED_ADDRESS);
	if (m->cls == STUN_SUCCESS && x && stun_attr_xaddr(m, x, &mapped) == 0 &&
	    !tw_addr_eq(&mapped, &a->base[base].addr) && a->nloc < ICE_MAX_LOCAL) {
		c = &a->loc[a->nloc];
		memset(c, 0, sizeof(*c));
		c->type = ICE_CAND_SRFLX;
		c->comp = a->base[base].comp;
		c->addr = mapped;
		c->rel = a->base[base].addr;
		c->base = base;
		c->prio = ice_cand_priority(ICE_CAND_SRFLX, (uint16_t)(65535 - base), c->comp);
		ice_cand_foundation(c, &a->base[base].addr, &a->cfg.stun_server);
		local_added(a, a->nloc++);
	}
	gather_done_one(a);
	return true;
}

void ice_gather_tick(struct ice_agent *a)
{
	uint64_t now = ice_now(a);

	for (size_t i = 0; i < a->nbase; i++) {
		struct ice_gtx *g = &a->gtx[i];

		if (a->base[i].relay)
			ice_turn_tick(a->base[i].turn, now);
		if (!g->active || now < g->next_ms)
			continue;
		if (g->sent < GATHER_MAX_TX) {
			gather_send(a, g);
			continue;
		}
		g->active = false;
		log_warn("ice: no answer from the STUN server");
		gather_done_one(a);
	}
}

int ice_base_send(struct ice_agent *a, int base, const struct tw_addr *dst, const void *buf,
                  size_t len)
{
	struct ice_base *b = &a->base[base];

	if (b->relay)
		return ice_turn_send(b->turn, dst, buf, len);
	return a->io->send(a->io_ctx, b->sock, dst, buf, len);
}

int ice_local_for_base(const struct ice_agent *a, int base)
{
	for (size_t i = 0; i < a->nloc; i++)
		if (a->loc[i].base == base &&
		    (a->loc[i].type == ICE_CAND_HOST || a->loc[i].type == ICE_CAND_RELAY))
			return (int)i;
	return -1;
}
