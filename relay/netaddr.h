/* proto/addr.h values <-> kernel socket addresses. */
#ifndef TWIST_RELAY_NETADDR_H
#define TWIST_RELAY_NETADDR_H

#include <sys/socket.h>

#include "proto/addr.h"

socklen_t netaddr_to_sa(const struct tw_addr *a, struct sockaddr_storage *ss);
int netaddr_from_sa(const struct sockaddr *sa, struct tw_addr *a);
int netaddr_family(const struct tw_addr *a); /* AF_INET or AF_INET6 */

#endif
