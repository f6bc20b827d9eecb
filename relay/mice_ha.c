/* The M-ICE home agent: binding cache and the BU/BA relay (docs/mice.md §4). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mice_mh.h"
#include "relay/config.h"
#include "relay/mice_ha.h"
#include "relay/ratelimit.h"
#include "relay/stcred.h"

#define RL_SLOTS        4096
#define PENDING_MS      10000 /* how long a relayed BU waits for its answer */
#define LIFETIME_UNIT_S 4     /* RFC 6275 §6.1.7 */

/* A security association with its replay state, which outlives bindings. */
struct ha_key {
	const struct cfg_mice_key *cfg;
	uint16_t last_seq;
	bool seen;
};

struct binding {
	bool used;
	unsigned key;       /* index in keys[]: the owner */
	struct tw_addr coa; /* where its messages came from (RFC 5555 NAT traversal) */
	uint64_t expires_ms;
	struct tw_addr pending; /* the correspondent a relayed BU went to; family 0: none */
	uint16_t pending_seq;
	uint64_t pending_until;
	/* The HA's ICE credentials for this node, made for its ufrag (§6.1). */
	char mn_ufrag[MICE_UFRAG_MAX + 1]; /* "": no offer seen */
	char ufrag[STCRED_UFRAG_LEN + 1];
	char pwd[STCRED_PWD_LEN + 1];
};

/* What the HA's own BA offers the node: a copy taken under the lock. */
struct ha_ice {
	char ufrag[STCRED_UFRAG_LEN + 1]; /* "": nothing */
	char pwd[STCRED_PWD_LEN + 1];
};

struct mice_ha {
	pthread_mutex_t lock; /* keys[] state and bindings[] */
	struct ha_key *keys;
	unsigned n_keys;
	struct binding *bindings;
	unsigned max_bindings, n_bindings;
	uint8_t opt_type;
	unsigned max_lifetime; /* in units of 4 s */
	struct ratelimit *rl;
	struct stcred *creds;    /* NULL: the HA answers no checks */
	struct mice_ha_stats st; /* written with relaxed atomics */
};

#define COUNT(field) __atomic_fetch_add(&(field), 1, __ATOMIC_RELAXED)

const char *mice_drop_name(enum mice_drop d)
{
	switch (d) {
	case MICE_DROP_MALFORMED:
		return "malformed";
	case MICE_DROP_RATE:
		return "rate";
	case MICE_DROP_BA_AUTH:
		return "ba_unauthenticated";
	case MICE_DROP_BA_UNEXPECTED:
		return "ba_unexpected";
	case MICE_DROP_TOO_BIG:
		return "too_big";
	case MICE_DROP__COUNT:
		break;
	}
	return "?";
}

const char *mice_bu_result_name(enum mice_bu_result r)
{
	switch (r) {
	case MICE_BU_ACCEPTED:
		return "accepted";
	case MICE_BU_AUTH_FAILED:
		return "auth_failed";
	case MICE_BU_NOT_HOME:
		return "not_home_agent";
	case MICE_BU_SEQUENCE:
		return "sequence";
	case MICE_BU_NO_RESOURCES:
		return "no_resources";
	case MICE_BU_PEER_UNKNOWN:
		return "peer_unknown";
	case MICE_BU__COUNT:
		break;
	}
	return "?";
}

static const uint8_t bu_status[MICE_BU__COUNT] = {
        [MICE_BU_ACCEPTED] = MH_ST_ACCEPTED,         [MICE_BU_AUTH_FAILED] = MH_ST_AUTH_FAILED,
        [MICE_BU_NOT_HOME] = MH_ST_NOT_HA_FOR_MN,    [MICE_BU_SEQUENCE] = MH_ST_SEQ_OUT_OF_WIN,
        [MICE_BU_NO_RESOURCES] = MH_ST_NO_RESOURCES, [MICE_BU_PEER_UNKNOWN] = MH_ST_UNSPECIFIED,
};

struct mice_ha *mice_ha_new(const struct config *cfg, uint32_t seed, struct stcred *creds)
{
	struct mice_ha *ha = calloc(1, sizeof(*ha));

