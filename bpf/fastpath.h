/*
 * The ChannelData fast path's maps, shared by the TC program
 * (bpf/fastpath.bpf.c) and the relay (relay/fastpath.c). Addresses and
 * ports are in network order, as they sit in the packet; an IPv4 address
 * is ip[0] with the other words zero. docs/fastpath.md describes the design.
 */
#ifndef TWIST_BPF_FASTPATH_H
#define TWIST_BPF_FASTPATH_H

#include <linux/types.h>

#define FP_MAX_ENTRIES 65536 /* per direction */
#define FP_CHUNK       256   /* bytes moved per helper call */
#define FP_MAX_CHUNKS  6     /* payloads up to 1536 bytes take the fast path */
#define FP_MAX_PAYLOAD (FP_CHUNK * FP_MAX_CHUNKS)
#define FP_TTL         64

/* Slots of the per-CPU counter array. */
enum fp_stat {
	FP_ST_C2P_PKTS,  /* ChannelData relayed to peers */
	FP_ST_C2P_BYTES, /* their application data (without the 4-byte header) */
	FP_ST_P2C_PKTS,  /* peer datagrams relayed to clients as ChannelData */
	FP_ST_P2C_BYTES, /* their application data */
	/* Packets that matched an entry, or looked like ChannelData, and
	 * went up to the relay unchanged, by reason. */
	FP_ST_FB_NO_ENTRY, /* ChannelData with no entry: unbound channel, unknown client */
	FP_ST_FB_LENGTH,   /* length field disagrees with the datagram */
	FP_ST_FB_EXPIRING, /* the entry's deadline has passed */
	FP_ST_FB_ROUTE,    /* no route, no neighbour yet, local peer, or too big for the MTU */
	FP_ST_FB_SIZE,     /* payload above FP_MAX_PAYLOAD, or a GSO packet */
	FP_ST_DROPPED,     /* a helper failed after the packet was changed */
	FP_ST__COUNT,
};

struct fp_ip {
	__u32 w[4];
};

/* client -> peer: who sent ChannelData to which listener, on which channel. */
struct fp_c2p_key {
	struct fp_ip client, listen;
	__be16 client_port, listen_port;
	__be16 chan;
	__u8 family; /* 4 or 6 */
	__u8 pad;
};

struct fp_c2p_val {
	struct fp_ip relayed, peer;
	__be16 relayed_port, peer_port;
	__u32 pad;
	__u64 deadline_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns); not forwarded from then on */
};

/* peer -> client: which peer sent to which relayed address. */
struct fp_p2c_key {
	struct fp_ip relayed, peer;
	__be16 relayed_port, peer_port;
	__u8 family;
	__u8 pad[3];
};

struct fp_p2c_val {
	struct fp_ip client, listen;
	__be16 client_port, listen_port;
	__be16 chan;
	__u16 pad;
	__u64 deadline_ns;
};

/*
 * One channel's traffic through the program, keyed by its fp_c2p_key and
 * added to atomically. A map of its own: refreshing an entry of fp_c2p or
 * fp_p2c replaces the whole value, which would lose counts taken between
 * the relay's read and its write. The relay creates it with the channel's
 * entries, reads it into the allocation's counters, deletes it last.
 */
struct fp_chan_ctr {
	__u64 c2p_pkts, c2p_bytes; /* data bytes, without the ChannelData header */
	__u64 p2c_pkts, p2c_bytes;
};

#endif
