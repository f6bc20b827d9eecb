/*
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF"):
 * a keyed hash for tables indexed by what a client sends (source address,
 * username), so that nobody without the key can aim at one slot.
 */
#ifndef TWIST_RELAY_SIPHASH_H
#define TWIST_RELAY_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

uint64_t siphash(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len);

#endif
