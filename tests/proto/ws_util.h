/* Helpers shared by the WebSocket tests and fuzz targets: a client-side frame builder. */
#ifndef TWIST_TESTS_PROTO_WS_UTIL_H
#define TWIST_TESTS_PROTO_WS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes a client frame: first byte b0 (FIN, RSV, opcode), masked with key
 * (NULL: unmasked), the length in the form lenform asks (0: minimal, 126 or
 * 127 to force a form, even a non-minimal one). Returns its length; out
 * must hold 14 + len bytes.
 */
size_t ws_test_frame(uint8_t *out, uint8_t b0, const uint8_t *p, size_t len, const uint8_t *key,
                     int lenform);

#endif
