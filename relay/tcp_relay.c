/*
 * RFC 6062 TCP relay allocations: the relay's TCP connections to peers,
 * opened on Connect or accepted on the relayed address, each named by a
 * CONNECTION-ID until the client binds a data connection to it with
 * ConnectionBind; from then on the two are a byte pipe. They belong to
 * their allocation (deleting it closes them) and never replicate: a TCP
 * connection cannot survive a failover (DESIGN decision 8).
 *
 * An id names its worker (id mod the number of workers): a ConnectionBind
 * read by another worker moves its data connection to the owner
 * (tcp_handover.h), which authenticates and answers it there, with the
 * allocation's nonce and key at hand.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/stun.h"
#include "relay/netaddr.h"
#include "relay/policy.h"
#include "relay/tcp.h"
#include "relay/tcp_relay.h"
#include "relay/tls.h"
#include "relay/turn_int.h"
#include "relay/ws.h"

#define TCPR_BIND_MS    30000       /* RFC 6062 §5.3: an unbound id lives 30 s */
#define TCPR_CONNECT_MS 30000       /* §5.2: then 447 */
#define TCPR_MAX        64          /* connections per allocation */
#define TCPR_HIGH       (256 << 10) /* output held for one side before reading stops */

enum tcpr_state { TCPR_CONNECTING, TCPR_UNBOUND, TCPR_PIPE };

struct tcpr_conn {
	struct allocation *a;
	struct worker *w;
	uint32_t id;
	enum tcpr_state state;
	bool closing; /* one side has closed: outputs drain (below), then both go */
	bool drain_client, drain_peer; /* while closing: whose output must still be written */
	uint64_t deadline;             /* connect or bind, ms */
	struct tw_addr peer;
	struct bufferevent *peer_bev, *client_bev;
	struct ws_conn *ws;            /* a ws/wss data connection: the client side is framed */
	struct tcpr_conn *next, *prev; /* the worker's list */
	struct tcpr_conn *anext;       /* the allocation's list */
	/* The Connect being answered once the connection is up or has failed. */
	struct req q;
	struct stun_msg m;
};

static const char *state_name(enum tcpr_state s)
{
	switch (s) {
	case TCPR_CONNECTING:
		return "connecting";
	case TCPR_UNBOUND:
		return "unbound";
	case TCPR_PIPE:
		return "pipe";
	}
	return "?";
}

static void change_state(struct tcpr_conn *t, enum tcpr_state s)
{
	log_debug("tcp relay connection %08x: %s -> %s", t->id, state_name(t->state),
	          state_name(s));
	t->state = s;
}

static void conn_unlink(struct tcpr_conn *t)
{
	struct tcpr_conn **pp;

	if (t->prev)
		t->prev->next = t->next;
	else
		t->w->tcpr = t->next;
	if (t->next)
		t->next->prev = t->prev;
	for (pp = &t->a->tcpr; *pp; pp = &(*pp)->anext)
		if (*pp == t) {
			*pp = t->anext;
			break;
		}
}

static void conn_free(struct tcpr_conn *t)
{
	conn_unlink(t);
	if (t->peer_bev)
		bufferevent_free(t->peer_bev);
	if (t->client_bev)
		tls_bev_free(t->client_bev); /* TLS or plain (RFC 6062 §4.3) */
	ws_conn_free(t->ws, t->w);
	STAT_ADD(&t->w->st, tcpr_conns, -1);
	free(t);
}

static unsigned id_owner(const struct relay *r, uint32_t id)
{
	return r->n_workers > 1 ? id % r->n_workers : 0;
}

/*
 * A random id (§5.2: another client cannot guess one to bind) that names
 * w: its remainder by the number of workers is w's index. 0 or -errno.
 */
static int id_pick(struct worker *w, uint32_t *id)
{
	uint32_t n = w->r->n_workers, base;

	for (;;) {
		if (getrandom(id, sizeof(*id), 0) != sizeof(*id))
			return -EIO;
		if (n <= 1)
			return 0;
		base = *id - *id % n;
		/* The last, partial run of n ids may not hold w's. */
		if (UINT32_MAX - base >= w->id) {
			*id = base + w->id;
			return 0;
		}
	}
}

static struct tcpr_conn *conn_new(struct allocation *a, const struct tw_addr *peer)
{
	struct worker *w = a->flow.w;
	struct tcpr_conn *t;
	unsigned n = 0;

