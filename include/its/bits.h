/* Little/big-endian loads and bit-field helpers. Table entries in guest RAM
 * are little-endian; QEMU stream integers are big-endian. */
#ifndef ITS_BITS_H
#define ITS_BITS_H

#include <stdint.h>

#define ITS_GENMASK(hi, lo) \
	((~0ULL >> (63 - (hi))) & (~0ULL << (lo)))
#define ITS_FIELD(v, hi, lo) (((uint64_t)(v) & ITS_GENMASK(hi, lo)) >> (lo))
#define ITS_BIT(n) (1ULL << (n))

static inline uint64_t its_field(uint64_t v, unsigned hi, unsigned lo)
{
	return (v & ITS_GENMASK(hi, lo)) >> lo;
}

static inline uint64_t its_field_put(uint64_t v, unsigned hi, unsigned lo,
				     uint64_t x)
{
	return (v & ~ITS_GENMASK(hi, lo)) | ((x << lo) & ITS_GENMASK(hi, lo));
}

static inline uint16_t its_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t its_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t its_le64(const uint8_t *p)
{
	return (uint64_t)its_le32(p) | (uint64_t)its_le32(p + 4) << 32;
}

static inline void its_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void its_put_le64(uint8_t *p, uint64_t v)
{
	its_put_le32(p, (uint32_t)v);
	its_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t its_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t its_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t its_be64(const uint8_t *p)
{
	return (uint64_t)its_be32(p) << 32 | its_be32(p + 4);
}

/* a + b without wrapping: returns 0 and stores the sum, or -1 on overflow */
static inline int its_add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum) ? -1 : 0;
}

#endif
