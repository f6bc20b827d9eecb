#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "proto/stun.h"
#include "relay/alloc.h"
#include "relay/connlimit.h"
#include "relay/dataplane.h"
#include "relay/dtls.h"
#include "relay/netaddr.h"
#include "relay/tls.h"
#include "relay/turn.h"

#define DTLS_BUCKETS   1024 /* per worker; chains grow past it, lookups stay cheap */
#define RX_PER_WAKEUP  64   /* datagrams read per wake-up, so one port cannot starve the rest */
#define COOKIE_LEN     16   /* truncated HMAC-SHA256: a forgery is a 2^-128 guess */
#define COOKIE_EPOCH_S 60   /* a cookie is good for one to two epochs */
#define DTLS_REC_HDR   13   /* RFC 6347 §4.1 */
#define DTLS_HS_HDR    12   /* RFC 6347 §4.2.2 */

/*
 * The datagram shim between OpenSSL and the listener socket. Reads hand
 * over the one datagram being processed; writes go out at once to the
 * client, one datagram each, as DTLS wants them (a memory BIO would
 * merge them).
 */
struct dtls_io {
	struct worker *w;
	int fd;
	struct tw_addr peer;
	const uint8_t *in; /* the datagram not yet read, or NULL */
	size_t inlen;
	unsigned sent; /* datagrams written */
	size_t sent_bytes;
};

struct dtls_listener {
	struct worker *w;
	int fd;
	struct event *ev;
	struct tw_addr addr;
};

struct dtls_sess {
	struct conn c;
	struct dtls_io io;
	SSL *ssl;
	bool handshaking;
	bool counted_authed;    /* connlimit knows it authenticated */
	uint64_t deadline_ms;   /* handshake deadline, then last datagram + DTLS_IDLE_S */
	struct dtls_sess *next; /* bucket chain */
};

struct dtls_worker {
	struct dtls_listener lst[CFG_MAX_LISTEN];
	unsigned n_lst;
	struct dtls_sess *bucket[DTLS_BUCKETS];
	uint32_t seed;
	uint8_t pt[RX_HEADROOM + RX_BUFSZ]; /* plaintext of one record */
	uint8_t ct[RX_BUFSZ];               /* one datagram read */
};

static const struct conn_ops dtls_ops;

/* -- the BIO ------------------------------------------------------------ */

static BIO_METHOD *bio_method;
static uint8_t cookie_key[32];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *buf, int len)
{
	struct dtls_io *io = BIO_get_data(b);

	/* A datagram the kernel will not take is lost, as on the wire: DTLS
	 * retransmits the handshake, and TURN data is unreliable anyway. */
	(void)tx_now(io->w, io->fd, &io->peer, buf, (size_t)len);
	io->sent++;
	io->sent_bytes += (size_t)len;
	return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct dtls_io *io = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (!io->in) {
		BIO_set_retry_read(b);
		return -1;
	}
	n = io->inlen < (size_t)len ? io->inlen : (size_t)len;
	memcpy(buf, io->in, n);
	io->in = NULL;
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return 48; /* IPv6 and UDP headers: the larger, so records fit either */
	default:
		return 0; /* no MTU query, no peer address, nothing pending */
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* -- cookies (RFC 6347 §4.2.1) ----------------------------------------- */

static void once_init(void)
{
	bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "twist-dtls");
	if (bio_method) {
		BIO_meth_set_write(bio_method, bio_write);
		BIO_meth_set_read(bio_method, bio_read);
		BIO_meth_set_ctrl(bio_method, bio_ctrl);
		BIO_meth_set_create(bio_method, bio_create);
	}
	if (getrandom(cookie_key, sizeof(cookie_key), 0) != sizeof(cookie_key))
		RAND_bytes(cookie_key, sizeof(cookie_key));
}

/* HMAC over the client's address and port and the epoch: no state per client. */
static void cookie_make(const struct tw_addr *peer, uint64_t epoch, uint8_t out[COOKIE_LEN])
{
	uint8_t msg[1 + 16 + 2 + 8], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	msg[0] = peer->family;
	memcpy(msg + 1, peer->ip, 16);
	msg[17] = (uint8_t)(peer->port >> 8);
	msg[18] = (uint8_t)peer->port;
	for (int i = 0; i < 8; i++)
		msg[19 + i] = (uint8_t)(epoch >> (56 - 8 * i));
	HMAC(EVP_sha256(), cookie_key, sizeof(cookie_key), msg, sizeof(msg), md, &mdlen);
	memcpy(out, md, COOKIE_LEN);
}

