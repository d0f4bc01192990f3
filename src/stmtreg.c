/*
 * stmtreg.c — the statement registry and clients' names. See stmtreg.h.
 */
#include <stdlib.h>
#include <string.h>

#include "client_types.h"
#include "config.h"
#include "compiler.h"
#include "htab.h"
#include "log.h"
#include "prepared.h"
#include "runtime.h"
#include "siphash.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "stmtshape.h"

/* ---- the registry ---- */

static struct {
	struct htab tab;
	uint64_t next_id;
} reg;

/* SipHash under the process key: clients choose statement texts */
static uint64_t key_hash(const struct pool *pool, const uint8_t *rest, size_t len)
{
	struct siphash s;
	siphash_start(&s);
	siphash_bytes(&s, &pool, sizeof pool);
	siphash_bytes(&s, rest, len);
	return siphash_final(&s);
}

static struct pstmt *find(const struct pool *pool, const uint8_t *rest, size_t len, uint64_t h)
{
	for (struct htab_node *n = htab_find(&reg.tab, h); n; n = htab_find_next(n)) {
		struct pstmt *p = container_of(n, struct pstmt, node);
		if (p->pool == pool && p->rest_len == len && !memcmp(p->rest, rest, len))
			return p;
	}
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
	p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->rest = malloc(len ? len : 1);
	if (!p->rest || !htab_add(&reg.tab, &p->node, h)) {
		free(p->rest);
		free(p);
		return NULL;
	}
	memcpy(p->rest, rest, len);
	p->rest_len = len;
	p->pool = pool;
	p->id = ++reg.next_id;
	p->refs = 1;
	return p;
}

void stmtreg_put(struct pstmt *p)
{
	if (p->refs == 0)
		BUG("prepared statement %llu released more often than held", (unsigned long long)p->id);
	if (--p->refs > 0)
		return;
	htab_del(&reg.tab, &p->node);
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

/* ---- a client's names ---- */

/* SipHash under the process key: clients choose statement names */
static uint64_t name_hash(const char *name)
{
	return siphash_of(name, strlen(name));
}

static struct cstmt *name_find(struct client_stmts *cs, const char *name, uint64_t h)
{
	for (struct htab_node *n = htab_find(&cs->names, h); n; n = htab_find_next(n)) {
		struct cstmt *e = container_of(n, struct cstmt, node);
		if (!strcmp(e->name, name))
			return e;
	}
	return NULL;
}

struct cstmt *stmtreg_name_find(struct client_stmts *cs, const char *name)
{
	return name_find(cs, name, name_hash(name));
}

static size_t name_bytes(const struct cstmt *e)
{
	return strlen(e->name) + e->ps->rest_len;
}

struct cstmt *stmtreg_name_add(struct client_stmts *cs, const char *name, struct pstmt *ps)
{
	struct cstmt *e = calloc(1, sizeof *e);
	if (!e || !(e->name = strdup(name)) || !htab_add(&cs->names, &e->node, name_hash(name))) {
		if (e)
			free(e->name);
		free(e);
		return NULL;
	}
	e->ps = ps;
	cs->bytes += name_bytes(e);
	return e;
}

bool stmtreg_name_room(struct client *c, size_t name_len, size_t text_len)
{
	const struct client_stmts *cs = c->stmts;
	size_t n = cs ? htab_count(&cs->names) : 0, bytes = cs ? cs->bytes : 0;
	size_t max_n = (size_t)rt.cfg->max_client_prepared_statements;
	size_t max_bytes = (size_t)rt.cfg->max_client_prepared_bytes;
	if (n < max_n && name_len + text_len <= max_bytes && bytes <= max_bytes - name_len - text_len)
		return true;
	if (n < max_n) {   /* the count has room: the bytes do not */
		prepared_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
			    "prepared statements too large: this connection holds %zu bytes of them, "
			    "this one needs %zu more (max_client_prepared_bytes = %zu); "
			    "close some (Close, DEALLOCATE) or prepare shorter ones",
			    bytes, name_len + text_len, max_bytes);
		return false;
	}
	prepared_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
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
	struct htab_iter it;
	for (struct htab_node *n = htab_first(&cs->names, &it); n; n = htab_next(&it)) {
		const struct cstmt *e = container_of(n, struct cstmt, node);
		if (e->ps->id == id)
			return e->name;
	}
	return NULL;
}

void stmtreg_name_del(struct client_stmts *cs, const char *name)
{
	struct cstmt *e = name_find(cs, name, name_hash(name));
	if (!e)
		return;
	htab_del(&cs->names, &e->node);
	if (cs->bound == e)
		cs->bound = NULL;
	cs->bytes -= name_bytes(e);
	name_free(e);
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
	struct htab_iter it;
	for (struct htab_node *n = htab_first(&cs->names, &it); n; n = htab_next(&it))
		name_free(container_of(n, struct cstmt, node));
	htab_free(&cs->names);
	cs->bound = NULL;
	cs->bytes = 0;
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
