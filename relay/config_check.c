/*
 * Semantic checks on a parsed config: ranges, and relations between keys.
 * config.c has already checked that every value has the right type, so the
 * messages here name keys ("auth.nonce_lifetime") rather than positions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cluster.h"
#include "proto/twist.h"
#include "relay/anycast.h"
#include "relay/config.h"

#define MAX_WORKERS       1024
#define MIN_SECRET        16 /* bytes; a guessable secret forges credentials */
#define MAX_LIFETIME      86400
#define MIN_LIFETIME      60
#define NONCE_MIN         30
#define NONCE_MAX         86400
#define UNAUTH_MAX        1000000
#define MIN_RELAY_PORT    1024
#define TCP_CONNS_MAX     1000000
#define DEADLINE_MIN      100     /* ms */
#define DEADLINE_MAX      3600000 /* ms */
#define WS_HEADER_MIN     512     /* a browser's handshake is 400-600 bytes; less refuses it */
#define WS_HEADER_MAX     65536
#define WS_MESSAGE_MIN    2048 /* one pre-authentication frame (relay/stream.h) */
#define WS_MESSAGE_MAX    (1 << 20)
#define TRT_TCP_IDLE_MIN  10    /* tests; below 7440 (RFC 5382 REQ-5) is warned about at start */
#define TRT_UDP_IDLE_MIN  2     /* tests; below 120 (RFC 4787 REQ-5) is warned about at start */
#define TRT_KEEPALIVE_MAX 32767 /* TCP_KEEPIDLE's limit */
#define MAX_WIRE_CHARS    128   /* RFC 8489 §14.9, §14.14: REALM and SOFTWARE < 128 characters */

struct check {
	const struct config *cfg;
	char *err;
	size_t errlen;
};

static int check_fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int check_fail(struct check *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->err == NULL || c->errlen == 0)
		return -1;
	n = snprintf(c->err, c->errlen, "%s: ", c->cfg->source);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static bool addr_is_unspecified(const struct tw_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->ip, zero, tw_addr_iplen(a)) == 0;
}

static bool addr_is_multicast(const struct tw_addr *a)
{
	if (a->family == TW_AF_INET)
		return a->ip[0] >= 224; /* multicast, reserved and broadcast */
	return a->ip[0] == 0xff;
}

/*
 * One TCP socket per port. Two transports share it only where the first
 * bytes tell them apart (docs/websocket.md §3): tcp with ws by the first
 * byte, tls with wss by ALPN, then the first byte inside TLS.
 */
static bool stream_mix_ok(const struct cfg_listen *l)
{
	int n = l->tcp + l->tls + l->ws + l->wss;

	return n <= 1 || (n == 2 && ((l->tcp && l->ws) || (l->tls && l->wss)));
}

static int check_listen(struct check *c)
{
	const struct config *cfg = c->cfg;
	char buf[TW_ADDR_STRLEN];

	if (cfg->n_listen == 0)
		return check_fail(c, "no listeners: 'listen' needs at least one entry");
	if (cfg->n_listen > CFG_MAX_LISTEN)
		return check_fail(c, "too many listeners (max %d)", CFG_MAX_LISTEN);
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		const struct cfg_listen *l = &cfg->listen[i];

		if (l->addr.family != TW_AF_INET && l->addr.family != TW_AF_INET6)
			return check_fail(c, "listen[%u]: no address", i);
		if (l->addr.port == 0)
			return check_fail(c, "listen[%u]: port 0 is not allowed", i);
		if (!l->udp && !l->dtls && !cfg_listen_stream(l))
			return check_fail(c, "listen[%u]: no transports", i);
		/* One UDP socket per port: no demultiplexing of STUN and DTLS (RFC 7983). */
		if (l->udp && l->dtls)
			return check_fail(c, "listen[%u]: udp and dtls need different ports", i);
		if (!stream_mix_ok(l))
			return check_fail(c,
			                  "listen[%u]: one port serves one of tcp, tls, ws, wss, "
			                  "or tcp with ws, or tls with wss",
			                  i);
		if (addr_is_multicast(&l->addr))
			return check_fail(c, "listen[%u]: %s is not a unicast address", i,
			                  tw_addr_fmt_ip(&l->addr, buf, sizeof(buf)));
		for (unsigned j = 0; j < i; j++) {
			const struct cfg_listen *o = &cfg->listen[j];

			/* tcp and tls are both TCP sockets: SO_REUSEPORT would
			 * let them share a port and split its clients. */
			if (tw_addr_eq(&l->addr, &o->addr) &&
			    (((l->udp || l->dtls) && (o->udp || o->dtls)) ||
			     (cfg_listen_stream(l) && cfg_listen_stream(o))))
				return check_fail(c, "listen[%u]: %s is also listen[%u]", i,
				                  tw_addr_fmt(&l->addr, buf, sizeof(buf)), j);
		}
	}
	return 0;
}

