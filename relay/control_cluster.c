/*
 * The control verbs of the cluster and of the workers' tables: drain and
 * undrain, role, state, siblings (answered at once from atomics and the
 * cluster's snapshot) and sessions, which each worker answers for its own
 * allocations on its own thread (event_base_once), so that no table is
 * read by a thread that does not own it. A multi-line answer is
 * "ok lines=N" and N lines; every value is a key=value token without
 * blanks (user names are %-escaped).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "relay/alloc.h"
#include "relay/cluster.h"
#include "relay/control_int.h"
#include "relay/fastpath_alloc.h"
#include "relay/registry.h"
#include "relay/relay.h"

struct sess_part {
	struct sess_job *j;
	struct worker *w;
	struct evbuffer *out;
	unsigned lines;
};

struct sess_job {
	struct sess_job *next;
	struct control *c;
	struct ctl_conn *k; /* NULL once the connection went */
	struct event *done; /* on the main loop: the last worker activates it */
	char user[CONTROL_LINE_MAX + 1];
	unsigned pending; /* workers yet to answer; atomic */
	unsigned n;
	struct sess_part parts[];
};

static const char *yes(bool b)
{
	return b ? "true" : "false";
}

/* Letters, digits and ._@- as they are; anything else %XX, so no blank or '=' leaks. */
static void escape(const char *s, char *out, size_t len)
{
	static const char ok[] =
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-";
	size_t n = 0;

	for (; *s && n + 4 < len; s++) {
		if (strchr(ok, *s))
			out[n++] = *s;
		else
			n += (size_t)snprintf(out + n, len - n, "%%%02X", (unsigned char)*s);
	}
	out[n] = '\0';
}

static void drain(struct ctl_conn *k, bool on)
{
	struct relay *r = k->c->r;
	unsigned avail = cluster_available(r);
	int was = __atomic_exchange_n(&r->draining, on, __ATOMIC_RELAXED);

	if (was != on)
		log_info("control: %s", on ? "draining: new Allocates go to siblings"
		                           : "undrained: serving new Allocates");
	if (!on) {
		control_reply(k, "ok draining=false");
		return;
	}
	/* Told plainly: a drain with nowhere to send clients redirects nobody. */
	if (avail == 0)
		control_reply(k,
		              "ok draining=true siblings_available=0 warning=no_healthy_sibling");
	else
		control_reply(k, "ok draining=true siblings_available=%u", avail);
}

static void state(struct ctl_conn *k)
{
	struct relay *r = k->c->r;
	const struct config *cfg = &r->cfg;
	unsigned hw = cfg->cluster_high_water;

	control_reply(k,
	              "ok node=%s role=%s sync=%s allocations=%zu capacity=%u high_water=%u "
	              "low_water=%u draining=%s redirecting=%s siblings=%u "
	              "siblings_available=%u redirects_high_water=%llu redirects_draining=%llu "
	              "redirects_anycast=%llu",
	              cfg->cluster_node[0] ? cfg->cluster_node : "-",
	              cluster_role_name(cluster_role_now(r)),
	              cluster_sync_name(cluster_sync_now(r)), registry_count(r->reg),
	              cfg->cluster_capacity ? cfg->cluster_capacity : cfg->max_allocations, hw,
	              cfg->cluster_low_water ? cfg->cluster_low_water
	                                     : (unsigned)((uint64_t)hw * 9 / 10),
	              yes(__atomic_load_n(&r->draining, __ATOMIC_RELAXED)),
	              yes(__atomic_load_n(&r->redirecting, __ATOMIC_RELAXED)),
	              r->cluster ? cfg->n_siblings : 0, cluster_available(r),
	              (unsigned long long)__atomic_load_n(&r->redirects[REDIRECT_HIGH_WATER],
	                                                  __ATOMIC_RELAXED),
	              (unsigned long long)__atomic_load_n(&r->redirects[REDIRECT_DRAINING],
	                                                  __ATOMIC_RELAXED),
	              (unsigned long long)__atomic_load_n(&r->redirects[REDIRECT_ANYCAST],
	                                                  __ATOMIC_RELAXED));
}

static void siblings(struct ctl_conn *k)
{
	struct cluster_sibling_view v[CFG_MAX_SIBLINGS];
	unsigned n = cluster_siblings(k->c->r, v, CFG_MAX_SIBLINGS);

	control_reply(k, "ok lines=%u", n);
	for (unsigned i = 0; i < n; i++) {
		const struct cluster_report *l = &v[i].last;

		control_reply(
		        k,
		        "name=%s up=%s heard=%s age_ms=%llu allocations=%u capacity=%u "
		        "bytes_per_s=%llu cpu_permille=%u draining=%s redirecting=%s role=%s "
		        "sync=%s",
		        v[i].name, yes(v[i].up), yes(v[i].heard), (unsigned long long)v[i].age_ms,
		        l->allocs, l->capacity, (unsigned long long)l->bytes_per_s, l->cpu_permille,
		        yes(l->flags & CLUSTER_F_DRAINING), yes(l->flags & CLUSTER_F_REDIRECTING),
		        cluster_role_name((enum cluster_role)l->role),
		        cluster_sync_name((enum cluster_sync)l->sync));
	}
}

