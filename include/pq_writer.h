/*
 * pq_writer.h — build one or more whole protocol messages, check once,
 * send once.
 *
 * INTERFACE ROUTINES
 *   pq_writer_init / pq_writer_free
 *   pq_writer_init_room(w, room, size)   start in the caller's buffer
 *                          (on the stack); grows to the heap past it
 *   pq_begin(w, type)      start a message (type 0: untyped, as startup)
 *   pq_put_u8/u16/u32/bytes/cstring
 *   pq_end(w)              patch the length of the message begun last
 *   pq_end_front(w, more)  the same for the front of a message whose
 *                          last `more` bytes are sent by someone else
 *   pq_writer_ok(w)        false if any step failed (sticky)
 *
 * A zero-filled writer is valid and empty. Storage grows on the heap; after
 * a failure every put is a no-op, so callers check once at the end.
 */
#ifndef SLUICE_PQ_WRITER_H
#define SLUICE_PQ_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compiler.h"

/* The most one writer holds: nothing sluice builds is larger. Past it
 * the writer fails (pq_writer_ok is false). */
#define PQ_WRITER_MAX (64u * 1024 * 1024)

struct pq_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t msg_start;   /* offset of the current message's length field */
	bool failed;
	bool borrowed;      /* buf is the caller's (pq_writer_init_room): not freed */
};

/* (init and free inline: every relay hook that may write makes one, and
 * most write nothing) */
static inline void pq_writer_init(struct pq_writer *w)
{
	*w = (struct pq_writer){ 0 };
}

void pq_writer_init_room(struct pq_writer *w, void *room, size_t size);
void pq_writer_free_buf(struct pq_writer *w);

static inline void pq_writer_free(struct pq_writer *w)
{
	if (w->buf && !w->borrowed)
		pq_writer_free_buf(w);
	*w = (struct pq_writer){ 0 };
}
void pq_writer_reset(struct pq_writer *w);
void pq_put_bytes_grow(struct pq_writer *w, const void *p, size_t n);

/* Inline: messages are built a few bytes at a time (a login's dozen, each
 * query's Bind), and a call with its checks per put cost more than the
 * copy. The check here is the whole check while there is room (cap never
 * passes PQ_WRITER_MAX; a failed writer puts nothing). */
static inline void pq_put_bytes(struct pq_writer *w, const void *p, size_t n)
{
	if (likely(!w->failed && n <= w->cap - w->len)) {
		if (n)
			memcpy(w->buf + w->len, p, n);
		w->len += n;
	} else {
		pq_put_bytes_grow(w, p, n);
	}
}

static inline void pq_put_u8(struct pq_writer *w, uint8_t v)
{
	pq_put_bytes(w, &v, 1);
}

static inline void pq_put_u16(struct pq_writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	pq_put_bytes(w, b, 2);
}

static inline void pq_put_u32(struct pq_writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	pq_put_bytes(w, b, 4);
}

static inline void pq_put_cstring(struct pq_writer *w, const char *s)
{
	pq_put_bytes(w, s, strlen(s) + 1);
}

static inline void pq_begin(struct pq_writer *w, char type)
{
	if (type)
		pq_put_u8(w, (uint8_t)type);
	w->msg_start = w->len;
	pq_put_u32(w, 0);
}

void pq_end(struct pq_writer *w);
void pq_end_front(struct pq_writer *w, size_t more);

static inline bool pq_writer_ok(const struct pq_writer *w) { return !w->failed; }

#endif
