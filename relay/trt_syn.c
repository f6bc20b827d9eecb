/*
 * SYNs held until the IPv4 side answers (docs/trt.md "Connection refused").
 *
 * The kernel completes an IPv6 handshake before accept(), so a relay that
 * connected to X4:r only after accept could answer a closed port with a
 * reset of an established connection, not the refused SYN the client
 * expects. Our nft table therefore queues each SYN to the prefix to this
 * NFQUEUE (before TPROXY's priority, `bypass` if we are gone). Here the
 * ACL is checked and the IPv4 connection is made from the paired source;
 * only when it is up does the SYN get ACCEPT, go on to TPROXY and our
 * listener, and the accepted socket is paired (trt_syn_take) with the
 * connection already made. A refusal or denial is DROP plus a TCP RST
 * from the dummy address; an unreachable host DROP plus an ICMPv6 address
 * unreachable. A retransmitted SYN for a held tuple is dropped.
 *
 * Raw nfnetlink through libmnl: the messages are few and fixed, and the
 * packet is parsed by proto/ (twist_ip_parse), like every untrusted byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/twist.h"
#include "relay/netaddr.h"
#include "relay/trt_int.h"

#define HELD_BUCKETS 1024
#define HELD_MAX     4096 /* SYNs held at once, whatever trt.max_tcp says */
#define COPY_RANGE   256  /* a SYN with every option fits */
#define QUEUE_MAXLEN 4096
#define CONNECT_MS   30000 /* an IPv4 connect not done by then: the SYN is dropped */
#define READY_MS     10000 /* accepted within this, or the IPv4 connection goes */
#define QUOTE_MAX    128

enum held_state { HELD_CONNECTING, HELD_READY };

struct held {
	struct held *next;
	struct trt_syn *s;
	enum held_state state;
	struct tw_addr c6, d6, d4;
	uint32_t id, seq;
	int fd4;
	struct event *ev;
	uint64_t until;
	uint8_t quote[QUOTE_MAX];
	size_t qlen;
};

struct trt_syn {
	struct trt *t;
	struct mnl_socket *nl;
	unsigned queue, portid, seq;
	struct event *ev, *tick;
	struct held *bucket[HELD_BUCKETS];
	unsigned n;
	char buf[8192]; /* MNL_SOCKET_BUFFER_SIZE is not a constant; SYNs are copied short */
};

/* ---- nfnetlink ---- */

static struct nlmsghdr *nfq_hdr(char *buf, int type, uint16_t queue)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(queue);
	return nlh;
}

/* Sends a config message and waits for the kernel's ack. */
static int nfq_config(struct trt_syn *s, struct nlmsghdr *nlh)
{
	int n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++s->seq;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = (int)mnl_socket_recvfrom(s->nl, s->buf, sizeof(s->buf));
	if (n < 0)
		return -errno;
	return mnl_cb_run(s->buf, (size_t)n, s->seq, s->portid, NULL, NULL) < 0 ? -errno : 0;
}

static int nfq_bind(struct trt_syn *s)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND};
	struct nfqnl_msg_config_params params = {.copy_range = htonl(COPY_RANGE),
	                                         .copy_mode = NFQNL_COPY_PACKET};
	uint32_t flags = htonl(NFQA_CFG_F_FAIL_OPEN);
	int rc;

	nlh = nfq_hdr(buf, NFQNL_MSG_CONFIG, (uint16_t)s->queue);
	mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof(cmd), &cmd);
	if ((rc = nfq_config(s, nlh)) < 0)
		return rc;
	nlh = nfq_hdr(buf, NFQNL_MSG_CONFIG, (uint16_t)s->queue);
	mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof(params), &params);
	mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(QUEUE_MAXLEN));
	/* A full queue lets SYNs through to the listener (the late-connect path). */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, flags);
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, flags);
	return nfq_config(s, nlh);
}

static void verdict(struct trt_syn *s, uint32_t id, uint32_t v)
{
	char buf[128];
	struct nlmsghdr *nlh = nfq_hdr(buf, NFQNL_MSG_VERDICT, (uint16_t)s->queue);
	struct nfqnl_msg_verdict_hdr vh = {.verdict = htonl(v), .id = htonl(id)};

	mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof(vh), &vh);
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		trt_drop(s->t, TRT_DROP_SEND);
}

/* ---- the held table ---- */

static struct held **slot(struct trt_syn *s, const struct tw_addr *c6, const struct tw_addr *d6)
{
	uint32_t hsh = tw_addr_hash(c6, s->t->seed) ^ tw_addr_hash(d6, s->t->seed * 31 + 7);

	return &s->bucket[hsh % HELD_BUCKETS];
}

