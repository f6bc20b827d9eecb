/*
 * The relay's TUN device for TWIST (docs/twist-protocol.md §7): created at
 * start, up, with host routes for the relayed addresses into it. No shell:
 * ioctl for the device, rtnetlink for the routes. The routes go with the
 * device when its descriptor is closed.
 */
#ifndef TWIST_RELAY_TWIST_TUN_H
#define TWIST_RELAY_TWIST_TUN_H

#include <stddef.h>

#include "proto/addr.h"

/*
 * Checks that forwarding is on for each family served (a4/a6 family 0 =
 * not served), creates name, brings it up and routes a4/a6 into it.
 * Returns a non-blocking descriptor, or -errno with why in err.
 */
int twist_tun_open(const char *name, const struct tw_addr *a4, const struct tw_addr *a6, char *err,
                   size_t errlen);

#endif
