/*
 * One rtnetlink route request (relay/rtnl.h).
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay/rtnl.h"

struct rt_req {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[64];
};

static void rt_attr(struct rt_req *q, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)q + NLMSG_ALIGN(q->nh.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	q->nh.nlmsg_len = NLMSG_ALIGN(q->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends q and reads the kernel's ack. */
static int rtnl_talk(struct rt_req *q)
{
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	char ack[512];
	int s, rc = 0;
	ssize_t n;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (sendto(s, q, q->nh.nlmsg_len, 0, (struct sockaddr *)&nl, sizeof(nl)) < 0) {
		rc = -errno;
	} else if ((n = recv(s, ack, sizeof(ack), 0)) < (ssize_t)NLMSG_LENGTH(sizeof(int))) {
		rc = n < 0 ? -errno : -EIO;
	} else {
		struct nlmsghdr *h = (struct nlmsghdr *)ack;

		if (h->nlmsg_type == NLMSG_ERROR)
			rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	close(s);
	return rc;
}

int rtnl_route_set(const struct rtnl_route *rt, bool add)
{
	bool v6 = rt->dst.net.family == TW_AF_INET6;
	struct rt_req q;
	int oif = rt->oif;

	memset(&q, 0, sizeof(q));
	q.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	q.nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	q.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (add)
		q.nh.nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	q.nh.nlmsg_seq = 1;
	q.rt.rtm_family = v6 ? AF_INET6 : AF_INET;
	q.rt.rtm_dst_len = rt->dst.prefix;
	q.rt.rtm_table = rt->table;
	q.rt.rtm_protocol = RTPROT_STATIC;
	q.rt.rtm_scope = rt->scope;
	q.rt.rtm_type = rt->type;
	rt_attr(&q, RTA_DST, rt->dst.net.ip, v6 ? 16 : 4);
	rt_attr(&q, RTA_OIF, &oif, sizeof(oif));
	return rtnl_talk(&q);
}
