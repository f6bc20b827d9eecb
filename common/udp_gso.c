#include "common/udp_gso.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static int send_gso(int fd, const uint8_t *p, size_t len, size_t seg)
{
	union {
		char b[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl = {{0}};
	struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = ctl.b,
	                    .msg_controllen = sizeof(ctl.b)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	uint16_t sz = (uint16_t)seg;

	cm->cmsg_level = IPPROTO_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(sz));
	memcpy(CMSG_DATA(cm), &sz, sizeof(sz));
	return sendmsg(fd, &mh, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static int send_each(int fd, const uint8_t *p, size_t len, size_t seg)
{
	int ret = 0;

	for (size_t off = 0; off < len; off += seg)
		if (send(fd, p + off, len - off < seg ? len - off : seg, MSG_DONTWAIT) < 0)
			ret = -errno;
	return ret;
}

int udp_send_segs(int fd, const uint8_t *p, size_t len, size_t seg, bool *no_gso)
{
	int ret;

	if (len <= seg)
		return send(fd, p, len, MSG_DONTWAIT) < 0 ? -errno : 0;
	ret = *no_gso ? -EOPNOTSUPP : send_gso(fd, p, len, seg);
	/* EINVAL: too old, or this send's size against the MTU: try GSO again next time. */
	if (ret == -EOPNOTSUPP || ret == -EIO || ret == -EINVAL) {
		*no_gso = *no_gso || ret != -EINVAL;
		ret = send_each(fd, p, len, seg);
	}
	return ret;
}

static size_t gro_seg(struct msghdr *mh, size_t len)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int v;

		if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_GRO)
			continue;
		memcpy(&v, CMSG_DATA(cm), sizeof(v));
		return v > 0 ? (size_t)v : len;
	}
	return len;
}

ssize_t udp_recv_gro(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from, size_t *seg)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {buf, cap};
	struct msghdr mh = {.msg_name = from,
	                    .msg_namelen = from ? sizeof(*from) : 0,
	                    .msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = ctl.b,
	                    .msg_controllen = sizeof(ctl.b)};
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	*seg = gro_seg(&mh, (size_t)n);
	return n;
}

int udp_gro_on(int fd)
{
	int on = 1;

	return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) < 0 ? -errno : 0;
}
