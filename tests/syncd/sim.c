#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "tests/syncd/sim.h"
#include "tests/syncd/util.h"

#define STEP_US 200

static uint32_t rnd(struct sim *sim)
{
	sim->rng ^= sim->rng << 13;
	sim->rng ^= sim->rng >> 17;
	sim->rng ^= sim->rng << 5;
	return sim->rng;
}

static void enqueue(struct sim *sim, int to, const uint8_t *buf, size_t len)
{
	struct simmsg *m = malloc(sizeof(*m) + len), **pp = &sim->q[to];

	if (!m)
		abort();
	m->next = NULL;
	m->len = len;
	memcpy(m->buf, buf, len);
	while (*pp)
		pp = &(*pp)->next;
	*pp = m;
}

static int op_send(void *arg, const uint8_t *buf, size_t len)
{
	struct simnode *n = arg;
	struct sim *sim = n->sim;
	int to = 1 - n->idx;
	struct simlink *l = &sim->link[to];

	if (l->eagain)
		return -EAGAIN;
	l->sent++;
	if (l->cut || (l->drop_next && l->drop_next--) ||
	    (l->drop_pct && rnd(sim) % 100 < l->drop_pct)) {
		l->dropped++;
		return 0; /* lost in flight, as nanomsg does on a reconnect */
	}
	enqueue(sim, to, buf, len);
	if (l->dup)
		enqueue(sim, to, buf, len);
	return 0;
}

static void op_flow(void *arg, const Twist__Flow *f)
{
	struct simnode *n = arg;

	if (f->deleted)
		n->deletes++;
	else
		n->imports++;
}

static void op_tokens(void *arg, const uint64_t *t, size_t k)
{
	struct simnode *n = arg;

	for (size_t i = 0; i < k && n->n_tokens < 4096; i++)
		n->tokens[n->n_tokens++] = t[i];
}

static void op_dump_end(void *arg)
{
	struct simnode *n = arg;

	n->dump_ends++;
}

static void op_synced(void *arg, bool synced)
{
	struct simnode *n = arg;

	n->synced = synced;
}

static void node_start(struct sim *sim, int i, uint64_t epoch)
{
	struct simnode *n = &sim->n[i];
	struct session_ops ops = {
	        .peer_send = op_send,
	        .relay_flow = op_flow,
	        .relay_tokens = op_tokens,
	        .relay_dump_end = op_dump_end,
	        .relay_synced = op_synced,
	        .arg = n,
	};

	n->sim = sim;
	n->idx = i;
	n->cfg.epoch = epoch;
	n->synced = -1;
	n->t = table_new(0x1234 + (uint32_t)i);
	n->s = session_new(&n->cfg, n->t, &n->st, &ops, sim->now);
	if (!n->t || !n->s)
		abort();
	/* The relay's dump reply never comes in these tests: loaded at once. */
	session_dump_asked(n->s, sim->now);
	n->s->loaded = true;
}

void sim_init(struct sim *sim, const struct session_cfg *base)
{
	memset(sim, 0, sizeof(*sim));
	sim->now = 1000000;
	sim->rng = 0x9e3779b9;
	log_set_level(LOG_LVL_ERR);
	for (int i = 0; i < 2; i++) {
		sim->n[i].cfg = *base;
		sim->n[i].cfg.node_id = (uint64_t)i + 1;
		sim->n[i].cfg.peer_id = (uint64_t)(2 - i);
		node_start(sim, i, 0x1111000000000000ull * (uint64_t)(i + 1) + 1);
	}
}

static void node_stop(struct simnode *n)
{
	session_free(n->s);
	table_free(n->t);
	n->s = NULL;
	n->t = NULL;
}

void sim_fini(struct sim *sim)
{
	for (int i = 0; i < 2; i++) {
		struct simmsg *m;

		node_stop(&sim->n[i]);
		while ((m = sim->q[i])) {
			sim->q[i] = m->next;
			free(m);
		}
	}
}

void sim_restart(struct sim *sim, int i)
{
	struct simnode *n = &sim->n[i];
	uint64_t epoch = n->cfg.epoch + 1;
	struct simmsg *m;

	node_stop(n);
	while ((m = sim->q[i])) { /* in flight to the dead process */
		sim->q[i] = m->next;
		free(m);
	}
	memset(&n->st, 0, sizeof(n->st));
	n->imports = n->deletes = n->dump_ends = n->n_tokens = 0;
	node_start(sim, i, epoch);
}

void sim_set_master(struct sim *sim, int i, bool master)
{
	session_set_master(sim->n[i].s, master, sim->now);
}

static void deliver(struct sim *sim, int to)
{
	struct simmsg *list = sim->q[to], *m;
	struct simmsg *arr[4096];
	size_t n = 0;

	sim->q[to] = NULL;
	for (m = list; m && n < 4096; m = m->next)
		arr[n++] = m;
	if (m) /* more than one round's worth: keep the rest queued */
		sim->q[to] = m;
	if (sim->link[to].reorder)
		for (size_t i = n; i > 1; i--) {
			size_t j = rnd(sim) % i;
			struct simmsg *x = arr[i - 1];

			arr[i - 1] = arr[j];
			arr[j] = x;
		}
	for (size_t i = 0; i < n; i++) {
		session_peer_input(sim->n[to].s, arr[i]->buf, arr[i]->len, sim->now);
		free(arr[i]);
	}
}

void sim_run(struct sim *sim, uint64_t us)
{
	uint64_t end = sim->now + us;

	while (sim->now < end) {
		sim->now += STEP_US;
		for (int i = 0; i < 2; i++) {
			deliver(sim, i);
			session_run(sim->n[i].s, sim->now);
		}
	}
}

void sim_local(struct sim *sim, int i, Twist__Flow **flows, size_t n, const uint64_t *tok,
               size_t ntok)
{
	Twist__Local *l = util_local(flows, n, tok, ntok, false);

	if (!l)
		abort();
	session_local_input(sim->n[i].s, l, sim->now);
}

void sim_local_range(struct sim *sim, int i, unsigned first, unsigned n)
{
	Twist__Flow *f[256];

	while (n) {
		unsigned k = n < 256 ? n : 256;

		for (unsigned j = 0; j < k; j++)
			f[j] = util_flow_new(first + j, 1, 1, 600);
		sim_local(sim, i, f, k, NULL, 0);
		for (unsigned j = 0; j < k; j++)
			twist__flow__free_unpacked(f[j], flow_allocator());
		first += k;
		n -= k;
	}
}

void sim_inject(struct sim *sim, int i, const uint8_t *buf, size_t len)
{
	session_peer_input(sim->n[i].s, buf, len, sim->now);
}

bool sim_tables_equal(struct sim *sim)
{
	struct table *a = sim->n[0].t, *b = sim->n[1].t;
	struct tentry *e, *o;

	if (a->live != b->live)
		return false;
	TAILQ_FOREACH(e, &a->all, all)
	{
		if (e->flags & TE_TOMB)
			continue;
		o = table_find(b, &e->key);
		if (!o || (o->flags & TE_TOMB))
			return false;
		table_age(e, sim->now);
		table_age(o, sim->now);
		if (!util_flow_same(e->flow, o->flow, 1))
			return false;
	}
	return true;
}

size_t sim_pack(struct sim *sim, int from, Twist__Sync *m, uint8_t *buf, size_t cap)
{
	m->node_id = sim->n[from].cfg.node_id;
	m->epoch = sim->n[from].cfg.epoch;
	if (twist__sync__get_packed_size(m) > cap)
		abort();
	return twist__sync__pack(m, buf);
}
