/*
 * buf.t — the connection byte buffer (buf.h): bytes come out in the order
 * they went in whatever mix of adds, reserves, drains, prepends and moves
 * ran (checked against a plain model over a seeded random walk); growing
 * keeps them and at least doubles the array; an emptied large array
 * shrinks; a move into an empty buffer hands the array over without a
 * copy; a size that would overflow fails cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

/* the model: the same bytes, in a plain array */
static uint8_t model[1 << 20];
static size_t model_len;

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static bool same(const struct buf *b)
{
	return buf_len(b) == model_len && (model_len == 0 || !memcmp(buf_data(b), model, model_len));
}

static void random_walk(void)
{
	struct buf *b = buf_new(), *other = buf_new();
	uint8_t chunk[70000], out[70000];
	uint8_t next = 0;
	bool good = true;
	int step;
	for (step = 0; step < 20000 && good; step++) {
		uint32_t op = next_rand() % 7;
		size_t n = next_rand() % (next_rand() % 8 == 0 ? sizeof chunk : 300);
		if (model_len + n > sizeof model)
			op = 3;   /* drain instead */
		for (size_t i = 0; i < n; i++)
			chunk[i] = next++;
		switch (op) {
		case 0:
		case 1:   /* add */
			good = buf_add(b, chunk, n);
			memcpy(model + model_len, chunk, n);
			model_len += n;
			break;
		case 2: {   /* reserve, read part of it, commit */
			uint8_t *room = buf_reserve(b, n);
			good = room != NULL;
			size_t k = n ? next_rand() % (n + 1) : 0;
			if (room) {
				memcpy(room, chunk, k);
				buf_commit(b, k);
			}
			memcpy(model + model_len, chunk, k);
			model_len += k;
			break;
		}
		case 3: {   /* drain */
			size_t k = model_len ? next_rand() % (model_len + 1) : 0;
			buf_drain(b, k);
			memmove(model, model + k, model_len - k);
			model_len -= k;
			break;
		}
		case 4: {   /* remove */
			size_t k = next_rand() % 400;
			size_t got = buf_remove(b, out, k);
			size_t want = k < model_len ? k : model_len;
			good = got == want && (want == 0 || !memcmp(out, model, want));
			memmove(model, model + want, model_len - want);
			model_len -= want;
			break;
		}
		case 5: {   /* prepend what was just removed */
			size_t k = next_rand() % 200;
			size_t got = buf_remove(b, out, k);
			good = buf_prepend(b, out, got);
			break;
		}
		case 6: {   /* move everything through another buffer and back */
			size_t k = model_len ? next_rand() % (model_len + 1) : 0;
			good = buf_move(b, other, k) && buf_len(other) == k &&
			       buf_move(b, other, buf_len(b)) && buf_len(b) == 0 &&
			       buf_move(other, b, buf_len(other)) && buf_len(other) == 0;
			break;
		}
		}
		good = good && same(b);
	}
	ok(good, "20,000 random steps: the bytes match the model at every step (stopped at %d)", step);
	buf_free(b);
	buf_free(other);
}

int main(void)
{
	struct buf *b = buf_new();
	ok(b && buf_len(b) == 0 && b->cap == BUF_MIN_CAP, "a new buffer is empty, BUF_MIN_CAP bytes");

	ok(buf_add(b, "hello", 5) && buf_len(b) == 5 && !memcmp(buf_data(b), "hello", 5), "add");
	buf_drain(b, 2);
	ok(buf_len(b) == 3 && !memcmp(buf_data(b), "llo", 3), "drain from the front");
	ok(buf_prepend(b, "he", 2) && buf_len(b) == 5 && !memcmp(buf_data(b), "hello", 5),
	   "prepend into the drained space");
	ok(buf_prepend(b, ">>", 2) && buf_len(b) == 7 && !memcmp(buf_data(b), ">>hello", 7),
	   "prepend with no space before: the bytes move up");
	char out[16];
	ok(buf_copyout(b, out, sizeof out) == 7 && buf_len(b) == 7, "copyout keeps the bytes");
	ok(buf_remove(b, out, 2) == 2 && !memcmp(out, ">>", 2) && buf_len(b) == 5, "remove");
	buf_drain(b, 100);
	ok(buf_len(b) == 0 && b->head == 0, "draining more than is held empties it");

	/* growing keeps the bytes and at least doubles */
	static uint8_t big[300 * 1024];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	ok(buf_add(b, big, 100), "100 bytes");
	buf_drain(b, 10);
	ok(buf_add(b, big + 100, 2000) && b->cap == 4 * BUF_MIN_CAP && b->head == 0,
	   "growing past the array doubles it until the bytes fit (%zu), held bytes at the front", b->cap);
	ok(buf_len(b) == 2090 && !memcmp(buf_data(b), big + 10, 2090), "and keeps them in order");

	/* sliding instead of growing when most was drained */
	size_t cap = b->cap;
	buf_drain(b, 2000);
	ok(buf_reserve(b, cap - 200) != NULL && b->cap == cap && b->head == 0 &&
	   !memcmp(buf_data(b), big + 2010, 90), "room made by sliding the few held bytes, same array");

	/* an emptied large array shrinks */
	buf_drain(b, buf_len(b));
	ok(buf_add(b, big, sizeof big) && b->cap >= sizeof big, "300 KiB held (array %zu)", b->cap);
	buf_drain(b, sizeof big - 1);
	ok(b->cap >= sizeof big, "not empty yet: the array stays");
	buf_drain(b, 1);
	ok(buf_len(b) == 0 && b->cap == BUF_MIN_CAP, "emptied: back to BUF_MIN_CAP");

	/* a whole move into an empty buffer hands the array over */
	struct buf *dst = buf_new();
	ok(buf_add(b, "reply", 5), "five bytes");
	uint8_t *arr = b->data;
	ok(buf_move(b, dst, 5) && dst->data == arr && buf_len(dst) == 5 && buf_len(b) == 0,
	   "moved whole into an empty buffer: the same array, no copy");
	ok(buf_add(b, "more", 4) && buf_move(b, dst, 2) && buf_len(dst) == 7 &&
	   !memcmp(buf_data(dst), "replymo", 7) && buf_len(b) == 2 && !memcmp(buf_data(b), "re", 2),
	   "a part, or into a non-empty buffer: appended and drained");
	ok(buf_move(b, dst, 50) && buf_len(dst) == 9 && buf_len(b) == 0, "a move past the end takes what is there");

	/* overflow fails cleanly */
	ok(buf_reserve(b, SIZE_MAX - 10) == NULL && buf_len(b) == 0 && b->cap == BUF_MIN_CAP,
	   "a reserve that would overflow fails, the buffer unchanged");
	ok(buf_add(b, "x", 1) && buf_len(b) == 1, "and stays usable");

	buf_free(b);
	buf_free(dst);
	buf_free(NULL);
	random_walk();
	return done_testing();
}
