/* Binding Update / Acknowledgement framing and MN-HA authentication (docs/mice.md §3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proto/cursor.h"
#include "proto/mice_mh.h"
#include "proto/stun.h"
#include "proto/twist.h"

/*
 * There is no IPv6 header to take the pseudo-header's addresses from, and
 * the outer ones are rewritten by the NATs M-ICE is for: the pseudo-header
 * is RFC 6275 §6.1.1's with the unspecified address (::) on both sides.
 */
static const struct tw_addr unspec6 = {.family = TW_AF_INET6};

uint16_t mice_mh_csum(const uint8_t *p, size_t len)
{
	return twist_l4_csum(&unspec6, &unspec6, MH_NEXT_HEADER, p, len);
}

bool mice_seq_newer(uint16_t seq, uint16_t last)
{
	return seq != last && (uint16_t)(seq - last) < 0x8000;
}

const char *mice_mh_status_name(uint8_t status)
{
	switch (status) {
	case MH_ST_ACCEPTED:
		return "accepted";
	case MH_ST_UNSPECIFIED:
		return "unspecified";
	case MH_ST_PROHIBITED:
		return "prohibited";
	case MH_ST_NO_RESOURCES:
		return "no_resources";
	case MH_ST_NOT_HA_FOR_MN:
		return "not_home_agent";
	case MH_ST_SEQ_OUT_OF_WIN:
		return "sequence";
	case MH_ST_AUTH_FAILED:
		return "auth_failed";
	}
	return status < 128 ? "accepted" : "other";
}

/* The MAC: HMAC-SHA256 over the message up to the authenticator, checksum as zero (RFC 4285 §5.1).
 */
static int auth_mac(const uint8_t *p, size_t upto, const uint8_t *key, size_t keylen,
                    uint8_t mac[STUN_HMAC_MAX])
{
	uint8_t head[MH_HDR_LEN] = {0};

	if (upto < MH_HDR_LEN)
		return -EINVAL;
	/* The header with a zero checksum, then the rest. */
	memcpy(head, p, 4);
	return stun_hmac(STUN_HASH_SHA256, key, keylen, head, sizeof(head), p + MH_HDR_LEN,
	                 upto - MH_HDR_LEN, mac);
}

bool mice_mh_auth_ok(const struct mice_mh *m, const uint8_t *p, size_t len, const uint8_t *key,
                     size_t keylen)
{
	uint8_t mac[STUN_HMAC_MAX];

	if (!m->has_auth || m->auth_at + MH_AUTH_LEN != len)
		return false;
	if (auth_mac(p, m->auth_at, key, keylen, mac) != MH_AUTH_LEN)
		return false;
	return CRYPTO_memcmp(mac, p + m->auth_at, MH_AUTH_LEN) == 0;
}

/* Pad1 or PadN (RFC 6275 §6.2.2, §6.2.3) so that len % 8 becomes want. */
static size_t pad_to(uint8_t *out, size_t len, size_t want)
{
	size_t n = (want + 8 - len % 8) % 8;

	if (n == 0)
		return 0;
	memset(out + len, 0, n);
	if (n >= 2) {
		out[len] = MH_OPT_PADN;
		out[len + 1] = (uint8_t)(n - 2);
	}
	return n;
}

static int opts_write(const struct mice_mh *m, uint8_t opt_type, uint8_t *out, size_t cap)
{
	size_t len = 0;
	int n;

	if (m->home.family) {
		if ((n = mice_addr_opt_write(opt_type, MICE_SUB_HOME, &m->home, out, cap)) < 0)
			return n;
		len += (size_t)n;
	}
	if (m->peer.family) {
		n = mice_addr_opt_write(opt_type, MICE_SUB_PEER, &m->peer, out + len, cap - len);
		if (n < 0)
			return n;
		len += (size_t)n;
	}
	if (m->has_ice) {
		if ((n = mice_opts_write(&m->ice, opt_type, out + len, cap - len)) < 0)
			return n;
		len += (size_t)n;
	}
	return (int)len;
}

