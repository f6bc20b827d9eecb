#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/alloc.h"
#include "relay/auth.h"
#include "relay/dataplane.h"
#include "relay/flow.h"
#include "common/log.h"
#include "relay/turn.h"
#include "tests/relay/harness.h"

static const char relay_yaml[] = "relay:\n"
                                 "  addresses: [127.0.0.1]\n"
                                 "  port_min: 47000\n"
                                 "  port_max: 47999\n";
static const char base_yaml[] = "workers: 1\n"
                                "auth:\n"
                                "  realm: twist.local\n"
                                "  nonce_secret: harness-secret\n"
                                "  users:\n"
                                "    - { name: demo, password: demo }\n"
                                "    - { name: eve, password: eve }\n"
                                "peers:\n"
                                "  allow_loopback: true\n"
                                "  allow_self: true\n" /* peers share 127.0.0.1 with the relay */
                                "metrics:\n"
                                "  enabled: false\n"
                                "log:\n"
                                "  level: error\n";

int harness_init(struct harness *h, const char *extra)
{
	char yaml[4096], err[512];
	int n;

	memset(h, 0, sizeof(*h));
	if (!extra)
		extra = "";
	/* extra may bring its own relay section (another port range). */
	n = snprintf(yaml, sizeof(yaml), "%s%s%s", strstr(extra, "relay:") ? "" : relay_yaml,
	             base_yaml, extra);
	if (n < 0 || (size_t)n >= sizeof(yaml))
		return -1;
	if (config_load_string(yaml, (size_t)n, "<harness>", &h->r.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "harness config: %s\n", err);
		return -1;
	}
	log_set_level(h->r.cfg.log_level);
	if (relay_init(&h->r) < 0)
		return -1;
	h->w = h->r.workers[0];
	h->w->now_ms = relay_now_ms();
	return 0;
}

void harness_reset(struct harness *h)
{
	while (h->w->flows)
		flow_free(h->w->flows);
	worker_reap(h->w);
	/* libevent closes a freed bufferevent's socket (RFC 6062 peer
	 * connections) in a loop pass, as the worker's loop would. */
	event_base_loop(h->w->base, EVLOOP_NONBLOCK);
}

void harness_fini(struct harness *h)
{
	relay_fini(&h->r);
}

static int fake_send_from(struct fake_conn *fc, unsigned change, const void *buf, size_t len)
{
	unsigned i = fc->n_out++ % FAKE_KEEP;

	if (len > sizeof(fc->out[i]))
		len = sizeof(fc->out[i]);
	memcpy(fc->out[i], buf, len);
	fc->out_len[i] = len;
	fc->out_change[i] = change;
	return 0;
}

static int fake_send(struct conn *c, const void *buf, size_t len)
{
	struct fake_conn *fc = (struct fake_conn *)c;

	fc->out_port[fc->n_out % FAKE_KEEP] = 0;
	return fake_send_from(fc, 0, buf, len);
}

static int fake_alt_addr(const struct conn *c, unsigned change, struct tw_addr *from)
{
	const struct fake_conn *fc = (const struct fake_conn *)c;

	if (!fc->alt)
		return -EOPNOTSUPP;
	*from = c->local;
	if (change & STUN_CHANGE_IP) {
		memcpy(from->ip, fc->alt_other.ip, sizeof(from->ip));
		from->family = fc->alt_other.family;
	}
	if (change & STUN_CHANGE_PORT)
		from->port = fc->alt_other.port;
	return 0;
}

static int fake_send_alt(struct conn *c, unsigned change, uint16_t port, const void *buf,
                         size_t len)
{
	struct fake_conn *fc = (struct fake_conn *)c;

	if (!fc->alt)
		return -EOPNOTSUPP;
	fc->out_port[fc->n_out % FAKE_KEEP] = port;
	return fake_send_from(fc, change, buf, len);
}

static int fake_send_data(struct conn *c, const uint8_t *pkt, size_t len, size_t pad)
{
	(void)pkt;
	(void)len;
	(void)pad;
	((struct fake_conn *)c)->n_data++;
	return 0;
}

static struct conn *fake_attach(struct conn *c, struct allocation *a)
{
	c->a = a;
	return c;
}

static void fake_detach(struct conn *c)
{
	c->a = NULL;
}

static const struct conn_ops fake_dgram = {
        .name = "fake-dgram",
        .transport = STUN_PROTO_UDP,
        .send = fake_send,
        .send_data = fake_send_data,
        .attach = fake_attach,
        .detach = fake_detach,
        .alt_addr = fake_alt_addr,
        .send_alt = fake_send_alt,
};

