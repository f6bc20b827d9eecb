/*
 * fuzz_sync: the sync message decoder and the session machine behind it
 * (syncd/wire.c, rx.c, tx.c, session.c, table.c, proto/flow.c).
 *
 * A node (id 2) is brought up with its peer (id 1, fixed epochs) by a real
 * HELLO, so that forged messages reach the data path. The input is then fed
 * twice: whole, as one peer message (the decoder alone), and as records
 *   [kind][len lo][len hi][len bytes]
 * kind % 4: 0 = peer message, 1 = relay message, 2 = time passes (len ms,
 * no bytes follow), 3 = the role flips (no bytes follow). Timers run after
 * each record. The table must stay consistent and
 * nothing may leak; libFuzzer finds the rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "syncd/session.h"
#include "syncd/wire.h"

#define EPOCH_PEER 0x1111000000000001ull
#define EPOCH_US   0x2222000000000001ull

static int op_send(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

static void op_flow(void *arg, const Twist__Flow *f)
{
	(void)arg;
	if (!flow_valid(f))
		abort(); /* the relay must only ever see valid flows */
}

static void op_tokens(void *arg, const uint64_t *t, size_t n)
{
	(void)arg;
	(void)t;
	(void)n;
}

static void op_void(void *arg)
{
	(void)arg;
}

static void op_synced(void *arg, bool synced)
{
	(void)arg;
	(void)synced;
}

static void hello(struct session *s, uint64_t now)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Hello h = TWIST__HELLO__INIT;
	uint8_t buf[64];

	h.version = SYNC_VERSION;
	h.master = 1;
	h.peer_epoch = EPOCH_US;
	m.node_id = 1;
	m.epoch = EPOCH_PEER;
	m.body_case = TWIST__SYNC__BODY_HELLO;
	m.hello = &h;
	session_peer_input(s, buf, twist__sync__pack(&m, buf), now);
}

/* Invariants that no input may break. */
static void check(const struct session *s)
{
	const struct table *t = s->table;
	size_t n = 0, live = 0, queued = 0;
	struct tentry *e;

	TAILQ_FOREACH(e, &t->all, all)
	{
		n++;
		live += !(e->flags & TE_TOMB);
		if (!(e->flags & TE_TOMB) && !flow_valid(e->flow))
			abort();
	}
	TAILQ_FOREACH(e, &t->queue, q)
	queued++;
	if (n != t->n || live != t->live || queued != t->queued)
		abort();
	if (s->tx.base > s->tx.next || s->tx.next - s->tx.base > SESSION_WINDOW)
		abort();
	if (s->rx.held > SESSION_FAR || s->rx.held_bytes > s->cfg.rx_bytes)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct session_ops ops = {
	        .peer_send = op_send,
	        .relay_flow = op_flow,
	        .relay_tokens = op_tokens,
	        .relay_dump_end = op_void,
	        .relay_synced = op_synced,
	};
	struct session_cfg cfg;
	struct sync_stats *st = calloc(1, sizeof(*st));
	struct table *t = table_new(7);
	struct session *s;
	uint64_t now = 1000000;
	size_t off = 0;

	log_set_level(LOG_LVL_OFF);
	session_cfg_defaults(&cfg);
	cfg.node_id = 2;
	cfg.peer_id = 1;
	cfg.epoch = EPOCH_US;
	cfg.rx_bytes = 1 << 20;
	if (!st || !t || !(s = session_new(&cfg, t, st, &ops, now)))
		abort();
	s->loaded = true;
	hello(s, now);
	session_peer_input(s, data, size, now);
	check(s);
	while (size - off >= 3) {
		uint8_t kind = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		enum drop_reason why;
		Twist__Local *l;

		off += 3;
		if (len > size - off)
			len = size - off;
		switch (kind % 4) {
		case 0:
			session_peer_input(s, data + off, len, now);
			break;
		case 1:
			if ((l = wire_local_decode(data + off, len, &why)))
				session_local_input(s, l, now);
			break;
		case 2:
			now += (uint64_t)len * 1000;
			len = 0;
			break;
		case 3:
			session_set_master(s, !s->master, now);
			len = 0;
			break;
		}
		session_run(s, now);
		check(s);
		off += len;
	}
	session_free(s);
	table_free(t);
	free(st);
	return 0;
}
