/* Prometheus text metrics and /health over evhttp, on the main thread's loop. */
#ifndef TWIST_RELAY_METRICS_H
#define TWIST_RELAY_METRICS_H

#include "relay/relay.h"

struct metrics;

struct metrics *metrics_start(struct relay *r, struct event_base *base);
void metrics_stop(struct metrics *m);

#endif