static struct held *held_find(struct trt_syn *s, const struct tw_addr *c6, const struct tw_addr *d6)
{
	for (struct held *h = *slot(s, c6, d6); h; h = h->next)
		if (tw_addr_eq(&h->c6, c6) && tw_addr_eq(&h->d6, d6))
			return h;
	return NULL;
}

/* Unlinks and frees h; its IPv4 socket is closed unless taken (fd4 -1). */
static void held_free(struct held *h)
{
	struct trt_syn *s = h->s;
	struct held **pp = slot(s, &h->c6, &h->d6);

	while (*pp && *pp != h)
		pp = &(*pp)->next;
	if (*pp)
		*pp = h->next;
	if (h->ev)
		event_free(h->ev);
	if (h->fd4 >= 0)
		close(h->fd4);
	s->n--;
	s->t->n_tcp--;
	free(h);
}

static void refuse_rst(struct trt_syn *s, const struct held *h)
{
	uint8_t pkt[TRT_RST6_LEN];

	if (trt_pkt_rst6(pkt, sizeof(pkt), &h->d6, &h->c6, h->seq) > 0)
		trt_raw_send(s->t, pkt, sizeof(pkt), &h->c6);
}

/* The IPv4 connect is done: let the SYN go on, or refuse it as X4 did. */
static void held_result(struct held *h, int err)
{
	struct trt_syn *s = h->s;
	struct trt_icmp6 e;

	if (err == 0) {
		verdict(s, h->id, NF_ACCEPT);
		h->state = HELD_READY;
		h->until = s->t->w->now_ms + READY_MS;
		event_free(h->ev);
		h->ev = NULL;
		return;
	}
	verdict(s, h->id, NF_DROP);
	if (err == ECONNREFUSED || err == ECONNRESET) {
		refuse_rst(s, h);
	} else if (err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN) {
		trt_pkt_icmp_map(3, 1, 0, &e);
		trt_icmp_send(s->t, &e, &h->d6, &h->c6, h->quote, h->qlen);
	}
	held_free(h);
}

static void held_cb(evutil_socket_t fd, short what, void *arg)
{
	struct held *h = arg;
	int err = 0;
	socklen_t el = sizeof(err);

	(void)what;
	trt_now(h->s->t);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	held_result(h, err);
}

static void held_new(struct trt_syn *s, uint32_t id, const struct twist_ip *ip,
                     const struct tw_addr *d4, const uint8_t *pkt, size_t len)
{
	struct trt *t = s->t;
	struct sockaddr_storage ss;
	socklen_t sl = tw_addr_to_sa(d4, &ss);
	struct held *h = calloc(1, sizeof(*h));
	struct held **sl_;

	if (h == NULL) {
		verdict(s, id, NF_DROP);
		return;
	}
	h->s = s;
	h->c6 = ip->src;
	h->d6 = ip->dst;
	h->d4 = *d4;
	h->id = id;
	h->seq = peek_u32(ip->seg + 4);
	h->qlen = len < QUOTE_MAX ? len : QUOTE_MAX;
	memcpy(h->quote, pkt, h->qlen);
	h->until = t->w->now_ms + CONNECT_MS;
	sl_ = slot(s, &h->c6, &h->d6);
	h->next = *sl_;
	*sl_ = h;
	s->n++;
	t->n_tcp++;
	h->fd4 = trt_v4_socket(t, SOCK_STREAM, &h->c6);
	if (h->fd4 < 0) {
		held_result(h, -h->fd4);
		return;
	}
	if (connect(h->fd4, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		held_result(h, errno);
		return;
	}
	h->ev = event_new(t->w->base, h->fd4, EV_WRITE, held_cb, h);
	if (h->ev == NULL || event_add(h->ev, NULL) < 0)
		held_result(h, ENOMEM);
}

static void on_syn(struct trt_syn *s, uint32_t id, const uint8_t *pkt, size_t len)
{
	struct trt *t = s->t;
	struct twist_ip ip;
	struct twist_seg seg;
	struct tw_addr d4;
	struct held *h, fake;
	enum trt_deny why;

	/* Not a plain SYN to the prefix (the rule says it is): let the kernel judge. */
	if (twist_ip_parse(pkt, len, &ip) < 0 || ip.proto != STUN_PROTO_TCP ||
	    twist_seg_parse(ip.seg, ip.seg_len, STUN_PROTO_TCP, &seg) < 0 || !seg.syn || seg.ack ||
	    ip.seg_len < 8 || trt_addr_extract(&t->cfg->trt_prefix, &ip.dst, &d4) < 0) {
		verdict(s, id, NF_ACCEPT);
		return;
	}
	h = held_find(s, &ip.src, &ip.dst);
	if (h) {
		/* Retransmitted: held, or already let through to the listener. */
		if (h->state == HELD_CONNECTING)
			trt_drop(t, TRT_DROP_SYN_HELD);
		verdict(s, id, h->state == HELD_READY ? NF_ACCEPT : NF_DROP);
		return;
	}
	why = trt_check(t, &ip.src, &d4);
	if (why == TRT_OK && (t->n_tcp >= t->cfg->trt_max_tcp || s->n >= HELD_MAX))
		why = TRT_DENY_LIMIT;
	if (why != TRT_OK) {
		trt_denied(t, TRT_TCP, &ip.src, &d4, why);
		verdict(s, id, NF_DROP);
		fake.c6 = ip.src;
		fake.d6 = ip.dst;
		fake.seq = peek_u32(ip.seg + 4);
		refuse_rst(s, &fake);
		return;
	}
	held_new(s, id, &ip, &d4, pkt, len);
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFQA_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct trt_syn *s = data;
	const struct nlattr *tb[NFQA_MAX + 1] = {0};
	const struct nfqnl_msg_packet_hdr *ph;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0 ||
	    tb[NFQA_PACKET_HDR] == NULL ||
	    mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) < sizeof(*ph))
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	if (tb[NFQA_PAYLOAD] == NULL) {
		verdict(s, ntohl(ph->packet_id), NF_ACCEPT);
		return MNL_CB_OK;
	}
	on_syn(s, ntohl(ph->packet_id), mnl_attr_get_payload(tb[NFQA_PAYLOAD]),
	       mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]));
	return MNL_CB_OK;
}

