/*
 * The TWIST plane, shared by every worker: the relayed ports with their
 * flows and cookies, the per-user counts, and the TUN device's client-to-peer
 * side (its peer-to-client side is relay/twist_peer.c).
 * Flows live on their workers (relay/twist_flow.c); the plane's lock
 * guards the port table, the user counts, each flow's pnext and latching.
 * Worker 0 reads the TUN and sends peer packets to a flow's client socket
 * under that lock; a flow leaves the table before its socket closes.
 */
#include <errno.h>
#include <event2/event.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto/tso_gather.h"
#include "relay/siphash.h"
#include "relay/twist_plane_int.h"
#include "relay/twist_tun.h"

const int twist_err_codes[TWIST_ERR_CODES] = {400, 401, 403, 437, 440, 441, 442, 443, 486, 508};

static const char *const drop_names[TWD__COUNT] = {
        [TWD_BAD] = "bad_datagram",
        [TWD_NOT_LATCHED] = "not_latched",
        [TWD_WRONG_PEER] = "wrong_peer",
        [TWD_MALFORMED] = "malformed",
        [TWD_NO_FLOW] = "no_flow",
        [TWD_TUN_WRITE] = "tun_write",
        [TWD_SEND] = "send_error",
        [TWD_PROTO] = "other_protocol",
        [TWD_ESP] = "esp_malformed",
        [TWD_ESP_DUMMY] = "esp_dummy",
        [TWD_SPI] = "wrong_spi",
        [TWD_INNER] = "inner_malformed",
        [TWD_INNER_SRC] = "inner_source",
        [TWD_INNER_DST] = "inner_destination",
        [TWD_INNER_PROTO] = "inner_protocol",
};

const char *twist_drop_name(enum twist_drop d)
{
	return drop_names[d];
}

void twist_plane_drop(struct twist_plane *tp, enum twist_drop d)
{
	TW_ADD(tp, drops[d], 1);
}

void twist_count_error(struct twist_plane *tp, int code)
{
	for (unsigned i = 0; tp && i < TWIST_ERR_CODES; i++)
		if (twist_err_codes[i] == code)
			TW_ADD(tp, errors[i], 1);
}

void twist_count_gro(struct twist_plane *tp, uint64_t n)
{
	TW_ADD(tp, gro_reads, 1);
	TW_ADD(tp, gro_dgrams, n);
}

