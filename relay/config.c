/*
 * YAML to struct config. This is the only file that includes libyaml.
 *
 * The event API is used rather than the document API so that an alias is
 * refused where it appears instead of being expanded (no "billion laughs"),
 * and so that the schema is walked as the text is read: the first unknown
 * key or wrong type stops the parse with the mark of the offending node.
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

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_LISTEN_PORT  3478
#define DEFAULT_METRICS_PORT 9641

struct key;

struct yp {
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, owned while have_ev */
	bool have_ev;
	const unsigned char *doc;
	size_t len;
	const char *name;
	char *err;
	size_t errlen;
};

/* A value parser starts on the value's first event and ends on its last. */
typedef int (*value_fn)(struct yp *, const struct key *, void *);

struct key {
	const char *name;
	value_fn parse;
	size_t off; /* of the field within the struct the mapping fills */
	uint64_t min, max;
	const struct key *sub; /* value_map: the section's keys */
	size_t nsub;
	bool required;
};

/* A row for a field at a fixed offset; lo and hi bound integers only. */
#define CFG_FIELD(k, fn, type, field, lo, hi) \
	.name = k, .parse = fn, .off = offsetof(type, field), .min = lo, .max = hi

static int yp_fail(struct yp *p, yaml_mark_t m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int yp_fail(struct yp *p, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	n = snprintf(p->err, p->errlen, "%s:%zu:%zu: ", p->name, m.line + 1, m.column + 1);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* libyaml's reader reports a byte offset, not a mark. */
static yaml_mark_t mark_at(const struct yp *p, size_t off)
{
	yaml_mark_t m = {0, 0, 0};
	size_t bol = 0;

	if (off > p->len)
		off = p->len;
	for (size_t i = 0; i < off; i++) {
		if (p->doc[i] == '\n') {
			m.line++;
			bol = i + 1;
		}
	}
	m.index = off;
	m.column = off - bol;
	return m;
}

static int yp_fail_syntax(struct yp *p)
{
	const yaml_parser_t *y = &p->parser;
	const char *problem = y->problem ? y->problem : "invalid YAML";

	switch (y->error) {
	case YAML_MEMORY_ERROR:
		return yp_fail(p, y->mark, "out of memory");
	case YAML_READER_ERROR:
		if (y->problem_value >= 0)
			return yp_fail(p, mark_at(p, y->problem_offset), "%s (0x%02x)", problem,
			               (unsigned)y->problem_value);
		return yp_fail(p, mark_at(p, y->problem_offset), "%s", problem);
	default:
		if (y->context)
			return yp_fail(p, y->problem_mark, "%s (%s at %zu:%zu)", problem,
			               y->context, y->context_mark.line + 1,
			               y->context_mark.column + 1);
		return yp_fail(p, y->problem_mark, "%s", problem);
	}
}

static int yp_next(struct yp *p)
{
	const yaml_char_t *tag = NULL;

	if (p->have_ev) {
		yaml_event_delete(&p->ev);
		p->have_ev = false;
	}
	if (!yaml_parser_parse(&p->parser, &p->ev))
		return yp_fail_syntax(p);
	p->have_ev = true;

	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		return yp_fail(p, p->ev.start_mark, "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		tag = p->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		tag = p->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		tag = p->ev.data.mapping_start.tag;
		break;
	default:
		break;
	}
	/* A tag would change a value's type behind the schema's back. */
	if (tag != NULL)
		return yp_fail(p, p->ev.start_mark, "tags are not allowed");
	return 0;
}

static bool ev_is_null(const yaml_event_t *ev)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < nitems(nulls); i++)
		if (ev->data.scalar.length == strlen(nulls[i]) &&
		    memcmp(ev->data.scalar.value, nulls[i], ev->data.scalar.length) == 0)
			return true;
	return false;
}

/* A short printable rendering of a scalar: messages must not carry raw bytes. */
static const char *scalar_show(const yaml_event_t *ev, char *buf, size_t len)
{
	return log_esc(ev->data.scalar.value, ev->data.scalar.length, buf, len);
}