static void queue_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trt_syn *s = arg;

	(void)fd;
	(void)what;
	trt_now(s->t);
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(mnl_socket_get_fd(s->nl), s->buf, sizeof(s->buf), MSG_DONTWAIT);

		if (n <= 0)
			break; /* ENOBUFS: the kernel dropped some; those SYNs are retransmitted */
		mnl_cb_run(s->buf, (size_t)n, 0, s->portid, msg_cb, s);
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trt_syn *s = arg;
	uint64_t now = trt_now(s->t);

	(void)fd;
	(void)what;
	for (unsigned b = 0; b < HELD_BUCKETS; b++) {
		struct held *h = s->bucket[b], *next;

		for (; h; h = next) {
			next = h->next;
			if (now < h->until)
				continue;
			if (h->state == HELD_CONNECTING)
				verdict(s, h->id, NF_DROP);
			held_free(h);
		}
	}
}

int trt_syn_take(struct trt_syn *s, const struct tw_addr *c6, const struct tw_addr *d6)
{
	struct held *h = held_find(s, c6, d6);
	int fd;

	if (h == NULL || h->state != HELD_READY)
		return -ENOENT;
	fd = h->fd4;
	h->fd4 = -1;
	held_free(h);
	s->t->n_tcp++; /* still counted: trt_tcp_adopt() takes it over */
	return fd;
}

struct trt_syn *trt_syn_new(struct trt *t, unsigned queue, char *err, size_t errlen)
{
	struct trt_syn *s = calloc(1, sizeof(*s));
	struct timeval sec = {1, 0};
	int rc;

	if (s == NULL)
		return NULL;
	s->t = t;
	s->queue = queue;
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (s->nl == NULL || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "trt: nfnetlink socket: %s", strerror(errno));
		goto bad;
	}
	s->portid = mnl_socket_get_portid(s->nl);
	rc = nfq_bind(s);
	if (rc < 0) {
		snprintf(err, errlen, "trt: cannot bind NFQUEUE %u: %s%s", queue, strerror(-rc),
		         rc == -EBUSY ? " (another process holds it: another relay with this "
		                        "trt.port?)"
		                      : "");
		goto bad;
	}
	s->ev = event_new(t->w->base, mnl_socket_get_fd(s->nl), EV_READ | EV_PERSIST, queue_cb, s);
	s->tick = event_new(t->w->base, -1, EV_PERSIST, tick_cb, s);
	if (s->ev == NULL || s->tick == NULL || event_add(s->ev, NULL) < 0 ||
	    event_add(s->tick, &sec) < 0) {
		snprintf(err, errlen, "trt: out of memory");
		goto bad;
	}
	return s;
bad:
	trt_syn_free(s);
	return NULL;
}

void trt_syn_free(struct trt_syn *s)
{
	if (s == NULL)
		return;
	for (unsigned b = 0; b < HELD_BUCKETS; b++)
		while (s->bucket[b])
			held_free(s->bucket[b]);
	if (s->ev)
		event_free(s->ev);
	if (s->tick)
		event_free(s->tick);
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s);
}
