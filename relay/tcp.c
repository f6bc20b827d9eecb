#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/stun.h"
#include "relay/alloc.h"
#include "common/log.h"
#include "relay/connlimit.h"
#include "relay/netaddr.h"
#include "relay/stream.h"
#include "relay/tcp.h"
#include "relay/tcp_int.h"
#include "relay/tls.h"
#include "relay/tcp_relay.h"
#include "relay/ws.h"

#define IDLE_NO_ALLOC_S 60 /* a connection with no allocation may idle this long */
/*
 * Before authentication the kernel holds at most this much unsent output
 * for the client (TCP_NOTSENT_LOWAT); without it the send buffer grows by
 * autotuning to hundreds of KiB for a client that never reads. 0 after
 * authentication gives back the system's default.
 */
#define NOTSENT_UNAUTH (16 << 10)
/* A closing connection's last words (an HTTP refusal, a close frame) get this long. */
#define LINGER_S 5

static const struct conn_ops tcp_ops, tls_ops;

static void set_idle_timeout(struct tcp_conn *tc, bool on)
{
	struct timeval tv = {IDLE_NO_ALLOC_S, 0};

	bufferevent_set_timeouts(tc->bev, on ? &tv : NULL, NULL);
}

static size_t out_max(const struct tcp_conn *tc)
{
	return tc->c.authed ? TCP_OUT_MAX : TCP_OUT_MAX_UNAUTH;
}

void tcp_conn_free(struct tcp_conn *tc)
{
	struct worker *w = tc->c.w;

	/* §3.1 (RFC 8656): closing the connection deletes its allocation. */
	if (tc->c.a) {
		STAT_INC(&w->st, allocs_deleted);
		alloc_delete(tc->c.a); /* calls back tcp_detach */
	}
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		w->tcp_conns = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	if (!tc->moved)
		connlimit_put(w->r->conns, &tc->c.client, tc->counted_authed);
	if (tc->deadline)
		event_free(tc->deadline);
	if (tc->bev)
		tls_bev_free(tc->bev);
	ws_conn_free(tc->ws, w);
	STAT_ADD(&w->st, tcp_conns, -1);
	free(tc);
}

void tcp_conn_close(struct tcp_conn *tc, enum conn_close why)
{
	STAT_INC(&tc->c.w->st, tcp_closed[why]);
	if (tc->handshaking)
		STAT_INC(&tc->c.w->st, tls_handshakes[TLSHS_INCOMPLETE]);
	if (log_enabled(LOG_LVL_DEBUG)) {
		char a[TW_ADDR_STRLEN];

		log_debug("%s %s closed (%s)", tc->c.ops->name,
		          tw_addr_fmt(&tc->c.client, a, sizeof(a)), stats_close_name(why));
	}
	tcp_conn_free(tc);
}

int tcp_conn_out(struct conn *c, const void *pre, size_t plen, const void *pkt, size_t len,
                 size_t pad)
{
	static const uint8_t zeros[4];
	struct tcp_conn *tc = (struct tcp_conn *)c;
	struct evbuffer *out = bufferevent_get_output(tc->bev);

	if (evbuffer_get_length(out) + plen + len + pad > out_max(tc))
		return -ENOBUFS;
	if ((plen && evbuffer_add(out, pre, plen) < 0) || evbuffer_add(out, pkt, len) < 0 ||
	    (pad && evbuffer_add(out, zeros, pad) < 0))
		return -ENOMEM;
	return 0;
}

static int tcp_send_data(struct conn *c, const uint8_t *pkt, size_t len, size_t pad)
{
	return tcp_conn_out(c, NULL, 0, pkt, len, pad);
}

static int tcp_send(struct conn *c, const void *buf, size_t len)
{
	return tcp_send_data(c, buf, len, 0);
}

struct conn *tcp_conn_attach(struct conn *c, struct allocation *a)
{
	c->a = a;
	set_idle_timeout((struct tcp_conn *)c, false);
	return c;
}

