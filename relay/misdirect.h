/*
 * Bytes that are neither STUN nor ChannelData, but whose first bytes say
 * which client sent them to the wrong port: a TLS ClientHello on a plain
 * TCP port (a turns: URI aimed at a turn: port), a DTLS record on a UDP
 * port (RFC 7983 §7: first byte 20..63), or an HTTP request line (a
 * browser, a health checker or a WebSocket client). The relay drops them
 * as before; this names the likely misconfiguration for the log line and
 * the twist_misdirected_total counter. Pure: no I/O, no state.
 */
#ifndef TWIST_RELAY_MISDIRECT_H
#define TWIST_RELAY_MISDIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum misdirect_kind {
	MISDIRECT_NONE, /* nothing recognised: just not STUN */
	MISDIRECT_TLS,
	MISDIRECT_DTLS,
	MISDIRECT_HTTP,
};

#define MISDIRECT_N (MISDIRECT_HTTP + 1)

/*
 * What the first len bytes of a stream (stream true) or of a datagram
 * look like. A TLS record is looked for only on a stream and a DTLS record
 * only in a datagram; an HTTP request line on either.
 */
enum misdirect_kind misdirect_classify(const uint8_t *buf, size_t len, bool stream);

struct misdirect_desc {
	const char *name; /* "none", "tls", "dtls", "http": the counter's label */
	const char *what; /* what arrived, for the log line: "a TLS ClientHello" */
	const char *hint; /* the likely misconfiguration, phrased for the operator */
};

const struct misdirect_desc *misdirect_desc(enum misdirect_kind k);

#endif