static uint64_t cookie_epoch(const struct dtls_io *io)
{
	return io->w->now_ms / (COOKIE_EPOCH_S * 1000);
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	const struct dtls_io *io = SSL_get_app_data(ssl);

	cookie_make(&io->peer, cookie_epoch(io), cookie);
	*len = COOKIE_LEN;
	return 1;
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
	const struct dtls_io *io = SSL_get_app_data(ssl);
	uint64_t epoch = cookie_epoch(io);
	uint8_t want[COOKIE_LEN];

	if (len != COOKIE_LEN)
		return 0;
	for (int back = 0; back < 2 && back <= (int)epoch; back++) {
		cookie_make(&io->peer, epoch - (uint64_t)back, want);
		if (CRYPTO_memcmp(want, cookie, COOKIE_LEN) == 0)
			return 1;
	}
	return 0;
}

static void ctx_setup(SSL_CTX *ctx)
{
	SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
	SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
}

/* -- sessions ------------------------------------------------------------ */

static struct dtls_sess **bucket_of(struct dtls_worker *dw, const struct tw_addr *client)
{
	return &dw->bucket[tw_addr_hash(client, dw->seed) % DTLS_BUCKETS];
}

static struct dtls_sess *sess_find(struct dtls_worker *dw, int fd, const struct tw_addr *client)
{
	for (struct dtls_sess *s = *bucket_of(dw, client); s; s = s->next)
		if (s->io.fd == fd && tw_addr_eq(&s->c.client, client))
			return s;
	return NULL;
}

static void sess_free(struct dtls_sess *s, bool notify)
{
	struct worker *w = s->c.w;
	struct dtls_sess **pp = bucket_of(w->dtlsw, &s->c.client);

	/* Like a TCP connection (RFC 8656 §3.1), the session owns its allocation. */
	if (s->c.a) {
		STAT_INC(&w->st, allocs_deleted);
		alloc_delete(s->c.a); /* calls back dtls_detach */
	}
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	if (s->handshaking)
		STAT_INC(&w->st, dtls_handshakes[TLSHS_INCOMPLETE]);
	else if (notify)
		SSL_shutdown(s->ssl); /* close_notify: the client need not wait for its timeout */
	connlimit_put(w->r->conns, &s->c.client, s->counted_authed);
	SSL_free(s->ssl);
	ERR_clear_error();
	STAT_ADD(&w->st, dtls_sessions, -1);
	free(s);
}

static void sess_failed(struct dtls_sess *s, unsigned long e)
{
	enum tls_hs why = tls_error_reason(e, TLSHS_OTHER);
	char a[TW_ADDR_STRLEN];

	STAT_INC(&s->c.w->st, dtls_handshakes[why]);
	s->handshaking = false;
	log_debug("dtls %s: handshake failed (%s)", tw_addr_fmt(&s->c.client, a, sizeof(a)),
	          stats_tls_hs_name(why));
	sess_free(s, false);
}

/* Plaintext records to the TURN core; false once s is gone. */
static bool sess_read(struct dtls_sess *s)
{
	struct dtls_worker *dw = s->c.w->dtlsw;
	uint8_t *pt = dw->pt + RX_HEADROOM;

	for (int i = 0; i < RX_PER_WAKEUP; i++) {
		int n = SSL_read(s->ssl, pt, RX_BUFSZ), err;

		if (n > 0) {
			turn_client_input(s->c.w, &s->c, pt, (size_t)n);
			/* Sends queued to peers point into pt, which the next
			 * record overwrites: out they go now. */
			tx_flush(s->c.w);
			if (s->c.authed && !s->counted_authed) {
				connlimit_authed(s->c.w->r->conns, &s->c.client);
				s->counted_authed = true;
			}
			continue;
		}
		err = SSL_get_error(s->ssl, n);
		if (err == SSL_ERROR_WANT_READ)
			break;
		sess_free(s, false); /* close_notify, or a fatal alert */
		return false;
	}
	ERR_clear_error();
	return true;
}

static void sess_input(struct dtls_sess *s, const uint8_t *buf, size_t len)
{
	int rc;

	s->io.in = buf;
	s->io.inlen = len;
	if (s->handshaking) {
		rc = SSL_do_handshake(s->ssl);
		if (rc <= 0) {
			if (SSL_get_error(s->ssl, rc) != SSL_ERROR_WANT_READ)
				sess_failed(s, ERR_peek_last_error());
			else
				ERR_clear_error();
			return;
		}
		s->handshaking = false;
		STAT_INC(&s->c.w->st, dtls_handshakes[TLSHS_OK]);
	}
	s->deadline_ms = s->c.w->now_ms + DTLS_IDLE_S * 1000;
	sess_read(s);
}