	for (t = a->tcpr; t; t = t->anext)
		n++;
	if (n >= TCPR_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	do {
		if (id_pick(w, &t->id) < 0) {
			free(t);
			return NULL;
		}
	} while (t->id == 0 || tcp_relay_find(w, t->id));
	t->a = a;
	t->w = w;
	t->peer = *peer;
	t->next = w->tcpr;
	if (w->tcpr)
		w->tcpr->prev = t;
	w->tcpr = t;
	t->anext = a->tcpr;
	a->tcpr = t;
	STAT_ADD(&w->st, tcpr_conns, 1);
	return t;
}

struct tcpr_conn *tcp_relay_find(struct worker *w, uint32_t id)
{
	for (struct tcpr_conn *t = w->tcpr; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

/*
 * One side's input to the other's output: as it is, or through the
 * WebSocket framing of a ws data connection (relay/ws.c). 0, or a close
 * reason as a negative number (the client's close frame, or bad framing).
 */
static int pipe_copy(struct tcpr_conn *t, struct bufferevent *from, struct evbuffer *in,
                     struct evbuffer *out)
{
	if (!t->ws)
		return evbuffer_add_buffer(out, in);
	if (from == t->client_bev)
		return ws_conn_pipe_in(t->ws, t->w, in, out, bufferevent_get_output(t->client_bev));
	return ws_conn_pipe_out(in, out);
}

/* Moves what one side read to the other, pausing it past TCPR_HIGH. */
static int pipe_move(struct tcpr_conn *t, struct bufferevent *from, struct bufferevent *to)
{
	struct evbuffer *in = bufferevent_get_input(from), *out = bufferevent_get_output(to);
	size_t before = evbuffer_get_length(out);
	int rc = pipe_copy(t, from, in, out);
	size_t len = evbuffer_get_length(out) - before;

	if (from == t->client_bev)
		STAT_ADD(&t->w->st, tcpr_bytes_to_peer, len);
	else
		STAT_ADD(&t->w->st, tcpr_bytes_to_client, len);
	if (evbuffer_get_length(out) >= TCPR_HIGH) {
		bufferevent_disable(from, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, TCPR_HIGH / 2, 0);
	}
	return rc;
}

static bool out_empty(struct bufferevent *bev)
{
	return evbuffer_get_length(bufferevent_get_output(bev)) == 0;
}

/* Closing: done once every output that must drain has. */
static void pipe_linger(struct tcpr_conn *t)
{
	if ((!t->drain_client || out_empty(t->client_bev)) &&
	    (!t->drain_peer || out_empty(t->peer_bev)))
		return conn_free(t);
	bufferevent_disable(t->client_bev, EV_READ);
	bufferevent_disable(t->peer_bev, EV_READ);
	bufferevent_setwatermark(t->client_bev, EV_WRITE, 0, 0);
	bufferevent_setwatermark(t->peer_bev, EV_WRITE, 0, 0);
}

/*
 * The ws client closed or broke the framing: what it sent before reaches
 * the peer, its close frame (the echo, or the error's code) reaches it,
 * then both close.
 */
static void pipe_ws_closed(struct tcpr_conn *t)
{
	t->closing = true;
	t->drain_client = t->drain_peer = true;
	pipe_linger(t);
}

static void pipe_read(struct bufferevent *bev, void *arg)
{
	struct tcpr_conn *t = arg;

	if (pipe_move(t, bev, bev == t->client_bev ? t->peer_bev : t->client_bev) < 0)
		pipe_ws_closed(t);
}

/* The output drained below the low mark: the other side may read again. */
static void pipe_write(struct bufferevent *bev, void *arg)
{
	struct tcpr_conn *t = arg;
	struct bufferevent *other = bev == t->client_bev ? t->peer_bev : t->client_bev;

	if (t->closing)
		return pipe_linger(t);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(other, EV_READ);
}

/*
 * One side closed: what it sent before its FIN still reaches the other
 * side, then both close (a half-close is not kept open: RFC 6062 §5.5
 * closes the pair).
 */
static void pipe_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcpr_conn *t = arg;
	struct bufferevent *other = bev == t->client_bev ? t->peer_bev : t->client_bev;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (t->closing || (what & BEV_EVENT_ERROR))
		return conn_free(t);
	pipe_move(t, bev, other); /* a close frame among them closes all the same */
	if (t->ws && bev == t->peer_bev)
		ws_conn_pipe_end(bufferevent_get_output(other));
	t->closing = true;
	t->drain_client = other == t->client_bev;
	t->drain_peer = other == t->peer_bev;
	pipe_linger(t);
}

static void pipe_start(struct tcpr_conn *t)
{
	change_state(t, TCPR_PIPE);
	bufferevent_setcb(t->peer_bev, pipe_read, pipe_write, pipe_event, t);
	bufferevent_setcb(t->client_bev, pipe_read, pipe_write, pipe_event, t);
	bufferevent_enable(t->peer_bev, EV_READ | EV_WRITE);
	bufferevent_enable(t->client_bev, EV_READ | EV_WRITE);
	/* Bytes the client sent right behind ConnectionBind are already read. */
	if ((t->ws || evbuffer_get_length(bufferevent_get_input(t->client_bev))) &&
	    pipe_move(t, t->client_bev, t->peer_bev) < 0)
		pipe_ws_closed(t);
}

void tcp_relay_take(struct tcpr_conn *t, struct bufferevent *bev, struct ws_conn *ws)
{
	t->client_bev = bev;
	t->ws = ws;
	pipe_start(t);
}

/* Connect's answer, now that the connection is up (0) or failed (447). */
static void connect_answer(struct tcpr_conn *t, int code)
{
	uint8_t buf[RESP_MAX];
	struct stun_wr wr;

	t->q.m = &t->m;
	if (code)
		return turn_error(&t->q, code);
	turn_resp_begin(&t->q, &wr, buf, STUN_SUCCESS);
	stun_wr_u32(&wr, STUN_A_CONNECTION_ID, t->id);
	turn_resp_send(&t->q, &wr);
}

static void peer_idle(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg); /* the peer went away before the client bound */
}

static void connect_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcpr_conn *t = arg;