/*
 * The relayed address goes to the client in XOR-RELAYED-ADDRESS (RFC 8656
 * §7.3), so it must be one a peer can send to: no wildcard, no multicast.
 * Allocations pick the relay address by family, hence one per family.
 */
static int check_relay(struct check *c)
{
	const struct config *cfg = c->cfg;
	unsigned v4 = 0, v6 = 0;
	char buf[TW_ADDR_STRLEN];

	if (cfg->n_relay == 0)
		return check_fail(c, "no relay addresses: set relay.addresses");
	if (cfg->n_relay > CFG_MAX_RELAY)
		return check_fail(c, "too many relay addresses (max %d)", CFG_MAX_RELAY);
	for (unsigned i = 0; i < cfg->n_relay; i++) {
		const struct tw_addr *a = &cfg->relay[i];

		if (a->family == TW_AF_INET)
			v4++;
		else if (a->family == TW_AF_INET6)
			v6++;
		else
			return check_fail(c, "relay.addresses[%u]: no address", i);
		if (addr_is_unspecified(a) || addr_is_multicast(a))
			return check_fail(c,
			                  "relay.addresses[%u]: %s cannot be relayed to; give the "
			                  "address peers reach",
			                  i, tw_addr_fmt_ip(a, buf, sizeof(buf)));
	}
	if (v4 > 1 || v6 > 1)
		return check_fail(c, "relay.addresses: at most one IPv%d address", v4 > 1 ? 4 : 6);
	if (cfg->port_min < MIN_RELAY_PORT)
		return check_fail(c, "relay.port_min must be at least %d, got %u", MIN_RELAY_PORT,
		                  cfg->port_min);
	if (cfg->port_max < cfg->port_min)
		return check_fail(c, "relay.port_max (%u) is below relay.port_min (%u)",
		                  cfg->port_max, cfg->port_min);
	return 0;
}

static int user_cmp(const void *a, const void *b)
{
	const struct cfg_user *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Sorted pointers, not pairs of loops: a user table may hold CFG_MAX_USERS. */
static int check_users_unique(struct check *c)
{
	const struct config *cfg = c->cfg;
	const struct cfg_user **v;
	char name[80];
	int rc = 0;

	if (cfg->n_users < 2)
		return 0;
	if ((v = calloc(cfg->n_users, sizeof(*v))) == NULL)
		return check_fail(c, "out of memory");
	for (unsigned i = 0; i < cfg->n_users; i++)
		v[i] = &cfg->users[i];
	qsort(v, cfg->n_users, sizeof(*v), user_cmp);
	for (unsigned i = 1; i < cfg->n_users; i++) {
		if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
			rc = check_fail(
			        c, "auth.users: '%s' appears twice",
			        log_esc(v[i]->name, strlen(v[i]->name), name, sizeof(name)));
			break;
		}
	}
	free(v);
	return rc;
}

static int check_secret(struct check *c, const char *key, const char *s)
{
	size_t n = strnlen(s, CFG_STR);

	if (n > 0 && n < MIN_SECRET)
		return check_fail(c, "%s is too short (%zu bytes, need at least %d)", key, n,
		                  MIN_SECRET);
	return 0;
}

