#include "client/tc_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/fib_rules.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int nl_family(uint8_t tw_family)
{
	return tw_family == TW_AF_INET6 ? AF_INET6 : AF_INET;
}

/* Sends one request and waits for its acknowledgement: 0 or the kernel's -errno. */
static int nl_talk(struct tc_tun *t, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t portid = mnl_socket_get_portid(t->nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++t->seq;
	if (mnl_socket_sendto(t->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(t->nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL);
	return ret < 0 ? -errno : 0;
}

/*
 * The host stack may then hand us TCP super-packets (up to 64 KB, cut by
 * us, not per 1,400 bytes by the kernel) and skip checksums we recompute
 * anyway. Without TSO, checksum offload alone; without either, plain
 * packets behind a zero header.
 */
static void offload_on(struct tc_tun *t)
{
	int hdr = (int)sizeof(struct virtio_net_hdr);

	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return;
	if (ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0)
		t->tso = true;
	else
		(void)ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM);
}

int tc_tun_open(struct tc_tun *t, const char *name)
{
	struct ifreq ifr;
	int err;

	memset(t, 0, sizeof(*t));
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return errno == EACCES ? -EPERM : -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0)
		goto bad;
	t->vnet = true;
	offload_on(t);
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	t->ifindex = (int)if_nametoindex(t->name);
	t->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!t->ifindex || !t->nl || mnl_socket_bind(t->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto bad;
	t->seq = (uint32_t)time(NULL);
	return 0;
bad:
	err = errno ? -errno : -EIO;
	tc_tun_close(t);
	return err;
}

static int link_set(struct tc_tun *t, uint16_t mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = t->ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(t, nlh);
}

static int addr_add(struct tc_tun *t, const struct tw_addr *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t alen = tw_addr_iplen(a);

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)nl_family(a->family);
	ifa->ifa_prefixlen = (uint8_t)(alen * 8);
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)t->ifindex;
	/* No duplicate address detection: a host route to a point-to-point
	 * device has no neighbours, and the address must work at once. */
	ifa->ifa_flags = a->family == TW_AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, alen, a->ip);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a->ip);
	return nl_talk(t, nlh);
}

int tc_tun_setup(struct tc_tun *t, uint16_t mtu, const struct tw_addr *a4, const struct tw_addr *a6)
{
	int ret = link_set(t, mtu);

	if (ret == 0 && a4 && a4->family)
		ret = addr_add(t, a4);
	if (ret == 0 && a6 && a6->family)
		ret = addr_add(t, a6);
	return ret;
}

static int route_msg(struct tc_tun *t, uint16_t type, uint16_t flags, const struct tw_cidr *c,
                     const struct tw_addr *src, uint32_t table)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	size_t alen = tw_addr_iplen(&c->net);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)nl_family(c->net.family);
	rtm->rtm_dst_len = c->prefix;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (c->prefix)
		mnl_attr_put(nlh, RTA_DST, alen, c->net.ip);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)t->ifindex);
	if (src && src->family == c->net.family)
		mnl_attr_put(nlh, RTA_PREFSRC, alen, src->ip);
	return nl_talk(t, nlh);
}

int tc_tun_route_add(struct tc_tun *t, const struct tw_cidr *c, const struct tw_addr *src)
{
	int ret;

	if (t->nroutes >= TC_MAX_ROUTES)
		return -ENOSPC;
	ret = route_msg(t, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, c, src, RT_TABLE_MAIN);
	if (ret == 0)
		t->routes[t->nroutes++] = *c;
	return ret;
}

static int rule_msg(struct tc_tun *t, uint16_t type, uint16_t flags, const struct tw_addr *src)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;
	size_t alen = tw_addr_iplen(src);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)nl_family(src->family);
	frh->src_len = (uint8_t)(alen * 8);
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put(nlh, FRA_SRC, alen, src->ip);
	mnl_attr_put_u32(nlh, FRA_TABLE, TC_TUN_TABLE);
	return nl_talk(t, nlh);
}

int tc_tun_source_route(struct tc_tun *t, const struct tw_addr *src)
{
	struct tw_cidr all = {.net = {.family = src->family}, .prefix = 0};
	int ret;

	if (t->nrules >= 2)
		return -ENOSPC;
	ret = route_msg(t, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &all, src, TC_TUN_TABLE);
	if (ret == 0)
		ret = rule_msg(t, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, src);
	if (ret == 0)
		t->rules[t->nrules++] = *src;
	return ret;
}

void tc_tun_close(struct tc_tun *t)
{
	for (size_t i = 0; t->nl && i < t->nrules; i++)
		rule_msg(t, RTM_DELRULE, 0, &t->rules[i]);
	t->nrules = 0;
	for (size_t i = 0; t->nl && i < t->nroutes; i++)
		route_msg(t, RTM_DELROUTE, 0, &t->routes[i], NULL, RT_TABLE_MAIN);
	t->nroutes = 0;
	if (t->nl)
		mnl_socket_close(t->nl);
	t->nl = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
