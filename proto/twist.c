/*
 * TWIST wire formats (docs/twist-protocol.md): the four attributes, the
 * demultiplexing of a flow's client datagrams, the transport-mode inner
 * header, its checksum, and the IP header the relay puts in front of it.
 * Untrusted bytes are read through proto/cursor.h only.
 */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/twist.h"
#include "proto/twist_esp.h"

#define IP4_HDR_MIN 20
#define IP6_HDR_LEN 40
#define IP_MAX_LEN  65535
#define TTL         64

/* IPv4 flags/fragment offset field: DF, MF and the 13-bit offset. */
#define IP4_DF          0x4000
#define IP4_MF          0x2000
#define IP4_OFFSET_MASK 0x1fff

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

static bool is_twist_attr(uint16_t type)
{
	return type >= TWIST_A_CAPS && type <= TWIST_A_SPI;
}

int twist_unknown_drop(struct stun_msg *m)
{
	uint8_t kept = 0, n = m->nunknown;

	for (uint8_t i = 0; i < n; i++)
		if (!is_twist_attr(m->unknown[i]))
			m->unknown[kept++] = m->unknown[i];
	m->nunknown = kept;
	return n - kept;
}

static void attr_cur(const struct stun_msg *m, const struct stun_attr *a, struct cur *c)
{
	cur_init(c, stun_attr_val(m, a), a->len);
}

/* Unknown bits are ignored (§2): they are what a newer peer can do. */
int twist_attr_caps(const struct stun_msg *m, const struct stun_attr *a, uint32_t *caps)
{
	struct cur c;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u32(&c, caps) < 0)
		return -EBADMSG;
	return 0;
}

/* Type, then 3 bytes RFFU, ignored. An unknown type is a 400 (§2). */
int twist_attr_type(const struct stun_msg *m, const struct stun_attr *a, uint8_t *type)
{
	struct cur c;
	uint8_t t;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u8(&c, &t) < 0)
		return -EBADMSG;
	if (t != TWIST_TYPE_CONNECT && t != TWIST_TYPE_LISTEN)
		return -EBADMSG;
	*type = t;
	return 0;
}

/*
 * Mode, keepalive, interval. Unknown modes and keepalives are a 400 (§2);
 * tunnel mode parses, since refusing it is the relay's policy, not syntax.
 */
int twist_attr_encap(const struct stun_msg *m, const struct stun_attr *a, struct twist_encap *e)
{
	struct cur c;
	struct twist_encap v;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u8(&c, &v.mode) < 0 || cur_get_u8(&c, &v.keepalive) < 0 ||
	    cur_get_u16(&c, &v.interval_s) < 0)
		return -EBADMSG;
	if (v.mode != TWIST_ENCAP_TRANSPORT && v.mode != TWIST_ENCAP_TUNNEL)
		return -EBADMSG;
	if (v.keepalive != TWIST_KA_NATT && v.keepalive != TWIST_KA_BINDING)
		return -EBADMSG;
	*e = v;
	return 0;
}

int twist_attr_cookie(const struct stun_msg *m, const struct stun_attr *a,
                      uint8_t cookie[TWIST_COOKIE_LEN])
{
	struct cur c;

	attr_cur(m, a, &c);
	if (a->len != TWIST_COOKIE_LEN || cur_get_bytes(&c, cookie, TWIST_COOKIE_LEN) < 0)
		return -EBADMSG;
	return 0;
}

int twist_attr_spi(const struct stun_msg *m, const struct stun_attr *a, uint32_t *spi)
{
	struct cur c;

	attr_cur(m, a, &c);
	if (a->len != 4 || cur_get_u32(&c, spi) < 0 || !twist_spi_ok(*spi))
		return -EBADMSG;
	return 0;
}

void twist_wr_spi(struct stun_wr *w, uint32_t spi)
{
	stun_wr_u32(w, TWIST_A_SPI, spi);
}

void twist_wr_caps(struct stun_wr *w, uint32_t caps)
{
	stun_wr_u32(w, TWIST_A_CAPS, caps);
}

void twist_wr_type(struct stun_wr *w, uint8_t type)
{
	const uint8_t v[4] = {type, 0, 0, 0};

	stun_wr_attr(w, TWIST_A_REQUESTED_TYPE, v, sizeof(v));
}

void twist_wr_encap(struct stun_wr *w, const struct twist_encap *e)
{
	uint8_t v[4] = {e->mode, e->keepalive};

	put_u16(v + 2, e->interval_s);
	stun_wr_attr(w, TWIST_A_ENCAP_TYPE, v, sizeof(v));
}

