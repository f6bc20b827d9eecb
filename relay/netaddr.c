#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "relay/netaddr.h"

int netaddr_family(const struct tw_addr *a)
{
	return a->family == TW_AF_INET6 ? AF_INET6 : AF_INET;
}

socklen_t netaddr_to_sa(const struct tw_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == TW_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->ip, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(a->port);
	memcpy(&s4->sin_addr, a->ip, 4);
	return sizeof(*s4);
}

int netaddr_from_sa(const struct sockaddr *sa, struct tw_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		a->family = TW_AF_INET;
		a->port = ntohs(s4->sin_port);
		memcpy(a->ip, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		a->family = TW_AF_INET6;
		a->port = ntohs(s6->sin6_port);
		memcpy(a->ip, &s6->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

void netaddr_nonlocal(int fd, const struct tw_addr *a, bool transparent)
{
	int one = 1;

	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (!transparent)
		return;
	if (a->family == TW_AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one));
}
