/*
 * prepared.c — named prepared statements across the pool. See prepared.h.
 *
 * Three structures:
 *   the registry     statement text+types -> (id, refcount), shared
 *   client_stmts     a client's names -> registry entries
 *   server_stmts     the ids a server has prepared (LRU, bounded by
 *                    max_prepared_statements) and the queue of responses
 *                    its client is owed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "client.h"
#include "config.h"
#include "list.h"
#include "log.h"
#include "pool.h"
#include "pq_reader.h"
#include "prepared.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"

#define NAME_PREFIX "sluice_"

/* ---- the shared registry ---- */

struct pstmt {
	uint64_t id, hash;
	uint8_t *rest;            /* Parse body after the name */
	size_t rest_len;
	unsigned refs;
	struct pstmt *next;
};

static struct {
	struct pstmt **b;
	size_t nb, n;
	uint64_t next_id;
} reg;

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool reg_grow(void)
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

static struct pstmt *reg_get(const uint8_t *rest, size_t len)
{
	uint64_t h = hash_bytes(rest, len);
	if (reg.nb) {
		for (struct pstmt *p = reg.b[h & (reg.nb - 1)]; p; p = p->next) {
			if (p->hash == h && p->rest_len == len && !memcmp(p->rest, rest, len)) {
				p->refs++;
				return p;
			}
		}
	}
	if (reg.n >= reg.nb && !reg_grow())
		return NULL;
	struct pstmt *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->rest = malloc(len ? len : 1);
	if (!p->rest) {
		free(p);
		return NULL;
	}
	memcpy(p->rest, rest, len);
	p->rest_len = len;
	p->hash = h;
	p->id = ++reg.next_id;
	p->refs = 1;
	p->next = reg.b[h & (reg.nb - 1)];
	reg.b[h & (reg.nb - 1)] = p;
	reg.n++;
	return p;
}

