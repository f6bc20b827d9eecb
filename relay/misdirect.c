#include <string.h>

#include "proto/cursor.h"
#include "proto/demux.h"
#include "relay/misdirect.h"

#define TLS_HANDSHAKE 22 /* ContentType handshake, RFC 8446 §5.1 */

/*
 * RFC 8446 §5.1: a TLS record starts with its content type and
 * legacy_record_version 0x03 0x0X; a ClientHello is a handshake record
 * (0x16), and its record version is 0x0301..0x0303 in practice (0x0300
 * for SSLv3 clients).
 */
static bool is_tls_client_hello(struct cur *c)
{
	uint8_t type, major, minor;

	if (cur_get_u8(c, &type) < 0 || cur_get_u8(c, &major) < 0 || cur_get_u8(c, &minor) < 0)
		return false;
	return type == TLS_HANDSHAKE && major == 3 && minor <= 4;
}

/*
 * RFC 7983 §7 gives first bytes 20..63 to DTLS. A DTLSPlaintext record
 * (RFC 6347 §4.1, RFC 9147 §4) carries version 0xfeXX after it (0xfeff
 * DTLS 1.0, 0xfefd DTLS 1.2 and the 1.3 ClientHello): checking that byte
 * as well keeps a random datagram in that range from being named DTLS.
 */
static bool is_dtls_record(struct cur *c)
{
	uint8_t type, major;

	if (cur_get_u8(c, &type) < 0 || cur_get_u8(c, &major) < 0)
		return false;
	return demux_first_byte(type) == DEMUX_DTLS && major == 0xfe;
}

/* RFC 9110 §9 methods, CONNECT for proxies, and the HTTP/2 preface (RFC 9113 §3.4). */
static bool is_http_request(const uint8_t *buf, size_t len)
{
	static const char *const methods[] = {
	        "GET ",     "HEAD ",    "POST ",  "PUT ",   "DELETE ",
	        "CONNECT ", "OPTIONS ", "TRACE ", "PATCH ", "PRI * HTTP/2",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t n = strlen(methods[i]);

		if (len >= n && memcmp(buf, methods[i], n) == 0)
			return true;
	}
	return false;
}

enum misdirect_kind misdirect_classify(const uint8_t *buf, size_t len, bool stream)
{
	struct cur c;

	if (!buf || len == 0)
		return MISDIRECT_NONE;
	cur_init(&c, buf, len);
	if (stream && is_tls_client_hello(&c))
		return MISDIRECT_TLS;
	cur_init(&c, buf, len);
	if (!stream && is_dtls_record(&c))
		return MISDIRECT_DTLS;
	if (is_http_request(buf, len))
		return MISDIRECT_HTTP;
	return MISDIRECT_NONE;
}

const struct misdirect_desc *misdirect_desc(enum misdirect_kind k)
{
	static const struct misdirect_desc none = {"none", "bytes that are not STUN",
	                                           "not a TURN client?"};
	static const struct misdirect_desc tls = {
	        "tls", "a TLS ClientHello", "a turns: (TLS) client aimed at a plain TURN port?"};
	static const struct misdirect_desc dtls = {
	        "dtls", "a DTLS record",
	        "a DTLS client (turns: over UDP) aimed at a plain TURN port?"};
	static const struct misdirect_desc http = {
	        "http", "an HTTP request",
	        "a browser, an HTTP health check or a WebSocket (ws:/wss:) client aimed at a "
	        "TURN port?"};

	switch (k) {
	case MISDIRECT_NONE:
		break;
	case MISDIRECT_TLS:
		return &tls;
	case MISDIRECT_DTLS:
		return &dtls;
	case MISDIRECT_HTTP:
		return &http;
	}
	return &none;
}
