#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/accept_pause.h"
#include "common/log.h"
#include "common/metrics_http.h"

struct metrics_route {
	metrics_http_fill_fn fill;
	void *arg;
};

struct metrics_http {
	struct evhttp *http;
	struct accept_pause *pause;
	size_t n;
	struct metrics_route routes[];
};

static void page_cb(struct evhttp_request *req, void *arg)
{
	const struct metrics_route *rt = arg;
	struct evbuffer *b = evbuffer_new();
	int code;

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	code = rt->fill(b, rt->arg);
	/* The Prometheus text exposition format, version 0.0.4; plain text for the others. */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4");
	evhttp_send_reply(req, code, NULL, b); /* NULL: libevent's phrase for the code */
	evbuffer_free(b);
}

struct metrics_http *metrics_http_start(struct event_base *base, const char *ip, uint16_t port,
                                        const struct metrics_http_page *pages, size_t n, void *arg)
{
	struct metrics_http *h = calloc(1, sizeof(*h) + n * sizeof(h->routes[0]));
	struct evhttp_bound_socket *bound;
	char where[80], what[96];

	if (!h)
		return NULL;
	snprintf(where, sizeof(where), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
	h->n = n;
	if (!(h->http = evhttp_new(base)))
		goto bad;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h->http, 8192);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_timeout(h->http, 10);
	for (size_t i = 0; i < n; i++) {
		h->routes[i] = (struct metrics_route){.fill = pages[i].fill, .arg = arg};
		if (evhttp_set_cb(h->http, pages[i].path, page_cb, &h->routes[i]) != 0)
			goto bad;
	}
	if (!(bound = evhttp_bind_socket_with_handle(h->http, ip, port))) {
		log_err("metrics: cannot listen on %s", where);
		goto bad;
	}
	snprintf(what, sizeof(what), "metrics %s", where);
	if (!(h->pause = accept_pause_attach(evhttp_bound_socket_get_listener(bound), what, NULL,
	                                     NULL)))
		goto bad;
	log_info("metrics on http://%s/metrics", where);
	return h;
bad:
	metrics_http_stop(h);
	return NULL;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	accept_pause_free(h->pause); /* before the listener it watches */
	if (h->http)
		evhttp_free(h->http);
	free(h);
}
