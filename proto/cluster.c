/*
 * Sibling load reports (docs/cluster-protocol.md). The layout is fixed
 * fields, then the name and the client hashes with their counts in front,
 * then the MAC over everything before it. Big-endian throughout.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/cluster.h"
#include "proto/cursor.h"

static const uint8_t magic[4] = {'T', 'W', 'C', 'R'};

static void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

/* Names go into logs and metric labels: letters, digits, '.', '_' and '-'. */
static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > CLUSTER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int mac(const uint8_t *key, size_t keylen, const uint8_t *buf, size_t len,
               uint8_t out[CLUSTER_MAC_LEN])
{
	unsigned int n = CLUSTER_MAC_LEN;

	if (!HMAC(EVP_sha256(), key, (int)keylen, buf, len, out, &n) || n != CLUSTER_MAC_LEN)
		return -1;
	return 0;
}

int cluster_report_pack(const struct cluster_report *r, const uint8_t *key, size_t keylen,
                        uint8_t *buf, size_t cap)
{
	size_t nl = strnlen(r->name, sizeof(r->name)), len;
	uint8_t *p = buf;

	if (!name_ok(r->name, nl) || r->n_recent > CLUSTER_RECENT_MAX)
		return -EINVAL;
	len = CLUSTER_FIXED_LEN + 1 + nl + 1 + (size_t)r->n_recent * 8 + CLUSTER_MAC_LEN;
	if (cap < len)
		return -ENOSPC;
	memcpy(p, magic, 4);
	p[4] = CLUSTER_VERSION;
	p[5] = r->flags;
	p[6] = r->role;
	p[7] = r->sync;
	put_u64(p + 8, r->seq);
	put_u64(p + 16, r->boot_id);
	put_u64(p + 24, r->wall_ms);
	put_u32(p + 32, r->allocs);
	put_u32(p + 36, r->capacity);
	put_u64(p + 40, r->bytes_per_s);
	put_u16(p + 48, r->cpu_permille);
	put_u16(p + 50, 0);
	p += CLUSTER_FIXED_LEN;
	*p++ = (uint8_t)nl;
	memcpy(p, r->name, nl);
	p += nl;
	*p++ = r->n_recent;
	for (unsigned i = 0; i < r->n_recent; i++, p += 8)
		put_u64(p, r->recent[i]);
	if (mac(key, keylen, buf, (size_t)(p - buf), p) < 0)
		return -EIO;
	return (int)len;
}

/* Everything after the MAC checked out: a malformed body is still refused. */
static int body_parse(struct cur *c, struct cluster_report *r)
{
	uint8_t ver, nl, nr;
	uint16_t rsv;

	memset(r, 0, sizeof(*r));
	if (cur_skip(c, 4) < 0 || cur_get_u8(c, &ver) < 0 || cur_get_u8(c, &r->flags) < 0 ||
	    cur_get_u8(c, &r->role) < 0 || cur_get_u8(c, &r->sync) < 0 ||
	    cur_get_u64(c, &r->seq) < 0 || cur_get_u64(c, &r->boot_id) < 0 ||
	    cur_get_u64(c, &r->wall_ms) < 0 || cur_get_u32(c, &r->allocs) < 0 ||
	    cur_get_u32(c, &r->capacity) < 0 || cur_get_u64(c, &r->bytes_per_s) < 0 ||
	    cur_get_u16(c, &r->cpu_permille) < 0 || cur_get_u16(c, &rsv) < 0)
		return -1;
	if (rsv != 0 || r->role > CLUSTER_ROLE_BACKUP || r->sync > CLUSTER_SYNC_SYNCED ||
	    (r->flags & ~(CLUSTER_F_DRAINING | CLUSTER_F_REDIRECTING)))
		return -1;
	if (cur_get_u8(c, &nl) < 0 || cur_get_bytes(c, r->name, nl) < 0 || !name_ok(r->name, nl))
		return -1;
	r->name[nl] = '\0';
	if (cur_get_u8(c, &nr) < 0 || nr > CLUSTER_RECENT_MAX)
		return -1;
	r->n_recent = nr;
	for (unsigned i = 0; i < nr; i++)
		if (cur_get_u64(c, &r->recent[i]) < 0)
			return -1;
	return cur_left(c) == 0 ? 0 : -1;
}

enum cluster_verdict cluster_report_unpack(const uint8_t *buf, size_t len, const uint8_t *key,
                                           size_t keylen, struct cluster_report *r)
{
	uint8_t want[CLUSTER_MAC_LEN];
	struct cur c;

	/* Cheap before expensive: the size and the header, then the MAC. */
	if (len < CLUSTER_FIXED_LEN + 2 + 1 + CLUSTER_MAC_LEN || len > CLUSTER_MSG_MAX ||
	    memcmp(buf, magic, 4) != 0 || buf[4] != CLUSTER_VERSION)
		return CLUSTER_MALFORMED;
	if (mac(key, keylen, buf, len - CLUSTER_MAC_LEN, want) < 0 ||
	    CRYPTO_memcmp(want, buf + len - CLUSTER_MAC_LEN, CLUSTER_MAC_LEN) != 0)
		return CLUSTER_BAD_HMAC;
	cur_init(&c, buf, len - CLUSTER_MAC_LEN);
	if (body_parse(&c, r) < 0)
		return CLUSTER_MALFORMED;
	return CLUSTER_OK;
}

bool cluster_report_fresh(const struct cluster_report *r, uint64_t last_boot, uint64_t last_seq,
                          uint64_t last_wall_ms, uint64_t now_wall_ms, uint64_t window_ms)
{
	uint64_t d = r->wall_ms > now_wall_ms ? r->wall_ms - now_wall_ms : now_wall_ms - r->wall_ms;

	if (d > window_ms)
		return false;
	if (r->boot_id != last_boot)
		return r->wall_ms > last_wall_ms;
	return r->seq > last_seq;
}

uint64_t cluster_client_hash(const uint8_t *key, size_t keylen, const struct tw_addr *client)
{
	uint8_t in[19], out[CLUSTER_MAC_LEN];
	uint64_t h = 0;

	in[0] = client->family;
	put_u16(in + 1, client->port);
	memcpy(in + 3, client->ip, 16);
	if (mac(key, keylen, in, sizeof(in), out) < 0)
		return 0;
	for (int i = 0; i < 8; i++)
		h = h << 8 | out[i];
	return h ? h : 1; /* 0 means "no entry" to the receiver */
}

const char *cluster_verdict_name(enum cluster_verdict v)
{
	switch (v) {
	case CLUSTER_OK:
		return "ok";
	case CLUSTER_BAD_HMAC:
		return "bad_hmac";
	case CLUSTER_STALE:
		return "stale";
	case CLUSTER_MALFORMED:
		return "malformed";
	case CLUSTER__COUNT:
		break;
	}
	return "?";
}

const char *cluster_role_name(enum cluster_role r)
{
	switch (r) {
	case CLUSTER_ROLE_STANDALONE:
		return "standalone";
	case CLUSTER_ROLE_MASTER:
		return "master";
	case CLUSTER_ROLE_BACKUP:
		return "backup";
	}
	return "?";
}

const char *cluster_sync_name(enum cluster_sync s)
{
	switch (s) {
	case CLUSTER_SYNC_NONE:
		return "none";
	case CLUSTER_SYNC_DOWN:
		return "down";
	case CLUSTER_SYNC_PARTIAL:
		return "partial";
	case CLUSTER_SYNC_SYNCED:
		return "synced";
	}
	return "?";
}
