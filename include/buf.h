/*
 * buf.h — a connection's byte buffer: one contiguous array, bytes taken
 * from the front and added at the back.
 *
 * INTERFACE ROUTINES
 *   buf_new() / buf_free(b)     an empty buffer of BUF_MIN_CAP bytes
 *   buf_len(b), buf_data(b)     the bytes held: always contiguous, so a
 *                               message is read in place, never pulled up
 *   buf_add(b, p, n)            append; false when out of memory
 *   buf_reserve(b, n)           room for n bytes at the back (a read's
 *                               target), NULL when out of memory; then
 *   buf_commit(b, n)            the first n of them hold bytes now
 *   buf_drain(b, n)             drop n bytes from the front
 *   buf_remove(b, p, n)         copy out and drop; returns bytes copied
 *   buf_copyout(b, p, n)        copy out, keep; returns bytes copied
 *   buf_prepend(b, p, n)        put bytes back at the front
 *   buf_move(src, dst, n)       n bytes of src's front to dst's back: the
 *                               arrays change hands, no byte copied, when
 *                               dst is empty and takes all of src (the
 *                               usual reply relayed whole)
 *
 * Bounds: a buffer holds what its owner let in (conn.c reads at most
 * CONN_READ_SIZE at a time and stops reading above its high watermark;
 * the relay inspects messages up to its spec's limits), and its array
 * is at most twice that. An array above BUF_SHRINK_ABOVE goes back to
 * BUF_MIN_CAP the moment the buffer is empty, so a burst leaves no lasting
 * cost. A size that would overflow fails like no memory.
 *
 * It replaced libevent's evbuffer on the relay's path: a chain list costs
 * a lock check and a walk per call, and a length kept in a chain list
 * took a call to read; here every hot query is a field or two (see
 * test/bench/history.md for what it bought).
 */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "compiler.h"

#define BUF_MIN_CAP 1024                /* a new or shrunk array */
#define BUF_SHRINK_ABOVE (64 * 1024)    /* an empty array above this shrinks */

struct buf {
	uint8_t *data;       /* cap bytes, never NULL */
	size_t head, tail;   /* the bytes held are data[head, tail) */
	size_t cap;
};

struct buf *buf_new(void);
void buf_free(struct buf *b);
/* Make room for n bytes at the back; false: out of memory. */
bool buf_grow(struct buf *b, size_t n) MUST_CHECK;
bool buf_prepend(struct buf *b, const void *p, size_t n) MUST_CHECK;
bool buf_move(struct buf *src, struct buf *dst, size_t n) MUST_CHECK;
/* An emptied buffer's large array back to BUF_MIN_CAP (from buf_drain). */
void buf_shrink(struct buf *b);

static inline size_t buf_len(const struct buf *b)
{
	return b->tail - b->head;
}

static inline uint8_t *buf_data(const struct buf *b)
{
	return b->data + b->head;
}

static inline uint8_t *buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->tail < n && !buf_grow(b, n))
		return NULL;
	return b->data + b->tail;
}

static inline void buf_commit(struct buf *b, size_t n)
{
	b->tail += n;
}

static inline bool buf_add(struct buf *b, const void *p, size_t n)
{
	uint8_t *room = buf_reserve(b, n);
	if (!room)
		return false;
	if (n)
		memcpy(room, p, n);
	b->tail += n;
	return true;
}

static inline void buf_drain(struct buf *b, size_t n)
{
	if (n < buf_len(b)) {
		b->head += n;
		return;
	}
	b->head = b->tail = 0;
	if (b->cap > BUF_SHRINK_ABOVE)
		buf_shrink(b);
}

static inline size_t buf_copyout(const struct buf *b, void *p, size_t n)
{
	if (n > buf_len(b))
		n = buf_len(b);
	if (n)
		memcpy(p, buf_data(b), n);
	return n;
}

static inline size_t buf_remove(struct buf *b, void *p, size_t n)
{
	n = buf_copyout(b, p, n);
	buf_drain(b, n);
	return n;
}

#endif