	t->w->now_ms = relay_now_ms();
	if (what & BEV_EVENT_CONNECTED) {
		change_state(t, TCPR_UNBOUND);
		t->deadline = t->w->now_ms + TCPR_BIND_MS;
		bufferevent_setcb(bev, NULL, NULL, peer_idle, t);
		bufferevent_disable(bev, EV_READ); /* the kernel holds the peer's bytes */
		connect_answer(t, 0);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		STAT_INC(&t->w->st, tcpr_failed);
		connect_answer(t, 447);
		conn_free(t);
	}
}

/* A socket on the relayed address, connecting to peer; 0 or -errno. */
static int peer_connect(struct tcpr_conn *t, const struct tw_addr *from)
{
	struct sockaddr_storage ss;
	socklen_t sl = tw_addr_to_sa(&t->peer, &ss);
	int fd = netaddr_socket(from, SOCK_STREAM), one = 1;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		return netaddr_close_err(fd);
	fd = netaddr_bind(fd, from, true);
	if (fd < 0)
		return fd;
	t->peer_bev = bufferevent_socket_new(t->w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!t->peer_bev) {
		close(fd);
		return -ENOMEM;
	}
	bufferevent_setcb(t->peer_bev, NULL, NULL, connect_event, t);
	/* An immediate failure still comes back through connect_event. */
	if (bufferevent_socket_connect(t->peer_bev, (struct sockaddr *)&ss, (int)sl) < 0)
		return -ECONNREFUSED;
	return 0;
}

void turn_do_connect(struct req *q)
{
	const struct stun_attr *pa = stun_msg_find(q->m, STUN_A_XOR_PEER_ADDRESS);
	struct allocation *a = q->c->a;
	struct tcpr_conn *t;
	struct tw_addr peer;
	int code;

	if (!a->tcp)
		return turn_error(q, 400); /* §5.2: not a TCP allocation */
	if (!pa)
		return turn_error(q, 400);
	code = turn_peer_check(q, pa, &peer);
	if (code)
		return turn_error(q, code);
	for (t = a->tcpr; t; t = t->anext)
		if (tw_addr_eq(&t->peer, &peer))
			return turn_error(q, 446); /* §5.2 */
	t = conn_new(a, &peer);
	if (!t)
		return turn_error(q, 508);
	t->q = *q;
	t->m = *q->m;
	t->state = TCPR_CONNECTING;
	t->deadline = q->w->now_ms + TCPR_CONNECT_MS;
	if (peer_connect(t, &a->rs[0].addr) < 0) {
		STAT_INC(&q->w->st, tcpr_failed);
		conn_free(t);
		return turn_error(q, 447);
	}
	/* Permission for the peer (§5.2): its answers may come in. */
	alloc_perm_add(a, &peer);
}

void turn_do_connection_bind(struct req *q)
{
	const struct stun_attr *ca = stun_msg_find(q->m, STUN_A_CONNECTION_ID);
	struct tcpr_conn *t;
	uint32_t id;

	/* §5.4: a data connection carries no allocation and binds once. */
	if (!ca || stun_attr_u32(q->m, ca, &id) < 0 || q->c->a || !q->c->ops->stream ||
	    q->c->tcpr_bind)
		return turn_error(q, 400);
	if (tcp_conn_bindable(q->c) < 0)
		return turn_error_why(q, 400, "Not a data connection transport");
	t = tcp_relay_find(q->w, id);
	if (!t || t->state != TCPR_UNBOUND)
		return turn_error(q, 400);
	if (strcmp(t->a->user, q->user) != 0)
		return turn_error(q, 441);
	/* §4.3: the data connection uses the control connection's transport. */
	if (t->a->conn && q->c->ops != t->a->conn->ops)
		return turn_error_why(q, 400, "Data connection transport differs from control");
	turn_ok(q);
	/* The transport hands its bufferevent over once this frame is done. */
	q->c->tcpr_bind = t;
}

