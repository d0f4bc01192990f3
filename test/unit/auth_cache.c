/*
 * auth_cache.t — the auth_query cache: found while fresh, gone once
 * expired, never more entries or bytes than allowed, negative entries
 * evicted before positive ones and never in their place, keys that differ
 * only in where db ends and user begins kept apart.
 */
#include <stdio.h>
#include <string.h>

#include "auth_cache.h"
#include "tap.h"

static const uint8_t seed[AUTH_CACHE_SEED_LEN] = "0123456789abcdef";

static int has(struct auth_cache *ac, const char *db, const char *user, double now, const char *want)
{
	const char *s;
	if (!auth_cache_find(ac, db, user, now, &s))
		return 0;
	return want ? s && !strcmp(s, want) : s == NULL;
}

int main(void)
{
	struct auth_cache *ac = auth_cache_new(seed);
	ok(ac != NULL, "a new cache");
	ok(!auth_cache_put(ac, "db", "u", "pw", 10, 0), "with no limits set it keeps nothing");
	auth_cache_set_limits(ac, 4, 100000);

	/* ---- found while fresh, gone once expired ---- */
	ok(auth_cache_put(ac, "db", "alice", "SCRAM-secret", 60, 0), "a positive entry is kept");
	ok(auth_cache_put(ac, "db", "ghost", NULL, 5, 0), "a negative entry is kept");
	ok(has(ac, "db", "alice", 1, "SCRAM-secret"), "the positive one is found with its secret");
	ok(has(ac, "db", "ghost", 1, NULL), "the negative one is found, without a secret");
	ok(!has(ac, "other", "alice", 1, "SCRAM-secret"), "the database is part of the key");
	ok(!has(ac, "db", "ghost", 5, NULL), "an entry is gone at its expiry");
	is_int(auth_cache_count(ac), 1, "and freed when found expired");
	ok(has(ac, "db", "alice", 59.9, "SCRAM-secret"), "the positive one lives its own lifetime");
	ok(!auth_cache_put(ac, "db", "late", NULL, 3, 3), "an entry already expired is not kept");

	/* ("ab","c") and ("a","bc") are two keys */
	ok(auth_cache_put(ac, "ab", "c", "one", 60, 0) && auth_cache_put(ac, "a", "bc", "two", 60, 0),
	   "two keys whose concatenations are equal");
	ok(has(ac, "ab", "c", 1, "one") && has(ac, "a", "bc", 1, "two"), "stay apart");

	/* replacing a key keeps one entry */
	ok(auth_cache_put(ac, "db", "alice", "new-secret", 60, 1), "put again under the same key");
	ok(has(ac, "db", "alice", 2, "new-secret"), "the new secret replaces the old");
	is_int(auth_cache_count(ac), 3, "still one entry for it");
	auth_cache_free(ac);

	/* ---- count bound, eviction order ---- */
	ac = auth_cache_new(seed);
	auth_cache_set_limits(ac, 3, 100000);
	ok(auth_cache_put(ac, "db", "known1", "s1", 100, 0) && auth_cache_put(ac, "db", "known2", "s2", 100, 0),
	   "two positive entries");
	int kept = 0;
	char name[64];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "stranger%d", i);
		kept += auth_cache_put(ac, "db", name, NULL, 50, 0);
	}
	is_int(kept, 1000, "1000 negative entries are each kept in turn");
	is_int(auth_cache_count(ac), 3, "the count stays at its bound (3)");
	ok(has(ac, "db", "known1", 1, "s1") && has(ac, "db", "known2", 1, "s2"),
	   "negative entries evict negative ones, never the positive");
	ok(has(ac, "db", "stranger999", 1, NULL) && !has(ac, "db", "stranger998", 1, NULL),
	   "the newest negative entry is kept, older ones went first");
	ok(auth_cache_put(ac, "db", "known3", "s3", 100, 0), "a positive entry takes the negative one's place");
	ok(!has(ac, "db", "stranger999", 1, NULL), "the negative one went");
	ok(!auth_cache_put(ac, "db", "stranger1000", NULL, 50, 0),
	   "with only positive entries left a negative entry is not kept");
	is_int(auth_cache_count(ac), 3, "and nothing was evicted for it");
	ok(auth_cache_put(ac, "db", "known4", "s4", 100, 0), "a positive entry evicts the oldest positive");
	ok(!has(ac, "db", "known1", 1, "s1") && has(ac, "db", "known2", 1, "s2") &&
	   has(ac, "db", "known4", 1, "s4"), "... which is the first one put");

	/* expired entries make room before anything fresh is evicted */
	struct auth_cache *ac2 = auth_cache_new(seed);
	auth_cache_set_limits(ac2, 2, 100000);
	ok(auth_cache_put(ac2, "db", "short", "x", 10, 0) && auth_cache_put(ac2, "db", "long", "y", 100, 0),
	   "an entry that expires early, then one that lives long");
	ok(auth_cache_put(ac2, "db", "new", "z", 100, 20), "once the first expired, a new entry takes its place");
	ok(has(ac2, "db", "long", 21, "y") && has(ac2, "db", "new", 21, "z"), "and the fresh ones stay");
	auth_cache_free(ac2);

	/* lowering the limit evicts at once */
	auth_cache_set_limits(ac, 1, 100000);
	is_int(auth_cache_count(ac), 1, "a lower max_entries evicts down to it");
	auth_cache_set_limits(ac, 0, 100000);
	is_int(auth_cache_count(ac), 0, "max_entries 0 empties the cache");
	ok(!auth_cache_put(ac, "db", "u", "s", 100, 0), "and keeps nothing");
	auth_cache_free(ac);

	/* ---- byte bound ---- */
	ac = auth_cache_new(seed);
	auth_cache_set_limits(ac, 100000, 4096);
	char secret[1100];
	memset(secret, 's', sizeof secret - 1);
	secret[sizeof secret - 1] = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "user%d", i);
		(void)auth_cache_put(ac, "db", name, secret, 100, 0);
	}
	ok(auth_cache_bytes(ac) <= 4096, "bytes stay within max_bytes (%zu)", auth_cache_bytes(ac));
	ok(auth_cache_count(ac) >= 2 && auth_cache_count(ac) <= 3, "which holds a few 1 KB secrets (%zu)",
	   auth_cache_count(ac));
	ok(has(ac, "db", "user99", 1, secret), "the newest is there");
	char huge[5000];
	memset(huge, 'h', sizeof huge - 1);
	huge[sizeof huge - 1] = 0;
	ok(!auth_cache_put(ac, "db", "big", huge, 100, 0), "an entry bigger than max_bytes is not kept");
	ok(has(ac, "db", "user99", 1, secret), "and evicts nothing");
	auth_cache_set_limits(ac, 100000, 0);
	is_int(auth_cache_bytes(ac), 0, "max_bytes 0 empties the cache");
	auth_cache_free(ac);

	/* ---- many entries: all found again (the table is hashed, not scanned) ---- */
	ac = auth_cache_new(seed);
	auth_cache_set_limits(ac, 20000, 64u << 20);
	int wrong = 0;
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "u%d", i);
		wrong += !auth_cache_put(ac, "db", name, i % 2 ? name : NULL, 100, 0);
	}
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "u%d", i);
		wrong += !has(ac, "db", name, 1, i % 2 ? name : NULL);
	}
	is_int(wrong, 0, "20000 entries, half negative, all found again");
	auth_cache_set_limits(ac, 100, 64u << 20);
	is_int(auth_cache_count(ac), 100, "shrunk to 100 entries");
	ok(has(ac, "db", "u19999", 1, "u19999"), "the positive ones kept after the negative ones went");
	auth_cache_free(ac);
	auth_cache_free(NULL);
	ok(1, "freeing NULL is a no-op");
	return done_testing();
}