/* What a node is, for "expected X, got Y". */
static const char *ev_what(const yaml_event_t *ev, char *buf, size_t len)
{
	char s[40];

	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_SCALAR_EVENT:
		if (ev_is_null(ev))
			return "null";
		snprintf(buf, len, "%s'%s'",
		         ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "" : "quoted ",
		         scalar_show(ev, s, sizeof(s)));
		return buf;
	default:
		return "something else";
	}
}

static int yp_fail_type(struct yp *p, const char *name, const char *want)
{
	char buf[64];
	const char *hint = "";

	if (ev_is_null(&p->ev)) {
		if (strcmp(want, "a list") == 0)
			hint = " (write [] for an empty list)";
		else if (strcmp(want, "a string") == 0)
			hint = " (write \"\" for an empty string)";
	}
	return yp_fail(p, p->ev.start_mark, "expected %s for '%s', got %s%s", want, name,
	               ev_what(&p->ev, buf, sizeof(buf)), hint);
}

/* Copies a non-null scalar into buf as a C string. */
static int scalar_text(struct yp *p, const char *name, const char *want, char *buf, size_t len)
{
	const yaml_event_t *ev = &p->ev;

	if (ev->type != YAML_SCALAR_EVENT || ev_is_null(ev))
		return yp_fail_type(p, name, want);
	if (ev->data.scalar.length >= len)
		return yp_fail(p, ev->start_mark, "value for '%s' is too long (max %zu bytes)",
		               name, len - 1);
	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL)
		return yp_fail(p, ev->start_mark, "value for '%s' contains a NUL byte", name);
	memcpy(buf, ev->data.scalar.value, ev->data.scalar.length);
	buf[ev->data.scalar.length] = '\0';
	return 0;
}

/*
 * Plain decimal only: no sign, no leading zero (YAML 1.1 would read 010 as
 * octal), no 0x, no underscores, no trailing junk.
 */
static int scalar_u64(struct yp *p, const struct key *k, uint64_t *out)
{
	const yaml_event_t *ev = &p->ev;
	const unsigned char *s;
	uint64_t v = 0;
	char buf[64];
	size_t n;

	if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		goto bad;
	s = ev->data.scalar.value;
	n = ev->data.scalar.length;
	if (n == 0 || (n > 1 && s[0] == '0'))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)s[i] - '0';

		if (d > 9)
			goto bad;
		if (v > (UINT64_MAX - d) / 10)
			goto range;
		v = v * 10 + d;
	}
	if (v < k->min || v > k->max)
		goto range;
	*out = v;
	return 0;
range:
	return yp_fail(p, ev->start_mark,
	               "'%s' must be between %" PRIu64 " and %" PRIu64 ", got %s", k->name, k->min,
	               k->max, scalar_show(ev, buf, sizeof(buf)));
bad:
	return yp_fail_type(p, k->name, "a non-negative decimal integer");
}

static int value_u16(struct yp *p, const struct key *k, void *base)
{
	uint64_t v = 0;

	if (scalar_u64(p, k, &v) < 0)
		return -1;
	*(uint16_t *)((char *)base + k->off) = (uint16_t)v;
	return 0;
}

static int value_uint(struct yp *p, const struct key *k, void *base)
{
	uint64_t v = 0;

	if (scalar_u64(p, k, &v) < 0)
		return -1;
	*(unsigned *)((char *)base + k->off) = (unsigned)v;
	return 0;
}

static int value_u64(struct yp *p, const struct key *k, void *base)
{
	uint64_t v = 0;

	if (scalar_u64(p, k, &v) < 0)
		return -1;
	*(uint64_t *)((char *)base + k->off) = v;
	return 0;
}

static int value_bool(struct yp *p, const struct key *k, void *base)
{
	static const struct {
		const char *word;
		bool v;
	} words[] = {{"true", true}, {"yes", true}, {"false", false}, {"no", false}};
	const yaml_event_t *ev = &p->ev;

	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (size_t i = 0; i < nitems(words); i++) {
			if (ev->data.scalar.length == strlen(words[i].word) &&
			    strncasecmp((const char *)ev->data.scalar.value, words[i].word,
			                ev->data.scalar.length) == 0) {
				*(bool *)((char *)base + k->off) = words[i].v;
				return 0;
			}
		}
	}
	return yp_fail_type(p, k->name, "true or false");
}

