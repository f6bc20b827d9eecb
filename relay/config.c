/*
 * YAML to struct config: the schema (sections, keys, defaults) and the
 * values that need more than a scalar. The reader itself is
 * relay/config_yaml.c; with it, the only files that include libyaml.
 *
 * Only representability is checked here (a port fits in 16 bits, an
 * address parses). Ranges and relations between keys are config_check.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "relay/config.h"
#include "relay/config_yaml.h"

#define DEFAULT_LISTEN_PORT  3478
#define DEFAULT_METRICS_PORT 9641

static int value_transports(struct yp *p, const struct key *k, void *base)
{
	struct cfg_listen *l = base;
	yaml_mark_t start = p->ev.start_mark;
	bool udp = false, tcp = false, tls = false, ws = false, wss = false, dtls = false, *t;
	char s[CFG_STR];
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (yp_scalar_text(p, k->name, "udp, tcp, tls, ws, wss or dtls", s, sizeof(s)) < 0)
			return -1;
		if (strcmp(s, "udp") == 0)
			t = &udp;
		else if (strcmp(s, "tcp") == 0)
			t = &tcp;
		else if (strcmp(s, "tls") == 0)
			t = &tls;
		else if (strcmp(s, "ws") == 0)
			t = &ws;
		else if (strcmp(s, "wss") == 0)
			t = &wss;
		else if (strcmp(s, "dtls") == 0)
			t = &dtls;
		else
			return yp_fail(
			        p, p->ev.start_mark,
			        "unknown transport '%s' (expected udp, tcp, tls, ws, wss or dtls)",
			        s);
		if (*t)
			return yp_fail(p, p->ev.start_mark, "duplicate transport '%s'", s);
		*t = true;
	}
	if (rc < 0)
		return -1;
	if (!udp && !tcp && !tls && !ws && !wss && !dtls)
		return yp_fail(p, start, "'transports' is empty");
	l->udp = udp;
	l->tcp = tcp;
	l->tls = tls;
	l->ws = ws;
	l->wss = wss;
	l->dtls = dtls;
	return 0;
}

static const struct key listen_keys[] = {
        {CFG_FIELD("address", yp_value_ip, struct cfg_listen, addr, 0, 0), .required = true},
        {CFG_FIELD("port", yp_value_u16, struct cfg_listen, addr.port, 1, UINT16_MAX)},
        {.name = "transports", .parse = value_transports},
};

static int value_listen(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	struct cfg_listen *l;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_listen == CFG_MAX_LISTEN)
			return yp_fail(p, p->ev.start_mark, "too many listeners (max %d)",
			               CFG_MAX_LISTEN);
		l = &cfg->listen[cfg->n_listen];
		memset(l, 0, sizeof(*l));
		l->addr.port = DEFAULT_LISTEN_PORT;
		l->udp = l->tcp = true;
		if (yp_map_parse(p, "listen", listen_keys, nitems(listen_keys), l) < 0)
			return -1;
		cfg->n_listen++;
	}
	return rc;
}

static int value_relay_addresses(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_relay == CFG_MAX_RELAY)
			return yp_fail(p, p->ev.start_mark, "too many relay addresses (max %d)",
			               CFG_MAX_RELAY);
		if (yp_scalar_ip(p, k->name, &cfg->relay[cfg->n_relay]) < 0)
			return -1;
		cfg->n_relay++;
	}
	return rc;
}

static int value_ws_origins(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	char *o;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_ws_origins == CFG_MAX_WS_ORIGINS)
			return yp_fail(p, p->ev.start_mark, "too many origins (max %d)",
			               CFG_MAX_WS_ORIGINS);
		o = cfg->ws_origins[cfg->n_ws_origins];
		if (yp_scalar_text(p, k->name, "an origin", o, CFG_STR) < 0)
			return -1;
		cfg->n_ws_origins++;
	}
	return rc;
}

static const struct key user_keys[] = {
        {CFG_FIELD("name", yp_value_str, struct cfg_user, name, 0, 0), .required = true},
        {CFG_FIELD("password", yp_value_str, struct cfg_user, password, 0, 0), .required = true},
};

static int value_users(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	struct cfg_user *u;
	size_t cap = 0;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_users == CFG_MAX_USERS)
			return yp_fail(p, p->ev.start_mark, "too many users (max %d)",
			               CFG_MAX_USERS);
		if (cfg->n_users == cap) {
			cap = cap ? cap * 2 : 16;
			if (cap > CFG_MAX_USERS)
				cap = CFG_MAX_USERS;
			if ((u = reallocarray(cfg->users, cap, sizeof(*u))) == NULL)
				return yp_fail(p, p->ev.start_mark, "out of memory");
			cfg->users = u;
		}
		u = &cfg->users[cfg->n_users];
		memset(u, 0, sizeof(*u));
		if (yp_map_parse(p, "auth.users", user_keys, nitems(user_keys), u) < 0)
			return -1;
		cfg->n_users++;
	}
	return rc;
}

static int cidrs_parse(struct yp *p, const char *name, struct tw_cidr *list, unsigned *n)
{
	char s[TW_ADDR_STRLEN];
	int rc;

	if (yp_seq_begin(p, name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (*n == CFG_MAX_CIDRS)
			return yp_fail(p, p->ev.start_mark, "too many ranges in '%s' (max %d)",
			               name, CFG_MAX_CIDRS);
		if (yp_scalar_text(p, name, "an address range", s, sizeof(s)) < 0)
			return -1;
		if (tw_cidr_parse(s, &list[*n]) < 0)
			return yp_cidr_fail(p, s);
		(*n)++;
	}
	return rc;
}

static int value_allow(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;

	return cidrs_parse(p, k->name, cfg->allow, &cfg->n_allow);
}

static int value_deny(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;

	return cidrs_parse(p, k->name, cfg->deny, &cfg->n_deny);
}

static int value_metrics_listen(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	char s[TW_ADDR_STRLEN];

	if (yp_scalar_text(p, k->name, "an address", s, sizeof(s)) < 0)
		return -1;
	if (tw_addr_parse(s, DEFAULT_METRICS_PORT, &cfg->metrics) < 0)
		return yp_fail(p, p->ev.start_mark,
		               "'%s' is not an address (want ip, ip:port or [ip6]:port)", s);
	return 0;
}

static int value_log_level(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	char s[CFG_STR];

	if (yp_scalar_text(p, k->name, "error, warn, info or debug", s, sizeof(s)) < 0)
		return -1;
	if (log_level_parse(s, &cfg->log_level) == 0)
		return 0;
	return yp_fail(p, p->ev.start_mark,
	               "unknown log level '%s' (expected error, warn, info or debug)", s);
}

/* twist.ports: "first-last" or a single port. */
static int value_twist_ports(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	unsigned long lo, hi;
	char s[32], *end;

	if (yp_scalar_text(p, k->name, "a port range like 49152-65535", s, sizeof(s)) < 0)
		return -1;
	errno = 0;
	lo = strtoul(s, &end, 10);
	hi = lo;
	if (end != s && *end == '-')
		hi = strtoul(end + 1, &end, 10);
	if (errno || end == s || *end != '\0' || lo == 0 || hi > UINT16_MAX || lo > hi)
		return yp_fail(p, p->ev.start_mark,
		               "'%s' is not a port range (want first-last, e.g. 49152-65535)", s);
	cfg->twist_port_min = (uint16_t)lo;
	cfg->twist_port_max = (uint16_t)hi;
	return 0;
}

