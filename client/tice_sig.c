#include "client/tice_sig.h"

#include <errno.h>
#include <string.h>

/* The two structs are kept plain so that this is a field copy (docs/mice.md §2.3). */
void tice_cand_to_mice(const struct ice_cand *c, struct mice_cand *m)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)c->type; /* both enums: host 0, srflx 1, prflx 2, relay 3 */
	m->component = c->comp;
	m->transport = MICE_TR_UDP; /* the agent reaches peers over UDP only */
	m->priority = c->prio;
	memcpy(m->foundation, c->foundation, sizeof(m->foundation));
	m->addr = c->addr;
	m->related = c->rel;
}

void tice_cand_from_mice(const struct mice_cand *m, struct ice_cand *c)
{
	memset(c, 0, sizeof(*c));
	c->type = (enum ice_cand_type)m->type;
	c->comp = m->component;
	c->prio = m->priority;
	memcpy(c->foundation, m->foundation, sizeof(c->foundation));
	c->addr = m->addr;
	c->rel = m->related;
	c->base = -1;
}

int tice_desc_local(const struct ice_agent *a, struct mice_ice *d)
{
	struct ice_cand c[MICE_MAX_CANDS];
	const char *u, *p;
	size_t n = ice_local_candidates(a, c, MICE_MAX_CANDS);

	memset(d, 0, sizeof(*d));
	ice_local_credentials(a, &u, &p);
	if (strlen(u) > MICE_UFRAG_MAX || strlen(p) > MICE_PWD_MAX || n == 0)
		return -EINVAL; /* an offer names at least one candidate (docs/mice.md §2.2) */
	strcpy(d->ufrag, u);
	strcpy(d->pwd, p);
	d->n_cands = (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		tice_cand_to_mice(&c[i], &d->cand[i]);
	return mice_ice_valid(d) ? 0 : -EINVAL;
}

static int build(const struct tice_sig *s, struct mice_mh *m, const struct mice_ice *ice,
                 uint8_t *out, size_t cap)
{
	m->home = s->home;
	m->lifetime = s->lifetime;
	m->spi = s->spi;
	m->has_auth = true;
	if (ice) {
		m->has_ice = true;
		m->ice = *ice;
	}
	return mice_mh_build(m, s->opt_type, s->key, s->keylen, out, cap);
}

int tice_bu_build(const struct tice_sig *s, uint16_t seq, const struct tw_addr *peer,
                  const struct mice_ice *ice, uint8_t *out, size_t cap)
{
	static struct mice_mh m; /* large (a description): not on the stack */

	memset(&m, 0, sizeof(m));
	m.type = MH_TYPE_BU;
	m.seq = seq;
	m.bu_flags = MH_BU_A | MH_BU_H;
	if (peer)
		m.peer = *peer;
	return build(s, &m, ice, out, cap);
}

int tice_ba_build(const struct tice_sig *s, uint16_t seq, const struct tw_addr *mn_home,
                  const struct mice_ice *ice, uint8_t *out, size_t cap)
{
	static struct mice_mh m;

	memset(&m, 0, sizeof(m));
	m.type = MH_TYPE_BA;
	m.status = MH_ST_ACCEPTED;
	m.seq = seq;
	m.peer = *mn_home;
	return build(s, &m, ice, out, cap);
}

int tice_msg_read(const struct tice_sig *s, struct mice_mh *m, const uint8_t *p, size_t len)
{
	if (mice_mh_parse(m, p, len, s->opt_type) < 0)
		return -EBADMSG;
	/* the HA re-signs with our key everything it sends us (docs/mice.md §6) */
	if (!m->has_auth || m->spi != s->spi || !mice_mh_auth_ok(m, p, len, s->key, s->keylen))
		return -EACCES;
	return 0;
}
