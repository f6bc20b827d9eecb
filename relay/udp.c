#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/stun.h"
#include "relay/alloc.h"
#include "relay/dataplane.h"
#include "relay/mice_port.h"
#include "common/log.h"
#include "relay/netaddr.h"
#include "relay/turn.h"
#include "relay/udp.h"

#define LISTEN_BUF (4 << 20)

/*
 * A UDP client. On a listener it lives on the stack for one datagram; once
 * the client has an allocation, attach() makes one of its own with the
 * connected per-client socket (DESIGN decision 1), owned by the allocation.
 */
struct udp_conn {
	struct conn c;
	struct listener *lst;
	struct dp_handle h; /* the connected socket; fd -1 on the stack */
};

static const struct conn_ops udp_ops;

static int udp_socket(const struct tw_addr *addr, bool reuseport)
{
	int fd = netaddr_socket(addr, SOCK_DGRAM), one = 1, bufsz = LISTEN_BUF;

	if (fd < 0)
		return fd;
	/*
	 * SO_REUSEPORT only. With SO_REUSEADDR on the new socket too, the
	 * kernel's port-in-use check cannot stop at the first reuseport match
	 * and walks every socket on the address and port: each per-client
	 * socket then costs O(allocations) to bind, and a standby importing N
	 * flows O(N^2) (measured: 60% of its time).
	 */
	if (reuseport && (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	                  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz)) < 0 ||
	                  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz)) < 0))
		return netaddr_close_err(fd);
	/* A standby also connects per-client sockets from the VIP before it
	 * holds it: connect() from a non-local source needs IP_TRANSPARENT,
	 * not just IP_FREEBIND. */
	return netaddr_bind(fd, addr, true);
}

static void from_listener(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                          size_t len)
{
	struct listener *l = ctx;
	struct udp_conn uc = {
	        .c = {.ops = &udp_ops,
	              .w = w,
	              .client = *src,
	              .local = l->addr,
	              .binding_only = l->set && l->set_pos != 0},
	        .lst = l,
	        .h = {.fd = -1},
	};
	struct alloc_key k = {.transport = STUN_PROTO_UDP, .client = *src, .local = l->addr};

	if (mice_port_input(w, l, src, buf, len))
		return;
	uc.c.a = alloc_find(w, &k);
	turn_client_input(w, &uc.c, buf, len);
}

void udp_stray_input(struct worker *w, const struct tw_addr *local, const struct tw_addr *src,
                     uint8_t *buf, size_t len)
{
	for (unsigned i = 0; i < w->n_udp; i++)
		if (tw_addr_eq(&w->udp[i].addr, local))
			return from_listener(w, &w->udp[i], src, buf, len);
}

static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)what;
	dp_drain(l->w, fd, NULL, from_listener, l);
}

/*
 * The connected per-client socket. Between its bind and its connect it sat
 * unconnected in the reuseport group and may have caught other clients'
 * datagrams: those are handled as if the listener had read them.
 */
static void from_client(struct worker *w, void *ctx, const struct tw_addr *src, uint8_t *buf,
                        size_t len)
{
	struct udp_conn *uc = ctx;

	if (!tw_addr_eq(src, &uc->c.client))
		return from_listener(w, uc->lst, src, buf, len);
	if (mice_port_input(w, uc->lst, src, buf, len))
		return;
	turn_client_input(w, &uc->c, buf, len);
}

static bool client_readable(struct worker *w, struct dp_handle *h)
{
	struct udp_conn *uc = (struct udp_conn *)((char *)h - offsetof(struct udp_conn, h));

	return dp_drain(w, h->fd, h, from_client, uc);
}

int udp_listener_open(struct worker *w, struct listener *l, const struct tw_addr *addr)
{
	int fd = udp_socket(addr, true);

	if (fd < 0)
		return fd;
	l->w = w;
	l->fd = fd;
	l->addr = *addr;
	l->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, listener_cb, l);
	if (!l->ev || event_add(l->ev, NULL) < 0) {
		udp_listener_close(l);
		return -ENOMEM;
	}
	return 0;
}

/*
 * RFC 5780 §4.1: the sockets on (primary IP, other port), (other IP,
 * primary port) and (other IP, other port), opened like the primary (the
 * same freebind path, so a standby holds them too) and serving Binding
 * only. set[] is indexed by the change bits >> 1 from the primary.
 */
int udp_rfc5780_open(struct worker *w, struct listener *primary, const struct tw_addr *other)
{
	int rc;

	w->alt_set[0] = primary;
	for (unsigned pos = 1; pos < 4; pos++) {
		struct tw_addr a = (pos & (STUN_CHANGE_IP >> 1)) ? *other : primary->addr;

		a.port = (pos & (STUN_CHANGE_PORT >> 1)) ? other->port : primary->addr.port;
		w->alt_set[pos] = &w->udp_alt[pos - 1];
		if ((rc = udp_listener_open(w, w->alt_set[pos], &a)) < 0)
			return rc;
	}
	for (unsigned pos = 0; pos < 4; pos++) {
		w->alt_set[pos]->set = w->alt_set;
		w->alt_set[pos]->set_pos = pos;
	}
	return 0;
}

