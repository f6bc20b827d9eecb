/*
 * Inside the control socket (control.c, control_cluster.c): one
 * connection, and the verbs that answer from the cluster and the workers.
 */
#ifndef TWIST_RELAY_CONTROL_INT_H
#define TWIST_RELAY_CONTROL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/control_parse.h"

struct bufferevent;
struct event;
struct evconnlistener;
struct accept_pause;
struct relay;
struct sess_job;

struct ctl_conn {
	struct ctl_conn *next;
	struct control *c;
	struct bufferevent *bev;
	struct event *life;   /* CONTROL_LIFE_S after accept */
	uint64_t wait_gen;    /* a reload being waited for; 0 = none */
	bool closing;         /* close once the answer is written */
	struct sess_job *job; /* a sessions snapshot being gathered; NULL = none */
};

struct control {
	struct relay *r;
	struct evconnlistener *lis;
	struct accept_pause *pause; /* out of descriptors: pause, log once per 10 s */
	char path[108];             /* sun_path */
	struct ctl_conn *conns;
	unsigned n_conns;
	uint64_t refused;
	struct sess_job *jobs; /* sessions snapshots under way */
};

void control_reply(struct ctl_conn *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void control_on_read(struct bufferevent *bev, void *arg);
/* drain, undrain, role, state, siblings: answered at once. */
void control_run_cluster(struct ctl_conn *k, enum control_verb v);
/* sessions [USER]: 0 when the workers were asked (the answer follows), else answered. */
int control_sessions(struct ctl_conn *k, const char *user);
/* The connection went before the snapshot came back. */
void control_job_orphan(struct sess_job *j);
/* At shutdown, the workers stopped: frees what never came back. */
void control_jobs_free(struct control *c);

#endif
