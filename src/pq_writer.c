/*
 * pq_writer.c — growable message builder with a sticky failure flag.
 */
#include <stdlib.h>
#include <string.h>

#include "pq_writer.h"


/* A login's messages (its authentication request, its welcome) are built
 * and sent at once: in room on the caller's stack they cost no malloc,
 * realloc and free each. */
void pq_writer_init_room(struct pq_writer *w, void *room, size_t size)
{
	memset(w, 0, sizeof *w);
	w->buf = room;
	w->cap = size;
	w->borrowed = true;
}

void pq_writer_free_buf(struct pq_writer *w)
{
	free(w->buf);
}

void pq_writer_reset(struct pq_writer *w)
{
	w->len = 0;
	w->msg_start = 0;
	w->failed = false;
}

static bool reserve(struct pq_writer *w, size_t n)
{
	if (w->failed)
		return false;
	if (n > PQ_WRITER_MAX || w->len > PQ_WRITER_MAX - n) {
		w->failed = true;
		return false;
	}
	if (w->len + n <= w->cap)
		return true;
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + n)
		cap *= 2;
	uint8_t *nb = w->borrowed ? malloc(cap) : realloc(w->buf, cap);
	if (!nb) {
		w->failed = true;
		return false;
	}
	if (w->borrowed)
		memcpy(nb, w->buf, w->len);
	w->borrowed = false;
	w->buf = nb;
	w->cap = cap;
	return true;
}

/* Past the room there is: pq_put_bytes (pq_writer.h) comes here. */
void pq_put_bytes_grow(struct pq_writer *w, const void *p, size_t n)
{
	if (!reserve(w, n))
		return;
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void pq_end(struct pq_writer *w)
{
	pq_end_front(w, 0);
}

void pq_end_front(struct pq_writer *w, size_t more)
{
	if (w->failed)
		return;
	size_t n = w->len - w->msg_start;
	if (n > 0x7fffffffu || more > 0x7fffffffu - n) {
		w->failed = true;
		return;
	}
	n += more;
	uint8_t *p = w->buf + w->msg_start;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}
