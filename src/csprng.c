/*
 * csprng.c — random bytes from a buffer RAND_bytes refills. See csprng.h.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "csprng.h"

#define POOL_SIZE 1024

static unsigned char pool[POOL_SIZE];
static size_t left;   /* unused bytes, at the end of pool */

bool csprng_bytes(void *out, size_t n)
{
	unsigned char *o = out;
	while (n > 0) {
		if (left == 0) {
			if (RAND_bytes(pool, sizeof pool) != 1)
				return false;
			left = sizeof pool;
		}
		size_t take = n < left ? n : left;
		unsigned char *from = pool + sizeof pool - left;
		memcpy(o, from, take);
		OPENSSL_cleanse(from, take);
		left -= take;
		o += take;
		n -= take;
	}
	return true;
}
