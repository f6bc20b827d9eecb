#include "client/tc_stun.h"

#include <errno.h>
#include <string.h>

#define TC_SOFTWARE "twist-client " TWIST_VERSION

int tc_cred_set(struct tc_cred *c, const char *realm, const char *nonce)
{
	size_t rl = strlen(realm), nl = strlen(nonce);

	if (rl > TC_REALM_MAX || nl > TC_NONCE_MAX)
		return -EINVAL;
	memcpy(c->realm, realm, rl + 1);
	memcpy(c->nonce, nonce, nl + 1);
	if (stun_key_longterm(STUN_PWALG_MD5, c->user, strlen(c->user), c->realm, rl, c->pass,
	                      strlen(c->pass), c->key) < 0)
		return -EINVAL;
	c->have = true;
	return 0;
}

static void wr_auth(struct stun_wr *w, const struct tc_cred *c)
{
	if (!c || !c->have)
		return;
	stun_wr_attr(w, STUN_A_USERNAME, c->user, strlen(c->user));
	stun_wr_attr(w, STUN_A_REALM, c->realm, strlen(c->realm));
	stun_wr_attr(w, STUN_A_NONCE, c->nonce, strlen(c->nonce));
	stun_wr_integrity(w, c->key, sizeof(c->key));
}

int tc_stun_allocate(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
                     const struct tc_alloc_req *r, const struct tc_cred *c)
{
	struct stun_wr w;
	struct twist_encap e = {r->mode == TWIST_ENCAP_TUNNEL ? TWIST_ENCAP_TUNNEL
	                                                      : TWIST_ENCAP_TRANSPORT,
	                        r->keepalive, TWIST_KEEPALIVE_S};
	uint8_t tr[4] = {r->transport, 0, 0, 0};
	uint8_t fam[4] = {r->family, 0, 0, 0};

	stun_wr_init(&w, buf, cap, STUN_ALLOCATE, STUN_REQUEST, tid);
	twist_wr_type(&w, r->type);
	stun_wr_attr(&w, STUN_A_REQUESTED_TRANSPORT, tr, sizeof(tr));
	stun_wr_attr(&w, STUN_A_REQUESTED_ADDRESS_FAMILY, fam, sizeof(fam));
	if (r->peer.family)
		stun_wr_xaddr(&w, STUN_A_XOR_PEER_ADDRESS, &r->peer);
	if (r->has_cookie)
		twist_wr_cookie(&w, r->cookie);
	twist_wr_encap(&w, &e);
	/* Tunnel mode is asked for with the caps that back it (spec §9.1). */
	if (r->mode == TWIST_ENCAP_TUNNEL)
		twist_wr_caps(&w, TC_CAPS_TUNNEL);
	stun_wr_attr(&w, STUN_A_SOFTWARE, TC_SOFTWARE, strlen(TC_SOFTWARE));
	wr_auth(&w, c);
	stun_wr_fingerprint(&w);
	return stun_wr_finish(&w);
}

int tc_stun_refresh(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], uint32_t lifetime,
                    const struct tc_cred *c)
{
	struct stun_wr w;

	stun_wr_init(&w, buf, cap, STUN_REFRESH, STUN_REQUEST, tid);
	stun_wr_u32(&w, STUN_A_LIFETIME, lifetime);
	wr_auth(&w, c);
	stun_wr_fingerprint(&w);
	return stun_wr_finish(&w);
}

int tc_stun_binding(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], uint32_t caps)
{
	struct stun_wr w;

	stun_wr_init(&w, buf, cap, STUN_BINDING, STUN_REQUEST, tid);
	if (caps)
		twist_wr_caps(&w, caps);
	stun_wr_fingerprint(&w);
	return stun_wr_finish(&w);
}

/* A string attribute into a NUL-terminated buffer; too long is malformed. */
static int attr_str(const struct stun_msg *m, uint16_t type, char *out, size_t cap)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	if (!a)
		return -ENOENT;
	if (a->len >= cap || !stun_opaque_ok(stun_attr_val(m, a), a->len))
		return -EBADMSG;
	memcpy(out, stun_attr_val(m, a), a->len);
	out[a->len] = '\0';
	return 0;
}

