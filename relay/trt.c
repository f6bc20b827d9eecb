/*
 * The translator's plane (relay/trt.h): start-up and shutdown, the access
 * check and its log line, the paired IPv4 source, our own IPv6 packets
 * (RST, ICMPv6) and the counters. The TCP relay is relay/trt_tcp.c (with
 * the SYN queue in trt_syn.c), UDP relay/trt_udp.c, capture trt_nft.c.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "relay/netaddr.h"
#include "relay/trt_int.h"
#include "relay/worker.h"

#define ICMP_RATE    100 /* ICMPv6 errors per second, and the burst */
#define TCP_IDLE_RFC 7440
#define UDP_IDLE_RFC 120

const char *const trt_alg_kind_names[TRT_ALG_KINDS] = {"epsv", "pasv_reply", "epsv_all",
                                                       "eprt", "lprt",       "lpsv"};

uint64_t trt_now(struct trt *t)
{
	t->w->now_ms = relay_now_ms();
	return t->w->now_ms;
}

enum trt_deny trt_check(struct trt *t, const struct tw_addr *c6, const struct tw_addr *d4)
{
	return trt_policy_check(&t->pol, c6, d4);
}

const struct tw_addr *trt_source(const struct trt *t, const struct tw_addr *c6)
{
	struct tw_addr ip = *c6;

	if (t->cfg->n_trt_sources == 0)
		return NULL;
	ip.port = 0; /* one source per client address, whatever its port */
	return &t->cfg->trt_sources[tw_addr_hash(&ip, t->seed) % t->cfg->n_trt_sources];
}

void trt_denied(struct trt *t, enum trt_proto p, const struct tw_addr *c6, const struct tw_addr *d4,
                enum trt_deny why)
{
	const struct tw_addr *s4 = trt_source(t, c6);
	char cb[TW_ADDR_STRLEN], db[TW_ADDR_STRLEN], sb[TW_ADDR_STRLEN];

	TRT_INC(t, denied[why]);
	if (!log_ratelimit(&t->log_last[why], trt_now(t), 1000))
		return;
	log_info("trt: denied %s %s -> %s via %s:0: %s", p == TRT_TCP ? "tcp" : "udp",
	         tw_addr_fmt(c6, cb, sizeof(cb)), tw_addr_fmt(d4, db, sizeof(db)),
	         s4 ? tw_addr_fmt_ip(s4, sb, sizeof(sb)) : "0.0.0.0", trt_deny_name(why));
}

void trt_drop(struct trt *t, enum trt_drop d)
{
	TRT_INC(t, drops[d]);
}

void trt_mapping_add(struct trt *t, enum trt_proto p, int delta)
{
	TRT_ADD(t, mappings[p], delta);
	if (delta > 0)
		TRT_ADD(t, mappings_total[p], (uint64_t)delta);
}

