#include "proto/tso.h"

#include <errno.h>
#include <string.h>

#include "proto/cursor.h"

#define IP4_HDR   20
#define IP6_HDR   40
#define TCP_HDR   20
#define TCP_MAXHL 60
#define PROTO_TCP 6
#define FL_FIN    0x01
#define FL_PSH    0x08
#define FL_CWR    0x80

int tso_cut(uint8_t *pkt, size_t len, size_t mss, tso_seg_fn fn, void *ctx)
{
	uint8_t hdr[IP6_HDR + TCP_MAXHL];
	size_t iphl, thl, hl, pay;
	uint32_t seq;
	uint16_t id;
	uint8_t fl;
	int v, n = 0;

	if (len < IP4_HDR || !mss)
		return -EINVAL;
	v = pkt[0] >> 4;
	if (v == 4)
		iphl = (size_t)(pkt[0] & 0x0f) * 4;
	else if (v == 6)
		iphl = IP6_HDR;
	else
		return -EINVAL;
	if (iphl < IP4_HDR || len < iphl + TCP_HDR || pkt[v == 4 ? 9 : 6] != PROTO_TCP)
		return -EINVAL;
	thl = (size_t)(pkt[iphl + 12] >> 4) * 4;
	hl = iphl + thl;
	if (thl < TCP_HDR || hl > len || hl > sizeof(hdr))
		return -EINVAL;
	if (len - (v == 4 ? 0 : IP6_HDR) > 0xffff) /* a length field could not say it */
		return -EINVAL;
	memcpy(hdr, pkt, hl);
	seq = peek_u32(hdr + iphl + 4);
	id = peek_u16(hdr + 4);
	fl = hdr[iphl + 13];
	/* Without payload, one packet: its lengths set all the same. */
	for (size_t off = hl; off < len || !n; off += pay, n++) {
		uint8_t *p = pkt + off - hl;
		int last;

		pay = len - off < mss ? len - off : mss;
		last = off + pay >= len;
		if (n)
			memcpy(p, hdr, hl);
		if (v == 4) {
			put_u16(p + 2, (uint16_t)(hl + pay));
			put_u16(p + 4, (uint16_t)(id + n));
		} else {
			put_u16(p + 4, (uint16_t)(thl + pay));
		}
		put_u32(p + iphl + 4, seq + (uint32_t)(off - hl));
		p[iphl + 13] = fl & (last ? 0xff : (uint8_t) ~(FL_FIN | FL_PSH)) &
		               (n ? (uint8_t)~FL_CWR : 0xff);
		if (fn(ctx, p, hl + pay, iphl, last))
			return -ECANCELED;
	}
	return n;
}

void tso_ip4_csum_set(uint8_t *hdr, size_t hl)
{
	uint32_t sum = 0;

	if (hl < IP4_HDR || hdr[0] >> 4 != 4)
		return;
	put_u16(hdr + 10, 0);
	for (size_t i = 0; i + 1 < hl; i += 2)
		sum += peek_u16(hdr + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_u16(hdr + 10, (uint16_t)~sum);
}
