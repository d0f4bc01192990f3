/*
 * csprng.h — cryptographically strong random bytes, cheaply.
 *
 * OpenSSL 3's RAND_bytes costs about ten thousand instructions a call,
 * whatever the size asked; a login asks several times for a few bytes
 * (md5 salt, SCRAM nonce, cancel key). These come from a buffer that
 * RAND_bytes refills a kilobyte at a time; bytes handed out are wiped
 * from it.
 *
 * INTERFACE ROUTINES
 *   csprng_bytes(out, n)   n random bytes; false if OpenSSL failed
 */
#ifndef SLUICE_CSPRNG_H
#define SLUICE_CSPRNG_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

bool csprng_bytes(void *out, size_t n) MUST_CHECK;

#endif