static int value_twist_tun(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	char s[CFG_STR];

	if (yp_scalar_text(p, k->name, "a device name", s, sizeof(s)) < 0)
		return -1;
	if (s[0] == '\0' || strlen(s) >= CFG_TUN_NAME || strpbrk(s, "/ \t:"))
		return yp_fail(p, p->ev.start_mark,
		               "'%s' is not a device name (1-%d characters, no '/', ':' or blank)",
		               s, CFG_TUN_NAME - 1);
	memcpy(cfg->twist_tun, s, strlen(s) + 1); /* fits: checked above */
	return 0;
}

/* Brace-less, so that each table row stays on one line. */
#define CFG_UINT(k, f)       CFG_FIELD(k, yp_value_uint, struct config, f, 0, UINT_MAX)
#define CFG_BOOL(k, f)       CFG_FIELD(k, yp_value_bool, struct config, f, 0, 0)
#define CFG_STRING(k, f)     CFG_FIELD(k, yp_value_str, struct config, f, 0, 0)
#define CFG_LIST(k, fn)      .name = k, .parse = fn
#define CFG_SECTION(k, keys) .name = k, .parse = yp_value_map, .sub = keys, .nsub = nitems(keys)

static const struct key relay_keys[] = {
        {CFG_LIST("addresses", value_relay_addresses)},
        {CFG_FIELD("port_min", yp_value_u16, struct config, port_min, 0, UINT16_MAX)},
        {CFG_FIELD("port_max", yp_value_u16, struct config, port_max, 0, UINT16_MAX)},
};