void twist_wr_cookie(struct stun_wr *w, const uint8_t cookie[TWIST_COOKIE_LEN])
{
	stun_wr_attr(w, TWIST_A_COOKIE, cookie, TWIST_COOKIE_LEN);
}

static size_t seg_hdr_min(uint8_t proto)
{
	if (proto == STUN_PROTO_UDP)
		return TWIST_UDP_HDR;
	if (proto == STUN_PROTO_TCP)
		return TWIST_TCP_HDR_MIN;
	return 0;
}

int twist_seg_parse(const uint8_t *p, size_t len, uint8_t proto, struct twist_seg *s)
{
	struct cur c;
	uint16_t ulen;
	uint8_t off, flags;
	size_t min = seg_hdr_min(proto);

	memset(s, 0, sizeof(*s));
	cur_init(&c, p, len);
	if (!min || len < min || cur_get_u16(&c, &s->sport) < 0 || cur_get_u16(&c, &s->dport) < 0)
		return -EBADMSG;
	s->proto = proto;
	if (proto == STUN_PROTO_UDP) {
		/* RFC 768: the length covers header and data, and is all there is. */
		if (cur_get_u16(&c, &ulen) < 0 || ulen != len)
			return -EBADMSG;
		return 0;
	}
	/* RFC 9293 §3.1: data offset in 32-bit words, at least 5, inside the segment. */
	if (cur_skip(&c, 8) < 0 || cur_get_u8(&c, &off) < 0 || cur_get_u8(&c, &flags) < 0)
		return -EBADMSG;
	off = (uint8_t)((off >> 4) * 4);
	if (off < TWIST_TCP_HDR_MIN || off > len)
		return -EBADMSG;
	s->fin = flags & TCP_FIN;
	s->syn = flags & TCP_SYN;
	s->rst = flags & TCP_RST;
	s->ack = flags & TCP_ACK;
	return 0;
}

/*
 * Case 3 of the demultiplexing: an inner UDP header from the relayed port
 * to the STUN port, whose length is the datagram's, with STUN behind it.
 * A stun_port of 0 turns it off (a flow whose peer port is the STUN port).
 */
static bool is_stun_encap(const uint8_t *p, size_t len, uint16_t relay_port, uint16_t stun_port)
{
	if (stun_port == 0 || len < TWIST_UDP_HDR + STUN_HDR_LEN)
		return false;
	if (peek_u16(p) != relay_port || peek_u16(p + 2) != stun_port || peek_u16(p + 4) != len)
		return false;
	return stun_is_msg(p + TWIST_UDP_HDR, len - TWIST_UDP_HDR);
}

enum twist_kind twist_classify(const uint8_t *p, size_t len, uint8_t proto, uint16_t relay_port,
                               uint16_t stun_port, size_t *inner_off)
{
	struct twist_seg s;

	*inner_off = 0;
	if (len == 1 && p[0] == TWIST_KEEPALIVE_BYTE)
		return TWIST_PKT_KEEPALIVE;
	if (stun_is_msg(p, len))
		return TWIST_PKT_STUN;
	if (is_stun_encap(p, len, relay_port, stun_port)) {
		*inner_off = TWIST_UDP_HDR;
		return TWIST_PKT_STUN_ENCAP;
	}
	if (twist_seg_parse(p, len, proto, &s) == 0 && s.sport == relay_port)
		return TWIST_PKT_SEGMENT;
	return TWIST_PKT_BAD;
}

static uint16_t sum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * RFC 1071: 16-bit big-endian words, an odd byte padded with zero. The
 * bulk is summed as 32-bit words in the machine's byte order (plain loads
 * the compiler can vectorise; 2^16 is 1 modulo 0xffff, so they fold to the
 * sum of their halves) and the folded result swapped once (RFC 1071
 * §2(B)): this runs over every segment the shim sends or receives.
 */
static uint64_t sum_bytes(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t acc = 0; /* no length a caller can pass overflows it */
	uint16_t folded;
	size_t i;

	for (i = 0; i + 3 < len; i += 4) {
		uint32_t w;

		memcpy(&w, p + i, sizeof(w));
		acc += w;
	}
	folded = sum_fold(acc);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	folded = (uint16_t)(folded << 8 | folded >> 8);
#endif
	sum += folded;
	for (; i + 1 < len; i += 2)
		sum += peek_u16(p + i);
	if (i < len)
		sum += (uint64_t)p[i] << 8;
	return sum;
}

