#include "client/ice/ice_cand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *ice_cand_type_name(enum ice_cand_type t)
{
	switch (t) {
	case ICE_CAND_HOST:
		return "host";
	case ICE_CAND_SRFLX:
		return "srflx";
	case ICE_CAND_PRFLX:
		return "prflx";
	case ICE_CAND_RELAY:
		return "relay";
	}
	return "?";
}

const char *ice_pair_state_name(enum ice_pair_state s)
{
	switch (s) {
	case ICE_PAIR_FROZEN:
		return "frozen";
	case ICE_PAIR_WAITING:
		return "waiting";
	case ICE_PAIR_IN_PROGRESS:
		return "in-progress";
	case ICE_PAIR_SUCCEEDED:
		return "succeeded";
	case ICE_PAIR_FAILED:
		return "failed";
	}
	return "?";
}

/* RFC 8445 §5.1.2.2: the recommended type preferences. */
static uint32_t type_pref(enum ice_cand_type t)
{
	switch (t) {
	case ICE_CAND_HOST:
		return 126;
	case ICE_CAND_PRFLX:
		return 110;
	case ICE_CAND_SRFLX:
		return 100;
	case ICE_CAND_RELAY:
		return 0;
	}
	return 0;
}

uint32_t ice_cand_priority(enum ice_cand_type t, uint16_t local_pref, uint8_t comp)
{
	return type_pref(t) << 24 | (uint32_t)local_pref << 8 | (uint32_t)(256 - comp);
}

uint64_t ice_pair_priority(uint32_t g, uint32_t d)
{
	uint64_t lo = g < d ? g : d, hi = g > d ? g : d;

	return (lo << 32) + 2 * hi + (g > d ? 1 : 0);
}

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

void ice_cand_foundation(struct ice_cand *c, const struct tw_addr *base,
                         const struct tw_addr *server)
{
	uint32_t h = 2166136261u;
	uint8_t t = (uint8_t)c->type;

	h = fnv1a(h, &t, 1);
	h = fnv1a(h, &base->family, 1);
	h = fnv1a(h, base->ip, tw_addr_iplen(base));
	if (server && server->family) {
		h = fnv1a(h, &server->family, 1);
		h = fnv1a(h, server->ip, tw_addr_iplen(server));
	}
	snprintf(c->foundation, sizeof(c->foundation), "%u", h);
}

static bool ice_chars_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ICE_FOUNDATION_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return false;
	}
	return true;
}

/* A decimal number of at most max; no sign, no spaces, no trailing bytes. */
static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_type(const char *s, enum ice_cand_type *t)
{
	static const enum ice_cand_type all[] = {ICE_CAND_HOST, ICE_CAND_SRFLX, ICE_CAND_PRFLX,
	                                         ICE_CAND_RELAY};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(s, ice_cand_type_name(all[i])) == 0) {
			*t = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

#define CAND_MAX_TOKENS 32

static size_t split(char *s, char **tok, size_t cap)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (n == cap)
			return cap + 1;
		tok[n++] = t;
	}
	return n;
}

/* The "raddr A rport P" extension and the others, skipped in name/value pairs. */
static int parse_ext(char **tok, size_t n, struct ice_cand *c)
{
	bool have_raddr = false, have_rport = false;
	uint64_t v;

	if (n % 2)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		if (strcmp(tok[i], "raddr") == 0) {
			if (tw_addr_parse_ip(tok[i + 1], &c->rel) < 0)
				return -EINVAL;
			have_raddr = true;
		} else if (strcmp(tok[i], "rport") == 0) {
			if (parse_num(tok[i + 1], 65535, &v) < 0)
				return -EINVAL;
			c->rel.port = (uint16_t)v;
			have_rport = true;
		}
	}
	if (have_raddr != have_rport)
		return -EINVAL;
	if (!have_raddr)
		memset(&c->rel, 0, sizeof(c->rel));
	return 0;
}

