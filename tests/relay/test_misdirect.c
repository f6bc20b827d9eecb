/*
 * relay/misdirect.c: what a client that is not speaking STUN to a TURN
 * port speaks. First bytes as real clients send them (openssl s_client,
 * curl, browsers), as a table; and near misses that must stay unnamed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/misdirect.h"

struct vec {
	const char *name;
	const char *bytes;
	size_t len;
	bool stream;
	enum misdirect_kind want;
};

#define V(name, lit, stream, want)                       \
	{                                                \
		name, lit, sizeof(lit) - 1, stream, want \
	}

static const struct vec vecs[] = {
        /* TLS 1.2/1.3 ClientHello record: handshake, 0x0301, length, type 1. */
        V("tls client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", true, MISDIRECT_TLS),
        V("tls record 1.0 version", "\x16\x03\x00\x00\x40", true, MISDIRECT_TLS),
        V("tls 3 bytes", "\x16\x03\x03", true, MISDIRECT_TLS),
        V("tls 2 bytes", "\x16\x03", true, MISDIRECT_NONE),
        V("tls minor 5", "\x16\x03\x05\x00\x40", true, MISDIRECT_NONE),
        V("tls alert is not a hello", "\x15\x03\x03\x00\x02", true, MISDIRECT_NONE),
        V("tls in a datagram", "\x16\x03\x01\x02\x00\x01", false, MISDIRECT_NONE),
        /* DTLS 1.2 ClientHello: handshake, 0xfefd, epoch 0. */
        V("dtls 1.2 hello", "\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\xb0", false,
          MISDIRECT_DTLS),
        V("dtls 1.0 hello", "\x16\xfe\xff\x00\x00", false, MISDIRECT_DTLS),
        V("dtls first byte 20", "\x14\xfe\xfd", false, MISDIRECT_DTLS),
        V("dtls first byte 63", "\x3f\xfe\xfd", false, MISDIRECT_DTLS),
        V("byte 64 is channeldata", "\x40\xfe\xfd", false, MISDIRECT_NONE),
        V("byte 19 is zrtp", "\x13\xfe\xfd", false, MISDIRECT_NONE),
        V("dtls range, no version", "\x16\x03\x03", false, MISDIRECT_NONE),
        V("dtls one byte", "\x16", false, MISDIRECT_NONE),
        V("dtls on a stream", "\x16\xfe\xfd\x00\x00", true, MISDIRECT_NONE),
        /* HTTP request lines, on either transport. */
        V("curl get", "GET / HTTP/1.1\r\nHost: 127.0.0.1:3478\r\n", true, MISDIRECT_HTTP),
        V("websocket upgrade", "GET /turn HTTP/1.1\r\nUpgrade: websocket\r\n", true,
          MISDIRECT_HTTP),
        V("post", "POST /api HTTP/1.1\r\n", true, MISDIRECT_HTTP),
        V("connect", "CONNECT turn.example.net:443 HTTP/1.1\r\n", true, MISDIRECT_HTTP),
        V("options", "OPTIONS * HTTP/1.1\r\n", true, MISDIRECT_HTTP),
        V("head", "HEAD / HTTP/1.0\r\n", false, MISDIRECT_HTTP),
        V("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", true, MISDIRECT_HTTP),
        V("get exactly", "GET ", true, MISDIRECT_HTTP),
        V("get cut", "GET", true, MISDIRECT_NONE),
        V("lower case", "get / HTTP/1.1\r\n", true, MISDIRECT_NONE),
        V("no space", "GETTING", true, MISDIRECT_NONE),
        V("pri without http/2", "PRI * SMTP", true, MISDIRECT_NONE),
        /* What the relay does serve, and garbage. */
        V("stun binding", "\x00\x01\x00\x00\x21\x12\xa4\x42", true, MISDIRECT_NONE),
        V("channeldata",
          "\x40\x00\x00\x04"
          "abcd",
          false, MISDIRECT_NONE),
        V("ff", "\xff\xff\xff\xff", true, MISDIRECT_NONE),
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		enum misdirect_kind got =
		        misdirect_classify((const uint8_t *)v->bytes, v->len, v->stream);

		if (got != v->want)
			fail_msg("%s: got %s, want %s", v->name, misdirect_desc(got)->name,
			         misdirect_desc(v->want)->name);
	}
}

/* Every prefix of every vector, each in a heap block of its exact size: ASan sees any over-read. */
static void test_prefixes(void **state)
{
	(void)state;
	assert_int_equal(misdirect_classify(NULL, 0, true), MISDIRECT_NONE);
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		for (size_t n = 1; n <= vecs[i].len; n++) {
			uint8_t *exact = malloc(n);

			assert_non_null(exact);
			memcpy(exact, vecs[i].bytes, n);
			(void)misdirect_classify(exact, n, vecs[i].stream);
			free(exact);
		}
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(misdirect_desc(MISDIRECT_TLS)->name, "tls");
	assert_string_equal(misdirect_desc(MISDIRECT_DTLS)->name, "dtls");
	assert_string_equal(misdirect_desc(MISDIRECT_HTTP)->name, "http");
	assert_non_null(strstr(misdirect_desc(MISDIRECT_TLS)->hint, "turns:"));
	assert_non_null(strstr(misdirect_desc(MISDIRECT_TLS)->hint, "plain TURN port"));
	assert_non_null(strstr(misdirect_desc(MISDIRECT_HTTP)->hint, "WebSocket"));
	assert_non_null(strstr(misdirect_desc(MISDIRECT_DTLS)->what, "DTLS"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_prefixes),
	        cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
