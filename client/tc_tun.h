/*
 * The shim's TUN device (IFF_TUN, no packet information) and its addresses
 * and routes, set through rtnetlink (libmnl). The device is not
 * persistent: closing it removes it and, with it, its addresses and
 * routes; tc_tun_close() deletes the routes first all the same, so that
 * nothing routes into a device that is going away.
 */
#ifndef TWIST_CLIENT_TC_TUN_H
#define TWIST_CLIENT_TC_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

#define TC_MAX_ROUTES 64
/* The routing table of --listen's replies ("tw"): a default route into the TUN. */
#define TC_TUN_TABLE 0x7477

struct tc_tun {
	int fd;
	int ifindex;
	/* IFF_VNET_HDR: every read and write starts with a struct virtio_net_hdr. */
	bool vnet;
	/* TUNSETOFFLOAD took TSO: reads may be TCP super-packets to cut. */
	bool tso;
	char name[IFNAMSIZ];
	struct mnl_socket *nl;
	uint32_t seq;
	size_t nroutes;
	struct tw_cidr routes[TC_MAX_ROUTES];
	size_t nrules;
	struct tw_addr rules[2];
};

/* Creates the device: 0, -EPERM without CAP_NET_ADMIN, other -errno. */
int tc_tun_open(struct tc_tun *t, const char *name);
/* MTU, up, and the host addresses (family 0: none of that family). */
int tc_tun_setup(struct tc_tun *t, uint16_t mtu, const struct tw_addr *a4,
                 const struct tw_addr *a6);
/* A route for c into the device, with src as the preferred source. */
int tc_tun_route_add(struct tc_tun *t, const struct tw_cidr *c, const struct tw_addr *src);
/*
 * Everything sent from src goes into the device: a rule "from src lookup
 * TC_TUN_TABLE" and a default route there. A listen flow's local server
 * answers peers anywhere, which no --route covers.
 */
int tc_tun_source_route(struct tc_tun *t, const struct tw_addr *src);
void tc_tun_close(struct tc_tun *t);

#endif