static int check_auth(struct check *c)
{
	const struct config *cfg = c->cfg;
	char name[80];

	if (cfg->realm[0] == '\0')
		return check_fail(c, "auth.realm is empty");
	if (utf8_chars(cfg->realm) >= MAX_WIRE_CHARS)
		return check_fail(c, "auth.realm must be fewer than %d characters", MAX_WIRE_CHARS);
	if (cfg->n_users > CFG_MAX_USERS || (cfg->n_users > 0 && cfg->users == NULL))
		return check_fail(c, "auth.users: bad user table");
	for (unsigned i = 0; i < cfg->n_users; i++) {
		if (cfg->users[i].name[0] == '\0')
			return check_fail(c, "auth.users[%u]: empty name", i);
		if (cfg->users[i].password[0] == '\0')
			return check_fail(c, "auth.users[%u] '%s': empty password", i,
			                  log_esc(cfg->users[i].name, strlen(cfg->users[i].name),
			                          name, sizeof(name)));
	}
	if (cfg->n_users == 0 && cfg->rest_secret[0] == '\0' && cfg->database[0] == '\0')
		return check_fail(c, "no credentials configured: set auth.users, "
		                     "auth.rest_secret or auth.database");
	if (check_users_unique(c) < 0 ||
	    check_secret(c, "auth.rest_secret", cfg->rest_secret) < 0 ||
	    check_secret(c, "auth.nonce_secret", cfg->nonce_secret) < 0)
		return -1;
	if (cfg->nonce_lifetime < NONCE_MIN || cfg->nonce_lifetime > NONCE_MAX)
		return check_fail(c, "auth.nonce_lifetime must be between %d and %d, got %u",
		                  NONCE_MIN, NONCE_MAX, cfg->nonce_lifetime);
	if (cfg->unauth_rate < 1 || cfg->unauth_rate > UNAUTH_MAX)
		return check_fail(c, "auth.unauth_rate must be between 1 and %d, got %u",
		                  UNAUTH_MAX, cfg->unauth_rate);
	if (cfg->unauth_burst < 1 || cfg->unauth_burst > UNAUTH_MAX)
		return check_fail(c, "auth.unauth_burst must be between 1 and %d, got %u",
		                  UNAUTH_MAX, cfg->unauth_burst);
	if (cfg->backoff_after > 63)
		return check_fail(c, "auth.backoff_after must be between 0 (off) and 63, got %u",
		                  cfg->backoff_after);
	if (cfg->backoff_base_ms < 1 || cfg->backoff_max_ms < cfg->backoff_base_ms ||
	    cfg->backoff_max_ms > 3600000)
		return check_fail(c,
		                  "auth.backoff_base_ms (%u) must be at least 1 and at most "
		                  "auth.backoff_max_ms (%u), which is at most 3600000",
		                  cfg->backoff_base_ms, cfg->backoff_max_ms);
	return 0;
}

static int check_peers(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (cfg->n_allow > CFG_MAX_CIDRS || cfg->n_deny > CFG_MAX_CIDRS)
		return check_fail(c, "peers: too many ranges (max %d)", CFG_MAX_CIDRS);
	for (unsigned i = 0; i < cfg->n_allow + cfg->n_deny; i++) {
		const struct tw_cidr *r =
		        i < cfg->n_allow ? &cfg->allow[i] : &cfg->deny[i - cfg->n_allow];

		if ((r->net.family != TW_AF_INET && r->net.family != TW_AF_INET6) ||
		    r->prefix > tw_addr_iplen(&r->net) * 8)
			return check_fail(c, "peers.%s[%u]: bad range",
			                  i < cfg->n_allow ? "allow" : "deny",
			                  i < cfg->n_allow ? i : i - cfg->n_allow);
	}
	return 0;
}

static int check_deadline(struct check *c, const char *key, unsigned ms)
{
	if (ms < DEADLINE_MIN || ms > DEADLINE_MAX)
		return check_fail(c, "limits.%s must be between %d and %d ms, got %u", key,
		                  DEADLINE_MIN, DEADLINE_MAX, ms);
	return 0;
}

/* Per source at most the total, unauthenticated at most per source: a
 * tighter inner cap would never be reached, which is surely a typo. */
static int check_tcp(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (cfg->tcp_connections < 1 || cfg->tcp_connections > TCP_CONNS_MAX)
		return check_fail(c, "limits.tcp_connections must be between 1 and %d, got %u",
		                  TCP_CONNS_MAX, cfg->tcp_connections);
	if (cfg->tcp_per_source < 1 || cfg->tcp_per_source > cfg->tcp_connections)
		return check_fail(c,
		                  "limits.tcp_per_source must be between 1 and "
		                  "limits.tcp_connections (%u), got %u",
		                  cfg->tcp_connections, cfg->tcp_per_source);
	if (cfg->tcp_unauth_per_source < 1 || cfg->tcp_unauth_per_source > cfg->tcp_per_source)
		return check_fail(c,
		                  "limits.tcp_unauth_per_source must be between 1 and "
		                  "limits.tcp_per_source (%u), got %u",
		                  cfg->tcp_per_source, cfg->tcp_unauth_per_source);
	if (check_deadline(c, "tcp_frame_deadline_ms", cfg->tcp_frame_deadline_ms) < 0 ||
	    check_deadline(c, "tcp_request_deadline_ms", cfg->tcp_request_deadline_ms) < 0 ||
	    check_deadline(c, "tcp_auth_deadline_ms", cfg->tcp_auth_deadline_ms) < 0)
		return -1;
	return 0;
}

/*
 * RFC 8656 §7.2: the default lifetime is 10 minutes and the maximum
 * SHOULD be no more than an hour; a day is where a typo starts.
 */
