/*
 * heap.h — a min-heap of deadlines. Intrusive: an element embeds a
 * struct heap_node and knows its own place, so moving or removing it
 * costs O(log n) and no search; container_of finds the element again.
 *
 * INTERFACE ROUTINES
 *   heap_set(h, e, at)   put e in at deadline `at`, or move it there;
 *                        false only when the heap cannot grow (e is then
 *                        as it was)
 *   heap_remove(h, e)    take e out (a no-op when it is not in)
 *   heap_top(h)          the earliest, or NULL
 *   heap_has(e)          e is in a heap
 *   heap_free(h)         the array (the elements are the caller's)
 */
#ifndef SLUICE_HEAP_H
#define SLUICE_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

struct heap_node {
	double at;          /* the deadline, while in the heap */
	uint32_t slot;      /* place in the heap + 1; 0: not in it */
};

struct heap {
	struct heap_node **v;   /* v[0] has the earliest deadline */
	uint32_t n, cap;        /* grows, never shrinks */
};

bool heap_set(struct heap *h, struct heap_node *e, double at) MUST_CHECK;
void heap_remove(struct heap *h, struct heap_node *e);
void heap_free(struct heap *h);

static inline struct heap_node *heap_top(const struct heap *h)
{
	return h->n ? h->v[0] : NULL;
}

static inline bool heap_has(const struct heap_node *e)
{
	return e->slot != 0;
}

#endif
