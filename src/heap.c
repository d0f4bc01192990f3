/*
 * heap.c — the min-heap of deadlines (heap.h): the loop's timers and the
 * connections' deadlines.
 */
#include <stdlib.h>

#include "heap.h"

#define HEAP_MIN_CAP 64

static void place(struct heap *h, struct heap_node *e, uint32_t i)
{
	h->v[i] = e;
	e->slot = i + 1;
}

static void up(struct heap *h, uint32_t i)
{
	struct heap_node *e = h->v[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (h->v[parent]->at <= e->at)
			break;
		place(h, h->v[parent], i);
		i = parent;
	}
	place(h, e, i);
}

static void down(struct heap *h, uint32_t i)
{
	struct heap_node *e = h->v[i];
	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->v[child + 1]->at < h->v[child]->at)
			child++;
		if (e->at <= h->v[child]->at)
			break;
		place(h, h->v[child], i);
		i = child;
	}
	place(h, e, i);
}

bool heap_set(struct heap *h, struct heap_node *e, double at)
{
	if (e->slot) {
		double old = e->at;
		e->at = at;
		if (at < old)
			up(h, e->slot - 1);
		else
			down(h, e->slot - 1);
		return true;
	}
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? 2 * h->cap : HEAP_MIN_CAP;
		struct heap_node **v = realloc(h->v, cap * sizeof *v);
		if (!v)
			return false;
		h->v = v;
		h->cap = cap;
	}
	e->at = at;
	h->n++;
	place(h, e, h->n - 1);
	up(h, h->n - 1);
	return true;
}

void heap_remove(struct heap *h, struct heap_node *e)
{
	if (!e->slot)
		return;
	uint32_t i = e->slot - 1;
	e->slot = 0;
	struct heap_node *last = h->v[--h->n];
	if (last == e)
		return;
	place(h, last, i);
	up(h, i);
	down(h, last->slot - 1);
}

void heap_free(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
