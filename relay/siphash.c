/*
 * Written from the paper rather than taken from OpenSSL: its SipHash is an
 * EVP_MAC, which costs a context allocation per call, and these hashes run
 * on request paths for inputs of 5 to 256 bytes.
 */
#include <string.h>

#include "relay/siphash.h"

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

static void rounds(struct sip *s, unsigned n)
{
	while (n--) {
		s->v0 += s->v1;
		s->v1 = rotl(s->v1, 13) ^ s->v0;
		s->v0 = rotl(s->v0, 32);
		s->v2 += s->v3;
		s->v3 = rotl(s->v3, 16) ^ s->v2;
		s->v0 += s->v3;
		s->v3 = rotl(s->v3, 21) ^ s->v0;
		s->v2 += s->v1;
		s->v1 = rotl(s->v1, 17) ^ s->v2;
		s->v2 = rotl(s->v2, 32);
	}
}

static void absorb(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	rounds(s, 2);
	s->v0 ^= m;
}

uint64_t siphash(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	struct sip s = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
	                k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
	uint8_t last[8] = {0};
	size_t n;

	for (n = len; n >= 8; n -= 8, p += 8)
		absorb(&s, le64(p));
	if (n)
		memcpy(last, p, n);
	last[7] = (uint8_t)len; /* the length's low byte tops the last word */
	absorb(&s, le64(last));
	s.v2 ^= 0xff;
	rounds(&s, 4);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
