#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/addr.h"

size_t tw_addr_iplen(const struct tw_addr *a)
{
	return a->family == TW_AF_INET6 ? 16 : 4;
}

bool tw_addr_ip_eq(const struct tw_addr *a, const struct tw_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, tw_addr_iplen(a)) == 0;
}

bool tw_addr_eq(const struct tw_addr *a, const struct tw_addr *b)
{
	return a->port == b->port && tw_addr_ip_eq(a, b);
}

/* FNV-1a with a seed: cheap, and the seed keeps remote peers from choosing collisions. */
uint32_t tw_addr_hash(const struct tw_addr *a, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;
	size_t n = tw_addr_iplen(a);

	for (size_t i = 0; i < n; i++)
		h = (h ^ a->ip[i]) * 16777619u;
	h = (h ^ (a->port & 0xff)) * 16777619u;
	h = (h ^ (a->port >> 8)) * 16777619u;
	h = (h ^ a->family) * 16777619u;
	return h ^ (h >> 15);
}

int tw_addr_parse_ip(const char *s, struct tw_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->ip) == 1) {
		out->family = TW_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->ip) == 1) {
		out->family = TW_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int tw_addr_parse(const char *s, uint16_t default_port, struct tw_addr *out)
{
	char buf[TW_ADDR_STRLEN];
	const char *colon;
	uint16_t port = default_port;
	size_t n;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return -EINVAL;
		n = (size_t)(close - s - 1);
		memcpy(buf, s + 1, n);
		buf[n] = '\0';
		if (close[1] == ':') {
			if (parse_port(close + 2, &port) < 0)
				return -EINVAL;
		} else if (close[1] != '\0') {
			return -EINVAL;
		}
		if (tw_addr_parse_ip(buf, out) < 0 || out->family != TW_AF_INET6)
			return -EINVAL;
		out->port = port;
		return 0;
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':') == NULL) {
		n = (size_t)(colon - s);
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (parse_port(colon + 1, &port) < 0 || tw_addr_parse_ip(buf, out) < 0 ||
		    out->family != TW_AF_INET)
			return -EINVAL;
		out->port = port;
		return 0;
	}
	if (tw_addr_parse_ip(s, out) < 0)
		return -EINVAL;
	out->port = port;
	return 0;
}

int tw_cidr_parse(const char *s, struct tw_cidr *out)
{
	char buf[TW_ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	unsigned max;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!slash) {
		if (tw_addr_parse_ip(s, &out->net) < 0)
			return -EINVAL;
		out->prefix = out->net.family == TW_AF_INET ? 32 : 128;
		return 0;
	}
	n = (size_t)(slash - s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (tw_addr_parse_ip(buf, &out->net) < 0)
		return -EINVAL;
	max = out->net.family == TW_AF_INET ? 32 : 128;
	{
		char *end;
		unsigned long v;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(slash + 1, &end, 10);
		if (errno || *end != '\0' || v > max)
			return -EINVAL;
		out->prefix = (uint8_t)v;
	}
	/* Host bits set is almost always a typo in an ACL: refuse it. */
	for (unsigned bit = out->prefix; bit < max; bit++)
		if (out->net.ip[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	return 0;
}

bool tw_cidr_match(const struct tw_cidr *c, const struct tw_addr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->net.family != a->family)
		return false;
	if (memcmp(c->net.ip, a->ip, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((c->net.ip[full] & mask) != (a->ip[full] & mask))
			return false;
	}
	return true;
}

const char *tw_addr_fmt_ip(const struct tw_addr *a, char *buf, size_t len)
{
	int af = a->family == TW_AF_INET6 ? AF_INET6 : AF_INET;

	if (a->family == 0 || !inet_ntop(af, a->ip, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *tw_addr_fmt(const struct tw_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	tw_addr_fmt_ip(a, ip, sizeof(ip));
	if (a->family == TW_AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, len, "%s:%u", ip, a->port);
	return buf;
}

socklen_t tw_addr_to_sa(const struct tw_addr *a, struct sockaddr_storage *ss)
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

int tw_addr_from_sa(const struct sockaddr *sa, struct tw_addr *a)
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
