/*
 * auth_cache.c — the bounded, hashed cache of auth_query answers
 * (auth_cache.h says what it keeps and what it evicts).
 *
 * One malloc per entry: the struct, then "db\0user\0secret\0", in a
 * hash table (htab.h) that has at least as many buckets as entries, so a
 * chain is about one entry long.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_cache.h"
#include "htab.h"
#include "list.h"
#include "siphash.h"

struct entry {
	struct htab_node hnode;      /* in ac->tab */
	struct list node;            /* on ac->positive or ac->negative, oldest first */
	double expires;
	size_t size;                 /* what this entry counts against max_bytes */
	size_t db_len, user_len;
	const char *secret;          /* into key[], or NULL: negative */
	char key[];                  /* db \0 user \0 [secret \0] */
};

struct auth_cache {
	uint64_t k0, k1;             /* SipHash key */
	struct htab tab;
	size_t count, bytes;
	size_t max_entries, max_bytes;
	struct list positive, negative;
};

/* SipHash-2-4 over db \0 user, under the cache's own key */
static uint64_t key_hash(const struct auth_cache *ac, const char *db, size_t dl, const char *user,
			 size_t ul)
{
	struct siphash s;
	siphash_init(&s, ac->k0, ac->k1);
	siphash_bytes(&s, db, dl + 1);   /* with its NUL: ("ab","c") is not ("a","bc") */
	siphash_bytes(&s, user, ul);
	return siphash_final(&s);
}

/* ---- the table ---- */

struct auth_cache *auth_cache_new(const uint8_t seed[AUTH_CACHE_SEED_LEN])
{
	struct auth_cache *ac = calloc(1, sizeof *ac);
	if (!ac)
		return NULL;
	memcpy(&ac->k0, seed, 8);
	memcpy(&ac->k1, seed + 8, 8);
	list_init(&ac->positive);
	list_init(&ac->negative);
	return ac;
}

static void drop(struct auth_cache *ac, struct entry *e)
{
	htab_del(&ac->tab, &e->hnode);
	list_del_init(&e->node);
	ac->count--;
	ac->bytes -= e->size;
	OPENSSL_cleanse(e, e->size);
	free(e);
}

static struct entry *oldest(const struct list *l)
{
	struct list *n = list_first(l);
	return n ? list_entry(n, struct entry, node) : NULL;
}

/* Entries of one list expire in the order they were put, as long as the
 * lifetime did not change: stop at the first one still valid. */
static void expire(struct auth_cache *ac, struct list *l, double now)
{
	struct entry *e;
	while ((e = oldest(l)) && e->expires <= now)
		drop(ac, e);
}

void auth_cache_free(struct auth_cache *ac)
{
	if (!ac)
		return;
	struct entry *e;
	while ((e = oldest(&ac->positive)))
		drop(ac, e);
	while ((e = oldest(&ac->negative)))
		drop(ac, e);
	htab_free(&ac->tab);
	free(ac);
}

/* The entries on list l into table t; false only if t's first buckets
 * could not be had, before any entry was moved. */
static bool move_all(struct htab *t, struct list *l)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, l) {
		struct entry *e = list_entry(it, struct entry, node);
		if (!htab_add(t, &e->hnode, e->hnode.hash))
			return false;
	}
	return true;
}

/* After a lower limit, the entries left move to a table sized for them,
 * so the old buckets go. Should no buckets be had for it, the old table
 * stays: correct, only larger. */
static void refit(struct auth_cache *ac)
{
	if (ac->count == 0) {
		htab_free(&ac->tab);
		return;
	}
	struct htab fresh = { 0 };
	if (!move_all(&fresh, &ac->negative) || !move_all(&fresh, &ac->positive)) {
		/* fails only on its first add: nothing moved yet */
		htab_free(&fresh);
		return;
	}
	htab_free(&ac->tab);
	ac->tab = fresh;
}

void auth_cache_set_limits(struct auth_cache *ac, size_t max_entries, size_t max_bytes)
{
	bool lower = max_entries < ac->max_entries;
	ac->max_entries = max_entries;
	ac->max_bytes = max_bytes;
	struct entry *e;
	while (ac->count > max_entries || ac->bytes > max_bytes) {
		if (!(e = oldest(&ac->negative)) && !(e = oldest(&ac->positive)))
			break;
		drop(ac, e);
	}
	/* the table grows with the entries, never shrinks by itself */
	if (lower && ac->tab.nb > 2 * max_entries)
		refit(ac);
}

static struct entry *lookup(const struct auth_cache *ac, const char *db, size_t dl, const char *user,
			    size_t ul, uint64_t h)
{
	for (struct htab_node *n = htab_find(&ac->tab, h); n; n = htab_find_next(n)) {
		struct entry *e = container_of(n, struct entry, hnode);
		if (e->db_len == dl && e->user_len == ul && !memcmp(e->key, db, dl) &&
		    !memcmp(e->key + dl + 1, user, ul))
			return e;
	}
	return NULL;
}

bool auth_cache_find(struct auth_cache *ac, const char *db, const char *user, double now,
		     const char **secret)
{
	size_t dl = strlen(db), ul = strlen(user);
	struct entry *e = lookup(ac, db, dl, user, ul, key_hash(ac, db, dl, user, ul));
	*secret = NULL;
	if (!e)
		return false;
	if (e->expires <= now) {
		drop(ac, e);
		return false;
	}
	*secret = e->secret;
	return true;
}

/* Room for one more entry of `size` bytes: expired ones go, then the
 * oldest negative ones, then (for a positive entry) the oldest positive. */
static bool make_room(struct auth_cache *ac, size_t size, bool positive, double now)
{
	expire(ac, &ac->negative, now);
	expire(ac, &ac->positive, now);
	while (ac->count + 1 > ac->max_entries || ac->bytes + size > ac->max_bytes) {
		struct entry *e = oldest(&ac->negative);
		if (!e && positive)
			e = oldest(&ac->positive);
		if (!e)
			return false;
		drop(ac, e);
	}
	return true;
}

bool auth_cache_put(struct auth_cache *ac, const char *db, const char *user, const char *secret,
		    double expires, double now)
{
	size_t dl = strlen(db), ul = strlen(user), sl = secret ? strlen(secret) + 1 : 0;
	uint64_t h = key_hash(ac, db, dl, user, ul);
	struct entry *old = lookup(ac, db, dl, user, ul, h);
	if (old)
		drop(ac, old);
	size_t size = sizeof(struct entry) + dl + 1 + ul + 1 + sl;
	if (expires <= now || size > ac->max_bytes || !make_room(ac, size, secret != NULL, now))
		return false;
	struct entry *e = malloc(size);
	if (!e)
		return false;
	memset(e, 0, sizeof *e);
	if (!htab_add(&ac->tab, &e->hnode, h)) {
		free(e);
		return false;
	}
	e->expires = expires;
	e->size = size;
	e->db_len = dl;
	e->user_len = ul;
	memcpy(e->key, db, dl + 1);
	memcpy(e->key + dl + 1, user, ul + 1);
	if (secret) {
		memcpy(e->key + dl + 1 + ul + 1, secret, sl);
		e->secret = e->key + dl + 1 + ul + 1;
	}
	list_append(secret ? &ac->positive : &ac->negative, &e->node);
	ac->count++;
	ac->bytes += size;
	return true;
}

size_t auth_cache_count(const struct auth_cache *ac)
{
	return ac ? ac->count : 0;
}

size_t auth_cache_bytes(const struct auth_cache *ac)
{
	return ac ? ac->bytes : 0;
}
