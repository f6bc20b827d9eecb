#include <errno.h>
#include <event2/event.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/alloc.h"
#include "relay/connlimit.h"
#include "relay/dataplane.h"
#include "relay/dtls.h"
#include "relay/flow.h"
#include "common/log.h"
#include "relay/ports.h"
#include "relay/sync.h"
#include "relay/tcp.h"
#include "relay/tcp_handover.h"
#include "relay/trt.h"
#include "relay/udp.h"
#include "relay/mice_ha.h"
#include "relay/worker.h"

void worker_drop(struct worker *w, enum drop_reason why, const struct tw_addr *from)
{
	STAT_INC(&w->st, drops[why]);
	if (log_enabled(LOG_LVL_DEBUG) && log_ratelimit(&w->log_last[why], w->now_ms, 1000)) {
		char a[TW_ADDR_STRLEN];

		log_debug("worker %u: dropped from %s: %s (counted; logged once a second)", w->id,
		          tw_addr_fmt(from, a, sizeof(a)), stats_drop_name(why));
	}
}

/* Connections closed since their peak before freed memory goes back. */
#define TRIM_AFTER_CLOSED 256

/*
 * Under AddressSanitizer malloc is ASan's allocator, which malloc_trim does
 * not reach: its own purge gives free pages back instead, so the suite's
 * RSS checks (trt_load) see the relay's memory, not the allocator's.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_ASAN 1
#endif
#endif
#ifdef WORKER_ASAN
void __sanitizer_purge_allocator(void);
#endif

static void memory_give_back(struct worker *w)
{
	malloc_trim(0);
#ifdef WORKER_ASAN
	__sanitizer_purge_allocator();
#endif
	STAT_INC(&w->st, malloc_trims);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	w->now_ms = relay_now_ms();
	flow_sweep_all(w);
	dtls_sweep(w);
	if (w->id != 0)
		return;
	ports_reap(w->r->ports, w->now_ms);
	if (w->r->mice)
		mice_ha_sweep(w->r->mice, w->now_ms);
	/* After a flood of connections glibc keeps the freed memory in its
	 * arenas (one per worker); give it back once the flood is over. */
	if ((w->r->conns && connlimit_shrunk(w->r->conns, TRIM_AFTER_CLOSED)) ||
	    trt_shrunk(w->r->trt, TRIM_AFTER_CLOSED))
		memory_give_back(w);
}

/* The M-ICE encapsulation port on a UDP listen address (docs/mice.md §4). */
static int mice_listener_open(struct worker *w, const struct tw_addr *addr)
{
	struct listener *l = &w->udp[w->n_udp];
	struct tw_addr a = *addr;
	char s[TW_ADDR_STRLEN];
	int rc;

	a.port = w->r->cfg.mice_port;
	if ((rc = udp_listener_open(w, l, &a)) < 0) {
		log_err("mice listen on udp %s: %s", tw_addr_fmt(&a, s, sizeof(s)), strerror(-rc));
		return rc;
	}
	l->mice = true;
	w->n_udp++;
	return 0;
}

static int open_listeners(struct worker *w)
{
	const struct config *cfg = &w->r->cfg;
	char a[TW_ADDR_STRLEN];
	int rc;

	for (unsigned i = 0; i < cfg->n_listen; i++) {
		const struct cfg_listen *l = &cfg->listen[i];

		if (l->udp) {
			rc = udp_listener_open(w, &w->udp[w->n_udp], &l->addr);
			if (rc < 0) {
				log_err("udp listen on %s: %s", tw_addr_fmt(&l->addr, a, sizeof(a)),
				        strerror(-rc));
				return rc;
			}
			w->n_udp++;
			if (cfg->mice_enabled && (rc = mice_listener_open(w, &l->addr)) < 0)
				return rc;
			if (cfg->rfc5780_other.family == l->addr.family &&
			    (rc = udp_rfc5780_open(w, &w->udp[w->n_udp - 1], &cfg->rfc5780_other)) <
			            0) {
				log_err("stun.rfc5780 sockets on %s: %s",
				        tw_addr_fmt(&cfg->rfc5780_other, a, sizeof(a)),
				        strerror(-rc));
				return rc;
			}
		}
		if (l->dtls && (rc = dtls_listen(w, &l->addr)) < 0) {
			log_err("dtls listen on %s: %s", tw_addr_fmt(&l->addr, a, sizeof(a)),
			        strerror(-rc));
			return rc;
		}
		if (cfg_listen_stream(l)) {
			rc = tcp_listen(w, &l->addr, tcp_listen_kind(l));
			if (rc < 0) {
				log_err("%s listen on %s: %s", stream_kind_name(tcp_listen_kind(l)),
				        tw_addr_fmt(&l->addr, a, sizeof(a)), strerror(-rc));
				return rc;
			}
		}
	}
	return 0;
}

struct worker *worker_new(struct relay *r, unsigned id)
{
	struct timeval one_s = {1, 0};
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->r = r;
	w->id = id;
	w->dfd = -1;
	for (unsigned i = 0; i < sizeof(w->udp) / sizeof(w->udp[0]); i++)
		w->udp[i].fd = -1;
	for (unsigned i = 0; i < 3; i++)
		w->udp_alt[i].fd = -1;
	w->base = event_base_new();
	w->allocs = alloc_table_new(r->seed ^ id);
	if (!w->base || !w->allocs)
		goto bad;
	w->now_ms = relay_now_ms();
	w->tick = event_new(w->base, -1, EV_PERSIST, tick_cb, w);
	if (!w->tick || event_add(w->tick, &one_s) < 0)
		goto bad;
	if (dp_open(w) < 0 || sync_worker_init(w) < 0 || tcp_handover_init(w) < 0 ||
	    open_listeners(w) < 0)
		goto bad;
	return w;
bad:
	worker_free(w);
	return NULL;
}

/*
 * One pass handles every socket that is ready. UDP batches send what they
 * brought as they go (relay/udp.c); what TCP clients queued for their
 * peers leaves at the end of the pass.
 */
static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		if (event_base_loop(w->base, EVLOOP_ONCE) < 0)
			break;
		tx_flush(w);
		worker_reap(w);
	}
	return NULL;
}

int worker_start(struct worker *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);

	return rc ? -rc : 0;
}

void worker_stop(struct worker *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	/* Thread-safe (evthread_use_pthreads() at start). Should the break land
	 * between two passes, the 1 s tick ends the next one. */
	event_base_loopbreak(w->base);
}

void worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->base)
		tcp_close_all(w);
	tcp_handover_fini(w);
	dtls_close_all(w);
	/* Quiet: a relay that stops must not delete its flows on the standby. */
	while (w->flows)
		flow_free(w->flows);
	worker_reap(w);
	alloc_table_free(w->allocs);
	dp_close_all(w);
	sync_worker_fini(w);
	for (unsigned i = 0; i < w->n_udp; i++)
		udp_listener_close(&w->udp[i]);
	for (unsigned i = 0; i < 3; i++)
		udp_listener_close(&w->udp_alt[i]);
	if (w->tick)
		event_free(w->tick);
	if (w->base)
		event_base_free(w->base);
	free(w);
}
