/*
 * turnload: the data path. Paced sends (sendmmsg per session socket), the
 * client receive path (ChannelData, Data indications, control answers) and
 * the peer (one socket, recvmmsg, echo with sendmmsg).
 *
 * Every payload starts with a stamp: magic, session index, sequence number
 * (top bit: sent inside the measurement window) and the send time on
 * CLOCK_MONOTONIC. Sender and receivers are one process on one host, so the
 * peer can time the one-way trip and the client the round trip.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/chdata.h"
#include "tests/bench/turnload.h"

struct stamp {
	uint32_t magic;
	uint32_t idx;
	uint64_t seq;
	uint64_t ts;
};

static const uint8_t zeros[TL_SIZE_MAX];
static uint8_t txbuf[TL_BATCH][TL_PKT_MAX];
static struct iovec txiov[TL_BATCH];
static struct mmsghdr txmsg[TL_BATCH];

static uint8_t rxbuf[TL_BATCH][TL_PKT_MAX];
static struct iovec rxiov[TL_BATCH];
static struct mmsghdr rxmsg[TL_BATCH];
static struct sockaddr_in rxname[TL_BATCH];

int tl_sock_udp(const struct sockaddr_in *bind_to, const struct sockaddr_in *connect_to,
                int bufsize)
{
	int fd, rc;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The FORCE variants pass net.core.[rw]mem_max when we are root. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	if (bind_to && bind(fd, (const struct sockaddr *)bind_to, sizeof(*bind_to)) < 0)
		goto bad;
	if (connect_to && connect(fd, (const struct sockaddr *)connect_to, sizeof(*connect_to)) < 0)
		goto bad;
	return fd;
bad:
	rc = -errno;
	close(fd);
	return rc;
}

int tl_peer_open(struct tl_run *r)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TL_EV_PEER};
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	r->peer_fd = tl_sock_udp(&r->o.peer, NULL, 8 << 20);
	if (r->peer_fd < 0)
		return r->peer_fd;
	if (getsockname(r->peer_fd, (struct sockaddr *)&sin, &sl) < 0)
		return -errno;
	r->o.peer = sin;
	tl_port_mark(r->ports, r->peer_fd);
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->peer_fd, &ev) < 0)
		return -errno;
	return 0;
}

/* The bytes in front of every payload of this session, and the full length. */
void tl_data_prepare(struct tl_run *r, struct tl_sess *s)
{
	uint8_t tid[STUN_TID_LEN], tmp[TL_PKT_MAX];
	struct stun_wr w;
	int len;

	switch (r->o.data) {
	case TL_DATA_CHANNEL:
	case TL_DATA_BARE:
		chdata_hdr_write(s->hdr, s->chan, (uint16_t)r->o.size);
		s->hdrlen = CHDATA_HDR_LEN;
		s->pktlen = (uint16_t)(CHDATA_HDR_LEN + r->o.size);
		break;
	case TL_DATA_RAW:
		s->hdrlen = 0;
		s->pktlen = (uint16_t)r->o.size;
		break;
	case TL_DATA_SEND:
		/* No integrity in a Send indication (RFC 8656 §11.1), so the
		 * DATA value can be rewritten in place; the same transaction id
		 * for all of them is allowed for indications. */
		if (getrandom(tid, sizeof(tid), 0) != sizeof(tid))
			memset(tid, 0x5a, sizeof(tid));
		stun_wr_init(&w, tmp, sizeof(tmp), STUN_SEND, STUN_INDICATION, tid);
		stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &r->peer_tw);
		stun_wr_attr(&w, STUN_A_DATA, zeros, r->o.size);
		len = stun_wr_finish(&w);
		s->pktlen = (uint16_t)len;
		s->hdrlen = (uint8_t)(len - (int)r->o.size - (int)((4 - r->o.size % 4) % 4));
		memcpy(s->hdr, tmp, s->hdrlen);
		break;
	}
}

static void stamp_put(uint8_t *p, uint32_t idx, uint64_t seq, uint64_t ts)
{
	struct stamp st = {.magic = TL_MAGIC, .idx = idx, .seq = seq, .ts = ts};

	memcpy(p, &st, sizeof(st));
}

static void sess_send(struct tl_run *r, struct tl_sess *s, uint64_t k, uint64_t now, bool meas)
{
	while (k > 0) {
		unsigned b = k < TL_BATCH ? (unsigned)k : TL_BATCH;
		int n;

		for (unsigned i = 0; i < b; i++) {
			uint64_t seq = r->seq++ | (meas ? TL_SEQ_MEAS : 0);

			memcpy(txbuf[i], s->hdr, s->hdrlen);
			stamp_put(txbuf[i] + s->hdrlen, s->idx, seq, now);
			txiov[i].iov_base = txbuf[i];
			txiov[i].iov_len = s->pktlen;
			txmsg[i].msg_hdr = (struct msghdr){.msg_iov = &txiov[i], .msg_iovlen = 1};
		}
		n = sendmmsg(s->fd, txmsg, b, 0);
		if (n < 0)
			n = 0;
		r->sent += (unsigned)n;
		if (meas)
			r->sent_m += (unsigned)n;
		r->send_err += b - (unsigned)n;
		k -= b;
	}
}

/*
 * Sends what the schedule asks for by now, spread round-robin over the
 * sessions. A generator that fell more than 10 ms behind drops the backlog
 * (counted as unsent) rather than bursting.
 */
