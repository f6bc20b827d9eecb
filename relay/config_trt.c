/*
 * The trt: section (docs/configuration.md): the values that need more than
 * a scalar (the prefix, the paired sources, the rules, the FTP ports). Like
 * config.c, only representability is checked here; families, ranges and
 * the /96 are config_check.c's.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "relay/config.h"
#include "relay/config_yaml.h"

#define TRT_DEFAULT_PORT 4630

static int cidr_value(struct yp *p, const char *name, struct tw_cidr *out)
{
	char s[TW_ADDR_STRLEN];

	if (yp_scalar_text(p, name, "an address range", s, sizeof(s)) < 0)
		return -1;
	if (tw_cidr_parse(s, out) < 0)
		return yp_cidr_fail(p, s);
	return 0;
}

static int value_prefix(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;

	return cidr_value(p, k->name, &cfg->trt_prefix);
}

static int value_rule_src(struct yp *p, const struct key *k, void *base)
{
	return cidr_value(p, k->name, &((struct trt_rule *)base)->src);
}

static int value_rule_dst(struct yp *p, const struct key *k, void *base)
{
	return cidr_value(p, k->name, &((struct trt_rule *)base)->dst);
}

static const struct key rule_keys[] = {
        {.name = "src", .parse = value_rule_src, .required = true},
        {.name = "dst", .parse = value_rule_dst, .required = true},
};

static int rules_parse(struct yp *p, const char *name, struct trt_rule *list, unsigned *n)
{
	int rc;

	if (yp_seq_begin(p, name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (*n == CFG_TRT_RULES)
			return yp_fail(p, p->ev.start_mark, "too many rules in 'trt.%s' (max %d)",
			               name, CFG_TRT_RULES);
		memset(&list[*n], 0, sizeof(list[*n]));
		if (yp_map_parse(p, name, rule_keys, nitems(rule_keys), &list[*n]) < 0)
			return -1;
		(*n)++;
	}
	return rc;
}

static int value_allow(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;

	return rules_parse(p, k->name, cfg->trt_allow, &cfg->n_trt_allow);
}

static int value_deny(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;

	return rules_parse(p, k->name, cfg->trt_deny, &cfg->n_trt_deny);
}

static int value_sources(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	int rc;

	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_trt_sources == CFG_TRT_SOURCES)
			return yp_fail(p, p->ev.start_mark, "too many ipv4_sources (max %d)",
			               CFG_TRT_SOURCES);
		if (yp_scalar_ip(p, k->name, &cfg->trt_sources[cfg->n_trt_sources]) < 0)
			return -1;
		cfg->n_trt_sources++;
	}
	return rc;
}

static int value_ftp_ports(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	struct key one = {.name = k->name, .min = 1, .max = UINT16_MAX};
	int rc;

	cfg->n_trt_ftp_ports = 0; /* replaces the default [21] */
	if (yp_seq_begin(p, k->name) < 0)
		return -1;
	while ((rc = yp_seq_next(p)) == 0) {
		if (cfg->n_trt_ftp_ports == CFG_TRT_FTP_PORTS)
			return yp_fail(p, p->ev.start_mark, "too many ftp_ports (max %d)",
			               CFG_TRT_FTP_PORTS);
		if (yp_value_u16(p, &one, &cfg->trt_ftp_ports[cfg->n_trt_ftp_ports]) < 0)
			return -1;
		cfg->n_trt_ftp_ports++;
	}
	return rc;
}

static int value_nft_table(struct yp *p, const struct key *k, void *base)
{
	struct config *cfg = base;
	char s[CFG_STR];
	size_t n;

	if (yp_scalar_text(p, k->name, "an nft table name", s, sizeof(s)) < 0)
		return -1;
	n = strlen(s);
	/* nft's identifier syntax, so that the name is safe inside a ruleset text. */
	if (n == 0 || n >= CFG_NFT_NAME ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
	              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n ||
	    (s[0] >= '0' && s[0] <= '9'))
		return yp_fail(
		        p, p->ev.start_mark,
		        "'%s' is not an nft table name (letters, digits, '_'; 1-%d characters)", s,
		        CFG_NFT_NAME - 1);
	memcpy(cfg->trt_nft_table, s, n + 1);
	return 0;
}

#define TRT_UINT(k, f) CFG_FIELD(k, yp_value_uint, struct config, f, 0, UINT_MAX)
#define TRT_BOOL(k, f) CFG_FIELD(k, yp_value_bool, struct config, f, 0, 0)

static const struct key trt_keys[] = {
        {TRT_BOOL("enabled", trt_enabled)},
        {.name = "prefix", .parse = value_prefix},
        {CFG_FIELD("port", yp_value_u16, struct config, trt_port, 1, UINT16_MAX)},
        {TRT_BOOL("nft", trt_nft)},
        {.name = "nft_table", .parse = value_nft_table},
        {.name = "ipv4_sources", .parse = value_sources},
        {.name = "allow", .parse = value_allow},
        {.name = "deny", .parse = value_deny},
        {TRT_BOOL("allow_private", trt_allow_private)},
        {TRT_UINT("tcp_idle_timeout", trt_tcp_idle_timeout)},
        {TRT_UINT("tcp_keepalive", trt_tcp_keepalive)},
        {TRT_UINT("udp_idle_timeout", trt_udp_idle_timeout)},
        {.name = "ftp_ports", .parse = value_ftp_ports},
        {TRT_UINT("max_tcp", trt_max_tcp)},
        {TRT_UINT("max_udp", trt_max_udp)},
};

int config_trt_section(struct yp *p, const struct key *k, void *base)
{
	return yp_map_parse(p, k->name, trt_keys, nitems(trt_keys), base);
}

void config_trt_defaults(struct config *cfg)
{
	tw_cidr_parse("64:ff9b::/96", &cfg->trt_prefix);
	cfg->trt_port = TRT_DEFAULT_PORT;
	cfg->trt_nft = true;
	snprintf(cfg->trt_nft_table, sizeof(cfg->trt_nft_table), "twist_trt");
	cfg->trt_tcp_idle_timeout = 7440;
	cfg->trt_tcp_keepalive = 600;
	cfg->trt_udp_idle_timeout = 300;
	cfg->trt_ftp_ports[0] = 21;
	cfg->n_trt_ftp_ports = 1;
	cfg->trt_max_tcp = 20000;
	cfg->trt_max_udp = 20000;
}
