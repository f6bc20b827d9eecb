/* syncd/table.c: keys, coalescing, tombstones, lifetime aging, mark-and-sweep, walks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "syncd/table.h"
#include "tests/syncd/util.h"

#define SEC 1000000ull

static struct tentry *put(struct table *t, Twist__Flow *f, uint64_t now, bool queue)
{
	struct tentry *e = NULL;

	assert_int_equal(table_store(t, f, now, &e), 0);
	if (queue)
		table_enqueue(t, e, now);
	return e;
}

static void test_coalescing(void **state)
{
	struct table *t = table_new(1);
	struct tentry *e = NULL;

	(void)state;
	for (uint32_t k = 0; k < 100; k++)
		e = put(t, util_flow_new(7, 1, 1, 1000 + k), k, true);
	assert_int_equal(t->live, 1);
	assert_int_equal(t->queued, 1);
	/* One reference, queued at the first change, carrying the last state. */
	assert_ptr_equal(table_queue_head(t), e);
	assert_int_equal(e->dirty_us, 0);
	assert_int_equal(e->flow->lifetime, 1099);
	put(t, util_flow_new(8, 0, 0, 10), 200, true);
	assert_int_equal(t->queued, 2);
	assert_true(TAILQ_NEXT(e, q)->ticket > e->ticket);
	table_dequeue(t, e);
	assert_int_equal(t->queued, 1);
	table_free(t);
}

static void test_tombstone(void **state)
{
	struct table *t = table_new(1);
	struct tentry *e;

	(void)state;
	put(t, util_flow_new(1, 0, 0, 100), 0, true);
	put(t, util_flow_new(2, 0, 0, 100), 0, false);
	e = put(t, util_flow_delete(1), 5, true);
	assert_true(e->flags & TE_TOMB);
	assert_int_equal(t->live, 1);
	assert_int_equal(t->n, 2);
	assert_int_equal(t->queued, 1); /* still one reference: the delete */
	/* A create after a delete brings it back. */
	e = put(t, util_flow_new(1, 0, 0, 100), 6, true);
	assert_false(e->flags & TE_TOMB);
	assert_int_equal(t->live, 2);
	/* Clearing the queue drops deletes nobody will send. */
	put(t, util_flow_delete(2), 7, true);
	table_queue_clear(t);
	assert_int_equal(t->n, 1);
	assert_int_equal(t->live, 1);
	table_free(t);
}

static void test_aging(void **state)
{
	struct table *t = table_new(1);
	struct tentry *e;
	Twist__Flow *f = util_flow_new(3, 1, 1, 600);

	(void)state;
	f->perms[0]->lifetime = 300;
	f->chans[0]->lifetime = 400;
	e = put(t, f, 10 * SEC, false);
	assert_true(table_age(e, 10 * SEC + 999999)); /* less than a second: nothing moves */
	assert_int_equal(e->flow->lifetime, 600);
	assert_true(table_age(e, 110 * SEC + 500000));
	assert_int_equal(e->flow->lifetime, 500);
	assert_int_equal(e->flow->perms[0]->lifetime, 200);
	assert_int_equal(e->flow->chans[0]->lifetime, 300);
	/* The half second left over is not lost. */
	assert_true(table_age(e, 311 * SEC));
	assert_int_equal(e->flow->lifetime, 299);
	assert_int_equal(e->flow->n_perms, 0); /* ran out: dropped */
	assert_int_equal(e->flow->chans[0]->lifetime, 99);
	assert_true(table_age(e, 410 * SEC));
	assert_int_equal(e->flow->n_chans, 0);
	assert_false(table_age(e, 610 * SEC)); /* the flow itself */
	assert_int_equal(table_expire(t, 610 * SEC), 1);
	assert_int_equal(t->live, 0);
	table_free(t);
}

static void test_cooling_channel_kept(void **state)
{
	struct table *t = table_new(1);
	Twist__Flow *f = util_flow_new(3, 0, 1, 600);
	struct tentry *e;

	(void)state;
	f->chans[0]->lifetime = 0; /* RFC 8656 §12: expired, not rebindable yet */
	e = put(t, f, 0, false);
	assert_true(table_age(e, 100 * SEC));
	assert_int_equal(e->flow->n_chans, 1);
	assert_int_equal(e->flow->chans[0]->lifetime, 0);
	table_free(t);
}

