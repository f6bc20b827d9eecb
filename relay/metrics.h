/* Prometheus text metrics and /health over evhttp, on the main thread's loop. */
#ifndef TWIST_RELAY_METRICS_H
#define TWIST_RELAY_METRICS_H

#include "relay/relay.h"

struct metrics_http;

/* Serves /metrics, /health and /ready; stopped with metrics_http_stop(). */
struct metrics_http *metrics_start(struct relay *r, struct event_base *base);

#endif