static int check_limits(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (cfg->max_lifetime < MIN_LIFETIME || cfg->max_lifetime > MAX_LIFETIME)
		return check_fail(c, "limits.max_lifetime must be between %d and %d, got %u",
		                  MIN_LIFETIME, MAX_LIFETIME, cfg->max_lifetime);
	if (cfg->default_lifetime < MIN_LIFETIME || cfg->default_lifetime > cfg->max_lifetime)
		return check_fail(c,
		                  "limits.default_lifetime must be between %d and "
		                  "limits.max_lifetime (%u), got %u",
		                  MIN_LIFETIME, cfg->max_lifetime, cfg->default_lifetime);
	if (cfg->max_allocations != 0 && cfg->user_quota > cfg->max_allocations)
		return check_fail(c, "limits.user_quota (%u) exceeds limits.max_allocations (%u)",
		                  cfg->user_quota, cfg->max_allocations);
	return check_tcp(c);
}

/* The files themselves are read, and the key matched, by relay/tls.c at start. */
static int check_tls(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (!!cfg->tls_cert[0] != !!cfg->tls_key[0])
		return check_fail(c, "tls.cert and tls.key go together: set both or neither");
	if (strcmp(cfg->tls_min_version, "1.2") != 0 && strcmp(cfg->tls_min_version, "1.3") != 0)
		return check_fail(c, "tls.min_version must be \"1.2\" or \"1.3\", got \"%s\"",
		                  cfg->tls_min_version);
	return 0;
}

static int check_ops(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (cfg->workers > MAX_WORKERS)
		return check_fail(c, "workers must be at most %d, got %u", MAX_WORKERS,
		                  cfg->workers);
	if (cfg->metrics_enabled) {
		if (cfg->metrics.family != TW_AF_INET && cfg->metrics.family != TW_AF_INET6)
			return check_fail(c, "metrics.listen: no address");
		if (cfg->metrics.port == 0)
			return check_fail(c, "metrics.listen: port 0 is not allowed");
	}
	if (cfg->log_level > LOG_LVL_DEBUG)
		return check_fail(c, "log.level: unknown level %d", (int)cfg->log_level);
	if (utf8_chars(cfg->software) >= MAX_WIRE_CHARS)
		return check_fail(c, "software must be fewer than %d characters", MAX_WIRE_CHARS);
	return 0;
}

static int check_ha(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (!cfg->ha_enabled)
		return 0;
	/* DESIGN decision 6: the standby must accept the active's nonces. */
	if (cfg->nonce_secret[0] == '\0')
		return check_fail(c, "ha.enabled needs auth.nonce_secret, shared by both nodes, so "
		                     "that a failover causes no 438 storm");
	if (cfg->ha_ipc_dir[0] != '/')
		return check_fail(c, "ha.ipc_dir must be an absolute path, got '%s'",
		                  cfg->ha_ipc_dir);
	if (strlen(cfg->ha_ipc_dir) > 80)
		return check_fail(c, "ha.ipc_dir is too long for a unix socket path");
	if (cfg->ha_sync_deadline_ms < 1 || cfg->ha_sync_deadline_ms > 1000)
		return check_fail(c, "ha.sync_deadline_ms must be between 1 and 1000, got %u",
		                  cfg->ha_sync_deadline_ms);
	return 0;
}

/* sockaddr_un's sun_path holds 108 bytes with the NUL. */
static int check_control(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (strlen(cfg->control_socket) > 107)
		return check_fail(c, "control.socket is longer than 107 bytes, the limit of a "
		                     "unix socket path");
	return 0;
}

/* A nanomsg tcp address: "tcp://host:port". */
static bool nn_tcp_url_ok(const char *s)
{
	const char *colon = strrchr(s, ':');

	return strncmp(s, "tcp://", 6) == 0 && colon && colon > s + 6 && colon[1] >= '0' &&
	       colon[1] <= '9';
}

static bool node_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CLUSTER_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int check_sibling(struct check *c, unsigned i)
{
	const struct config *cfg = c->cfg;
	const struct cfg_sibling *sb = &cfg->siblings[i];

	if (!node_name_ok(sb->name))
		return check_fail(c,
		                  "cluster.siblings[%u].name '%s': 1-%d letters, digits, '.', '_' "
		                  "or '-'",
		                  i, sb->name, CLUSTER_NAME_MAX);
	if (strcmp(sb->name, cfg->cluster_node) == 0)
		return check_fail(c, "cluster.siblings[%u] is this node (%s)", i, sb->name);
	for (unsigned j = 0; j < i; j++)
		if (strcmp(cfg->siblings[j].name, sb->name) == 0)
			return check_fail(c, "cluster.siblings: '%s' is listed twice", sb->name);
	if (!nn_tcp_url_ok(sb->report))
		return check_fail(c, "cluster.siblings[%u].report '%s': want tcp://host:port", i,
		                  sb->report);
	if (!sb->alt[0].family && !sb->alt[1].family)
		return check_fail(c, "cluster.siblings[%u].alternate names no address", i);
	if ((sb->alt[0].family && sb->alt[0].port == 0) ||
	    (sb->alt[1].family && sb->alt[1].port == 0))
		return check_fail(c, "cluster.siblings[%u].alternate: port 0", i);
	return 0;
}

