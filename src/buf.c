/*
 * buf.c — the slow paths of buf.h: making, growing, shrinking, and the
 * moves that are more than a copy at the back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct buf *buf_new(void)
{
	struct buf *b = malloc(sizeof *b);
	if (!b)
		return NULL;
	b->data = malloc(BUF_MIN_CAP);
	if (!b->data) {
		free(b);
		return NULL;
	}
	b->head = b->tail = 0;
	b->cap = BUF_MIN_CAP;
	return b;
}

void buf_free(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	free(b);
}

/* Room for n more bytes, and the held bytes at the front of the array
 * (head 0): they slide there when they are no more than the space
 * consumed before them (a copy the drained bytes paid for); else the
 * array at least doubles, so growing costs amortised constant time. */
bool buf_grow(struct buf *b, size_t n)
{
	size_t len = buf_len(b);
	if (n > SIZE_MAX / 4 - len)
		return false;
	size_t need = len + n;
	if (b->head == 0 && need <= b->cap)
		return true;
	if (need <= b->cap && len <= b->head) {
		memcpy(b->data, b->data + b->head, len);   /* (apart: len <= head) */
		b->head = 0;
		b->tail = len;
		return true;
	}
	size_t cap = b->cap * 2;
	while (cap < need)
		cap *= 2;
	uint8_t *data;
	if (b->head == 0) {
		data = realloc(b->data, cap);
		if (!data)
			return false;
	} else {
		/* only the live bytes are worth copying */
		data = malloc(cap);
		if (!data)
			return false;
		memcpy(data, b->data + b->head, len);
		free(b->data);
	}
	b->data = data;
	b->cap = cap;
	b->head = 0;
	b->tail = len;
	return true;
}

void buf_shrink(struct buf *b)
{
	if (buf_len(b) != 0 || b->cap <= BUF_MIN_CAP)
		return;
	uint8_t *data = malloc(BUF_MIN_CAP);
	if (!data)
		return;   /* keep the large one: still a buffer */
	free(b->data);
	b->data = data;
	b->cap = BUF_MIN_CAP;
	b->head = b->tail = 0;
}

bool buf_prepend(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return true;
	if (n <= b->head) {
		b->head -= n;
		memcpy(b->data + b->head, p, n);
		return true;
	}
	size_t len = buf_len(b);
	if (!buf_grow(b, n))
		return false;
	/* buf_grow leaves the held bytes at the front (head 0): they move
	 * up by n */
	memmove(b->data + b->head + n, b->data + b->head, len);
	memcpy(b->data + b->head, p, n);
	b->tail += n;
	return true;
}

bool buf_move(struct buf *src, struct buf *dst, size_t n)
{
	if (n > buf_len(src))
		n = buf_len(src);
	if (n == 0)
		return true;
	if (n == buf_len(src) && buf_len(dst) == 0) {
		struct buf t = *dst;
		*dst = *src;
		*src = t;
		src->head = src->tail = 0;
		/* src keeps dst's empty array; a large one shrinks as if drained */
		if (src->cap > BUF_SHRINK_ABOVE)
			buf_shrink(src);
		return true;
	}
	if (!buf_add(dst, buf_data(src), n))
		return false;
	buf_drain(src, n);
	return true;
}
