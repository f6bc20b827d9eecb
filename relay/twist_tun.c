#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "relay/rtnl.h"
#include "relay/twist_tun.h"

/* Without forwarding the kernel drops what we write to the TUN: say so. */
static int forwarding_on(const char *path, const char *key, char *err, size_t errlen)
{
	char v = '0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &v, 1) != 1)
			v = '0';
		close(fd);
	}
	if (v == '1')
		return 0;
	snprintf(err, errlen,
	         "twist: IP forwarding is off (%s = %c); TWIST needs it: sysctl -w %s=1", key, v,
	         key);
	return -EPERM;
}

static int tun_create(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		snprintf(err, errlen, "twist: /dev/net/tun: %s", strerror(errno));
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	/* A virtio_net_hdr on every read and write: our writes may be TSO
	 * super-packets (proto/tso_gather.c), and so may our reads (below). */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		snprintf(err, errlen, "twist: cannot create TUN device %s: %s%s", name, strerror(e),
		         e == EPERM ? " (needs CAP_NET_ADMIN)" : "");
		close(fd);
		return -e;
	}
	/*
	 * Offloads toward us: a peer's bulk TCP comes up as 64 KB super-packets
	 * and checksums may be left partial (twist_peer.c's tun_packet cuts
	 * and completes them). Best effort: without them reads are whole
	 * packets with their checksums, as the kernel makes them.
	 */
	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) < 0)
		log_info("twist: TUN %s takes no TSO (%s): peer segments come one by one", name,
		         strerror(errno));
	return fd;
}

/* Up, and its index for the routes. */
static int link_up(const char *name, int *ifindex)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!rc && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	if (!rc && ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		rc = -errno;
	*ifindex = ifr.ifr_ifindex;
	close(s);
	return rc;
}

/* A host route for a into the device. */
static int route_add(const struct tw_addr *a, int ifindex)
{
	struct rtnl_route rt = {.table = RT_TABLE_MAIN,
	                        .type = RTN_UNICAST,
	                        .scope = RT_SCOPE_LINK,
	                        .oif = ifindex};

	rt.dst.net = *a;
	rt.dst.prefix = (uint8_t)(tw_addr_iplen(a) * 8);
	return rtnl_route_set(&rt, true);
}

int twist_tun_open(const char *name, const struct tw_addr *a4, const struct tw_addr *a6, char *err,
                   size_t errlen)
{
	const struct tw_addr *addrs[2] = {a4, a6};
	char ab[TW_ADDR_STRLEN];
	int fd, ifindex = 0, rc;

	if (a4->family &&
	    forwarding_on("/proc/sys/net/ipv4/ip_forward", "net.ipv4.ip_forward", err, errlen) < 0)
		return -EPERM;
	if (a6->family && forwarding_on("/proc/sys/net/ipv6/conf/all/forwarding",
	                                "net.ipv6.conf.all.forwarding", err, errlen) < 0)
		return -EPERM;
	fd = tun_create(name, err, errlen);
	if (fd < 0)
		return fd;
	rc = link_up(name, &ifindex);
	if (rc < 0) {
		snprintf(err, errlen, "twist: cannot bring %s up: %s", name, strerror(-rc));
		close(fd);
		return rc;
	}
	for (unsigned i = 0; i < 2; i++) {
		if (!addrs[i]->family)
			continue;
		rc = route_add(addrs[i], ifindex);
		if (rc < 0) {
			snprintf(err, errlen, "twist: cannot route %s into %s: %s",
			         tw_addr_fmt_ip(addrs[i], ab, sizeof(ab)), name, strerror(-rc));
			close(fd);
			return rc;
		}
	}
	return fd;
}
