/*
 * heap.t — the min-heap of deadlines (heap.c): the top is always the
 * earliest of what is in, through inserts, moves both ways and removals
 * anywhere, checked against a plain scan after every step; places stay
 * right (every element knows its slot); a removed element is out.
 */
#include <stdlib.h>

#include "heap.h"
#include "tap.h"

#define NELEM 500
#define STEPS 20000

struct item {
	int id;
	struct heap_node node;
};

static struct item items[NELEM];

static int earliest(void)
{
	int best = -1;
	for (int i = 0; i < NELEM; i++)
		if (heap_has(&items[i].node) && (best < 0 || items[i].node.at < items[best].node.at))
			best = i;
	return best;
}

static bool slots_right(const struct heap *h)
{
	for (uint32_t i = 0; i < h->n; i++)
		if (h->v[i]->slot != i + 1)
			return false;
	return true;
}

int main(void)
{
	struct heap h = { 0 };
	ok(heap_top(&h) == NULL, "empty: no top");
	for (int i = 0; i < NELEM; i++)
		items[i].id = i;

	srand(7);
	int wrong_top = 0, wrong_slots = 0, failed_set = 0;
	for (int step = 0; step < STEPS; step++) {
		struct item *it = &items[rand() % NELEM];
		int what = rand() % 3;
		if (what < 2) {
			if (!heap_set(&h, &it->node, (double)(rand() % 100000) / 7.0))
				failed_set++;
		} else {
			heap_remove(&h, &it->node);
			if (heap_has(&it->node))
				wrong_slots++;
		}
		int e = earliest();
		struct heap_node *top = heap_top(&h);
		if ((e < 0) != (top == NULL) || (top && top->at != items[e].node.at))
			wrong_top++;
		if (!slots_right(&h))
			wrong_slots++;
	}
	is_int(failed_set, 0, "every set took");
	is_int(wrong_top, 0, "after each of 20,000 steps the top is the earliest");
	is_int(wrong_slots, 0, "every element knows its place; a removed one is out");

	/* drain: deadlines come out in order */
	double last = -1;
	int out_of_order = 0, n = 0;
	for (struct heap_node *t; (t = heap_top(&h));) {
		if (t->at < last)
			out_of_order++;
		last = t->at;
		heap_remove(&h, t);
		n++;
	}
	ok(n > 0 && out_of_order == 0, "drained in deadline order (%d)", n);
	heap_remove(&h, &items[0].node);
	ok(h.n == 0, "removing what is out is a no-op");
	heap_free(&h);
	ok(h.v == NULL && h.cap == 0, "freed");
	return done_testing();
}
