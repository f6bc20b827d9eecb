/*
 * UDP GSO and GRO on a connected socket (Linux 4.18 / 5.0): many datagrams
 * of one size in one sendmsg (UDP_SEGMENT), and a burst read back whole
 * (UDP_GRO). Used by twist-client and by the relay's TWIST flows.
 */
#ifndef TWIST_COMMON_UDP_GSO_H
#define TWIST_COMMON_UDP_GSO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for the one control message either needs. */
#define UDP_GSO_CTL_LEN CMSG_SPACE(sizeof(int))

/* len bytes as datagrams of seg bytes (the last may be shorter): 0 or -errno. */
int udp_send_gso(int fd, const uint8_t *p, size_t len, size_t seg);

/* The same, one send per datagram: the kernel or the route cannot do GSO. */
int udp_send_each(int fd, const uint8_t *p, size_t len, size_t seg);

/* The datagram size of a read with UDP_GRO on, or len if it carried one datagram. */
size_t udp_gro_seg(struct msghdr *mh, size_t len);

/* Turns UDP_GRO on; best effort (0 or -errno). */
int udp_gro_on(int fd);

#endif
