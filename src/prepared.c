/*
 * prepared.c — named prepared statements across the pool. See prepared.h.
 *
 * Three structures:
 *   the registry     (pool, statement text+types) -> (id, what PostgreSQL
 *                    last said it takes and returns), shared by the pool's
 *                    clients and servers (stmtreg.c)
 *   client_stmts     a client's names -> registry entries, and what the
 *                    client was told each one takes and returns (stmtreg.c)
 *   server_stmts     the statements a server has prepared (LRU, bounded by
 *                    max_prepared_statements), what it said of each, and
 *                    the queue of responses its client is owed
 *
 * The rule that keeps clients from reading bytes of another shape than
 * they were told: whenever sluice prepares a statement on a server, it
 * describes it there too; a client's Bind of a statement it was told the
 * shape of goes on only once that server's shape is known and the same.
 * When it differs, the Bind fails as PostgreSQL's own does when a cached
 * plan's result type changed (0A000), and the client prepares again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "client.h"
#include "config.h"
#include "htab.h"
#include "list.h"
#include "log.h"
#include "pool.h"
#include "pq_reader.h"
#include "prepared.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "stmtshape.h"

#define NAME_PREFIX STMT_NAME_PREFIX
/* A name no statement ever has (ids start at 1): a Bind of it fails on
 * the server, which then skips to the next Sync as for any error. */
#define NO_SUCH_NAME NAME_PREFIX "0"
/* where PostgreSQL judges a Parse sluice cannot answer for sure */
#define CHECK_NAME NAME_PREFIX "check"
#define MSG_CACHED_PLAN "cached plan must not change result type"

/* ---- a server's statements and the responses it owes ---- */

enum rq_kind {
	RQ_PARSE,          /* client's Parse, forwarded (id: ours, 0: unnamed) */
	RQ_PARSE_DUP,      /* client re-Parsed a name it has: the server refuses */
	RQ_PARSE_CHECK,    /* client's Parse of a statement the server has, judged
	                    * there under CHECK_NAME (its answer is the client's) */
	RQ_BIND, RQ_CLOSE, RQ_DESCRIBE, RQ_EXECUTE,
	RQ_SYNC, RQ_QUERY, RQ_FUNC,
	RQ_DESCRIBE_STMT,  /* client's Describe of its statement `cname` */
	RQ_DESCRIBE_PORTAL,/* client's Describe of the unnamed portal bound to `cname` */
	RQ_BIND_MISMATCH,  /* a Bind sluice made fail: its error becomes 0A000 */
	RQ_OWN_PARSE,      /* sluice's Parse: its ParseComplete is dropped */
	RQ_OWN_DESCRIBE,   /* sluice's Describe of what it prepared: kept, dropped */
	RQ_OWN_CLOSE,      /* sluice's Close: its CloseComplete is dropped */
	RQ_ANSWER_PARSE,   /* sluice owes the client a ParseComplete */
	RQ_ANSWER_CLOSE,   /* sluice owes the client a CloseComplete */
};

struct rq_entry {
	uint8_t kind;
	uint64_t id;
	char *cname;       /* the client's name: RQ_PARSE / RQ_ANSWER_PARSE (to
	                    * forget if PostgreSQL fails or skips the Parse),
	                    * RQ_DESCRIBE_* (to note what the client was told) */
};

struct sstmt {
	struct pstmt *ps;              /* holds a reference */
	struct shape *params, *rows;   /* what this server said; NULL until it did */
	bool described;                /* its Describe was answered (shapes NULL: unreadable) */
	bool stale;                    /* its plan's result type changed: prepare again */
	bool parse_owed;               /* sluice's Parse of it is not answered yet: a Bind
	                                * of it sent now may find nothing */
	struct list lru;
	struct htab_node node;         /* in its server's table, hashed by id */
};

struct server_stmts {
	struct htab tab;           /* struct sstmt by statement id (ids are sequential:
	                            * they spread over the buckets as they are) */
	struct list lru;           /* most recently used first */
	struct rq_entry *q;        /* ring */
	size_t qcap, qhead, qlen;  /* qcap: a power of two (indexes wrap by mask) */
	struct shape *got_params;  /* a Describe's ParameterDescription, until its rows */
	unsigned describing;       /* RQ_DESCRIBE_STMT/_PORTAL and RQ_OWN_DESCRIBE owed */
	bool skipping;             /* after an error: the server ignores all to the next Sync */
	bool client_waits;         /* the client's next message waits for a Describe */
	bool resume;               /* ...which has come: relay the client again */
	bool stalled;              /* PREPARED_QUEUE_MAX answers owed: the client waits */
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
	if (!ss)
		return NULL;
	for (struct htab_node *n = htab_find(&ss->tab, id); n; n = htab_find_next(n)) {
		struct sstmt *e = container_of(n, struct sstmt, node);
		if (e->ps->id == id)
			return e;
	}
	return NULL;
}

static void sstmt_free(struct sstmt *e)
{
	list_del_init(&e->lru);
	shape_put(e->params);
	shape_put(e->rows);
	stmtreg_put(e->ps);
	free(e);
}

