/*
 * Allocations on an anycast address are pinned to this node's unicast
 * address (relay/anycast.h). Pure: the config and the addresses only.
 */
#include "relay/anycast.h"

bool anycast_is_service(const struct config *cfg, const struct tw_addr *local)
{
	for (unsigned i = 0; i < cfg->n_cluster_anycast; i++)
		if (tw_addr_ip_eq(&cfg->cluster_anycast[i], local))
			return true;
	return false;
}

bool anycast_pin(const struct config *cfg, const struct tw_addr *local, uint8_t fam,
                 struct tw_addr *to)
{
	const struct tw_addr *u;

	if (fam != TW_AF_INET && fam != TW_AF_INET6)
		return false;
	u = &cfg->cluster_unicast[fam == TW_AF_INET6];
	if (!u->family || !anycast_is_service(cfg, local))
		return false;
	*to = *u;
	return true;
}
