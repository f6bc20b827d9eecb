#include <stdlib.h>
#include <string.h>

#include "syncd/stats.h"

/* Upper bounds of the lag histogram; the 5 ms target sits in the middle. */
const uint64_t stats_lag_bounds_us[LAG_BUCKETS] = {
        100, 250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 500000, 1000000,
};

const char *stats_drop_name(enum drop_reason r)
{
	switch (r) {
	case DROP_GARBAGE:
		return "garbage";
	case DROP_OVERSIZED:
		return "oversized";
	case DROP_BUDGET:
		return "budget";
	case DROP_INVALID_FLOW:
		return "invalid_flow";
	case DROP_INVALID:
		return "invalid";
	case DROP_VERSION:
		return "version";
	case DROP_SELF:
		return "self";
	case DROP_WRONG_EPOCH:
		return "wrong_epoch";
	case DROP_NO_SESSION:
		return "no_session";
	case DROP_REPLAYED_SEQ:
		return "replayed_seq";
	case DROP_FAR_FUTURE_SEQ:
		return "far_future_seq";
	case DROP_OVERFLOW:
		return "overflow";
	case DROP__COUNT:
		break;
	}
	return "?";
}

const char *stats_source_name(enum drop_source s)
{
	switch (s) {
	case SRC_PEER:
		return "peer";
	case SRC_RELAY:
		return "relay";
	case SRC__COUNT:
		break;
	}
	return "?";
}

void stats_lag_add(struct sync_stats *st, uint64_t lag_us)
{
	st->lag_ring[st->lag_n % LAG_WINDOW] = lag_us;
	st->lag_n++;
	st->lag_sum_us += lag_us;
	for (int i = 0; i < LAG_BUCKETS; i++)
		if (lag_us <= stats_lag_bounds_us[i])
			st->lag_bucket[i]++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t stats_lag_pct(const struct sync_stats *st, unsigned pct)
{
	static uint64_t tmp[LAG_WINDOW];
	size_t n = st->lag_n < LAG_WINDOW ? (size_t)st->lag_n : LAG_WINDOW;
	size_t i;

	if (n == 0)
		return 0;
	memcpy(tmp, st->lag_ring, n * sizeof(tmp[0]));
	qsort(tmp, n, sizeof(tmp[0]), cmp_u64);
	i = (n * pct + 99) / 100; /* nearest rank */
	return tmp[i ? i - 1 : 0];
}
