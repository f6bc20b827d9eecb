/*
 * libFuzzer harness for proto/mice.c and proto/mice_mh.c. Each input is
 * taken as an ICE description, as a run of ICE fragments, and as a whole
 * Binding Update/Acknowledgement. What decodes must encode back to the same
 * bytes (one encoding per description); what parses must rebuild into a
 * message that parses the same, and the authenticator must check without
 * crashing.
 */
#include <string.h>

#include "proto/mice.h"
#include "proto/mice_mh.h"

#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "twist-mice-example-key";

static void as_desc(const uint8_t *data, size_t size)
{
	static struct mice_ice d;
	static uint8_t out[MICE_DESC_MAX];
	int n;

	if (mice_ice_decode(&d, data, size) < 0)
		return;
	CHECK(mice_ice_valid(&d));
	n = mice_ice_encode(&d, out, sizeof(out));
	CHECK(n == (int)size);
	CHECK(memcmp(out, data, size) == 0);
}

/* Fragments: each chunk's length is its first byte. */
static void as_frags(const uint8_t *data, size_t size)
{
	static struct mice_reasm r;
	size_t at = 0;
	int rc = 0;

	mice_reasm_init(&r);
	while (at < size && rc == 0) {
		size_t l = data[at++];

		if (l > size - at)
			l = size - at;
		rc = mice_reasm_add(&r, data + at, l);
		at += l;
	}
	CHECK(r.len <= sizeof(r.buf));
	CHECK(rc != 1 || r.done);
}

static void same_desc(const struct mice_ice *a, const struct mice_ice *b)
{
	static uint8_t x[MICE_DESC_MAX], y[MICE_DESC_MAX];
	int nx = mice_ice_encode(a, x, sizeof(x)), ny = mice_ice_encode(b, y, sizeof(y));

	CHECK(nx > 0 && nx == ny && memcmp(x, y, (size_t)nx) == 0);
}

static void as_mh(const uint8_t *data, size_t size)
{
	static struct mice_mh m, back;
	static uint8_t out[MH_MAX_LEN];
	int n;

	if (mice_mh_parse(&m, data, size, MICE_OPT_EXPERIMENTAL) < 0)
		return;
	(void)mice_mh_auth_ok(&m, data, size, key, sizeof(key) - 1);
	n = mice_mh_build(&m, MICE_OPT_EXPERIMENTAL, m.has_auth ? key : NULL, sizeof(key) - 1, out,
	                  sizeof(out));
	if (n < 0)
		return; /* room for the authentication option may be missing */
	CHECK(mice_mh_parse(&back, out, (size_t)n, MICE_OPT_EXPERIMENTAL) == 0);
	CHECK(back.type == m.type && back.seq == m.seq && back.lifetime == m.lifetime);
	CHECK(back.has_ice == m.has_ice && back.has_auth == m.has_auth);
	CHECK(tw_addr_eq(&back.home, &m.home) && tw_addr_eq(&back.peer, &m.peer));
	if (m.has_auth)
		CHECK(mice_mh_auth_ok(&back, out, (size_t)n, key, sizeof(key) - 1));
	if (m.has_ice)
		same_desc(&m.ice, &back.ice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_desc(data, size);
	as_frags(data, size);
	as_mh(data, size);
	return 0;
}
