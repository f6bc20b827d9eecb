/* Prometheus text at /metrics, and /health and /ready for the HA glue, over evhttp. */
#ifndef TWIST_SYNCD_METRICS_H
#define TWIST_SYNCD_METRICS_H

#include "proto/addr.h"
#include "syncd/local.h"
#include "syncd/session.h"

struct event_base;
struct metrics;

struct metrics_src {
	const struct session *sess;
	const struct local *local;
	const struct sync_stats *st;
};

struct metrics *metrics_start(struct event_base *base, const struct tw_addr *addr,
                              const struct metrics_src *src);
void metrics_stop(struct metrics *m);

#endif