/* The cookie came back: the client receives at its address. */
static void sess_new(struct dtls_listener *l, SSL *ssl, const struct dtls_io *io)
{
	struct worker *w = l->w;
	struct dtls_sess *s, **pp;

	/* The stream connection caps (limits.tcp_*) count DTLS sessions too. */
	if (connlimit_take(w->r->conns, &io->peer) != CONNLIMIT_OK)
		s = NULL;
	else if (!(s = calloc(1, sizeof(*s))))
		connlimit_put(w->r->conns, &io->peer, false);
	if (!s) {
		STAT_INC(&w->st, dtls_refused);
		SSL_free(ssl);
		return;
	}
	s->c = (struct conn){.ops = &dtls_ops, .w = w, .client = io->peer, .local = l->addr};
	s->io = *io;
	s->ssl = ssl;
	s->handshaking = true;
	s->deadline_ms = w->now_ms + DTLS_HANDSHAKE_S * 1000;
	BIO_set_data(SSL_get_rbio(ssl), &s->io);
	SSL_set_app_data(ssl, &s->io);
	pp = bucket_of(w->dtlsw, &s->c.client);
	s->next = *pp;
	*pp = s;
	STAT_ADD(&w->st, dtls_sessions, 1);
	sess_input(s, NULL, 0); /* the ClientHello that DTLSv1_listen kept */
}

/* -- the listener ---------------------------------------------------------- */

/* Cheap before crypto: a DTLS handshake record carrying a ClientHello. */
static bool looks_like_client_hello(const uint8_t *buf, size_t len)
{
	return len >= DTLS_REC_HDR + DTLS_HS_HDR && buf[0] == 22 /* handshake */ &&
	       buf[1] == 0xfe /* DTLS 1.x */ && buf[DTLS_REC_HDR] == 1 /* client_hello */;
}

/*
 * An unknown source: DTLSv1_listen answers a ClientHello without a valid
 * cookie with a HelloVerifyRequest and keeps nothing; with one, the SSL
 * object becomes the session.
 */
static void listen_input(struct dtls_listener *l, const struct tw_addr *src, const uint8_t *buf,
                         size_t len)
{
	struct worker *w = l->w;
	struct dtls_io io = {.w = w, .fd = l->fd, .peer = *src, .in = buf, .inlen = len};
	BIO_ADDR *peer = NULL;
	SSL *ssl = NULL;
	BIO *bio = NULL;
	int rc = -1;

	if (!looks_like_client_hello(buf, len)) {
		STAT_INC(&w->st, dtls_garbage);
		return;
	}
	ssl = tls_server_dtls_new(w->r->tls);
	bio = bio_method ? BIO_new(bio_method) : NULL;
	peer = BIO_ADDR_new();
	if (!ssl || !bio || !peer)
		goto done;
	BIO_set_data(bio, &io);
	SSL_set_bio(ssl, bio, bio); /* ssl owns bio from here */
	bio = NULL;
	SSL_set_app_data(ssl, &io);
	SSL_set_options(ssl, SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_QUERY_MTU);
	DTLS_set_link_mtu(ssl, DTLS_MTU);
	rc = DTLSv1_listen(ssl, peer);
	if (rc <= 0 && io.sent)
		STAT_INC(&w->st, dtls_cookies);
	else if (rc <= 0)
		STAT_INC(&w->st, dtls_garbage);
done:
	BIO_ADDR_free(peer);
	BIO_free(bio);
	ERR_clear_error();
	if (rc > 0)
		sess_new(l, ssl, &io);
	else
		SSL_free(ssl);
}

static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dtls_listener *l = arg;
	struct dtls_worker *dw = l->w->dtlsw;

	(void)what;
	l->w->now_ms = relay_now_ms();
	for (int i = 0; i < RX_PER_WAKEUP; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, dw->ct, sizeof(dw->ct), MSG_DONTWAIT | MSG_TRUNC,
		                     (struct sockaddr *)&ss, &sl);
		struct tw_addr src;
		struct dtls_sess *s;

		if (n < 0)
			break;
		if ((size_t)n > sizeof(dw->ct)) {
			STAT_INC(&l->w->st, drops[DROP_OVERSIZE]);
			continue;
		}
		if (tw_addr_from_sa((struct sockaddr *)&ss, &src) < 0)
			continue;
		s = sess_find(dw, fd, &src);
		if (s)
			sess_input(s, dw->ct, (size_t)n);
		else
			listen_input(l, &src, dw->ct, (size_t)n);
	}
	tx_flush(l->w);
}