static const struct key auth_keys[] = {
        {CFG_STRING("realm", realm)},
        {CFG_LIST("users", value_users)},
        {CFG_STRING("database", database)},
        {CFG_STRING("rest_secret", rest_secret)},
        {CFG_STRING("nonce_secret", nonce_secret)},
        {CFG_UINT("nonce_lifetime", nonce_lifetime)},
        {CFG_BOOL("sha256", sha256)},
        {CFG_UINT("unauth_rate", unauth_rate)},
        {CFG_UINT("unauth_burst", unauth_burst)},
        {CFG_UINT("backoff_after", backoff_after)},
        {CFG_UINT("backoff_base_ms", backoff_base_ms)},
        {CFG_UINT("backoff_max_ms", backoff_max_ms)},
};

static const struct key peers_keys[] = {
        {CFG_BOOL("allow_loopback", allow_loopback)},
        {CFG_BOOL("allow_self", allow_self)},
        {CFG_LIST("allow", value_allow)},
        {CFG_LIST("deny", value_deny)},
};

static const struct key limits_keys[] = {
        {CFG_UINT("max_allocations", max_allocations)},
        {CFG_UINT("user_quota", user_quota)},
        {CFG_FIELD("bandwidth", yp_value_u64, struct config, bandwidth, 0, UINT64_MAX)},
        {CFG_UINT("default_lifetime", default_lifetime)},
        {CFG_UINT("max_lifetime", max_lifetime)},
        {CFG_UINT("tcp_connections", tcp_connections)},
        {CFG_UINT("tcp_per_source", tcp_per_source)},
        {CFG_UINT("tcp_unauth_per_source", tcp_unauth_per_source)},
        {CFG_UINT("tcp_frame_deadline_ms", tcp_frame_deadline_ms)},
        {CFG_UINT("tcp_request_deadline_ms", tcp_request_deadline_ms)},
        {CFG_UINT("tcp_auth_deadline_ms", tcp_auth_deadline_ms)},
};

static const struct key websocket_keys[] = {
        {CFG_STRING("path", ws_path)},
        {CFG_LIST("origins", value_ws_origins)},
        {CFG_UINT("max_header", ws_max_header)},
        {CFG_UINT("max_message", ws_max_message)},
};

static const struct key compat_keys[] = {
        {CFG_BOOL("rfc5766_channels", rfc5766_channels)},
        {CFG_BOOL("rfc3489", rfc3489)},
};

static const struct key rfc5780_keys[] = {
        {CFG_FIELD("other_address", yp_value_ip, struct config, rfc5780_other, 0, 0),
         .required = true},
        {CFG_FIELD("other_port", yp_value_u16, struct config, rfc5780_other.port, 1, UINT16_MAX),
         .required = true},
};

static const struct key stun_keys[] = {
        {CFG_SECTION("rfc5780", rfc5780_keys)},
};

static const struct key ha_keys[] = {
        {CFG_BOOL("enabled", ha_enabled)},
        {CFG_STRING("ipc_dir", ha_ipc_dir)},
        {CFG_UINT("sync_deadline_ms", ha_sync_deadline_ms)},
        {CFG_STRING("role_file", ha_role_file)},
};

/* One address per family, "ip:port" or "[ip6]:port": [0] IPv4, [1] IPv6. */
static int value_alt_pair(struct yp *p, const struct key *k, struct tw_addr alt[2])
{
	char s[TW_ADDR_STRLEN];
	struct tw_addr a;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (yp_scalar_text(p, k->name, "an address", s, sizeof(s)) < 0)
			return -1;
		if (tw_addr_parse(s, DEFAULT_LISTEN_PORT, &a) < 0)
			return yp_fail(p, p->ev.start_mark,
			               "'%s' is not an address (want ip:port or [ip6]:port)", s);
		if (alt[a.family == TW_AF_INET6].family)
			return yp_fail(p, p->ev.start_mark,
			               "a second IPv%c %s '%s' (one per family)",
			               a.family == TW_AF_INET6 ? '6' : '4', k->name, s);
		alt[a.family == TW_AF_INET6] = a;
	}
	return rc;
}

static int value_sibling_alt(struct yp *p, const struct key *k, void *base)
{
	return value_alt_pair(p, k, ((struct cfg_sibling *)base)->alt);
}

