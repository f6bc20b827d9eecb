/* The MIP-ICE option codec (draft-tschofenig-mip6-ice-01 §11; layout in docs/mice.md). */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/mice.h"

#define VER4 4
#define VER6 6

bool mice_ice_chars_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
	}
	return true;
}

/* ice-options (RFC 8839 §5.6): printable tokens separated by single spaces. */
static bool options_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ' ' && i > 0 && i + 1 < len && s[i - 1] != ' ')
			continue;
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	}
	return true;
}

static bool cand_valid(const struct mice_cand *c)
{
	size_t flen = strnlen(c->foundation, sizeof(c->foundation));

	if (c->type > MICE_CAND_RELAY || c->transport > MICE_TR_TCP_SO || c->component == 0)
		return false;
	if (flen == 0 || flen > MICE_FOUNDATION_MAX || !mice_ice_chars_ok(c->foundation, flen))
		return false;
	if (c->addr.family != TW_AF_INET && c->addr.family != TW_AF_INET6)
		return false;
	if (c->related.family == 0)
		return c->related.port == 0;
	return c->related.family == TW_AF_INET || c->related.family == TW_AF_INET6;
}

bool mice_ice_valid(const struct mice_ice *d)
{
	size_t ul = strnlen(d->ufrag, sizeof(d->ufrag)), pl = strnlen(d->pwd, sizeof(d->pwd));
	size_t ol = strnlen(d->options, sizeof(d->options));

	if (ul < MICE_UFRAG_MIN || ul > MICE_UFRAG_MAX || !mice_ice_chars_ok(d->ufrag, ul))
		return false;
	if (pl < MICE_PWD_MIN || pl > MICE_PWD_MAX || !mice_ice_chars_ok(d->pwd, pl))
		return false;
	if (ol > MICE_OPTIONS_MAX || !options_ok(d->options, ol))
		return false;
	if (d->n_cands == 0 || d->n_cands > MICE_MAX_CANDS)
		return false;
	for (unsigned i = 0; i < d->n_cands; i++)
		if (!cand_valid(&d->cand[i]))
			return false;
	return true;
}

static uint8_t ver_of(uint8_t family)
{
	return family == TW_AF_INET ? VER4 : family == TW_AF_INET6 ? VER6 : 0;
}

static size_t ver_len(uint8_t ver)
{
	return ver == VER4 ? 4 : ver == VER6 ? 16 : 0;
}

static size_t cand_len(const struct mice_cand *c)
{
	return MICE_CAND_HDR + ver_len(ver_of(c->addr.family)) + 4 +
	       ver_len(ver_of(c->related.family)) + strlen(c->foundation);
}

/* A small writer: every put checks room, and a failure sticks. */
struct wr {
	uint8_t *p;
	size_t cap, len;
	bool err;
};

static void wr_bytes(struct wr *w, const void *v, size_t n)
{
	if (w->err || w->cap - w->len < n) {
		w->err = true;
		return;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

static void wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2];

	put_u16(b, v);
	wr_bytes(w, b, 2);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4];

	put_u32(b, v);
	wr_bytes(w, b, 4);
}

static void cand_write(struct wr *w, const struct mice_cand *c)
{
	uint8_t v = ver_of(c->addr.family), rv = ver_of(c->related.family);
	size_t flen = strlen(c->foundation);

	wr_u16(w, (uint16_t)(v << 12 | cand_len(c)));
	wr_u8(w, c->type);
	wr_u8(w, c->component);
	wr_u8(w, c->transport);
	wr_u8(w, (uint8_t)(rv << 4));
	wr_u8(w, (uint8_t)flen);
	wr_u8(w, 0);
	wr_u32(w, c->priority);
	wr_bytes(w, c->addr.ip, ver_len(v));
	wr_u16(w, c->addr.port);
	wr_u16(w, c->related.port);
	wr_bytes(w, c->related.ip, ver_len(rv));
	wr_bytes(w, c->foundation, flen);
}

