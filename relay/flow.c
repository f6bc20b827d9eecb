#include <stddef.h>

#include "relay/flow.h"
#include "relay/relay.h"
#include "relay/sync.h"

void flow_init(struct flow *f, const struct flow_ops *ops, struct worker *w,
               const struct alloc_key *key, bool replicates)
{
	f->ops = ops;
	f->w = w;
	f->key = *key;
	f->replicates = replicates;
}

void flow_publish(struct flow *f)
{
	struct worker *w = f->w;

	f->prev = NULL;
	f->next = w->flows;
	if (w->flows)
		w->flows->prev = f;
	w->flows = f;
	f->published = true;
	flow_changed(f);
}

void flow_changed(struct flow *f)
{
	if (!f->published || f->closed || f->importing)
		return;
	if (f->replicates)
		sync_flow_changed(f);
}

static void unlink_flow(struct flow *f)
{
	struct worker *w = f->w;

	if (f->prev)
		f->prev->next = f->next;
	else
		w->flows = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
	f->published = false;
}

static void flow_close(struct flow *f, bool tell)
{
	struct worker *w = f->w;

	if (f->published) {
		if (f->replicates)
			sync_flow_gone(f, tell && !f->importing);
		unlink_flow(f);
	}
	f->closed = true;
	f->ops->close(f);
	f->dead_next = w->dead;
	w->dead = f;
}

void flow_delete(struct flow *f)
{
	if (f && !f->closed)
		flow_close(f, true);
}

void flow_free(struct flow *f)
{
	if (f && !f->closed)
		flow_close(f, false);
}

struct flow *flow_first(struct worker *w)
{
	return w->flows;
}

void worker_reap(struct worker *w)
{
	struct flow *f;

	while ((f = w->dead) != NULL) {
		w->dead = f->dead_next;
		f->ops->destroy(f);
	}
}

void flow_sweep_all(struct worker *w)
{
	struct flow *f, *next;

	for (f = w->flows; f; f = next) {
		next = f->next;
		f->ops->sweep(f, w->now_ms);
	}
}