static int value_cluster_unicast(struct yp *p, const struct key *k, void *base)
{
	return value_alt_pair(p, k, ((struct config *)base)->cluster_unicast);
}

/* anycast: service IPs, no port (every listener on one is a service port). */
static int value_cluster_anycast(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_cluster_anycast == CFG_MAX_ANYCAST)
			return yp_fail(p, p->ev.start_mark, "too many anycast addresses (max %d)",
			               CFG_MAX_ANYCAST);
		if (yp_scalar_ip(p, k->name, &cfg->cluster_anycast[cfg->n_cluster_anycast]) < 0)
			return -1;
		cfg->n_cluster_anycast++;
	}
	return rc;
}

static const struct key sibling_keys[] = {
        {CFG_FIELD("name", yp_value_str, struct cfg_sibling, name, 0, 0), .required = true},
        {CFG_FIELD("report", yp_value_str, struct cfg_sibling, report, 0, 0), .required = true},
        {.name = "alternate", .parse = value_sibling_alt, .required = true},
        {CFG_FIELD("domain", yp_value_str, struct cfg_sibling, domain, 0, 0)},
};

static int value_siblings(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	struct cfg_sibling *sb;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_siblings == CFG_MAX_SIBLINGS)
			return yp_fail(p, p->ev.start_mark, "too many siblings (max %d)",
			               CFG_MAX_SIBLINGS);
		sb = &cfg->siblings[cfg->n_siblings];
		memset(sb, 0, sizeof(*sb));
		if (yp_map_parse(p, "cluster.siblings", sibling_keys, nitems(sibling_keys), sb) < 0)
			return -1;
		cfg->n_siblings++;
	}
	return rc;
}

static const struct key cluster_keys[] = {
        {CFG_STRING("node", cluster_node)},
        {CFG_STRING("secret", cluster_secret)},
        {CFG_STRING("secret_file", cluster_secret_file)},
        {CFG_STRING("listen", cluster_listen)},
        {CFG_UINT("interval_ms", cluster_interval_ms)},
        {CFG_UINT("capacity", cluster_capacity)},
        {CFG_UINT("high_water", cluster_high_water)},
        {CFG_UINT("low_water", cluster_low_water)},
        {CFG_LIST("siblings", value_siblings)},
        {CFG_LIST("anycast", value_cluster_anycast)},
        {CFG_LIST("unicast", value_cluster_unicast)},
        {CFG_STRING("domain", cluster_domain)},
};

static const struct key metrics_keys[] = {
        {CFG_BOOL("enabled", metrics_enabled)},
        {CFG_LIST("listen", value_metrics_listen)},
};

static const struct key log_keys[] = {
        {CFG_LIST("level", value_log_level)},
        {CFG_BOOL("syslog", log_syslog)},
};

static const struct key tls_keys[] = {
        {CFG_STRING("cert", tls_cert)},
        {CFG_STRING("key", tls_key)},
        {CFG_STRING("ciphers", tls_ciphers)},
        {CFG_STRING("min_version", tls_min_version)},
};

static const struct key twist_keys[] = {
        {CFG_BOOL("enabled", twist_enabled)},
        {CFG_FIELD("relay_ipv4", yp_value_ip, struct config, twist_relay4, 0, 0)},
        {CFG_FIELD("relay_ipv6", yp_value_ip, struct config, twist_relay6, 0, 0)},
        {CFG_LIST("ports", value_twist_ports)},
        {CFG_LIST("tun", value_twist_tun)},
        {CFG_UINT("idle_timeout", twist_idle_timeout)},
        {CFG_UINT("max_flows_per_user", twist_max_flows_per_user)},
};

static const struct key mice_key_keys[] = {
        {CFG_FIELD("spi", yp_value_uint, struct cfg_mice_key, spi, 256, UINT32_MAX),
         .required = true},
        {CFG_FIELD("key", yp_value_str, struct cfg_mice_key, key, 0, 0), .required = true},
        {CFG_FIELD("home", yp_value_ip, struct cfg_mice_key, home, 0, 0), .required = true},
};

static int value_mice_keys(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	struct cfg_mice_key *mk;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_mice_keys == CFG_MAX_MICE_KEYS)
			return yp_fail(p, p->ev.start_mark, "too many mice.keys (max %d)",
			               CFG_MAX_MICE_KEYS);
		mk = &cfg->mice_keys[cfg->n_mice_keys];
		memset(mk, 0, sizeof(*mk));
		if (yp_map_parse(p, "mice.keys", mice_key_keys, nitems(mice_key_keys), mk) < 0)
			return -1;
		cfg->n_mice_keys++;
	}
	return rc;
}

