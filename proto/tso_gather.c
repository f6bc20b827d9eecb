#include "proto/tso_gather.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/twist.h"

#define GSO_MAX_LEN  65000 /* TCP header and payloads: an IP packet's room, less margin */
#define GSO_MAX_SEGS 64
#define TCP_PSH      0x08
#define TCP_ACK      0x10

struct tso_gather {
	const void *owner; /* NULL while nothing is held */
	struct tw_addr src, dst;
	size_t thl, mss, len, n;
	uint32_t seq; /* the sequence number the next segment must have */
	bool closed;  /* the last one was short or pushed: nothing may follow */
	uint8_t buf[GSO_MAX_LEN];
};

struct tso_gather *tso_gather_new(void)
{
	return calloc(1, sizeof(struct tso_gather));
}

void tso_gather_free(struct tso_gather *g)
{
	free(g);
}

static int write_plain(int fd, const uint8_t *hdr, size_t hl, const uint8_t *seg, size_t len)
{
	/* All zero: one packet, its checksum the client's own. */
	struct virtio_net_hdr vh = {0};
	struct iovec iov[3] = {{&vh, sizeof(vh)}, {(void *)hdr, hl}, {(void *)seg, len}};

	return writev(fd, iov, 3) < 0 ? -errno : 0;
}

int tso_gather_flush(struct tso_gather *g, int fd)
{
	struct virtio_net_hdr vh = {0};
	uint8_t hdr[40];
	struct iovec iov[3] = {{&vh, sizeof(vh)}, {hdr, 0}, {g->buf, g->len}};
	int ret = 0, hl;

	if (!g->owner)
		return 0;
	hl = twist_ip_hdr(hdr, sizeof(hdr), &g->src, &g->dst, STUN_PROTO_TCP, g->len);
	iov[1].iov_len = hl > 0 ? (size_t)hl : 0;
	if (hl < 0) {
		ret = -EINVAL;
	} else if (g->n > 1) {
		/* Only here does the relay touch a checksum: the super-packet's. */
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = g->src.family == TW_AF_INET6 ? VIRTIO_NET_HDR_GSO_TCPV6
		                                           : VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = (uint16_t)(hl + g->thl);
		vh.gso_size = (uint16_t)g->mss;
		vh.csum_start = (uint16_t)hl;
		vh.csum_offset = 16;
		put_u16(g->buf + 16, twist_l4_pseudo(&g->src, &g->dst, STUN_PROTO_TCP, g->len));
	}
	if (!ret && writev(fd, iov, 3) < 0)
		ret = -errno;
	g->owner = NULL;
	g->n = g->len = 0;
	return ret;
}

/* The same connection state as what is held: all but sequence number, checksum, PSH. */
static bool same_hdr(const struct tso_gather *g, const uint8_t *seg, size_t thl)
{
	const uint8_t *h = g->buf;

	return thl == g->thl && !memcmp(h, seg, 4) && !memcmp(h + 8, seg + 8, 5) &&
	       !memcmp(h + 14, seg + 14, 2) && !memcmp(h + 18, seg + 18, thl - 18);
}

static bool fits(const struct tso_gather *g, const void *owner, const struct tw_addr *src,
                 const struct tw_addr *dst, const uint8_t *seg, size_t thl, size_t pay)
{
	return g->owner == owner && !g->closed && g->n < GSO_MAX_SEGS && pay <= g->mss &&
	       g->len + pay <= GSO_MAX_LEN && peek_u32(seg + 4) == g->seq &&
	       same_hdr(g, seg, thl) && tw_addr_ip_eq(&g->src, src) && tw_addr_ip_eq(&g->dst, dst);
}

static void hold(struct tso_gather *g, const void *owner, const struct tw_addr *src,
                 const struct tw_addr *dst, const uint8_t *seg, size_t thl, size_t pay)
{
	g->owner = owner;
	g->src = *src;
	g->dst = *dst;
	g->thl = thl;
	g->mss = pay;
	g->n = 1;
	memcpy(g->buf, seg, thl + pay);
	g->len = thl + pay;
	g->seq = peek_u32(seg + 4) + (uint32_t)pay;
	g->closed = false;
}

int tso_gather_put(struct tso_gather *g, int fd, const void *owner, const struct tw_addr *src,
                   const struct tw_addr *dst, uint8_t proto, const uint8_t *seg, size_t len)
{
	uint8_t hdr[40];
	size_t thl = proto == STUN_PROTO_TCP && len >= 20 ? (size_t)(seg[12] >> 4) * 4 : 0;
	size_t pay = thl >= 20 && thl <= len ? len - thl : 0;
	/* Data with ACK (and maybe PSH) only: SYN, FIN, RST, URG, ECN go alone. */
	bool plain_data = pay && (seg[13] & ~TCP_PSH) == TCP_ACK;
	int ret = 0, hl;

	if (plain_data && fits(g, owner, src, dst, seg, thl, pay)) {
		memcpy(g->buf + g->len, seg + thl, pay);
		g->len += pay;
		g->n++;
		g->seq += (uint32_t)pay;
		g->closed = pay < g->mss || (seg[13] & TCP_PSH);
		g->buf[13] |= seg[13] & TCP_PSH; /* the kernel leaves it on the last */
		return 0;
	}
	ret = tso_gather_flush(g, fd);
	if (plain_data && !(seg[13] & TCP_PSH)) {
		hold(g, owner, src, dst, seg, thl, pay);
		return ret;
	}
	hl = twist_ip_hdr(hdr, sizeof(hdr), src, dst, proto, len);
	if (hl < 0)
		return -EINVAL;
	return write_plain(fd, hdr, (size_t)hl, seg, len) ?: ret;
}
