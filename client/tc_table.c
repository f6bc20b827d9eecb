#include "client/tc_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int tc_table_init(struct tc_table *t, size_t max, uint32_t seed)
{
	size_t n = 16;

	while (n < max && n < ((size_t)1 << 20))
		n <<= 1;
	memset(t, 0, sizeof(*t));
	t->bucket = calloc(n, sizeof(*t->bucket));
	if (!t->bucket)
		return -ENOMEM;
	t->nbucket = n;
	t->max = max;
	t->seed = seed;
	return 0;
}

void tc_table_fini(struct tc_table *t)
{
	free(t->bucket);
	t->bucket = NULL;
	t->count = 0;
}

bool tc_key_eq(const struct tc_key *a, const struct tc_key *b)
{
	return a->proto == b->proto && tw_addr_eq(&a->local, &b->local) &&
	       tw_addr_eq(&a->remote, &b->remote);
}

static size_t slot(const struct tc_table *t, const struct tc_key *k)
{
	uint32_t h = tw_addr_hash(&k->local, t->seed ^ k->proto);

	h = tw_addr_hash(&k->remote, h);
	return h & (t->nbucket - 1);
}

struct tc_node *tc_table_find(const struct tc_table *t, const struct tc_key *k)
{
	struct tc_node *n;

	for (n = t->bucket[slot(t, k)]; n; n = n->next)
		if (tc_key_eq(&n->key, k))
			return n;
	return NULL;
}

int tc_table_add(struct tc_table *t, struct tc_node *n)
{
	size_t s = slot(t, &n->key);

	if (tc_table_find(t, &n->key))
		return -EEXIST;
	if (t->count >= t->max)
		return -ENOSPC;
	n->next = t->bucket[s];
	t->bucket[s] = n;
	n->linked = true;
	t->count++;
	return 0;
}

void tc_table_del(struct tc_table *t, struct tc_node *n)
{
	struct tc_node **pp;

	if (!n->linked)
		return;
	for (pp = &t->bucket[slot(t, &n->key)]; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->linked = false;
			t->count--;
			return;
		}
	}
}

void tc_queue_init(struct tc_queue *q, size_t max_n, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	q->max_n = max_n;
	q->max_bytes = max_bytes;
}

int tc_queue_push(struct tc_queue *q, const uint8_t *p, size_t len)
{
	struct tc_qpkt *e;

	if (q->n >= q->max_n || len > q->max_bytes - q->bytes)
		return -ENOBUFS;
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->len = len;
	memcpy(e->data, p, len);
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->n++;
	q->bytes += len;
	return 0;
}

struct tc_qpkt *tc_queue_pop(struct tc_queue *q)
{
	struct tc_qpkt *e = q->head;

	if (!e)
		return NULL;
	q->head = e->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	q->bytes -= e->len;
	return e;
}

void tc_queue_clear(struct tc_queue *q)
{
	struct tc_qpkt *e;

	while ((e = tc_queue_pop(q)))
		free(e);
}