static const struct key mice_keys[] = {
        {CFG_BOOL("enabled", mice_enabled)},
        {CFG_FIELD("port", yp_value_u16, struct config, mice_port, 1, UINT16_MAX)},
        {CFG_FIELD("option_type", yp_value_uint, struct config, mice_option_type, 2, 255)},
        {CFG_LIST("keys", value_mice_keys)},
        {CFG_UINT("max_lifetime", mice_max_lifetime)},
        {CFG_UINT("max_bindings", mice_max_bindings)},
        {CFG_UINT("rate", mice_rate)},
        {CFG_UINT("burst", mice_burst)},
};

static int value_fastpath_enabled(struct yp *p, const struct key *k, void *base)
{
	static const char *const names[] = {
	        [CFG_FP_OFF] = "off", [CFG_FP_AUTO] = "auto", [CFG_FP_ON] = "on"};
	struct config *cfg = base;
	char s[16];

	if (yp_scalar_text(p, k->name, "auto, on or off", s, sizeof(s)) < 0)
		return -1;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			cfg->fastpath = (enum cfg_fastpath)i;
			return 0;
		}
	}
	return yp_fail(p, p->ev.start_mark, "'%s' is not auto, on or off", s);
}

static int value_fastpath_ifs(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	char s[CFG_STR];
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_fastpath_ifs == CFG_MAX_FP_IFS)
			return yp_fail(p, p->ev.start_mark, "too many interfaces (max %d)",
			               CFG_MAX_FP_IFS);
		if (yp_scalar_text(p, k->name, "an interface name", s, sizeof(s)) < 0)
			return -1;
		if (s[0] == '\0' || strlen(s) >= CFG_TUN_NAME || strpbrk(s, "/ \t:"))
			return yp_fail(
			        p, p->ev.start_mark,
			        "'%s' is not an interface name (1-%d characters, no '/', ':' "
			        "or blank)",
			        s, CFG_TUN_NAME - 1);
		memcpy(cfg->fastpath_ifs[cfg->n_fastpath_ifs++], s, strlen(s) + 1);
	}
	return rc;
}

static const struct key fastpath_keys[] = {
        {CFG_LIST("enabled", value_fastpath_enabled)},
        {CFG_LIST("interfaces", value_fastpath_ifs)},
};

static const struct key control_keys[] = {
        {CFG_STRING("socket", control_socket)},
        {CFG_STRING("group", control_group)},
};

static const struct key root_keys[] = {
        {CFG_LIST("listen", value_listen)},
        {CFG_SECTION("relay", relay_keys)},
        {CFG_UINT("workers", workers)},
        {CFG_SECTION("auth", auth_keys)},
        {CFG_SECTION("peers", peers_keys)},
        {CFG_SECTION("limits", limits_keys)},
        {CFG_SECTION("metrics", metrics_keys)},
        {CFG_SECTION("log", log_keys)},
        {CFG_STRING("software", software)},
        {CFG_SECTION("compat", compat_keys)},
        {CFG_SECTION("ha", ha_keys)},
        {CFG_SECTION("control", control_keys)},
        {CFG_SECTION("stun", stun_keys)},
        {CFG_SECTION("websocket", websocket_keys)},
        {CFG_SECTION("tls", tls_keys)},
        {CFG_SECTION("twist", twist_keys)},
        {CFG_SECTION("mice", mice_keys)},
        {CFG_SECTION("cluster", cluster_keys)},
        {.name = "trt", .parse = config_trt_section},
        {CFG_SECTION("fastpath", fastpath_keys)},
};

/* Exactly one document whose root is a mapping. */
static int doc_parse(struct yp *p, struct config *cfg)
{
	if (yp_next(p) < 0 || yp_next(p) < 0) /* stream start, then document start */
		return -1;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return yp_fail(p, p->ev.start_mark, "empty document");
	if (yp_next(p) < 0)
		return -1;
	if (yp_ev_is_null(&p->ev))
		return yp_fail(p, p->ev.start_mark, "empty document");
	if (yp_map_parse(p, NULL, root_keys, nitems(root_keys), cfg) < 0)
		return -1;
	if (yp_next(p) < 0 || yp_next(p) < 0) /* document end, then stream end */
		return -1;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return yp_fail(p, p->ev.start_mark, "only one document is allowed");
	return 0;
}

