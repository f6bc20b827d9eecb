/*
 * --anycast table:N: the service's host routes (the anycast /32 and /128)
 * in kernel table N, through a TUN device that only this process holds.
 * BIRD's kernel protocol learns table N and its BGP protocols export those
 * routes upstream (deploy/bird/). Adding the routes announces the site,
 * deleting them withdraws it.
 *
 * Why a TUN device: it is not persistent, so when twist-ha dies, however
 * it dies, the kernel deletes the device and every route through it, BIRD
 * sees the deletion and withdraws. A dead twist-ha therefore never leaves
 * a site announced on health it no longer checks (docs/operations.md,
 * "Multi-site", weighs this against birdc enable/disable). Nothing is ever
 * sent through the device: the node answers on the address it holds on
 * its own interface, and the route only carries the announcement.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ha/ha.h"

struct ha_anycast_io {
	int tun_fd;
	unsigned ifindex;
	struct mnl_socket *nl;
	uint32_t seq;
};

/* One request, one acknowledgement: 0 or the kernel's -errno. */
static int rtnl_request(struct ha_anycast_io *io, struct nlmsghdr *req)
{
	char ack[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = ++io->seq;
	if (mnl_socket_sendto(io->nl, req, req->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(io->nl, ack, sizeof(ack));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(ack, (size_t)n, req->nlmsg_seq, mnl_socket_get_portid(io->nl), NULL, NULL) <
	    0)
		return -errno;
	return 0;
}

static int device_up(struct ha_anycast_io *io)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *req = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	req->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(req, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)io->ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return rtnl_request(io, req);
}

/* RTM_NEWROUTE or RTM_DELROUTE of one host route through our device. */
static int route_change(struct ha_anycast_io *io, uint32_t table, const struct ha_prefix *p,
                        bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *req = mnl_nlmsg_put_header(buf);
	size_t alen = p->family == AF_INET6 ? 16 : 4;
	struct rtmsg *rtm;

	req->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	if (add)
		req->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(req, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)p->family;
	rtm->rtm_dst_len = (uint8_t)(alen * 8);
	/* rtm_table is 8 bits; RTA_TABLE carries the whole number. */
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(req, RTA_TABLE, table);
	mnl_attr_put(req, RTA_DST, alen, p->addr);
	mnl_attr_put_u32(req, RTA_OIF, io->ifindex);
	return rtnl_request(io, req);
}

static void io_free(struct ha_anycast_io *io)
{
	if (!io)
		return;
	if (io->nl)
		mnl_socket_close(io->nl);
	/* Closing the last descriptor deletes the device and its routes. */
	if (io->tun_fd >= 0)
		close(io->tun_fd);
	free(io);
}

static int io_open(const char *dev, struct ha_anycast_io **out)
{
	struct ha_anycast_io *io = calloc(1, sizeof(*io));
	struct ifreq ifr;
	int rc;

	if (!io)
		return -ENOMEM;
	io->tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (io->tun_fd < 0)
		goto bad;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	/* EBUSY: another twist-ha holds it. */
	if (ioctl(io->tun_fd, TUNSETIFF, &ifr) < 0)
		goto bad;
	io->ifindex = if_nametoindex(ifr.ifr_name);
	io->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!io->ifindex || !io->nl || mnl_socket_bind(io->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto bad;
	io->seq = (uint32_t)time(NULL);
	rc = device_up(io);
	if (rc < 0) {
		errno = -rc;
		goto bad;
	}
	*out = io;
	return 0;
bad:
	rc = errno ? -errno : -EIO;
	io_free(io);
	return rc;
}

int ha_anycast_init(struct ha *h)
{
	int rc;

	if (!h->cfg.have_anycast)
		return 0;
	rc = io_open(h->cfg.anycast_dev, &h->any);
	if (rc < 0) {
		log_err("anycast: cannot hold device %s: %s", h->cfg.anycast_dev, strerror(-rc));
		return rc;
	}
	log_info("anycast: device %s, table %u, %u prefixes, withdrawn until healthy",
	         h->cfg.anycast_dev, h->cfg.anycast_table, h->cfg.n_prefixes);
	return 0;
}

/* Every prefix, or none: 0, or the first error (the rest are still tried). */
static int routes_set(struct ha *h, bool add)
{
	int rc = 0;

	for (unsigned i = 0; i < h->cfg.n_prefixes; i++) {
		int r = route_change(h->any, h->cfg.anycast_table, &h->cfg.prefixes[i], add);

		/* Deleting what is already gone is done. */
		if (!add && (r == -ESRCH || r == -ENOENT))
			r = 0;
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

static enum ha_anycast decide(const struct ha *h)
{
	struct ha_anycast_in in = {
	        .fail_after = h->cfg.fail_after,
	        .syncd = h->cfg.have_syncd,
	        .announced = h->announced,
	        .relay = &h->relay.probe,
	        .relay_ready = &h->relay_ready.probe,
	        .serving = &h->serving.probe,
	        .syncd_health = &h->syncd_health.probe,
	        .syncd_ready = &h->syncd_ready.probe,
	        .standby = &h->standby.probe,
	        .state = h->state,
	};

	return ha_anycast_decide(&in);
}

void ha_anycast_update(struct ha *h)
{
	enum ha_anycast why;
	bool want;
	int rc;

	if (!h->any)
		return;
	why = decide(h);
	want = why == ANYCAST_ANNOUNCE;
	if (!h->any_decided || why != h->any_reason)
		h->any_reasons[why]++;
	h->any_reason = why;
	h->any_decided = true;
	if (want == h->announced)
		return;
	rc = routes_set(h, want);
	if (rc < 0) {
		/* Retried on the next answer; a half-done withdrawal is redone whole. */
		h->any_failures++;
		log_err("anycast: cannot %s the routes in table %u: %s", want ? "add" : "delete",
		        h->cfg.anycast_table, strerror(-rc));
		if (!want)
			return;
		routes_set(h, false);
		return;
	}
	h->announced = want;
	h->any_changes[want]++;
	if (want)
		log_info("anycast: announced (relay up, ready and serving)");
	else
		log_info("anycast: withdrawn (%s)", ha_anycast_name(why));
}

void ha_anycast_fini(struct ha *h)
{
	if (!h->any)
		return;
	if (h->announced && routes_set(h, false) == 0)
		log_info("anycast: withdrawn (stopping)");
	h->announced = false;
	io_free(h->any);
	h->any = NULL;
}
