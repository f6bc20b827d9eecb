/*
 * Health checks: plain HTTP GETs to the relay's and syncd's metrics
 * addresses with a short timeout (libevent's HTTP client parses the
 * answers and caps their size). The verdict goes to keepalived's
 * track_file whenever it changes.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "ha/ha.h"

static int track_value(const struct ha *h, enum ha_verdict v)
{
	switch (v) {
	case VERDICT_OK:
		return 0;
	case VERDICT_DEMOTE:
		return -(int)h->cfg.demote;
	case VERDICT_FAULT:
		return HA_TRACK_FAULT;
	}
	return HA_TRACK_FAULT;
}

static int write_track(struct ha *h, enum ha_verdict v)
{
	char buf[16];
	int rc;

	snprintf(buf, sizeof(buf), "%d\n", track_value(h, v));
	rc = ha_file_write_atomic(h->cfg.track_path, buf);
	if (rc < 0)
		log_err("cannot write track file %s: %s", h->cfg.track_path, strerror(-rc));
	return rc;
}

static void change_verdict(struct ha *h, enum ha_verdict v)
{
	if (h->verdict_written && v == h->verdict)
		return;
	log_info("health %s -> %s: track file %d (relay %d, ready %d; syncd health %d, ready %d)",
	         h->verdict_written ? ha_verdict_name(h->verdict) : "unknown", ha_verdict_name(v),
	         track_value(h, v), h->relay.probe.last_code, h->relay_ready.probe.last_code,
	         h->syncd_health.probe.last_code, h->syncd_ready.probe.last_code);
	if (write_track(h, v) == 0) {
		h->verdicts[v]++;
		h->verdict = v;
		h->verdict_written = true;
	}
}

void ha_health_update(struct ha *h)
{
	struct ha_verdict_cfg vc = {.fail_after = h->cfg.fail_after, .syncd = h->cfg.have_syncd};

	change_verdict(h, ha_verdict(&vc, &h->relay.probe, &h->relay_ready.probe,
	                             &h->syncd_health.probe, &h->syncd_ready.probe));
	ha_anycast_update(h);
}

/* The wanted line, whole, in the body (a Prometheus page): 200 or 503. */
static int body_check(struct evhttp_request *req, const char *want)
{
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t wlen = strlen(want), len = evbuffer_get_length(b);
	const char *body = (const char *)evbuffer_pullup(b, -1);
	const char *p = body, *end = body + len;

	while (p && p + wlen <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line = (size_t)((nl ? nl : end) - p);

		if (line == wlen && memcmp(p, want, wlen) == 0)
			return 200;
		p = nl ? nl + 1 : NULL;
	}
	return 503;
}

static void on_response(struct evhttp_request *req, void *arg)
{
	struct ha_check *c = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	c->in_flight = false;
	if (code < 0 || code > 999)
		code = 0;
	if (code == 200 && c->want)
		code = body_check(req, c->want);
	if (code != 200) {
		c->failed_total++;
		if (log_ratelimit(&c->last_log_ms, clock_mono_ms(), 2000))
			log_info("%s: %s (%llu failed checks so far; logged every 2 s)", c->name,
			         code ? "not 200" : "no answer",
			         (unsigned long long)c->failed_total);
	}
	ha_probe_result(&c->probe, code);
	ha_health_update(c->h);
}

static int check_init(struct ha *h, struct ha_check *c, const char *name, const char *path,
                      const struct ha_target *t)
{
	struct timeval tv = {.tv_sec = h->cfg.timeout_ms / 1000,
	                     .tv_usec = (h->cfg.timeout_ms % 1000) * 1000};

	c->h = h;
	c->name = name;
	c->path = path;
	c->target = t;
	c->conn = evhttp_connection_base_new(h->base, NULL, t->host, t->port);
	if (!c->conn)
		return -ENOMEM;
	evhttp_connection_set_timeout_tv(c->conn, &tv);
	evhttp_connection_set_retries(c->conn, 0);
	evhttp_connection_set_max_headers_size(c->conn, 8192);
	evhttp_connection_set_max_body_size(c->conn, 4096);
	return 0;
}

static void check_start(struct ha_check *c)
{
	struct evhttp_request *req;

	/* Still waiting: its timeout will report the failure. */
	if (!c->conn || c->in_flight)
		return;
	req = evhttp_request_new(on_response, c);
	if (!req)
		return;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", c->target->host);
	if (evhttp_make_request(c->conn, req, EVHTTP_REQ_GET, c->path) < 0) {
		/* libevent frees req on failure. */
		ha_probe_result(&c->probe, 0);
		return;
	}
	c->in_flight = true;
}

int ha_health_init(struct ha *h)
{
	int rc;

	rc = check_init(h, &h->relay, "twist-relay /health", "/health", &h->cfg.relay);
	if (rc == 0 && h->cfg.have_anycast)
		rc = check_init(h, &h->serving, "twist-relay /serving", "/serving",
		                &h->cfg.serving);
	if (rc == 0 && h->cfg.have_anycast && h->cfg.have_syncd) {
		/* The standby's session: the master's syncd is "ready" alone. */
		rc = check_init(h, &h->standby, "twist-syncd standby", "/metrics", &h->cfg.syncd);
		h->standby.want = "twist_syncd_peer_up 1";
		if (rc == 0)
			evhttp_connection_set_max_body_size(h->standby.conn, 1 << 20);
	}
	if (rc == 0 && h->cfg.have_syncd)
		rc = check_init(h, &h->syncd_health, "twist-syncd /health", "/health",
		                &h->cfg.syncd);
	if (rc == 0 && h->cfg.have_syncd)
		rc = check_init(h, &h->syncd_ready, "twist-syncd /ready", "/ready", &h->cfg.syncd);
	if (rc == 0 && (h->cfg.have_syncd || h->cfg.have_anycast))
		rc = check_init(h, &h->relay_ready, "twist-relay /ready", "/ready", &h->cfg.relay);
	if (rc < 0)
		return rc;
	/* Not healthy until a check says so: keepalived starts us in FAULT. */
	change_verdict(h, VERDICT_FAULT);
	return 0;
}

void ha_health_tick(struct ha *h)
{
	check_start(&h->relay);
	if (h->cfg.have_syncd || h->cfg.have_anycast)
		check_start(&h->relay_ready);
	if (h->cfg.have_syncd) {
		check_start(&h->syncd_health);
		check_start(&h->syncd_ready);
	}
	if (h->cfg.have_anycast) {
		check_start(&h->serving);
		if (h->cfg.have_syncd)
			check_start(&h->standby);
	}
}

void ha_health_fini(struct ha *h)
{
	struct ha_check *all[] = {&h->relay,       &h->relay_ready, &h->syncd_health,
	                          &h->syncd_ready, &h->serving,     &h->standby};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i]->conn)
			evhttp_connection_free(all[i]->conn);
		all[i]->conn = NULL;
	}
}
