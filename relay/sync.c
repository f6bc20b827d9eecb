/*
 * Replication, the main thread's side: the nanomsg sockets to twist-syncd,
 * decoding and checking what arrives, and handing it to the workers
 * (relay/sync_worker.c).
 */
#include <errno.h>
#include <event2/event.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "relay/auth.h"
#include "relay/sync.h"
#include "relay/trt_tuple.h"
#include "relay/sync_int.h"

#define SILENT_MS     1500 /* twist-syncd unheard this long: do not hold responses */
#define RECV_PER_CALL 256

bool sync_connected(struct relay *r)
{
	struct sync *s = r->sync;

	return s && relay_now_ms() - __atomic_load_n(&s->heard_ms, __ATOMIC_RELAXED) < SILENT_MS;
}

bool sync_importing_done(struct relay *r)
{
	if (!r->sync)
		return true;
	return __atomic_load_n(&r->sync_loaded, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&r->import_backlog, __ATOMIC_ACQUIRE) == 0;
}

bool sync_peer_ready(struct relay *r)
{
	struct sync *s = r->sync;

	return sync_connected(r) && __atomic_load_n(&s->peer_synced, __ATOMIC_RELAXED);
}

static void inbox_put(struct worker *w, struct item *it)
{
	struct sync_worker *sw = w->sw;

	it->next = NULL;
	pthread_mutex_lock(&sw->lock);
	if (sw->in_tail)
		sw->in_tail->next = it;
	else
		sw->in_head = it;
	sw->in_tail = it;
	pthread_mutex_unlock(&sw->lock);
	event_active(sw->ev_inbox, EV_TIMEOUT, 0);
}

static struct worker *flow_owner(struct relay *r, const Twist__Flow *f)
{
	struct alloc_key k;

	if (flowconv_key(f, &k) < 0)
		return NULL;
	/* The translator lives on worker 0 (relay/trt.h). */
	if (trt_tuple_is_mapping(&r->cfg, &k))
		return r->workers[0];
	/* The same worker every time, on every node: imports of one flow never race. */
	return r->workers[alloc_key_hash(&k, 0x74777374u) % r->n_workers];
}

/*
 * The sync link has no authentication: a tuple is checked like a client's
 * request before any worker builds it (lifetimes clamped, peers through
 * the policy, channels unique, relayed addresses ours).
 */
_Static_assert(IMPORT__COUNT <= sizeof(((struct relay *)0)->sync_refused) / sizeof(uint64_t),
               "struct relay counts every import_reason");

/* A TWIST tuple names its user: one this node would not authenticate is refused. */
static bool user_known(void *arg, const char *user)
{
	struct relay *r = arg;
	uint8_t key[32];

	return r->auth &&
	       auth_key(r->auth, user, strlen(user), STUN_PWALG_MD5, relay_wall_s(), key) >= 0;
}

static bool refused(struct sync *s, Twist__Flow *f)
{
	unsigned clamped = 0;
	int why = import_check(f, &s->lim, &clamped);

	if (clamped)
		__atomic_add_fetch(&s->r->sync_clamped, clamped, __ATOMIC_RELAXED);
	if (why == IMPORT_OK)
		return false;
	__atomic_add_fetch(&s->r->sync_refused[why], 1, __ATOMIC_RELAXED);
	if (log_ratelimit(&s->refused_log, relay_now_ms(), 1000))
		log_warn("twist-syncd sent a flow this node refuses: %s (counted; logged once a "
		         "second)",
		         import_reason_name((enum import_reason)why));
	return true;
}

static void dispatch_flows(struct sync *s, Twist__Local *m)
{
	struct relay *r = s->r;
	struct shared_msg *sm = malloc(sizeof(*sm));

	if (!sm) {
		twist__local__free_unpacked(m, NULL);
		return;
	}
	sm->msg = m;
	sm->refs = 1; /* ours, dropped below */
	for (size_t i = 0; i < m->n_flows; i++) {
		struct worker *w;
		struct item *it;

		if (refused(s, m->flows[i]))
			continue;
		w = flow_owner(r, m->flows[i]);
		it = calloc(1, sizeof(*it));
		if (!w || !it) {
			free(it);
			continue;
		}
		it->kind = ITEM_FLOW;
		it->sm = sm;
		it->flow = m->flows[i];
		__atomic_add_fetch(&sm->refs, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&r->import_backlog, 1, __ATOMIC_RELAXED);
		inbox_put(w, it);
	}
	sync_shared_put(sm);
}

