/*
 * The pipes that splice() moves TCP bytes through (relay/trt_tcp.c), lent
 * from one bounded pool (docs/trt.md "TCP").
 *
 * A pipe is two descriptors. Held for the life of each direction of each
 * pair, 5,000 pairs would take 20,000 descriptors for pipes beside their
 * 10,000 sockets: more than a usual hard limit. Most pairs are idle at
 * any moment, and an idle direction needs no pipe, so a direction takes
 * one when bytes arrive and gives it back as soon as it is empty again
 * (HAProxy does the same). At most `max` pipes exist at once, an eighth
 * of the descriptor limit; a few empty ones are kept for the next reader,
 * the rest closed. When none is left the caller copies through user space
 * instead (counted as twist_trt_splice_fallback_total).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "relay/trt_int.h"

#define PIPES_CAP  4096 /* whatever the descriptor limit */
#define PIPES_KEEP 64   /* empty pipes kept open for the next reader */

struct trt_pipes {
	unsigned used, max; /* pipes open: lent and kept */
	unsigned n_idle;
	int idle[PIPES_KEEP][2];
};

struct trt_pipes *trt_pipes_new(void)
{
	struct trt_pipes *pp = calloc(1, sizeof(*pp));
	struct rlimit rl;

	if (pp == NULL)
		return NULL;
	pp->max = 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 16 > pp->max)
		pp->max = (unsigned)(rl.rlim_cur / 16); /* two descriptors a pipe: an eighth */
	if (pp->max > PIPES_CAP)
		pp->max = PIPES_CAP;
	return pp;
}

void trt_pipes_free(struct trt_pipes *pp)
{
	if (pp == NULL)
		return;
	for (unsigned i = 0; i < pp->n_idle; i++) {
		close(pp->idle[i][0]);
		close(pp->idle[i][1]);
	}
	free(pp);
}

/* An empty pipe into fds: 0, or -EAGAIN when the pool is spent (or pipe2 failed). */
int trt_pipe_get(struct trt_pipes *pp, int fds[2])
{
	if (pp->n_idle > 0) {
		pp->n_idle--;
		fds[0] = pp->idle[pp->n_idle][0];
		fds[1] = pp->idle[pp->n_idle][1];
		return 0;
	}
	if (pp->used >= pp->max || pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -EAGAIN;
	pp->used++;
	return 0;
}

/* fds back to the pool; empty says whether it may be lent again. fds become -1. */
void trt_pipe_put(struct trt_pipes *pp, int fds[2], bool empty)
{
	if (fds[0] < 0)
		return;
	if (empty && pp->n_idle < PIPES_KEEP) {
		pp->idle[pp->n_idle][0] = fds[0];
		pp->idle[pp->n_idle][1] = fds[1];
		pp->n_idle++;
	} else {
		close(fds[0]);
		close(fds[1]);
		pp->used--;
	}
	fds[0] = fds[1] = -1;
}

unsigned trt_pipes_used(const struct trt_pipes *pp)
{
	return pp ? pp->used : 0;
}