int config_load_string(const char *yaml, size_t len, const char *name, struct config *cfg,
                       char *err, size_t errlen)
{
	static const yaml_mark_t top = {0, 0, 0};
	struct yp p;
	int rc = -1;

	config_defaults(cfg);
	if (name == NULL)
		name = "<string>";
	snprintf(cfg->source, sizeof(cfg->source), "%s", name);
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	memset(&p, 0, sizeof(p));
	p.doc = (const unsigned char *)(yaml ? yaml : "");
	p.len = yaml ? len : 0;
	p.name = name;
	p.err = err;
	p.errlen = errlen;
	/* Capped before libyaml sees it: its tokens and marks cost memory per byte. */
	if (len > CFG_MAX_DOC)
		return yp_fail(&p, top, "document is too large (%zu bytes, max %d)", len,
		               CFG_MAX_DOC);
	if (!yaml_parser_initialize(&p.parser))
		return yp_fail(&p, top, "out of memory");
	yaml_parser_set_input_string(&p.parser, p.doc, p.len);
	rc = doc_parse(&p, cfg);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.parser);
	if (rc < 0)
		config_clear(cfg);
	return rc;
}

int config_load_file(const char *path, struct config *cfg, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *buf = NULL;
	const char *why = NULL;
	size_t n;
	int rc = -1;

	config_defaults(cfg);
	/* No line or column to give: the file itself is the problem. */
	if ((f = fopen(path, "rb")) == NULL) {
		why = strerror(errno);
		goto done;
	}
	/* One byte more than the cap tells "too large" from "exactly the cap". */
	if ((buf = malloc(CFG_MAX_DOC + 1)) == NULL) {
		why = "out of memory";
		goto done;
	}
	n = fread(buf, 1, CFG_MAX_DOC + 1, f);
	if (ferror(f)) {
		why = strerror(errno);
		goto done;
	}
	rc = config_load_string(buf, n, path, cfg, err, errlen);
done:
	if (why != NULL && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, why);
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->source, sizeof(cfg->source), "<defaults>");
	cfg->port_min = 49152;
	cfg->port_max = 65535;
	snprintf(cfg->realm, sizeof(cfg->realm), "twist.local");
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), CFG_CONTROL_SOCKET);
	cfg->nonce_lifetime = 600;
	cfg->sha256 = true;
	cfg->unauth_rate = 20;
	cfg->unauth_burst = 40;
	cfg->backoff_after = 5;
	cfg->backoff_base_ms = 250;
	cfg->backoff_max_ms = 60000;
	cfg->max_allocations = 100000;
	cfg->default_lifetime = 600;
	cfg->max_lifetime = 3600;
	cfg->tcp_connections = 10000;
	cfg->tcp_per_source = 64;
	cfg->tcp_unauth_per_source = 8;
	cfg->tcp_frame_deadline_ms = 10000;
	cfg->tcp_request_deadline_ms = 10000;
	cfg->tcp_auth_deadline_ms = 30000;
	snprintf(cfg->ws_path, sizeof(cfg->ws_path), "/turn");
	cfg->ws_max_header = 8192;
	cfg->ws_max_message = 65556;
	cfg->rfc3489 = true;
	cfg->metrics_enabled = true;
	tw_addr_parse_ip("127.0.0.1", &cfg->metrics);
	cfg->metrics.port = DEFAULT_METRICS_PORT;
	cfg->log_level = LOG_LVL_INFO;
	snprintf(cfg->software, sizeof(cfg->software), "twist");
	snprintf(cfg->ha_ipc_dir, sizeof(cfg->ha_ipc_dir), "/run/twist");
	snprintf(cfg->tls_min_version, sizeof(cfg->tls_min_version), "1.2");
	cfg->ha_sync_deadline_ms = 5;
	cfg->cluster_interval_ms = 1000;
	cfg->twist_port_min = 49152;
	cfg->twist_port_max = 65535;
	snprintf(cfg->twist_tun, sizeof(cfg->twist_tun), "twist0");
	cfg->twist_idle_timeout = 60;
	cfg->twist_max_flows_per_user = 64;
	cfg->mice_port = 4191;
	cfg->mice_option_type = 18;
	cfg->mice_max_lifetime = 3600;
	cfg->mice_max_bindings = 1024;
	cfg->mice_rate = 10;
	cfg->mice_burst = 20;
	config_trt_defaults(cfg);
}

void config_clear(struct config *cfg)
{
	free(cfg->users);
	cfg->users = NULL;
	cfg->n_users = 0;
}
