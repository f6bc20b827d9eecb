/*
 * libevent hands the error callback the listener and the accept callback's
 * argument, which is not ours for evhttp's listener; the pause for a
 * listener is found in a short list instead, under a lock since relay
 * workers own listeners on their own threads. Only a failing accept looks.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/accept_pause.h"
#include "common/clock.h"
#include "common/log.h"

struct accept_pause {
	struct evconnlistener *l;
	struct event *resume;
	accept_pause_fn on_error;
	void *arg;
	uint64_t log_last;
	unsigned long pauses;
	char what[96];
	struct accept_pause *next;
};

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct accept_pause *all;

static struct accept_pause *find(const struct evconnlistener *l)
{
	struct accept_pause *p;

	pthread_mutex_lock(&all_lock);
	for (p = all; p && p->l != l; p = p->next)
		;
	pthread_mutex_unlock(&all_lock);
	return p;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct accept_pause *p = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(p->l);
}

static void error_cb(struct evconnlistener *l, void *arg)
{
	struct accept_pause *p = find(l);
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};

	(void)arg;
	if (!p)
		return;
	if (p->on_error)
		p->on_error(l, e, p->arg);
	if (log_ratelimit(&p->log_last, clock_mono_ms(), ACCEPT_PAUSE_LOG_MS))
		log_warn("%s: accept: %s; pausing accepts for %d ms (logged once per %d s)",
		         p->what, strerror(e), ACCEPT_PAUSE_MS, ACCEPT_PAUSE_LOG_MS / 1000);
	p->pauses++;
	evconnlistener_disable(l);
	evtimer_add(p->resume, &tv);
}

struct accept_pause *accept_pause_attach(struct evconnlistener *l, const char *what,
                                         accept_pause_fn on_error, void *arg)
{
	struct accept_pause *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->resume = evtimer_new(evconnlistener_get_base(l), resume_cb, p);
	if (!p->resume) {
		free(p);
		return NULL;
	}
	p->l = l;
	p->on_error = on_error;
	p->arg = arg;
	snprintf(p->what, sizeof(p->what), "%s", what);
	pthread_mutex_lock(&all_lock);
	p->next = all;
	all = p;
	pthread_mutex_unlock(&all_lock);
	evconnlistener_set_error_cb(l, error_cb);
	return p;
}

void accept_pause_free(struct accept_pause *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&all_lock);
	for (struct accept_pause **pp = &all; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&all_lock);
	evconnlistener_set_error_cb(p->l, NULL);
	event_free(p->resume);
	free(p);
}

unsigned long accept_pause_count(const struct accept_pause *p)
{
	return p ? p->pauses : 0;
}
