/*
 * STUN/TURN request handling (RFC 8489, RFC 8656) and the relaying of data
 * in both directions. Transport-neutral: a transport (relay/conn.h) hands
 * in each message with the connection it came on.
 */
#ifndef TWIST_RELAY_TURN_H
#define TWIST_RELAY_TURN_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

struct conn;
struct dp_handle;
struct worker;

/* One datagram or one stream frame from a client; buf has RX_HEADROOM before it. */
void turn_client_input(struct worker *w, struct conn *c, uint8_t *buf, size_t len);
/*
 * Bytes about to be dropped as not STUN: when they look like TLS, DTLS or
 * HTTP (relay/misdirect.h), count them and log, rate-limited, the likely
 * misconfiguration. Returns whether they did.
 */
bool turn_misdirected(struct worker *w, const struct conn *c, const uint8_t *buf, size_t len);
/* A TURN allocation's relay socket is readable (its dp_handle callback). */
bool turn_relay_readable(struct worker *w, struct dp_handle *h);

#endif
