/*
 * turnload: latency histograms, and what /proc says about CPU time and UDP
 * drops. Nothing here touches the network.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/turnload.h"

uint64_t tl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Values below 64 have a bucket each; above, every power of two is cut in
 * 32 buckets, so a bucket is at most 1/32 of its value wide.
 */
static unsigned hist_idx(uint64_t v)
{
	unsigned msb;

	if (v < 64)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb > 45)
		return TL_HIST_BUCKETS - 1;
	return 64 + (msb - 6) * 32 + (unsigned)((v >> (msb - 5)) & 31);
}

/* The middle of bucket i. */
static uint64_t hist_val(unsigned i)
{
	unsigned msb, sub;

	if (i < 64)
		return i;
	msb = (i - 64) / 32 + 6;
	sub = (i - 64) % 32;
	return ((32ull + sub) << (msb - 5)) + ((1ull << (msb - 5)) >> 1);
}

void tl_hist_add(struct tl_hist *h, uint64_t v)
{
	h->b[hist_idx(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The pct-th percentile (0 < pct <= 100); never above the exact maximum. */
uint64_t tl_hist_pct(const struct tl_hist *h, double pct)
{
	uint64_t want, seen = 0, v;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(pct / 100.0 * (double)h->n + 0.5);
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < TL_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = hist_val(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/*
 * utime + stime of the whole thread group (fields 14 and 15 of
 * /proc/PID/stat, proc(5)), in seconds. The command name may hold spaces and
 * parentheses, so fields are counted from the last ')'.
 */
int tl_proc_cpu(pid_t pid, double *sec)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt
	 * cminflt majflt cmajflt utime(14) stime(15). */
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EBADMSG;
	*sec = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
	return 0;
}

int tl_self_cpu(double *sec)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -errno;
	*sec = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return 0;
}

void tl_port_mark(uint8_t *ports, int fd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	uint16_t p;

	if (getsockname(fd, (struct sockaddr *)&sin, &sl) < 0 || sin.sin_family != AF_INET)
		return;
	p = ntohs(sin.sin_port);
	ports[p / 8] |= (uint8_t)(1u << (p % 8));
}

/* RcvbufErrors from the "Udp:" lines of /proc/net/snmp (a header, then values). */
static int snmp_rcvbuf(uint64_t *out)
{
	char hdr[1024], val[1024], *hs, *vs, *h, *v;
	FILE *f = fopen("/proc/net/snmp", "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(hdr, sizeof(hdr), f)) {
		if (strncmp(hdr, "Udp:", 4) != 0 || !fgets(val, sizeof(val), f))
			continue;
		h = strtok_r(hdr, " \n", &hs);
		v = strtok_r(val, " \n", &vs);
		while (h && v) {
			if (strcmp(h, "RcvbufErrors") == 0) {
				*out = strtoull(v, NULL, 10);
				rc = 0;
				break;
			}
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	return rc;
}

/*
 * /proc/net/udp: "sl local rem st tx:rx tr:when retr uid timeout inode ref
 * ptr drops"; local is HEXIP:HEXPORT. The drops of sockets on our ports are
 * ours; the rest of RcvbufErrors happened elsewhere (the relay, on loopback).
 * ports NULL: RcvbufErrors only, without the walk over every socket.
 */
int tl_udp_drops(const uint8_t *ports, uint64_t *mine, uint64_t *rcvbuf_all)
{
	char line[512];
	unsigned port;
	unsigned long long drops;
	FILE *f;
	int rc;

	*mine = 0;
	rc = snmp_rcvbuf(rcvbuf_all);
	if (rc < 0 || !ports)
		return rc;
	f = fopen("/proc/net/udp", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line,
		           " %*u: %*x:%x %*x:%*x %*x %*x:%*x %*x:%*x %*x %*u %*u %*u %*u %*x %llu",
		           &port, &drops) != 2)
			continue;
		if (port < 65536 && (ports[port / 8] & (1u << (port % 8))))
			*mine += drops;
	}
	fclose(f);
	return 0;
}
