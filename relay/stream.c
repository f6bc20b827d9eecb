#include <errno.h>
#include <event2/buffer.h>

#include "proto/demux.h"
#include "relay/conn.h"
#include "relay/relay.h"
#include "relay/stream.h"
#include "relay/turn.h"

void stream_init(struct stream *s, uint64_t now_ms)
{
	s->opened_ms = now_ms;
	s->frame_since_ms = 0;
	s->had_frame = false;
}

/*
 * A refused frame's first bytes may name the client that should not be
 * here: a TLS ClientHello, or an HTTP request line, which the framing reads
 * as an overlong ChannelData header.
 */
static void misdirected(struct conn *c, struct evbuffer *in)
{
	uint8_t head[32];
	ev_ssize_t n = evbuffer_copyout(in, head, sizeof(head));

	if (n > 0)
		turn_misdirected(c->w, c, head, (size_t)n);
}

int stream_input(struct stream *s, struct conn *c, struct evbuffer *in)
{
	uint8_t head[4];
	long flen;
	size_t have;

	for (;;) {
		have = evbuffer_get_length(in);
		if (have < sizeof(head))
			break;
		evbuffer_copyout(in, head, sizeof(head));
		flen = demux_frame_len(head, sizeof(head));
		if (flen < 0 || flen > STREAM_MAX_FRAME) {
			misdirected(c, in);
			worker_drop(c->w, DROP_NOT_STUN, &c->client);
			return -CLOSE_BAD_FRAME;
		}
		/* Judged on the announced length, before its bytes are held. */
		if (!c->authed && flen > STREAM_MAX_FRAME_UNAUTH) {
			misdirected(c, in);
			worker_drop(c->w, DROP_OVERSIZE, &c->client);
			return -CLOSE_FRAME_UNAUTH;
		}
		if (have < (size_t)flen)
			break;
		turn_client_input(c->w, c, evbuffer_pullup(in, flen), (size_t)flen);
		if (c->tcpr_owner)
			return 0; /* the owner of its id reads this frame again */
		evbuffer_drain(in, (size_t)flen);
		s->had_frame = true;
		s->frame_since_ms = 0;
		if (c->tcpr_bind)
			return 0; /* what follows is the peer's, not frames */
	}
	if (have == 0)
		s->frame_since_ms = 0;
	else if (s->frame_since_ms == 0)
		s->frame_since_ms = c->w->now_ms;
	return 0;
}

/* The earlier of the running deadline and `at`, with its reason. */
static void earlier(uint64_t *best, enum conn_close *why, uint64_t at, enum conn_close reason)
{
	if (*best == 0 || at < *best) {
		*best = at;
		*why = reason;
	}
}

uint64_t stream_deadline(const struct stream *s, const struct conn *c, enum conn_close *why)
{
	const struct config *cfg = &c->w->r->cfg;
	uint64_t at = 0;

	if (s->frame_since_ms)
		earlier(&at, why, s->frame_since_ms + cfg->tcp_frame_deadline_ms,
		        CLOSE_FRAME_DEADLINE);
	if (!s->had_frame)
		earlier(&at, why, s->opened_ms + cfg->tcp_request_deadline_ms,
		        CLOSE_REQUEST_DEADLINE);
	if (!c->authed)
		earlier(&at, why, s->opened_ms + cfg->tcp_auth_deadline_ms, CLOSE_AUTH_DEADLINE);
	return at;
}
