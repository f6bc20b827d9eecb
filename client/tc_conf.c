#include "client/tc_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/stun.h"
#include "proto/twist.h"

/* Host-local by default: nobody outside ever sees them, the shim rewrites them. */
#define TC_TUN_ADDR4 "169.254.87.1"
#define TC_TUN_ADDR6 "fd74:7769:7374::1"

void tc_conf_defaults(struct tc_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->tun, sizeof(c->tun), "twc0");
	tw_addr_parse_ip(TC_TUN_ADDR4, &c->tun_addr4);
	tw_addr_parse_ip(TC_TUN_ADDR6, &c->tun_addr6);
	c->mtu = 1400;
	c->keepalive = TWIST_KA_NATT;
	c->udp_idle_s = 60;
	c->tcp_idle_s = 3600;
	c->tcp_grace_s = 5;
	c->max_flows = 1024;
	c->log_level = LOG_LVL_INFO;
}

static int bad(char *err, size_t errlen, const char *key, const char *val, const char *why)
{
	snprintf(err, errlen, "%s %s: %s", key, val, why);
	return -EINVAL;
}

static int set_str(char *dst, size_t cap, const char *key, const char *val, char *err,
                   size_t errlen)
{
	if (strlen(val) >= cap || !*val)
		return bad(err, errlen, key, val, "empty or too long");
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

static int set_uint(unsigned *dst, unsigned lo, unsigned hi, const char *key, const char *val,
                    char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || end == val || *end || v < lo || v > hi)
		return bad(err, errlen, key, val, "not a number in range");
	*dst = (unsigned)v;
	return 0;
}

static int set_listen(struct tc_conf *c, const char *val, char *err, size_t errlen)
{
	struct tc_listen *l = &c->listen[c->nlisten];
	unsigned port;
	const char *p;

	if (c->nlisten >= TC_MAX_LISTEN)
		return bad(err, errlen, "listen", val, "too many");
	if (!strncmp(val, "tcp:", 4))
		l->proto = STUN_PROTO_TCP;
	else if (!strncmp(val, "udp:", 4))
		l->proto = STUN_PROTO_UDP;
	else
		return bad(err, errlen, "listen", val, "want tcp:PORT or udp:PORT");
	p = val + 4;
	if (set_uint(&port, 1, 65535, "listen", p, err, errlen) < 0)
		return -EINVAL;
	l->port = (uint16_t)port;
	c->nlisten++;
	return 0;
}

static int set_route(struct tc_conf *c, const char *val, char *err, size_t errlen)
{
	if (c->nroutes >= TC_MAX_ROUTES)
		return bad(err, errlen, "route", val, "too many");
	if (tw_cidr_parse(val, &c->routes[c->nroutes]) < 0)
		return bad(err, errlen, "route", val, "not a prefix (host bits must be 0)");
	c->nroutes++;
	return 0;
}

static int set_nat64(struct tc_conf *c, const char *val, char *err, size_t errlen)
{
	struct tw_cidr *p = &c->xlate.nat64_pfx;

	if (tw_cidr_parse(val, p) < 0 || p->net.family != TW_AF_INET6 || p->prefix != 96)
		return bad(err, errlen, "nat64", val, "want an IPv6 /96 (RFC 6052)");
	c->xlate.nat64 = true;
	return 0;
}

static int set_map(struct tc_conf *c, const char *val, char *err, size_t errlen)
{
	char local[TW_ADDR_STRLEN];
	const char *eq = strchr(val, '=');
	struct tc_xlate *x = &c->xlate;

	if (x->nmap >= TC_MAX_MAP)
		return bad(err, errlen, "map", val, "too many");
	if (!eq || (size_t)(eq - val) >= sizeof(local))
		return bad(err, errlen, "map", val, "want LOCAL=PEER");
	memcpy(local, val, (size_t)(eq - val));
	local[eq - val] = '\0';
	if (tw_addr_parse_ip(local, &x->map[x->nmap].local) < 0 ||
	    x->map[x->nmap].local.family != TW_AF_INET ||
	    tw_addr_parse_ip(eq + 1, &x->map[x->nmap].peer) < 0 ||
	    x->map[x->nmap].peer.family != TW_AF_INET6)
		return bad(err, errlen, "map", val, "want IPv4=IPv6");
	x->nmap++;
	return 0;
}

