#include "client/ice/ice_msg.h"

#include <errno.h>
#include <string.h>

int ice_msg_check(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], const char *rufrag,
                  const char *lufrag, const char *rpwd, const struct ice_check_req *r)
{
	char user[ICE_UFRAG_MAX * 2 + 2];
	size_t rl = strlen(rufrag), ll = strlen(lufrag);
	struct stun_wr w;

	if (rl > ICE_UFRAG_MAX || ll > ICE_UFRAG_MAX)
		return -EINVAL;
	memcpy(user, rufrag, rl);
	user[rl] = ':';
	memcpy(user + rl + 1, lufrag, ll);
	stun_wr_init(&w, buf, cap, STUN_BINDING, STUN_REQUEST, tid);
	stun_wr_attr(&w, STUN_A_USERNAME, user, rl + 1 + ll);
	stun_wr_u32(&w, STUN_A_PRIORITY, r->prio);
	stun_wr_u64(&w, r->controlling ? STUN_A_ICE_CONTROLLING : STUN_A_ICE_CONTROLLED, r->tb);
	if (r->use_cand)
		stun_wr_attr(&w, STUN_A_USE_CANDIDATE, NULL, 0);
	stun_wr_integrity(&w, (const uint8_t *)rpwd, strlen(rpwd));
	stun_wr_fingerprint(&w);
	return stun_wr_finish(&w);
}

int ice_msg_success(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
                    const struct tw_addr *mapped, const char *lpwd)
{
	struct stun_wr w;

	stun_wr_init(&w, buf, cap, STUN_BINDING, STUN_SUCCESS, tid);
	stun_wr_xaddr(&w, STUN_A_XOR_MAPPED_ADDRESS, mapped);
	stun_wr_integrity(&w, (const uint8_t *)lpwd, strlen(lpwd));
	stun_wr_fingerprint(&w);
	return stun_wr_finish(&w);
}

int ice_msg_error(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN], int code,
                  const char *lpwd)
{
	struct stun_wr w;

	stun_wr_init(&w, buf, cap, STUN_BINDING, STUN_ERROR, tid);
	stun_wr_error(&w, STUN_A_ERROR_CODE, code, NULL);
	if (lpwd)
		stun_wr_integrity(&w, (const uint8_t *)lpwd, strlen(lpwd));
	stun_wr_fingerprint(&w);
	return stun_wr_finish(&w);
}

static int read_role(const struct stun_msg *m, struct ice_check_req *out)
{
	const struct stun_attr *ing = stun_msg_find(m, STUN_A_ICE_CONTROLLING);
	const struct stun_attr *ed = stun_msg_find(m, STUN_A_ICE_CONTROLLED);

	if ((ing != NULL) == (ed != NULL))
		return -EBADMSG;
	out->controlling = ing != NULL;
	return stun_attr_u64(m, ing ? ing : ed, &out->tb) < 0 ? -EBADMSG : 0;
}

int ice_msg_check_read(const struct stun_msg *m, const char *lufrag, const char *lpwd,
                       struct ice_check_req *out)
{
	const struct stun_attr *u = stun_msg_find(m, STUN_A_USERNAME);
	const struct stun_attr *p = stun_msg_find(m, STUN_A_PRIORITY);
	size_t ll = strlen(lufrag);

	memset(out, 0, sizeof(*out));
	if (!u || m->mi < 0)
		return -EBADMSG;
	/* cheap before expensive: the name before the HMAC */
	if (u->len <= ll || memcmp(stun_attr_val(m, u), lufrag, ll) != 0 ||
	    stun_attr_val(m, u)[ll] != ':')
		return -EACCES;
	if (!stun_msg_integrity_ok(m, (const uint8_t *)lpwd, strlen(lpwd)))
		return -EACCES;
	if (!p || stun_attr_u32(m, p, &out->prio) < 0 || out->prio == 0)
		return -EBADMSG;
	if (read_role(m, out) < 0)
		return -EBADMSG;
	out->use_cand = stun_msg_find(m, STUN_A_USE_CANDIDATE) != NULL;
	return 0;
}

bool ice_msg_answer_ok(const struct stun_msg *m, const char *rpwd)
{
	return m->mi >= 0 && stun_msg_integrity_ok(m, (const uint8_t *)rpwd, strlen(rpwd));
}
