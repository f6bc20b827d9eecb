/*
 * The link to the peer twist-syncd: one nanomsg PAIR socket over tcp. The
 * node with the lower node id binds, the other connects, so there is only
 * ever one connection (PAIR takes one pipe). nanomsg reconnects by itself
 * and silently loses what was in flight; session.c makes that harmless.
 */
#ifndef TWIST_SYNCD_LINK_H
#define TWIST_SYNCD_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct link;

struct link_ops {
	void (*input)(void *arg, const uint8_t *buf, size_t len);
	void (*drained)(void *arg);  /* after a burst of input */
	void (*writable)(void *arg); /* after an EAGAIN, sending is possible again */
	void *arg;
};

/* Binds url when bind, else connects to it. NULL on failure (logged). */
struct link *link_open(struct event_base *base, const char *url, bool bind,
                       const struct link_ops *ops);
void link_close(struct link *l);
/* 0, -EAGAIN when nanomsg cannot take it now, or another -errno. */
int link_send(struct link *l, const uint8_t *buf, size_t len);
void link_want_write(struct link *l, bool on);

#endif
