/* Process-wide state: what the workers share, built once at start-up. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "relay/auth.h"
#include "relay/connlimit.h"
#include "relay/fastpath.h"
#include "relay/guard.h"
#include "relay/policy.h"
#include "relay/ports.h"
#include "relay/ratelimit.h"
#include "relay/registry.h"
#include "common/log.h"
#include "relay/tls.h"
#include "relay/trt.h"
#include "relay/twist_flow.h"
#include "relay/mice_ha.h"
#include "relay/stcred.h"
#include "relay/worker.h"

#define RL_SLOTS (1u << 16) /* 512 KiB of buckets, one table for all workers */

static void pick_relay_addrs(struct relay *r)
{
	for (unsigned i = 0; i < r->cfg.n_relay; i++) {
		const struct tw_addr *a = &r->cfg.relay[i];
		struct tw_addr *slot = &r->relay_addr[a->family == TW_AF_INET6];

		if (!slot->family)
			*slot = *a;
	}
}

static unsigned worker_count(const struct config *cfg)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (cfg->workers)
		return cfg->workers;
	return n > 0 ? (unsigned)n : 1;
}

/* registry_quota_fn: a user's own quota from the user database. */
static void user_quota(void *arg, const char *user, unsigned *quota)
{
	uint32_t q = *quota;
	uint64_t bw = 0;

	auth_user_limits(arg, user, &q, &bw);
	*quota = q;
}

static bool any_tls(const struct config *cfg)
{
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (cfg_listen_tls(&cfg->listen[i]))
			return true;
	return false;
}

