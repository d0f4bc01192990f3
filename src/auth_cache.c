/*
 * auth_cache.c — the bounded, hashed cache of auth_query answers
 * (auth_cache.h says what it keeps and what it evicts).
 *
 * One malloc per entry: the struct, then "db\0user\0secret\0". Chains of
 * a power-of-two bucket array, at least as many buckets as entries may
 * be kept, so a chain is about one entry long.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_cache.h"
#include "list.h"

struct entry {
	struct entry *chain;         /* next in the bucket */
	struct list node;            /* on ac->positive or ac->negative, oldest first */
	uint64_t hash;
	double expires;
	size_t size;                 /* what this entry counts against max_bytes */
	size_t db_len, user_len;
	const char *secret;          /* into key[], or NULL: negative */
	char key[];                  /* db \0 user \0 [secret \0] */
};

struct auth_cache {
	uint64_t k0, k1;             /* SipHash key */
	struct entry **buckets;
	size_t nbuckets;             /* power of two, or 0 */
	size_t count, bytes;
	size_t max_entries, max_bytes;
	struct list positive, negative;
};

/* ---- SipHash-2-4 (Aumasson and Bernstein), over db \0 user ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;               /* bytes not yet in a whole word */
	size_t n;                    /* bytes taken so far */
};

static void sip_round(struct sip *s)
{
	s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0; s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2; s->v2 = ROTL(s->v2, 32);
}

static void sip_word(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

static void sip_init(struct sip *s, uint64_t k0, uint64_t k1)
{
	s->v0 = k0 ^ 0x736f6d6570736575ull;
	s->v1 = k1 ^ 0x646f72616e646f6dull;
	s->v2 = k0 ^ 0x6c7967656e657261ull;
	s->v3 = k1 ^ 0x7465646279746573ull;
	s->tail = 0;
	s->n = 0;
}

static void sip_bytes(struct sip *s, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++) {
		s->tail |= (uint64_t)b[i] << (8 * (s->n & 7));
		if ((++s->n & 7) == 0) {
			sip_word(s, s->tail);
			s->tail = 0;
		}
	}
}

static uint64_t sip_final(struct sip *s)
{
	sip_word(s, s->tail | ((uint64_t)(s->n & 0xff) << 56));
	s->v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static uint64_t key_hash(const struct auth_cache *ac, const char *db, size_t dl, const char *user,
			 size_t ul)
{
	struct sip s;
	sip_init(&s, ac->k0, ac->k1);
	sip_bytes(&s, db, dl + 1);   /* with its NUL: ("ab","c") is not ("a","bc") */
	sip_bytes(&s, user, ul);
	return sip_final(&s);
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

static void unchain(struct auth_cache *ac, struct entry *e)
{
	for (struct entry **pp = &ac->buckets[e->hash & (ac->nbuckets - 1)]; *pp; pp = &(*pp)->chain) {
		if (*pp == e) {
			*pp = e->chain;
			return;
		}
	}
}

static void drop(struct auth_cache *ac, struct entry *e)
{
	unchain(ac, e);
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
	free(ac->buckets);
	free(ac);
}

static size_t buckets_for(size_t max_entries)
{
	size_t n = 16;
	while (n < max_entries && n < ((size_t)1 << 20))
		n <<= 1;
	return n;
}

void auth_cache_set_limits(struct auth_cache *ac, size_t max_entries, size_t max_bytes)
{
	ac->max_entries = max_entries;
	ac->max_bytes = max_bytes;
	struct entry *e;
	while (ac->count > max_entries || ac->bytes > max_bytes) {
		if (!(e = oldest(&ac->negative)) && !(e = oldest(&ac->positive)))
			break;
		drop(ac, e);
	}
	size_t want = max_entries ? buckets_for(max_entries) : 0;
	if (want == ac->nbuckets)
		return;
	/* with max_entries 0 the loop above emptied the cache */
	struct entry **b = want ? calloc(want, sizeof *b) : NULL;
	if (want && !b)
		return;   /* keep the old array: still correct, chains longer */
	for (size_t i = 0; i < ac->nbuckets; i++) {
		while ((e = ac->buckets[i])) {
			ac->buckets[i] = e->chain;
			e->chain = b[e->hash & (want - 1)];
			b[e->hash & (want - 1)] = e;
		}
	}
	free(ac->buckets);
	ac->buckets = b;
	ac->nbuckets = want;
}

static struct entry *lookup(const struct auth_cache *ac, const char *db, size_t dl, const char *user,
			    size_t ul, uint64_t h)
{
	if (!ac->nbuckets)
		return NULL;
	for (struct entry *e = ac->buckets[h & (ac->nbuckets - 1)]; e; e = e->chain) {
		if (e->hash == h && e->db_len == dl && e->user_len == ul && !memcmp(e->key, db, dl) &&
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
	if (expires <= now || !ac->nbuckets || size > ac->max_bytes || !make_room(ac, size, secret != NULL, now))
		return false;
	struct entry *e = malloc(size);
	if (!e)
		return false;
	memset(e, 0, sizeof *e);
	e->hash = h;
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
	struct entry **b = &ac->buckets[h & (ac->nbuckets - 1)];
	e->chain = *b;
	*b = e;
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
