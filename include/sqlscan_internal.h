/*
 * sqlscan_internal.h — shared by sqlscan.c and sqlscan_enc.c only.
 */
#ifndef SLUICE_SQLSCAN_INTERNAL_H
#define SLUICE_SQLSCAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlscan.h"

/* In a client-only encoding: the byte as the lexer should see it, a later
 * byte of a multibyte character becoming a generic high byte (0x80). */
unsigned sqlscan_mb_step(const struct sqlscan *s, struct sqlscan_lane *L, unsigned raw);

/* A hex digit's value, or -1. */
int sqlscan_hexval(unsigned c);
/* Decode a U&"..." body r[0..n) with escape character esc into out, at
 * most max bytes (a code point past ASCII becomes one 0x80); *bad when an
 * escape is malformed (decoding stops there). Returns the bytes written. */
size_t sqlscan_udecode(const unsigned char *r, size_t n, unsigned esc, char *out, size_t max,
		       bool *bad);

#endif