int mice_ice_encode(const struct mice_ice *d, uint8_t *out, size_t cap)
{
	struct wr w = {.p = out, .cap = cap};
	size_t ul, pl, ol;

	if (!mice_ice_valid(d))
		return -EINVAL;
	ul = strlen(d->ufrag);
	pl = strlen(d->pwd);
	ol = strlen(d->options);
	wr_u8(&w, d->n_cands);
	wr_u8(&w,
	      (uint8_t)((d->lite ? MICE_FLAG_LITE : 0) | (d->mismatch ? MICE_FLAG_MISMATCH : 0)));
	wr_u16(&w, (uint16_t)pl);
	wr_u16(&w, (uint16_t)ul);
	wr_u16(&w, (uint16_t)ol);
	wr_bytes(&w, d->pwd, pl);
	wr_bytes(&w, d->ufrag, ul);
	wr_bytes(&w, d->options, ol);
	for (unsigned i = 0; i < d->n_cands; i++)
		cand_write(&w, &d->cand[i]);
	if (w.err)
		return -EMSGSIZE;
	return (int)w.len;
}

/* A string field of exactly len bytes into dst (NUL-terminated). */
static int get_str(struct cur *c, size_t len, char *dst)
{
	if (cur_get_bytes(c, dst, len) < 0)
		return -1;
	dst[len] = '\0';
	return 0;
}

static int get_ip(struct cur *c, uint8_t ver, struct tw_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ver == 0)
		return 0;
	a->family = ver == VER4 ? TW_AF_INET : TW_AF_INET6;
	return cur_get_bytes(c, a->ip, ver_len(ver));
}

/* One candidate: its Length field must be exactly what its other fields add up to. */
static int cand_read(struct cur *c, struct mice_cand *mc)
{
	uint16_t vl, rport;
	uint8_t v, rv, flen, rsv, rvb;
	struct cur cc;

	if (cur_get_u16(c, &vl) < 0)
		return -EBADMSG;
	v = vl >> 12;
	if (ver_len(v) == 0 || (vl & 0xfff) < MICE_CAND_HDR)
		return -EBADMSG;
	/* The rest of this candidate, by its own Length (2 bytes read already). */
	if (cur_get_sub(c, (vl & 0xfff) - 2, &cc) < 0)
		return -EBADMSG;
	if (cur_get_u8(&cc, &mc->type) < 0 || cur_get_u8(&cc, &mc->component) < 0 ||
	    cur_get_u8(&cc, &mc->transport) < 0 || cur_get_u8(&cc, &rvb) < 0 ||
	    cur_get_u8(&cc, &flen) < 0 || cur_get_u8(&cc, &rsv) < 0 ||
	    cur_get_u32(&cc, &mc->priority) < 0)
		return -EBADMSG;
	rv = rvb >> 4;
	if ((rv != 0 && ver_len(rv) == 0) || (rvb & 0x0f) || rsv || flen == 0 ||
	    flen > MICE_FOUNDATION_MAX)
		return -EBADMSG;
	if (get_ip(&cc, v, &mc->addr) < 0 || cur_get_u16(&cc, &mc->addr.port) < 0 ||
	    cur_get_u16(&cc, &rport) < 0 || get_ip(&cc, rv, &mc->related) < 0 ||
	    get_str(&cc, flen, mc->foundation) < 0 || cur_left(&cc) != 0 ||
	    !mice_ice_chars_ok(mc->foundation, flen))
		return -EBADMSG;
	mc->related.port = rport;
	return cand_valid(mc) ? 0 : -EBADMSG;
}

