/*
 * libFuzzer target for proto/cluster.c, the sibling load reports. The
 * first input byte picks a mode: even, the rest is a report as it comes off
 * the wire (most die at the MAC); odd, the target signs the rest with the
 * key first, as a sibling holding it would, so that the checks after the
 * MAC see every shape. A report that passes must pack back to the same
 * bytes (one encoding per report) and stay within CLUSTER_MSG_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/cluster.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "fuzz-cluster-secret-0123";
#define KEYLEN (sizeof(key) - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_report r;
	uint8_t *buf, again[CLUSTER_MSG_MAX];
	enum cluster_verdict v;
	size_t len;
	int n;

	if (size < 1)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	if ((data[0] & 1) && len >= CLUSTER_MAC_LEN) {
		unsigned int ml = CLUSTER_MAC_LEN;

		HMAC(EVP_sha256(), key, (int)KEYLEN, buf, len - CLUSTER_MAC_LEN,
		     buf + len - CLUSTER_MAC_LEN, &ml);
	}
	v = cluster_report_unpack(buf, len, key, KEYLEN, &r);
	CHECK(v == CLUSTER_OK || v == CLUSTER_BAD_HMAC || v == CLUSTER_MALFORMED);
	if (v == CLUSTER_OK) {
		CHECK(r.n_recent <= CLUSTER_RECENT_MAX);
		CHECK(strlen(r.name) >= 1 && strlen(r.name) <= CLUSTER_NAME_MAX);
		n = cluster_report_pack(&r, key, KEYLEN, again, sizeof(again));
		CHECK(n > 0 && (size_t)n == len && memcmp(again, buf, len) == 0);
	}
	free(buf);
	return 0;
}
