/*
 * The YAML reader of relay/config.c (relay/config_yaml.h). With config.c
 * the only files that include libyaml.
 *
 * The event API is used rather than the document API so that an alias is
 * refused where it appears instead of being expanded (no "billion laughs"),
 * and so that the schema is walked as the text is read: the first unknown
 * key or wrong type stops the parse with the mark of the offending node.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "relay/config.h"
#include "relay/config_yaml.h"

int yp_fail(struct yp *p, yaml_mark_t m, const char *fmt, ...)
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
static yaml_mark_t yp_mark_at(const struct yp *p, size_t off)
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
			return yp_fail(p, yp_mark_at(p, y->problem_offset), "%s (0x%02x)", problem,
			               (unsigned)y->problem_value);
		return yp_fail(p, yp_mark_at(p, y->problem_offset), "%s", problem);
	default:
		if (y->context)
			return yp_fail(p, y->problem_mark, "%s (%s at %zu:%zu)", problem,
			               y->context, y->context_mark.line + 1,
			               y->context_mark.column + 1);
		return yp_fail(p, y->problem_mark, "%s", problem);
	}
}

int yp_next(struct yp *p)
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

bool yp_ev_is_null(const yaml_event_t *ev)
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
static const char *yp_scalar_show(const yaml_event_t *ev, char *buf, size_t len)
{
	return log_esc(ev->data.scalar.value, ev->data.scalar.length, buf, len);
}

/* What a node is, for "expected X, got Y". */
static const char *yp_ev_what(const yaml_event_t *ev, char *buf, size_t len)
{
	char s[40];

	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_SCALAR_EVENT:
		if (yp_ev_is_null(ev))
			return "null";
		snprintf(buf, len, "%s'%s'",
		         ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "" : "quoted ",
		         yp_scalar_show(ev, s, sizeof(s)));
		return buf;
	default:
		return "something else";
	}
}

static int yp_fail_type(struct yp *p, const char *name, const char *want)
{
	char buf[64];
	const char *hint = "";

	if (yp_ev_is_null(&p->ev)) {
		if (strcmp(want, "a list") == 0)
			hint = " (write [] for an empty list)";
		else if (strcmp(want, "a string") == 0)
			hint = " (write \"\" for an empty string)";
	}
	return yp_fail(p, p->ev.start_mark, "expected %s for '%s', got %s%s", want, name,
	               yp_ev_what(&p->ev, buf, sizeof(buf)), hint);
}

/* Copies a non-null scalar into buf as a C string. */
int yp_scalar_text(struct yp *p, const char *name, const char *want, char *buf, size_t len)
{
	const yaml_event_t *ev = &p->ev;

	if (ev->type != YAML_SCALAR_EVENT || yp_ev_is_null(ev))
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
static int yp_scalar_u64(struct yp *p, const struct key *k, uint64_t *out)
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
	               k->max, yp_scalar_show(ev, buf, sizeof(buf)));
bad:
	return yp_fail_type(p, k->name, "a non-negative decimal integer");
}

int yp_value_u16(struct yp *p, const struct key *k, void *base)
{
	uint64_t v = 0;

	if (yp_scalar_u64(p, k, &v) < 0)
		return -1;
	*(uint16_t *)((char *)base + k->off) = (uint16_t)v;
	return 0;
}

int yp_value_uint(struct yp *p, const struct key *k, void *base)
{
	uint64_t v = 0;

	if (yp_scalar_u64(p, k, &v) < 0)
		return -1;
	*(unsigned *)((char *)base + k->off) = (unsigned)v;
	return 0;
}

int yp_value_u64(struct yp *p, const struct key *k, void *base)
{
	uint64_t v = 0;

	if (yp_scalar_u64(p, k, &v) < 0)
		return -1;
	*(uint64_t *)((char *)base + k->off) = v;
	return 0;
}

int yp_value_bool(struct yp *p, const struct key *k, void *base)
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

int yp_value_str(struct yp *p, const struct key *k, void *base)
{
	return yp_scalar_text(p, k->name, "a string", (char *)base + k->off, CFG_STR);
}

int yp_scalar_ip(struct yp *p, const char *name, struct tw_addr *out)
{
	char s[TW_ADDR_STRLEN];

	if (yp_scalar_text(p, name, "an IP address", s, sizeof(s)) < 0)
		return -1;
	if (tw_addr_parse_ip(s, out) < 0)
		return yp_fail(p, p->ev.start_mark, "'%s' is not an IP address", s);
	return 0;
}

/* Sets the IP, keeps the port: "port" may come before "address". */
int yp_value_ip(struct yp *p, const struct key *k, void *base)
{
	struct tw_addr *a = (struct tw_addr *)((char *)base + k->off), ip;

	if (yp_scalar_ip(p, k->name, &ip) < 0)
		return -1;
	a->family = ip.family;
	memcpy(a->ip, ip.ip, sizeof(a->ip));
	return 0;
}

int yp_seq_begin(struct yp *p, const char *name)
{
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return yp_fail_type(p, name, "a list");
	return 0;
}

/* Moves to the next element; 1 at the end of the list. */
int yp_seq_next(struct yp *p)
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
int yp_map_parse(struct yp *p, const char *where, const struct key *keys, size_t n, void *base)
{
	yaml_mark_t start = p->ev.start_mark;
	uint64_t seen = 0;
	const struct key *k;
	char buf[64];

	if (p->ev.type != YAML_MAPPING_START_EVENT) {
		if (where == NULL)
			return yp_fail(p, start, "the top level must be a mapping, got %s",
			               yp_ev_what(&p->ev, buf, sizeof(buf)));
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
			               yp_ev_what(&p->ev, buf, sizeof(buf)));
		if ((k = key_find(keys, n, &p->ev)) == NULL) {
			if (where == NULL)
				return yp_fail(p, p->ev.start_mark, "unknown top-level key '%s'",
				               yp_scalar_show(&p->ev, buf, sizeof(buf)));
			return yp_fail(p, p->ev.start_mark, "unknown key '%s' in '%s'",
			               yp_scalar_show(&p->ev, buf, sizeof(buf)), where);
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

int yp_value_map(struct yp *p, const struct key *k, void *base)
{
	return yp_map_parse(p, k->name, k->sub, k->nsub, base);
}

/*
 * tw_cidr_parse() only says -EINVAL. Host bits set is the usual typo in an
 * ACL, so say so, with the network that was probably meant.
 */
int yp_cidr_fail(struct yp *p, const char *s)
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
