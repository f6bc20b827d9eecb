/*
 * Transport addresses as plain values, with no socket headers: the codec,
 * the peer policy and the config all share this type. relay/netaddr.c turns
 * it into a struct sockaddr where the kernel needs one.
 */
#ifndef TWIST_PROTO_ADDR_H
#define TWIST_PROTO_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Family codes are the STUN wire values (RFC 8489 §14.1). */
#define TW_AF_INET  0x01
#define TW_AF_INET6 0x02

struct tw_addr {
	uint8_t family; /* TW_AF_INET or TW_AF_INET6; 0 = unset */
	uint16_t port;  /* host order */
	uint8_t ip[16]; /* IPv4 uses the first 4 bytes, the rest is zero */
};

struct tw_cidr {
	struct tw_addr net;
	uint8_t prefix;
};

/* "[v6]:port", "v4:port" or bare addresses; longest output is below this. */
#define TW_ADDR_STRLEN 56

size_t tw_addr_iplen(const struct tw_addr *a);
bool tw_addr_eq(const struct tw_addr *a, const struct tw_addr *b);    /* ip and port */
bool tw_addr_ip_eq(const struct tw_addr *a, const struct tw_addr *b); /* ip only */
uint32_t tw_addr_hash(const struct tw_addr *a, uint32_t seed);

/* Parses a bare IP ("192.0.2.1", "2001:db8::1"); port is set to 0. */
int tw_addr_parse_ip(const char *s, struct tw_addr *out);
/* Parses "ip:port", "[ip6]:port"; a bare IP gets default_port. */
int tw_addr_parse(const char *s, uint16_t default_port, struct tw_addr *out);
/* "a.b.c.d/n" or "v6/n"; a bare address is a host route. Host bits must be 0. */
int tw_cidr_parse(const char *s, struct tw_cidr *out);
bool tw_cidr_match(const struct tw_cidr *c, const struct tw_addr *a);

/* Formats into buf (TW_ADDR_STRLEN); returns buf so it fits in a printf. */
const char *tw_addr_fmt(const struct tw_addr *a, char *buf, size_t len);
const char *tw_addr_fmt_ip(const struct tw_addr *a, char *buf, size_t len);

/*
 * A tw_addr and the kernel's socket address: to_sa fills ss (an address
 * that is not IPv6 is IPv4) and returns its length; from_sa reads an
 * AF_INET or AF_INET6 address, -EAFNOSUPPORT otherwise.
 */
socklen_t tw_addr_to_sa(const struct tw_addr *a, struct sockaddr_storage *ss);
int tw_addr_from_sa(const struct sockaddr *sa, struct tw_addr *a);

#endif