static void test_expire_skips_deletes(void **state)
{
	struct table *t = table_new(1);

	(void)state;
	put(t, util_flow_new(1, 0, 0, 5), 0, false);
	put(t, util_flow_new(2, 0, 0, 50), 0, true);
	put(t, util_flow_delete(3), 0, true);
	assert_int_equal(table_expire(t, 10 * SEC), 1);
	assert_int_equal(t->live, 1);
	assert_int_equal(t->n, 2); /* the queued delete survives */
	assert_int_equal(t->queued, 2);
	table_free(t);
}

static unsigned swept_n;

static void count_swept(void *arg, struct tentry *e)
{
	(void)arg;
	(void)e;
	swept_n++;
}

static void test_mark_sweep(void **state)
{
	struct table *t = table_new(1);
	uint64_t g;

	(void)state;
	for (unsigned i = 0; i < 10; i++)
		put(t, util_flow_new(i, 0, 0, 100), 0, false);
	put(t, util_flow_delete(99), 0, true);
	g = table_gen_bump(t);
	for (unsigned i = 0; i < 10; i += 2)
		put(t, util_flow_new(i, 0, 0, 100), 1, false);
	swept_n = 0;
	assert_int_equal(table_sweep(t, g, count_swept, NULL), 5);
	assert_int_equal(swept_n, 5);
	assert_int_equal(t->live, 5);
	for (unsigned i = 0; i < 10; i++) {
		Twist__Flow *f = util_flow_new(i, 0, 0, 1);
		struct flow_key k;

		assert_int_equal(flow_key_of(f, &k), 0);
		assert_true((table_find(t, &k) != NULL) == (i % 2 == 0));
		twist__flow__free_unpacked(f, flow_allocator());
	}
	table_free(t);
}

static void test_walk_survives_removal(void **state)
{
	struct table *t = table_new(1);
	struct tentry *e[5], *x;
	unsigned seen = 0;

	(void)state;
	for (unsigned i = 0; i < 5; i++)
		e[i] = put(t, util_flow_new(i, 0, 0, 100), 0, false);
	table_walk_start(t);
	assert_ptr_equal(table_walk_next(t), e[0]);
	table_remove(t, e[1]); /* the next one to visit */
	table_remove(t, e[0]); /* the one just visited */
	while ((x = table_walk_next(t)))
		seen++;
	assert_int_equal(seen, 3);
	table_walk_stop(t);
	assert_null(table_walk_next(t));
	table_free(t);
}

static void test_many_and_families(void **state)
{
	struct table *t = table_new(42);
	struct util_flow u;
	struct flow_key k;

	(void)state;
	for (unsigned i = 0; i < 20000; i++)
		put(t, util_flow_new(i, 0, 0, 100), 0, false);
	/* The same numbers over IPv6 are different flows. */
	for (unsigned i = 0; i < 100; i++) {
		util_flow_init(&u, i, true, 1, 1, 100);
		put(t, flow_dup(&u.f), 0, false);
	}
	assert_int_equal(t->live, 20100);
	assert_true(t->nbuckets >= 16384);
	for (unsigned i = 0; i < 20000; i += 997) {
		Twist__Flow *f = util_flow_new(i, 0, 0, 1);

		assert_int_equal(flow_key_of(f, &k), 0);
		assert_non_null(table_find(t, &k));
		twist__flow__free_unpacked(f, flow_allocator());
	}
	table_free(t);
}

static void test_bad_identity(void **state)
{
	struct table *t = table_new(1);
	Twist__Flow *f = util_flow_new(1, 0, 0, 100);
	struct tentry *e = NULL;

	(void)state;
	f->client.len = 5;
	assert_int_equal(table_store(t, f, 0, &e), -EBADMSG);
	assert_null(e);
	assert_int_equal(t->n, 0);
	f->client.len = 6;
	twist__flow__free_unpacked(f, flow_allocator());
	table_free(t);
	table_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_coalescing),
	        cmocka_unit_test(test_tombstone),
	        cmocka_unit_test(test_aging),
	        cmocka_unit_test(test_cooling_channel_kept),
	        cmocka_unit_test(test_expire_skips_deletes),
	        cmocka_unit_test(test_mark_sweep),
	        cmocka_unit_test(test_walk_survives_removal),
	        cmocka_unit_test(test_many_and_families),
	        cmocka_unit_test(test_bad_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
