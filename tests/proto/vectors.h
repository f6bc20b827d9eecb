/*
 * Published STUN test vectors: RFC 5769 §2.1-§2.4 and RFC 8489 Appendix B.1,
 * shared by the proto unit tests and used to seed the fuzz corpus.
 */
#ifndef TWIST_TESTS_PROTO_VECTORS_H
#define TWIST_TESTS_PROTO_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/addr.h"

struct rfc_vector {
	const char *name;
	const uint8_t *msg;
	size_t len;
	uint16_t method;
	uint8_t cls;
	/* Credentials: alg 0 is a short-term key (the password itself). */
	uint16_t alg;
	const char *user;
	const char *realm;
	const char *pass;
	bool sha256; /* MESSAGE-INTEGRITY-SHA256 instead of MESSAGE-INTEGRITY */
	bool has_fp;
	const struct tw_addr *mapped; /* expected XOR-MAPPED-ADDRESS, or NULL */
};

extern const struct rfc_vector rfc_vectors[];
extern const size_t rfc_nvectors;

/* RFC 8489 Appendix B.1 as printed: its header length is 0x9c, 20 too many. */
extern const uint8_t rfc8489_b1_printed[];
extern const size_t rfc8489_b1_printed_len;

/* Username of RFC 5769 §2.4 and RFC 8489 B.1 (six katakana, in UTF-8). */
#define MATRIX_USER  "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9"
#define MATRIX_PASS  "TheMatrIX" /* "The\u00adM\u00aatr\u2168" after SASLprep/OpaqueString */
#define MATRIX_REALM "example.org"

#define RFC5769_SHORT_PASS "VOkJxbRl1RmTxUk/WvJxBt"

#endif