static int set_ip(struct tw_addr *a, uint8_t family, const char *key, const char *val, char *err,
                  size_t errlen)
{
	if (!strcmp(val, "none")) {
		memset(a, 0, sizeof(*a));
		return 0;
	}
	if (tw_addr_parse_ip(val, a) < 0 || a->family != family)
		return bad(err, errlen, key, val, "not an address of that family");
	return 0;
}

static int set_keepalive(struct tc_conf *c, const char *val, char *err, size_t errlen)
{
	if (!strcmp(val, "natt"))
		c->keepalive = TWIST_KA_NATT;
	else if (!strcmp(val, "binding"))
		c->keepalive = TWIST_KA_BINDING;
	else
		return bad(err, errlen, "keepalive", val, "want natt or binding");
	return 0;
}

int tc_conf_set(struct tc_conf *c, const char *key, const char *val, char *err, size_t errlen)
{
	unsigned v;
	int ret;

	if (!strcmp(key, "server")) {
		if (c->nservers >= TC_MAX_SERVERS)
			return bad(err, errlen, key, val, "too many (8 at most)");
		ret = set_str(c->servers[c->nservers], TC_STR_MAX, key, val, err, errlen);
		if (ret == 0)
			c->nservers++;
		return ret;
	}
	if (!strcmp(key, "user"))
		return set_str(c->user, sizeof(c->user), key, val, err, errlen);
	if (!strcmp(key, "password"))
		return set_str(c->password, sizeof(c->password), key, val, err, errlen);
	if (!strcmp(key, "tun"))
		return set_str(c->tun, sizeof(c->tun), key, val, err, errlen);
	if (!strcmp(key, "tun-addr4"))
		return set_ip(&c->tun_addr4, TW_AF_INET, key, val, err, errlen);
	if (!strcmp(key, "tun-addr6"))
		return set_ip(&c->tun_addr6, TW_AF_INET6, key, val, err, errlen);
	if (!strcmp(key, "route"))
		return set_route(c, val, err, errlen);
	if (!strcmp(key, "listen"))
		return set_listen(c, val, err, errlen);
	if (!strcmp(key, "nat64"))
		return set_nat64(c, val, err, errlen);
	if (!strcmp(key, "map"))
		return set_map(c, val, err, errlen);
	if (!strcmp(key, "keepalive"))
		return set_keepalive(c, val, err, errlen);
	if (!strcmp(key, "log-level")) {
		if (log_level_parse(val, &c->log_level) < 0)
			return bad(err, errlen, key, val, "want error, warn, info or debug");
		return 0;
	}
	if (!strcmp(key, "mtu")) {
		/* 1280: the IPv6 minimum (RFC 8200 §5); the outer headers must still fit 1500. */
		ret = set_uint(&v, 1280, 1440, key, val, err, errlen);
		if (ret == 0)
			c->mtu = (uint16_t)v;
		return ret;
	}
	if (!strcmp(key, "udp-idle"))
		return set_uint(&c->udp_idle_s, 1, 86400, key, val, err, errlen);
	if (!strcmp(key, "tcp-idle"))
		return set_uint(&c->tcp_idle_s, 1, 86400, key, val, err, errlen);
	if (!strcmp(key, "max-flows")) {
		ret = set_uint(&v, 1, 65536, key, val, err, errlen);
		if (ret == 0)
			c->max_flows = v;
		return ret;
	}
	snprintf(err, errlen, "unknown setting %s", key);
	return -EINVAL;
}

int tc_conf_check(const struct tc_conf *c, char *err, size_t errlen)
{
	if (!c->nservers || !*c->user || !*c->password) {
		snprintf(err, errlen, "--server, --user and --password are required");
		return -EINVAL;
	}
	if (!c->nroutes && !c->nlisten && !c->xlate.nat64 && !c->xlate.nmap) {
		snprintf(err, errlen, "nothing to do: give --route, --listen, --nat64 or --map");
		return -EINVAL;
	}
	if (c->nlisten && !c->tun_addr4.family) {
		snprintf(err, errlen,
		         "--listen delivers to the TUN's IPv4 address: set --tun-addr4");
		return -EINVAL;
	}
	return 0;
}
