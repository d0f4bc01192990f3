/*
 * strpool.h — one shared, counted copy of each string that many
 * connections hold alike: user and database names, session parameter
 * values. Ten thousand clients of one application hold one "UTF8" between
 * them, not ten thousand copies.
 *
 * INTERFACE ROUTINES
 *   strpool_get(s)   the pool's copy of s, counted once more; NULL when
 *                    out of memory
 *   strpool_put(s)   give back one count of a string strpool_get returned
 *                    (NULL is a no-op); the last one frees it
 *   strpool_hold(s)  one more count of a string strpool_get returned: a
 *                    copy from one holder to another, without hashing it
 *
 * Two strings from the pool are equal exactly when their pointers are.
 */
#ifndef SLUICE_STRPOOL_H
#define SLUICE_STRPOOL_H

const char *strpool_get(const char *s);
void strpool_put(const char *s);
const char *strpool_hold(const char *s);

#endif
