/*
 * --config FILE: a YAML mapping of the command line's long options
 * (underscores or dashes), a scalar each, or a sequence of scalars for
 * server, route, listen and map. libyaml lives here only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "client/tc_conf.h"

struct yctx {
	yaml_parser_t p;
	const char *path;
	char *err;
	size_t errlen;
};

static int yerr(struct yctx *y, const yaml_event_t *ev, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	snprintf(y->err, y->errlen, "%s:%zu:%zu: %s", y->path, ev ? ev->start_mark.line + 1 : 0,
	         ev ? ev->start_mark.column + 1 : 0, msg);
	return -EINVAL;
}

static int next(struct yctx *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->p, ev)) {
		snprintf(y->err, y->errlen, "%s:%zu:%zu: %s", y->path, y->p.problem_mark.line + 1,
		         y->p.problem_mark.column + 1, y->p.problem ? y->p.problem : "bad YAML");
		return -EINVAL;
	}
	return 0;
}

static int set(struct tc_conf *c, struct yctx *y, const yaml_event_t *at, const char *key,
               const char *val)
{
	char msg[256];

	if (!strcmp(key, "config"))
		return yerr(y, at, "%s: not allowed in a file", key);
	if (tc_conf_set(c, key, val, msg, sizeof(msg)) < 0)
		return yerr(y, at, "%s", msg);
	return 0;
}

/* The value of key: a scalar, or a sequence of scalars. */
static int value(struct tc_conf *c, struct yctx *y, const char *key)
{
	yaml_event_t ev;
	int ret;

	if (next(y, &ev) < 0)
		return -EINVAL;
	if (ev.type == YAML_SCALAR_EVENT) {
		ret = set(c, y, &ev, key, (const char *)ev.data.scalar.value);
		yaml_event_delete(&ev);
		return ret;
	}
	if (ev.type != YAML_SEQUENCE_START_EVENT) {
		ret = yerr(y, &ev, "%s: want a value or a list", key);
		yaml_event_delete(&ev);
		return ret;
	}
	yaml_event_delete(&ev);
	for (int i = 0; i < 1024; i++) {
		if (next(y, &ev) < 0)
			return -EINVAL;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		ret = ev.type == YAML_SCALAR_EVENT
		              ? set(c, y, &ev, key, (const char *)ev.data.scalar.value)
		              : yerr(y, &ev, "%s: want a list of values", key);
		yaml_event_delete(&ev);
		if (ret < 0)
			return ret;
	}
	return yerr(y, NULL, "%s: list too long", key);
}

static int mapping(struct tc_conf *c, struct yctx *y)
{
	yaml_event_t ev;
	char key[64];
	int ret;

	for (;;) {
		if (next(y, &ev) < 0)
			return -EINVAL;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT || ev.data.scalar.length >= sizeof(key)) {
			ret = yerr(y, &ev, "%s", "want a key");
			yaml_event_delete(&ev);
			return ret;
		}
		memcpy(key, ev.data.scalar.value, ev.data.scalar.length + 1);
		for (char *k = key; *k; k++)
			if (*k == '_')
				*k = '-';
		yaml_event_delete(&ev);
		if (value(c, y, key) < 0)
			return -EINVAL;
	}
}

int tc_conf_yaml(struct tc_conf *c, const char *path, char *err, size_t errlen)
{
	struct yctx y = {.path = path, .err = err, .errlen = errlen};
	yaml_event_t ev;
	FILE *fp = fopen(path, "r");
	int ret = -EINVAL;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	yaml_parser_initialize(&y.p);
	yaml_parser_set_input_file(&y.p, fp);
	/* stream start, document start, then the mapping */
	for (int i = 0; i < 3; i++) {
		if (next(&y, &ev) < 0)
			goto done;
		if (i == 2 && ev.type != YAML_MAPPING_START_EVENT) {
			yerr(&y, &ev, "%s", "the file must be a mapping");
			yaml_event_delete(&ev);
			goto done;
		}
		yaml_event_delete(&ev);
	}
	ret = mapping(c, &y);
done:
	yaml_parser_delete(&y.p);
	fclose(fp);
	return ret;
}
