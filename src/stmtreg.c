/*
 * stmtreg.c — the statement registry and clients' names. See stmtreg.h.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "config.h"
#include "compiler.h"
#include "log.h"
#include "prepared.h"
#include "runtime.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "stmtshape.h"

/* ---- the registry ---- */

static struct {
	struct pstmt **b;
	size_t nb, n;
	uint64_t next_id;
} reg;

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t key_hash(const struct pool *pool, const uint8_t *rest, size_t len)
{
	return hash_bytes(rest, len, hash_bytes(&pool, sizeof pool, 1469598103934665603ull));
}

static bool grow(void)
{
	size_t nb = reg.nb ? reg.nb * 2 : 256;
	struct pstmt **b = calloc(nb, sizeof *b);
	if (!b)
		return false;
	for (size_t i = 0; i < reg.nb; i++) {
		for (struct pstmt *p = reg.b[i], *next; p; p = next) {
			next = p->next;
			p->next = b[p->hash & (nb - 1)];
			b[p->hash & (nb - 1)] = p;
		}
	}
	free(reg.b);
	reg.b = b;
	reg.nb = nb;
	return true;
}

static struct pstmt *find(const struct pool *pool, const uint8_t *rest, size_t len, uint64_t h)
{
	if (!reg.nb)
		return NULL;
	for (struct pstmt *p = reg.b[h & (reg.nb - 1)]; p; p = p->next)
		if (p->hash == h && p->pool == pool && p->rest_len == len && !memcmp(p->rest, rest, len))
			return p;
	return NULL;
}

struct pstmt *stmtreg_find(const struct pool *pool, const uint8_t *rest, size_t len)
{
	return find(pool, rest, len, key_hash(pool, rest, len));
}

void stmtreg_hold(struct pstmt *ps)
{
	ps->refs++;
}

/* The entry for (pool, rest), with one more reference; NULL when out of memory. */
struct pstmt *stmtreg_get(const struct pool *pool, const uint8_t *rest, size_t len)
{
	uint64_t h = key_hash(pool, rest, len);
	struct pstmt *p = find(pool, rest, len, h);
	if (p) {
		p->refs++;
		return p;
	}
	if (reg.n >= reg.nb && !grow())
		return NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->rest = malloc(len ? len : 1);
	if (!p->rest) {
		free(p);
		return NULL;
	}
	memcpy(p->rest, rest, len);
	p->rest_len = len;
	p->pool = pool;
	p->hash = h;
	p->id = ++reg.next_id;
	p->refs = 1;
	p->next = reg.b[h & (reg.nb - 1)];
	reg.b[h & (reg.nb - 1)] = p;
	reg.n++;
	return p;
}

void stmtreg_put(struct pstmt *p)
{
	if (p->refs == 0)
		BUG("prepared statement %llu released more often than held", (unsigned long long)p->id);
	if (--p->refs > 0)
		return;
	for (struct pstmt **pp = &reg.b[p->hash & (reg.nb - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	reg.n--;
	shape_put(p->params);
	shape_put(p->rows);
	free(p->rest);
	free(p);
}

void stmtreg_set_shape(struct shape **slot, struct shape *sh)
{
	struct shape *old = *slot;
	*slot = shape_hold(sh);
	shape_put(old);
}

size_t prepared_registry_size(void)
{
	return reg.n;
}

/* ---- a client's names ---- */

static struct cstmt **slot_of(struct client_stmts *cs, const char *name)
{
	return &cs->b[hash_bytes(name, strlen(name), 1469598103934665603ull) & 63];
}

struct cstmt *stmtreg_name_find(struct client_stmts *cs, const char *name)
{
	for (struct cstmt *e = *slot_of(cs, name); e; e = e->next)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

static size_t name_bytes(const struct cstmt *e)
{
	return strlen(e->name) + e->ps->rest_len;
}

struct cstmt *stmtreg_name_add(struct client_stmts *cs, const char *name, struct pstmt *ps)
{
	struct cstmt *e = calloc(1, sizeof *e);
	if (!e || !(e->name = strdup(name))) {
		free(e);
		return NULL;
	}
	e->ps = ps;
	struct cstmt **slot = slot_of(cs, name);
	e->next = *slot;
	*slot = e;
	cs->n++;
	cs->bytes += name_bytes(e);
	return e;
}

bool stmtreg_name_room(struct client *c, size_t name_len, size_t text_len)
{
	const struct client_stmts *cs = c->stmts;
	size_t n = cs ? cs->n : 0, bytes = cs ? cs->bytes : 0;
	size_t max_n = (size_t)rt.cfg->max_client_prepared_statements;
	size_t max_bytes = (size_t)rt.cfg->max_client_prepared_bytes;
	if (n < max_n && name_len + text_len <= max_bytes && bytes <= max_bytes - name_len - text_len)
		return true;
	client_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
		    "too many prepared statements: this connection holds %zu, of %zu bytes "
		    "(max_client_prepared_statements = %zu, max_client_prepared_bytes = %zu); "
		    "close some (Close, DEALLOCATE) before preparing more",
		    n, bytes, max_n, max_bytes);
	return false;
}

static void name_free(struct cstmt *e)
{
	stmtreg_put(e->ps);
	shape_put(e->told_params);
	shape_put(e->told_rows);
	free(e->name);
	free(e);
}

const char *stmtreg_name_of(const struct client_stmts *cs, uint64_t id)
{
	for (size_t i = 0; i < ARRAY_SIZE(cs->b); i++)
		for (const struct cstmt *e = cs->b[i]; e; e = e->next)
			if (e->ps->id == id)
				return e->name;
	return NULL;
}

void stmtreg_name_del(struct client_stmts *cs, const char *name)
{
	for (struct cstmt **pp = slot_of(cs, name); *pp; pp = &(*pp)->next) {
		struct cstmt *e = *pp;
		if (!strcmp(e->name, name)) {
			*pp = e->next;
			if (cs->bound == e)
				cs->bound = NULL;
			cs->n--;
			cs->bytes -= name_bytes(e);
			name_free(e);
			return;
		}
	}
}

struct cstmt *stmtreg_named(struct client *c, const char *cname)
{
	return cname && *cname && c->stmts ? stmtreg_name_find(c->stmts, cname) : NULL;
}

struct client_stmts *stmtreg_names(struct client *c)
{
	if (!c->stmts)
		c->stmts = calloc(1, sizeof *c->stmts);
	return c->stmts;
}

void prepared_client_forget_names(struct client *c)
{
	struct client_stmts *cs = c->stmts;
	if (!cs)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cs->b); i++) {
		for (struct cstmt *e = cs->b[i], *next; e; e = next) {
			next = e->next;
			name_free(e);
		}
		cs->b[i] = NULL;
	}
	cs->bound = NULL;
	cs->n = cs->bytes = 0;
}

void prepared_client_free(struct client *c)
{
	if (!c->stmts)
		return;
	prepared_client_forget_names(c);
	free(c->stmts->scan);
	free(c->stmts);
	c->stmts = NULL;
}
