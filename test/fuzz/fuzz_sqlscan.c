/*
 * fuzz_sqlscan — the SQL scanner on arbitrary text. Byte 0 picks the
 * client encoding, byte 1 where to split; the rest is the SQL. Besides
 * crashes and over-reads (each piece is an exact-size copy), it checks
 * the scanner's promise: the text fed whole, in two pieces, in three, and
 * one byte at a time gives the same bits (the session-state ones too,
 * with a predicate that tracks the names starting with 't'); the quick
 * filter sqlscan_may_hold_state is never false where the scan finds a
 * session-state bit; and sqlscan_may_match without state is true exactly
 * where PREPARE, EXECUTE or DEALLOCATE stands in the text (either case),
 * and never false where the scan finds an own name.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlscan.h"
#include "sqlscan_feed.h"   /* feed_exact: each piece an exact-size heap copy */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Some names tracked, some not: both paths of the state grammar run. */
static bool tracked(const char *name, void *arg)
{
	(void)arg;
	return (name[0] | 0x20) == 't';
}

static unsigned scan(enum sqlscan_enc enc, const uint8_t *p, size_t n, size_t a, size_t b, int bytewise)
{
	struct sqlscan s;
	sqlscan_init(&s, "sluice_");
	sqlscan_set_encoding(&s, enc);
	sqlscan_set_tracked(&s, tracked, NULL);
	if (bytewise) {
		for (size_t i = 0; i < n; i++)
			feed_exact(&s, (const char *)p + i, 1);
	} else {
		feed_exact(&s, (const char *)p, a);
		feed_exact(&s, (const char *)p + a, b - a);
		feed_exact(&s, (const char *)p + b, n - b);
	}
	return sqlscan_finish(&s);
}

static bool may_hold(const uint8_t *p, size_t n)
{
	char *copy = malloc(n ? n : 1);
	if (!copy)
		abort();
	memcpy(copy, p, n);
	bool may = sqlscan_may_hold_state(copy, n);
	free(copy);
	return may;
}

static bool has_word(const uint8_t *p, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++)
		if (strncasecmp((const char *)p + i, w, wl) == 0)
			return true;
	return false;
}

static bool may_match(const uint8_t *p, size_t n, bool state)
{
	char *copy = malloc(n ? n : 1);
	if (!copy)
		abort();
	memcpy(copy, p, n);
	bool may = sqlscan_may_match(copy, n, state);
	free(copy);
	return may;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum sqlscan_enc enc = (enum sqlscan_enc)(data[0] % 5);
	const uint8_t *p = data + 2;
	size_t n = size - 2;
	size_t a = n * data[1] / 255, b = a + (n - a) / 2;

	unsigned whole = scan(enc, p, n, n, n, 0);
	if (whole & ~(unsigned)(SQLSCAN_REFUSE | SQLSCAN_DROPS_ALL | SQLSCAN_ST_ANY | SQLSCAN_CL_ANY))
		abort();
	if ((whole & SQLSCAN_UNSURE) && whole != SQLSCAN_UNSURE)
		abort();
	if ((whole & (SQLSCAN_ST_ANY | SQLSCAN_CL_ANY)) && !may_hold(p, n))
		abort();
	bool words = has_word(p, n, "prepare") || has_word(p, n, "execute") || has_word(p, n, "deallocate");
	if (may_match(p, n, false) != words)
		abort();
	if ((whole & (SQLSCAN_PREPARE_OWN | SQLSCAN_EXECUTE_OWN | SQLSCAN_DEALLOCATE_OWN)) && !words)
		abort();
	if ((whole & (SQLSCAN_ST_ANY | SQLSCAN_CL_ANY)) && !may_match(p, n, true))
		abort();
	if (scan(enc, p, n, a, a, 0) != whole)
		abort();
	if (scan(enc, p, n, a, b, 0) != whole)
		abort();
	if (n <= 2048 && scan(enc, p, n, 0, 0, 1) != whole)
		abort();
	if (enc == SQLSCAN_ENC_ASCII_SAFE) {
		/* no predicate there: a SET of a tracked name counts, nothing else differs */
		unsigned untracked = sqlscan_text("sluice_", (const char *)p, n);
		if ((untracked ^ whole) & ~(unsigned)(SQLSCAN_ST_SET | SQLSCAN_ST_SET_CONFIG))
			abort();
		if (whole & ~untracked)
			abort();
	}
	return 0;
}