static const struct conn_ops fake_stream = {
        .name = "fake-stream",
        .transport = STUN_PROTO_TCP,
        .stream = true,
        .send = fake_send,
        .send_data = fake_send_data,
        .attach = fake_attach,
        .detach = fake_detach,
};

void fake_conn_init(struct fake_conn *fc, struct harness *h, const char *client, bool stream)
{
	memset(fc, 0, sizeof(*fc));
	fc->c.ops = stream ? &fake_stream : &fake_dgram;
	fc->c.w = h->w;
	tw_addr_parse(client, 0, &fc->c.client);
	tw_addr_parse("127.0.0.1:3478", 0, &fc->c.local);
}

void fake_input(struct harness *h, struct fake_conn *fc, const uint8_t *buf, size_t len)
{
	static uint8_t in[RX_HEADROOM + 70000];

	if (len > sizeof(in) - RX_HEADROOM)
		len = sizeof(in) - RX_HEADROOM;
	memcpy(in + RX_HEADROOM, buf, len);
	h->w->now_ms = h->frozen_ms ? h->frozen_ms : relay_now_ms();
	turn_client_input(h->w, &fc->c, in + RX_HEADROOM, len);
	tx_flush(h->w);
	worker_reap(h->w);
}

void fake_conn_alt(struct fake_conn *fc, const char *other)
{
	fc->alt = tw_addr_parse(other, 0, &fc->alt_other) == 0;
}

bool fake_last(struct fake_conn *fc, struct stun_msg *m)
{
	unsigned i;

	if (fc->n_out == 0)
		return false;
	i = (fc->n_out - 1) % FAKE_KEEP;
	return stun_msg_parse(m, fc->out[i], fc->out_len[i]) == 0 ||
	       stun_classic_parse(m, fc->out[i], fc->out_len[i]) == 0;
}

int fake_last_code(struct fake_conn *fc)
{
	struct stun_msg m;
	const struct stun_attr *ea;
	const char *reason;
	size_t rlen;
	int code;

	if (!fake_last(fc, &m))
		return -1;
	if (m.cls == STUN_SUCCESS)
		return 0;
	ea = stun_msg_find(&m, STUN_A_ERROR_CODE);
	if (!ea || stun_attr_error(&m, ea, &code, &reason, &rlen) < 0)
		return -1;
	return code;
}

void treq_begin(struct treq *q, uint16_t method, uint8_t cls, uint8_t tid_seed)
{
	uint8_t tid[STUN_TID_LEN];

	for (unsigned i = 0; i < STUN_TID_LEN; i++)
		tid[i] = (uint8_t)(tid_seed + i * 7);
	stun_wr_init(&q->wr, q->buf, sizeof(q->buf), method, cls, tid);
}

size_t treq_sign_as(struct harness *h, struct treq *q, const struct fake_conn *fc, const char *user,
                    size_t ulen, const char *pass)
{
	char nonce[AUTH_NONCE_MAX + 1];
	const char *realm = auth_realm(h->r.auth);
	uint8_t key[32];
	size_t nlen = auth_nonce_make(h->r.auth, &fc->c.client, relay_wall_s(), nonce);
	int klen = stun_key_longterm(STUN_PWALG_MD5, user, ulen, realm, strlen(realm), pass,
	                             strlen(pass), key);

	stun_wr_attr(&q->wr, STUN_A_USERNAME, user, ulen);
	stun_wr_attr(&q->wr, STUN_A_REALM, realm, strlen(realm));
	stun_wr_attr(&q->wr, STUN_A_NONCE, nonce, nlen);
	stun_wr_integrity(&q->wr, key, (size_t)klen);
	return treq_end(q);
}

size_t treq_sign(struct harness *h, struct treq *q, const struct fake_conn *fc, const char *user,
                 const char *pass)
{
	return treq_sign_as(h, q, fc, user, strlen(user), pass);
}

size_t treq_end(struct treq *q)
{
	int n = stun_wr_finish(&q->wr);

	return n < 0 ? 0 : (size_t)n;
}

int harness_ctx_setup(void **state, const char *extra, const char *client)
{
	struct harness_ctx *x = calloc(1, sizeof(*x));

	if (!x || harness_init(&x->h, extra) < 0) {
		free(x);
		return -1;
	}
	fake_conn_init(&x->fc, &x->h, client, false);
	*state = x;
	return 0;
}

int harness_ctx_teardown(void **state)
{
	struct harness_ctx *x = *state;

	harness_reset(&x->h);
	harness_fini(&x->h);
	free(x);
	return 0;
}
