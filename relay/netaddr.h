/* proto/addr.h values <-> kernel socket addresses. */
#ifndef TWIST_RELAY_NETADDR_H
#define TWIST_RELAY_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#include "proto/addr.h"

int netaddr_family(const struct tw_addr *a); /* AF_INET or AF_INET6 */

/*
 * Lets a socket bind, and with transparent also connect and send from, an
 * address this host does not hold yet: a standby's sockets on the VIP
 * (DESIGN decision 2). IP_TRANSPARENT needs CAP_NET_ADMIN; without it a
 * standby cannot prepare its connected sockets, so the failure is counted
 * by the caller's connect(), not here. Best effort: a single node needs
 * neither.
 */
int netaddr_nonlocal(int fd, const struct tw_addr *a, bool transparent);

/* A non-blocking socket of type for a's family, IPV6_V6ONLY on IPv6; -errno. */
int netaddr_socket(const struct tw_addr *a, int type);
/*
 * Binds fd to a, also an address this node does not hold yet (DESIGN
 * decision 2; with transparent, connect() from it works too). Returns fd,
 * or -errno having closed fd.
 */
int netaddr_bind(int fd, const struct tw_addr *a, bool transparent);
/* Closes fd after a failed set-up step: -errno of that step. */
int netaddr_close_err(int fd);

#endif
