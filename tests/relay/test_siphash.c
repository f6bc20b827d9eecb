/* relay/siphash.c: the reference vectors (key 00..0f, message 00..n-1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relay/siphash.h"

static void test_vectors(void **state)
{
	static const struct {
		size_t n;
		uint64_t want;
	} v[] = {
	        {0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull},
	        {2, 0x0d6c8009d9a94f5aull},  {7, 0xab0200f58b01d137ull},
	        {8, 0x93f5f5799a932462ull},  {15, 0xa129ca6149be45e5ull},
	        {16, 0x3f2acc7f57c29bdbull},
	};
	uint8_t key[SIPHASH_KEY_LEN], msg[16];

	(void)state;
	for (unsigned i = 0; i < 16; i++)
		key[i] = msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(siphash(key, msg, v[i].n), v[i].want);
	/* another key, another hash */
	key[0] ^= 1;
	assert_int_not_equal(siphash(key, msg, 15), 0xa129ca6149be45e5ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
