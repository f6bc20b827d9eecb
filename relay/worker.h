/* Worker threads: one event loop each, with its own listeners and allocations. */
#ifndef TWIST_RELAY_WORKER_H
#define TWIST_RELAY_WORKER_H

#include "relay/relay.h"

struct worker *worker_new(struct relay *r, unsigned id);
int worker_start(struct worker *w);
void worker_stop(struct worker *w); /* from another thread; then worker_join */
void worker_join(struct worker *w);
void worker_free(struct worker *w);

#endif
