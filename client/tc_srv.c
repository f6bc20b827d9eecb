#include "client/tc_srv.h"

#include <string.h>

void tc_srv_init(struct tc_srvsel *s, const struct tw_addr *addrs, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->n = n < TC_MAX_SERVERS ? n : TC_MAX_SERVERS;
	for (size_t i = 0; i < s->n; i++)
		s->list[i].addr = addrs[i];
	if (s->n)
		s->cur = s->list[0].addr;
}

void tc_srv_redirect(struct tc_srvsel *s, const struct tw_addr *alt)
{
	s->prev = s->cur;
	s->prev_learned = s->learned;
	s->has_prev = true;
	s->cur = *alt;
	s->learned = true;
}

/* 1 s, doubling per failure in a row, at most 64 s. */
static uint64_t backoff_ms(unsigned fails)
{
	uint64_t ms = TC_SRV_BACKOFF0;

	for (unsigned i = 1; i < fails && ms < TC_SRV_BACKOFF_MAX; i++)
		ms *= 2;
	return ms < TC_SRV_BACKOFF_MAX ? ms : TC_SRV_BACKOFF_MAX;
}

/*
 * The list entry after home that is out of its back-off; when every one
 * is backing off, the one whose back-off ends first, the next in order
 * on a tie (a shim with nowhere to go still has to try somewhere).
 */
static size_t next_usable(const struct tc_srvsel *s, uint64_t now)
{
	size_t best = s->n;

	for (size_t i = 1; i <= s->n; i++) {
		size_t j = (s->home + i) % s->n;

		if (s->list[j].retry_ms <= now)
			return j;
		if (best == s->n || s->list[j].retry_ms < s->list[best].retry_ms)
			best = j;
	}
	return best;
}

enum tc_srv_move tc_srv_failed(struct tc_srvsel *s, const struct tw_addr *a, uint64_t now)
{
	struct tc_srv *h;
	size_t j;

	if (!s->n || !tw_addr_eq(a, &s->cur))
		return TC_SRV_STALE;
	if (s->learned && s->has_prev) {
		s->cur = s->prev;
		s->learned = s->prev_learned;
		s->has_prev = false;
		return TC_SRV_PREVIOUS;
	}
	h = &s->list[s->home];
	if (!s->learned) {
		h->fails++;
		h->retry_ms = now + backoff_ms(h->fails);
	}
	j = s->learned ? s->home : next_usable(s, now);
	s->learned = false;
	s->has_prev = false;
	if (j == s->home && tw_addr_eq(&s->cur, &h->addr))
		return TC_SRV_SAME;
	s->home = j;
	s->cur = s->list[j].addr;
	return TC_SRV_NEXT;
}

void tc_srv_ok(struct tc_srvsel *s, const struct tw_addr *a)
{
	for (size_t i = 0; i < s->n; i++) {
		if (tw_addr_eq(&s->list[i].addr, a)) {
			s->list[i].fails = 0;
			s->list[i].retry_ms = 0;
		}
	}
}

const char *tc_srv_move_name(enum tc_srv_move m)
{
	switch (m) {
	case TC_SRV_STALE:
		return "already left";
	case TC_SRV_SAME:
		return "no other server";
	case TC_SRV_PREVIOUS:
		return "the server before the 300";
	case TC_SRV_NEXT:
		return "the next --server";
	}
	return "?";
}

void tc_srv_start(struct tc_srvsel *s, size_t i)
{
	if (i >= s->n)
		return;
	s->home = i;
	s->cur = s->list[i].addr;
}
