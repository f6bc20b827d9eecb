/*
 * Writes the fuzz_sync seed corpus (tests/fuzz/corpus/fuzz_sync/): every
 * message kind, as records for the target (see tests/fuzz/fuzz_sync.c),
 * from the peer identity the target sets up. Run it again when the
 * message set changes:  gen_seeds tests/fuzz/corpus/fuzz_sync
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/syncd/util.h"

#define EPOCH_PEER 0x1111000000000001ull
#define EPOCH_US   0x2222000000000001ull

struct seed {
	uint8_t buf[8192];
	size_t len;
};

static void rec(struct seed *sd, uint8_t kind, const uint8_t *body, size_t len)
{
	sd->buf[sd->len++] = kind;
	sd->buf[sd->len++] = (uint8_t)len;
	sd->buf[sd->len++] = (uint8_t)(len >> 8);
	if (body)
		memcpy(sd->buf + sd->len, body, len);
	sd->len += body ? len : 0;
}

static size_t pack(Twist__Sync *m, uint8_t *out)
{
	m->node_id = 1;
	m->epoch = EPOCH_PEER;
	return twist__sync__pack(m, out);
}

static void rec_sync(struct seed *sd, Twist__Sync *m)
{
	uint8_t b[4096];

	rec(sd, 0, b, pack(m, b));
}

static void rec_batch(struct seed *sd, uint64_t seq, unsigned first, unsigned n, bool bulk,
                      bool del)
{
	struct util_flow u[8];
	Twist__Flow *fp[8];
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Batch b = TWIST__BATCH__INIT;

	for (unsigned i = 0; i < n; i++) {
		util_flow_init(&u[i], first + i, i % 2, i % 3 ? 1 : 0, i % 2, 600);
		u[i].f.deleted = del;
		fp[i] = &u[i].f;
	}
	b.seq = seq;
	b.n_flows = n;
	b.flows = fp;
	b.bulk = bulk;
	m.body_case = TWIST__SYNC__BODY_BATCH;
	m.batch = &b;
	rec_sync(sd, &m);
}

static void rec_marker(struct seed *sd, bool begin, uint64_t seq, uint64_t count)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__BulkBegin bb = TWIST__BULK_BEGIN__INIT;
	Twist__BulkEnd be = TWIST__BULK_END__INIT;

	if (begin) {
		bb.seq = seq;
		bb.count = count;
		m.body_case = TWIST__SYNC__BODY_BULK_BEGIN;
		m.bulk_begin = &bb;
	} else {
		be.seq = seq;
		be.count = count;
		m.body_case = TWIST__SYNC__BODY_BULK_END;
		m.bulk_end = &be;
	}
	rec_sync(sd, &m);
}

static void rec_ack(struct seed *sd, uint64_t cum, uint64_t first, uint64_t last)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Ack a = TWIST__ACK__INIT;
	Twist__Range r = TWIST__RANGE__INIT, *rp = &r;

	r.first = first;
	r.last = last;
	a.cum_seq = cum;
	a.n_nack = first ? 1 : 0;
	a.nack = &rp;
	m.body_case = TWIST__SYNC__BODY_ACK;
	m.ack = &a;
	rec_sync(sd, &m);
}

static void rec_alive(struct seed *sd, uint64_t last)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Alive a = TWIST__ALIVE__INIT;

	a.last_seq = last;
	m.body_case = TWIST__SYNC__BODY_ALIVE;
	m.alive = &a;
	rec_sync(sd, &m);
}

static void rec_hello(struct seed *sd, uint64_t epoch, bool master)
{
	Twist__Sync m = TWIST__SYNC__INIT;
	Twist__Hello h = TWIST__HELLO__INIT;
	uint8_t b[64];

	h.version = 1;
	h.master = master;
	h.peer_epoch = EPOCH_US;
	m.body_case = TWIST__SYNC__BODY_HELLO;
	m.hello = &h;
	m.node_id = 1;
	m.epoch = epoch;
	rec(sd, 0, b, twist__sync__pack(&m, b));
}

static void rec_local(struct seed *sd, unsigned first, unsigned n, uint64_t token, bool dump)
{
	struct util_flow u[8];
	Twist__Flow *fp[8];
	Twist__Local m = TWIST__LOCAL__INIT;
	uint8_t b[4096];

	for (unsigned i = 0; i < n; i++) {
		util_flow_init(&u[i], first + i, false, 1, 1, 600);
		fp[i] = &u[i].f;
	}
	m.n_flows = n;
	m.flows = fp;
	m.n_tokens = token ? 1 : 0;
	m.tokens = &token;
	m.dump = dump;
	rec(sd, 1, b, twist__local__pack(&m, b));
}

static void put(const char *dir, const char *name, const struct seed *sd)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(sd->buf, 1, sd->len, f) != sd->len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	struct seed sd;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	memset(&sd, 0, sizeof(sd));
	rec_batch(&sd, 1, 0, 3, false, false);
	/* The whole input is also one message: a bare Batch. */
	memmove(sd.buf, sd.buf + 3, sd.len - 3);
	sd.len -= 3;
	put(argv[1], "bare-batch.bin", &sd);

	memset(&sd, 0, sizeof(sd));
	rec_batch(&sd, 1, 0, 4, false, false);
	rec_batch(&sd, 2, 2, 2, false, true);
	rec_alive(&sd, 2);
	rec(&sd, 2, NULL, 200);
	put(argv[1], "batches-delete.bin", &sd);

	memset(&sd, 0, sizeof(sd));
	rec_batch(&sd, 3, 10, 2, false, false);
	rec_batch(&sd, 1, 0, 2, false, false);
	rec_batch(&sd, 1, 0, 2, false, false);
	rec_alive(&sd, 5);
	rec_batch(&sd, 2, 5, 2, false, false);
	put(argv[1], "reorder-dup-gap.bin", &sd);

	memset(&sd, 0, sizeof(sd));
	rec_batch(&sd, 1, 100, 3, false, false);
	rec_marker(&sd, true, 2, 5);
	rec_batch(&sd, 3, 0, 3, true, false);
	rec_batch(&sd, 4, 3, 2, true, false);
	rec_marker(&sd, false, 5, 5);
	put(argv[1], "bulk.bin", &sd);

	memset(&sd, 0, sizeof(sd));
	rec_local(&sd, 0, 3, 42, false);
	rec(&sd, 2, NULL, 1);
	rec_ack(&sd, 0, 1, 1);
	rec_ack(&sd, 1, 0, 0);
	rec_local(&sd, 0, 0, 0, true);
	put(argv[1], "local-tokens-ack.bin", &sd);

	memset(&sd, 0, sizeof(sd));
	rec(&sd, 3, NULL, 0);
	rec(&sd, 2, NULL, 400);
	rec_hello(&sd, EPOCH_PEER, false);
	rec_hello(&sd, EPOCH_PEER + 1, true);
	rec_batch(&sd, 1, 0, 1, false, false);
	rec(&sd, 2, NULL, 1500);
	put(argv[1], "roles-restart.bin", &sd);
	return 0;
}