void tcp_conn_detach(struct conn *c)
{
	c->a = NULL;
	set_idle_timeout((struct tcp_conn *)c, true);
}

/*
 * Decision 8: the connection's state dies with its kernel; not replicated.
 * TLS is the same connection over another bufferevent; its allocations
 * are keyed as TCP ones, the transport of the 5-tuple (RFC 8656 §2).
 */
#define STREAM_OPS(n)                                                                        \
	{                                                                                    \
		.name = n, .transport = STUN_PROTO_TCP, .stream = true, .replicates = false, \
		.send = tcp_send, .send_data = tcp_send_data, .attach = tcp_conn_attach,     \
		.detach = tcp_conn_detach,                                                   \
	}
static const struct conn_ops tcp_ops = STREAM_OPS("tcp");
static const struct conn_ops tls_ops = STREAM_OPS("tls");

const struct conn_ops *tcp_conn_ops(void)
{
	return &tcp_ops;
}

bool tcp_conn_plain(const struct conn *c)
{
	return c->ops == &tcp_ops || c->ops == &tls_ops;
}

/* Arms the timer for the stream's deadline; true if it has already passed. */
static bool deadline_arm(struct tcp_conn *tc, enum conn_close *why)
{
	uint64_t at = stream_deadline(&tc->st, &tc->c, why), now = tc->c.w->now_ms;
	struct timeval tv;

	if (at && at <= now)
		return true;
	if (at == tc->deadline_ms)
		return false;
	tc->deadline_ms = at;
	if (!at) {
		evtimer_del(tc->deadline);
		return false;
	}
	tv.tv_sec = (time_t)((at - now) / 1000);
	tv.tv_usec = (suseconds_t)((at - now) % 1000 * 1000);
	evtimer_add(tc->deadline, &tv);
	return false;
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *tc = arg;
	enum conn_close why;

	(void)fd;
	(void)what;
	tc->c.w->now_ms = relay_now_ms();
	tc->deadline_ms = 0;
	if (deadline_arm(tc, &why))
		tcp_conn_close(tc, why);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *tc = arg;

	if (tc->linger) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			tcp_conn_close(tc, (enum conn_close)(tc->linger - 1));
		return;
	}
	/* Called once the output drained to the low-water mark set on pausing. */
	if (!tc->paused)
		return;
	tc->paused = false;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_READ);
}

/* A client that does not read its answers is not read either. */
static void maybe_pause(struct tcp_conn *tc)
{
	size_t max = out_max(tc);

	if (tc->paused || evbuffer_get_length(bufferevent_get_output(tc->bev)) <= max / 4)
		return;
	tc->paused = true;
	STAT_INC(&tc->c.w->st, tcp_read_paused);
	bufferevent_disable(tc->bev, EV_READ);
	bufferevent_setwatermark(tc->bev, EV_WRITE, max / 8, 0);
}

void tcp_set_notsent(struct tcp_conn *tc, int bytes)
{
	setsockopt(bufferevent_getfd(tc->bev), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes,
	           sizeof(bytes));
}

/* The first authenticated request on the connection: the looser caps apply. */
static void authenticated(struct tcp_conn *tc)
{
	connlimit_authed(tc->c.w->r->conns, &tc->c.client);
	tc->counted_authed = true;
	tcp_set_notsent(tc, 0);
}

/*
 * Closes once what is queued is written, within LINGER_S: a WebSocket
 * refusal or close frame must reach the client before the FIN.
 */
