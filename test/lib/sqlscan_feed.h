/*
 * sqlscan_feed.h — for the scanner's unit tests (test/unit/sqlscan*.c) and
 * its fuzzer (test/fuzz/fuzz_sqlscan.c):
 * feed one piece from an exact-size heap copy, so that AddressSanitizer
 * sees any read past the piece.
 */
#ifndef SLUICE_TEST_SQLSCAN_FEED_H
#define SLUICE_TEST_SQLSCAN_FEED_H

#include <stdlib.h>
#include <string.h>

#include "sqlscan.h"

static inline void feed_exact(struct sqlscan *s, const char *p, size_t n)
{
	char *copy = malloc(n ? n : 1);
	if (!copy)
		abort();
	memcpy(copy, p, n);
	sqlscan_feed(s, copy, n);
	free(copy);
}

#endif