/* Some listener has exactly this IP (any port). */
static bool listened_ip(const struct config *cfg, const struct tw_addr *a)
{
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (tw_addr_ip_eq(&cfg->listen[i].addr, a))
			return true;
	return false;
}

/* Some listener answers on a: its IP and port, or a wildcard of its family there. */
static bool listened_at(const struct config *cfg, const struct tw_addr *a)
{
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		const struct tw_addr *l = &cfg->listen[i].addr;

		if (l->port == a->port && l->family == a->family &&
		    (tw_addr_ip_eq(l, a) || addr_is_unspecified(l)))
			return true;
	}
	return false;
}

/*
 * cluster.anycast needs a listener of its own per address: a UDP request
 * tells its destination only by the socket it arrived on (no
 * IP_PKTINFO), so a wildcard listener cannot see that it was anycast.
 * And a unicast address, one of this node's listeners, for every family.
 */
static int check_anycast(struct check *c)
{
	const struct config *cfg = c->cfg;
	char b[TW_ADDR_STRLEN];

	for (unsigned i = 0; i < cfg->n_cluster_anycast; i++) {
		const struct tw_addr *a = &cfg->cluster_anycast[i];
		const struct tw_addr *u = &cfg->cluster_unicast[a->family == TW_AF_INET6];

		tw_addr_fmt_ip(a, b, sizeof(b));
		if (addr_is_unspecified(a) || addr_is_multicast(a))
			return check_fail(
			        c, "cluster.anycast: '%s' is not a unicast service address", b);
		if (!listened_ip(cfg, a))
			return check_fail(c,
			                  "cluster.anycast: no listen entry has address %s (each "
			                  "anycast address needs its own listener, not a wildcard)",
			                  b);
		if (!u->family)
			return check_fail(
			        c,
			        "cluster.anycast %s needs an IPv%c address of this node in "
			        "cluster.unicast",
			        b, a->family == TW_AF_INET6 ? '6' : '4');
	}
	for (unsigned f = 0; f < 2; f++) {
		const struct tw_addr *u = &cfg->cluster_unicast[f];

		if (!u->family)
			continue;
		tw_addr_fmt(u, b, sizeof(b));
		if (u->port == 0 || addr_is_unspecified(u) || addr_is_multicast(u))
			return check_fail(
			        c, "cluster.unicast: '%s' is not an address clients can use", b);
		if (anycast_is_service(cfg, u))
			return check_fail(c, "cluster.unicast: '%s' is also in cluster.anycast", b);
		if (!listened_at(cfg, u))
			return check_fail(c, "cluster.unicast: no listen entry answers on %s", b);
	}
	if ((cfg->cluster_unicast[0].family || cfg->cluster_unicast[1].family ||
	     cfg->cluster_domain[0]) &&
	    !cfg->n_cluster_anycast)
		return check_fail(c, "cluster.unicast and cluster.domain are used only with "
		                     "cluster.anycast");
	return 0;
}

