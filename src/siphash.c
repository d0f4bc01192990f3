/*
 * siphash.c — SipHash-2-4 and the process key. See siphash.h.
 *
 * Whole words go through siphash_bytes eight bytes at a time; only the
 * bytes of a word split across calls are gathered one by one.
 */
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csprng.h"
#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* Inlined: a login hashes half a dozen short strings (strpool, cancel
 * keys, startup sets), and a call per round cost a third of each hash. */
static inline __attribute__((always_inline)) void round1(struct siphash *s)
{
	s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0; s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2; s->v2 = ROTL(s->v2, 32);
}

static inline __attribute__((always_inline)) void word(struct siphash *s, uint64_t m)
{
	s->v3 ^= m;
	round1(s);
	round1(s);
	s->v0 ^= m;
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof w);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

static inline __attribute__((always_inline)) void init(struct siphash *s, uint64_t k0, uint64_t k1)
{
	s->v0 = k0 ^ 0x736f6d6570736575ull;
	s->v1 = k1 ^ 0x646f72616e646f6dull;
	s->v2 = k0 ^ 0x6c7967656e657261ull;
	s->v3 = k1 ^ 0x7465646279746573ull;
	s->tail = 0;
	s->n = 0;
}

void siphash_init(struct siphash *s, uint64_t k0, uint64_t k1)
{
	init(s, k0, k1);
}

void siphash_bytes(struct siphash *s, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t fill = s->n & 7;   /* bytes of s->tail already taken */
	s->n += len;
	if (fill) {
		for (; len > 0 && fill < 8; len--)
			s->tail |= (uint64_t)*b++ << (8 * fill++);
		if (fill < 8)
			return;
		word(s, s->tail);
		s->tail = 0;
	}
	for (; len >= 8; b += 8, len -= 8)
		word(s, load_le64(b));
	for (size_t i = 0; i < len; i++)
		s->tail |= (uint64_t)b[i] << (8 * i);
}

static inline __attribute__((always_inline)) uint64_t final(struct siphash *s)
{
	word(s, s->tail | ((uint64_t)(s->n & 0xff) << 56));
	s->v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		round1(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t siphash_final(struct siphash *s)
{
	return final(s);
}

/* One message whole, its state a local the compiler keeps in registers
 * (the streaming calls keep it in memory, a load and a store per step):
 * a login's short strings (strpool, cancel keys) hash in about 120
 * instructions rather than 170. */
uint64_t siphash_keyed(uint64_t k0, uint64_t k1, const void *p, size_t len)
{
	const uint8_t *b = p;
	struct siphash s;
	init(&s, k0, k1);
	s.n = len;
	size_t left = len;
	for (; left >= 8; b += 8, left -= 8)
		word(&s, load_le64(b));
	for (size_t i = 0; i < left; i++)
		s.tail |= (uint64_t)b[i] << (8 * i);
	return final(&s);
}

/* ---- the process key ---- */

static struct {
	bool made;
	uint64_t k0, k1;
} pk;

/* Should OpenSSL fail to give 16 bytes, the tables still work: the key is
 * then only as unguessable as the clock and the pid. */
static void make_key(void)
{
	uint64_t k[2];
	if (!csprng_bytes(k, sizeof k)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		k[0] = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
		k[1] = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&pk;
	}
	pk.k0 = k[0];
	pk.k1 = k[1];
	pk.made = true;
}

void siphash_start(struct siphash *s)
{
	if (!pk.made)
		make_key();
	siphash_init(s, pk.k0, pk.k1);
}

uint64_t siphash_of(const void *p, size_t len)
{
	if (!pk.made)
		make_key();
	return siphash_keyed(pk.k0, pk.k1, p, len);
}