	if (!ha)
		return NULL;
	pthread_mutex_init(&ha->lock, NULL);
	ha->n_keys = cfg->n_mice_keys;
	ha->max_bindings = cfg->mice_max_bindings;
	ha->opt_type = (uint8_t)cfg->mice_option_type;
	ha->max_lifetime = cfg->mice_max_lifetime / LIFETIME_UNIT_S;
	ha->creds = creds;
	ha->keys = calloc(ha->n_keys ? ha->n_keys : 1, sizeof(*ha->keys));
	ha->bindings = calloc(ha->max_bindings ? ha->max_bindings : 1, sizeof(*ha->bindings));
	ha->rl = ratelimit_new(RL_SLOTS, cfg->mice_rate, cfg->mice_burst, seed);
	if (!ha->keys || !ha->bindings || !ha->rl) {
		mice_ha_free(ha);
		return NULL;
	}
	for (unsigned i = 0; i < ha->n_keys; i++)
		ha->keys[i].cfg = &cfg->mice_keys[i];
	return ha;
}

void mice_ha_free(struct mice_ha *ha)
{
	if (!ha)
		return;
	ratelimit_free(ha->rl);
	free(ha->bindings);
	free(ha->keys);
	pthread_mutex_destroy(&ha->lock);
	free(ha);
}

static struct ha_key *key_by_spi(struct mice_ha *ha, uint32_t spi)
{
	for (unsigned i = 0; i < ha->n_keys; i++)
		if (ha->keys[i].cfg->spi == spi)
			return &ha->keys[i];
	return NULL;
}

static const uint8_t *key_bytes(const struct ha_key *k, size_t *len)
{
	*len = strlen(k->cfg->key);
	return (const uint8_t *)k->cfg->key;
}

/* The live binding of a home address (under lock). */
static struct binding *binding_find(struct mice_ha *ha, const struct tw_addr *home, uint64_t now)
{
	for (unsigned i = 0; i < ha->max_bindings; i++) {
		struct binding *b = &ha->bindings[i];

		if (b->used && b->expires_ms > now &&
		    tw_addr_ip_eq(&ha->keys[b->key].cfg->home, home))
			return b;
	}
	return NULL;
}

static void binding_drop(struct mice_ha *ha, struct binding *b)
{
	if (ha->creds)
		stcred_drop(ha->creds, b->key);
	memset(b, 0, sizeof(*b));
	ha->n_bindings--;
}

static struct binding *binding_add(struct mice_ha *ha, unsigned key)
{
	for (unsigned i = 0; i < ha->max_bindings; i++) {
		if (!ha->bindings[i].used) {
			ha->bindings[i].used = true;
			ha->bindings[i].key = key;
			ha->n_bindings++;
			return &ha->bindings[i];
		}
	}
	return NULL;
}

void mice_ha_sweep(struct mice_ha *ha, uint64_t now_ms)
{
	pthread_mutex_lock(&ha->lock);
	for (unsigned i = 0; i < ha->max_bindings; i++)
		if (ha->bindings[i].used && ha->bindings[i].expires_ms <= now_ms)
			binding_drop(ha, &ha->bindings[i]);
	__atomic_store_n(&ha->st.bindings, ha->n_bindings, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ha->lock);
}

/* Builds and sends m to dst, signed with k (NULL: unsigned); false if it did not fit. */
static bool send_mh(struct mice_ha *ha, const struct mice_mh *m, const struct ha_key *k,
                    const struct tw_addr *dst, const struct mice_ha_out *out)
{
	uint8_t buf[MH_MAX_LEN];
	const uint8_t *key = NULL;
	size_t keylen = 0;
	int n;

	if (k)
		key = key_bytes(k, &keylen);
	/* A message that fitted may not with the home and peer options added. */
	n = mice_mh_build(m, ha->opt_type, key, keylen, buf, sizeof(buf));
	if (n < 0) {
		COUNT(ha->st.drops[MICE_DROP_TOO_BIG]);
		return false;
	}
	out->send(out->ctx, dst, buf, (size_t)n);
	return true;
}

/*
 * The HA as one of the node's remote candidates: host, on the port the
 * node signals to, with the priority RFC 8445 §5.1.2.1 recommends for a
 * host candidate of component 1.
 */
static void ba_ice(struct mice_mh *ba, const struct ha_ice *ice, const struct tw_addr *local)
{
	struct mice_cand *c = &ba->ice.cand[0];

	ba->has_ice = true;
	memcpy(ba->ice.ufrag, ice->ufrag, sizeof(ice->ufrag));
	memcpy(ba->ice.pwd, ice->pwd, sizeof(ice->pwd));
	ba->ice.n_cands = 1;
	c->type = MICE_CAND_HOST;
	c->component = 1;
	c->transport = MICE_TR_UDP;
	c->priority = (126u << 24) | (65535u << 8) | (256u - 1);
	strcpy(c->foundation, "ha");
	c->addr = *local;
}

