/*
 * The ChannelData fast path: a TC (clsact ingress) program that relays
 * established channel traffic without the socket layer (docs/fastpath.md).
 *
 * client -> peer: a UDP datagram to a listener that is exactly one
 * ChannelData message (RFC 8656 §12.4, up to 3 bytes of padding) from a
 * client 5-tuple and channel in fp_c2p loses its 4-byte header and leaves
 * from the relayed address to the channel's peer.
 * peer -> client: a datagram from a peer to a relayed address in fp_p2c
 * gains a ChannelData header and leaves from the listener to the client.
 *
 * Anything else goes up to the relay unchanged (TC_ACT_OK): the relay stays
 * the authority. Only helpers of Linux 6.1 are used. The payload is moved
 * by 4 bytes instead of the headers so that a CHECKSUM_PARTIAL packet
 * (from a local socket over veth or lo) keeps its csum_start.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/fastpath.h"

#define AF_INET  2
#define AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_ENTRIES);
	__type(key, struct fp_c2p_key);
	__type(value, struct fp_c2p_val);
} fp_c2p SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_ENTRIES);
	__type(key, struct fp_p2c_key);
	__type(value, struct fp_p2c_val);
} fp_p2c SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_MAX_ENTRIES);
	__type(key, struct fp_c2p_key);
	__type(value, struct fp_chan_ctr);
} fp_chan SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_ST__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} fp_stats SEC(".maps");

/* Bounce buffer for moving the payload: the stack has only 512 bytes. */
struct chunk {
	__u8 b[FP_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chunk);
} fp_scratch SEC(".maps");

/* What parse() learnt of a UDP datagram. */
struct pkt {
	__u32 l4;   /* offset of the UDP header */
	__u32 plen; /* UDP payload length */
	__u8 family;
	struct fp_ip src, dst;
	__be16 sport, dport;
};

/* The new addresses of a datagram being relayed. */
struct rewrite {
	struct fp_ip src, dst;
	__be16 sport, dport;
	__u32 plen; /* new UDP payload length */
};

static __always_inline void count(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&fp_stats, &slot);

	if (v)
		*v += n;
}

static __always_inline int fallback(__u32 reason)
{
	count(reason, 1);
	return TC_ACT_OK;
}

/*
 * The channel's own counters (bpf/fastpath.h); the relay creates the
 * entry before the channel's, so a miss means it is being deleted, and
 * the per-CPU totals still have the packet.
 */
static __always_inline void count_chan(const struct fp_c2p_key *k, int c2p, __u64 len)
{
	struct fp_chan_ctr *c = bpf_map_lookup_elem(&fp_chan, k);

	if (!c)
		return;
	if (c2p) {
		__sync_fetch_and_add(&c->c2p_pkts, 1);
		__sync_fetch_and_add(&c->c2p_bytes, len);
	} else {
		__sync_fetch_and_add(&c->p2c_pkts, 1);
		__sync_fetch_and_add(&c->p2c_bytes, len);
	}
}

/* A helper failed after the packet was changed: it cannot go up as it was. */
static __always_inline int drop(void)
{
	count(FP_ST_DROPPED, 1);
	return TC_ACT_SHOT;
}

static __always_inline int parse_v4(struct __sk_buff *skb, void *data, void *end, struct pkt *p)
{
	struct iphdr *ip = data + ETH_HLEN;
	struct udphdr *udp = (void *)(ip + 1);
	__u32 tot;

	if ((void *)(udp + 1) > end)
		return -1;
	/* IP options and fragments go up: the program reads fixed offsets. */
	if (ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    (ip->frag_off & bpf_htons(0x3fff)))
		return -1;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < sizeof(*ip) + sizeof(*udp) || ETH_HLEN + tot > skb->len ||
	    bpf_ntohs(udp->len) != tot - sizeof(*ip))
		return -1;
	p->family = 4;
	p->l4 = ETH_HLEN + sizeof(*ip);
	p->plen = tot - sizeof(*ip) - sizeof(*udp);
	p->src.w[0] = ip->saddr;
	p->dst.w[0] = ip->daddr;
	p->sport = udp->source;
	p->dport = udp->dest;
	return 0;
}

