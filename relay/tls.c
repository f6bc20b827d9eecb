#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "relay/tls.h"
#include "relay/tls_selfsigned.h"

/*
 * TLS 1.2 suites with forward secrecy and an AEAD only (RFC 7525 §4.2);
 * TLS 1.3 has nothing else, and its suites are OpenSSL's defaults.
 */
#define TLS12_CIPHERS                                                \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_server {
	pthread_mutex_t mu; /* guards both: workers take them at accept, SIGHUP swaps them */
	SSL_CTX *ctx;
	SSL_CTX *dtls;                    /* DTLS (relay/dtls.c): the same certificate and suites */
	void (*dtls_setup)(SSL_CTX *ctx); /* dtls.c's cookie callbacks, set on each new one */
};

/* The first OpenSSL error queued, as text, and the queue emptied. */
static void ssl_err(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s%s%s%s%s", what, path ? " " : "", path ? path : "",
	         buf[0] ? ": " : "", buf);
}

/* Server preference lists in ALPN wire format, indexed by a set of enum tls_alpn. */
#define WIRE_STUN "\x09" TLS_ALPN_TURN
#define WIRE_HTTP "\x08http/1.1"
#define LIST(s)                                           \
	{                                                 \
		(const unsigned char *)(s), sizeof(s) - 1 \
	}
static const struct {
	const unsigned char *p;
	unsigned len;
} alpn_lists[] = {
        [TLS_ALPN_NONE] = LIST(""),
        [TLS_ALPN_STUN] = LIST(WIRE_STUN),
        [TLS_ALPN_HTTP] = LIST(WIRE_HTTP),
        [TLS_ALPN_STUN | TLS_ALPN_HTTP] = LIST(WIRE_STUN WIRE_HTTP),
};

