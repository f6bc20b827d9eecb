/*
 * twist-client's settings: from the command line and, with --config, a
 * YAML file of the same keys (tc_conf_yaml.c). Plain structs: nothing at
 * run time sees YAML or argv.
 */
#ifndef TWIST_CLIENT_TC_CONF_H
#define TWIST_CLIENT_TC_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "client/tc_pkt.h"
#include "client/tc_srv.h"
#include "client/tc_tun.h"
#include "common/log.h"

#define TC_MAX_LISTEN 16
#define TC_STR_MAX    256

struct tc_listen {
	uint8_t proto; /* STUN_PROTO_TCP or _UDP */
	uint16_t port;
};

struct tc_conf {
	/* HOST[:PORT] as given, in the order tried (draft §12) */
	char servers[TC_MAX_SERVERS][TC_STR_MAX];
	size_t nservers;
	char user[TC_STR_MAX];
	char password[TC_STR_MAX];
	char tun[IFNAMSIZ];
	struct tw_addr tun_addr4, tun_addr6;
	uint16_t mtu;
	size_t nroutes;
	struct tw_cidr routes[TC_MAX_ROUTES];
	size_t nlisten;
	struct tc_listen listen[TC_MAX_LISTEN];
	struct tc_xlate xlate;
	uint8_t keepalive;    /* TWIST_KA_* asked for */
	unsigned udp_idle_s;  /* a UDP flow without packets either way ends */
	unsigned tcp_idle_s;  /* a TCP flow that saw no FIN or RST ends */
	unsigned tcp_grace_s; /* after FIN both ways or RST */
	size_t max_flows;
	enum log_level log_level;
};

void tc_conf_defaults(struct tc_conf *c);
/*
 * One setting by its key (the long option's name, which is also the YAML
 * key). Lists (server, route, listen, map) append. Returns 0 or -EINVAL with a
 * message in err.
 */
int tc_conf_set(struct tc_conf *c, const char *key, const char *val, char *err, size_t errlen);
/* Cross-checks once everything is read: 0 or -EINVAL with a message. */
int tc_conf_check(const struct tc_conf *c, char *err, size_t errlen);
/* Loads a YAML file: 0 or -EINVAL with "file:line:col: ..." in err. */
int tc_conf_yaml(struct tc_conf *c, const char *path, char *err, size_t errlen);

#endif