/* Before the workers: their tls listeners take the context at accept. */
static int tls_start(struct relay *r)
{
	char err[512];

	if (!any_tls(&r->cfg))
		return 0;
	r->tls = tls_server_new(&r->cfg, err, sizeof(err));
	if (!r->tls) {
		log_err("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* mice.enabled: the home agent, before the workers open its port. */
static int mice_start(struct relay *r)
{
	if (!r->cfg.mice_enabled)
		return 0;
	/* One short-term credential per key: a binding is per home address. */
	if (!(r->stcred = stcred_new(r->cfg.n_mice_keys)))
		return -ENOMEM;
	if (!(r->mice = mice_ha_new(&r->cfg, r->seed, r->stcred)))
		return -ENOMEM;
	log_info("mice: home agent on udp port %u, %u keys, option type %u", r->cfg.mice_port,
	         r->cfg.n_mice_keys, r->cfg.mice_option_type);
	return 0;
}

/* twist.enabled: the TUN, its routes, read on worker 0 (relay/twist_flow.h). */
static int twist_start(struct relay *r)
{
	char err[512];

	if (!r->cfg.twist_enabled)
		return 0;
	r->twist = twist_plane_new(&r->cfg, err, sizeof(err));
	if (!r->twist) {
		log_err("%s", err);
		return -EINVAL;
	}
	if (twist_plane_watch(r->twist, r->workers[0]) < 0)
		return -ENOMEM;
	log_info("twist: TWIST flows on %s, relayed ports %u-%u", r->cfg.twist_tun,
	         r->cfg.twist_port_min, r->cfg.twist_port_max);
	return 0;
}

/* trt.enabled: capture, listeners and the SYN queue on worker 0 (relay/trt.h). */
static int trt_start(struct relay *r)
{
	char err[512];

	if (!r->cfg.trt_enabled)
		return 0;
	r->trt = trt_new(r, err, sizeof(err));
	if (!r->trt) {
		log_err("%s", err);
		return -EINVAL;
	}
	log_info("trt: translating on [::]:%u, %u allow and %u deny rules", r->cfg.trt_port,
	         r->cfg.n_trt_allow, r->cfg.n_trt_deny);
	return 0;
}

/* fastpath.enabled: the TC programs, or one line saying why not. */
static int fastpath_start(struct relay *r)
{
	const struct config *cfg = &r->cfg;
	char why[512];
	int rc;

	if (cfg->fastpath == CFG_FP_OFF) {
		log_info("fastpath: off (fastpath.enabled): ChannelData takes the user-space path");
		return 0;
	}
	rc = fastpath_open(cfg->fastpath_ifs, cfg->n_fastpath_ifs, &r->fp, why, sizeof(why));
	if (rc == 0) {
		log_info("fastpath: TC programs attached at ingress of %u interface(s), first %s",
		         cfg->n_fastpath_ifs, cfg->fastpath_ifs[0]);
		return 0;
	}
	if (cfg->fastpath == CFG_FP_ON) {
		log_err("fastpath: %s (fastpath.enabled is on)", why);
		return rc;
	}
	log_warn("fastpath: %s: ChannelData takes the user-space path", why);
	return 0;
}

int relay_init(struct relay *r)
{
	struct guard_params gp = GUARD_PARAMS_DEFAULT;
	struct config *cfg = &r->cfg;

	if (getrandom(&r->seed, sizeof(r->seed), 0) != sizeof(r->seed))
		r->seed = (uint32_t)getpid() ^ (uint32_t)relay_now_ms();
	pick_relay_addrs(r);
	r->auth = auth_new(cfg);
	r->policy = policy_new(cfg);
	r->reg = registry_new(cfg->max_allocations, cfg->user_quota, r->seed);
	r->ports = ports_new(cfg->port_min, cfg->port_max, r->reg);
	r->rl = ratelimit_new(RL_SLOTS, cfg->unauth_rate, cfg->unauth_burst, r->seed);
	if (getrandom(gp.key, sizeof(gp.key), 0) != sizeof(gp.key))
		return -EIO;
	if (cfg->backoff_after) {
		gp.src_free = cfg->backoff_after;
		gp.base_ms = cfg->backoff_base_ms;
		gp.cap_ms = cfg->backoff_max_ms;
		if (gp.forget_ms < 2 * gp.cap_ms)
			gp.forget_ms = 2 * gp.cap_ms;
	}
	r->guard = guard_new(&gp);
	r->conns = connlimit_new(&(struct connlimit_caps){cfg->tcp_connections, cfg->tcp_per_source,
	                                                  cfg->tcp_unauth_per_source},
	                         r->seed);
	if (!r->auth || !r->policy || !r->ports || !r->reg || !r->rl || !r->guard || !r->conns)
		return -ENOMEM;
	registry_set_quota_fn(r->reg, user_quota, r->auth);
	if (tls_start(r) < 0 || fastpath_start(r) < 0)
		return -EINVAL;
	if (mice_start(r) < 0)
		return -ENOMEM;
	r->n_workers = worker_count(cfg);
	r->workers = calloc(r->n_workers, sizeof(*r->workers));
	if (!r->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < r->n_workers; i++) {
		r->workers[i] = worker_new(r, i);
		if (!r->workers[i])
			return -EADDRNOTAVAIL;
	}
	if (twist_start(r) < 0)
		return -EINVAL;
	return trt_start(r);
}

void relay_fini(struct relay *r)
{
	/* Worker 0 stops reading the TUN before it goes; flows unlink as they close. */
	twist_plane_unwatch(r->twist);
	/* Likewise the translator's listeners; its pairs and mappings are worker 0's flows. */
	trt_unwatch(r->trt);
	for (unsigned i = 0; r->workers && i < r->n_workers; i++)
		worker_free(r->workers[i]);
	free(r->workers);
	fastpath_close(r->fp); /* after the workers: their flows delete entries */
	r->fp = NULL;
	ports_free(r->ports);
	registry_free(r->reg);
	ratelimit_free(r->rl);
	guard_free(r->guard);
	connlimit_free(r->conns);
	tls_server_free(r->tls);
	twist_plane_free(r->twist);
	r->twist = NULL;
	mice_ha_free(r->mice);
	r->mice = NULL;
	stcred_free(r->stcred);
	r->stcred = NULL;
	trt_free(r->trt); /* removes the nft table and the route */
	r->trt = NULL;
	policy_free(r->policy);
	auth_free(r->auth);
	config_clear(&r->cfg);
}
