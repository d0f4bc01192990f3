/*
 * auth_cache.h — secrets looked up with auth_query, kept a while, within
 * bounds a stranger cannot push past.
 *
 * Keyed by (database, user). An entry is positive (the secret PostgreSQL
 * returned) or negative (no such user, or no usable secret). Pure: no
 * clock, no configuration, no I/O; callers pass the time and the limits,
 * so the unit test drives it directly.
 *
 * Bounds: at most max_entries entries and max_bytes bytes of entries
 * (each entry's struct, names and secret; the bucket array, at most 8
 * bytes per allowed entry rounded up to a power of two, comes on top: it
 * grows with the entries, and is cut back when the limit is lowered).
 * Lookups hash the key with SipHash-2-4 (siphash.h) under the seed given,
 * random per process, so chosen names cannot pile into one bucket. Entries sit on two FIFO lists, positive and negative, oldest
 * first. To make room: expired entries go first (those at the old end of
 * a list; with one lifetime per list that is all of them), then the oldest negative
 * ones, then (for a positive entry only) the oldest positive ones. A
 * negative entry never evicts a positive one: unknown names cannot push
 * known users out; when only positive entries fill the cache a negative
 * entry is not kept.
 *
 * INTERFACE ROUTINES
 *   auth_cache_new(seed)              an empty cache with both bounds 0 (it
 *                                     keeps nothing until limits are set);
 *                                     NULL when out of memory
 *   auth_cache_free(ac)               free it and cleanse its secrets; NULL: no-op
 *   auth_cache_set_limits(ac, n, b)   set the bounds; evicts down to them now
 *   auth_cache_find(ac, db, user, now, &secret)
 *                                     true when an unexpired entry is there;
 *                                     *secret is NULL for a negative one, else
 *                                     valid until the next call that changes
 *                                     the cache (an expired entry found is freed)
 *   auth_cache_put(ac, db, user, secret, expires, now)
 *                                     keep (db, user) -> secret (NULL:
 *                                     negative) until `expires`, replacing an
 *                                     entry of that key; false when not kept
 *                                     (no room by the rules above, too big, or
 *                                     out of memory)
 *   auth_cache_count(ac), auth_cache_bytes(ac)   entries and their bytes now
 */
#ifndef SLUICE_AUTH_CACHE_H
#define SLUICE_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define AUTH_CACHE_SEED_LEN 16

struct auth_cache;

struct auth_cache *auth_cache_new(const uint8_t seed[AUTH_CACHE_SEED_LEN]) MUST_CHECK;
void auth_cache_free(struct auth_cache *ac);
void auth_cache_set_limits(struct auth_cache *ac, size_t max_entries, size_t max_bytes);
bool auth_cache_find(struct auth_cache *ac, const char *db, const char *user, double now,
		     const char **secret) MUST_CHECK;
bool auth_cache_put(struct auth_cache *ac, const char *db, const char *user, const char *secret,
		    double expires, double now);
size_t auth_cache_count(const struct auth_cache *ac);
size_t auth_cache_bytes(const struct auth_cache *ac);

#endif
