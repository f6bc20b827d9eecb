/* proto/cluster.c: sibling load reports, as tables of good and bad inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/cluster.h"

static const uint8_t key[] = "0123456789abcdef0123";
#define KEYLEN (sizeof(key) - 1)

/* Signs a mutated body as a sender holding the key would: the parser's checks after the MAC. */
static void resign(uint8_t *buf, size_t len)
{
	unsigned int n = CLUSTER_MAC_LEN;

	assert_non_null(HMAC(EVP_sha256(), key, (int)KEYLEN, buf, len - CLUSTER_MAC_LEN,
	                     buf + len - CLUSTER_MAC_LEN, &n));
}

static struct cluster_report sample(void)
{
	struct cluster_report r = {
	        .name = "b1",
	        .seq = 42,
	        .boot_id = 0x1122334455667788ull,
	        .wall_ms = 1700000000000ull,
	        .allocs = 399,
	        .capacity = 1000,
	        .bytes_per_s = 123456789,
	        .cpu_permille = 250,
	        .flags = CLUSTER_F_REDIRECTING,
	        .role = CLUSTER_ROLE_MASTER,
	        .sync = CLUSTER_SYNC_SYNCED,
	        .n_recent = 2,
	        .recent = {7, 0xffffffffffffffffull},
	};

	return r;
}

static void test_roundtrip(void **state)
{
	struct cluster_report in = sample(), out;
	uint8_t buf[CLUSTER_MSG_MAX];
	int n = cluster_report_pack(&in, key, KEYLEN, buf, sizeof(buf));

	(void)state;
	assert_int_equal(n, CLUSTER_FIXED_LEN + 1 + 2 + 1 + 16 + CLUSTER_MAC_LEN);
	assert_int_equal(cluster_report_unpack(buf, (size_t)n, key, KEYLEN, &out), CLUSTER_OK);
	assert_memory_equal(&in, &out, sizeof(in));
	/* the largest report fits CLUSTER_MSG_MAX exactly */
	memset(in.name, 'x', CLUSTER_NAME_MAX);
	in.name[CLUSTER_NAME_MAX] = '\0';
	in.n_recent = CLUSTER_RECENT_MAX;
	assert_int_equal(cluster_report_pack(&in, key, KEYLEN, buf, sizeof(buf)), CLUSTER_MSG_MAX);
	assert_int_equal(cluster_report_unpack(buf, CLUSTER_MSG_MAX, key, KEYLEN, &out),
	                 CLUSTER_OK);
}

static void test_pack_refuses(void **state)
{
	struct cluster_report r = sample();
	uint8_t buf[CLUSTER_MSG_MAX];

	(void)state;
	r.n_recent = CLUSTER_RECENT_MAX + 1;
	assert_true(cluster_report_pack(&r, key, KEYLEN, buf, sizeof(buf)) < 0);
	r = sample();
	strcpy(r.name, "a b");
	assert_true(cluster_report_pack(&r, key, KEYLEN, buf, sizeof(buf)) < 0);
	r.name[0] = '\0';
	assert_true(cluster_report_pack(&r, key, KEYLEN, buf, sizeof(buf)) < 0);
	r = sample();
	assert_true(cluster_report_pack(&r, key, KEYLEN, buf, 40) < 0);
}