static int value_str(struct yp *p, const struct key *k, void *base)
{
	return scalar_text(p, k->name, "a string", (char *)base + k->off, CFG_STR);
}

static int scalar_ip(struct yp *p, const char *name, struct tw_addr *out)
{
	char s[TW_ADDR_STRLEN];

	if (scalar_text(p, name, "an IP address", s, sizeof(s)) < 0)
		return -1;
	if (tw_addr_parse_ip(s, out) < 0)
		return yp_fail(p, p->ev.start_mark, "'%s' is not an IP address", s);
	return 0;
}

/* Sets the IP, keeps the port: "port" may come before "address". */
static int value_ip(struct yp *p, const struct key *k, void *base)
{
	struct tw_addr *a = (struct tw_addr *)((char *)base + k->off), ip;

	if (scalar_ip(p, k->name, &ip) < 0)
		return -1;
	a->family = ip.family;
	memcpy(a->ip, ip.ip, sizeof(a->ip));
	return 0;
}

static int seq_begin(struct yp *p, const char *name)
{
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return yp_fail_type(p, name, "a list");
	return 0;
}

/* Moves to the next element; 1 at the end of the list. */
static int seq_next(struct yp *p)
{
	if (yp_next(p) < 0)
		return -1;
	return p->ev.type == YAML_SEQUENCE_END_EVENT;
}

static const struct key *key_find(const struct key *keys, size_t n, const yaml_event_t *ev)
{
	for (size_t i = 0; i < n; i++)
		if (ev->data.scalar.length == strlen(keys[i].name) &&
		    memcmp(ev->data.scalar.value, keys[i].name, ev->data.scalar.length) == 0)
			return &keys[i];
	return NULL;
}

/* where: the section's name for messages; NULL for the top level. */
static int map_parse(struct yp *p, const char *where, const struct key *keys, size_t n, void *base)
{
	yaml_mark_t start = p->ev.start_mark;
	uint64_t seen = 0;
	const struct key *k;
	char buf[64];

	if (p->ev.type != YAML_MAPPING_START_EVENT) {
		if (where == NULL)
			return yp_fail(p, start, "the top level must be a mapping, got %s",
			               ev_what(&p->ev, buf, sizeof(buf)));
		return yp_fail_type(p, where, "a mapping");
	}
	for (;;) {
		if (yp_next(p) < 0)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (p->ev.type != YAML_SCALAR_EVENT)
			return yp_fail(p, p->ev.start_mark, "expected a key in '%s', got %s",
			               where ? where : "the top level",
			               ev_what(&p->ev, buf, sizeof(buf)));
		if ((k = key_find(keys, n, &p->ev)) == NULL) {
			if (where == NULL)
				return yp_fail(p, p->ev.start_mark, "unknown top-level key '%s'",
				               scalar_show(&p->ev, buf, sizeof(buf)));
			return yp_fail(p, p->ev.start_mark, "unknown key '%s' in '%s'",
			               scalar_show(&p->ev, buf, sizeof(buf)), where);
		}
		/* Tables are short: a bit per key. */
		if (seen & (UINT64_C(1) << (k - keys)))
			return yp_fail(p, p->ev.start_mark, "duplicate key '%s'", k->name);
		seen |= UINT64_C(1) << (k - keys);
		if (yp_next(p) < 0 || k->parse(p, k, base) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i].required && !(seen & (UINT64_C(1) << i)))
			return yp_fail(p, start, "missing key '%s' in '%s'", keys[i].name,
			               where ? where : "the top level");
	return 0;
}

static int value_map(struct yp *p, const struct key *k, void *base)
{
	return map_parse(p, k->name, k->sub, k->nsub, base);
}