static __always_inline int parse_v6(struct __sk_buff *skb, void *data, void *end, struct pkt *p)
{
	struct ipv6hdr *ip = data + ETH_HLEN;
	struct udphdr *udp = (void *)(ip + 1);
	__u32 pl;

	if ((void *)(udp + 1) > end)
		return -1;
	/* Extension headers go up: UDP must follow the fixed header. */
	if (ip->version != 6 || ip->nexthdr != IPPROTO_UDP)
		return -1;
	pl = bpf_ntohs(ip->payload_len);
	if (pl < sizeof(*udp) || ETH_HLEN + sizeof(*ip) + pl > skb->len ||
	    bpf_ntohs(udp->len) != pl)
		return -1;
	p->family = 6;
	p->l4 = ETH_HLEN + sizeof(*ip);
	p->plen = pl - sizeof(*udp);
	__builtin_memcpy(&p->src, &ip->saddr, 16);
	__builtin_memcpy(&p->dst, &ip->daddr, 16);
	p->sport = udp->source;
	p->dport = udp->dest;
	return 0;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__u32 need = ETH_HLEN + sizeof(struct ipv6hdr) + sizeof(struct udphdr);
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if (data + need > end) {
		bpf_skb_pull_data(skb, skb->len < need ? skb->len : need);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		eth = data;
	}
	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return parse_v4(skb, data, end, p);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return parse_v6(skb, data, end, p);
	return -1;
}

/* Where the rewritten datagram goes: 0 and the MACs and ifindex in fib. */
static __always_inline int route(struct __sk_buff *skb, const struct pkt *p,
                                 const struct rewrite *rw, struct bpf_fib_lookup *fib)
{
	__u32 iplen = p->family == 4 ? sizeof(struct iphdr) : 0;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->l4_protocol = IPPROTO_UDP;
	fib->sport = rw->sport;
	fib->dport = rw->dport;
	fib->ifindex = skb->ingress_ifindex;
	/* The MTU is checked against the new length: too big goes up. */
	fib->tot_len = iplen + sizeof(struct udphdr) + rw->plen;
	if (p->family == 4) {
		fib->family = AF_INET;
		fib->ipv4_src = rw->src.w[0];
		fib->ipv4_dst = rw->dst.w[0];
	} else {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, &rw->src, 16);
		__builtin_memcpy(fib->ipv6_dst, &rw->dst, 16);
		fib->tot_len += sizeof(struct ipv6hdr);
	}
	return bpf_fib_lookup(skb, fib, sizeof(*fib), 0) == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
}

/*
 * Moves len bytes at from to from + delta (delta is +4 or -4), a chunk at
 * a time, in the order that never overwrites bytes not yet moved.
 */
static __always_inline int move(struct __sk_buff *skb, __u32 from, __u32 len, int delta)
{
	__u32 zero = 0, done = 0;
	struct chunk *c = bpf_map_lookup_elem(&fp_scratch, &zero);

	if (!c)
		return -1;
	for (int i = 0; i < FP_MAX_CHUNKS && done < len; i++) {
		__u64 n = len - done;
		__u32 off;

		if (n > FP_CHUNK)
			n = FP_CHUNK;
		/* Growing moves the tail first, shrinking the head first. */
		off = delta > 0 ? from + len - done - (__u32)n : from + done;
		/* Keeps the bound where the verifier sees it. */
		asm volatile("" : "+r"(n));
		if (n == 0 || n > FP_CHUNK)
			return -1;
		if (bpf_skb_load_bytes(skb, off, c->b, n) < 0 ||
		    bpf_skb_store_bytes(skb, off + delta, c->b, n, BPF_F_RECOMPUTE_CSUM) < 0)
			return -1;
		done += n;
	}
	return done == len ? 0 : -1;
}

static __always_inline __u16 ip_csum(const __u16 *w)
{
	__u32 sum = 0;

	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The IP header with the new addresses, length and a fresh TTL. */
static __always_inline int rewrite_ip(struct __sk_buff *skb, const struct pkt *p,
                                      const struct rewrite *rw)
{
	__u16 ulen = sizeof(struct udphdr) + rw->plen;

	if (p->family == 4) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
			return -1;
		ip.tot_len = bpf_htons(sizeof(ip) + ulen);
		ip.ttl = FP_TTL;
		ip.saddr = rw->src.w[0];
		ip.daddr = rw->dst.w[0];
		ip.check = 0;
		ip.check = ip_csum((const __u16 *)&ip);
		return bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip), BPF_F_RECOMPUTE_CSUM);
	} else {
		struct ipv6hdr ip;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
			return -1;
		ip.payload_len = bpf_htons(ulen);
		ip.hop_limit = FP_TTL;
		__builtin_memcpy(&ip.saddr, &rw->src, 16);
		__builtin_memcpy(&ip.daddr, &rw->dst, 16);
		return bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip), BPF_F_RECOMPUTE_CSUM);
	}
}