void control_run_cluster(struct ctl_conn *k, enum control_verb v)
{
	struct relay *r = k->c->r;

	switch (v) {
	case CONTROL_DRAIN:
		drain(k, true);
		break;
	case CONTROL_UNDRAIN:
		drain(k, false);
		break;
	case CONTROL_ROLE:
		control_reply(k, "ok role=%s sync=%s", cluster_role_name(cluster_role_now(r)),
		              cluster_sync_name(cluster_sync_now(r)));
		break;
	case CONTROL_STATE:
		state(k);
		break;
	case CONTROL_SIBLINGS:
		siblings(k);
		break;
	default:
		control_reply(k, "error internal: %s is not a cluster verb", control_verb_name(v));
		break;
	}
}

/* On the worker's thread: its own allocations only. */
static void sess_line(struct allocation *a, void *arg)
{
	struct sess_part *p = arg;
	const struct conn_ops *ops = a->conn ? a->conn->ops : conn_ops_for(a->flow.key.transport);
	char cl[TW_ADDR_STRLEN], rl[TW_ADDR_STRLEN], u[3 * CFG_STR + 1];
	uint64_t now = p->w->now_ms;

	if (p->j->user[0] && (!a->user || strcmp(a->user, p->j->user) != 0))
		return;
	escape(a->user ? a->user : "", u, sizeof(u));
	fastpath_alloc_count(a); /* what the program relayed counts as relayed */
	evbuffer_add_printf(
	        p->out,
	        "user=%s transport=%s client=%s relayed=%s age_s=%llu expires_s=%llu "
	        "bytes_to_peer=%llu bytes_to_client=%llu permissions=%u channels=%u "
	        "worker=%u\n",
	        u[0] ? u : "-", ops ? ops->name : "?",
	        tw_addr_fmt(&a->flow.key.client, cl, sizeof(cl)),
	        a->n_rs ? tw_addr_fmt(&a->rs[0].addr, rl, sizeof(rl)) : "-",
	        (unsigned long long)(now > a->created_ms ? (now - a->created_ms) / 1000 : 0),
	        (unsigned long long)(a->expires > now ? (a->expires - now) / 1000 : 0),
	        (unsigned long long)a->bytes_to_peer, (unsigned long long)a->bytes_to_client,
	        a->n_perms, a->n_chans, p->w->id);
	p->lines++;
}

static void sess_worker(evutil_socket_t fd, short what, void *arg)
{
	struct sess_part *p = arg;

	(void)fd;
	(void)what;
	p->w->now_ms = relay_now_ms();
	alloc_each(p->w, sess_line, p);
	if (__atomic_sub_fetch(&p->j->pending, 1, __ATOMIC_ACQ_REL) == 0)
		event_active(p->j->done, EV_TIMEOUT, 0);
}

static void job_free(struct sess_job *j)
{
	struct sess_job **pp;

	for (pp = &j->c->jobs; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = j->next;
	for (unsigned i = 0; i < j->n; i++)
		if (j->parts[i].out)
			evbuffer_free(j->parts[i].out);
	if (j->done)
		event_free(j->done);
	free(j);
}

static void sess_done(evutil_socket_t fd, short what, void *arg)
{
	struct sess_job *j = arg;
	struct ctl_conn *k = j->k;
	unsigned lines = 0;

	(void)fd;
	(void)what;
	if (k) {
		struct evbuffer *out = bufferevent_get_output(k->bev);

		for (unsigned i = 0; i < j->n; i++)
			lines += j->parts[i].lines;
		control_reply(k, "ok lines=%u", lines);
		for (unsigned i = 0; i < j->n; i++)
			evbuffer_add_buffer(out, j->parts[i].out);
		k->job = NULL;
	}
	job_free(j);
	if (k) {
		bufferevent_enable(k->bev, EV_READ);
		control_on_read(k->bev, k); /* lines that came while it waited; may free k */
	}
}

int control_sessions(struct ctl_conn *k, const char *user)
{
	struct relay *r = k->c->r;
	struct timeval now = {0, 0};
	struct sess_job *j = calloc(1, sizeof(*j) + r->n_workers * sizeof(j->parts[0]));

	if (!j)
		goto bad;
	j->c = k->c;
	j->k = k;
	j->n = r->n_workers;
	j->pending = r->n_workers;
	snprintf(j->user, sizeof(j->user), "%s", user);
	j->done = event_new(bufferevent_get_base(k->bev), -1, 0, sess_done, j);
	if (!j->done)
		goto bad;
	for (unsigned i = 0; i < j->n; i++) {
		j->parts[i] = (struct sess_part){.j = j, .w = r->workers[i]};
		if (!(j->parts[i].out = evbuffer_new()))
			goto bad;
	}
	/* From here the job belongs to the workers until the last one answers. */
	j->next = k->c->jobs;
	k->c->jobs = j;
	k->job = j;
	for (unsigned i = 0; i < j->n; i++)
		if (event_base_once(r->workers[i]->base, -1, EV_TIMEOUT, sess_worker, &j->parts[i],
		                    &now) < 0 &&
		    __atomic_sub_fetch(&j->pending, 1, __ATOMIC_ACQ_REL) == 0)
			event_active(j->done, EV_TIMEOUT, 0); /* ENOMEM: that worker is left out */
	return 0;
bad:
	if (j) {
		j->c = k->c;
		job_free(j);
	}
	control_reply(k, "error out of memory");
	return -ENOMEM;
}

void control_job_orphan(struct sess_job *j)
{
	j->k = NULL;
}

void control_jobs_free(struct control *c)
{
	while (c->jobs)
		job_free(c->jobs);
}
