/*
 * The only way untrusted bytes are read: a cursor whose getters fail with -1
 * when the buffer is short, and never move past its end. Values come out in
 * host order.
 */
#ifndef TWIST_PROTO_CURSOR_H
#define TWIST_PROTO_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cur {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static inline void cur_init(struct cur *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->pos = 0;
}

static inline size_t cur_left(const struct cur *c)
{
	return c->len - c->pos;
}

static inline const uint8_t *cur_ptr(const struct cur *c)
{
	return c->p + c->pos;
}

static inline int cur_skip(struct cur *c, size_t n)
{
	if (cur_left(c) < n)
		return -1;
	c->pos += n;
	return 0;
}

static inline int cur_get_bytes(struct cur *c, void *out, size_t n)
{
	if (cur_left(c) < n)
		return -1;
	memcpy(out, c->p + c->pos, n);
	c->pos += n;
	return 0;
}

/* A sub-cursor over the next n bytes; the parent moves past them. */
static inline int cur_get_sub(struct cur *c, size_t n, struct cur *sub)
{
	if (cur_left(c) < n)
		return -1;
	cur_init(sub, c->p + c->pos, n);
	c->pos += n;
	return 0;
}

static inline int cur_get_u8(struct cur *c, uint8_t *v)
{
	if (cur_left(c) < 1)
		return -1;
	*v = c->p[c->pos++];
	return 0;
}

static inline int cur_get_u16(struct cur *c, uint16_t *v)
{
	if (cur_left(c) < 2)
		return -1;
	*v = (uint16_t)(c->p[c->pos] << 8 | c->p[c->pos + 1]);
	c->pos += 2;
	return 0;
}

static inline int cur_get_u32(struct cur *c, uint32_t *v)
{
	const uint8_t *b = c->p + c->pos;

	if (cur_left(c) < 4)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	c->pos += 4;
	return 0;
}

static inline int cur_get_u64(struct cur *c, uint64_t *v)
{
	uint32_t hi = 0, lo = 0;

	if (cur_left(c) < 8)
		return -1;
	cur_get_u32(c, &hi);
	cur_get_u32(c, &lo);
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* Big-endian stores for writers that already checked their room. */
static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t peek_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t peek_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
