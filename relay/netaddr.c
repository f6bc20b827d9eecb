#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "relay/netaddr.h"

int netaddr_family(const struct tw_addr *a)
{
	return a->family == TW_AF_INET6 ? AF_INET6 : AF_INET;
}

int netaddr_nonlocal(int fd, const struct tw_addr *a, bool transparent)
{
	static int warned;
	int one = 1, rc;

	rc = setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (rc == 0 && transparent) {
		if (a->family == TW_AF_INET6)
			rc = setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
		else
			rc = setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one));
	}
	if (rc == 0)
		return 0;
	rc = -errno;
	/* Only a standby binding a VIP it does not hold yet needs these: an
	 * active node works without, so this is said once, not refused. */
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		log_warn("cannot bind to addresses this node does not hold (%s): a standby "
		         "needs CAP_NET_ADMIN to pre-bind the VIP",
		         strerror(-rc));
	return rc;
}

int netaddr_close_err(int fd)
{
	int e = -errno;

	close(fd);
	return e;
}

int netaddr_socket(const struct tw_addr *a, int type)
{
	int one = 1, fd = socket(netaddr_family(a), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (a->family == TW_AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return netaddr_close_err(fd);
	return fd;
}

int netaddr_bind(int fd, const struct tw_addr *a, bool transparent)
{
	struct sockaddr_storage ss;
	socklen_t sl = tw_addr_to_sa(a, &ss);

	/* A standby binds the VIP before it holds it (DESIGN decision 2). */
	netaddr_nonlocal(fd, a, transparent);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		return netaddr_close_err(fd);
	return fd;
}
