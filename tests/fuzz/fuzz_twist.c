/*
 * libFuzzer harness for proto/twist.c. Each input is taken whole as what a
 * flow's client 5-tuple can carry (demultiplexing, inner headers), as a
 * packet from the relay's TUN device, and as a STUN message whose every
 * attribute goes through every TWIST getter. Checksums are compared with a
 * plain reference sum; what parses is rebuilt and must parse the same.
 */
#include <errno.h>
#include <string.h>

#include "proto/cursor.h"
#include "proto/stun.h"
#include "proto/twist.h"

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STUN_PORT 3478
#define MAX_SEG   65535

static const struct tw_addr a4 = {.family = TW_AF_INET, .port = 50000, .ip = {203, 0, 113, 200}};
static const struct tw_addr b4 = {.family = TW_AF_INET, .port = 7, .ip = {198, 51, 100, 2}};
static const struct tw_addr a6 = {
        .family = TW_AF_INET6, .port = 50000, .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 4, [14] = 2}};
static const struct tw_addr b6 = {
        .family = TW_AF_INET6, .port = 7, .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 3, [15] = 2}};

/* RFC 1071 the slow way, one byte at a time, folding after every add. */
static uint16_t ref_sum(uint32_t s, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		s += i % 2 ? p[i] : (uint32_t)p[i] << 8;
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

static uint16_t ref_csum(const struct tw_addr *src, const struct tw_addr *dst, uint8_t proto,
                         const uint8_t *seg, size_t len)
{
	size_t iplen = src->family == TW_AF_INET ? 4 : 16;
	uint8_t ph[4] = {0, proto};
	uint32_t s;
	uint16_t c;

	s = ref_sum(0, src->ip, iplen);
	s = ref_sum(s, dst->ip, iplen);
	put_u16(ph + 2, (uint16_t)len);
	s = ref_sum(s, ph, sizeof(ph));
	c = (uint16_t)~ref_sum(s, seg, len);
	return c == 0 && proto == STUN_PROTO_UDP ? 0xffff : c;
}

/* The checksum of a segment that parses, for both families, against the reference. */
static void csum_side(const uint8_t *data, size_t size, uint8_t proto)
{
	static uint8_t buf[MAX_SEG];
	const struct tw_addr *pairs[][2] = {{&a4, &b4}, {&a6, &b6}};
	size_t off = proto == STUN_PROTO_UDP ? 6 : 16;

	memcpy(buf, data, size);
	for (size_t i = 0; i < 2; i++) {
		const struct tw_addr *s = pairs[i][0], *d = pairs[i][1];
		uint16_t want;

		put_u16(buf + off, 0);
		want = ref_csum(s, d, proto, buf, size);
		CHECK(twist_l4_csum(s, d, proto, buf, size) == want);
		CHECK(twist_l4_csum_set(s, d, proto, buf, size) == 0);
		CHECK(peek_u16(buf + off) == want);
		CHECK(twist_l4_csum_ok(s, d, proto, buf, size));
		CHECK(twist_l4_csum_ok(d, s, proto, buf, size));
	}
	/* As it stands: only the data's own checksum decides, and the call must not misbehave. */
	(void)twist_l4_csum_ok(&a4, &b4, proto, data, size);
	CHECK(!twist_l4_csum_ok(&a4, &b6, proto, data, size));
}

static void seg_side(const uint8_t *data, size_t size)
{
	const uint8_t protos[] = {STUN_PROTO_UDP, STUN_PROTO_TCP, 0, 1};

	for (size_t i = 0; i < sizeof(protos); i++) {
		struct twist_seg s;
		int rc = twist_seg_parse(data, size, protos[i], &s);

		CHECK(rc == 0 || rc == -EBADMSG);
		if (rc != 0)
			continue;
		CHECK(s.proto == protos[i] && size >= 4);
		CHECK(s.sport == peek_u16(data) && s.dport == peek_u16(data + 2));
		if (protos[i] == STUN_PROTO_UDP) {
			CHECK(size >= TWIST_UDP_HDR && peek_u16(data + 4) == size);
			CHECK(!s.syn && !s.ack && !s.rst && !s.fin);
		} else {
			CHECK(protos[i] == STUN_PROTO_TCP);
			CHECK(size >= TWIST_TCP_HDR_MIN && (size_t)(data[12] >> 4) * 4 <= size);
			CHECK(s.syn == !!(data[13] & 0x02) && s.ack == !!(data[13] & 0x10));
		}
		if (size <= MAX_SEG)
			csum_side(data, size, protos[i]);
	}
}

/* Every TWIST getter on one attribute, whatever its type; 0 when the one for its type decodes it.
 */
static int attr_getters(const struct stun_msg *m, const struct stun_attr *a, struct stun_wr *w)
{
	uint8_t cookie[TWIST_COOKIE_LEN], type;
	struct twist_encap e;
	uint32_t caps;
	int rc[4];

	rc[0] = twist_attr_caps(m, a, &caps);
	rc[1] = twist_attr_type(m, a, &type);
	rc[2] = twist_attr_encap(m, a, &e);
	rc[3] = twist_attr_cookie(m, a, cookie);
	for (size_t i = 0; i < 4; i++)
		CHECK(rc[i] == 0 || rc[i] == -EBADMSG);
	CHECK(rc[0] != 0 || a->len == 4);
	CHECK(rc[1] != 0 ||
	      (a->len == 4 && (type == TWIST_TYPE_CONNECT || type == TWIST_TYPE_LISTEN)));
	CHECK(rc[2] != 0 ||
	      (a->len == 4 && e.mode >= 1 && e.mode <= 2 && e.keepalive >= 1 && e.keepalive <= 2));
	CHECK(rc[3] != 0 || (a->len == TWIST_COOKIE_LEN &&
	                     memcmp(cookie, stun_attr_val(m, a), TWIST_COOKIE_LEN) == 0));
	switch (a->type) {
	case TWIST_A_CAPS:
		if (rc[0] == 0)
			twist_wr_caps(w, caps);
		return rc[0];
	case TWIST_A_REQUESTED_TYPE:
		if (rc[1] == 0)
			twist_wr_type(w, type);
		return rc[1];
	case TWIST_A_ENCAP_TYPE:
		if (rc[2] == 0)
			twist_wr_encap(w, &e);
		return rc[2];
	case TWIST_A_COOKIE:
		if (rc[3] == 0)
			twist_wr_cookie(w, cookie);
		return rc[3];
	default:
		return -ENOENT;
	}
}

/*
 * A STUN message: every attribute through every getter, and the TWIST ones
 * that decode written again; they must come back with the same values
 * (REQUESTED-TYPE's RFFU bytes as zero).
 */
static void stun_attrs(const uint8_t *data, size_t size)
{
	static uint8_t out[STUN_MAX_MSG];
	const struct stun_attr *kept[STUN_MAX_ATTRS];
	struct stun_msg m, m2;
	struct stun_wr w;
	size_t nkept = 0;
	int rc, n;

	rc = stun_msg_parse(&m, data, size);
	if (rc != 0 && rc != -EPROTO)
		return;
	stun_wr_init(&w, out, sizeof(out), m.method, m.cls, m.tid);
	for (uint8_t i = 0; i < m.nattrs; i++)
		if (attr_getters(&m, &m.attr[i], &w) == 0)
			kept[nkept++] = &m.attr[i];
	n = stun_wr_finish(&w);
	CHECK(n >= STUN_HDR_LEN);
	CHECK(stun_msg_parse(&m2, out, (size_t)n) == 0);
	CHECK(m2.nattrs == nkept);
	for (size_t i = 0; i < nkept; i++) {
		const uint8_t *v = stun_attr_val(&m, kept[i]),
		              *v2 = stun_attr_val(&m2, &m2.attr[i]);

		CHECK(m2.attr[i].type == kept[i]->type && m2.attr[i].len == kept[i]->len);
		if (kept[i]->type == TWIST_A_REQUESTED_TYPE)
			CHECK(v2[0] == v[0] && v2[1] == 0 && v2[2] == 0 && v2[3] == 0);
		else
			CHECK(memcmp(v, v2, kept[i]->len) == 0);
	}
	n = m.nunknown;
	CHECK(twist_unknown_drop(&m) <= n);
	for (uint8_t i = 0; i < m.nunknown; i++)
		CHECK(m.unknown[i] < TWIST_A_CAPS || m.unknown[i] > TWIST_A_COOKIE);
}

static void classify_side(const uint8_t *data, size_t size, uint8_t proto, uint16_t rp, uint16_t sp)
{
	struct twist_seg s;
	size_t off = 1;
	enum twist_kind k = twist_classify(data, size, proto, rp, sp, &off);

	CHECK((k == TWIST_PKT_STUN_ENCAP) == (off == TWIST_UDP_HDR) && off <= TWIST_UDP_HDR);
	CHECK((k == TWIST_PKT_KEEPALIVE) == (size == 1 && data[0] == TWIST_KEEPALIVE_BYTE));
	switch (k) {
	case TWIST_PKT_KEEPALIVE:
		break;
	case TWIST_PKT_STUN:
		CHECK(stun_is_msg(data, size));
		break;
	case TWIST_PKT_STUN_ENCAP:
		CHECK(sp != 0 && !stun_is_msg(data, size));
		CHECK(peek_u16(data) == rp && peek_u16(data + 2) == sp &&
		      peek_u16(data + 4) == size);
		CHECK(stun_is_msg(data + off, size - off));
		stun_attrs(data + off, size - off);
		break;
	case TWIST_PKT_SEGMENT:
		CHECK(!stun_is_msg(data, size));
		CHECK(twist_seg_parse(data, size, proto, &s) == 0 && s.sport == rp);
		break;
	case TWIST_PKT_BAD:
		CHECK(!stun_is_msg(data, size));
		break;
	}
}

/* A packet from the TUN device: what parses is rebuilt behind twist_ip_hdr() and parses the same.
 */
static void ip_side(const uint8_t *data, size_t size)
{
	static uint8_t pkt[40 + MAX_SEG];
	struct twist_ip ip, ip2;
	int rc, h;

	rc = twist_ip_parse(data, size, &ip);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT);
	if (rc != 0)
		return;
	CHECK(ip.src.family == ip.dst.family);
	CHECK(ip.proto == STUN_PROTO_UDP || ip.proto == STUN_PROTO_TCP);
	CHECK(ip.seg > data && ip.seg + ip.seg_len <= data + size);
	h = twist_ip_hdr(pkt, sizeof(pkt), &ip.src, &ip.dst, ip.proto, ip.seg_len);
	CHECK(h == (ip.src.family == TW_AF_INET ? 20 : 40));
	CHECK(h + ip.seg_len <= sizeof(pkt));
	memcpy(pkt + h, ip.seg, ip.seg_len);
	CHECK(twist_ip_parse(pkt, (size_t)h + ip.seg_len, &ip2) == 0);
	CHECK(tw_addr_eq(&ip.src, &ip2.src) && tw_addr_eq(&ip.dst, &ip2.dst));
	CHECK(ip2.proto == ip.proto && ip2.seg_len == ip.seg_len && ip2.seg == pkt + h);
	/* The segment's checksum is whatever it was: the relay never recomputes one. */
	CHECK(memcmp(ip2.seg, ip.seg, ip.seg_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t protos[] = {STUN_PROTO_UDP, STUN_PROTO_TCP};

	if (size > STUN_MAX_MSG + 64)
		return 0;
	/* The input's first port as the relayed port, so that case 4 is reached too. */
	for (size_t i = 0; i < sizeof(protos); i++) {
		uint16_t rp = size >= 2 ? peek_u16(data) : 50000;

		classify_side(data, size, protos[i], rp, STUN_PORT);
		classify_side(data, size, protos[i], rp, 0);
		classify_side(data, size, protos[i], 50000, STUN_PORT);
	}
	seg_side(data, size);
	ip_side(data, size);
	stun_attrs(data, size);
	return 0;
}