void tl_load_send(struct tl_run *r, uint64_t now)
{
	uint64_t due, n, burst, per, extra;
	bool meas = now >= r->t_meas;

	if (now >= r->t_stop || r->nsess == 0)
		return;
	due = (uint64_t)((double)(now - r->t_start) * 1e-9 * r->o.rate);
	if (due <= r->sched)
		return;
	n = due - r->sched;
	r->sched = due;
	burst = (uint64_t)(r->o.rate / 100);
	if (burst < TL_BATCH)
		burst = TL_BATCH;
	if (n > burst) {
		if (meas)
			r->behind += n - burst;
		n = burst;
	}
	per = n / r->nsess;
	extra = n % r->nsess;
	for (unsigned j = 0; j < r->nsess; j++) {
		struct tl_sess *s = &r->sess[(r->rr + j) % r->nsess];
		uint64_t k = per + (j < extra);

		if (k == 0)
			break;
		if (!s->data_ok) {
			if (meas)
				r->behind += k;
			continue;
		}
		sess_send(r, s, k, now, meas);
	}
	r->rr = (unsigned)((r->rr + extra) % r->nsess);
}

/* A payload arrived: count it, and time it when it was sent while measuring. */
static bool payload_in(const uint8_t *p, size_t len, uint64_t now, uint64_t *all, uint64_t *meas,
                       struct tl_hist *h, uint32_t *idx)
{
	struct stamp st;

	if (len < sizeof(st))
		return false;
	memcpy(&st, p, sizeof(st));
	if (st.magic != TL_MAGIC)
		return false;
	(*all)++;
	if (st.seq & TL_SEQ_MEAS) {
		(*meas)++;
		tl_hist_add(h, now > st.ts ? now - st.ts : 0);
	}
	*idx = st.idx;
	return true;
}

static void client_datagram(struct tl_run *r, struct tl_sess *s, const uint8_t *buf, size_t len,
                            uint64_t now)
{
	const struct stun_attr *a;
	const uint8_t *pl = buf;
	size_t pll = len, used;
	struct stun_msg m;
	uint16_t chan;
	uint32_t idx;

	if (r->o.data == TL_DATA_RAW) {
		/* nothing to strip */
	} else if (len > 0 && buf[0] >= (CHAN_MIN >> 8) && buf[0] <= (CHAN_MAX >> 8)) {
		if (chdata_parse(buf, len, false, &chan, &pl, &pll, &used) < 0 || chan != s->chan) {
			r->junk++;
			return;
		}
	} else if (stun_is_msg(buf, len) && stun_msg_parse(&m, buf, len) == 0) {
		if (m.method != STUN_DATA || m.cls != STUN_INDICATION) {
			tl_sess_input(r, s, &m);
			return;
		}
		a = stun_msg_find(&m, STUN_A_DATA);
		if (!a) {
			r->junk++;
			return;
		}
		pl = stun_attr_val(&m, a);
		pll = a->len;
	} else {
		r->junk++;
		return;
	}
	if (!payload_in(pl, pll, now, &r->rx, &r->rx_m, &r->rtt, &idx))
		r->junk++;
	else if (idx != s->idx)
		r->misrouted++;
}

static void rx_reset(unsigned n, bool names)
{
	for (unsigned i = 0; i < n; i++) {
		rxiov[i].iov_base = rxbuf[i];
		rxiov[i].iov_len = TL_PKT_MAX;
		rxmsg[i].msg_hdr = (struct msghdr){.msg_iov = &rxiov[i], .msg_iovlen = 1};
		if (names) {
			rxmsg[i].msg_hdr.msg_name = &rxname[i];
			rxmsg[i].msg_hdr.msg_namelen = sizeof(rxname[i]);
		}
	}
}

void tl_client_input(struct tl_run *r, struct tl_sess *s)
{
	/* A few batches, then back to the loop so one busy socket can't starve. */
	for (int round = 0; round < 4; round++) {
		uint64_t now;
		int n;

		rx_reset(TL_BATCH, false);
		n = recvmmsg(s->fd, rxmsg, TL_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ECONNREFUSED) {
			r->icmp_err++; /* an ICMP error on the connected socket */
			continue;
		}
		if (n <= 0)
			return;
		now = tl_now_ns();
		for (int i = 0; i < n; i++)
			client_datagram(r, s, rxbuf[i], rxmsg[i].msg_len, now);
		if (n < TL_BATCH)
			return;
	}
}

void tl_peer_input(struct tl_run *r)
{
	for (int round = 0; round < 8; round++) {
		uint64_t now;
		uint32_t idx;
		int n, done = 0;

		rx_reset(TL_BATCH, true);
		n = recvmmsg(r->peer_fd, rxmsg, TL_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		now = tl_now_ns();
		for (int i = 0; i < n; i++) {
			if (!payload_in(rxbuf[i], rxmsg[i].msg_len, now, &r->peer_rx, &r->peer_rx_m,
			                &r->owd, &idx))
				r->junk++;
			rxiov[i].iov_len = rxmsg[i].msg_len;
		}
		while (r->o.echo && done < n) {
			int k = sendmmsg(r->peer_fd, rxmsg + done, (unsigned)(n - done), 0);

			if (k <= 0) {
				r->peer_tx_err += (unsigned)(n - done);
				break;
			}
			done += k;
		}
		if (n < TL_BATCH)
			return;
	}
}

int tl_loop_once(struct tl_run *r, int timeout_ms)
{
	struct epoll_event ev[64];
	int n;

	n = epoll_wait(r->ep, ev, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		uint32_t id = ev[i].data.u32;

		if (id == TL_EV_PEER)
			tl_peer_input(r);
		else if (id < r->nsess)
			tl_client_input(r, &r->sess[id]);
	}
	return n;
}