/*
 * The pseudo-header: IPv4 (RFC 768, RFC 9293 §3.1) src, dst, zero, proto,
 * 16-bit length; IPv6 (RFC 8200 §8.1) src, dst, 32-bit length, 3 zero
 * bytes, next header. Both sum to the same words apart from the addresses.
 */
static uint64_t sum_pseudo(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                           size_t len)
{
	uint64_t sum = 0;

	sum = sum_bytes(sum, src->ip, tw_addr_iplen(src));
	sum = sum_bytes(sum, dst->ip, tw_addr_iplen(dst));
	sum += proto;
	sum += (uint64_t)(len >> 16) + (len & 0xffff);
	return sum;
}

uint16_t twist_l4_pseudo(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                         size_t len)
{
	return sum_fold(sum_pseudo(src, dst, proto, len));
}

static size_t csum_off(uint8_t proto)
{
	return proto == STUN_PROTO_UDP ? 6 : 16;
}

/* What a checksum needs: one family on both sides, a whole header, an IP-sized segment. */
static bool csum_args_ok(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                         size_t len)
{
	size_t min = seg_hdr_min(proto);

	if (src->family != dst->family)
		return false;
	if (src->family != TW_AF_INET && src->family != TW_AF_INET6)
		return false;
	return min && len >= min && len <= IP_MAX_LEN;
}

uint16_t twist_l4_csum(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                       const uint8_t *seg, size_t len)
{
	uint16_t c;

	c = (uint16_t)~sum_fold(sum_bytes(sum_pseudo(src, dst, proto, len), seg, len));
	/* RFC 768: a computed 0 is sent as all ones; 0 means "no checksum". */
	if (c == 0 && proto == STUN_PROTO_UDP)
		c = 0xffff;
	return c;
}

int twist_l4_csum_set(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                      uint8_t *seg, size_t len)
{
	size_t off = csum_off(proto);

	if (!csum_args_ok(src, dst, proto, len))
		return -EINVAL;
	put_u16(seg + off, 0);
	put_u16(seg + off, twist_l4_csum(src, dst, proto, seg, len));
	return 0;
}

bool twist_ip4_csum_ok(const uint8_t *hdr, size_t hlen)
{
	return hlen >= IP4_HDR_MIN && sum_fold(sum_bytes(0, hdr, hlen)) == 0xffff;
}

bool twist_l4_csum_ok(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                      const uint8_t *seg, size_t len)
{
	if (!csum_args_ok(src, dst, proto, len))
		return false;
	/* RFC 768: IPv4 UDP may go without; RFC 8200 §8.1: IPv6 UDP may not. */
	if (proto == STUN_PROTO_UDP && peek_u16(seg + 6) == 0)
		return src->family == TW_AF_INET;
	return sum_fold(sum_bytes(sum_pseudo(src, dst, proto, len), seg, len)) == 0xffff;
}

/*
 * DF with ID 0 (RFC 6864 §4.1: an atomic datagram's ID means nothing), so
 * a segment too big for the path is refused with an ICMP rather than split
 * by the relay: the client's TUN MTU keeps segments small enough.
 */
static int ip4_hdr(uint8_t *out, const struct tw_addr *src, const struct tw_addr *dst,
                   uint8_t proto, size_t seg_len)
{
	if (seg_len > IP_MAX_LEN - IP4_HDR_MIN)
		return -EINVAL;
	memset(out, 0, IP4_HDR_MIN);
	out[0] = 0x45;
	put_u16(out + 2, (uint16_t)(IP4_HDR_MIN + seg_len));
	put_u16(out + 6, IP4_DF);
	out[8] = TTL;
	out[9] = proto;
	memcpy(out + 12, src->ip, 4);
	memcpy(out + 16, dst->ip, 4);
	put_u16(out + 10, (uint16_t)~sum_fold(sum_bytes(0, out, IP4_HDR_MIN)));
	return IP4_HDR_MIN;
}

/* Traffic class and flow label 0: the relay has no flow label to keep. */
static int ip6_hdr(uint8_t *out, const struct tw_addr *src, const struct tw_addr *dst,
                   uint8_t proto, size_t seg_len)
{
	if (seg_len > IP_MAX_LEN)
		return -EINVAL;
	memset(out, 0, IP6_HDR_LEN);
	out[0] = 0x60;
	put_u16(out + 4, (uint16_t)seg_len);
	out[6] = proto;
	out[7] = TTL;
	memcpy(out + 8, src->ip, 16);
	memcpy(out + 24, dst->ip, 16);
	return IP6_HDR_LEN;
}

