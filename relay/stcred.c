/* The short-term credential store (relay/stcred.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "relay/stcred.h"

struct entry {
	bool used;
	uint64_t expires_ms;
	char user[2 * STCRED_FRAG_MAX + 2]; /* "lfrag:rfrag", as a check carries it */
	size_t ulen;
	uint8_t pwd[STCRED_PWD_MAX];
	size_t pwdlen;
};

struct stcred {
	pthread_mutex_t lock;
	unsigned max;
	struct entry e[];
};

struct stcred *stcred_new(unsigned max)
{
	struct stcred *s = calloc(1, sizeof(*s) + (size_t)max * sizeof(s->e[0]));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->max = max;
	return s;
}

void stcred_free(struct stcred *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int stcred_set(struct stcred *s, unsigned owner, const char *lfrag, const char *rfrag,
               const char *pwd, uint64_t expires_ms)
{
	size_t ll = strlen(lfrag), rl = strlen(rfrag), pl = strlen(pwd);
	struct entry *e;

	if (owner >= s->max)
		return -ENOSPC;
	if (!ll || !rl || ll > STCRED_FRAG_MAX || rl > STCRED_FRAG_MAX || !pl ||
	    pl > STCRED_PWD_MAX)
		return -EINVAL;
	e = &s->e[owner];
	pthread_mutex_lock(&s->lock);
	memcpy(e->user, lfrag, ll);
	e->user[ll] = ':';
	memcpy(e->user + ll + 1, rfrag, rl);
	e->ulen = ll + 1 + rl;
	memcpy(e->pwd, pwd, pl);
	e->pwdlen = pl;
	e->expires_ms = expires_ms;
	e->used = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void stcred_drop(struct stcred *s, unsigned owner)
{
	if (owner >= s->max)
		return;
	pthread_mutex_lock(&s->lock);
	memset(&s->e[owner], 0, sizeof(s->e[owner]));
	pthread_mutex_unlock(&s->lock);
}

int stcred_key(struct stcred *s, const char *user, size_t ulen, uint64_t now_ms,
               uint8_t key[STCRED_PWD_MAX])
{
	int rc = -ENOENT;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->max; i++) {
		const struct entry *e = &s->e[i];

		if (e->used && e->expires_ms > now_ms && e->ulen == ulen &&
		    memcmp(e->user, user, ulen) == 0) {
			memcpy(key, e->pwd, e->pwdlen);
			rc = (int)e->pwdlen;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int stcred_random(char *out, size_t len)
{
	static const char ice_chars[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[STCRED_FRAG_MAX];

	if (len > sizeof(r) || RAND_bytes(r, (int)len) != 1)
		return -EIO;
	/* 64 symbols: each random byte's low six bits pick one, unbiased. */
	for (size_t i = 0; i < len; i++)
		out[i] = ice_chars[r[i] & 63];
	out[len] = '\0';
	return 0;
}
