/*
 * The relay core fed arbitrary message sequences on one client connection
 * (tests/relay/harness.h: a fake transport, real relay sockets on
 * 127.0.0.1). Structure-aware, so that the fuzzer gets past authentication:
 *
 *   input   = mode byte, then records
 *   mode    bit 0: a stream connection (TCP framing rules), else datagrams
 *           bit 1: the connection has an RFC 5780 alternate set
 *           bit 2: it is an alternate socket (Binding only)
 *   record  = kind (1 byte), length (2 bytes, big-endian), payload
 *   kind%4  0: the payload as a raw message (parser, demux, ChannelData)
 *           1: a request signed for user demo: method from the first two
 *              payload bytes, attributes from the rest as type/length/value
 *           2: the same unsigned, as a request
 *           3: the same unsigned, as an indication
 *
 * Every flow is freed after each input, so runs are independent.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/relay/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct harness h;

/* Type/length/value triples from p, as attributes; a short tail is ignored. */
static void add_attrs(struct treq *q, const uint8_t *p, size_t n)
{
	while (n >= 4) {
		uint16_t type = (uint16_t)(p[0] << 8 | p[1]);
		size_t len = (size_t)(p[2] << 8 | p[3]);

		p += 4;
		n -= 4;
		if (len > n)
			len = n;
		stun_wr_attr(&q->wr, type, p, len);
		p += len;
		n -= len;
	}
}

static void record(struct fake_conn *fc, uint8_t kind, const uint8_t *p, size_t n, uint8_t seq)
{
	struct treq q;
	uint16_t method;
	size_t len;

	if (kind % 4 == 0 || n < 2) {
		fake_input(&h, fc, p, n);
		return;
	}
	method = (uint16_t)((p[0] << 8 | p[1]) & 0xfff);
	treq_begin(&q, method, kind % 4 == 3 ? STUN_INDICATION : STUN_REQUEST, seq);
	add_attrs(&q, p + 2, n - 2);
	if (kind % 4 == 1)
		len = treq_sign(&h, &q, fc, "demo", "demo");
	else
		len = treq_end(&q);
	if (len)
		fake_input(&h, fc, q.buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct fake_conn fc;
	uint8_t seq = 0;

	if (!ready) {
		if (harness_init(&h, NULL) < 0)
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	fake_conn_init(&fc, &h, "198.51.100.7:5000", data[0] & 1);
	if (data[0] & 2)
		fake_conn_alt(&fc, "127.0.0.2:3479");
	fc.c.binding_only = data[0] & 4;
	data++;
	size--;
	while (size >= 3) {
		uint8_t kind = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		record(&fc, kind, data, len, seq++);
		data += len;
		size -= len;
	}
	harness_reset(&h);
	return 0;
}