/*
 * RFC 7443: stun.turn if the client offers it; on a wss listener
 * http/1.1 too (the set is the SSL's app data). A client offering ALPN
 * without any of them is not refused: the handshake goes on with no
 * protocol chosen, as RFC 7301 §3.2 allows, and the first bytes decide
 * the rest.
 */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	uintptr_t set = (uintptr_t)SSL_get_app_data(ssl);
	unsigned char *sel;

	(void)arg;
	if (set >= sizeof(alpn_lists) / sizeof(alpn_lists[0]) || !alpn_lists[set].len ||
	    SSL_select_next_proto(&sel, outlen, alpn_lists[set].p, alpn_lists[set].len, in,
	                          inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int ctx_settings(SSL_CTX *ctx, const struct config *cfg, bool dgram, char *err,
                        size_t errlen)
{
	int min = strcmp(cfg->tls_min_version, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;

	/* DTLS 1.3 is not in OpenSSL 3.0: 1.2 is both the floor and the top. */
	if (dgram)
		min = DTLS1_2_VERSION;
	const char *ciphers = cfg->tls_ciphers[0] ? cfg->tls_ciphers : TLS12_CIPHERS;

	/* Below the minimum OpenSSL answers with a protocol_version alert. */
	if (!SSL_CTX_set_min_proto_version(ctx, min)) {
		ssl_err(err, errlen, "tls.min_version", NULL);
		return -1;
	}
	if (!SSL_CTX_set_cipher_list(ctx, ciphers)) {
		ssl_err(err, errlen, "tls.ciphers: no usable cipher in", ciphers);
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                                 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return 0;
}

static int ctx_load(SSL_CTX *ctx, const struct config *cfg, char *err, size_t errlen)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		ssl_err(err, errlen, "tls.cert: cannot load", cfg->tls_cert);
		return -1;
	}
	/* OpenSSL compares the key with the certificate as it loads it. */
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			ssl_err(err, errlen, "tls.key does not match tls.cert", cfg->tls_cert);
		else
			ssl_err(err, errlen, "tls.key: cannot load", cfg->tls_key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(err, errlen, "tls.key does not match tls.cert", cfg->tls_cert);
		return -1;
	}
	return 0;
}

static int ctx_selfsigned(SSL_CTX *ctx, const struct config *cfg, char *err, size_t errlen)
{
	X509 *crt = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if (tls_selfsigned(cfg, &crt, &key) < 0) {
		ssl_err(err, errlen, "tls: cannot generate a self-signed certificate", NULL);
		return -1;
	}
	if (SSL_CTX_use_certificate(ctx, crt) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1)
		rc = 0;
	else
		ssl_err(err, errlen, "tls: self-signed certificate refused", NULL);
	X509_free(crt);
	EVP_PKEY_free(key);
	return rc;
}

/* The DTLS context serves the TLS one's throwaway certificate, not one of its own. */
static int ctx_copy_cert(SSL_CTX *ctx, SSL_CTX *from, char *err, size_t errlen)
{
	X509 *crt = SSL_CTX_get0_certificate(from);
	EVP_PKEY *key = SSL_CTX_get0_privatekey(from);

	if (crt && key && SSL_CTX_use_certificate(ctx, crt) == 1 &&
	    SSL_CTX_use_PrivateKey(ctx, key) == 1)
		return 0;
	ssl_err(err, errlen, "dtls: self-signed certificate refused", NULL);
	return -1;
}

/* tls_ctx: the stream context whose self-signed certificate DTLS shares. */
static SSL_CTX *ctx_new(const struct config *cfg, SSL_CTX *tls_ctx, char *err, size_t errlen)
{
	bool dgram = tls_ctx != NULL;
	SSL_CTX *ctx = SSL_CTX_new(dgram ? DTLS_server_method() : TLS_server_method());
	int rc;

	if (!ctx) {
		ssl_err(err, errlen, "tls: no context", NULL);
		return NULL;
	}
	rc = ctx_settings(ctx, cfg, dgram, err, errlen);
	if (rc == 0 && cfg->tls_cert[0])
		rc = ctx_load(ctx, cfg, err, errlen);
	else if (rc == 0)
		rc = dgram ? ctx_copy_cert(ctx, tls_ctx, err, errlen)
		           : ctx_selfsigned(ctx, cfg, err, errlen);
	if (rc < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_server *tls_server_new(const struct config *cfg, char *err, size_t errlen)
{
	struct tls_server *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "tls: out of memory");
		return NULL;
	}
	t->ctx = ctx_new(cfg, NULL, err, errlen);
	if (t->ctx)
		t->dtls = ctx_new(cfg, t->ctx, err, errlen);
	if (!t->ctx || !t->dtls) {
		SSL_CTX_free(t->ctx);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	if (!cfg->tls_cert[0])
		log_warn("tls: no tls.cert; serving a THROWAWAY SELF-SIGNED certificate made at "
		         "start (clients that verify will refuse it; set tls.cert and tls.key)");
	return t;
}

void tls_server_free(struct tls_server *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	SSL_CTX_free(t->dtls);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int tls_server_reload(struct tls_server *t, const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx, *dtls, *old, *old_dtls;

	/* A throwaway certificate is kept: clients may have pinned it. */
	if (!cfg->tls_cert[0]) {
		err[0] = '\0';
		return 0;
	}
	ctx = ctx_new(cfg, NULL, err, errlen);
	if (!ctx)
		return -1;
	dtls = ctx_new(cfg, ctx, err, errlen);
	if (!dtls) {
		SSL_CTX_free(ctx);
		return -1;
	}
	pthread_mutex_lock(&t->mu);
	if (t->dtls_setup)
		t->dtls_setup(dtls);
	old = t->ctx;
	old_dtls = t->dtls;
	t->ctx = ctx;
	t->dtls = dtls;
	pthread_mutex_unlock(&t->mu);
	SSL_CTX_free(old); /* live connections hold their own reference */
	SSL_CTX_free(old_dtls);
	return 0;
}

void tls_server_dtls_setup(struct tls_server *t, void (*setup)(SSL_CTX *ctx))
{
	pthread_mutex_lock(&t->mu);
	if (!t->dtls_setup)
		setup(t->dtls);
	t->dtls_setup = setup;
	pthread_mutex_unlock(&t->mu);
}

SSL *tls_server_dtls_new(struct tls_server *t)
{
	SSL *ssl;

	pthread_mutex_lock(&t->mu);
	ssl = SSL_new(t->dtls);
	pthread_mutex_unlock(&t->mu);
	return ssl;
}

/*
 * The bufferevent does not own the session or the socket (no
 * BEV_OPT_CLOSE_ON_FREE): libevent finalizes a freed bufferevent later in
 * its loop, and a session handed to another worker (tls_bev_release) must
 * not be touched by this one after the handover. tls_bev_free() frees both.
 */
static struct bufferevent *bev_over(struct event_base *base, int fd, SSL *ssl,
                                    enum bufferevent_ssl_state state)
{
	struct bufferevent *bev;

	bev = bufferevent_openssl_socket_new(base, fd, ssl, state, 0);
	if (!bev) {
		SSL_free(ssl); /* libevent 2.1 leaves it to the caller on failure */
		return NULL;
	}
	/* A client that closes without close_notify has still closed (EOF). */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

struct bufferevent *tls_bev_new(struct tls_server *t, struct event_base *base, int fd,
                                unsigned alpn)
{
	SSL *ssl;

	pthread_mutex_lock(&t->mu);
	ssl = SSL_new(t->ctx);
	pthread_mutex_unlock(&t->mu);
	if (!ssl)
		return NULL;
	SSL_set_app_data(ssl, (void *)(uintptr_t)alpn);
	return bev_over(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING);
}

struct ssl_st *tls_bev_release(struct bufferevent *bev, int *fd)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	*fd = bufferevent_getfd(bev);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	bufferevent_free(bev);
	return ssl;
}

struct bufferevent *tls_bev_adopt(struct event_base *base, int fd, struct ssl_st *ssl)
{
	return bev_over(base, fd, ssl, BUFFEREVENT_SSL_OPEN);
}

void tls_bev_free(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	int fd = bufferevent_getfd(bev);

	bufferevent_free(bev);
	if (!ssl)
		return; /* a plain socket bufferevent: it closed its own */
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
}

enum tls_alpn tls_bev_alpn(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const unsigned char *p = NULL;
	unsigned int len = 0;

	if (ssl)
		SSL_get0_alpn_selected(ssl, &p, &len);
	if (len == sizeof(TLS_ALPN_TURN) - 1 && memcmp(p, TLS_ALPN_TURN, len) == 0)
		return TLS_ALPN_STUN;
	if (len == sizeof(WIRE_HTTP) - 2 && memcmp(p, &WIRE_HTTP[1], len) == 0)
		return TLS_ALPN_HTTP;
	return TLS_ALPN_NONE;
}

enum tls_hs tls_error_reason(unsigned long e, enum tls_hs why)
{
	switch (ERR_GET_REASON(e)) {
	/* Not SSL_R_WRONG_VERSION_NUMBER: that is a record that is not
	 * TLS at all (a plain STUN client on this port), "other". */
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
		return TLSHS_VERSION;
	case SSL_R_NO_SHARED_CIPHER:
		return TLSHS_NO_CIPHER;
	}
	return why;
}

enum tls_hs tls_bev_failure(struct bufferevent *bev)
{
	enum tls_hs why = TLSHS_OTHER;
	unsigned long e;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		why = tls_error_reason(e, why);
	return why;
}
