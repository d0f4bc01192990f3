/*
 * stmtshape.h — what PostgreSQL said a prepared statement takes and
 * returns: the body of its ParameterDescription ('t'), and of its
 * RowDescription ('T') or NoData ('n'), kept as shared, reference-counted
 * copies (one copy per distinct body, however many hold it).
 *
 * Two shapes are the same when a client told one can read what the other
 * gives: the same parameter types; the same result columns by name, type,
 * size and type modifier. Where a column comes from (table OID, column
 * number) and its format code are not compared: the first changes when a
 * table is recreated alike, the second is chosen by each Bind.
 *
 * INTERFACE ROUTINES
 *   shape_get(kind, body, len)   a shared copy, with one reference; NULL
 *                                when out of memory or not well formed
 *   shape_hold(sh) / shape_put(sh)   take / drop a reference (NULL is fine)
 *   shape_same(a, b)             the comparison above (NULL: unknown, never
 *                                the same as anything)
 *   shape_count()                distinct shapes held (tests, SHOW)
 */
#ifndef SLUICE_STMTSHAPE_H
#define SLUICE_STMTSHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "htab.h"

struct shape {
	struct htab_node node; /* in the table of shapes */
	unsigned refs;
	char kind;             /* 't', 'T' or 'n' */
	uint32_t len;
	uint8_t body[];
};

struct shape *shape_get(char kind, const uint8_t *body, size_t len);
struct shape *shape_hold(struct shape *sh);
void shape_put(struct shape *sh);
bool shape_same(const struct shape *a, const struct shape *b);
size_t shape_count(void);

#endif