int ice_cand_parse(const char *s, struct ice_cand *out)
{
	char buf[512], *tok[CAND_MAX_TOKENS];
	struct ice_cand c = {.base = -1};
	uint64_t v;
	size_t n;

	if (strncmp(s, "candidate:", 10) == 0)
		s += 10;
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	n = split(buf, tok, CAND_MAX_TOKENS);
	if (n < 8 || n > CAND_MAX_TOKENS || strcmp(tok[6], "typ") != 0)
		return -EINVAL;
	if (!ice_chars_ok(tok[0]))
		return -EINVAL;
	strcpy(c.foundation, tok[0]);
	if (parse_num(tok[1], 256, &v) < 0 || v < 1)
		return -EINVAL;
	c.comp = (uint8_t)(v > ICE_COMP_MAX ? 0 : v);
	if (!c.comp)
		return -EINVAL;
	if (strcasecmp(tok[2], "udp") != 0)
		return -EPROTONOSUPPORT;
	if (parse_num(tok[3], UINT32_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	c.prio = (uint32_t)v;
	if (tw_addr_parse_ip(tok[4], &c.addr) < 0)
		return -EINVAL;
	if (parse_num(tok[5], 65535, &v) < 0 || v == 0)
		return -EINVAL;
	c.addr.port = (uint16_t)v;
	if (parse_type(tok[7], &c.type) < 0 || parse_ext(tok + 8, n - 8, &c) < 0)
		return -EINVAL;
	*out = c;
	return 0;
}

int ice_cand_fmt(const struct ice_cand *c, char *buf, size_t cap)
{
	char a[TW_ADDR_STRLEN], r[TW_ADDR_STRLEN];
	int n;

	tw_addr_fmt_ip(&c->addr, a, sizeof(a));
	if (c->rel.family) {
		tw_addr_fmt_ip(&c->rel, r, sizeof(r));
		n = snprintf(buf, cap, "%s %u udp %u %s %u typ %s raddr %s rport %u", c->foundation,
		             c->comp, c->prio, a, c->addr.port, ice_cand_type_name(c->type), r,
		             c->rel.port);
	} else {
		n = snprintf(buf, cap, "%s %u udp %u %s %u typ %s", c->foundation, c->comp, c->prio,
		             a, c->addr.port, ice_cand_type_name(c->type));
	}
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

static int pair_cmp(const void *a, const void *b)
{
	const struct ice_pair *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	/* qsort is not stable: the indices keep the order deterministic */
	if (x->local != y->local)
		return x->local < y->local ? -1 : 1;
	return x->remote < y->remote ? -1 : (x->remote > y->remote);
}

void ice_pairs_sort(struct ice_pair *p, size_t n)
{
	qsort(p, n, sizeof(*p), pair_cmp);
}

bool ice_pair_same_foundation(const struct ice_cand *loc, const struct ice_cand *rem,
                              const struct ice_pair *a, const struct ice_pair *b)
{
	return strcmp(loc[a->local].foundation, loc[b->local].foundation) == 0 &&
	       strcmp(rem[a->remote].foundation, rem[b->remote].foundation) == 0;
}

/* The local candidate a pair really sends from: srflx (and prflx) stand for their base. */
static size_t pair_base(const struct ice_cand *loc, size_t nloc, size_t i)
{
	if (loc[i].type != ICE_CAND_SRFLX && loc[i].type != ICE_CAND_PRFLX)
		return i;
	for (size_t j = 0; j < nloc; j++)
		if (loc[j].type == ICE_CAND_HOST && loc[j].base == loc[i].base)
			return j;
	return i;
}

static bool pair_redundant(const struct ice_pair *out, size_t n, const struct ice_pair *p)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].local == p->local && out[i].remote == p->remote)
			return true;
	return false;
}

static void checklist_unfreeze_initial(const struct ice_cand *loc, const struct ice_cand *rem,
                                       struct ice_pair *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool first = true;

		for (size_t j = 0; j < n && first; j++) {
			if (j == i || !ice_pair_same_foundation(loc, rem, &p[i], &p[j]))
				continue;
			/* lowest component first, then highest priority (sorted) */
			if (loc[p[j].local].comp < loc[p[i].local].comp ||
			    (loc[p[j].local].comp == loc[p[i].local].comp && j < i))
				first = false;
		}
		p[i].state = first ? ICE_PAIR_WAITING : ICE_PAIR_FROZEN;
	}
}

size_t ice_checklist_form(const struct ice_cand *loc, size_t nloc, const struct ice_cand *rem,
                          size_t nrem, bool controlling, size_t max_pairs, struct ice_pair *out,
                          size_t cap)
{
	struct ice_pair *all;
	size_t n = 0, kept = 0;

	if (!nloc || !nrem || !cap)
		return 0;
	all = calloc(nloc * nrem, sizeof(*all));
	if (!all)
		return 0;
	for (size_t i = 0; i < nloc; i++) {
		for (size_t j = 0; j < nrem; j++) {
			const struct ice_cand *l = &loc[i], *r = &rem[j];

			if (l->comp != r->comp || l->addr.family != r->addr.family)
				continue;
			all[n].local = (uint16_t)pair_base(loc, nloc, i);
			all[n].remote = (uint16_t)j;
			all[n].prio = controlling ? ice_pair_priority(l->prio, r->prio)
			                          : ice_pair_priority(r->prio, l->prio);
			n++;
		}
	}
	ice_pairs_sort(all, n);
	if (max_pairs > cap)
		max_pairs = cap;
	for (size_t i = 0; i < n && kept < max_pairs; i++) {
		if (pair_redundant(out, kept, &all[i]))
			continue;
		out[kept++] = all[i];
	}
	free(all);
	checklist_unfreeze_initial(loc, rem, out, kept);
	return kept;
}

enum ice_role_verdict ice_role_check(bool we_controlling, uint64_t our_tb, bool they_controlling,
                                     uint64_t their_tb)
{
	if (we_controlling != they_controlling)
		return ICE_ROLE_OK;
	if (we_controlling)
		return our_tb >= their_tb ? ICE_ROLE_487 : ICE_ROLE_SWITCH;
	return our_tb >= their_tb ? ICE_ROLE_SWITCH : ICE_ROLE_487;
}
