/*
 * TUN writes of TCP segments, gathered (docs/architecture.md, "TWIST data
 * path"). The device has IFF_VNET_HDR: every write starts with a struct
 * virtio_net_hdr. The back-to-back full-sized segments of one connection
 * that one read burst brought are written as one TSO super-packet, which
 * the kernel forwards whole over GSO-capable links and cuts into the very
 * same segments where it must. The relay gathers what a client sends
 * (relay/twist_plane.c), twist-client what the relay sends (client/tc_io.c).
 */
#ifndef TWIST_PROTO_TSO_GATHER_H
#define TWIST_PROTO_TSO_GATHER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct tso_gather;

struct tso_gather *tso_gather_new(void);
void tso_gather_free(struct tso_gather *g);

/*
 * seg (a bare segment of proto from src to dst, checked by the caller) to
 * the TUN fd: written now, or held for the next segments of the same
 * owner. Returns 0 or -errno of a write that failed (then what it held is
 * gone, counted by the caller).
 */
int tso_gather_put(struct tso_gather *g, int fd, const void *owner, const struct tw_addr *src,
                   const struct tw_addr *dst, uint8_t proto, const uint8_t *seg, size_t len);
/* Writes what is held: 0, or -errno. */
int tso_gather_flush(struct tso_gather *g, int fd);

#endif