/*
 * The UDP header and its checksum, updated by difference so that a
 * CHECKSUM_PARTIAL packet (which holds only the pseudo-header sum) stays
 * right: the pseudo-header part with BPF_F_PSEUDO_HDR, the rest without.
 * hdr_old/hdr_new: the ChannelData header removed or added (0 if none);
 * the payload moved by 4 bytes keeps its 16-bit alignment, so its sum is
 * unchanged.
 */
static __always_inline int rewrite_udp(struct __sk_buff *skb, const struct pkt *p,
                                       const struct rewrite *rw, __be32 hdr_old, __be32 hdr_new)
{
	__u32 csum_off = p->l4 + offsetof(struct udphdr, check);
	__u16 ulen_old = bpf_htons(sizeof(struct udphdr) + p->plen);
	__u16 ulen_new = bpf_htons(sizeof(struct udphdr) + rw->plen);
	__be32 from[10] = {}, to[10] = {};
	__u32 flags = BPF_F_MARK_MANGLED_0, nw;
	struct udphdr uh = {};
	__s64 diff;

	/* Ports, length (its other half is the checksum: left out) and the header. */
	from[0] = (__be32)p->sport | (__be32)p->dport << 16;
	to[0] = (__be32)rw->sport | (__be32)rw->dport << 16;
	from[1] = ulen_old;
	to[1] = ulen_new;
	from[2] = hdr_old;
	to[2] = hdr_new;
	diff = bpf_csum_diff(from, 12, to, 12, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff, flags) < 0)
		return -1;
	/* The pseudo header: addresses and the length. */
	nw = p->family == 4 ? 1 : 4;
	for (__u32 i = 0; i < 4; i++) {
		if (i < nw) {
			from[i] = p->src.w[i];
			from[4 + i] = p->dst.w[i];
			to[i] = rw->src.w[i];
			to[4 + i] = rw->dst.w[i];
		} else {
			from[i] = from[4 + i] = to[i] = to[4 + i] = 0;
		}
	}
	from[8] = ulen_old;
	to[8] = ulen_new;
	diff = bpf_csum_diff(from, 36, to, 36, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff, flags | BPF_F_PSEUDO_HDR) < 0)
		return -1;
	uh.source = rw->sport;
	uh.dest = rw->dport;
	uh.len = ulen_new;
	/* Six bytes: the checksum just written stays. */
	return bpf_skb_store_bytes(skb, p->l4, &uh, 6, BPF_F_RECOMPUTE_CSUM);
}

static __always_inline int send(struct __sk_buff *skb, const struct bpf_fib_lookup *fib)
{
	__u8 macs[12];

	__builtin_memcpy(macs, fib->dmac, 6);
	__builtin_memcpy(macs + 6, fib->smac, 6);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) < 0)
		return drop();
	return bpf_redirect(fib->ifindex, 0);
}

