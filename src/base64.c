/*
 * base64.c — strict standard base64; see base64.h.
 */
#include <limits.h>
#include <openssl/evp.h>

#include "base64.h"

bool base64_encode(const uint8_t *src, size_t n, char *out, size_t outlen)
{
	size_t need = base64_encoded_len(n);

	if (n > INT_MAX / 2 || outlen < need + 1)
		return false;
	if (n == 0) {
		out[0] = '\0';
		return true;
	}
	return EVP_EncodeBlock((unsigned char *)out, src, (int)n) == (int)need;
}

/* The 6-bit value of an alphabet character, or -1. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

bool base64_decode(const char *src, size_t len, uint8_t *out, size_t outmax, size_t *outn)
{
	size_t pad = 0, n = 0;

	*outn = 0;
	if (len % 4 != 0)
		return false;
	if (len > 0 && src[len - 1] == '=')
		pad = (len > 1 && src[len - 2] == '=') ? 2 : 1;
	if (len / 4 * 3 - pad > outmax)
		return false;

	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		size_t chars = last ? 4 - pad : 4;   /* 2, 3 or 4 */
		uint32_t acc = 0;

		for (size_t k = 0; k < 4; k++) {
			int v = 0;
			if (k < chars) {
				v = b64_value((unsigned char)src[i + k]);
				if (v < 0)
					return false;
			}
			acc = (acc << 6) | (uint32_t)v;
		}
		/* Bits below the last whole byte must be zero (canonical form). */
		if ((chars == 2 && (acc & 0xffff)) || (chars == 3 && (acc & 0xff)))
			return false;
		out[n++] = (uint8_t)(acc >> 16);
		if (chars >= 3)
			out[n++] = (uint8_t)(acc >> 8);
		if (chars == 4)
			out[n++] = (uint8_t)acc;
	}
	*outn = n;
	return true;
}