/* A BA answering bu: signed when bu authenticated with k (RFC 4285 §5). */
static void answer(struct mice_ha *ha, enum mice_bu_result r, uint16_t seq, uint16_t lifetime,
                   const struct ha_key *k, const struct ha_ice *ice, const struct tw_addr *dst,
                   const struct mice_ha_out *out)
{
	struct mice_mh *ba = calloc(1, sizeof(*ba));

	COUNT(ha->st.bu[r]);
	if (!ba)
		return;
	ba->type = MH_TYPE_BA;
	ba->status = bu_status[r];
	ba->seq = seq;
	ba->lifetime = lifetime;
	if (k) {
		ba->home = k->cfg->home;
		ba->spi = k->cfg->spi;
	}
	if (ice && ice->ufrag[0] && out->local.family)
		ba_ice(ba, ice, &out->local);
	send_mh(ha, ba, k, dst, out);
	free(ba);
}

/*
 * Under lock, b just (re)registered: its ICE credentials follow the
 * binding's lifetime; an offer with a new ufrag (a new node, or an ICE
 * restart after a move) gets new ones. Copied into *ice for the BA.
 */
static void binding_creds(struct mice_ha *ha, struct binding *b, const struct mice_mh *bu,
                          struct ha_ice *ice)
{
	if (!ha->creds)
		return;
	if (bu->has_ice && strcmp(b->mn_ufrag, bu->ice.ufrag) != 0) {
		if (stcred_random(b->ufrag, STCRED_UFRAG_LEN) < 0 ||
		    stcred_random(b->pwd, STCRED_PWD_LEN) < 0) {
			b->mn_ufrag[0] = '\0';
			stcred_drop(ha->creds, b->key);
			return;
		}
		strcpy(b->mn_ufrag, bu->ice.ufrag);
	}
	if (!b->mn_ufrag[0] ||
	    stcred_set(ha->creds, b->key, b->ufrag, b->mn_ufrag, b->pwd, b->expires_ms) < 0)
		return;
	memcpy(ice->ufrag, b->ufrag, sizeof(ice->ufrag));
	memcpy(ice->pwd, b->pwd, sizeof(ice->pwd));
}

/*
 * The relayed BU: the MN's offer to the correspondent, from the MN's home
 * address, signed with the correspondent's key so that it can trust the
 * home agent's word for who sent it (docs/mice.md §4).
 */
static void relay_bu(struct mice_ha *ha, struct mice_mh *bu, const struct ha_key *from,
                     struct binding *peer, uint16_t lifetime, const struct mice_ha_out *out)
{
	const struct ha_key *to = &ha->keys[peer->key];

	bu->bu_flags = MH_BU_A;
	bu->lifetime = lifetime;
	bu->home = from->cfg->home;
	bu->peer = to->cfg->home;
	bu->spi = to->cfg->spi;
	if (send_mh(ha, bu, to, &peer->coa, out))
		COUNT(ha->st.relayed_bu);
}

/* Registration under lock: the caller has authenticated bu with keys[ki]. */
static enum mice_bu_result register_bu(struct mice_ha *ha, uint64_t now, unsigned ki,
                                       const struct tw_addr *src, struct mice_mh *bu,
                                       uint16_t *granted, struct ha_ice *ice,
                                       const struct mice_ha_out *out)
{
	struct ha_key *k = &ha->keys[ki];
	struct binding *b = binding_find(ha, &k->cfg->home, now), *peer = NULL;

	if (bu->peer.family && !(peer = binding_find(ha, &bu->peer, now)))
		return MICE_BU_PEER_UNKNOWN;
	if (!b && bu->lifetime && !(b = binding_add(ha, ki)))
		return MICE_BU_NO_RESOURCES;
	k->last_seq = bu->seq;
	k->seen = true;
	*granted = bu->lifetime < ha->max_lifetime ? bu->lifetime : (uint16_t)ha->max_lifetime;
	if (*granted == 0) { /* deregistration (RFC 6275 §10.3.2) */
		if (b)
			binding_drop(ha, b);
		return MICE_BU_ACCEPTED;
	}
	b->coa = *src;
	b->expires_ms = now + (uint64_t)*granted * LIFETIME_UNIT_S * 1000;
	binding_creds(ha, b, bu, ice);
	if (peer) {
		b->pending = ha->keys[peer->key].cfg->home;
		b->pending_seq = bu->seq;
		b->pending_until = now + PENDING_MS;
		relay_bu(ha, bu, k, peer, *granted, out);
	}
	return MICE_BU_ACCEPTED;
}