/* cluster: off without a node name; with siblings, a secret and sane marks. */
static int check_cluster(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (!cfg->cluster_node[0]) {
		if (cfg->n_siblings)
			return check_fail(c, "cluster.siblings needs cluster.node");
		if (cfg->n_cluster_anycast || cfg->cluster_unicast[0].family ||
		    cfg->cluster_unicast[1].family)
			return check_fail(c,
			                  "cluster.anycast and cluster.unicast need cluster.node");
		return 0;
	}
	if (!node_name_ok(cfg->cluster_node))
		return check_fail(c, "cluster.node '%s': 1-%d letters, digits, '.', '_' or '-'",
		                  cfg->cluster_node, CLUSTER_NAME_MAX);
	if (cfg->cluster_secret[0] && cfg->cluster_secret_file[0])
		return check_fail(c, "cluster.secret and cluster.secret_file exclude each other");
	if (!cfg->cluster_secret[0] && !cfg->cluster_secret_file[0])
		return check_fail(c, "cluster.node needs cluster.secret or cluster.secret_file "
		                     "(reports are authenticated)");
	if (cfg->cluster_secret[0] && strlen(cfg->cluster_secret) < MIN_SECRET)
		return check_fail(c, "cluster.secret must be at least %d bytes", MIN_SECRET);
	if (!nn_tcp_url_ok(cfg->cluster_listen))
		return check_fail(c, "cluster.listen '%s': want tcp://host:port",
		                  cfg->cluster_listen);
	if (cfg->cluster_interval_ms < 100 || cfg->cluster_interval_ms > 60000)
		return check_fail(c, "cluster.interval_ms must be between 100 and 60000, got %u",
		                  cfg->cluster_interval_ms);
	if (cfg->cluster_low_water && cfg->cluster_low_water >= cfg->cluster_high_water)
		return check_fail(c, "cluster.low_water (%u) must be below cluster.high_water (%u)",
		                  cfg->cluster_low_water, cfg->cluster_high_water);
	for (unsigned i = 0; i < cfg->n_siblings; i++)
		if (check_sibling(c, i) < 0)
			return -1;
	return check_anycast(c);
}

/* The one UDP listener of the alternate address's family, or NULL having failed. */
static const struct cfg_listen *rfc5780_primary(struct check *c)
{
	const struct config *cfg = c->cfg;
	const struct cfg_listen *p = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (cfg->listen[i].udp && cfg->listen[i].addr.family == cfg->rfc5780_other.family) {
			p = &cfg->listen[i];
			n++;
		}
	if (n != 1) {
		check_fail(c,
		           "stun.rfc5780 needs exactly one udp listener of the other_address's "
		           "family (IPv%c), found %u",
		           cfg->rfc5780_other.family == TW_AF_INET ? '4' : '6', n);
		return NULL;
	}
	return p;
}

/*
 * RFC 5780 §4.1: the primary and the alternate address differ in IP and in
 * port. The three extra sockets ((primary IP, other port), (other IP,
 * primary port), (other IP, other port)) cannot collide with another UDP
 * listener, as the primary is the only one of its family, nor with relay
 * ports, which lie in port_min..port_max.
 */
static int check_rfc5780(struct check *c)
{
	const struct config *cfg = c->cfg;
	const struct tw_addr *o = &cfg->rfc5780_other;
	const struct cfg_listen *p;
	char buf[TW_ADDR_STRLEN];

	if (o->family == 0)
		return 0;
	if ((p = rfc5780_primary(c)) == NULL)
		return -1;
	if (addr_is_unspecified(&p->addr))
		return check_fail(c,
		                  "stun.rfc5780: the udp listener %s is a wildcard; RFC 5780 "
		                  "needs the primary address itself",
		                  tw_addr_fmt(&p->addr, buf, sizeof(buf)));
	if (addr_is_unspecified(o) || addr_is_multicast(o))
		return check_fail(c, "stun.rfc5780.other_address %s is not a unicast address",
		                  tw_addr_fmt_ip(o, buf, sizeof(buf)));
	if (tw_addr_ip_eq(o, &p->addr))
		return check_fail(c,
		                  "stun.rfc5780.other_address must differ from the listener's "
		                  "address %s (the change-IP test needs two IPs)",
		                  tw_addr_fmt_ip(o, buf, sizeof(buf)));
	if (o->port == p->addr.port)
		return check_fail(c,
		                  "stun.rfc5780.other_port must differ from the listener's port %u",
		                  o->port);
	if (o->port >= cfg->port_min && o->port <= cfg->port_max)
		return check_fail(c,
		                  "stun.rfc5780.other_port %u is inside the relay port range "
		                  "%u..%u",
		                  o->port, cfg->port_min, cfg->port_max);
	return 0;
}

/* websocket: the path is an absolute one, the caps bound per-connection memory. */
static int check_websocket(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (cfg->ws_path[0] != '/' || strpbrk(cfg->ws_path, "? \t"))
		return check_fail(c,
		                  "websocket.path must start with '/' and hold no '?' or blank, "
		                  "got '%s'",
		                  cfg->ws_path);
	if (cfg->ws_max_header < WS_HEADER_MIN || cfg->ws_max_header > WS_HEADER_MAX)
		return check_fail(c, "websocket.max_header must be between %d and %d, got %u",
		                  WS_HEADER_MIN, WS_HEADER_MAX, cfg->ws_max_header);
	if (cfg->ws_max_message < WS_MESSAGE_MIN || cfg->ws_max_message > WS_MESSAGE_MAX)
		return check_fail(c, "websocket.max_message must be between %d and %d, got %u",
		                  WS_MESSAGE_MIN, WS_MESSAGE_MAX, cfg->ws_max_message);
	for (unsigned i = 0; i < cfg->n_ws_origins; i++)
		if (cfg->ws_origins[i][0] == '\0')
			return check_fail(c, "websocket.origins[%u] is empty", i);
	return 0;
}

