/*
 * siphash.h — SipHash-2-4 (Aumasson and Bernstein), the keyed hash of
 * sluice's hash tables, and the process's own random key for it.
 *
 * Peers choose many of the strings sluice keys tables by: user and
 * database names, statement names and texts, parameter values. Under a key
 * they do not know they cannot choose strings that fall into one bucket.
 * The process key is made once, from the CSPRNG, on first use.
 *
 * INTERFACE ROUTINES
 *   siphash_init(s, k0, k1)      start a hash under the key (k0, k1) (the
 *                                key's bytes 0-7 and 8-15, little-endian)
 *   siphash_start(s)             start a hash under the process key
 *   siphash_bytes(s, p, len)     hash len more bytes (any split of the
 *                                message gives the same hash)
 *   siphash_final(s)             the 64-bit hash of all the bytes given
 *   siphash_keyed(k0, k1, p, len)   the same for one message, in one call
 *   siphash_of(p, len)           the hash of p under the process key
 */
#ifndef SLUICE_SIPHASH_H
#define SLUICE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;   /* bytes not yet in a whole word, low byte first */
	size_t n;        /* bytes taken so far */
};

void siphash_init(struct siphash *s, uint64_t k0, uint64_t k1);
void siphash_start(struct siphash *s);
void siphash_bytes(struct siphash *s, const void *p, size_t len);
uint64_t siphash_final(struct siphash *s);
uint64_t siphash_keyed(uint64_t k0, uint64_t k1, const void *p, size_t len);
uint64_t siphash_of(const void *p, size_t len);

#endif