static __always_inline int client_to_peer(struct __sk_buff *skb, const struct pkt *p, __be32 hdr)
{
	struct fp_c2p_key k = {};
	struct fp_c2p_val *v;
	struct rewrite rw = {};
	struct bpf_fib_lookup fib;
	__u32 dlen = bpf_ntohl(hdr) & 0xffff, data = p->l4 + sizeof(struct udphdr);

	k.client = p->src;
	k.listen = p->dst;
	k.client_port = p->sport;
	k.listen_port = p->dport;
	k.chan = (__be16)hdr; /* the first two bytes in network order */
	k.family = p->family;
	v = bpf_map_lookup_elem(&fp_c2p, &k);
	if (!v)
		return fallback(FP_ST_FB_NO_ENTRY);
	if (bpf_ktime_get_ns() >= v->deadline_ns)
		return fallback(FP_ST_FB_EXPIRING);
	/* RFC 8656 §12.5: over UDP the datagram is the message, padding optional. */
	if (dlen + 4 > p->plen || p->plen - 4 - dlen > 3)
		return fallback(FP_ST_FB_LENGTH);
	if (dlen > FP_MAX_PAYLOAD || skb->gso_size)
		return fallback(FP_ST_FB_SIZE);
	rw.src = v->relayed;
	rw.dst = v->peer;
	rw.sport = v->relayed_port;
	rw.dport = v->peer_port;
	rw.plen = dlen;
	if (route(skb, p, &rw, &fib) < 0)
		return fallback(FP_ST_FB_ROUTE);
	/* From here the packet is changed: a failure drops it. */
	if (rewrite_udp(skb, p, &rw, hdr, 0) < 0 || move(skb, data + 4, dlen, -4) < 0 ||
	    bpf_skb_change_tail(skb, data + dlen, 0) < 0 || rewrite_ip(skb, p, &rw) < 0)
		return drop();
	count(FP_ST_C2P_PKTS, 1);
	count(FP_ST_C2P_BYTES, dlen);
	count_chan(&k, 1, dlen);
	return send(skb, &fib);
}

static __always_inline int peer_to_client(struct __sk_buff *skb, const struct pkt *p,
                                          const struct fp_p2c_val *v)
{
	struct rewrite rw = {};
	struct bpf_fib_lookup fib;
	struct fp_c2p_key k = {};
	__u32 dlen = p->plen, data = p->l4 + sizeof(struct udphdr);
	__be32 hdr;

	if (bpf_ktime_get_ns() >= v->deadline_ns)
		return fallback(FP_ST_FB_EXPIRING);
	if (dlen > FP_MAX_PAYLOAD || skb->gso_size)
		return fallback(FP_ST_FB_SIZE);
	rw.src = v->listen;
	rw.dst = v->client;
	rw.sport = v->listen_port;
	rw.dport = v->client_port;
	/* RFC 8656 §12: over UDP the padding is optional; none is added. */
	rw.plen = dlen + 4;
	if (route(skb, p, &rw, &fib) < 0)
		return fallback(FP_ST_FB_ROUTE);
	hdr = (__be32)v->chan | (__be32)bpf_htons((__u16)dlen) << 16;
	if (bpf_skb_change_tail(skb, data + dlen + 4, 0) < 0 || move(skb, data, dlen, 4) < 0 ||
	    bpf_skb_store_bytes(skb, data, &hdr, 4, BPF_F_RECOMPUTE_CSUM) < 0 ||
	    rewrite_udp(skb, p, &rw, 0, hdr) < 0 || rewrite_ip(skb, p, &rw) < 0)
		return drop();
	count(FP_ST_P2C_PKTS, 1);
	count(FP_ST_P2C_BYTES, dlen);
	k.client = v->client;
	k.listen = v->listen;
	k.client_port = v->client_port;
	k.listen_port = v->listen_port;
	k.chan = v->chan;
	k.family = p->family;
	count_chan(&k, 0, dlen);
	return send(skb, &fib);
}

SEC("tc")
int fp_ingress(struct __sk_buff *skb)
{
	struct fp_p2c_key pk = {};
	struct fp_p2c_val *pv;
	struct pkt p = {};
	__be32 hdr;

	if (parse(skb, &p) < 0)
		return TC_ACT_OK;
	pk.relayed = p.dst;
	pk.peer = p.src;
	pk.relayed_port = p.dport;
	pk.peer_port = p.sport;
	pk.family = p.family;
	pv = bpf_map_lookup_elem(&fp_p2c, &pk);
	if (pv)
		return peer_to_client(skb, &p, pv);
	if (p.plen < 4 ||
	    bpf_skb_load_bytes(skb, p.l4 + sizeof(struct udphdr), &hdr, sizeof(hdr)) < 0)
		return TC_ACT_OK;
	/* Top bits 01 (RFC 8656 §12): which numbers are bound is the map's business
	 * (0x5000-0x7FFF only with compat.rfc5766_channels). */
	if ((*(__u8 *)&hdr & 0xc0) != 0x40)
		return TC_ACT_OK;
	return client_to_peer(skb, &p, hdr);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
