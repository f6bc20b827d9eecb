/* A client-side frame builder for the WebSocket tests (RFC 6455 §5.2, §5.3). */
#include <string.h>

#include "ws_util.h"

size_t ws_test_frame(uint8_t *out, uint8_t b0, const uint8_t *p, size_t len, const uint8_t *key,
                     int lenform)
{
	size_t n = 2;
	uint8_t mbit = key ? 0x80 : 0;

	if (!lenform)
		lenform = len < 126 ? 0 : len <= 0xffff ? 126 : 127;
	out[0] = b0;
	if (lenform == 126) {
		out[1] = mbit | 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else if (lenform == 127) {
		out[1] = mbit | 127;
		for (int s = 56; s >= 0; s -= 8)
			out[n++] = (uint8_t)((uint64_t)len >> s);
	} else {
		out[1] = (uint8_t)(mbit | len);
	}
	if (key) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	for (size_t i = 0; i < len; i++)
		out[n + i] = p[i] ^ (key ? key[i & 3] : 0);
	return n + len;
}
