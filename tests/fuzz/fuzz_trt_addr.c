/*
 * libFuzzer harness for proto/trt_addr.c. The input is split on NUL into
 * address and prefix texts, a rule set and raw address bytes: whatever
 * parses is mapped through the prefix and back, classified and checked
 * against the rules. Invariants: extract(embed(x)) == x, a refused range
 * refuses whatever the rules say, and a deny rule that matches always wins.
 */
#include <string.h>

#include "proto/trt_addr.h"

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RULES 8

static size_t next_text(const uint8_t *data, size_t size, size_t off, char *out, size_t cap)
{
	size_t n = 0;

	while (off < size && data[off] != 0 && n + 1 < cap)
		out[n++] = (char)data[off++];
	out[n] = 0;
	while (off < size && data[off] != 0)
		off++;
	return off < size ? off + 1 : off;
}

static void raw_addr(const uint8_t *p, size_t n, struct tw_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (n < 1)
		return;
	a->family = (p[0] & 1) ? TW_AF_INET6 : TW_AF_INET;
	n = n - 1 < tw_addr_iplen(a) ? n - 1 : tw_addr_iplen(a);
	memcpy(a->ip, p + 1, n);
}

static void check_pair(const struct trt_policy *p, const struct tw_addr *src6,
                       const struct tw_addr *dst4)
{
	enum trt_deny d = trt_policy_check(p, src6, dst4);
	enum trt_deny c = trt_addr_classify(dst4, p->allow_private, trt_prefix_is_wkp(&p->prefix));

	CHECK(d < TRT_DENY__COUNT && d != TRT_DENY_LIMIT);
	if (c != TRT_OK)
		CHECK(d == c);
	for (size_t i = 0; i < p->n_deny; i++)
		if (tw_cidr_match(&p->deny[i].src, src6) && tw_cidr_match(&p->deny[i].dst, dst4))
			CHECK(d != TRT_OK);
	if (d == TRT_OK)
		CHECK(trt_acl_permits(p, src6, dst4));
	CHECK(strcmp(trt_deny_name(d), "?") != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trt_rule rules[MAX_RULES];
	struct trt_policy p = {0};
	struct tw_addr a6 = {0}, a4 = {0}, v6, back;
	char text[128];
	size_t off = 0, nr = 0;

	if (size < 1)
		return 0;
	p.allow_private = data[0] & 1;
	off = 1;
	off = next_text(data, size, off, text, sizeof(text));
	if (tw_cidr_parse(text, &p.prefix) < 0 || trt_prefix_check(&p.prefix) < 0)
		tw_cidr_parse((data[0] & 2) ? "64:ff9b::/96" : "fd64:7472::/96", &p.prefix);
	off = next_text(data, size, off, text, sizeof(text));
	if (tw_addr_parse_ip(text, &a6) < 0)
		raw_addr(data + off, size - off, &a6);
	off = next_text(data, size, off, text, sizeof(text));
	if (tw_addr_parse_ip(text, &a4) < 0)
		raw_addr(data + off, size - off, &a4);
	while (off < size && nr < MAX_RULES) {
		struct trt_rule r;

		off = next_text(data, size, off, text, sizeof(text));
		if (tw_cidr_parse(text, &r.src) < 0)
			continue;
		off = next_text(data, size, off, text, sizeof(text));
		if (tw_cidr_parse(text, &r.dst) < 0)
			continue;
		rules[nr++] = r;
	}
	/* The first half of the rules deny, the rest allow. */
	p.deny = rules;
	p.n_deny = nr / 2;
	p.allow = rules + nr / 2;
	p.n_allow = nr - nr / 2;

	if (a4.family == TW_AF_INET) {
		trt_addr_embed(&p.prefix, &a4, &v6);
		CHECK(trt_addr_extract(&p.prefix, &v6, &back) == 0);
		CHECK(tw_addr_eq(&back, &a4));
	}
	if (trt_addr_extract(&p.prefix, &a6, &back) == 0) {
		trt_addr_embed(&p.prefix, &back, &v6);
		CHECK(tw_addr_eq(&v6, &a6));
		check_pair(&p, &a6, &back);
	}
	check_pair(&p, &a6, &a4);
	return 0;
}
