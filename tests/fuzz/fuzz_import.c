/*
 * fuzz_import: the standby's import path without a worker. Bytes go through
 * flow_local_unpack() (size cap, byte budget, field checks), then every flow
 * through flowconv_key(), import_check() and flowconv_apply() into a scratch
 * allocation (no sockets: relay/standby.c binds those afterwards).
 *
 * Invariants, each an abort(): what import_check() accepts applies without
 * error, stays within ALLOC_MAX_*, this node's lifetimes and channel range,
 * and exports back (flowconv_export) to a flow that import_check() accepts
 * again unchanged. Nothing may leak.
 *
 * A TWIST flow (f->twist) goes instead into a scratch struct twist_flow
 * (twist_tuple_birth/state: no plane, no sockets). An accepted one has its
 * relayed address on twist.relay_ipv4/6 with the port in range, a cookie
 * naming that port (listen), a lifetime within max_lifetime, a peer of the
 * relayed family, and exports back (twist_flow_export) to a tuple that
 * import_check() accepts unchanged.
 *
 * Limits: relay addresses 192.0.2.1 and 2001:db8::1, the default port range
 * and lifetimes, peers allowed in 198.51.100.0/24 and 2001:db8:1::/48;
 * twist relayed 192.0.2.200 and 2001:db8::200, user "demo" only.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/chdata.h"
#include "relay/config.h"
#include "relay/flowconv.h"
#include "relay/import_check.h"
#include "relay/policy.h"
#include "relay/twist_flow.h"

#define NOW_MS 1000000000ull

static struct config cfg;
static struct import_limits lim;
static struct flow_out out;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool known(void *arg, const char *user)
{
	(void)arg;
	return strcmp(user, "demo") == 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tw_addr relay[2];
	struct policy *p;

	(void)argc;
	(void)argv;
	config_defaults(&cfg);
	if (tw_cidr_parse("198.51.100.0/24", &cfg.allow[0]) < 0 ||
	    tw_cidr_parse("2001:db8:1::/48", &cfg.allow[1]) < 0)
		abort();
	cfg.n_allow = 2;
	cfg.twist_enabled = true;
	if (tw_addr_parse_ip("192.0.2.200", &cfg.twist_relay4) < 0 ||
	    tw_addr_parse_ip("2001:db8::200", &cfg.twist_relay6) < 0)
		abort();
	if (!(p = policy_new(&cfg)) || tw_addr_parse_ip("192.0.2.1", &relay[0]) < 0 ||
	    tw_addr_parse_ip("2001:db8::1", &relay[1]) < 0)
		abort();
	import_limits_init(&lim, &cfg, p, relay); /* p lives as long as the process */
	lim.user_known = known;
	return 0;
}

static void check_applied(const struct allocation *a)
{
	if (a->n_perms > ALLOC_MAX_PERMS || a->n_chans > ALLOC_MAX_CHANS ||
	    a->expires > NOW_MS + (uint64_t)cfg.max_lifetime * 1000)
		abort();
	for (unsigned i = 0; i < a->n_perms; i++)
		if (a->perms[i].expires > NOW_MS + PERM_LIFETIME_MS)
			abort();
	for (unsigned i = 0; i < a->n_chans; i++)
		if (!chan_valid(a->chans[i].num) || a->chans[i].expires > NOW_MS + CHAN_LIFETIME_MS)
			abort();
}

/* Exported again, the allocation is still something import_check() takes as it is. */
static void check_reexport(const struct allocation *a)
{
	unsigned clamped;

	flowconv_export(a, NOW_MS, &out);
	if (import_check(&out.f, &lim, &clamped) != IMPORT_OK || clamped != 0)
		abort();
}

static void check_twist(const struct twist_flow *f, const struct twist_state *st)
{
	const struct tw_addr *ours =
	        f->relayed.family == TW_AF_INET6 ? &cfg.twist_relay6 : &cfg.twist_relay4;

	if (!tw_addr_ip_eq(&f->relayed, ours) || f->relayed.port < cfg.twist_port_min ||
	    f->relayed.port > cfg.twist_port_max)
		abort();
	if (st->expires > NOW_MS + (uint64_t)cfg.max_lifetime * 1000)
		abort();
	if (f->type == TWIST_TYPE_LISTEN && (f->cookie[0] << 8 | f->cookie[1]) != f->relayed.port)
		abort();
	if (f->type == TWIST_TYPE_CONNECT && !st->peer.family)
		abort();
	if ((st->peer.family && st->peer.family != f->relayed.family) ||
	    (f->want.family && f->want.family != f->relayed.family))
		abort();
}

static void import_twist(const Twist__Flow *t, const struct alloc_key *k)
{
	static struct twist_flow f;
	struct twist_state st;
	unsigned clamped;

	memset(&f, 0, sizeof(f));
	f.flow.key = *k;
	twist_tuple_birth(&f, t);
	twist_tuple_state(t, NOW_MS, &st);
	check_twist(&f, &st);
	f.expires = st.expires;
	f.peer = st.peer;
	f.latched = st.peer.family != 0;
	f.client_spoke = st.client_spoke;
	twist_flow_export(&f, NOW_MS, &out);
	if (import_check(&out.f, &lim, &clamped) != IMPORT_OK || clamped != 0)
		abort();
}

static void import_one(Twist__Flow *f)
{
	struct allocation a;
	struct alloc_key k;

	if (flowconv_key(f, &k) < 0 || import_check(f, &lim, NULL) != IMPORT_OK || f->deleted)
		return;
	if (f->twist)
		return import_twist(f, &k);
	memset(&a, 0, sizeof(a));
	a.flow.key = k;
	for (size_t i = 0; i < f->n_relayed; i++)
		if (flow_addr_get(&f->relayed[i], &a.rs[a.n_rs++].addr) < 0)
			abort(); /* import_check() let a bad address through */
	if (flowconv_apply(&a, f, NOW_MS) < 0)
		abort();
	check_applied(&a);
	check_reexport(&a);
	free(a.user);
	free(a.perms);
	free(a.chans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Twist__Local *l = flow_local_unpack(data, size);

	if (!l)
		return 0;
	for (size_t i = 0; i < l->n_flows; i++)
		import_one(l->flows[i]);
	twist__local__free_unpacked(l, flow_allocator());
	return 0;
}
