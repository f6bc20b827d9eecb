/* The M-ICE encapsulation port on a UDP listener (docs/mice.md §4). */
#ifndef TWIST_RELAY_MICE_PORT_H
#define TWIST_RELAY_MICE_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct worker;
struct listener;

/*
 * A datagram on l: false when it is for the STUN/TURN core (l is not the
 * mice port, or the demux took it as STUN), true when the home agent
 * handled it.
 */
bool mice_port_input(struct worker *w, const struct listener *l, const struct tw_addr *src,
                     const uint8_t *buf, size_t len);

#endif