static void dispatch(struct sync *s, Twist__Local *m)
{
	struct relay *r = s->r;

	__atomic_store_n(&s->heard_ms, relay_now_ms(), __ATOMIC_RELAXED);
	__atomic_store_n(&s->peer_synced, m->peer_synced ? 1 : 0, __ATOMIC_RELAXED);
	for (size_t i = 0; i < m->n_tokens; i++) {
		unsigned wid = (unsigned)(m->tokens[i] >> 48);
		struct item *it;

		if (wid >= r->n_workers || !(it = calloc(1, sizeof(*it))))
			continue;
		it->kind = ITEM_TOKEN;
		it->token = m->tokens[i];
		inbox_put(r->workers[wid], it);
	}
	if (m->dump) {
		log_info("twist-syncd asks for every flow (it restarted)");
		for (unsigned i = 0; i < r->n_workers; i++) {
			struct item *it = calloc(1, sizeof(*it));

			if (it) {
				it->kind = ITEM_DUMP;
				inbox_put(r->workers[i], it);
			}
		}
	}
	if (m->dump_end && !__atomic_exchange_n(&r->sync_loaded, 1, __ATOMIC_ACQ_REL))
		log_info("twist-syncd has sent every flow it holds");
	if (m->n_flows) {
		dispatch_flows(s, m); /* takes m */
		return;
	}
	twist__local__free_unpacked(m, NULL);
}

static void pull_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync *s = arg;
	uint64_t last = 0;

	(void)fd;
	(void)what;
	for (int i = 0; i < RECV_PER_CALL; i++) {
		void *buf = NULL;
		int n = nn_recv(s->pull, &buf, NN_MSG, NN_DONTWAIT);
		Twist__Local *m;

		if (n < 0)
			break;
		m = flow_local_unpack(buf, (size_t)n);
		nn_freemsg(buf);
		if (!m) {
			if (log_ratelimit(&last, relay_now_ms(), 1000))
				log_warn("twist-syncd sent an undecodable message (%d bytes), "
				         "dropped",
				         n);
			__atomic_add_fetch(&s->r->sync_bad_msgs, 1, __ATOMIC_RELAXED);
			continue;
		}
		dispatch(s, m);
	}
}

/* The first message: ask twist-syncd for every flow it holds (relay restart). */
static void dump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync *s = arg;
	struct timeval again = {0, 100000};
	Twist__Local m;
	uint8_t buf[16];
	size_t len;

	(void)fd;
	(void)what;
	twist__local__init(&m);
	m.dump = 1;
	len = twist__local__pack(&m, buf);
	if (nn_send(s->push, buf, len, NN_DONTWAIT) < 0) {
		event_add(s->ev_dump, &again); /* syncd not there yet */
		return;
	}
	log_info("asked twist-syncd for its flows");
}

static int nn_open(int type, const char *dir, const char *name)
{
	char url[CFG_STR + 32];
	int sock = nn_socket(AF_SP, type), max = FLOW_MAX_MSG, buf = 4 << 20;

	if (sock < 0)
		return -1;
	snprintf(url, sizeof(url), "ipc://%s/%s", dir, name);
	if (nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max)) < 0 ||
	    nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDBUF, &buf, sizeof(buf)) < 0 ||
	    nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof(buf)) < 0 ||
	    nn_connect(sock, url) < 0) {
		log_err("nanomsg connect %s: %s", url, nn_strerror(nn_errno()));
		nn_close(sock);
		return -1;
	}
	return sock;
}

int sync_start(struct relay *r, struct event_base *base)
{
	struct sync *s;
	int rcvfd;
	size_t sz = sizeof(rcvfd);

	if (!r->cfg.ha_enabled)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->r = r;
	import_limits_init(&s->lim, &r->cfg, r->policy, r->relay_addr);
	s->lim.user_known = user_known;
	s->lim.user_arg = r;
	s->push = nn_open(NN_PUSH, r->cfg.ha_ipc_dir, "sync-in.ipc");
	s->pull = nn_open(NN_PULL, r->cfg.ha_ipc_dir, "sync-out.ipc");
	r->sync = s;
	if (s->push < 0 || s->pull < 0)
		return -EIO;
	if (nn_getsockopt(s->pull, NN_SOL_SOCKET, NN_RCVFD, &rcvfd, &sz) < 0)
		return -EIO;
	s->ev_pull = event_new(base, rcvfd, EV_READ | EV_PERSIST, pull_cb, s);
	s->ev_dump = event_new(base, -1, 0, dump_cb, s);
	if (!s->ev_pull || !s->ev_dump || event_add(s->ev_pull, NULL) < 0)
		return -ENOMEM;
	event_active(s->ev_dump, EV_TIMEOUT, 0);
	log_info("ha: replicating through twist-syncd at %s", r->cfg.ha_ipc_dir);
	return 0;
}

void sync_stop(struct relay *r)
{
	struct sync *s = r->sync;

	if (!s)
		return;
	if (s->ev_pull)
		event_free(s->ev_pull);
	if (s->ev_dump)
		event_free(s->ev_dump);
	if (s->push >= 0)
		nn_close(s->push);
	if (s->pull >= 0)
		nn_close(s->pull);
	free(s);
	r->sync = NULL;
}
