/*
 * strpool.c — shared, counted strings in a hash table (htab.h).
 *
 * Each string is one malloc: its table node and count, then the bytes, so
 * strpool_put() finds the entry from the string itself. Strings are hashed
 * with SipHash under the process key: peers choose user names and
 * parameter values.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "htab.h"
#include "siphash.h"
#include "strpool.h"

struct entry {
	struct htab_node node;
	uint32_t refs;
	char s[];
};

static struct htab pool;

const char *strpool_get(const char *s)
{
	size_t len = strlen(s);
	uint64_t hash = siphash_of(s, len);
	for (struct htab_node *n = htab_find(&pool, hash); n; n = htab_find_next(n)) {
		struct entry *e = container_of(n, struct entry, node);
		if (!strcmp(e->s, s)) {
			e->refs++;
			return e->s;
		}
	}
	struct entry *e = malloc(sizeof *e + len + 1);
	if (!e)
		return NULL;
	if (!htab_add(&pool, &e->node, hash)) {
		free(e);
		return NULL;
	}
	e->refs = 1;
	memcpy(e->s, s, len + 1);
	return e->s;
}

void strpool_put(const char *s)
{
	if (!s)
		return;
	struct entry *e = container_of(s, struct entry, s);
	if (--e->refs > 0)
		return;
	htab_del(&pool, &e->node);
	free(e);
}

const char *strpool_hold(const char *s)
{
	container_of(s, struct entry, s)->refs++;
	return s;
}