void udp_listener_close(struct listener *l)
{
	if (l->ev)
		event_free(l->ev);
	if (l->fd >= 0)
		close(l->fd);
	l->ev = NULL;
	l->fd = -1;
}

static int udp_send(struct conn *c, const void *buf, size_t len)
{
	struct udp_conn *uc = (struct udp_conn *)c;

	return tx_now(c->w, uc->lst->fd, &c->client, buf, len);
}

static int udp_send_data(struct conn *c, const uint8_t *pkt, size_t len, size_t pad)
{
	struct udp_conn *uc = (struct udp_conn *)c;

	(void)pad; /* datagrams carry ChannelData unpadded (RFC 8656 §12.5) */
	tx_push(c->w, uc->lst->fd, &c->client, pkt, len);
	return 0;
}

int udp_client_socket(const struct tw_addr *local, const struct tw_addr *client)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = udp_socket(local, true);

	if (fd < 0)
		return fd;
	sl = tw_addr_to_sa(client, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return netaddr_close_err(fd);
	return fd;
}

static int connect_client(struct udp_conn *uc)
{
	int fd = udp_client_socket(&uc->c.local, &uc->c.client);

	if (fd < 0)
		return fd;
	uc->h.fd = fd;
	uc->h.readable = client_readable;
	return dp_watch(uc->c.w, &uc->h);
}

static struct conn *udp_attach(struct conn *c, struct allocation *a)
{
	struct udp_conn *from = (struct udp_conn *)c, *uc = malloc(sizeof(*uc));
	int rc;

	if (!uc)
		return NULL;
	*uc = *from;
	uc->c.a = a;
	uc->h.fd = -1;
	rc = connect_client(uc);
	if (rc < 0) {
		char b[TW_ADDR_STRLEN];

		log_warn("per-client socket for %s: %s", tw_addr_fmt(&c->client, b, sizeof(b)),
		         strerror(-rc));
		if (uc->h.fd >= 0)
			close(uc->h.fd);
		free(uc);
		return NULL;
	}
	c->a = a;
	return &uc->c;
}

static void udp_detach(struct conn *c)
{
	struct udp_conn *uc = (struct udp_conn *)c;

	dp_close(c->w, &uc->h);
	c->a = NULL;
}

static void udp_release(struct conn *c)
{
	free(c);
}

static bool udp_return_path(const struct conn *c, struct conn_return *rp)
{
	const struct udp_conn *uc = (const struct udp_conn *)c;

	rp->fd = uc->lst->fd;
	rp->dst = c->client;
	return true;
}

static const struct listener *alt_listener(const struct conn *c, unsigned change)
{
	const struct listener *l = ((const struct udp_conn *)c)->lst;

	if (!l->set)
		return NULL;
	return l->set[l->set_pos ^ ((change & (STUN_CHANGE_IP | STUN_CHANGE_PORT)) >> 1)];
}

static int udp_alt_addr(const struct conn *c, unsigned change, struct tw_addr *from)
{
	const struct listener *l = alt_listener(c, change);

	if (!l)
		return -EOPNOTSUPP;
	*from = l->addr;
	return 0;
}

static int udp_send_alt(struct conn *c, unsigned change, uint16_t port, const void *buf, size_t len)
{
	const struct listener *l = alt_listener(c, change);
	struct tw_addr dst = c->client;

	if (!l)
		return -EOPNOTSUPP;
	if (port)
		dst.port = port;
	return tx_now(c->w, l->fd, &dst, buf, len);
}

/* The standby's side: a's client has not been heard from on this node. */
static struct conn *udp_restore(struct worker *w, struct allocation *a)
{
	const struct alloc_key *k = &a->flow.key;

	for (unsigned i = 0; i < w->n_udp; i++) {
		struct udp_conn uc = {
		        .c = {.ops = &udp_ops, .w = w, .client = k->client, .local = k->local},
		        .lst = &w->udp[i],
		        .h = {.fd = -1},
		};

		if (tw_addr_eq(&w->udp[i].addr, &k->local))
			return udp_attach(&uc.c, a);
	}
	return NULL;
}

static const struct conn_ops udp_ops = {
        .name = "udp",
        .transport = STUN_PROTO_UDP,
        .stream = false,
        .replicates = true,
        .fastpath = true,
        .send = udp_send,
        .send_data = udp_send_data,
        .attach = udp_attach,
        .detach = udp_detach,
        .release = udp_release,
        .return_path = udp_return_path,
        .restore = udp_restore,
        .alt_addr = udp_alt_addr,
        .send_alt = udp_send_alt,
};

const struct conn_ops *udp_conn_ops(void)
{
	return &udp_ops;
}