/* twist: each relayed address of its own family, ports where STUN cannot start. */
static int check_twist(struct check *c)
{
	const struct config *cfg = c->cfg;
	const struct tw_addr *a4 = &cfg->twist_relay4, *a6 = &cfg->twist_relay6;

	if (cfg->twist_port_min < TWIST_MIN_RELAY_PORT)
		return check_fail(
		        c,
		        "twist.ports starts at %u; TWIST relayed ports must be %d or more "
		        "(a segment's first byte must not look like STUN)",
		        cfg->twist_port_min, TWIST_MIN_RELAY_PORT);
	if (a4->family && a4->family != TW_AF_INET)
		return check_fail(c, "twist.relay_ipv4 is not an IPv4 address");
	if (a6->family && a6->family != TW_AF_INET6)
		return check_fail(c, "twist.relay_ipv6 is not an IPv6 address");
	if ((a4->family && (addr_is_unspecified(a4) || addr_is_multicast(a4))) ||
	    (a6->family && (addr_is_unspecified(a6) || addr_is_multicast(a6))))
		return check_fail(c, "twist.relay_ipv4/relay_ipv6 must be unicast addresses");
	if (!cfg->twist_enabled)
		return 0;
	if (!a4->family && !a6->family)
		return check_fail(c, "twist.enabled needs twist.relay_ipv4 or twist.relay_ipv6");
	if (cfg->twist_idle_timeout == 0)
		return check_fail(c, "twist.idle_timeout must be at least 1 (seconds)");
	return 0;
}

#define MICE_KEY_MIN      16     /* bytes of an MN-HA shared key */
#define MICE_LIFETIME_MAX 262140 /* the BU's 16-bit lifetime in units of 4 s */
#define MICE_BINDINGS_MAX 65536

static int check_mice_keys(struct check *c)
{
	const struct config *cfg = c->cfg;

	for (unsigned i = 0; i < cfg->n_mice_keys; i++) {
		const struct cfg_mice_key *k = &cfg->mice_keys[i];

		if (strlen(k->key) < MICE_KEY_MIN)
			return check_fail(c,
			                  "mice.keys[%u] (spi %u): key must be at least %d bytes",
			                  i, k->spi, MICE_KEY_MIN);
		for (unsigned j = 0; j < i; j++) {
			if (cfg->mice_keys[j].spi == k->spi)
				return check_fail(c, "mice.keys: spi %u appears twice", k->spi);
			if (tw_addr_ip_eq(&cfg->mice_keys[j].home, &k->home))
				return check_fail(c,
				                  "mice.keys: spi %u and %u share a home address",
				                  cfg->mice_keys[j].spi, k->spi);
		}
	}
	return 0;
}

static int check_trt_rules(struct check *c, const char *name, const struct trt_rule *r, unsigned n)
{
	char b[TW_ADDR_STRLEN];

	for (unsigned i = 0; i < n; i++) {
		if (r[i].src.net.family != TW_AF_INET6)
			return check_fail(c, "trt.%s[%u].src: %s/%u is not an IPv6 prefix", name, i,
			                  tw_addr_fmt_ip(&r[i].src.net, b, sizeof(b)),
			                  r[i].src.prefix);
		if (r[i].dst.net.family != TW_AF_INET)
			return check_fail(c, "trt.%s[%u].dst: %s/%u is not an IPv4 prefix", name, i,
			                  tw_addr_fmt_ip(&r[i].dst.net, b, sizeof(b)),
			                  r[i].dst.prefix);
	}
	return 0;
}

/* mice: the encapsulation port apart from the TURN ports, bounded caches, keys. */
static int check_mice(struct check *c)
{
	const struct config *cfg = c->cfg;
	unsigned t = cfg->mice_option_type;

	if (!cfg->mice_enabled)
		return 0;
	/* Pad1, PadN and the authentication option are read as such before this type. */
	if (t == 0 || t == 1 || t == 9 || t > 255)
		return check_fail(
		        c, "mice.option_type %u is Pad1, PadN or the authentication option", t);
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (cfg->listen[i].udp && cfg->listen[i].addr.port == cfg->mice_port)
			return check_fail(c, "mice.port %u is also a udp listen port",
			                  cfg->mice_port);
	if (cfg->n_mice_keys == 0)
		return check_fail(c, "mice.enabled needs at least one entry in mice.keys");
	if (cfg->mice_max_lifetime < 4 || cfg->mice_max_lifetime > MICE_LIFETIME_MAX)
		return check_fail(c, "mice.max_lifetime must be between 4 and %d seconds, got %u",
		                  MICE_LIFETIME_MAX, cfg->mice_max_lifetime);
	if (cfg->mice_max_bindings == 0 || cfg->mice_max_bindings > MICE_BINDINGS_MAX)
		return check_fail(c, "mice.max_bindings must be between 1 and %d, got %u",
		                  MICE_BINDINGS_MAX, cfg->mice_max_bindings);
	if (cfg->mice_rate == 0 || cfg->mice_burst == 0)
		return check_fail(c, "mice.rate and mice.burst must be at least 1");
	return check_mice_keys(c);
}

