/*
 * sqlscan_internal.h — shared by sqlscan.c, sqlscan_enc.c and
 * sqlscan_state.c only.
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

/* The tokens the grammars see. */
enum sqlscan_tok { T_IDENT, T_QIDENT, T_UIDENT, T_STRING, T_SEMI, T_OTHER };

/* The session-state grammar (sqlscan_state.c): one call per token it
 * wants. c is the byte of a one-byte T_OTHER ('(' ',' '*' ...), '0' for a
 * number, 0 for the others. */
void sqlscan_state_token(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t, unsigned c);

/* Does it want an identifier of len bytes (31 for any other token)?
 * A zeroed lane stands at a statement start, and wants its first token. */
static inline bool sqlscan_state_wants(const struct sqlscan_lane *L, size_t len)
{
	return L->st == 0 || ((L->st_want >> (len < 31 ? len : 31)) & 1);
}

#endif
