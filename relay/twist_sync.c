/*
 * The standby builds each TWIST flow live from a checked tuple
 * (relay/import_check.c, relay/twist_tuple.c): its connected client socket
 * bound to the VIP before the VIP arrives, its port and cookie in the
 * plane. The TUN and the relayed addresses' routes exist on both nodes
 * from start-up, so a failover creates nothing (docs/ha.md "TWIST flows").
 */
#include <errno.h>

#include "relay/flowconv.h"
#include "relay/twist_flow.h"

/* What changes during a flow's life: its lifetime, the latch, client_spoke. */
static void apply_state(struct twist_flow *f, const Twist__Flow *t, uint64_t now_ms)
{
	struct twist_state st;

	twist_tuple_state(t, now_ms, &st);
	f->expires = st.expires;
	if (st.peer.family)
		twist_plane_latch(f->tp, f, &st.peer);
	if (st.client_spoke)
		__atomic_store_n(&f->client_spoke, 1, __ATOMIC_RELAXED);
	/* Already the active's: not to be sent back. */
	f->latch_told = __atomic_load_n(&f->latched, __ATOMIC_RELAXED) != 0;
	f->spoke_told = f->client_spoke != 0;
}

static bool has_listener(const struct worker *w, const struct tw_addr *local)
{
	for (unsigned i = 0; i < w->n_udp; i++)
		if (tw_addr_eq(&w->udp[i].addr, local))
			return true;
	return false;
}

static int import_new(struct worker *w, const Twist__Flow *t, const struct alloc_key *k,
                      const char **why)
{
	struct twist_flow *f;
	int rc;

	*why = "twist is not running here";
	if (!twist_plane_up(w->r->twist))
		return -ENODEV;
	*why = "no listener on that address here";
	if (!has_listener(w, &k->local))
		return -EADDRNOTAVAIL;
	*why = "memory";
	f = twist_flow_alloc(w, k);
	if (!f)
		return -ENOMEM;
	f->flow.importing = true;
	f->quiet_copy = true;
	f->last_client_ms = w->now_ms;
	twist_tuple_birth(f, t);
	*why = "relayed port";
	rc = twist_plane_adopt(f->tp, f);
	if (rc == 0) {
		apply_state(f, t, w->now_ms);
		/* Bound to and connected from the VIP before it arrives (IP_TRANSPARENT). */
		*why = "per-client socket";
		rc = twist_flow_connect(f);
	}
	if (rc < 0) {
		flow_free(&f->flow);
		return rc;
	}
	flow_publish(&f->flow);
	f->flow.importing = false;
	return 0;
}

int twist_flow_import(struct worker *w, const Twist__Flow *t, const char **why)
{
	struct twist_flow *f;
	struct alloc_key k;

	*why = "malformed";
	if (flowconv_key(t, &k) < 0)
		return -EBADMSG;
	f = twist_flow_find(w, &k);
	if (t->deleted) {
		flow_free(f ? &f->flow : NULL);
		return 0;
	}
	if (!t->twist)
		return -EBADMSG;
	if (!f)
		return import_new(w, t, &k, why);
	/* The relayed address, type and cookie of a 5-tuple never change. */
	apply_state(f, t, w->now_ms);
	return 0;
}