static void finish(struct tcp_conn *tc, enum conn_close why)
{
	struct timeval tv = {LINGER_S, 0};

	if (evbuffer_get_length(bufferevent_get_output(tc->bev)) == 0)
		return tcp_conn_close(tc, why);
	tc->linger = (int)why + 1;
	evtimer_del(tc->deadline);
	bufferevent_disable(tc->bev, EV_READ);
	bufferevent_setwatermark(tc->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(tc->bev, NULL, &tv);
}

/* Makes tc a WebSocket connection (ws, or wss over TLS); -1 out of memory. */
static int become_ws(struct tcp_conn *tc)
{
	tc->ws = ws_conn_new();
	if (!tc->ws)
		return -1;
	tc->c.ops = ws_conn_ops(tc->tls);
	tc->undecided = false;
	return 0;
}

/*
 * docs/websocket.md §3, a shared port: G (from GET) is HTTP, top bits 00
 * are STUN (RFC 7983 §7). Nothing else can start a TURN connection: no
 * channel is bound before the first Allocate, so not ChannelData.
 */
static int sniff(struct tcp_conn *tc, struct evbuffer *in)
{
	uint8_t b;

	if (evbuffer_copyout(in, &b, 1) != 1)
		return 0;
	if (b == 'G')
		return become_ws(tc) < 0 ? -CLOSE_WS_ERROR : 0;
	if (b & 0xc0)
		return -CLOSE_BAD_FRAME;
	tc->undecided = false;
	return 0;
}

void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *tc = arg;
	enum conn_close why;
	int rc;

	tc->c.w->now_ms = relay_now_ms();
	if (tc->undecided && (rc = sniff(tc, bufferevent_get_input(bev))) < 0)
		return tcp_conn_close(tc, (enum conn_close) - rc);
	if (tc->undecided)
		return;
	if (tc->ws) {
		rc = ws_conn_input(tc->ws, &tc->c, &tc->st, bufferevent_get_input(bev));
		if (rc < 0)
			return finish(tc, (enum conn_close) - rc);
	} else {
		rc = stream_input(&tc->st, &tc->c, bufferevent_get_input(bev));
		if (rc < 0)
			return tcp_conn_close(tc, (enum conn_close) - rc);
	}
	if (tc->c.tcpr_bind)
		return tcp_conn_handoff(tc);
	if (tc->c.tcpr_owner)
		return tcp_conn_hand_over(tc);
	if (tc->c.authed && !tc->counted_authed)
		authenticated(tc);
	if (deadline_arm(tc, &why))
		return tcp_conn_close(tc, why);
	maybe_pause(tc);
}

/* TLS: the handshake ended in an error; counted by why, then closed. */
static void handshake_failed(struct tcp_conn *tc)
{
	enum tls_hs why = tls_bev_failure(tc->bev);

	STAT_INC(&tc->c.w->st, tls_handshakes[why]);
	tc->handshaking = false;
	if (log_enabled(LOG_LVL_DEBUG)) {
		char a[TW_ADDR_STRLEN];

		log_debug("tls %s: handshake failed (%s)", tw_addr_fmt(&tc->c.client, a, sizeof(a)),
		          stats_tls_hs_name(why));
	}
}

/* docs/websocket.md §3, a shared TLS port: ALPN first; without it, sniff(). */
static int alpn_decides(struct tcp_conn *tc)
{
	switch (tls_bev_alpn(tc->bev)) {
	case TLS_ALPN_STUN:
		tc->undecided = false;
		return 0;
	case TLS_ALPN_HTTP:
		return become_ws(tc);
	case TLS_ALPN_NONE:
		return 0;
	}
	return 0;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *tc = arg;

	(void)bev;
	if ((what & BEV_EVENT_CONNECTED) && tc->handshaking) {
		tc->handshaking = false;
		STAT_INC(&tc->c.w->st, tls_handshakes[TLSHS_OK]);
		if (tc->undecided && alpn_decides(tc) < 0)
			return tcp_conn_close(tc, CLOSE_WS_ERROR);
	}
	if ((what & BEV_EVENT_ERROR) && tc->handshaking)
		handshake_failed(tc);
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		tc->c.w->now_ms = relay_now_ms();
		if (tc->linger)
			return tcp_conn_close(tc, (enum conn_close)(tc->linger - 1));
		tcp_conn_close(tc, what & BEV_EVENT_TIMEOUT ? CLOSE_IDLE : CLOSE_PEER);
	}
}