static void sset_del(struct server_stmts *ss, uint64_t id)
{
	struct sstmt *e = sset_find(ss, id);
	if (!e)
		return;
	htab_del(&ss->tab, &e->node);
	sstmt_free(e);
}

static struct sstmt *sset_add(struct server_stmts *ss, struct pstmt *ps)
{
	struct sstmt *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	if (!htab_add(&ss->tab, &e->node, ps->id)) {
		free(e);
		return NULL;
	}
	e->ps = ps;
	stmtreg_hold(ps);
	list_prepend(&ss->lru, &e->lru);
	return e;
}

static void sset_clear(struct server_stmts *ss)
{
	struct htab_iter it;
	for (struct htab_node *n = htab_first(&ss->tab, &it); n; n = htab_next(&it))
		sstmt_free(container_of(n, struct sstmt, node));
	htab_free(&ss->tab);
	list_init(&ss->lru);
}

void prepared_server_free(struct server *s)
{
	if (!s->stmts)
		return;
	while (s->stmts->qlen)
		rq_pop(s->stmts);
	sset_clear(s->stmts);
	shape_put(s->stmts->got_params);
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

bool prepared_server_describing(const struct server *s)
{
	return s->stmts && s->stmts->describing > 0;
}

bool prepared_server_take_resume(struct server *s)
{
	if (!s->stmts || !s->stmts->resume)
		return false;
	s->stmts->resume = false;
	return true;
}

static struct rq_entry *rq_head(struct server_stmts *ss)
{
	return ss && ss->qlen ? &ss->q[ss->qhead] : NULL;
}

/* Answers of these kinds are read (RowDescription, ParameterDescription). */
static bool is_describe(uint8_t kind)
{
	return kind == RQ_DESCRIBE_STMT || kind == RQ_DESCRIBE_PORTAL || kind == RQ_OWN_DESCRIBE;
}

static void rq_pop(struct server_stmts *ss)
{
	if (is_describe(ss->q[ss->qhead].kind))
		ss->describing--;
	if (ss->q[ss->qhead].cname) {
		free(ss->q[ss->qhead].cname);
		ss->q[ss->qhead].cname = NULL;
	}
	ss->qhead = (ss->qhead + 1) & (ss->qcap - 1);
	ss->qlen--;
}

/* Queue a response owed; `cname`, when given, is copied into the entry. */
static bool rq_push(struct server_stmts *ss, enum rq_kind kind, uint64_t id, const char *cname)
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
	char *copy = NULL;
	if (cname && !(copy = strdup(cname)))
		return false;
	ss->q[(ss->qhead + ss->qlen) & (ss->qcap - 1)] = (struct rq_entry){ (uint8_t)kind, id, copy };
	ss->qlen++;
	if (is_describe((uint8_t)kind))
		ss->describing++;
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

/* Note a response owed to the client for what it just sent; sluice's own
 * answers go out at once when nothing is owed before them. */
static bool owe(struct server *s, enum rq_kind kind, uint64_t id, const char *cname)
{
	struct server_stmts *ss = sstmts(s);
	if (!ss)
		return false;
	if (is_answer((uint8_t)kind) && ss->qlen == 0) {
		send_answer(s->client, (uint8_t)kind);
		return true;
	}
	return rq_push(ss, kind, id, cname);
}

/* PostgreSQL failed or skipped the client's Parse: the name is not there. */
static void forget_name(struct server *s, const struct rq_entry *e)
{
	struct client *c = s->client;
	if (!e->cname || !c || !c->stmts)
		return;
	struct cstmt *cs = stmtreg_name_find(c->stmts, e->cname);
	if (cs && cs->ps->id == e->id)
		stmtreg_name_del(c->stmts, e->cname);
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

static void put_stmt_msg(struct server *s, struct pq_writer *w, char type, char what, uint64_t id)
{
	char name[32];
	stmt_name(name, sizeof name, id);
	pq_begin(w, type);
	pq_put_u8(w, (uint8_t)what);
	pq_put_cstring(w, name);
	pq_end(w);
	put_msg(s, w);
}

static void put_flush(struct server *s, struct pq_writer *w)
{
	pq_begin(w, 'H');
	pq_end(w);
	put_msg(s, w);
}

bool prepared_client_stalled(struct server *s)
{
	struct server_stmts *ss = s->stmts;
	if (!ss || ss->qlen < PREPARED_QUEUE_MAX)
		return false;
	if (!ss->stalled) {
		/* PostgreSQL may hold its answers until a Flush or a Sync */
		struct pq_writer w;
		pq_writer_init(&w);
		put_flush(s, &w);
		pq_writer_free(&w);
		ss->stalled = true;
	}
	return true;
}

/* Make room under max_prepared_statements: close the least recently used. */
static bool make_room(struct server *s, struct server_stmts *ss, struct pq_writer *w)
{
	int cap = rt.cfg->max_prepared_statements;
	while (cap > 0 && htab_count(&ss->tab) >= (size_t)cap) {
		struct sstmt *victim = list_entry(ss->lru.prev, struct sstmt, lru);
		uint64_t id = victim->ps->id;
		put_stmt_msg(s, w, 'C', 'S', id);
		if (!rq_push(ss, RQ_OWN_CLOSE, id, NULL))
			return false;
		sset_del(ss, id);
	}
	return true;
}

/* Make sure the server has `ps`, preparing it if not (as the client's
 * Parse under `cname`, or as sluice's own when `cname` is NULL), and
 * describing it there, so that what it takes and returns is known. */
static struct sstmt *ensure_prepared(struct server *s, struct pstmt *ps, struct pq_writer *w,
				     const char *cname)
{
	struct server_stmts *ss = sstmts(s);
	if (!ss)
		return NULL;
	struct sstmt *e = sset_find(ss, ps->id);
	if (e && !e->stale) {
		list_del_init(&e->lru);
		list_prepend(&ss->lru, &e->lru);
		return e;
	}
	if (e) {
		/* PostgreSQL's plan of it went stale: close it, prepare anew */
		put_stmt_msg(s, w, 'C', 'S', ps->id);
		if (!rq_push(ss, RQ_OWN_CLOSE, ps->id, NULL))
			return NULL;
		sset_del(ss, ps->id);
	}
	if (!make_room(s, ss, w))
		return NULL;
	char name[32];
	stmt_name(name, sizeof name, ps->id);
	pq_begin(w, 'P');
	pq_put_cstring(w, name);
	pq_put_bytes(w, ps->rest, ps->rest_len);
	pq_end(w);
	put_msg(s, w);
	if (!rq_push(ss, cname ? RQ_PARSE : RQ_OWN_PARSE, ps->id, cname))
		return NULL;
	put_stmt_msg(s, w, 'D', 'S', ps->id);
	if (!rq_push(ss, RQ_OWN_DESCRIBE, ps->id, NULL))
		return NULL;
	struct sstmt *added = sset_add(ss, ps);
	if (added)
		added->parse_owed = true;
	return added;
}

/* Would PostgreSQL accept, right now, a Parse of a statement this server
 * has prepared? Only when nothing is in flight and its transaction has
 * not failed (in a failed one every Parse but COMMIT's or ROLLBACK's gets
 * 25P02, and what is in flight may yet fail). */
static bool parse_would_pass(const struct server *s)
{
	return s->stmts->qlen == 0 && s->txn_status != 'E' && !s->stmts->skipping;
}

/* Will the server's transaction have failed (state E) when the next
 * message reaches it? So when its last ReadyForQuery said E and only
 * Syncs (which leave it failed) or sluice's own answers are owed since. */
static bool txn_failed_ahead(const struct server *s)
{
	const struct server_stmts *ss = s->stmts;
	if (s->txn_status != 'E' || !ss || ss->skipping)
		return false;
	for (size_t i = 0; i < ss->qlen; i++) {
		uint8_t kind = ss->q[(ss->qhead + i) & (ss->qcap - 1)].kind;
		if (kind != RQ_SYNC && !is_answer(kind))
			return false;
	}
	return true;
}

/* The parameter count and types PostgreSQL last described for ps, into
 * w as a Parse's; else `n` parameters of type int4. */
static void put_param_types(struct pq_writer *w, const struct pstmt *ps, uint16_t n)
{
	if (ps->params && ps->params->len >= 2) {
		pq_put_bytes(w, ps->params->body, ps->params->len);   /* u16 count, u32 oids */
		return;
	}
	pq_put_u16(w, n);
	for (uint16_t i = 0; i < n; i++)
		pq_put_u32(w, 23);
}

/* In a failed transaction PostgreSQL refuses to prepare anything but
 * COMMIT, ROLLBACK and the empty string, and the client's Bind or
 * Describe of a statement this server lacks must fail (or pass) as it
 * would on a server that had it. So sluice prepares the empty string
 * under the statement's own name with its parameters: a Bind of it fails
 * in exec_bind_message with 25P02 as the client's would, and a Describe
 * answers its parameters and NoData, as PostgreSQL does for a statement
 * that returns no rows. Its error skips what follows, the Close too; so
 * the stand-in stays, noted as stale: the next use prepares the real one. */
static struct sstmt *prepare_standin(struct server *s, struct pstmt *ps, struct pq_writer *w,
				     uint16_t nparams)
{
	struct server_stmts *ss = sstmts(s);
	if (!ss)
		return NULL;
	if (sset_find(ss, ps->id)) {
		put_stmt_msg(s, w, 'C', 'S', ps->id);
		if (!rq_push(ss, RQ_OWN_CLOSE, 0, NULL))
			return NULL;
		sset_del(ss, ps->id);
	}
	if (!make_room(s, ss, w))
		return NULL;
	char name[32];
	stmt_name(name, sizeof name, ps->id);
	pq_begin(w, 'P');
	pq_put_cstring(w, name);
	pq_put_cstring(w, "");
	put_param_types(w, ps, nparams);
	pq_end(w);
	put_msg(s, w);
	if (!rq_push(ss, RQ_OWN_PARSE, 0, NULL))
		return NULL;
	struct sstmt *added = sset_add(ss, ps);
	if (added)
		added->stale = true;
	return added;
}

/* Does the server lack a usable ps? */
static bool server_lacks(struct server *s, const struct pstmt *ps)
{
	struct sstmt *have = sset_find(s->stmts, ps->id);
	return !have || have->stale;
}

/* A statement this server has that returns rows, or NULL. */
static struct sstmt *some_rows_stmt(struct server_stmts *ss)
{
	for (struct list *n = ss->lru.next; n != &ss->lru; n = n->next) {
		struct sstmt *e = list_entry(n, struct sstmt, lru);
		if (!e->stale && e->described && !e->parse_owed && e->rows && e->rows->kind == 'T')
			return e;
	}
	return NULL;
}

/* Otherwise PostgreSQL judges it: the same text under CHECK_NAME, closed
 * at once. Its ParseComplete, or its error, is the client's answer. */
static bool parse_checked(struct server *s, struct pq_writer *w, const struct pq_reader *r,
			  struct cstmt *named)
{
	uint64_t id = named->ps->id;
	const char *cname = named->name;
	named->checking = true;   /* a Bind or Describe of it waits for the verdict */
	pq_begin(w, 'P');
	pq_put_cstring(w, CHECK_NAME);
	pq_put_bytes(w, r->p, r->left);
	pq_end(w);
	pq_begin(w, 'C');
	pq_put_u8(w, 'S');
	pq_put_cstring(w, CHECK_NAME);
	pq_end(w);
	put_msg(s, w);
	return rq_push(s->stmts, RQ_PARSE_CHECK, id, cname) && rq_push(s->stmts, RQ_OWN_CLOSE, 0, NULL);
}

static enum relay_action on_parse(struct client *c, struct server *s, struct pq_reader *r,
				  struct pq_writer *w)
{
	const char *cname = pq_get_cstring(r);
	if (!cname || !*cname)
		return owe(s, RQ_PARSE, 0, NULL) ? RELAY_FORWARD : RELAY_FAIL;
	struct client_stmts *cs = stmtreg_names(c);
	if (!cs)
		return RELAY_FAIL;
	struct cstmt *existing = stmtreg_name_find(cs, cname);
	char name[32];
	if (existing) {
		/* PostgreSQL refuses a name in use; let it, so its error and
		 * skip-to-Sync rules apply exactly. */
		if (!ensure_prepared(s, existing->ps, w, NULL))
			return RELAY_FAIL;
		stmt_name(name, sizeof name, existing->ps->id);
		pq_begin(w, 'P');
		pq_put_cstring(w, name);
		pq_put_bytes(w, r->p, r->left);
		pq_end(w);
		put_msg(s, w);
		return owe(s, RQ_PARSE_DUP, existing->ps->id, cname) ? RELAY_DROP : RELAY_FAIL;
	}
	if (!stmtreg_name_room(c, strlen(cname), r->left))
		return RELAY_FAIL;
	struct pstmt *ps = stmtreg_get(c->pool, r->p, r->left);
	if (!ps)
		return RELAY_FAIL;
	struct cstmt *named = stmtreg_name_add(cs, cname, ps);
	if (!named) {
		stmtreg_put(ps);
		return RELAY_FAIL;
	}
	struct sstmt *have = sset_find(s->stmts, ps->id);
	if (have && !have->stale) {
		list_del_init(&have->lru);
		list_prepend(&s->stmts->lru, &have->lru);
		if (parse_would_pass(s))
			return owe(s, RQ_ANSWER_PARSE, ps->id, cname) ? RELAY_DROP : RELAY_FAIL;
		return parse_checked(s, w, r, named) ? RELAY_DROP : RELAY_FAIL;
	}
	return ensure_prepared(s, ps, w, cname) ? RELAY_DROP : RELAY_FAIL;
}

/* Send the front of `type` with `name` in place of the client's name:
 * `before` the name, the name; the relay then passes the rest of the
 * client's message as it is (everything after `r`'s cursor, of which
 * `shown` body bytes were read), streamed when it is long: a Bind's
 * parameters are never copied. */
static bool send_front(struct client *c, struct server *s, struct pq_writer *w, char type,
		       const void *before, size_t before_len, const char *name,
		       const struct pq_reader *r, size_t shown)
{
	size_t front = shown - r->left;   /* the body bytes replaced */
	pq_begin(w, type);
	pq_put_bytes(w, before, before_len);
	pq_put_cstring(w, name);
	pq_end_front(w, relay_body_len(&c->relay) - front);
	if (!pq_writer_ok(w))
		return false;
	put_msg(s, w);
	relay_skip_head(&c->relay, PQ_HEADER_LEN + front);
	return true;
}

/* The same with the server's name for `ps`. */
static bool send_renamed(struct client *c, struct server *s, struct pq_writer *w, char type,
			 const void *before, size_t before_len, const struct pstmt *ps,
			 const struct pq_reader *r, size_t shown)
{
	char name[32];
	stmt_name(name, sizeof name, ps->id);
	return send_front(c, s, w, type, before, before_len, name, r, shown);
}

/* A name the client never prepared that looks like sluice's own: it
 * must not reach another client's statement on this server. */
static bool foreign_name(const char *cname)
{
	return cname && !strncmp(cname, NAME_PREFIX, sizeof NAME_PREFIX - 1);
}

static void note_bound(struct client *c, const char *portal, struct cstmt *e)
{
	if (c->stmts && !*portal)
		c->stmts->bound = e;
}

enum next_step { NEXT_DESCRIBES, NEXT_OTHER, NEXT_UNKNOWN };

/* Does the client describe the portal it binds right after the Bind (as
 * libpq and psycopg do for every execution)? Then it learns the result's
 * shape before any row of it. */
static enum next_step next_describes(struct client *c, const char *portal, size_t shown)
{
	uint8_t buf[PQ_HEADER_LEN + 1 + 64];
	size_t plen = strlen(portal) + 1;
	size_t want = PQ_HEADER_LEN + 1 + plen;
	if (want > sizeof buf)
		return NEXT_OTHER;
	size_t got = relay_peek_next(&c->relay, buf, want);
	if (got == 0 && relay_body_len(&c->relay) > shown)
		return NEXT_OTHER;   /* shown by its head: what follows cannot be waited for */
	if (got == 0)
		return NEXT_UNKNOWN;
	if (buf[0] != 'D')
		return NEXT_OTHER;
	if (got < want)
		return NEXT_UNKNOWN;
	uint32_t len = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
	return len == 4 + 1 + plen && buf[5] == 'P' && !memcmp(buf + 6, portal, plen)
	       ? NEXT_DESCRIBES : NEXT_OTHER;
}

/* What the client was told of e agrees with what the server says. */
static bool told_matches(const struct cstmt *e, const struct sstmt *have)
{
	return (!e->told_params || shape_same(e->told_params, have->params)) &&
	       (!e->told_rows || shape_same(e->told_rows, have->rows));
}

/* The client's message waits for the server's answers so far (asked for
 * with a Flush): shown again when they have come. */
static enum relay_action wait_for_server(struct server *s, struct pq_writer *w)
{
	put_flush(s, w);
	s->stmts->client_waits = true;
	return RELAY_WAIT;
}

/* A Bind, in a failed transaction, of a statement the server lacks: to a
 * stand-in (above), which fails it as PostgreSQL fails the client's. */
static enum relay_action bind_in_failed_txn(struct client *c, struct server *s,
					    struct pq_reader *r, struct pq_writer *w, size_t shown,
					    const char *portal, struct cstmt *e)
{
	struct pq_reader p = *r;
	uint16_t nformats = pq_get_u16(&p);
	for (uint16_t i = 0; i < nformats; i++)
		(void)pq_get_u16(&p);
	uint16_t nparams = pq_get_u16(&p);
	if (p.bad)
		nparams = 0;   /* formats beyond the head shown: types from the Describe only */
	if (!prepare_standin(s, e->ps, w, nparams) ||
	    !send_renamed(c, s, w, 'B', portal, strlen(portal) + 1, e->ps, r, shown))
		return RELAY_FAIL;
	note_bound(c, portal, e);
	return owe(s, RQ_BIND, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
}

static enum relay_action on_bind(struct client *c, struct server *s, struct pq_reader *r,
				 struct pq_writer *w, size_t shown)
{
	const char *portal = pq_get_cstring(r);
	const char *cname = pq_get_cstring(r);
	struct cstmt *e = stmtreg_named(c, cname);
	if (!portal || (!cname && relay_body_len(&c->relay) > shown))
		return RELAY_FAIL;   /* (names longer than the head shown) */
	if (!e) {
		note_bound(c, portal, NULL);
		if (!owe(s, RQ_BIND, 0, NULL))
			return RELAY_FAIL;
		if (foreign_name(cname))
			return send_front(c, s, w, 'B', portal, strlen(portal) + 1, NO_SUCH_NAME, r,
					  shown) ? RELAY_FORWARD : RELAY_FAIL;
		return RELAY_FORWARD;
	}
	if (e->checking)
		return wait_for_server(s, w);   /* its Parse is judged there: the verdict first */
	if (server_lacks(s, e->ps) && txn_failed_ahead(s))
		return bind_in_failed_txn(c, s, r, w, shown, portal, e);
	struct sstmt *have = ensure_prepared(s, e->ps, w, NULL);
	if (!have)
		return RELAY_FAIL;
	if (e->told_params || e->told_rows) {
		if (!have->described)
			return wait_for_server(s, w);   /* described there, not answered yet */
		enum next_step next = NEXT_OTHER;
		if (!told_matches(e, have) &&
		    (!e->told_params || shape_same(e->told_params, have->params)) &&
		    (next = next_describes(c, portal, shown)) == NEXT_UNKNOWN)
			return RELAY_WAIT;   /* shown again when more has come */
		if (!told_matches(e, have) && next != NEXT_DESCRIBES) {
			client_log(c, LOG_LVL_INFO, "statement \"%s\" changed shape since the client "
				   "described it: its Bind gets 0A000", cname);
			pq_begin(w, 'B');
			pq_put_cstring(w, portal);
			pq_put_cstring(w, NO_SUCH_NAME);
			pq_put_u16(w, 0);
			pq_put_u16(w, 0);
			pq_put_u16(w, 0);
			pq_end(w);
			put_msg(s, w);
			note_bound(c, portal, NULL);
			return owe(s, RQ_BIND_MISMATCH, 0, NULL) ? RELAY_DROP : RELAY_FAIL;
		}
	}
	if (!send_renamed(c, s, w, 'B', portal, strlen(portal) + 1, e->ps, r, shown))
		return RELAY_FAIL;
	note_bound(c, portal, e);
	/* should its Parse fail, the error names the client's name (below) */
	return owe(s, RQ_BIND, e->ps->id, have->parse_owed ? cname : NULL) ? RELAY_FORWARD : RELAY_FAIL;
}

/* A Describe, in a failed transaction, of a statement the server lacks.
 * PostgreSQL answers it there when the statement returns no rows, and
 * fails it with 25P02 when it does; which it is, sluice knows from the
 * statement's last description. No rows: the stand-in answers. Rows: a
 * Describe of another statement of this server that returns rows fails
 * as the client's would. Neither known: the statement is prepared, and
 * that Parse fails (25P02 from exec_parse_message, see doc/testing.md). */
static enum relay_action describe_in_failed_txn(struct client *c, struct server *s,
						struct pq_reader *r, struct pq_writer *w,
						size_t shown, struct cstmt *e)
{
	const struct pstmt *ps = e->ps;
	if (ps->params && ps->rows && ps->rows->kind == 'n') {
		if (!prepare_standin(s, e->ps, w, 0) ||
		    !send_renamed(c, s, w, 'D', "S", 1, e->ps, r, shown))
			return RELAY_FAIL;
		return owe(s, RQ_DESCRIBE_STMT, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
	}
	struct sstmt *other = ps->rows && ps->rows->kind == 'T' ? some_rows_stmt(s->stmts) : NULL;
	if (other) {
		put_stmt_msg(s, w, 'D', 'S', other->ps->id);
		return owe(s, RQ_DESCRIBE, 0, NULL) ? RELAY_DROP : RELAY_FAIL;
	}
	if (!ensure_prepared(s, e->ps, w, NULL) || !send_renamed(c, s, w, 'D', "S", 1, e->ps, r, shown))
		return RELAY_FAIL;
	return owe(s, RQ_DESCRIBE_STMT, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
}

static enum relay_action on_describe(struct client *c, struct server *s, struct pq_reader *r,
				     struct pq_writer *w, size_t shown)
{
	uint8_t what = pq_get_u8(r);
	const char *name = pq_get_cstring(r);
	if (what == 'P' && name && !*name && c->stmts && c->stmts->bound) {
		/* The answer tells the client its statement's result columns:
		 * worth noting only when they are not what it was told already
		 * (as a rule they are: libpq describes every execution). */
		struct cstmt *e = c->stmts->bound;
		struct sstmt *have = sset_find(s->stmts, e->ps->id);
		bool known = have && have->described && e->told_rows && shape_same(e->told_rows, have->rows);
		if (!known)
			return owe(s, RQ_DESCRIBE_PORTAL, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
	}
	struct cstmt *e = what == 'S' ? stmtreg_named(c, name) : NULL;
	if (!e) {
		if (!owe(s, RQ_DESCRIBE, 0, NULL))
			return RELAY_FAIL;
		if (what == 'S' && foreign_name(name))
			return send_front(c, s, w, 'D', "S", 1, NO_SUCH_NAME, r, shown)
			       ? RELAY_FORWARD : RELAY_FAIL;
		return RELAY_FORWARD;
	}
	if (e->checking)
		return wait_for_server(s, w);
	if (server_lacks(s, e->ps) && txn_failed_ahead(s))
		return describe_in_failed_txn(c, s, r, w, shown, e);
	if (!ensure_prepared(s, e->ps, w, NULL) || !send_renamed(c, s, w, 'D', "S", 1, e->ps, r, shown))
		return RELAY_FAIL;
	return owe(s, RQ_DESCRIBE_STMT, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
}

static enum relay_action on_close(struct client *c, struct server *s, struct pq_reader *r)
{
	uint8_t what = pq_get_u8(r);
	const char *cname = pq_get_cstring(r);
	if (what != 'S' || !cname || !*cname)
		return owe(s, RQ_CLOSE, 0, NULL) ? RELAY_FORWARD : RELAY_FAIL;
	/* The server keeps the statement for others; the client's name goes.
	 * Closing a name that does not exist is not an error. */
	if (c->stmts)
		stmtreg_name_del(c->stmts, cname);
	return owe(s, RQ_ANSWER_CLOSE, 0, NULL) ? RELAY_DROP : RELAY_FAIL;
}

enum relay_action prepared_client_message(struct client *c, char type,
					  const uint8_t *body, size_t len)
{
	struct server *s = c->server;
	if (type == 'P') {
		struct pq_reader q = pq_reader_make(body, len);
		(void)pq_get_cstring(&q);
		const char *text = pq_get_cstring(&q);
		if (text && !prepared_parse_allowed(c, text))
			return RELAY_FAIL;
	}
	if (s->stmts && s->stmts->skipping)
		return RELAY_FORWARD;   /* the server ignores it: nothing is owed */
	struct pq_reader r = pq_reader_make(body, len);
	struct pq_writer w;
	enum relay_action act;
	pq_writer_init(&w);
	switch (type) {
	case 'P': act = on_parse(c, s, &r, &w); break;
	case 'B': act = on_bind(c, s, &r, &w, len); break;
	case 'D': act = on_describe(c, s, &r, &w, len); break;
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
	struct server_stmts *ss = s->stmts;
	if (ss && ss->skipping) {
		if (type != 'S')
			return RELAY_FORWARD;
		ss->skipping = false;   /* the server answers this Sync */
	}
	bool ok = true;
	switch (type) {
	case 'E': ok = owe(s, RQ_EXECUTE, 0, NULL); break;
	case 'S': ok = owe(s, RQ_SYNC, 0, NULL); break;
	case 'Q': ok = owe(s, RQ_QUERY, 0, NULL); break;
	case 'F': ok = owe(s, RQ_FUNC, 0, NULL); break;
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

/* The client's name in `e` still means statement e->id. */
static struct cstmt *entry_stmt(struct server *s, const struct rq_entry *e)
{
	struct client *c = s->client;
	struct cstmt *cs = c && c->stmts && e->cname ? stmtreg_name_find(c->stmts, e->cname) : NULL;
	return cs && cs->ps->id == e->id ? cs : NULL;
}

/* A Describe's answer: ParameterDescription (of a statement), then
 * RowDescription or NoData. Note who learnt what. */
static enum relay_action on_description(struct server *s, struct rq_entry *h, char type,
				       const uint8_t *body, size_t len)
{
	struct server_stmts *ss = s->stmts;
	bool own = h->kind == RQ_OWN_DESCRIBE;
	if (type == 't') {
		if (h->kind != RQ_DESCRIBE_PORTAL) {
			shape_put(ss->got_params);
			ss->got_params = shape_get('t', body, len);
		}
		return own ? RELAY_DROP : RELAY_FORWARD;
	}
	struct shape *rows = shape_get(type, body, len);
	struct shape *params = ss->got_params;
	ss->got_params = NULL;
	struct sstmt *have = sset_find(ss, h->id);
	if (h->kind == RQ_DESCRIBE_PORTAL) {
		struct cstmt *cs = entry_stmt(s, h);
		if (cs)
			stmtreg_set_shape(&cs->told_rows, rows);
	} else {
		if (have)
			have->described = true;
		if (have && rows && params) {
			stmtreg_set_shape(&have->params, params);
			stmtreg_set_shape(&have->rows, rows);
			stmtreg_set_shape(&have->ps->params, params);   /* for answers without a server */
			stmtreg_set_shape(&have->ps->rows, rows);
		}
		struct cstmt *cs = h->kind == RQ_DESCRIBE_STMT ? entry_stmt(s, h) : NULL;
		if (cs && rows && params) {
			stmtreg_set_shape(&cs->told_params, params);
			stmtreg_set_shape(&cs->told_rows, rows);
		}
	}
	shape_put(rows);
	shape_put(params);
	return own ? RELAY_DROP : RELAY_FORWARD;
}

/* sluice made the Bind fail: the client gets PostgreSQL's error for a
 * statement whose result type changed, in place of the server's. */
static enum relay_action mismatch_error(struct server *s)
{
	struct client *c = s->client;
	if (!c)
		return RELAY_DROP;
	struct pq_writer w;
	pq_writer_init(&w);
	/* as PostgreSQL 15 says it, where it says it */
	static const struct pq_error_origin at = { "plancache.c", "722", "RevalidateCachedQuery" };
	proto_build_error_at(&w, "ERROR", SQLSTATE_FEATURE_NOT_SUPPORTED, MSG_CACHED_PLAN, NULL, &at);
	bool ok = pq_writer_ok(&w);
	relay_flush(&s->relay);
	if (ok)
		evbuffer_add(c->conn.out, w.buf, w.len);
	pq_writer_free(&w);
	return ok ? RELAY_DROP : RELAY_FAIL;
}

/* The client's name for statement `id`: the one the entry keeps, else
 * the first of the client's names for it. */
static const char *client_name_of(struct server *s, const struct rq_entry *e)
{
	if (e->cname)
		return e->cname;
	struct client *c = s->client;
	return c && c->stmts ? stmtreg_name_of(c->stmts, e->id) : NULL;
}

/* PostgreSQL's error about sluice's statement, as PostgreSQL would have
 * said it to the client: under the client's name ("prepared statement
 * \"sluice_3\" does not exist" after a Parse it skipped, "... already
 * exists", "bind message supplies 1 parameters, but prepared statement
 * ..."). */
static enum relay_action error_renamed(struct server *s, const struct rq_entry *h,
				       const uint8_t *body, size_t len)
{
	struct client *c = s->client;
	const char *to = client_name_of(s, h);
	if (!c || !to)
		return RELAY_FORWARD;
	char from[32];
	stmt_name(from, sizeof from, h->id);
	struct pq_writer w;
	pq_writer_init(&w);
	enum relay_action act = RELAY_FORWARD;
	if (proto_build_error_renamed(&w, body, len, from, to) && pq_writer_ok(&w)) {
		relay_flush(&s->relay);
		evbuffer_add(c->conn.out, w.buf, w.len);
		act = RELAY_DROP;
	}
	pq_writer_free(&w);
	return act;
}

enum relay_action prepared_server_message(struct server *s, char type, const uint8_t *body, size_t len)
{
	struct rq_entry *h = rq_head(s->stmts);
	if (!h)
		return RELAY_FORWARD;
	switch (type) {
	case 't':
	case 'T':
	case 'n':
		if (h->kind == RQ_OWN_DESCRIBE || h->kind == RQ_DESCRIBE_STMT || h->kind == RQ_DESCRIBE_PORTAL)
			return on_description(s, h, type, body, len);
		return RELAY_FORWARD;
	case 'E': {
		if (h->kind == RQ_BIND_MISMATCH)
			return mismatch_error(s);
		struct pq_error_fields f;
		if (!proto_parse_error(body, len, &f))
			return RELAY_FORWARD;
		if (h->kind == RQ_BIND && h->id && !strcmp(f.sqlstate, SQLSTATE_FEATURE_NOT_SUPPORTED)) {
			/* PostgreSQL's own: the statement's result type changed
			 * under its plan. Prepare it again here, and describe it
			 * anew before a client is told from memory. */
			struct sstmt *have = sset_find(s->stmts, h->id);
			if (have) {
				have->stale = true;
				stmtreg_set_shape(&have->ps->params, NULL);
				stmtreg_set_shape(&have->ps->rows, NULL);
			}
		}
		if (h->id && (h->kind == RQ_BIND || h->kind == RQ_DESCRIBE_STMT || h->kind == RQ_PARSE_DUP))
			return error_renamed(s, h, body, len);
		return RELAY_FORWARD;
	}
	default:
		return RELAY_FORWARD;
	}
}

static bool completes(uint8_t kind, char type)
{
	switch (kind) {
	case RQ_PARSE: case RQ_PARSE_DUP: case RQ_PARSE_CHECK: case RQ_OWN_PARSE: return type == '1';
	case RQ_BIND: return type == '2';
	case RQ_CLOSE: case RQ_OWN_CLOSE: return type == '3';
	case RQ_DESCRIBE: case RQ_DESCRIBE_STMT: case RQ_DESCRIBE_PORTAL: case RQ_OWN_DESCRIBE:
		return type == 'T' || type == 'n';
	case RQ_EXECUTE: return type == 'C' || type == 'I' || type == 's';
	case RQ_SYNC: case RQ_QUERY: case RQ_FUNC: return type == 'Z';
	default: return false;
	}
}

/* The client waited for a Describe that has come (or never will). */
static void wake_client(struct server_stmts *ss)
{
	if (ss->client_waits) {
		ss->client_waits = false;
		ss->resume = true;
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
			if (h->kind == RQ_PARSE || h->kind == RQ_ANSWER_PARSE || h->kind == RQ_PARSE_CHECK)
				forget_name(s, h);
			rq_pop(ss);
		}
		/* no Sync sent yet: what the client sends up to its Sync is
		 * ignored by the server and owes nothing */
		ss->skipping = h == NULL;
		shape_put(ss->got_params);
		ss->got_params = NULL;
		wake_client(ss);
		return;
	}
	if (completes(h->kind, type)) {
		if ((h->kind == RQ_PARSE || h->kind == RQ_OWN_PARSE) && h->id) {
			struct sstmt *have = sset_find(ss, h->id);
			if (have) {
				have->ps->ok = true;
				have->parse_owed = false;
			}
		}
		if (h->kind == RQ_PARSE_CHECK) {
			struct cstmt *named = entry_stmt(s, h);
			if (named)
				named->checking = false;
			wake_client(ss);
		}
		if (h->kind == RQ_OWN_DESCRIBE)
			wake_client(ss);
		rq_pop(ss);
		flush_answers(s);
	}
	if (ss->stalled && ss->qlen < PREPARED_QUEUE_MAX / 2) {
		ss->stalled = false;
		ss->resume = true;
	}
}