int trt_v4_socket(struct trt *t, int type, const struct tw_addr *c6)
{
	const struct tw_addr *src = trt_source(t, c6);
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;

	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (src == NULL)
		return fd;
	/* TCP: the port is chosen at connect(), per 4-tuple, not per bind (a
	 * source's 64k ports serve every destination). IP_FREEBIND: a source
	 * routed to us but not on an interface, or not yet (a standby). */
	if (type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	sl = tw_addr_to_sa(src, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int trt_raw_send(struct trt *t, const uint8_t *pkt, size_t len, const struct tw_addr *dst)
{
	struct sockaddr_storage ss;
	struct tw_addr to = *dst;
	socklen_t sl;

	to.port = 0; /* a raw socket's "port" is the protocol */
	sl = tw_addr_to_sa(&to, &ss);
	if (sendto(t->raw_fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
		trt_drop(t, TRT_DROP_SEND);
		return -errno;
	}
	return 0;
}

/* A token bucket: RFC 4443 §2.4 (f) asks errors to be rate-limited. */
static bool icmp_allowed(struct trt *t)
{
	uint64_t now = trt_now(t), add = (now - t->icmp_last_ms) * ICMP_RATE / 1000;

	if (add > 0) {
		t->icmp_tokens =
		        (unsigned)(t->icmp_tokens + add > ICMP_RATE ? ICMP_RATE
		                                                    : t->icmp_tokens + add);
		t->icmp_last_ms = now;
	}
	if (t->icmp_tokens == 0)
		return false;
	t->icmp_tokens--;
	return true;
}

void trt_icmp_send(struct trt *t, const struct trt_icmp6 *e, const struct tw_addr *d6,
                   const struct tw_addr *c6, const uint8_t *q, size_t qlen)
{
	uint8_t pkt[TRT_MIN_MTU6];
	int n;

	if (!icmp_allowed(t)) {
		trt_drop(t, TRT_DROP_ICMP_RATE);
		return;
	}
	n = trt_pkt_icmp6(pkt, sizeof(pkt), d6, c6, e, q, qlen);
	if (n > 0 && trt_raw_send(t, pkt, (size_t)n, c6) == 0)
		TRT_INC(t, icmp[e->kind]);
}

/* The host's IPv4 addresses, always refused as destinations (read once, at start). */
static void self_load(struct trt *t)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	for (unsigned k = 0; k < t->cfg->n_trt_sources && n < TRT_MAX_SELF; k++)
		t->self[n++] = t->cfg->trt_sources[k];
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i && n < TRT_MAX_SELF; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
				tw_addr_from_sa(i->ifa_addr, &t->self[n++]);
		freeifaddrs(ifa);
	}
	t->pol.self = t->self;
	t->pol.n_self = n;
}

static void policy_load(struct trt *t)
{
	cfg_trt_policy(t->cfg, &t->pol);
	self_load(t);
}

static void warn_timeouts(const struct config *c)
{
	if (c->trt_tcp_idle_timeout < TCP_IDLE_RFC)
		log_warn("trt.tcp_idle_timeout %u is below RFC 5382's %d s: idle TCP "
		         "connections end early",
		         c->trt_tcp_idle_timeout, TCP_IDLE_RFC);
	if (c->trt_udp_idle_timeout < UDP_IDLE_RFC)
		log_warn("trt.udp_idle_timeout %u is below RFC 4787's %d s: idle UDP "
		         "mappings end early",
		         c->trt_udp_idle_timeout, UDP_IDLE_RFC);
	if (c->n_trt_allow == 0)
		log_warn("trt: no allow rule: nothing is relayed (default deny)");
}

static int raw_open(struct trt *t, char *err, size_t errlen)
{
	int one = 1;

	/* IPPROTO_RAW: we write the IPv6 header, with the dummy address as source. */
	t->raw_fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (t->raw_fd < 0) {
		snprintf(err, errlen, "trt: raw IPv6 socket: %s (needs CAP_NET_RAW)",
		         strerror(errno));
		return -errno;
	}
	setsockopt(t->raw_fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
	return 0;
}

struct trt *trt_new(struct relay *r, char *err, size_t errlen)
{
	const struct config *c = &r->cfg;
	struct trt *t = calloc(1, sizeof(*t));
	unsigned nb = 64;

	if (t == NULL) {
		snprintf(err, errlen, "trt: out of memory");
		return NULL;
	}
	t->r = r;
	t->w = r->workers[0];
	t->cfg = c;
	t->tcp_fd = t->udp_fd = t->raw_fd = t->urg_fd = -1;
	t->icmp_tokens = ICMP_RATE;
	t->filter = &trt_ftp_ops; /* connections to trt.ftp_ports (relay/trt_ftp.c) */
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = r->seed;
	while (nb < c->trt_max_udp && nb < (1u << 20))
		nb <<= 1;
	t->ubucket = calloc(nb, sizeof(*t->ubucket));
	t->umask = nb - 1;
	if (t->ubucket == NULL) {
		snprintf(err, errlen, "trt: out of memory");
		goto bad;
	}
	policy_load(t);
	warn_timeouts(c);
	t->pipes = trt_pipes_new();
	if (t->pipes == NULL) {
		snprintf(err, errlen, "trt: out of memory");
		goto bad;
	}
	if (raw_open(t, err, errlen) < 0 || trt_tcp_start(t, err, errlen) < 0 ||
	    trt_udp_start(t, err, errlen) < 0)
		goto bad;
	/* The SYN queue's number is the listeners' port: one per config. Bound
	 * also without trt.nft, for the operator's own rules (docs/trt.md). */
	t->syn = trt_syn_new(t, c->trt_port, err, errlen);
	if (t->syn == NULL || (c->trt_nft && trt_nft_install(t, c->trt_port, err, errlen) < 0))
		goto bad;
	return t;
bad:
	trt_unwatch(t);
	trt_free(t);
	return NULL;
}

void trt_unwatch(struct trt *t)
{
	if (t == NULL)
		return;
	trt_syn_free(t->syn);
	t->syn = NULL;
	trt_tcp_stop(t);
	trt_udp_stop(t);
}

void trt_free(struct trt *t)
{
	if (t == NULL)
		return;
	trt_nft_remove(t);
	if (t->raw_fd >= 0)
		close(t->raw_fd);
	if (t->urg_fd >= 0)
		close(t->urg_fd);
	trt_pipes_free(t->pipes);
	free(t->ubucket);
	free(t);
}

bool trt_shrunk(struct trt *t, unsigned by)
{
	unsigned live;

	if (t == NULL)
		return false;
	live = t->n_tcp + t->n_udp;
	if (live > t->trim_peak)
		t->trim_peak = live;
	if (t->trim_peak - live < by)
		return false;
	t->trim_peak = live;
	return true;
}

void trt_stats_read(const struct trt *t, struct trt_stats *out)
{
	const uint64_t *src = (const uint64_t *)&t->st;
	uint64_t *dst = (uint64_t *)out;

	/* Every field is a 64-bit counter with one writer (worker 0). */
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void trt_set_filter(struct trt *t, const struct trt_filter_ops *ops)
{
	t->filter = ops;
}

void trt_count_alg(struct trt *t, unsigned kind)
{
	if (kind < TRT_ALG_KINDS)
		TRT_INC(t, alg[kind]);
}

const char *trt_drop_name(enum trt_drop d)
{
	switch (d) {
	case TRT_DROP_FILTERED:
		return "filtered";
	case TRT_DROP_BAD:
		return "bad";
	case TRT_DROP_DESTS:
		return "destinations";
	case TRT_DROP_ICMP_RATE:
		return "icmp_rate";
	case TRT_DROP_SEND:
		return "send";
	case TRT_DROP_SYN_HELD:
		return "syn_held";
	case TRT_DROP__COUNT:
		break;
	}
	return "?";
}
