/*
 * stmtshape.c — shared copies of statement descriptions. See stmtshape.h.
 */
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "pq_reader.h"
#include "siphash.h"
#include "stmtshape.h"

static struct htab tab;

static uint64_t hash_body(char kind, const uint8_t *p, size_t n)
{
	struct siphash s;
	siphash_start(&s);
	siphash_bytes(&s, &kind, 1);
	siphash_bytes(&s, p, n);
	return siphash_final(&s);
}

/* A RowDescription body read whole: a count, then per column a name,
 * table OID, column number, type OID, size, modifier and format. */
static bool rows_valid(const uint8_t *body, size_t len)
{
	struct pq_reader r = pq_reader_make(body, len);
	uint16_t n = pq_get_u16(&r);
	for (uint16_t i = 0; i < n && !r.bad; i++) {
		(void)pq_get_cstring(&r);
		(void)pq_get_bytes(&r, 4 + 2 + 4 + 2 + 4 + 2);
	}
	return pq_reader_done(&r);
}

static bool params_valid(const uint8_t *body, size_t len)
{
	struct pq_reader r = pq_reader_make(body, len);
	uint16_t n = pq_get_u16(&r);
	(void)pq_get_bytes(&r, (size_t)n * 4);
	return pq_reader_done(&r);
}

static bool well_formed(char kind, const uint8_t *body, size_t len)
{
	switch (kind) {
	case 't': return params_valid(body, len);
	case 'T': return rows_valid(body, len);
	case 'n': return len == 0;
	default: return false;
	}
}

struct shape *shape_get(char kind, const uint8_t *body, size_t len)
{
	if (len > UINT32_MAX || !well_formed(kind, body, len))
		return NULL;
	uint64_t h = hash_body(kind, body, len);
	for (struct htab_node *n = htab_find(&tab, h); n; n = htab_find_next(n)) {
		struct shape *s = container_of(n, struct shape, node);
		if (s->kind == kind && s->len == len && (!len || !memcmp(s->body, body, len))) {
			s->refs++;
			return s;
		}
	}
	struct shape *s = malloc(sizeof *s + len);
	if (!s)
		return NULL;
	if (!htab_add(&tab, &s->node, h)) {
		free(s);
		return NULL;
	}
	s->refs = 1;
	s->kind = kind;
	s->len = (uint32_t)len;
	if (len)
		memcpy(s->body, body, len);   /* NoData has no body (and may come as NULL) */
	return s;
}

struct shape *shape_hold(struct shape *sh)
{
	if (sh)
		sh->refs++;
	return sh;
}

void shape_put(struct shape *sh)
{
	if (!sh || --sh->refs > 0)
		return;
	htab_del(&tab, &sh->node);
	free(sh);
}

size_t shape_count(void)
{
	return htab_count(&tab);
}

/* Column by column: name, type OID, size and modifier must agree. */
static bool rows_same(const struct shape *a, const struct shape *b)
{
	struct pq_reader ra = pq_reader_make(a->body, a->len);
	struct pq_reader rb = pq_reader_make(b->body, b->len);
	uint16_t n = pq_get_u16(&ra);
	if (pq_get_u16(&rb) != n)
		return false;
	for (uint16_t i = 0; i < n; i++) {
		const char *na = pq_get_cstring(&ra), *nb = pq_get_cstring(&rb);
		if (!na || !nb || strcmp(na, nb) != 0)
			return false;
		(void)pq_get_bytes(&ra, 4 + 2);   /* table OID, column number */
		(void)pq_get_bytes(&rb, 4 + 2);
		const uint8_t *ta = pq_get_bytes(&ra, 4 + 2 + 4), *tb = pq_get_bytes(&rb, 4 + 2 + 4);
		if (!ta || !tb || memcmp(ta, tb, 4 + 2 + 4) != 0)
			return false;
		(void)pq_get_bytes(&ra, 2);       /* format code */
		(void)pq_get_bytes(&rb, 2);
	}
	return !ra.bad && !rb.bad;
}

bool shape_same(const struct shape *a, const struct shape *b)
{
	if (!a || !b)
		return false;
	if (a == b)
		return true;
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case 'T': return rows_same(a, b);
	case 'n': return true;
	default: return a->len == b->len && !memcmp(a->body, b->body, a->len);   /* interned: differ */
	}
}
