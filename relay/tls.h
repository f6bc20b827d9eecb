/*
 * TURN over TLS (RFC 8656 §3.2): the server context and the bufferevent a
 * TLS client connection reads through. Everything above the bufferevent is
 * the TCP connection (relay/tcp.c): framing, caps, deadlines, backpressure
 * see only plaintext, so a later transport (wss) can stack on it too.
 *
 * One context for the process, swapped whole on SIGHUP: a connection keeps
 * the context it was accepted with (OpenSSL counts the references), new
 * ones take the new one. A certificate that fails to load on reload leaves
 * the old context in place.
 */
#ifndef TWIST_RELAY_TLS_H
#define TWIST_RELAY_TLS_H

#include <stddef.h>

#include "relay/config.h"
#include "relay/stats.h"

struct tls_server;
struct bufferevent;
struct ssl_st;
struct ssl_ctx_st;
struct event_base;

/* RFC 7443: the ALPN protocol ID of TURN over TLS. */
#define TLS_ALPN_TURN "stun.turn"

/*
 * Loads tls.cert and tls.key, or with neither generates a throwaway
 * self-signed certificate for the listen addresses. NULL with err set.
 */
struct tls_server *tls_server_new(const struct config *cfg, char *err, size_t errlen);
void tls_server_free(struct tls_server *t);
/* Builds a new context from cfg and swaps it in; -1 with err, the old kept. */
int tls_server_reload(struct tls_server *t, const struct config *cfg, char *err, size_t errlen);

/*
 * ALPN protocols (RFC 7301) as a set: what a listener may select, and
 * what a handshake selected. With both, stun.turn is preferred
 * (docs/websocket.md §3); h2 is never selected.
 */
enum tls_alpn {
	TLS_ALPN_NONE = 0,
	TLS_ALPN_STUN = 1, /* stun.turn: TURN over TLS */
	TLS_ALPN_HTTP = 2, /* http/1.1: WebSocket (wss) */
};

/*
 * A server-side TLS bufferevent over the accepted socket fd (freed with
 * tls_bev_free, which closes it), that selects from `alpn` (a set of enum tls_alpn); NULL on
 * failure (fd is then still the caller's). Thread-safe.
 */
struct bufferevent *tls_bev_new(struct tls_server *t, struct event_base *base, int fd,
                                unsigned alpn);
/*
 * Frees a bufferevent tls_bev_new or tls_bev_adopt made, its session and
 * its socket; or any other socket bufferevent (it closes its own socket).
 */
void tls_bev_free(struct bufferevent *bev);
/*
 * Frees bev but keeps its established session and socket (into *fd) for
 * another worker's loop: tls_bev_adopt there, or SSL_free and close.
 */
struct ssl_st *tls_bev_release(struct bufferevent *bev, int *fd);
/* A bufferevent over fd continuing a released session; NULL (ssl freed, fd still the caller's). */
struct bufferevent *tls_bev_adopt(struct event_base *base, int fd, struct ssl_st *ssl);
/* The protocol selected by ALPN on bev, once its handshake is done. */
enum tls_alpn tls_bev_alpn(struct bufferevent *bev);
/* Why the handshake on bev failed, after a BEV_EVENT_ERROR. */
enum tls_hs tls_bev_failure(struct bufferevent *bev);
/* What OpenSSL error e says of a failed handshake; why if nothing more. */
enum tls_hs tls_error_reason(unsigned long e, enum tls_hs why);

/*
 * DTLS (relay/dtls.c): a context with the same certificate and suites,
 * DTLS 1.2 only, swapped with the TLS one on SIGHUP. setup (the cookie
 * callbacks) is applied to it now and to every context a reload builds.
 */
void tls_server_dtls_setup(struct tls_server *t, void (*setup)(struct ssl_ctx_st *ctx));
/* A server-side DTLS session object; NULL when out of memory. Thread-safe. */
struct ssl_st *tls_server_dtls_new(struct tls_server *t);

#endif
