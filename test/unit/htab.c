/*
 * htab.t — the intrusive hash table: adds, finds, deletes, growth,
 * iteration that deletes what it visits, many entries of one hash.
 */
#include <stdint.h>
#include <stdlib.h>

#include "htab.h"
#include "siphash.h"
#include "tap.h"

#define MANY 10000

struct item {
	struct htab_node node;
	int key;
	bool seen;
};

static struct item items[MANY];

static uint64_t hash_of(int key)
{
	return siphash_of(&key, sizeof key);
}

static struct item *find(const struct htab *h, int key, uint64_t hash)
{
	for (struct htab_node *n = htab_find(h, hash); n; n = htab_find_next(n)) {
		struct item *it = container_of(n, struct item, node);
		if (it->key == key)
			return it;
	}
	return NULL;
}

int main(void)
{
	struct htab h = { 0 };
	ok(htab_find(&h, 1) == NULL, "an empty table finds nothing");
	is_int(h.nb, 0, "and has no buckets before its first add");
	struct htab_iter iter;
	ok(htab_first(&h, &iter) == NULL, "nor anything to iterate");

	for (int i = 0; i < MANY; i++)
		items[i].key = i;
	ok(htab_add(&h, &items[0].node, hash_of(0)), "the first add");
	ok(h.nb > 0 && (h.nb & (h.nb - 1)) == 0, "buckets come with it, a power of two (%zu)", h.nb);
	ok(find(&h, 0, hash_of(0)) == &items[0], "found by its hash and key");
	ok(find(&h, 1, hash_of(1)) == NULL, "another key is not");

	/* growth: always at least as many buckets as entries */
	int failed = 0, small = 0;
	for (int i = 1; i < MANY; i++) {
		failed += !htab_add(&h, &items[i].node, hash_of(i));
		small += h.nb < h.n;
	}
	is_int(failed, 0, "10000 adds");
	is_int(htab_count(&h), MANY, "counted");
	is_int(small, 0, "the buckets doubled as the entries came");
	ok(h.nb >= MANY && h.nb < 4 * MANY, "to %zu buckets", h.nb);
	int wrong = 0;
	for (int i = 0; i < MANY; i++)
		wrong += find(&h, i, hash_of(i)) != &items[i];
	is_int(wrong, 0, "each found again after the growth");

	/* delete every third */
	for (int i = 0; i < MANY; i += 3)
		htab_del(&h, &items[i].node);
	wrong = 0;
	for (int i = 0; i < MANY; i++)
		wrong += find(&h, i, hash_of(i)) != (i % 3 ? &items[i] : NULL);
	is_int(wrong, 0, "deleted ones gone, the others there");
	is_int(htab_count(&h), MANY - (MANY + 2) / 3, "and the count with them");

	/* iterate, deleting each odd key as it is visited */
	int visits = 0, twice = 0;
	for (struct htab_node *n = htab_first(&h, &iter); n; n = htab_next(&iter)) {
		struct item *it = container_of(n, struct item, node);
		twice += it->seen;
		it->seen = true;
		visits++;
		if (it->key & 1)
			htab_del(&h, n);
	}
	is_int(visits, MANY - (MANY + 2) / 3, "iteration visits each entry once");
	is_int(twice, 0, "none twice, though the visited were deleted on the way");
	wrong = 0;
	size_t left = 0;
	for (int i = 0; i < MANY; i++) {
		bool in = i % 3 && !(i & 1);
		wrong += find(&h, i, hash_of(i)) != (in ? &items[i] : NULL);
		left += in;
	}
	is_int(wrong, 0, "odd keys deleted during the iteration, even ones kept");
	is_int(htab_count(&h), left, "count after it");

	/* iterate and delete everything */
	for (struct htab_node *n = htab_first(&h, &iter); n; n = htab_next(&iter))
		htab_del(&h, n);
	is_int(htab_count(&h), 0, "emptied by iteration");
	ok(htab_first(&h, &iter) == NULL, "nothing left to visit");
	htab_free(&h);
	ok(h.nb == 0 && h.b == NULL, "htab_free: no buckets");

	/* many entries of one hash: all kept, each found by its key */
	failed = 0;
	for (int i = 0; i < 1000; i++)
		failed += !htab_add(&h, &items[i].node, 42);
	is_int(failed, 0, "1000 entries of one hash added");
	wrong = 0;
	for (int i = 0; i < 1000; i++)
		wrong += find(&h, i, 42) != &items[i];
	is_int(wrong, 0, "each found by its key along the chain");
	int chain = 0;
	for (struct htab_node *n = htab_find(&h, 42); n; n = htab_find_next(n))
		chain++;
	is_int(chain, 1000, "htab_find_next walks all of them");
	ok(find(&h, 0, 43) == NULL, "another hash finds none of them");
	for (int i = 0; i < 1000; i += 2)
		htab_del(&h, &items[i].node);
	wrong = 0;
	for (int i = 0; i < 1000; i++)
		wrong += find(&h, i, 42) != (i & 1 ? &items[i] : NULL);
	is_int(wrong, 0, "deletes within one chain");
	htab_free(&h);
	ok(htab_add(&h, &items[0].node, 7) && htab_find(&h, 7) == &items[0].node,
	   "a freed table takes adds again");
	htab_free(&h);
	return done_testing();
}