bool tcp_relay_elsewhere(struct req *q)
{
	const struct stun_attr *ca = stun_msg_find(q->m, STUN_A_CONNECTION_ID);
	struct conn *c = q->c;
	unsigned owner;
	uint32_t id;

	/* What cannot move is refused here, as turn_do_connection_bind would. */
	if (!ca || stun_attr_u32(q->m, ca, &id) < 0 || c->a || !c->ops->stream || c->tcpr_bind ||
	    c->tcpr_moved || tcp_conn_bindable(c) < 0)
		return false;
	owner = id_owner(q->w->r, id);
	if (owner == q->w->id)
		return false;
	c->tcpr_owner = owner + 1;
	return true;
}

/*
 * RFC 6062 §5.4: the client binds with the credentials (and the nonce) of
 * its control connection, whose port differs from the data connection's;
 * nonces cover the port. The nonce of the allocation's client is good for
 * a ConnectionBind naming one of that allocation's unbound ids.
 */
const struct tw_addr *turn_connection_bind_nonce(struct req *q)
{
	const struct stun_attr *ca = stun_msg_find(q->m, STUN_A_CONNECTION_ID);
	struct tcpr_conn *t;
	uint32_t id;

	if (!ca || stun_attr_u32(q->m, ca, &id) < 0)
		return NULL;
	t = tcp_relay_find(q->w, id);
	return t && t->state == TCPR_UNBOUND ? &t->a->flow.key.client : NULL;
}

static void attempt_indicate(struct tcpr_conn *t)
{
	struct allocation *a = t->a;
	uint8_t tid[STUN_TID_LEN], buf[RESP_MAX];
	struct stun_wr wr;
	int len;

	if (!a->conn || getrandom(tid, sizeof(tid), 0) != sizeof(tid))
		return;
	stun_wr_init(&wr, buf, sizeof(buf), STUN_CONNECTION_ATTEMPT, STUN_INDICATION, tid);
	stun_wr_u32(&wr, STUN_A_CONNECTION_ID, t->id);
	stun_wr_xaddr(&wr, STUN_A_XOR_PEER_ADDRESS, &t->peer);
	stun_wr_fingerprint(&wr);
	len = stun_wr_finish(&wr);
	if (len > 0)
		a->conn->ops->send(a->conn, buf, (size_t)len);
}

/* §5.3: a peer connecting to the relayed address, if it has a permission. */
static void peer_accepted(struct allocation *a, int fd, const struct tw_addr *peer)
{
	struct tcpr_conn *t;

	if (!alloc_perm_find(a, peer) || !(t = conn_new(a, peer))) {
		STAT_INC(&a->flow.w->st, tcpr_refused);
		close(fd);
		return;
	}
	t->peer_bev = bufferevent_socket_new(a->flow.w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!t->peer_bev) {
		close(fd);
		conn_free(t);
		return;
	}
	t->state = TCPR_UNBOUND;
	t->deadline = a->flow.w->now_ms + TCPR_BIND_MS;
	bufferevent_setcb(t->peer_bev, NULL, NULL, peer_idle, t);
	attempt_indicate(t);
}

#define ACCEPT_BURST 16

bool tcp_relay_readable(struct worker *w, struct dp_handle *h)
{
	struct relay_sock *rs = (struct relay_sock *)h;
	struct sockaddr_storage ss;
	struct tw_addr peer;
	socklen_t sl;
	int fd;

	w->now_ms = relay_now_ms();
	for (unsigned i = 0; i < ACCEPT_BURST; i++) {
		sl = sizeof(ss);
		fd = accept4(h->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return false;
		if (tw_addr_from_sa((struct sockaddr *)&ss, &peer) < 0) {
			close(fd);
			continue;
		}
		peer_accepted(rs->a, fd, &peer);
	}
	return true;
}

void tcp_relay_close_all(struct allocation *a)
{
	while (a->tcpr)
		conn_free(a->tcpr);
}

void tcp_relay_sweep(struct allocation *a, uint64_t now)
{
	struct tcpr_conn *t, *next;

	for (t = a->tcpr; t; t = next) {
		next = t->anext;
		if (t->state == TCPR_PIPE || t->deadline > now)
			continue;
		if (t->state == TCPR_CONNECTING) {
			STAT_INC(&t->w->st, tcpr_failed);
			connect_answer(t, 447);
		} else {
			STAT_INC(&t->w->st, tcpr_expired);
		}
		conn_free(t);
	}
}
