/*
 * htab.h — an intrusive chained hash table: the entry embeds a struct
 * htab_node; the table keeps the nodes, never the entries' keys.
 *
 * The caller hashes (siphash.h, or a key already random or sequential)
 * and compares keys: a lookup gives the nodes of one hash, in a chain
 * that may hold others. A zero-filled table is empty and costs nothing;
 * its buckets (a power of two) come with the first add and double when it
 * holds as many entries as buckets. It never shrinks but when emptied by
 * htab_free.
 *
 * INTERFACE ROUTINES
 *   htab_add(h, node, hash)   put node in under hash; false only when the
 *                             first buckets could not be allocated (once
 *                             there are some, a failed doubling only makes
 *                             chains longer)
 *   htab_find(h, hash)        the first node of that hash, or NULL
 *   htab_find_next(node)      the next node of node's hash, or NULL
 *   htab_del(h, node)         take node out (it must be in h)
 *   htab_first(h, &it) / htab_next(&it)
 *                             every node, in no order; the node last
 *                             returned may be deleted or freed before the
 *                             next call (not others; nothing may be added)
 *   htab_count(h)             nodes in h
 *   htab_free(h)              free the buckets; h is empty again (its
 *                             nodes are the caller's: free them first)
 */
#ifndef SLUICE_HTAB_H
#define SLUICE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

struct htab_node {
	struct htab_node *next;   /* in its bucket */
	uint64_t hash;
};

struct htab {
	struct htab_node **b;
	size_t nb;                /* a power of two, or 0 */
	size_t n;
};

struct htab_iter {
	const struct htab *h;
	size_t i;                 /* the bucket of `next` */
	struct htab_node *next;   /* the node to return next */
};

bool htab_add(struct htab *h, struct htab_node *node, uint64_t hash) MUST_CHECK;
void htab_del(struct htab *h, struct htab_node *node);
struct htab_node *htab_first(const struct htab *h, struct htab_iter *it);
struct htab_node *htab_next(struct htab_iter *it);
void htab_free(struct htab *h);

static inline struct htab_node *htab_find(const struct htab *h, uint64_t hash)
{
	if (!h->nb)
		return NULL;
	struct htab_node *n = h->b[hash & (h->nb - 1)];
	while (n && n->hash != hash)
		n = n->next;
	return n;
}

static inline struct htab_node *htab_find_next(const struct htab_node *node)
{
	struct htab_node *n = node->next;
	while (n && n->hash != node->hash)
		n = n->next;
	return n;
}

static inline size_t htab_count(const struct htab *h)
{
	return h->n;
}

#endif