static void reg_put(struct pstmt *p)
{
	if (--p->refs > 0)
		return;
	for (struct pstmt **pp = &reg.b[p->hash & (reg.nb - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	reg.n--;
	free(p->rest);
	free(p);
}

size_t prepared_registry_size(void)
{
	return reg.n;
}

/* ---- a client's names ---- */

struct cstmt {
	char *name;
	struct pstmt *ps;
	struct cstmt *next;
};

struct client_stmts {
	struct cstmt *b[64];
};

static struct cstmt **cslot(struct client_stmts *cs, const char *name)
{
	return &cs->b[hash_bytes(name, strlen(name)) & 63];
}

static struct cstmt *cmap_find(struct client_stmts *cs, const char *name)
{
	for (struct cstmt *e = *cslot(cs, name); e; e = e->next)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

static bool cmap_add(struct client_stmts *cs, const char *name, struct pstmt *ps)
{
	struct cstmt *e = calloc(1, sizeof *e);
	if (!e || !(e->name = strdup(name))) {
		free(e);
		return false;
	}
	e->ps = ps;
	struct cstmt **slot = cslot(cs, name);
	e->next = *slot;
	*slot = e;
	return true;
}

static void cmap_del(struct client_stmts *cs, const char *name)
{
	for (struct cstmt **pp = cslot(cs, name); *pp; pp = &(*pp)->next) {
		struct cstmt *e = *pp;
		if (!strcmp(e->name, name)) {
			*pp = e->next;
			reg_put(e->ps);
			free(e->name);
			free(e);
			return;
		}
	}
}

void prepared_client_free(struct client *c)
{
	struct client_stmts *cs = c->stmts;
	if (!cs)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cs->b); i++) {
		for (struct cstmt *e = cs->b[i], *next; e; e = next) {
			next = e->next;
			reg_put(e->ps);
			free(e->name);
			free(e);
		}
	}
	free(cs);
	c->stmts = NULL;
}

/* ---- a server's statements and the responses it owes ---- */

enum rq_kind {
	RQ_PARSE,          /* client's Parse, forwarded (id: ours, 0: unnamed) */
	RQ_PARSE_DUP,      /* client re-Parsed a name it has: the server refuses */
	RQ_BIND, RQ_CLOSE, RQ_DESCRIBE, RQ_EXECUTE,
	RQ_SYNC, RQ_QUERY, RQ_FUNC,
	RQ_OWN_PARSE,      /* sluice's Parse: its ParseComplete is dropped */
	RQ_OWN_CLOSE,      /* sluice's Close: its CloseComplete is dropped */
	RQ_ANSWER_PARSE,   /* sluice owes the client a ParseComplete */
	RQ_ANSWER_CLOSE,   /* sluice owes the client a CloseComplete */
};

struct rq_entry {
	uint8_t kind;
	uint64_t id;
	char *cname;       /* RQ_PARSE / RQ_ANSWER_PARSE: the client's name, to
	                    * forget if PostgreSQL fails or skips the Parse */
};

struct sstmt {
	uint64_t id;
	struct list lru;
	struct sstmt *next;
};

struct server_stmts {
	struct sstmt *b[64];
	struct list lru;           /* most recently used first */
	size_t n;
	struct rq_entry *q;        /* ring */
	size_t qcap, qhead, qlen;  /* qcap: a power of two (indexes wrap by mask) */
};

static void rq_pop(struct server_stmts *ss);

static struct server_stmts *sstmts(struct server *s)
{
	if (!s->stmts) {
		s->stmts = calloc(1, sizeof *s->stmts);
		if (s->stmts)
			list_init(&s->stmts->lru);
	}
	return s->stmts;
}

static struct sstmt *sset_find(struct server_stmts *ss, uint64_t id)
{
	for (struct sstmt *e = ss->b[id & 63]; e; e = e->next)
		if (e->id == id)
			return e;
	return NULL;
}

static void sset_del(struct server_stmts *ss, uint64_t id)
{
	for (struct sstmt **pp = &ss->b[id & 63]; *pp; pp = &(*pp)->next) {
		struct sstmt *e = *pp;
		if (e->id == id) {
			*pp = e->next;
			list_del_init(&e->lru);
			free(e);
			ss->n--;
			return;
		}
	}
}

static bool sset_add(struct server_stmts *ss, uint64_t id)
{
	struct sstmt *e = calloc(1, sizeof *e);
	if (!e)
		return false;
	e->id = id;
	e->next = ss->b[id & 63];
	ss->b[id & 63] = e;
	list_prepend(&ss->lru, &e->lru);
	ss->n++;
	return true;
}

static void sset_clear(struct server_stmts *ss)
{
	for (size_t i = 0; i < ARRAY_SIZE(ss->b); i++) {
		for (struct sstmt *e = ss->b[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
		ss->b[i] = NULL;
	}
	list_init(&ss->lru);
	ss->n = 0;
}

void prepared_server_free(struct server *s)
{
	if (!s->stmts)
		return;
	while (s->stmts->qlen)
		rq_pop(s->stmts);
	sset_clear(s->stmts);
	free(s->stmts->q);
	free(s->stmts);
	s->stmts = NULL;
}

void prepared_server_discarded(struct server *s)
{
	if (s->stmts)
		sset_clear(s->stmts);
}

bool prepared_server_idle(const struct server *s)
{
	return !s->stmts || s->stmts->qlen == 0;
}

static struct rq_entry *rq_head(struct server_stmts *ss)
{
	return ss && ss->qlen ? &ss->q[ss->qhead] : NULL;
}

static void rq_pop(struct server_stmts *ss)
{
	if (ss->q[ss->qhead].cname) {
		free(ss->q[ss->qhead].cname);
		ss->q[ss->qhead].cname = NULL;
	}
	ss->qhead = (ss->qhead + 1) & (ss->qcap - 1);
	ss->qlen--;
}

static bool rq_push(struct server_stmts *ss, enum rq_kind kind, uint64_t id)
{
	if (ss->qlen == ss->qcap) {
		size_t ncap = ss->qcap ? ss->qcap * 2 : 32;
		struct rq_entry *nq = malloc(ncap * sizeof *nq);
		if (!nq)
			return false;
		for (size_t i = 0; i < ss->qlen; i++)
			nq[i] = ss->q[(ss->qhead + i) & (ss->qcap - 1)];
		free(ss->q);
		ss->q = nq;
		ss->qcap = ncap;
		ss->qhead = 0;
	}
	ss->q[(ss->qhead + ss->qlen) & (ss->qcap - 1)] = (struct rq_entry){ (uint8_t)kind, id, NULL };
	ss->qlen++;
	return true;
}

static bool is_answer(uint8_t kind)
{
	return kind == RQ_ANSWER_PARSE || kind == RQ_ANSWER_CLOSE;
}

static void send_answer(struct client *c, uint8_t kind)
{
	/* ParseComplete '1' or CloseComplete '3': a header and no body */
	char msg[5] = { kind == RQ_ANSWER_PARSE ? '1' : '3', 0, 0, 0, 4 };
	if (c->server)
		relay_flush(&c->server->relay);   /* after the responses passed before it */
	evbuffer_add(c->conn.out, msg, sizeof msg);
}

/* Answers owed by sluice go out as soon as nothing before them is owed. */
static void flush_answers(struct server *s)
{
	struct server_stmts *ss = s->stmts;
	struct rq_entry *h;
	while ((h = rq_head(ss)) && is_answer(h->kind)) {
		if (s->client)
			send_answer(s->client, h->kind);
		rq_pop(ss);
	}
}

static bool owe(struct server *s, enum rq_kind kind, uint64_t id)
{
	struct server_stmts *ss = sstmts(s);
	if (!ss)
		return false;
	if (is_answer((uint8_t)kind) && ss->qlen == 0) {
		send_answer(s->client, (uint8_t)kind);
		return true;
	}
	return rq_push(ss, kind, id);
}

/* The client's name rides along with its Parse until PostgreSQL has
 * answered it (or sluice has, after everything before it succeeded). */
static bool tag_last(struct server *s, const char *cname)
{
	struct server_stmts *ss = s->stmts;
	if (!ss || !ss->qlen)
		return true;   /* answered at once: nothing can undo it */
	struct rq_entry *e = &ss->q[(ss->qhead + ss->qlen - 1) & (ss->qcap - 1)];
	return (e->cname = strdup(cname)) != NULL;
}

/* PostgreSQL failed or skipped the client's Parse: the name is not there. */
static void forget_name(struct server *s, const struct rq_entry *e)
{
	struct client *c = s->client;
	if (!e->cname || !c || !c->stmts)
		return;
	struct cstmt *cs = cmap_find(c->stmts, e->cname);
	if (cs && cs->ps->id == e->id)
		cmap_del(c->stmts, e->cname);
}

/* ---- the client side ---- */

static void stmt_name(char *buf, size_t n, uint64_t id)
{
	snprintf(buf, n, NAME_PREFIX "%llu", (unsigned long long)id);
}

static void put_msg(struct server *s, struct pq_writer *w)
{
	if (s->client)
		relay_flush(&s->client->relay);   /* after the messages passed before it */
	if (pq_writer_ok(w))
		evbuffer_add(s->conn.out, w->buf, w->len);
	pq_writer_reset(w);
}

/* Make sure the server has `ps`, preparing it (and evicting the least
 * recently used statement past max_prepared_statements) if not. */
static bool ensure_prepared(struct server *s, struct pstmt *ps, struct pq_writer *w)
{
	struct server_stmts *ss = sstmts(s);
	if (!ss)
		return false;
	struct sstmt *e = sset_find(ss, ps->id);
	if (e) {
		list_del_init(&e->lru);
		list_prepend(&ss->lru, &e->lru);
		return true;
	}
	char name[32];
	int cap = rt.cfg->max_prepared_statements;
	while (cap > 0 && ss->n >= (size_t)cap) {
		struct sstmt *victim = list_entry(ss->lru.prev, struct sstmt, lru);
		stmt_name(name, sizeof name, victim->id);
		pq_begin(w, 'C');
		pq_put_u8(w, 'S');
		pq_put_cstring(w, name);
		pq_end(w);
		put_msg(s, w);
		if (!rq_push(ss, RQ_OWN_CLOSE, victim->id))
			return false;
		sset_del(ss, victim->id);
	}
	stmt_name(name, sizeof name, ps->id);
	pq_begin(w, 'P');
	pq_put_cstring(w, name);
	pq_put_bytes(w, ps->rest, ps->rest_len);
	pq_end(w);
	put_msg(s, w);
	return rq_push(ss, RQ_OWN_PARSE, ps->id) && sset_add(ss, ps->id);
}

static enum relay_action on_parse(struct client *c, struct server *s, struct pq_reader *r,
				  struct pq_writer *w)
{
	const char *cname = pq_get_cstring(r);
	if (!cname || !*cname)
		return owe(s, RQ_PARSE, 0) ? RELAY_FORWARD : RELAY_FAIL;
	struct client_stmts *cs = c->stmts;
	struct cstmt *existing = cs ? cmap_find(cs, cname) : NULL;
	char name[32];
	if (existing) {
		/* PostgreSQL refuses a name in use; let it, so its error and
		 * skip-to-Sync rules apply exactly. */
		if (!ensure_prepared(s, existing->ps, w))
			return RELAY_FAIL;
		stmt_name(name, sizeof name, existing->ps->id);
		pq_begin(w, 'P');
		pq_put_cstring(w, name);
		pq_put_bytes(w, r->p, r->left);
		pq_end(w);
		put_msg(s, w);
		return owe(s, RQ_PARSE_DUP, 0) ? RELAY_DROP : RELAY_FAIL;
	}
	if (!cs && !(cs = c->stmts = calloc(1, sizeof *cs)))
		return RELAY_FAIL;
	struct pstmt *ps = reg_get(r->p, r->left);
	if (!ps)
		return RELAY_FAIL;
	if (!cmap_add(cs, cname, ps)) {
		reg_put(ps);
		return RELAY_FAIL;
	}
	struct server_stmts *ss = sstmts(s);
	struct sstmt *have = ss ? sset_find(ss, ps->id) : NULL;
	if (have) {
		list_del_init(&have->lru);
		list_prepend(&ss->lru, &have->lru);
		bool queued = ss->qlen > 0;
		if (!owe(s, RQ_ANSWER_PARSE, ps->id))
			return RELAY_FAIL;
		return (!queued || tag_last(s, cname)) ? RELAY_DROP : RELAY_FAIL;
	}
	if (!ensure_prepared(s, ps, w))
		return RELAY_FAIL;
	/* ensure_prepared queued its own Parse; this one is the client's:
	 * turn the entry into one whose ParseComplete the client gets. */
	ss = s->stmts;
	ss->q[(ss->qhead + ss->qlen - 1) & (ss->qcap - 1)].kind = RQ_PARSE;
	return tag_last(s, cname) ? RELAY_DROP : RELAY_FAIL;
}

/* The client's statement `cname`, or NULL (unnamed or not its own). */
static struct cstmt *named(struct client *c, const char *cname)
{
	return cname && *cname && c->stmts ? cmap_find(c->stmts, cname) : NULL;
}

/* Send `type` with the server's name for `ps` in place of the client's:
 * `before` the name, the name, then `after` (bytes left in the reader). */
static bool send_renamed(struct server *s, struct pq_writer *w, char type,
			 const void *before, size_t before_len, const struct pstmt *ps,
			 const struct pq_reader *after)
{
	char name[32];
	stmt_name(name, sizeof name, ps->id);
	pq_begin(w, type);
	pq_put_bytes(w, before, before_len);
	pq_put_cstring(w, name);
	pq_put_bytes(w, after->p, after->left);
	pq_end(w);
	put_msg(s, w);
	return pq_writer_ok(w);
}

static enum relay_action on_bind(struct client *c, struct server *s, struct pq_reader *r,
				 struct pq_writer *w)
{
	const char *portal = pq_get_cstring(r);
	struct cstmt *e = named(c, pq_get_cstring(r));
	if (!e)
		return owe(s, RQ_BIND, 0) ? RELAY_FORWARD : RELAY_FAIL;
	if (!ensure_prepared(s, e->ps, w) || !send_renamed(s, w, 'B', portal, strlen(portal) + 1, e->ps, r))
		return RELAY_FAIL;
	return owe(s, RQ_BIND, 0) ? RELAY_DROP : RELAY_FAIL;
}

static enum relay_action on_describe(struct client *c, struct server *s, struct pq_reader *r,
				     struct pq_writer *w)
{
	uint8_t what = pq_get_u8(r);
	struct cstmt *e = what == 'S' ? named(c, pq_get_cstring(r)) : NULL;
	if (!e)
		return owe(s, RQ_DESCRIBE, 0) ? RELAY_FORWARD : RELAY_FAIL;
	if (!ensure_prepared(s, e->ps, w) || !send_renamed(s, w, 'D', "S", 1, e->ps, r))
		return RELAY_FAIL;
	return owe(s, RQ_DESCRIBE, 0) ? RELAY_DROP : RELAY_FAIL;
}

static enum relay_action on_close(struct client *c, struct server *s, struct pq_reader *r)
{
	uint8_t what = pq_get_u8(r);
	const char *cname = pq_get_cstring(r);
	if (what != 'S' || !cname || !*cname)
		return owe(s, RQ_CLOSE, 0) ? RELAY_FORWARD : RELAY_FAIL;
	/* The server keeps the statement for others; the client's name goes.
	 * Closing a name that does not exist is not an error. */
	if (c->stmts)
		cmap_del(c->stmts, cname);
	return owe(s, RQ_ANSWER_CLOSE, 0) ? RELAY_DROP : RELAY_FAIL;
}

enum relay_action prepared_client_message(struct client *c, char type,
					  const uint8_t *body, size_t len)
{
	struct server *s = c->server;
	struct pq_reader r = pq_reader_make(body, len);
	struct pq_writer w;
	enum relay_action act;
	pq_writer_init(&w);
	switch (type) {
	case 'P': act = on_parse(c, s, &r, &w); break;
	case 'B': act = on_bind(c, s, &r, &w); break;
	case 'D': act = on_describe(c, s, &r, &w); break;
	case 'C': act = on_close(c, s, &r); break;
	default: act = RELAY_FORWARD; break;
	}
	if (!pq_writer_ok(&w))
		act = RELAY_FAIL;
	pq_writer_free(&w);
	return act;
}

enum relay_action prepared_client_observe(struct client *c, char type)
{
	struct server *s = c->server;
	bool ok = true;
	switch (type) {
	case 'E': ok = owe(s, RQ_EXECUTE, 0); break;
	case 'S': ok = owe(s, RQ_SYNC, 0); break;
	case 'Q': ok = owe(s, RQ_QUERY, 0); break;
	case 'F': ok = owe(s, RQ_FUNC, 0); break;
	default: break;
	}
	return ok ? RELAY_FORWARD : RELAY_FAIL;
}

/* ---- the server side ---- */

enum relay_action prepared_server_observe(struct server *s, char type)
{
	struct rq_entry *h = rq_head(s->stmts);
	if (h && ((h->kind == RQ_OWN_PARSE && type == '1') || (h->kind == RQ_OWN_CLOSE && type == '3')))
		return RELAY_DROP;
	return RELAY_FORWARD;
}

static bool completes(uint8_t kind, char type)
{
	switch (kind) {
	case RQ_PARSE: case RQ_PARSE_DUP: case RQ_OWN_PARSE: return type == '1';
	case RQ_BIND: return type == '2';
	case RQ_CLOSE: case RQ_OWN_CLOSE: return type == '3';
	case RQ_DESCRIBE: return type == 'T' || type == 'n';
	case RQ_EXECUTE: return type == 'C' || type == 'I' || type == 's';
	case RQ_SYNC: case RQ_QUERY: case RQ_FUNC: return type == 'Z';
	default: return false;
	}
}

void prepared_server_after(struct server *s, char type)
{
	struct server_stmts *ss = s->stmts;
	struct rq_entry *h = rq_head(ss);
	if (!h)
		return;
	if (type == 'E' && h->kind != RQ_QUERY && h->kind != RQ_FUNC && h->kind != RQ_SYNC) {
		/* An error in the extended protocol: PostgreSQL skips everything
		 * up to the next Sync, so nothing else before it is owed, and
		 * statements it skipped preparing are not on the server. */
		while ((h = rq_head(ss)) && h->kind != RQ_SYNC) {
			if ((h->kind == RQ_OWN_PARSE || h->kind == RQ_PARSE) && h->id)
				sset_del(ss, h->id);
			if (h->kind == RQ_PARSE || h->kind == RQ_ANSWER_PARSE)
				forget_name(s, h);
			rq_pop(ss);
		}
		return;
	}
	if (completes(h->kind, type)) {
		rq_pop(ss);
		flush_answers(s);
	}
}
