/*
 * The HTTP side of /metrics, /health and /ready, shared by twist-relay,
 * twist-syncd and twist-ha: an evhttp server that answers GET and HEAD
 * only, with small limits, on the caller's event loop. What the pages say
 * stays with each daemon.
 */
#ifndef TWIST_COMMON_METRICS_HTTP_H
#define TWIST_COMMON_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct metrics_http;

/* Writes a page's body (text/plain) into b; returns its status: 200, or 503 when not ready. */
typedef int (*metrics_http_fill_fn)(struct evbuffer *b, void *arg);

struct metrics_http_page {
	const char *path; /* "/metrics" */
	metrics_http_fill_fn fill;
};

/* Binds ip:port and serves the n pages, each called with arg; NULL (logged) on failure. */
struct metrics_http *metrics_http_start(struct event_base *base, const char *ip, uint16_t port,
                                        const struct metrics_http_page *pages, size_t n, void *arg);
void metrics_http_stop(struct metrics_http *h);

#endif
