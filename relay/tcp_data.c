/*
 * RFC 6062 data connections on the stream side: which connections may
 * bind, the hand-off of a bound connection to its peer pipe
 * (relay/tcp_relay.c), and the move of an unbound one to the worker that
 * owns its CONNECTION-ID (relay/tcp_handover.c carries it), with its TLS
 * session and WebSocket state when it has them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "relay/connlimit.h"
#include "relay/tcp_handover.h"
#include "relay/tcp_int.h"
#include "relay/tcp_relay.h"
#include "relay/tls.h"
#include "relay/ws.h"

int tcp_conn_bindable(const struct conn *c)
{
	const struct tcp_conn *tc = (const struct tcp_conn *)c;

	if (tcp_conn_plain(c))
		return tc->ws ? -EOPNOTSUPP : 0;
	if (c->ops == ws_conn_ops(false) || c->ops == ws_conn_ops(true))
		return tc->ws && ws_conn_open(tc->ws) ? 0 : -EOPNOTSUPP;
	return -EOPNOTSUPP;
}

/*
 * RFC 6062 §5.4: after ConnectionBind's answer the connection is a data
 * connection: the relay reads no more frames from it, its bufferevent
 * (with the answer queued and any bytes behind it) goes to the peer pipe,
 * and a WebSocket's framing state with it.
 */
void tcp_conn_handoff(struct tcp_conn *tc)
{
	struct bufferevent *bev = tc->bev;
	struct ws_conn *ws = tc->ws;

	tcp_set_notsent(tc, 0);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	tc->bev = NULL;
	tc->ws = NULL;
	STAT_INC(&tc->c.w->st, tcpr_bound);
	tcp_relay_take(tc->c.tcpr_bind, bev, ws);
	tcp_conn_free(tc);
}

/*
 * RFC 6062 §5.4 across workers: the ConnectionBind (still unread) names
 * an id another worker owns. The socket leaves this worker's loop without
 * being closed; what was read and what is still to be written travel with
 * it, and the owner reads the request as if it had accepted the socket.
 */
void tcp_conn_hand_over(struct tcp_conn *tc)
{
	struct worker *w = tc->c.w, *to = w->r->workers[tc->c.tcpr_owner - 1];
	struct evbuffer *in = bufferevent_get_input(tc->bev),
	                *out = bufferevent_get_output(tc->bev);
	size_t ilen = evbuffer_get_length(in), olen = evbuffer_get_length(out);
	struct tcp_handover *h = malloc(sizeof(*h) + ilen + olen);

	if (!h)
		return tcp_conn_close(tc, CLOSE_PEER);
	evbuffer_copyout(in, h->data, ilen);
	evbuffer_copyout(out, h->data + ilen, olen);
	h->in_len = ilen;
	h->out_len = olen;
	h->ssl = NULL;
	if (tc->tls) {
		/* The session goes along (docs/architecture.md, RFC 6062): the
		 * bufferevent is freed here without touching it or the socket. */
		h->ssl = tls_bev_release(tc->bev, &h->fd);
		tc->bev = NULL;
	} else {
		/* A second descriptor for the socket: the bufferevent closes its own
		 * when freed here (whatever it was told), the owner gets this one. */
		h->fd = fcntl(bufferevent_getfd(tc->bev), F_DUPFD_CLOEXEC, 0);
		if (h->fd < 0) {
			free(h);
			return tcp_conn_close(tc, CLOSE_PEER);
		}
		/* Out of this loop's epoll set now, while the first descriptor is
		 * still open: the set keys on it, and the socket outlives its close. */
		bufferevent_disable(tc->bev, EV_READ | EV_WRITE);
	}
	h->client = tc->c.client;
	h->counted_authed = tc->counted_authed;
	/* A WebSocket's framing state goes along: the request waits in it. */
	h->ws = tc->ws;
	tc->ws = NULL;
	ws_conn_move(h->ws, w, NULL);
	tc->moved = true;
	STAT_INC(&w->st, tcpr_handed_over);
	log_debug("worker %u: data connection fd %d to worker %u", w->id, h->fd, to->id);
	tcp_conn_free(tc);
	tcp_handover_post(to, h);
}

/*
 * A socket bufferevent's input takes bytes at its end only while it reads
 * (libevent freezes it otherwise); a TLS one's is never frozen, and must
 * not be left so.
 */
static int input_add(struct tcp_conn *tc, const void *buf, size_t len)
{
	struct evbuffer *in = bufferevent_get_input(tc->bev);
	int rc;

	if (tc->tls)
		return evbuffer_add(in, buf, len);
	evbuffer_unfreeze(in, 0);
	rc = evbuffer_add(in, buf, len);
	evbuffer_freeze(in, 0);
	return rc;
}

void tcp_conn_adopt(struct worker *w, const struct tcp_handover *h)
{
	struct tcp_conn *tc =
	        tcp_conn_new(w, h->fd, &h->client, h->ssl ? STREAM_TLS : STREAM_TCP, h->ssl);

	if (!tc) {
		connlimit_put(w->r->conns, &h->client, h->counted_authed);
		ws_conn_move(h->ws, NULL, w); /* counted here to be uncounted by the free */
		ws_conn_free(h->ws, w);
		return;
	}
	tc->counted_authed = h->counted_authed;
	tc->c.tcpr_moved = true;
	if (h->ws) {
		tc->ws = h->ws;
		tc->c.ops = ws_conn_ops(tc->tls);
		ws_conn_move(tc->ws, NULL, w);
	}
	log_debug("worker %u: adopted fd %d, %zu bytes to read, %zu to write", w->id, h->fd,
	          h->in_len, h->out_len);
	if (input_add(tc, h->data, h->in_len) < 0 ||
	    evbuffer_add(bufferevent_get_output(tc->bev), h->data + h->in_len, h->out_len) < 0)
		return tcp_conn_close(tc, CLOSE_PEER);
	bufferevent_enable(tc->bev, EV_READ | EV_WRITE);
	/* The ConnectionBind is already here: read it now, not on the next bytes. */
	tcp_read_cb(tc->bev, tc);
}