int mice_ice_decode(struct mice_ice *d, const uint8_t *p, size_t len)
{
	struct cur c;
	uint16_t pl, ul, ol;
	uint8_t flags;

	cur_init(&c, p, len);
	memset(d, 0, sizeof(*d));
	if (cur_get_u8(&c, &d->n_cands) < 0 || cur_get_u8(&c, &flags) < 0 ||
	    cur_get_u16(&c, &pl) < 0 || cur_get_u16(&c, &ul) < 0 || cur_get_u16(&c, &ol) < 0)
		return -EBADMSG;
	if ((flags & ~(MICE_FLAG_LITE | MICE_FLAG_MISMATCH)) || d->n_cands == 0 ||
	    d->n_cands > MICE_MAX_CANDS)
		return -EBADMSG;
	if (pl < MICE_PWD_MIN || pl > MICE_PWD_MAX || ul < MICE_UFRAG_MIN || ul > MICE_UFRAG_MAX ||
	    ol > MICE_OPTIONS_MAX)
		return -EBADMSG;
	d->lite = flags & MICE_FLAG_LITE;
	d->mismatch = flags & MICE_FLAG_MISMATCH;
	/* Characters over the declared lengths: a NUL inside must not shorten a string. */
	if (get_str(&c, pl, d->pwd) < 0 || get_str(&c, ul, d->ufrag) < 0 ||
	    get_str(&c, ol, d->options) < 0 || !mice_ice_chars_ok(d->pwd, pl) ||
	    !mice_ice_chars_ok(d->ufrag, ul) || !options_ok(d->options, ol))
		return -EBADMSG;
	for (unsigned i = 0; i < d->n_cands; i++)
		if (cand_read(&c, &d->cand[i]) < 0)
			return -EBADMSG;
	if (cur_left(&c) != 0 || !mice_ice_valid(d))
		return -EBADMSG;
	return 0;
}

int mice_opts_write(const struct mice_ice *d, uint8_t opt_type, uint8_t *out, size_t cap)
{
	uint8_t desc[MICE_DESC_MAX];
	struct wr w = {.p = out, .cap = cap};
	int n = mice_ice_encode(d, desc, sizeof(desc));
	size_t total, off = 0;

	if (n < 0)
		return n;
	total = ((size_t)n + MICE_FRAG_MAX - 1) / MICE_FRAG_MAX;
	if (total > MICE_FRAGS_MAX)
		return -EMSGSIZE;
	for (size_t i = 0; i < total; i++) {
		size_t fl = (size_t)n - off < MICE_FRAG_MAX ? (size_t)n - off : MICE_FRAG_MAX;

		wr_u8(&w, opt_type);
		wr_u8(&w, (uint8_t)(2 + fl));
		wr_u8(&w, MICE_SUB_ICE);
		wr_u8(&w, (uint8_t)(i << 4 | total));
		wr_bytes(&w, desc + off, fl);
		off += fl;
	}
	return w.err ? -EMSGSIZE : (int)w.len;
}

void mice_reasm_init(struct mice_reasm *r)
{
	r->len = 0;
	r->next = 0;
	r->total = 0;
	r->done = false;
}

int mice_reasm_add(struct mice_reasm *r, const uint8_t *p, size_t len)
{
	uint8_t idx, total;

	if (len < 2 || r->done)
		return -EBADMSG;
	idx = p[0] >> 4;
	total = p[0] & 0x0f;
	if (total == 0 || idx != r->next || (r->total && total != r->total))
		return -EBADMSG;
	/* Every fragment but the last is full: one encoding per description. */
	if (idx + 1 < total && len - 1 != MICE_FRAG_MAX)
		return -EBADMSG;
	if (len - 1 > sizeof(r->buf) - r->len)
		return -EBADMSG;
	memcpy(r->buf + r->len, p + 1, len - 1);
	r->len += len - 1;
	r->total = total;
	r->next++;
	r->done = r->next == total;
	return r->done;
}

int mice_addr_opt_write(uint8_t opt_type, uint8_t sub, const struct tw_addr *a, uint8_t *out,
                        size_t cap)
{
	size_t al = ver_len(ver_of(a->family));
	struct wr w = {.p = out, .cap = cap};

	if (al == 0)
		return -EINVAL;
	wr_u8(&w, opt_type);
	wr_u8(&w, (uint8_t)(1 + al));
	wr_u8(&w, sub);
	wr_bytes(&w, a->ip, al);
	return w.err ? -EMSGSIZE : (int)w.len;
}

int mice_addr_opt_parse(const uint8_t *p, size_t len, struct tw_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (len != 4 && len != 16)
		return -EBADMSG;
	a->family = len == 4 ? TW_AF_INET : TW_AF_INET6;
	memcpy(a->ip, p, len);
	return 0;
}