int twist_ip_hdr(uint8_t *out, size_t cap, const struct tw_addr *src, const struct tw_addr *dst,
                 uint8_t proto, size_t seg_len)
{
	if (src->family != dst->family)
		return -EINVAL;
	if (src->family == TW_AF_INET && cap >= IP4_HDR_MIN)
		return ip4_hdr(out, src, dst, proto, seg_len);
	if (src->family == TW_AF_INET6 && cap >= IP6_HDR_LEN)
		return ip6_hdr(out, src, dst, proto, seg_len);
	return -EINVAL;
}

/* IPv6 extension headers (RFC 8200 §4, IANA's list), which we do not walk. */
static bool ip6_is_ext(uint8_t nh)
{
	switch (nh) {
	case 0:   /* hop-by-hop options */
	case 43:  /* routing */
	case 44:  /* fragment */
	case 50:  /* ESP */
	case 51:  /* AH */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
	case 253: /* experiments */
	case 254:
		return true;
	default:
		return false;
	}
}

/*
 * Both return the protocol's error, or the header length with *total the
 * packet's own idea of its length (bytes after it, as on a padded link,
 * are not the segment's). The header checksum is not checked: the kernel
 * checked it before it routed the packet into the TUN device.
 */
static int ip4_parse(struct cur *c, struct twist_ip *out, size_t *total)
{
	uint8_t vihl;
	uint16_t tot, frag;
	size_t hlen;

	/* Version/IHL, TOS, total length, ID, flags/offset, TTL, protocol, checksum. */
	if (cur_get_u8(c, &vihl) < 0 || cur_skip(c, 1) < 0 || cur_get_u16(c, &tot) < 0 ||
	    cur_skip(c, 2) < 0 || cur_get_u16(c, &frag) < 0 || cur_skip(c, 1) < 0 ||
	    cur_get_u8(c, &out->proto) < 0 || cur_skip(c, 2) < 0 ||
	    cur_get_bytes(c, out->src.ip, 4) < 0 || cur_get_bytes(c, out->dst.ip, 4) < 0)
		return -EBADMSG;
	hlen = (size_t)(vihl & 0x0f) * 4;
	/* IPv4 options are skipped: nothing on the relay's path needs them. */
	if (hlen < IP4_HDR_MIN || tot < hlen || tot > c->len || cur_skip(c, hlen - IP4_HDR_MIN) < 0)
		return -EBADMSG;
	if ((frag & (IP4_MF | IP4_OFFSET_MASK)) != 0)
		return -EBADMSG;
	out->src.family = out->dst.family = TW_AF_INET;
	*total = tot;
	return (int)hlen;
}

static int ip6_parse(struct cur *c, struct twist_ip *out, size_t *total)
{
	uint16_t plen;

	/* Version/class/flow label, payload length, next header, hop limit. */
	if (cur_skip(c, 4) < 0 || cur_get_u16(c, &plen) < 0 || cur_get_u8(c, &out->proto) < 0 ||
	    cur_skip(c, 1) < 0 || cur_get_bytes(c, out->src.ip, 16) < 0 ||
	    cur_get_bytes(c, out->dst.ip, 16) < 0)
		return -EBADMSG;
	/* A payload length of 0 is a jumbogram (RFC 2675): never from a TUN of ours. */
	if (plen == 0 || (size_t)IP6_HDR_LEN + plen > c->len || ip6_is_ext(out->proto))
		return -EBADMSG;
	out->src.family = out->dst.family = TW_AF_INET6;
	*total = (size_t)IP6_HDR_LEN + plen;
	return IP6_HDR_LEN;
}

int twist_ip_parse(const uint8_t *p, size_t len, struct twist_ip *out)
{
	struct twist_seg s;
	struct cur c;
	size_t total = 0;
	int hlen;

	memset(out, 0, sizeof(*out));
	if (len < 1)
		return -EBADMSG;
	cur_init(&c, p, len);
	if (p[0] >> 4 == 4)
		hlen = ip4_parse(&c, out, &total);
	else if (p[0] >> 4 == 6)
		hlen = ip6_parse(&c, out, &total);
	else
		return -EBADMSG;
	if (hlen < 0)
		return hlen;
	if (out->proto != STUN_PROTO_UDP && out->proto != STUN_PROTO_TCP)
		return -EPROTONOSUPPORT;
	out->seg = p + hlen;
	out->seg_len = total - (size_t)hlen;
	if (twist_seg_parse(out->seg, out->seg_len, out->proto, &s) < 0)
		return -EBADMSG;
	out->src.port = s.sport;
	out->dst.port = s.dport;
	return 0;
}