static int read_error(const struct stun_msg *m, struct tc_resp *r)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_A_ERROR_CODE);
	const char *reason;
	size_t rlen;

	if (!a || stun_attr_error(m, a, &r->code, &reason, &rlen) < 0)
		return -EBADMSG;
	if (rlen > TC_REASON_MAX)
		rlen = TC_REASON_MAX;
	memcpy(r->reason, reason, rlen);
	r->reason[rlen] = '\0';
	r->has_realm_nonce = attr_str(m, STUN_A_REALM, r->realm, sizeof(r->realm)) == 0 &&
	                     attr_str(m, STUN_A_NONCE, r->nonce, sizeof(r->nonce)) == 0;
	a = stun_msg_find(m, STUN_A_UNKNOWN_ATTRIBUTES);
	if (a) {
		const uint8_t *v = stun_attr_val(m, a);

		for (size_t i = 0; i + 1 < a->len && r->nunknown < STUN_MAX_UNKNOWN; i += 2)
			r->unknown[r->nunknown++] = (uint16_t)(v[i] << 8 | v[i + 1]);
	}
	return 0;
}

static int read_attrs(const struct stun_msg *m, struct tc_resp *r)
{
	const struct stun_attr *a;

	if ((a = stun_msg_find(m, STUN_A_XOR_RELAYED_ADDRESS)))
		r->has_relayed = stun_attr_xaddr(m, a, &r->relayed) == 0;
	if ((a = stun_msg_find(m, STUN_A_XOR_MAPPED_ADDRESS)))
		stun_attr_xaddr(m, a, &r->mapped);
	if ((a = stun_msg_find(m, STUN_A_XOR_PEER_ADDRESS)))
		r->has_peer = stun_attr_xaddr(m, a, &r->peer) == 0;
	if ((a = stun_msg_find(m, STUN_A_LIFETIME)))
		r->has_lifetime = stun_attr_u32(m, a, &r->lifetime) == 0;
	if ((a = stun_msg_find(m, TWIST_A_ENCAP_TYPE)))
		r->has_encap = twist_attr_encap(m, a, &r->encap) == 0;
	if ((a = stun_msg_find(m, TWIST_A_COOKIE)))
		r->has_cookie = twist_attr_cookie(m, a, r->cookie) == 0;
	if ((a = stun_msg_find(m, TWIST_A_CAPS)))
		r->has_caps = twist_attr_caps(m, a, &r->caps) == 0;
	if ((a = stun_msg_find(m, TWIST_A_SPI)))
		r->has_spi = twist_attr_spi(m, a, &r->spi) == 0;
	if ((a = stun_msg_find(m, STUN_A_DATA))) {
		r->data = stun_attr_val(m, a);
		r->data_len = a->len;
	}
	return 0;
}

int tc_stun_read(const uint8_t *buf, size_t len, const uint8_t *tid, const struct tc_cred *c,
                 struct tc_resp *r)
{
	struct stun_msg m;

	memset(r, 0, sizeof(*r));
	if (stun_msg_parse(&m, buf, len) < 0)
		return -EBADMSG;
	r->method = m.method;
	r->cls = m.cls;
	if (tid ? memcmp(m.tid, tid, STUN_TID_LEN) != 0 : m.cls != STUN_INDICATION)
		return -ESRCH;
	if (m.cls == STUN_ERROR) {
		const struct stun_attr *alt = stun_msg_find(&m, STUN_A_ALTERNATE_SERVER);

		r->integrity_ok = c && c->have && stun_msg_integrity_ok(&m, c->key, sizeof(c->key));
		if (alt)
			r->has_alt = stun_attr_addr(&m, alt, &r->alt) == 0;
		return read_error(&m, r);
	}
	if (m.cls == STUN_SUCCESS && c && c->have && m.method != STUN_BINDING &&
	    !stun_msg_integrity_ok(&m, c->key, sizeof(c->key)))
		return -EACCES;
	return read_attrs(&m, r);
}
