/*
 * The inbox of data connections handed over by other workers: a list
 * under a mutex, drained by an event made active from the posting thread
 * (libevent is thread-aware: evthread_use_pthreads() at start).
 */
#include <errno.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "relay/connlimit.h"
#include "relay/relay.h"
#include "relay/tcp.h"
#include "relay/tcp_handover.h"
#include "relay/ws.h"

struct tcp_inbox {
	pthread_mutex_t lock;
	struct tcp_handover *head, *tail;
	struct event *ev;
};

static struct tcp_handover *take_all(struct tcp_inbox *ib)
{
	struct tcp_handover *h;

	pthread_mutex_lock(&ib->lock);
	h = ib->head;
	ib->head = ib->tail = NULL;
	pthread_mutex_unlock(&ib->lock);
	return h;
}

static void inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct tcp_handover *h, *next;

	(void)fd;
	(void)what;
	w->now_ms = relay_now_ms();
	for (h = take_all(w->tcpin); h; h = next) {
		next = h->next;
		tcp_conn_adopt(w, h);
		free(h);
	}
}

int tcp_handover_init(struct worker *w)
{
	struct tcp_inbox *ib = calloc(1, sizeof(*ib));

	if (!ib)
		return -ENOMEM;
	pthread_mutex_init(&ib->lock, NULL);
	w->tcpin = ib;
	ib->ev = event_new(w->base, -1, 0, inbox_cb, w);
	return ib->ev ? 0 : -ENOMEM;
}

void tcp_handover_fini(struct worker *w)
{
	struct tcp_inbox *ib = w->tcpin;
	struct tcp_handover *h, *next;

	if (!ib)
		return;
	for (h = take_all(ib); h; h = next) {
		next = h->next;
		close(h->fd);
		SSL_free(h->ssl);
		ws_conn_move(h->ws, NULL, w); /* counted here to be uncounted by the free */
		ws_conn_free(h->ws, w);
		connlimit_put(w->r->conns, &h->client, h->counted_authed);
		free(h);
	}
	if (ib->ev)
		event_free(ib->ev);
	pthread_mutex_destroy(&ib->lock);
	free(ib);
	w->tcpin = NULL;
}

void tcp_handover_post(struct worker *to, struct tcp_handover *h)
{
	struct tcp_inbox *ib = to->tcpin;

	h->next = NULL;
	pthread_mutex_lock(&ib->lock);
	if (ib->tail)
		ib->tail->next = h;
	else
		ib->head = h;
	ib->tail = h;
	pthread_mutex_unlock(&ib->lock);
	event_active(ib->ev, EV_TIMEOUT, 0);
}
