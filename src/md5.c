/*
 * md5.c — MD5 (RFC 1321), for PostgreSQL's md5 password scheme only
 * (md5auth.c); see md5.h.
 *
 * Our own rather than OpenSSL's: a login by md5 hashes one block, and
 * EVP's init, update and final around it cost about 1,300 instructions
 * more than the block itself (PgBouncer and PostgreSQL carry their own
 * MD5 too). The state holds what the hash was made of: wiped at the end.
 */
#include <string.h>

#include "md5.h"

#define F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define G(b, c, d) ((c) ^ ((d) & ((b) ^ (c))))
#define H(b, c, d) ((b) ^ (c) ^ (d))
#define I(b, c, d) ((c) ^ ((b) | ~(d)))
#define ROTL(x, s) (((x) << (s)) | ((x) >> (32 - (s))))
#define STEP(f, a, b, c, d, k, s, t) \
	do { (a) += f((b), (c), (d)) + x[k] + (t); (a) = ROTL((a), (s)) + (b); } while (0)

static void block(uint32_t h[4], const uint8_t *p)
{
	uint32_t x[16];
	for (int i = 0; i < 16; i++) {
		memcpy(&x[i], p + 4 * i, 4);   /* little-endian words */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		x[i] = __builtin_bswap32(x[i]);
#endif
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	STEP(F, a, b, c, d, 0, 7, 0xd76aa478u); STEP(F, d, a, b, c, 1, 12, 0xe8c7b756u);
	STEP(F, c, d, a, b, 2, 17, 0x242070dbu); STEP(F, b, c, d, a, 3, 22, 0xc1bdceeeu);
	STEP(F, a, b, c, d, 4, 7, 0xf57c0fafu); STEP(F, d, a, b, c, 5, 12, 0x4787c62au);
	STEP(F, c, d, a, b, 6, 17, 0xa8304613u); STEP(F, b, c, d, a, 7, 22, 0xfd469501u);
	STEP(F, a, b, c, d, 8, 7, 0x698098d8u); STEP(F, d, a, b, c, 9, 12, 0x8b44f7afu);
	STEP(F, c, d, a, b, 10, 17, 0xffff5bb1u); STEP(F, b, c, d, a, 11, 22, 0x895cd7beu);
	STEP(F, a, b, c, d, 12, 7, 0x6b901122u); STEP(F, d, a, b, c, 13, 12, 0xfd987193u);
	STEP(F, c, d, a, b, 14, 17, 0xa679438eu); STEP(F, b, c, d, a, 15, 22, 0x49b40821u);
	STEP(G, a, b, c, d, 1, 5, 0xf61e2562u); STEP(G, d, a, b, c, 6, 9, 0xc040b340u);
	STEP(G, c, d, a, b, 11, 14, 0x265e5a51u); STEP(G, b, c, d, a, 0, 20, 0xe9b6c7aau);
	STEP(G, a, b, c, d, 5, 5, 0xd62f105du); STEP(G, d, a, b, c, 10, 9, 0x02441453u);
	STEP(G, c, d, a, b, 15, 14, 0xd8a1e681u); STEP(G, b, c, d, a, 4, 20, 0xe7d3fbc8u);
	STEP(G, a, b, c, d, 9, 5, 0x21e1cde6u); STEP(G, d, a, b, c, 14, 9, 0xc33707d6u);
	STEP(G, c, d, a, b, 3, 14, 0xf4d50d87u); STEP(G, b, c, d, a, 8, 20, 0x455a14edu);
	STEP(G, a, b, c, d, 13, 5, 0xa9e3e905u); STEP(G, d, a, b, c, 2, 9, 0xfcefa3f8u);
	STEP(G, c, d, a, b, 7, 14, 0x676f02d9u); STEP(G, b, c, d, a, 12, 20, 0x8d2a4c8au);
	STEP(H, a, b, c, d, 5, 4, 0xfffa3942u); STEP(H, d, a, b, c, 8, 11, 0x8771f681u);
	STEP(H, c, d, a, b, 11, 16, 0x6d9d6122u); STEP(H, b, c, d, a, 14, 23, 0xfde5380cu);
	STEP(H, a, b, c, d, 1, 4, 0xa4beea44u); STEP(H, d, a, b, c, 4, 11, 0x4bdecfa9u);
	STEP(H, c, d, a, b, 7, 16, 0xf6bb4b60u); STEP(H, b, c, d, a, 10, 23, 0xbebfbc70u);
	STEP(H, a, b, c, d, 13, 4, 0x289b7ec6u); STEP(H, d, a, b, c, 0, 11, 0xeaa127fau);
	STEP(H, c, d, a, b, 3, 16, 0xd4ef3085u); STEP(H, b, c, d, a, 6, 23, 0x04881d05u);
	STEP(H, a, b, c, d, 9, 4, 0xd9d4d039u); STEP(H, d, a, b, c, 12, 11, 0xe6db99e5u);
	STEP(H, c, d, a, b, 15, 16, 0x1fa27cf8u); STEP(H, b, c, d, a, 2, 23, 0xc4ac5665u);
	STEP(I, a, b, c, d, 0, 6, 0xf4292244u); STEP(I, d, a, b, c, 7, 10, 0x432aff97u);
	STEP(I, c, d, a, b, 14, 15, 0xab9423a7u); STEP(I, b, c, d, a, 5, 21, 0xfc93a039u);
	STEP(I, a, b, c, d, 12, 6, 0x655b59c3u); STEP(I, d, a, b, c, 3, 10, 0x8f0ccc92u);
	STEP(I, c, d, a, b, 10, 15, 0xffeff47du); STEP(I, b, c, d, a, 1, 21, 0x85845dd1u);
	STEP(I, a, b, c, d, 8, 6, 0x6fa87e4fu); STEP(I, d, a, b, c, 15, 10, 0xfe2ce6e0u);
	STEP(I, c, d, a, b, 6, 15, 0xa3014314u); STEP(I, b, c, d, a, 13, 21, 0x4e0811a1u);
	STEP(I, a, b, c, d, 4, 6, 0xf7537e82u); STEP(I, d, a, b, c, 11, 10, 0xbd3af235u);
	STEP(I, c, d, a, b, 2, 15, 0x2ad7d2bbu); STEP(I, b, c, d, a, 9, 21, 0xeb86d391u);
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	explicit_bzero(x, sizeof x);
}

void md5_init(struct md5 *m)
{
	m->h[0] = 0x67452301u;
	m->h[1] = 0xefcdab89u;
	m->h[2] = 0x98badcfeu;
	m->h[3] = 0x10325476u;
	m->n = 0;
}

void md5_update(struct md5 *m, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t have = (size_t)(m->n & 63);
	m->n += len;
	if (have) {
		size_t take = 64 - have < len ? 64 - have : len;
		memcpy(m->buf + have, p, take);
		p += take;
		len -= take;
		if (have + take < 64)
			return;
		block(m->h, m->buf);
	}
	for (; len >= 64; p += 64, len -= 64)
		block(m->h, p);
	memcpy(m->buf, p, len);
}

void md5_final(struct md5 *m, uint8_t out[MD5_LEN])
{
	uint64_t bits = m->n * 8;
	size_t have = (size_t)(m->n & 63);
	m->buf[have++] = 0x80;
	if (have > 56) {
		memset(m->buf + have, 0, 64 - have);
		block(m->h, m->buf);
		have = 0;
	}
	memset(m->buf + have, 0, 56 - have);
	for (int i = 0; i < 8; i++)
		m->buf[56 + i] = (uint8_t)(bits >> (8 * i));
	block(m->h, m->buf);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(m->h[i] >> (8 * j));
	explicit_bzero(m, sizeof *m);
}
