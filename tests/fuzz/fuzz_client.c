/*
 * fuzz_client: what twist-client reads from the network and from its TUN
 * (client/tc_stun.c, tc_pkt.c). The first byte picks the path:
 *   0  an answer or indication from the server (tc_stun_read), with and
 *      without credentials and a transaction to match
 *   1  a segment from the relay (tc_pkt_in), IPv4 and IPv6 applications
 *   2  a TCP segment's options (tc_mss_clamp)
 *   3  an IP packet from the TUN: parsed, translated, rewritten (tc_pkt_out)
 * Seeds: tests/fuzz/corpus/fuzz_client, written by gen_client_seeds.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/tc_pkt.h"
#include "client/tc_stun.h"
#include "proto/twist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tw_addr ip(const char *s, uint16_t port)
{
	struct tw_addr a;

	tw_addr_parse_ip(s, &a);
	a.port = port;
	return a;
}

static void fuzz_stun(const uint8_t *p, size_t n)
{
	static const uint8_t tid[STUN_TID_LEN] = "twist-client";
	struct tc_cred c = {.user = "alice", .pass = "secret"};
	struct tc_resp r;

	tc_stun_read(p, n, tid, NULL, &r);
	tc_stun_read(p, n, NULL, NULL, &r);
	tc_cred_set(&c, "example.org", "nonce");
	if (tc_stun_read(p, n, tid, &c, &r) == 0 && r.has_realm_nonce)
		tc_cred_set(&c, r.realm, r.nonce);
}

static void fuzz_in(const uint8_t *p, size_t n, uint8_t sel)
{
	static uint8_t out[TC_MAX_PKT + TC_IP6_HDR];
	struct tc_map m = {
	        .local = ip(sel & 1 ? "2001:db8:1::2" : "192.0.2.2", 40000),
	        .remote = ip(sel & 1 ? "64:ff9b::c633:6402" : "198.51.100.2", 80),
	        .relayed = ip("203.0.113.200", 50000),
	        .peer = ip("198.51.100.2", 80),
	};
	uint8_t proto = sel & 2 ? STUN_PROTO_TCP : STUN_PROTO_UDP;

	tc_pkt_in(&m, proto, p, n, sel & 4 ? 1340 : 0, out, sizeof(out));
}

static void fuzz_out(const uint8_t *p, size_t n)
{
	struct tc_xlate x = {.nat64 = true, .nmap = 1};
	struct tc_map m;
	struct twist_ip pi;
	uint8_t *copy = malloc(n ? n : 1);

	if (!copy)
		return;
	memcpy(copy, p, n);
	tw_cidr_parse("64:ff9b::/96", &x.nat64_pfx);
	x.map[0].local = ip("192.0.2.66", 0);
	x.map[0].peer = ip("2001:db8:3::2", 0);
	if (twist_ip_parse(copy, n, &pi) == 0) {
		uint8_t *seg = copy + (pi.seg - copy);

		m.local = pi.src;
		m.remote = pi.dst;
		tc_xlate_peer(&x, &pi.dst, &m.peer);
		m.relayed = ip(m.peer.family == TW_AF_INET ? "203.0.113.200" : "2001:db8:4::200",
		               50000);
		if (pi.proto == STUN_PROTO_TCP)
			tc_mss_clamp(seg, pi.seg_len,
			             tc_mss_for(1400, m.local.family, m.peer.family));
		tc_pkt_out(&m, pi.proto, seg, pi.seg_len);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		fuzz_stun(data + 1, size - 1);
		break;
	case 1:
		fuzz_in(data + 1, size - 1, data[0] >> 2);
		break;
	case 2:
		copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data + 1, size - 1);
		tc_mss_clamp(copy, size - 1, 1340);
		free(copy);
		break;
	case 3:
		fuzz_out(data + 1, size - 1);
		break;
	}
	return 0;
}
