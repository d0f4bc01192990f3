/*
 * base64.h — standard base64 (RFC 4648 section 4, with padding), strict.
 *
 * INTERFACE ROUTINES
 *   base64_encoded_len(n)                       characters for n bytes (no NUL)
 *   base64_encode(src, n, out, outlen)          NUL-terminated text in out
 *   base64_decode(src, len, out, outmax, &n)    strict: length a multiple of
 *        4, alphabet only, '=' only as final padding, unused bits zero (so
 *        every byte string has exactly one accepted encoding); never reads
 *        past len and never writes past outmax
 *
 * Encoding goes through OpenSSL's EVP_EncodeBlock; decoding is our own
 * because EVP_DecodeBlock skips whitespace and returns padding as zeros.
 */
#ifndef SLUICE_BASE64_H
#define SLUICE_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

static inline size_t base64_encoded_len(size_t n) { return 4 * ((n + 2) / 3); }

bool base64_encode(const uint8_t *src, size_t n, char *out, size_t outlen) MUST_CHECK;
bool base64_decode(const char *src, size_t len, uint8_t *out, size_t outmax,
		   size_t *outn) MUST_CHECK;

#endif
