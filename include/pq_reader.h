/*
 * pq_reader.h — a bounded cursor over one message body.
 *
 * Getters never read past the end: on a short read they set `bad` and
 * return a zero value. pq_reader_done() is true only when every byte was
 * consumed and nothing went wrong, so a parser can insist on an exact fit.
 */
#ifndef SLUICE_PQ_READER_H
#define SLUICE_PQ_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct pq_reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static inline struct pq_reader pq_reader_make(const void *data, size_t len)
{
	struct pq_reader r = { data, len, false };
	return r;
}

static inline uint8_t pq_get_u8(struct pq_reader *r)
{
	if (r->left < 1) { r->bad = true; r->left = 0; return 0; }
	r->left--;
	return *r->p++;
}

static inline uint16_t pq_get_u16(struct pq_reader *r)
{
	if (r->left < 2) { r->bad = true; r->left = 0; return 0; }
	uint16_t v = (uint16_t)((r->p[0] << 8) | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return v;
}

static inline uint32_t pq_get_u32(struct pq_reader *r)
{
	if (r->left < 4) { r->bad = true; r->left = 0; return 0; }
	uint32_t v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) |
		     ((uint32_t)r->p[2] << 8) | (uint32_t)r->p[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static inline int32_t pq_get_i32(struct pq_reader *r) { return (int32_t)pq_get_u32(r); }

/* A NUL-terminated string inside the body; NULL (and bad) if unterminated. */
static inline const char *pq_get_cstring(struct pq_reader *r)
{
	if (r->bad) return NULL;
	if (r->left && r->p[0] == 0) {   /* "" (the unnamed statement or portal): no memchr */
		r->p++;
		r->left--;
		return (const char *)r->p - 1;
	}
	const uint8_t *nul = r->left ? memchr(r->p, 0, r->left) : NULL;
	if (!nul) { r->bad = true; r->left = 0; return NULL; }
	const char *s = (const char *)r->p;
	size_t n = (size_t)(nul - r->p) + 1;
	r->p += n;
	r->left -= n;
	return s;
}

/* n raw bytes; NULL (and bad) if fewer are left. */
static inline const uint8_t *pq_get_bytes(struct pq_reader *r, size_t n)
{
	if (r->left < n) { r->bad = true; r->left = 0; return NULL; }
	const uint8_t *b = r->p;
	r->p += n;
	r->left -= n;
	return b;
}

static inline bool pq_reader_done(const struct pq_reader *r)
{
	return !r->bad && r->left == 0;
}

#endif