/* trt: the /96 (RFC 6052 §2.2), rule families, timeouts not below test minima. */
static int check_trt(struct check *c)
{
	const struct config *cfg = c->cfg;
	char b[TW_ADDR_STRLEN];

	if (trt_prefix_check(&cfg->trt_prefix) < 0)
		return check_fail(c,
		                  "trt.prefix must be an IPv6 /96 other than ::/96 and "
		                  "::ffff:0:0/96 (the IPv4 address is the low 32 bits), got %s/%u",
		                  tw_addr_fmt_ip(&cfg->trt_prefix.net, b, sizeof(b)),
		                  cfg->trt_prefix.prefix);
	for (unsigned i = 0; i < cfg->n_trt_sources; i++) {
		const struct tw_addr *a = &cfg->trt_sources[i];

		if (a->family != TW_AF_INET || addr_is_unspecified(a) || addr_is_multicast(a))
			return check_fail(c,
			                  "trt.ipv4_sources[%u]: %s is not a unicast IPv4 address",
			                  i, tw_addr_fmt_ip(a, b, sizeof(b)));
	}
	if (check_trt_rules(c, "allow", cfg->trt_allow, cfg->n_trt_allow) < 0 ||
	    check_trt_rules(c, "deny", cfg->trt_deny, cfg->n_trt_deny) < 0)
		return -1;
	if (cfg->trt_tcp_idle_timeout < TRT_TCP_IDLE_MIN)
		return check_fail(c, "trt.tcp_idle_timeout must be at least %d (seconds), got %u",
		                  TRT_TCP_IDLE_MIN, cfg->trt_tcp_idle_timeout);
	if (cfg->trt_tcp_keepalive == 0 || cfg->trt_tcp_keepalive > TRT_KEEPALIVE_MAX)
		return check_fail(c, "trt.tcp_keepalive must be between 1 and %d (seconds), got %u",
		                  TRT_KEEPALIVE_MAX, cfg->trt_tcp_keepalive);
	if (cfg->trt_udp_idle_timeout < TRT_UDP_IDLE_MIN)
		return check_fail(c, "trt.udp_idle_timeout must be at least %d (seconds), got %u",
		                  TRT_UDP_IDLE_MIN, cfg->trt_udp_idle_timeout);
	if (cfg->trt_max_tcp == 0 || cfg->trt_max_tcp > TCP_CONNS_MAX)
		return check_fail(c, "trt.max_tcp must be between 1 and %d, got %u", TCP_CONNS_MAX,
		                  cfg->trt_max_tcp);
	if (cfg->trt_max_udp == 0 || cfg->trt_max_udp > TCP_CONNS_MAX)
		return check_fail(c, "trt.max_udp must be between 1 and %d, got %u", TCP_CONNS_MAX,
		                  cfg->trt_max_udp);
	return 0;
}

static int check_fastpath(struct check *c)
{
	const struct config *cfg = c->cfg;

	if (cfg->fastpath != CFG_FP_OFF && cfg->n_fastpath_ifs == 0)
		return check_fail(c, "fastpath.enabled needs fastpath.interfaces (the interfaces "
		                     "clients and peers arrive on)");
	return 0;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
	struct check c = {.cfg = cfg, .err = err, .errlen = errlen};

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (check_listen(&c) < 0 || check_relay(&c) < 0 || check_auth(&c) < 0 ||
	    check_peers(&c) < 0 || check_limits(&c) < 0 || check_ops(&c) < 0 || check_ha(&c) < 0 ||
	    check_control(&c) < 0 || check_rfc5780(&c) < 0 || check_websocket(&c) < 0 ||
	    check_tls(&c) < 0 || check_twist(&c) < 0 || check_mice(&c) < 0 ||
	    check_cluster(&c) < 0 || check_trt(&c) < 0 || check_fastpath(&c) < 0)
		return -1;
	return 0;
}
