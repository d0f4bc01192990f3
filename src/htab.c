/*
 * htab.c — the intrusive chained hash table. See htab.h.
 */
#include <stdlib.h>

#include "htab.h"

#define HTAB_FIRST_BUCKETS 8

/* Twice the buckets (or the first ones), the nodes moved over. */
static void grow(struct htab *h)
{
	size_t nb = h->nb ? 2 * h->nb : HTAB_FIRST_BUCKETS;
	if (nb < h->nb)
		return;
	struct htab_node **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < h->nb; i++) {
		for (struct htab_node *n = h->b[i], *next; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(h->b);
	h->b = b;
	h->nb = nb;
}

bool htab_add(struct htab *h, struct htab_node *node, uint64_t hash)
{
	if (h->n >= h->nb)
		grow(h);
	if (!h->nb)
		return false;
	struct htab_node **b = &h->b[hash & (h->nb - 1)];
	node->hash = hash;
	node->next = *b;
	*b = node;
	h->n++;
	return true;
}

void htab_del(struct htab *h, struct htab_node *node)
{
	if (!h->nb)
		return;
	for (struct htab_node **pp = &h->b[node->hash & (h->nb - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == node) {
			*pp = node->next;
			node->next = NULL;
			h->n--;
			return;
		}
	}
}

/* From bucket it->i on, the first node, into it->next. */
static void seek(struct htab_iter *it)
{
	for (; it->i < it->h->nb; it->i++) {
		if ((it->next = it->h->b[it->i]))
			return;
	}
	it->next = NULL;
}

struct htab_node *htab_first(const struct htab *h, struct htab_iter *it)
{
	it->h = h;
	it->i = 0;
	seek(it);
	return htab_next(it);
}

struct htab_node *htab_next(struct htab_iter *it)
{
	struct htab_node *n = it->next;
	if (!n)
		return NULL;
	/* step past n now: the caller may unlink or free it */
	if (!(it->next = n->next)) {
		it->i++;
		seek(it);
	}
	return n;
}

void htab_free(struct htab *h)
{
	free(h->b);
	h->b = NULL;
	h->nb = 0;
	h->n = 0;
}
