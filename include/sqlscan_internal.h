/*
 * sqlscan_internal.h — shared by sqlscan.c and sqlscan_enc.c only.
 */
#ifndef SLUICE_SQLSCAN_INTERNAL_H
#define SLUICE_SQLSCAN_INTERNAL_H

#include "sqlscan.h"

/* In a client-only encoding: the byte as the lexer should see it, a later
 * byte of a multibyte character becoming a generic high byte (0x80). */
unsigned sqlscan_mb_step(const struct sqlscan *s, struct sqlscan_lane *L, unsigned raw);

#endif