static int value_transports(struct yp *p, const struct key *k, void *base)
{
	struct cfg_listen *l = base;
	yaml_mark_t start = p->ev.start_mark;
	bool udp = false, tcp = false, *t;
	char s[CFG_STR];
	int rc;

	if (seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = seq_next(p)) == 0) {
		if (scalar_text(p, k->name, "udp or tcp", s, sizeof(s)) < 0)
			return -1;
		if (strcmp(s, "udp") == 0)
			t = &udp;
		else if (strcmp(s, "tcp") == 0)
			t = &tcp;
		else
			return yp_fail(p, p->ev.start_mark,
			               "unknown transport '%s' (expected udp or tcp)", s);
		if (*t)
			return yp_fail(p, p->ev.start_mark, "duplicate transport '%s'", s);
		*t = true;
	}
	if (rc < 0)
		return -1;
	if (!udp && !tcp)
		return yp_fail(p, start, "'transports' is empty");
	l->udp = udp;
	l->tcp = tcp;
	return 0;
}

static const struct key listen_keys[] = {
        {CFG_FIELD("address", value_ip, struct cfg_listen, addr, 0, 0), .required = true},
        {CFG_FIELD("port", value_u16, struct cfg_listen, addr.port, 1, UINT16_MAX)},
        {.name = "transports", .parse = value_transports},
};

static int value_listen(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	struct cfg_listen *l;
	int rc;

	if (seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = seq_next(p)) == 0) {
		if (cfg->n_listen == CFG_MAX_LISTEN)
			return yp_fail(p, p->ev.start_mark, "too many listeners (max %d)",
			               CFG_MAX_LISTEN);
		l = &cfg->listen[cfg->n_listen];
		memset(l, 0, sizeof(*l));
		l->addr.port = DEFAULT_LISTEN_PORT;
		l->udp = l->tcp = true;
		if (map_parse(p, "listen", listen_keys, nitems(listen_keys), l) < 0)
			return -1;
		cfg->n_listen++;
	}
	return rc;
}

static int value_relay_addresses(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	int rc;

	if (seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = seq_next(p)) == 0) {
		if (cfg->n_relay == CFG_MAX_RELAY)
			return yp_fail(p, p->ev.start_mark, "too many relay addresses (max %d)",
			               CFG_MAX_RELAY);
		if (scalar_ip(p, k->name, &cfg->relay[cfg->n_relay]) < 0)
			return -1;
		cfg->n_relay++;
	}
	return rc;
}

static const struct key user_keys[] = {
        {CFG_FIELD("name", value_str, struct cfg_user, name, 0, 0), .required = true},
        {CFG_FIELD("password", value_str, struct cfg_user, password, 0, 0), .required = true},
};

static int value_users(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	struct cfg_user *u;
	size_t cap = 0;
	int rc;

	if (seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = seq_next(p)) == 0) {
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
		if (map_parse(p, "auth.users", user_keys, nitems(user_keys), u) < 0)
			return -1;
		cfg->n_users++;
	}
	return rc;
}

/*
 * tw_cidr_parse() only says -EINVAL. Host bits set is the usual typo in an
 * ACL, so say so, with the network that was probably meant.
 */