static struct dtls_worker *dtls_worker_get(struct worker *w)
{
	if (!w->dtlsw) {
		w->dtlsw = calloc(1, sizeof(*w->dtlsw));
		if (!w->dtlsw)
			return NULL;
		w->dtlsw->seed = w->r->seed ^ 0x64746c73u ^ w->id;
	}
	return w->dtlsw;
}

int dtls_listen(struct worker *w, const struct tw_addr *addr)
{
	struct dtls_worker *dw;
	struct dtls_listener *l;
	int fd, one = 1;

	pthread_once(&once, once_init);
	if (!bio_method || !w->r->tls)
		return -ENOMEM;
	tls_server_dtls_setup(w->r->tls, ctx_setup);
	dw = dtls_worker_get(w);
	if (!dw)
		return -ENOMEM;
	if (dw->n_lst == CFG_MAX_LISTEN)
		return -ENOSPC;
	fd = netaddr_socket(addr, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return netaddr_close_err(fd);
	fd = netaddr_bind(fd, addr, false);
	if (fd < 0)
		return fd;
	l = &dw->lst[dw->n_lst];
	*l = (struct dtls_listener){.w = w, .fd = fd, .addr = *addr};
	l->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, listener_cb, l);
	if (!l->ev || event_add(l->ev, NULL) < 0) {
		if (l->ev)
			event_free(l->ev);
		close(fd);
		return -ENOMEM;
	}
	dw->n_lst++;
	return 0;
}

void dtls_sweep(struct worker *w)
{
	struct dtls_worker *dw = w->dtlsw;

	if (!dw)
		return;
	for (unsigned b = 0; b < DTLS_BUCKETS; b++) {
		struct dtls_sess *s = dw->bucket[b], *next;

		for (; s; s = next) {
			next = s->next;
			/* An allocation keeps its session: its lifetime is the idle bound. */
			if (w->now_ms >= s->deadline_ms && (s->handshaking || !s->c.a))
				sess_free(s, true);
			else if (s->handshaking && DTLSv1_handle_timeout(s->ssl) < 0)
				sess_failed(s, ERR_peek_last_error());
		}
	}
	tx_flush(w);
}

void dtls_close_all(struct worker *w)
{
	struct dtls_worker *dw = w->dtlsw;

	if (!dw)
		return;
	for (unsigned b = 0; b < DTLS_BUCKETS; b++)
		while (dw->bucket[b])
			sess_free(dw->bucket[b], true);
	for (unsigned i = 0; i < dw->n_lst; i++) {
		event_free(dw->lst[i].ev);
		close(dw->lst[i].fd);
	}
	free(dw);
	w->dtlsw = NULL;
}

/* -- the conn ops ------------------------------------------------------------ */

static int dtls_send(struct conn *c, const void *buf, size_t len)
{
	struct dtls_sess *s = (struct dtls_sess *)c;
	int rc;

	if (s->handshaking)
		return -ENOTCONN;
	rc = SSL_write(s->ssl, buf, (int)len);
	ERR_clear_error();
	return rc > 0 ? 0 : -EIO;
}

static int dtls_send_data(struct conn *c, const uint8_t *pkt, size_t len, size_t pad)
{
	(void)pad; /* datagrams carry ChannelData unpadded (RFC 8656 §12.5) */
	return dtls_send(c, pkt, len);
}

static struct conn *dtls_attach(struct conn *c, struct allocation *a)
{
	c->a = a;
	return c;
}

static void dtls_detach(struct conn *c)
{
	struct dtls_sess *s = (struct dtls_sess *)c;

	c->a = NULL;
	s->deadline_ms = c->w->now_ms + DTLS_IDLE_S * 1000;
}

/*
 * Decision 8: the session's keys live in this process only, so its
 * allocation is not replicated. The 5-tuple's transport is UDP (RFC 8656 §2).
 */
static const struct conn_ops dtls_ops = {
        .name = "dtls",
        .transport = STUN_PROTO_UDP,
        .stream = false,
        .replicates = false,
        .send = dtls_send,
        .send_data = dtls_send_data,
        .attach = dtls_attach,
        .detach = dtls_detach,
};