void twist_plane_stats(struct twist_plane *tp, struct twist_stats *out)
{
	const uint64_t *src = (const uint64_t *)&tp->st;
	uint64_t *dst = (uint64_t *)out;

	/* Every field is 64 bits wide: copy them one relaxed load each. */
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* Quotas: flows per user, under the plane's lock. */
static struct tw_user **user_slot(struct twist_plane *tp, uint64_t h)
{
	struct tw_user **u = &tp->users[h % USER_BUCKETS];

	while (*u && (*u)->h != h)
		u = &(*u)->next;
	return u;
}

static uint64_t user_hash(const struct twist_plane *tp, const char *user)
{
	return siphash(tp->key, user, strlen(user));
}

static int user_take(struct twist_plane *tp, uint64_t h, bool enforce)
{
	struct tw_user **u = user_slot(tp, h);

	if (enforce && *u && tp->max_per_user && (*u)->n >= tp->max_per_user)
		return -EDQUOT;
	if (!*u) {
		*u = calloc(1, sizeof(**u));
		if (!*u)
			return -ENOMEM;
		(*u)->h = h;
	}
	(*u)->n++;
	return 0;
}

static void user_give(struct twist_plane *tp, uint64_t h)
{
	struct tw_user **u = user_slot(tp, h), *dead;

	if (!*u || --(*u)->n)
		return;
	dead = *u;
	*u = dead->next;
	free(dead);
}

struct tw_port *twist_port_of(struct twist_plane *tp, uint16_t port)
{
	if (port < tp->pmin || port > tp->pmax)
		return NULL;
	return &tp->ports[port - tp->pmin];
}

static bool port_free(const struct tw_port *p, uint64_t now)
{
	return !p->head && (!p->cookie_live || now >= p->linger_until);
}

/* A free port, round robin, so that a port just given back is not reused at once. */
static int port_pick(struct twist_plane *tp, uint64_t now)
{
	unsigned n = (unsigned)(tp->pmax - tp->pmin) + 1;

	for (unsigned i = 0; i < n; i++) {
		uint16_t port = (uint16_t)(tp->pmin + (tp->cursor + i) % n);

		if (port_free(twist_port_of(tp, port), now)) {
			tp->cursor = (uint16_t)((tp->cursor + i + 1) % n);
			return port;
		}
	}
	return -ENOSPC;
}

/* The cookie names its port in the first two bytes; the rest is random. */
static int cookie_port(struct twist_plane *tp, const struct twist_ask *ask, uint64_t uh,
                       uint64_t now)
{
	uint16_t port = (uint16_t)(ask->cookie[0] << 8 | ask->cookie[1]);
	struct tw_port *p = twist_port_of(tp, port);

	if (!p || !p->cookie_live || (!p->head && now >= p->linger_until) ||
	    memcmp(p->cookie, ask->cookie, TWIST_COOKIE_LEN) != 0)
		return -403;
	if (p->user_h != uh)
		return -441;
	if (p->narmed >= MAX_ARMED)
		return -486;
	return port;
}

static void cookie_new(struct tw_port *p, uint16_t port, uint64_t uh)
{
	if (getrandom(p->cookie, sizeof(p->cookie), 0) != sizeof(p->cookie))
		memset(p->cookie, 0x5a, sizeof(p->cookie)); /* never fails for 8 bytes */
	p->cookie[0] = (uint8_t)(port >> 8);
	p->cookie[1] = (uint8_t)port;
	p->user_h = uh;
	p->cookie_live = true;
}

static int64_t *flows_gauge(struct twist_plane *tp, const struct twist_flow *f)
{
	return &tp->st.flows[f->type == TWIST_TYPE_LISTEN][f->proto == STUN_PROTO_TCP];
}

/* Takes a port (new, or the cookie's) and links f there; a STUN error code. */
int twist_plane_link(struct twist_plane *tp, struct twist_flow *f, const struct twist_ask *ask)
{
	uint64_t now = relay_now_ms(), uh = user_hash(tp, f->user);
	struct tw_port *p;
	int port, code = 0;

	pthread_mutex_lock(&tp->mu);
	port = ask->has_cookie ? cookie_port(tp, ask, uh, now) : port_pick(tp, now);
	if (port == -ENOSPC)
		code = 508;
	else if (port < 0)
		code = -port;
	else if (user_take(tp, uh, true) < 0)
		code = 486;
	if (code) {
		pthread_mutex_unlock(&tp->mu);
		return code;
	}
	p = twist_port_of(tp, (uint16_t)port);
	f->relayed = tp->relay[ask->family == TW_AF_INET6];
	f->relayed.port = (uint16_t)port;
	if (f->type == TWIST_TYPE_LISTEN) {
		if (!ask->has_cookie)
			cookie_new(p, (uint16_t)port, uh);
		memcpy(f->cookie, p->cookie, TWIST_COOKIE_LEN);
		f->armed_seq = ++tp->seq;
		p->narmed++;
	}
	f->pnext = p->head;
	p->head = f;
	f->in_plane = true;
	__atomic_add_fetch(flows_gauge(tp, f), 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&tp->mu);
	return 0;
}

/*
 * The standby's side: the port and cookie the active chose. No quota (the
 * active enforced it), and the port may already hold the cookie's other
 * flows.
 */
int twist_plane_adopt(struct twist_plane *tp, struct twist_flow *f)
{
	struct tw_port *p;
	int rc = 0;

	pthread_mutex_lock(&tp->mu);
	p = twist_port_of(tp, f->relayed.port);
	if (!p || !tw_addr_ip_eq(&f->relayed, &tp->relay[f->relayed.family == TW_AF_INET6])) {
		rc = -ERANGE;
		goto done;
	}
	if (user_take(tp, user_hash(tp, f->user), false) < 0) {
		rc = -ENOMEM;
		goto done;
	}
	if (f->type == TWIST_TYPE_LISTEN) {
		memcpy(p->cookie, f->cookie, TWIST_COOKIE_LEN);
		p->user_h = user_hash(tp, f->user);
		p->cookie_live = true;
		f->armed_seq = ++tp->seq;
		if (!__atomic_load_n(&f->latched, __ATOMIC_RELAXED))
			p->narmed++;
	}
	f->pnext = p->head;
	p->head = f;
	f->in_plane = true;
	__atomic_add_fetch(flows_gauge(tp, f), 1, __ATOMIC_RELAXED);
done:
	pthread_mutex_unlock(&tp->mu);
	return rc;
}

void twist_plane_latch(struct twist_plane *tp, struct twist_flow *f, const struct tw_addr *peer)
{
	pthread_mutex_lock(&tp->mu);
	if (!__atomic_load_n(&f->latched, __ATOMIC_RELAXED)) {
		f->peer = *peer;
		__atomic_store_n(&f->latched, 1, __ATOMIC_RELEASE);
		if (f->in_plane && f->type == TWIST_TYPE_LISTEN)
			twist_port_of(tp, f->relayed.port)->narmed--;
	}
	pthread_mutex_unlock(&tp->mu);
}

void twist_plane_unlink(struct twist_plane *tp, struct twist_flow *f)
{
	struct tw_port *p;
	struct twist_flow **pp;

	pthread_mutex_lock(&tp->mu);
	p = twist_port_of(tp, f->relayed.port);
	for (pp = &p->head; *pp && *pp != f; pp = &(*pp)->pnext)
		;
	if (*pp)
		*pp = f->pnext;
	if (f->type == TWIST_TYPE_LISTEN && !__atomic_load_n(&f->latched, __ATOMIC_RELAXED))
		p->narmed--;
	if (!p->head)
		p->linger_until = relay_now_ms() + COOKIE_LINGER_MS;
	user_give(tp, user_hash(tp, f->user));
	__atomic_sub_fetch(flows_gauge(tp, f), 1, __ATOMIC_RELAXED);
	f->in_plane = false;
	pthread_mutex_unlock(&tp->mu);
}

/*
 * A segment from a flow's client for its peer: an IP header in front, into
 * the TUN, now or gathered with the next ones (proto/tso_gather.h) until
 * twist_plane_flush().
 */
void twist_plane_to_peer(struct twist_plane *tp, const struct twist_flow *f, const uint8_t *seg,
                         size_t len)
{
	unsigned id = f->flow.w->id;
	struct tp_slot *sl = &tp->slot[id < GSO_SLOTS ? id : 0];

	if (!sl->gso && !(sl->gso = tso_gather_new()))
		return twist_plane_drop(tp, TWD_TUN_WRITE);
	if (tso_gather_put(sl->gso, tp->fd, f, &f->relayed, &f->peer, f->proto, seg, len) < 0)
		twist_plane_drop(tp, TWD_TUN_WRITE);
	sl->pkts++;
	sl->bytes += len;
}

void twist_plane_to_peer_ip(struct twist_plane *tp, const uint8_t *pkt, size_t len, size_t seg_len)
{
	struct virtio_net_hdr vh = {.gso_type = VIRTIO_NET_HDR_GSO_NONE};
	struct iovec iov[2] = {{&vh, sizeof(vh)}, {(void *)pkt, len}};

	if (writev(tp->fd, iov, 2) < 0)
		return twist_plane_drop(tp, TWD_TUN_WRITE);
	TW_ADD(tp, pkts[0], 1);
	TW_ADD(tp, bytes[0], seg_len);
}

void twist_plane_flush(struct twist_plane *tp, const struct worker *w)
{
	struct tp_slot *sl = &tp->slot[w->id < GSO_SLOTS ? w->id : 0];

	if (sl->gso && tso_gather_flush(sl->gso, tp->fd) < 0)
		twist_plane_drop(tp, TWD_TUN_WRITE);
	if (sl->pkts) {
		TW_ADD(tp, pkts[0], sl->pkts);
		TW_ADD(tp, bytes[0], sl->bytes);
		sl->pkts = sl->bytes = 0;
	}
}

bool twist_plane_up(const struct twist_plane *tp)
{
	return tp && tp->fd >= 0;
}

uint64_t twist_plane_idle_ms(const struct twist_plane *tp)
{
	return tp->idle_ms;
}

struct twist_plane *twist_plane_new(const struct config *cfg, char *err, size_t errlen)
{
	/* aligned: the slots are a cache line each */
	struct twist_plane *tp = aligned_alloc(_Alignof(struct twist_plane), sizeof(*tp));
	unsigned n = (unsigned)(cfg->twist_port_max - cfg->twist_port_min) + 1;

	if (tp)
		memset(tp, 0, sizeof(*tp));
	if (!tp || !(tp->ports = calloc(n, sizeof(*tp->ports)))) {
		snprintf(err, errlen, "twist: out of memory");
		free(tp);
		return NULL;
	}
	pthread_mutex_init(&tp->mu, NULL);
	tp->relay[0] = cfg->twist_relay4;
	tp->relay[1] = cfg->twist_relay6;
	tp->pmin = cfg->twist_port_min;
	tp->pmax = cfg->twist_port_max;
	tp->max_per_user = cfg->twist_max_flows_per_user;
	tp->idle_ms = (uint64_t)cfg->twist_idle_timeout * 1000;
	if (getrandom(tp->key, sizeof(tp->key), 0) != sizeof(tp->key))
		memset(tp->key, 0x42, sizeof(tp->key));
	tp->fd = twist_tun_open(cfg->twist_tun, &tp->relay[0], &tp->relay[1], err, errlen);
	if (tp->fd < 0) {
		twist_plane_free(tp);
		return NULL;
	}
	return tp;
}

int twist_plane_watch(struct twist_plane *tp, struct worker *w)
{
	tp->ev = event_new(w->base, tp->fd, EV_READ | EV_PERSIST, twist_tun_cb, tp);
	if (!tp->ev || event_add(tp->ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void twist_plane_unwatch(struct twist_plane *tp)
{
	if (tp && tp->ev) {
		event_free(tp->ev);
		tp->ev = NULL;
	}
}

void twist_plane_free(struct twist_plane *tp)
{
	if (!tp)
		return;
	twist_plane_unwatch(tp);
	/* Closing the device's descriptor removes it and its routes. */
	if (tp->fd >= 0)
		close(tp->fd);
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		while (tp->users[i]) {
			struct tw_user *u = tp->users[i];

			tp->users[i] = u->next;
			free(u);
		}
	for (unsigned i = 0; i < GSO_SLOTS; i++)
		tso_gather_free(tp->slot[i].gso);
	pthread_mutex_destroy(&tp->mu);
	free(tp->ports);
	free(tp);
}
