/*
 * The node's role: one state, changed only by ha_change_state(), which logs
 * every transition, writes the role file when the role changes and tells
 * twist-syncd with SIGHUP.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "ha/ha.h"

/*
 * Milliseconds since pid started, from /proc/<pid>/stat (starttime, field
 * 22, after the parenthesised command name) and /proc/uptime; -1 unknown.
 */
static long long proc_age_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	double up;
	long hz = sysconf(_SC_CLK_TCK);
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (hz <= 0 || ha_file_read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", &start) != 1)
		return -1;
	if (ha_file_read_small("/proc/uptime", buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%lf", &up) != 1)
		return -1;
	return (long long)(up * 1000.0) - (long long)(start * 1000ULL / (unsigned long long)hz);
}

/*
 * twist-syncd re-reads the role file on SIGHUP and when its mtime changes;
 * the signal only saves it the wait. A syncd that started less than a second
 * ago reads the file itself, and may not have its handler yet: SIGHUP's
 * default action would kill it, so it is not signalled.
 */
static void tell_syncd(struct ha *h)
{
	long long age;
	pid_t pid;
	int rc;

	if (!h->cfg.syncd_pid)
		return;
	rc = ha_pidfile_read(h->cfg.syncd_pid, &pid);
	if (rc < 0) {
		log_warn("cannot read twist-syncd pid file %s: %s (it will see the role file "
		         "change on its own)",
		         h->cfg.syncd_pid, strerror(-rc));
		return;
	}
	age = proc_age_ms(pid);
	if (age >= 0 && age < 1000) {
		log_debug("twist-syncd (pid %ld) started %lld ms ago: not signalled", (long)pid,
		          age);
		return;
	}
	if (kill(pid, SIGHUP) < 0)
		log_warn("SIGHUP to twist-syncd (pid %ld): %s", (long)pid, strerror(errno));
	else
		log_debug("SIGHUP sent to twist-syncd (pid %ld)", (long)pid);
}

static int write_role(struct ha *h, const char *role, bool signal_syncd)
{
	char line[16];
	int rc;

	snprintf(line, sizeof(line), "%s\n", role);
	rc = ha_file_write_atomic(h->cfg.role_path, line);
	if (rc < 0) {
		h->role_write_failed++;
		log_err("cannot write role file %s: %s", h->cfg.role_path, strerror(-rc));
		return rc;
	}
	h->role_written = role;
	log_info("role file %s: %s", h->cfg.role_path, role);
	if (signal_syncd)
		tell_syncd(h);
	return 0;
}

void ha_change_state(struct ha *h, enum ha_state next, const char *why)
{
	const char *role = ha_state_role(next);

	if (next != h->state) {
		log_info("state %s -> %s (%s)", ha_state_name(h->state), ha_state_name(next), why);
		h->entered[next]++;
	}
	h->state = next;
	/* A failed write is retried on the next event or tick. */
	if (h->role_written != role)
		write_role(h, role, true);
	/* A pair announces from its master only. */
	ha_anycast_update(h);
}

static bool vip_is_local(const char *vip)
{
	struct ifaddrs *ifa, *i;
	struct in6_addr a6;
	struct in_addr a4;
	bool v6, found = false;

	v6 = inet_pton(AF_INET6, vip, &a6) == 1;
	if (!v6 && inet_pton(AF_INET, vip, &a4) != 1)
		return false;
	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		/* A VIP hidden on lo (LVS-DR style) is not held. */
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (!v6 && i->ifa_addr->sa_family == AF_INET)
			found = memcmp(&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, &a4,
			               sizeof(a4)) == 0;
		else if (v6 && i->ifa_addr->sa_family == AF_INET6)
			found = memcmp(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr,
			               &a6, sizeof(a6)) == 0;
	}
	freeifaddrs(ifa);
	return found;
}

/*
 * keepalived tells a FIFO about transitions only, so a twist-ha that starts
 * (or restarts) on a running node does not hear the current state. Its first
 * role: master if it holds the VIP (--vip), else what the role file already
 * says, else backup.
 */
int ha_role_init(struct ha *h)
{
	char buf[32];

	h->state = HA_INIT;
	if (h->cfg.vip) {
		bool local = vip_is_local(h->cfg.vip);

		log_info("VIP %s is %s here: starting as %s", h->cfg.vip, local ? "" : "not",
		         local ? "master" : "backup");
		return write_role(h, local ? "master" : "backup", false);
	}
	if (ha_file_read_small(h->cfg.role_path, buf, sizeof(buf)) == 0) {
		if (strcmp(buf, "master\n") == 0 || strcmp(buf, "master") == 0) {
			h->role_written = "master";
			log_info("role file says master: keeping it until keepalived speaks");
			return 0;
		}
		if (strcmp(buf, "backup\n") == 0 || strcmp(buf, "backup") == 0) {
			h->role_written = "backup";
			return 0;
		}
	}
	return write_role(h, "backup", false);
}

/*
 * A SIGKILLed keepalived writes nothing to the FIFO. Its VRRP process being
 * gone means this node no longer takes part in elections: stopped.
 */
void ha_vrrp_watch(struct ha *h)
{
	static uint64_t last_log;
	char why[96];
	pid_t pid;

	if (!h->cfg.vrrp_pid || h->state == HA_STOPPED || h->state == HA_INIT)
		return;
	if (ha_pidfile_read(h->cfg.vrrp_pid, &pid) < 0) {
		if (log_ratelimit(&last_log, clock_mono_ms(), 10000))
			log_debug("no readable keepalived pid file %s", h->cfg.vrrp_pid);
		return;
	}
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return;
	snprintf(why, sizeof(why), "keepalived VRRP process %ld is gone", (long)pid);
	ha_change_state(h, HA_STOPPED, why);
}