static void on_bu(struct mice_ha *ha, uint64_t now, const struct tw_addr *src, struct mice_mh *m,
                  const uint8_t *buf, size_t len, const struct mice_ha_out *out)
{
	struct ha_key *k = m->has_auth ? key_by_spi(ha, m->spi) : NULL;
	size_t keylen;
	const uint8_t *key;
	enum mice_bu_result r;
	uint16_t seq = m->seq, granted = 0;
	struct ha_ice ice = {{0}, {0}};

	COUNT(ha->st.rx_bu);
	if (!k || (key = key_bytes(k, &keylen), !mice_mh_auth_ok(m, buf, len, key, keylen)))
		return answer(ha, MICE_BU_AUTH_FAILED, seq, 0, NULL, NULL, src, out);
	if (m->home.family && !tw_addr_ip_eq(&m->home, &k->cfg->home))
		return answer(ha, MICE_BU_NOT_HOME, seq, 0, k, NULL, src, out);
	/* A node is not its own correspondent. */
	if (m->peer.family && tw_addr_ip_eq(&m->peer, &k->cfg->home))
		return answer(ha, MICE_BU_PEER_UNKNOWN, seq, 0, k, NULL, src, out);
	pthread_mutex_lock(&ha->lock);
	if (k->seen && !mice_seq_newer(m->seq, k->last_seq)) {
		seq = k->last_seq; /* RFC 6275 §9.5.1: the last accepted number */
		r = MICE_BU_SEQUENCE;
	} else {
		r = register_bu(ha, now, (unsigned)(k - ha->keys), src, m, &granted, &ice, out);
	}
	__atomic_store_n(&ha->st.bindings, ha->n_bindings, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ha->lock);
	answer(ha, r, seq, granted, k, &ice, src, out);
}

/* The correspondent's answer to a relayed BU: back to the mobile node, re-signed. */
static void on_ba(struct mice_ha *ha, uint64_t now, struct mice_mh *m, const uint8_t *buf,
                  size_t len, const struct mice_ha_out *out)
{
	struct ha_key *k = m->has_auth ? key_by_spi(ha, m->spi) : NULL, *mk;
	struct binding *mn;
	struct tw_addr to;
	size_t keylen;
	const uint8_t *key;

	COUNT(ha->st.rx_ba);
	if (!k || (key = key_bytes(k, &keylen), !mice_mh_auth_ok(m, buf, len, key, keylen)))
		return (void)COUNT(ha->st.drops[MICE_DROP_BA_AUTH]);
	if ((m->home.family && !tw_addr_ip_eq(&m->home, &k->cfg->home)) || !m->peer.family)
		return (void)COUNT(ha->st.drops[MICE_DROP_BA_UNEXPECTED]);
	pthread_mutex_lock(&ha->lock);
	mn = binding_find(ha, &m->peer, now);
	if (!mn || mn->pending_until <= now || mn->pending_seq != m->seq ||
	    !tw_addr_ip_eq(&mn->pending, &k->cfg->home)) {
		pthread_mutex_unlock(&ha->lock);
		return (void)COUNT(ha->st.drops[MICE_DROP_BA_UNEXPECTED]);
	}
	mn->pending = (struct tw_addr){0};
	mk = &ha->keys[mn->key];
	to = mn->coa;
	pthread_mutex_unlock(&ha->lock);
	m->home = k->cfg->home;
	m->peer = mk->cfg->home;
	m->spi = mk->cfg->spi;
	if (send_mh(ha, m, mk, &to, out))
		COUNT(ha->st.relayed_ba);
}

void mice_ha_input(struct mice_ha *ha, uint64_t now_ms, const struct tw_addr *src,
                   const uint8_t *buf, size_t len, const struct mice_ha_out *out)
{
	struct mice_mh *m;

	/* Cheap before expensive: the source's rate, then parsing, then HMAC. */
	if (!ratelimit_take(ha->rl, src, now_ms))
		return (void)COUNT(ha->st.drops[MICE_DROP_RATE]);
	if (!(m = malloc(sizeof(*m))))
		return;
	if (mice_mh_parse(m, buf, len, ha->opt_type) < 0)
		COUNT(ha->st.drops[MICE_DROP_MALFORMED]);
	else if (m->type == MH_TYPE_BU)
		on_bu(ha, now_ms, src, m, buf, len, out);
	else
		on_ba(ha, now_ms, m, buf, len, out);
	free(m);
}

void mice_ha_count_stun(struct mice_ha *ha)
{
	COUNT(ha->st.stun);
}

void mice_ha_stats(struct mice_ha *ha, struct mice_ha_stats *st)
{
	const uint64_t *from = (const uint64_t *)&ha->st;
	uint64_t *to = (uint64_t *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}
