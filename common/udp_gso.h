/*
 * UDP GSO and GRO on a connected socket (Linux 4.18 / 5.0): many datagrams
 * of one size in one sendmsg (UDP_SEGMENT), and a burst read back whole
 * (UDP_GRO). Used by twist-client and by the relay's TWIST flows.
 */
#ifndef TWIST_COMMON_UDP_GSO_H
#define TWIST_COMMON_UDP_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * len bytes as datagrams of seg bytes (the last may be shorter), in one
 * UDP GSO sendmsg, or one send each where the kernel or the route cannot
 * do GSO; *no_gso remembers a refusal that will not change (EIO: no
 * checksum offload on the way out; EOPNOTSUPP). 0 or -errno.
 */
int udp_send_segs(int fd, const uint8_t *p, size_t len, size_t seg, bool *no_gso);

/*
 * One read with UDP_GRO on: up to cap bytes into buf, the sender into
 * *from (may be NULL), the datagram size of a coalesced burst into *seg
 * (the whole length for one datagram). Bytes read, -EMSGSIZE for a
 * truncated read (*from set), or -errno.
 */
ssize_t udp_recv_gro(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from, size_t *seg);

/* Turns UDP_GRO on; best effort (0 or -errno). */
int udp_gro_on(int fd);

#endif
