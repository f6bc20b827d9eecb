/*
 * The YAML reader under relay/config.c: libyaml's event API walked against
 * a table of keys (struct key), each with its value parser. Errors carry
 * "name:line:column". Only config.c and config_yaml.c include this.
 */
#ifndef TWIST_RELAY_CONFIG_YAML_H
#define TWIST_RELAY_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "proto/addr.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

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
	const struct key *sub; /* yp_value_map: the section's keys */
	size_t nsub;
	bool required;
};

/* A row for a field at a fixed offset; lo and hi bound integers only. */
#define CFG_FIELD(k, fn, type, field, lo, hi) \
	.name = k, .parse = fn, .off = offsetof(type, field), .min = lo, .max = hi

int yp_fail(struct yp *p, yaml_mark_t m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int yp_next(struct yp *p);
bool yp_ev_is_null(const yaml_event_t *ev);
int yp_scalar_text(struct yp *p, const char *name, const char *want, char *buf, size_t len);
int yp_value_u16(struct yp *p, const struct key *k, void *base);
int yp_value_uint(struct yp *p, const struct key *k, void *base);
int yp_value_u64(struct yp *p, const struct key *k, void *base);
int yp_value_bool(struct yp *p, const struct key *k, void *base);
int yp_value_str(struct yp *p, const struct key *k, void *base);
int yp_scalar_ip(struct yp *p, const char *name, struct tw_addr *out);
int yp_value_ip(struct yp *p, const struct key *k, void *base);
int yp_seq_begin(struct yp *p, const char *name);
int yp_seq_next(struct yp *p);
int yp_map_parse(struct yp *p, const char *where, const struct key *keys, size_t n, void *base);
int yp_value_map(struct yp *p, const struct key *k, void *base);
/* An address range that tw_cidr_parse() refused: says why, host bits first. */
int yp_cidr_fail(struct yp *p, const char *s);

/* The trt: section (relay/config_trt.c). */
int config_trt_section(struct yp *p, const struct key *k, void *base);

#endif