/* Each mutation of a good report and the verdict it must get. */
static void test_unpack_table(void **state)
{
	static const struct {
		const char *what;
		size_t off;   /* byte to change; SIZE_MAX: none */
		uint8_t xor ; /* what to flip there */
		int trim;     /* bytes cut off the end (negative: added) */
		bool resign;  /* MAC recomputed after the change (a sender with the key) */
		enum cluster_verdict want;
	} t[] = {
	        {"bad magic", 0, 0x01, 0, false, CLUSTER_MALFORMED},
	        {"bad version", 4, 0x02, 0, false, CLUSTER_MALFORMED},
	        {"flipped counter", 33, 0x01, 0, false, CLUSTER_BAD_HMAC},
	        {"flipped mac", 100, 0x80, 0, false, CLUSTER_BAD_HMAC},
	        {"short", SIZE_MAX, 0, 10, false, CLUSTER_BAD_HMAC},
	        {"tiny", SIZE_MAX, 0, 80, false, CLUSTER_MALFORMED},
	        {"unknown flag, signed", 5, 0x80, 0, true, CLUSTER_MALFORMED},
	        {"unknown role, signed", 6, 0x10, 0, true, CLUSTER_MALFORMED},
	        {"reserved set, signed", 51, 0x01, 0, true, CLUSTER_MALFORMED},
	        {"name length past the end, signed", 52, 0x40, 0, true, CLUSTER_MALFORMED},
	        {"bad name byte, signed", 53, 0x20 ^ 'b', 0, true, CLUSTER_MALFORMED},
	        {"too many recent, signed", 55, 0x40, 0, true, CLUSTER_MALFORMED},
	};
	struct cluster_report r = sample(), out;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t buf[CLUSTER_MSG_MAX + 8];
		int n = cluster_report_pack(&r, key, KEYLEN, buf, sizeof(buf));
		size_t len;

		assert_true(n > 0);
		len = (size_t)n - (size_t)t[i].trim;
		if (t[i].off != SIZE_MAX && t[i].off < len)
			buf[t[i].off] ^= t[i].xor ;
		if (t[i].resign)
			resign(buf, len);
		print_message("%s\n", t[i].what);
		assert_int_equal(cluster_report_unpack(buf, len, key, KEYLEN, &out), t[i].want);
	}
	/* the wrong key */
	{
		uint8_t buf[CLUSTER_MSG_MAX];
		int n = cluster_report_pack(&r, key, KEYLEN, buf, sizeof(buf));

		assert_int_equal(
		        cluster_report_unpack(buf, (size_t)n, (const uint8_t *)"x", 1, &out),
		        CLUSTER_BAD_HMAC);
	}
}

static void test_fresh(void **state)
{
	struct cluster_report r = sample();
	uint64_t now = r.wall_ms;

	(void)state;
	assert_true(cluster_report_fresh(&r, r.boot_id, 41, now, now, 30000));
	assert_false(cluster_report_fresh(&r, r.boot_id, 42, now, now, 30000)); /* replay */
	assert_false(cluster_report_fresh(&r, r.boot_id, 43, now, now, 30000)); /* reorder */
	assert_false(cluster_report_fresh(&r, r.boot_id, 1, now, now + 30001, 30000));
	assert_false(cluster_report_fresh(&r, r.boot_id, 1, now, now - 30001, 30000));
	/* a new boot starts again at 1, but only forward in time */
	r.seq = 1;
	assert_true(cluster_report_fresh(&r, 99, 500, now - 1, now, 30000));
	assert_false(cluster_report_fresh(&r, 99, 500, now, now, 30000));
}

static void test_client_hash(void **state)
{
	struct tw_addr a, b;

	(void)state;
	assert_int_equal(tw_addr_parse("192.0.2.1:5000", 0, &a), 0);
	b = a;
	assert_int_equal(cluster_client_hash(key, KEYLEN, &a),
	                 cluster_client_hash(key, KEYLEN, &b));
	assert_true(cluster_client_hash(key, KEYLEN, &a) != 0);
	b.port = 5001;
	assert_true(cluster_client_hash(key, KEYLEN, &a) != cluster_client_hash(key, KEYLEN, &b));
	assert_true(cluster_client_hash(key, KEYLEN, &a) !=
	            cluster_client_hash((const uint8_t *)"other key 123456", 16, &a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),    cmocka_unit_test(test_pack_refuses),
	        cmocka_unit_test(test_unpack_table), cmocka_unit_test(test_fresh),
	        cmocka_unit_test(test_client_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
