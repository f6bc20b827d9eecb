/*
 * The control socket: a Unix stream socket on the main thread's event loop,
 * through which twistctl asks for a user database reload and waits for it.
 * Line protocol in relay/control_parse.h and docs/operations.md.
 */
#ifndef TWIST_RELAY_CONTROL_H
#define TWIST_RELAY_CONTROL_H

struct control;
struct event_base;
struct relay;

/*
 * Listens on path (mode 0660). A live socket already there (another relay)
 * is an error; a stale one is replaced. NULL on error, logged.
 */
struct control *control_new(struct relay *r, struct event_base *base, const char *path);
/* Removes the socket file and closes every connection. */
void control_free(struct control *c);
/* The user database loader finished a load: answer whoever waits for one. */
void control_reload_done(void *arg);

#endif
