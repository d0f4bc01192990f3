/*
 * strpool.c — shared, counted strings in a chained hash table.
 *
 * Each string is one malloc: its chain link, hash and count, then the
 * bytes, so strpool_put() finds the entry from the string itself. The
 * table doubles when it holds as many strings as it has buckets and never
 * shrinks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "strpool.h"

struct entry {
	struct entry *next;   /* in its bucket */
	uint32_t hash;
	uint32_t refs;
	char s[];
};

static struct {
	struct entry **buckets;
	size_t nbuckets;      /* a power of two, or 0 before the first string */
	size_t n;
} pool;

static uint32_t hash_of(const char *s, size_t len)
{
	uint32_t h = 2166136261u;   /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static struct entry **bucket_of(uint32_t hash)
{
	return &pool.buckets[hash & (pool.nbuckets - 1)];
}

static bool grow(void)
{
	size_t n = pool.nbuckets ? 2 * pool.nbuckets : 64;
	struct entry **b = calloc(n, sizeof *b);
	if (!b)
		return false;
	for (size_t i = 0; i < pool.nbuckets; i++) {
		for (struct entry *e = pool.buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(pool.buckets);
	pool.buckets = b;
	pool.nbuckets = n;
	return true;
}

const char *strpool_get(const char *s)
{
	size_t len = strlen(s);
	uint32_t hash = hash_of(s, len);
	if (pool.nbuckets) {
		for (struct entry *e = *bucket_of(hash); e; e = e->next) {
			if (e->hash == hash && !strcmp(e->s, s)) {
				e->refs++;
				return e->s;
			}
		}
	}
	/* at one string per bucket the table doubles; if it cannot, one
	 * that exists takes more strings all the same, only slower */
	if (pool.n >= pool.nbuckets && !grow() && pool.nbuckets == 0)
		return NULL;
	struct entry *e = malloc(sizeof *e + len + 1);
	if (!e)
		return NULL;
	e->hash = hash;
	e->refs = 1;
	memcpy(e->s, s, len + 1);
	struct entry **b = bucket_of(hash);
	e->next = *b;
	*b = e;
	pool.n++;
	return e->s;
}

void strpool_put(const char *s)
{
	if (!s)
		return;
	struct entry *e = container_of(s, struct entry, s);
	if (--e->refs > 0)
		return;
	for (struct entry **pp = bucket_of(e->hash); *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	pool.n--;
	free(e);
}
