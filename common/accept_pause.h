/*
 * What a listener does when accept() fails, most often because the process
 * is out of descriptors. The listening socket stays readable, so libevent's
 * evconnlistener, left alone, retries in a busy loop and logs every failure
 * ("Error from accept() call"). accept_pause instead disables the listener
 * for ACCEPT_PAUSE_MS and logs once per ACCEPT_PAUSE_LOG_MS; waiting clients
 * stay in the kernel's backlog. Used by every listener the daemons open: the
 * relay's TCP/TLS/WebSocket ports, the metrics HTTP port, the control socket.
 */
#ifndef TWIST_COMMON_ACCEPT_PAUSE_H
#define TWIST_COMMON_ACCEPT_PAUSE_H

#include <event2/listener.h>

#define ACCEPT_PAUSE_MS     100
#define ACCEPT_PAUSE_LOG_MS 10000

/*
 * Called on each failure before the pause, with the errno value; may
 * accept() on the listener's descriptor itself (the relay refuses one
 * waiting client on a spare descriptor). NULL for none.
 */
typedef void (*accept_pause_fn)(struct evconnlistener *l, int err, void *arg);

struct accept_pause;

/* what names the listener in the log line ("metrics [::1]:9641"); copied. */
struct accept_pause *accept_pause_attach(struct evconnlistener *l, const char *what,
                                         accept_pause_fn on_error, void *arg);
/* Before the listener is freed. NULL is fine. */
void accept_pause_free(struct accept_pause *p);
/* Pauses so far (the relay's twist_tcp_accept_paused_total). */
unsigned long accept_pause_count(const struct accept_pause *p);

#endif
