#include <errno.h>
#include <event2/buffer.h>

#include "proto/demux.h"
#include "relay/conn.h"
#include "relay/relay.h"
#include "relay/stream.h"
#include "relay/turn.h"

int stream_input(struct conn *c, struct evbuffer *in)
{
	uint8_t head[4];
	long flen;

	for (;;) {
		size_t have = evbuffer_get_length(in);

		if (have < sizeof(head))
			return 0;
		evbuffer_copyout(in, head, sizeof(head));
		flen = demux_frame_len(head, sizeof(head));
		if (flen < 0 || flen > STREAM_MAX_FRAME) {
			worker_drop(c->w, DROP_NOT_STUN, &c->client);
			return -EPROTO;
		}
		if (have < (size_t)flen)
			return 0;
		turn_client_input(c->w, c, evbuffer_pullup(in, flen), (size_t)flen);
		evbuffer_drain(in, (size_t)flen);
	}
}