/* The ALPN protocols a TLS listener of this kind selects from. */
static unsigned kind_alpn(enum stream_kind kind)
{
	switch (kind) {
	case STREAM_TLS:
		return TLS_ALPN_STUN;
	case STREAM_WSS:
		return TLS_ALPN_HTTP;
	case STREAM_TLS_WSS:
		return TLS_ALPN_STUN | TLS_ALPN_HTTP;
	case STREAM_TCP:
	case STREAM_WS:
	case STREAM_TCP_WS:
		break;
	}
	return TLS_ALPN_NONE;
}

static bool kind_tls(enum stream_kind kind)
{
	return kind == STREAM_TLS || kind == STREAM_WSS || kind == STREAM_TLS_WSS;
}

static struct bufferevent *bev_new(struct worker *w, int fd, enum stream_kind kind,
                                   struct ssl_st *ssl)
{
	if (ssl)
		return tls_bev_adopt(w->base, fd, ssl);
	if (kind_tls(kind))
		return tls_bev_new(w->r->tls, w->base, fd, kind_alpn(kind));
	return bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
}

/*
 * A connection on fd, on w's loop; NULL (fd closed) if it cannot be had.
 * ssl: an established session another worker handed over with fd, or NULL.
 */
struct tcp_conn *tcp_conn_new(struct worker *w, int fd, const struct tw_addr *client,
                              enum stream_kind kind, struct ssl_st *ssl)
{
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	struct tcp_conn *tc;
	int one = 1;

	tc = calloc(1, sizeof(*tc));
	if (!tc || getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    tw_addr_from_sa((struct sockaddr *)&local, &tc->c.local) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto bad;
	tc->tls = kind_tls(kind);
	tc->c.ops = tc->tls ? &tls_ops : &tcp_ops; /* until a WebSocket is known */
	tc->c.w = w;
	tc->c.client = *client;
	tc->handshaking = tc->tls && !ssl;
	tc->undecided = kind == STREAM_TCP_WS || kind == STREAM_TLS_WSS;
	tc->bev = bev_new(w, fd, kind, ssl);
	ssl = NULL; /* the bufferevent's, or freed */
	tc->deadline = evtimer_new(w->base, deadline_cb, tc);
	if (!tc->bev || !tc->deadline ||
	    ((kind == STREAM_WS || kind == STREAM_WSS) && become_ws(tc) < 0)) {
		if (tc->bev)
			fd = -1; /* closed with the bufferevent */
		goto bad;
	}
	tc->next = w->tcp_conns;
	if (w->tcp_conns)
		w->tcp_conns->prev = tc;
	w->tcp_conns = tc;
	STAT_ADD(&w->st, tcp_conns, 1);
	stream_init(&tc->st, w->now_ms);
	tcp_set_notsent(tc, NOTSENT_UNAUTH);
	bufferevent_setcb(tc->bev, tcp_read_cb, write_cb, event_cb, tc);
	set_idle_timeout(tc, true);
	return tc;
bad:
	SSL_free(ssl); /* not yet the bufferevent's */
	if (tc) {
		if (tc->deadline)
			event_free(tc->deadline);
		if (tc->bev)
			tls_bev_free(tc->bev);
		ws_conn_free(tc->ws, w);
	}
	free(tc);
	if (fd >= 0)
		evutil_closesocket(fd);
	return NULL;
}

int tcp_conn_open(struct worker *w, int fd, const struct tw_addr *client, enum stream_kind kind)
{
	struct tcp_conn *tc = tcp_conn_new(w, fd, client, kind, NULL);
	enum conn_close why;

	if (!tc) {
		connlimit_put(w->r->conns, client, false);
		return -1;
	}
	STAT_INC(&w->st, tcp_conns_accepted);
	if (tc->tls)
		STAT_INC(&w->st, tls_conns_accepted);
	bufferevent_enable(tc->bev, EV_READ | EV_WRITE);
	deadline_arm(tc, &why);
	return 0;
}

void tcp_close_all(struct worker *w)
{
	while (w->tcp_conns)
		tcp_conn_free(w->tcp_conns);
	tcp_listen_close_all(w);
}