static int cidr_fail(struct yp *p, const char *s)
{
	char ip[TW_ADDR_STRLEN], fixed[TW_ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	struct tw_addr a;
	unsigned long prefix;
	char *end;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		goto plain;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (tw_addr_parse_ip(ip, &a) < 0 || slash[1] < '0' || slash[1] > '9')
		goto plain;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno || *end != '\0' || prefix > tw_addr_iplen(&a) * 8)
		goto plain;
	for (unsigned bit = (unsigned)prefix; bit < tw_addr_iplen(&a) * 8; bit++)
		a.ip[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return yp_fail(p, p->ev.start_mark, "'%s' has host bits set (did you mean %s/%lu?)", s,
	               tw_addr_fmt_ip(&a, fixed, sizeof(fixed)), prefix);
plain:
	return yp_fail(p, p->ev.start_mark, "'%s' is not an address range (want ip/prefix)", s);
}

static int cidrs_parse(struct yp *p, const char *name, struct tw_cidr *list, unsigned *n)
{
	char s[TW_ADDR_STRLEN];
	int rc;

	if (seq_begin(p, name) < 0)
		return -1;
	while ((rc = seq_next(p)) == 0) {
		if (*n == CFG_MAX_CIDRS)
			return yp_fail(p, p->ev.start_mark, "too many ranges in '%s' (max %d)",
			               name, CFG_MAX_CIDRS);
		if (scalar_text(p, name, "an address range", s, sizeof(s)) < 0)
			return -1;
		if (tw_cidr_parse(s, &list[*n]) < 0)
			return cidr_fail(p, s);
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

	if (scalar_text(p, k->name, "an address", s, sizeof(s)) < 0)
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

	if (scalar_text(p, k->name, "error, warn, info or debug", s, sizeof(s)) < 0)
		return -1;
	if (log_level_parse(s, &cfg->log_level) == 0)
		return 0;
	return yp_fail(p, p->ev.start_mark,
	               "unknown log level '%s' (expected error, warn, info or debug)", s);
}

/* Brace-less, so that each table row stays on one line. */
#define CFG_UINT(k, f)       CFG_FIELD(k, value_uint, struct config, f, 0, UINT_MAX)
#define CFG_BOOL(k, f)       CFG_FIELD(k, value_bool, struct config, f, 0, 0)
#define CFG_STRING(k, f)     CFG_FIELD(k, value_str, struct config, f, 0, 0)
#define CFG_LIST(k, fn)      .name = k, .parse = fn
#define CFG_SECTION(k, keys) .name = k, .parse = value_map, .sub = keys, .nsub = nitems(keys)

static const struct key relay_keys[] = {
        {CFG_LIST("addresses", value_relay_addresses)},
        {CFG_FIELD("port_min", value_u16, struct config, port_min, 0, UINT16_MAX)},
        {CFG_FIELD("port_max", value_u16, struct config, port_max, 0, UINT16_MAX)},
};

static const struct key auth_keys[] = {
        {CFG_STRING("realm", realm)},
        {CFG_LIST("users", value_users)},
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
        {CFG_FIELD("bandwidth", value_u64, struct config, bandwidth, 0, UINT64_MAX)},
        {CFG_UINT("default_lifetime", default_lifetime)},
        {CFG_UINT("max_lifetime", max_lifetime)},
};

static const struct key compat_keys[] = {
        {CFG_BOOL("rfc5766_channels", rfc5766_channels)},
};

static const struct key ha_keys[] = {
        {CFG_BOOL("enabled", ha_enabled)},
        {CFG_STRING("ipc_dir", ha_ipc_dir)},
        {CFG_UINT("sync_deadline_ms", ha_sync_deadline_ms)},
};

static const struct key metrics_keys[] = {
        {CFG_BOOL("enabled", metrics_enabled)},
        {CFG_LIST("listen", value_metrics_listen)},
};

static const struct key log_keys[] = {
        {CFG_LIST("level", value_log_level)},
        {CFG_BOOL("syslog", log_syslog)},
};

static const struct key root_keys[] = {
        {CFG_LIST("listen", value_listen)},     {CFG_SECTION("relay", relay_keys)},
        {CFG_UINT("workers", workers)},         {CFG_SECTION("auth", auth_keys)},
        {CFG_SECTION("peers", peers_keys)},     {CFG_SECTION("limits", limits_keys)},
        {CFG_SECTION("metrics", metrics_keys)}, {CFG_SECTION("log", log_keys)},
        {CFG_STRING("software", software)},     {CFG_SECTION("compat", compat_keys)},
        {CFG_SECTION("ha", ha_keys)},
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
	if (ev_is_null(&p->ev))
		return yp_fail(p, p->ev.start_mark, "empty document");
	if (map_parse(p, NULL, root_keys, nitems(root_keys), cfg) < 0)
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
	cfg->metrics_enabled = true;
	tw_addr_parse_ip("127.0.0.1", &cfg->metrics);
	cfg->metrics.port = DEFAULT_METRICS_PORT;
	cfg->log_level = LOG_LVL_INFO;
	snprintf(cfg->software, sizeof(cfg->software), "twist");
	snprintf(cfg->ha_ipc_dir, sizeof(cfg->ha_ipc_dir), "/run/twist");
	cfg->ha_sync_deadline_ms = 5;
}

void config_clear(struct config *cfg)
{
	free(cfg->users);
	cfg->users = NULL;
	cfg->n_users = 0;
}
