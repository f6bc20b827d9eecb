#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "relay/connlimit.h"
#include "relay/siphash.h"

#define BUCKETS_MAX (1u << 16)

struct src {
	struct src *next;
	uint8_t key[9]; /* family, then the IPv4 address or the IPv6 /64 */
	unsigned conns, unauth;
};

struct connlimit {
	pthread_mutex_t mu;
	struct connlimit_caps caps;
	uint8_t hkey[SIPHASH_KEY_LEN]; /* keyed: sources cannot be chosen to collide */
	unsigned total;
	unsigned peak; /* the most open since connlimit_shrunk last said yes */
	uint32_t mask;
	struct src **b;
};

static void src_key(const struct tw_addr *a, uint8_t key[9])
{
	memset(key, 0, 9);
	key[0] = a->family;
	memcpy(key + 1, a->ip, a->family == TW_AF_INET ? 4 : 8);
}

struct connlimit *connlimit_new(const struct connlimit_caps *caps, uint32_t seed)
{
	struct connlimit *l = calloc(1, sizeof(*l));
	uint32_t n = 16;

	if (!l)
		return NULL;
	l->caps = *caps;
	while (n < caps->total && n < BUCKETS_MAX)
		n <<= 1;
	l->mask = n - 1;
	l->b = calloc(n, sizeof(*l->b));
	if (!l->b || pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l->b);
		free(l);
		return NULL;
	}
	if (getrandom(l->hkey, sizeof(l->hkey), 0) != sizeof(l->hkey))
		memset(l->hkey, 0, sizeof(l->hkey));
	for (size_t i = 0; i < sizeof(seed); i++)
		l->hkey[i] ^= (uint8_t)(seed >> (8 * i));
	return l;
}

void connlimit_free(struct connlimit *l)
{
	if (!l)
		return;
	for (uint32_t i = 0; i <= l->mask; i++) {
		while (l->b[i]) {
			struct src *s = l->b[i];

			l->b[i] = s->next;
			free(s);
		}
	}
	pthread_mutex_destroy(&l->mu);
	free(l->b);
	free(l);
}

/* The source's entry and the link that points to it; caller holds mu. */
static struct src **find(struct connlimit *l, const uint8_t key[9])
{
	struct src **p = &l->b[siphash(l->hkey, key, 9) & l->mask];

	while (*p && memcmp((*p)->key, key, 9) != 0)
		p = &(*p)->next;
	return p;
}

enum connlimit_verdict connlimit_take(struct connlimit *l, const struct tw_addr *src)
{
	enum connlimit_verdict v = CONNLIMIT_OK;
	uint8_t key[9];
	struct src **p, *s;

	src_key(src, key);
	pthread_mutex_lock(&l->mu);
	p = find(l, key);
	s = *p;
	if (l->total >= l->caps.total)
		v = CONNLIMIT_TOTAL;
	else if (s && s->conns >= l->caps.per_source)
		v = CONNLIMIT_SOURCE;
	else if (s && s->unauth >= l->caps.unauth)
		v = CONNLIMIT_UNAUTH;
	else if (!s && (s = calloc(1, sizeof(*s))) != NULL) {
		memcpy(s->key, key, sizeof(key));
		*p = s;
	}
	if (v == CONNLIMIT_OK && !s)
		v = CONNLIMIT_TOTAL; /* out of memory: refuse as if full */
	if (v == CONNLIMIT_OK) {
		s->conns++;
		s->unauth++;
		if (++l->total > l->peak)
			l->peak = l->total;
	}
	pthread_mutex_unlock(&l->mu);
	return v;
}

void connlimit_authed(struct connlimit *l, const struct tw_addr *src)
{
	uint8_t key[9];
	struct src *s;

	src_key(src, key);
	pthread_mutex_lock(&l->mu);
	s = *find(l, key);
	if (s && s->unauth)
		s->unauth--;
	pthread_mutex_unlock(&l->mu);
}

void connlimit_put(struct connlimit *l, const struct tw_addr *src, bool authed)
{
	uint8_t key[9];
	struct src **p, *s;

	src_key(src, key);
	pthread_mutex_lock(&l->mu);
	p = find(l, key);
	s = *p;
	if (s) {
		if (!authed && s->unauth)
			s->unauth--;
		if (s->conns)
			s->conns--;
		if (l->total)
			l->total--;
		if (s->conns == 0) {
			*p = s->next;
			free(s);
		}
	}
	pthread_mutex_unlock(&l->mu);
}

void connlimit_get(struct connlimit *l, const struct tw_addr *src, unsigned *conns,
                   unsigned *unauth)
{
	uint8_t key[9];
	struct src *s;

	src_key(src, key);
	pthread_mutex_lock(&l->mu);
	s = *find(l, key);
	*conns = s ? s->conns : 0;
	*unauth = s ? s->unauth : 0;
	pthread_mutex_unlock(&l->mu);
}

bool connlimit_shrunk(struct connlimit *l, unsigned by)
{
	bool yes;

	pthread_mutex_lock(&l->mu);
	yes = l->peak >= l->total + by;
	if (yes)
		l->peak = l->total;
	pthread_mutex_unlock(&l->mu);
	return yes;
}
