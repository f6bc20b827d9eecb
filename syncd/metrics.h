/* Prometheus text at /metrics, and /health and /ready for the HA glue, over evhttp. */
#ifndef TWIST_SYNCD_METRICS_H
#define TWIST_SYNCD_METRICS_H

#include "proto/addr.h"
#include "syncd/local.h"
#include "syncd/session.h"

struct event_base;
struct metrics_http;

struct metrics_src {
	const struct session *sess;
	const struct local *local;
	const struct sync_stats *st;
};

/* Serves /metrics, /health and /ready from *src, which must outlive the server;
 * stopped with metrics_http_stop(). */
struct metrics_http *metrics_start(struct event_base *base, const struct tw_addr *addr,
                                   struct metrics_src *src);

#endif
