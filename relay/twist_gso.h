/*
 * The relay's TUN writes (docs/architecture.md, "TWIST data path"). The
 * device has IFF_VNET_HDR: every write starts with a struct
 * virtio_net_hdr. A worker gathers the back-to-back full-sized TCP
 * segments one client socket brought in one drain and writes them as one
 * TSO super-packet, which the kernel forwards whole over GSO-capable links
 * and cuts into the very same segments where it must.
 */
#ifndef TWIST_RELAY_TWIST_GSO_H
#define TWIST_RELAY_TWIST_GSO_H

#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct twist_gso;

struct twist_gso *twist_gso_new(void);
void twist_gso_free(struct twist_gso *g);

/*
 * seg (a bare segment of proto from src to dst, checked by the caller) to
 * the TUN fd: written now, or held for the next segments of the same
 * owner. Returns 0 or -errno of a write that failed (then what it held is
 * gone, counted by the caller).
 */
int twist_gso_put(struct twist_gso *g, int fd, const void *owner, const struct tw_addr *src,
                  const struct tw_addr *dst, uint8_t proto, const uint8_t *seg, size_t len);
/* Writes what is held: 0, or -errno. */
int twist_gso_flush(struct twist_gso *g, int fd);

#endif