int mice_mh_build(const struct mice_mh *m, uint8_t opt_type, const uint8_t *key, size_t keylen,
                  uint8_t *out, size_t cap)
{
	uint8_t mac[STUN_HMAC_MAX];
	size_t len = MH_HDR_LEN + MH_BODY_LEN;
	int n;

	if (m->type != MH_TYPE_BU && m->type != MH_TYPE_BA)
		return -EINVAL;
	if (cap > MH_MAX_LEN)
		cap = MH_MAX_LEN;
	/* Room for the options, up to 7 bytes of padding and the authentication option. */
	if (cap < len + 7 + MH_AUTH_OPT_LEN)
		return -EMSGSIZE;
	memset(out, 0, len);
	out[0] = MH_PROTO_NONE;
	out[2] = m->type;
	if (m->type == MH_TYPE_BU) {
		put_u16(out + 6, m->seq);
		put_u16(out + 8, m->bu_flags);
	} else {
		out[6] = m->status;
		out[7] = m->ba_flags;
		put_u16(out + 8, m->seq);
	}
	put_u16(out + 10, m->lifetime);
	n = opts_write(m, opt_type, out + len, cap - len - 7 - MH_AUTH_OPT_LEN);
	if (n < 0)
		return n;
	len += (size_t)n;
	/* RFC 4285 §5: the authentication option is last; it ends a multiple of 8. */
	len += pad_to(out, len, key ? (8 - MH_AUTH_OPT_LEN % 8) % 8 : 0);
	if (key) {
		out[len] = MH_OPT_AUTH;
		out[len + 1] = MH_AUTH_OPT_LEN - 2;
		out[len + 2] = MH_AUTH_MN_HA;
		put_u32(out + len + 3, m->spi);
		len += 7;
		out[1] = (uint8_t)((len + MH_AUTH_LEN) / 8 - 1); /* covered by the MAC */
		if (auth_mac(out, len, key, keylen, mac) != MH_AUTH_LEN)
			return -EINVAL;
		memcpy(out + len, mac, MH_AUTH_LEN);
		len += MH_AUTH_LEN;
	}
	out[1] = (uint8_t)(len / 8 - 1);
	put_u16(out + 4, 0);
	put_u16(out + 4, mice_mh_csum(out, len));
	return (int)len;
}

/* One of twist's experimental options (subtype first). */
static int exp_opt(struct mice_mh *m, struct mice_reasm *r, const uint8_t *v, size_t l)
{
	struct tw_addr *a;

	if (l < 1)
		return -EBADMSG;
	switch (v[0]) {
	case MICE_SUB_ICE:
		return mice_reasm_add(r, v + 1, l - 1) < 0 ? -EBADMSG : 0;
	case MICE_SUB_HOME:
	case MICE_SUB_PEER:
		a = v[0] == MICE_SUB_HOME ? &m->home : &m->peer;
		if (a->family)
			return -EBADMSG;
		return mice_addr_opt_parse(v + 1, l - 1, a);
	}
	return 0; /* a subtype from a later version: skipped */
}

static int opts_parse(struct mice_mh *m, const uint8_t *p, size_t len, size_t at, uint8_t opt_type)
{
	struct mice_reasm *r = malloc(sizeof(*r));
	int rc = -EBADMSG;

	if (!r)
		return -ENOMEM;
	mice_reasm_init(r);
	while (at < len) {
		uint8_t t = p[at], l;

		if (t == MH_OPT_PAD1) {
			at++;
			continue;
		}
		if (len - at < 2 || len - at - 2 < p[at + 1])
			goto done;
		l = p[at + 1];
		if (t == MH_OPT_AUTH) {
			/* Last, ending the message, MN-HA, with our MAC's length. */
			if (at + 2 + l != len || l != MH_AUTH_OPT_LEN - 2 ||
			    p[at + 2] != MH_AUTH_MN_HA)
				goto done;
			m->has_auth = true;
			m->spi = peek_u32(p + at + 3);
			m->auth_at = at + 7;
		} else if (t == opt_type && exp_opt(m, r, p + at + 2, l) < 0) {
			goto done;
		}
		at += 2 + (size_t)l;
	}
	if (r->total && !r->done)
		goto done;
	if (r->done) {
		if (mice_ice_decode(&m->ice, r->buf, r->len) < 0)
			goto done;
		m->has_ice = true;
	}
	rc = 0;
done:
	free(r);
	return rc;
}

int mice_mh_parse(struct mice_mh *m, const uint8_t *p, size_t len, uint8_t opt_type)
{
	memset(m, 0, sizeof(*m));
	if (len < MH_HDR_LEN + MH_BODY_LEN || len > MH_MAX_LEN || len % 8 ||
	    (size_t)(p[1] + 1) * 8 != len)
		return -EBADMSG;
	if (p[0] != MH_PROTO_NONE || (p[2] != MH_TYPE_BU && p[2] != MH_TYPE_BA))
		return -EBADMSG;
	if (mice_mh_csum(p, len) != 0)
		return -EBADMSG;
	m->type = p[2];
	if (m->type == MH_TYPE_BU) {
		m->seq = peek_u16(p + 6);
		m->bu_flags = peek_u16(p + 8);
	} else {
		m->status = p[6];
		m->ba_flags = p[7];
		m->seq = peek_u16(p + 8);
	}
	m->lifetime = peek_u16(p + 10);
	return opts_parse(m, p, len, MH_HDR_LEN + MH_BODY_LEN, opt_type) < 0 ? -EBADMSG : 0;
}
