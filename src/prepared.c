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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "client_types.h"
#include "config.h"
#include "htab.h"
#include "list.h"
#include "log.h"
#include "pool.h"
#include "pq_reader.h"
#include "prepared.h"
#include "prepared_internal.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "stmtshape.h"



static void rq_pop(struct server_stmts *ss);

static prepared_fail_fn fail_client;   /* link.c: prepared_set_owner */

void prepared_set_owner(prepared_fail_fn fail)
{
	fail_client = fail;
}

void prepared_fail(struct client *c, const char *sqlstate, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fail_client(c, sqlstate, msg);
}

struct server_stmts *prepared_sstmts(struct server *s)
{
	if (!s->stmts) {
		s->stmts = calloc(1, sizeof *s->stmts);
		if (s->stmts)
			list_init(&s->stmts->lru);
	}
	return s->stmts;
}

struct sstmt *prepared_sset_find(struct server_stmts *ss, uint64_t id)
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

void prepared_sset_del(struct server_stmts *ss, uint64_t id)
{
	struct sstmt *e = prepared_sset_find(ss, id);
	if (!e)
		return;
	htab_del(&ss->tab, &e->node);
	sstmt_free(e);
}

struct sstmt *prepared_sset_add(struct server_stmts *ss, struct pstmt *ps)
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
	s->rows_stmt = false;
	if (s->stmts)
		sset_clear(s->stmts);
}

int prepared_link_setup(struct server *s, struct pq_writer *w)
{
	if (s->rows_stmt)
		return 0;
	/* a SELECT of nothing: one row type (no columns), no plan to speak of */
	proto_build_query(w, "PREPARE " PREPARED_ROWS_NAME " AS SELECT");
	s->rows_stmt = true;
	return 1;
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

static struct rq_entry *rq_tail(struct server_stmts *ss)
{
	return ss->qlen ? &ss->q[(ss->qhead + ss->qlen - 1) & (ss->qcap - 1)] : NULL;
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

/* The queue is full: twice the room (or its first 32), in order from 0. */
static __attribute__((noinline)) bool rq_grow(struct server_stmts *ss)
{
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
	return true;
}

static bool rq_append(struct server_stmts *ss, enum rq_kind kind, uint64_t id, char *copy)
{
	if (unlikely(ss->qlen == ss->qcap) && !rq_grow(ss))
		return false;
	ss->q[(ss->qhead + ss->qlen) & (ss->qcap - 1)] =
		(struct rq_entry){ .kind = (uint8_t)kind, .id = id, .cname = copy };
	ss->qlen++;
	if (is_describe((uint8_t)kind))
		ss->describing++;
	return true;
}

/* The first entry queued while Queries that were not are still answered:
 * an RQ_READIES for them goes first (prepared_internal.h). */
static __attribute__((noinline)) bool queue_readies(struct server *s)
{
	if (!rq_append(s->stmts, RQ_READIES, 0, NULL))
		return false;
	rq_tail(s->stmts)->n = s->unqueued_readies;
	s->unqueued_readies = 0;
	return true;
}

/* Queue a response owed; `cname`, when given, is copied into the entry.
 * (Most messages come here: the growth and the copy stay out of the way.) */
bool prepared_rq_push(struct server *s, enum rq_kind kind, uint64_t id, const char *cname)
{
	struct server_stmts *ss = s->stmts;
	if (unlikely(s->unqueued_readies > 0) && ss->qlen == 0 && !queue_readies(s))
		return false;
	char *copy = NULL;
	if (unlikely(cname != NULL) && !(copy = strdup(cname)))
		return false;
	if (!rq_append(ss, kind, id, copy)) {
		free(copy);
		return false;
	}
	return true;
}

bool prepared_is_answer(uint8_t kind)
{
	return kind == RQ_ANSWER_PARSE || kind == RQ_ANSWER_CLOSE;
}

static void send_answer(struct client *c, uint8_t kind)
{
	/* ParseComplete '1' or CloseComplete '3': a header and no body */
	char msg[5] = { kind == RQ_ANSWER_PARSE ? '1' : '3', 0, 0, 0, 4 };
	if (c->server)
		relay_flush(&c->server->relay);   /* after the responses passed before it */
	(void)conn_add(&c->conn, msg, sizeof msg);
}

/* Answers owed by sluice go out as soon as nothing before them is owed. */
static void flush_answers(struct server *s)
{
	struct server_stmts *ss = s->stmts;
	struct rq_entry *h;
	while ((h = rq_head(ss)) && prepared_is_answer(h->kind)) {
		if (s->client)
			send_answer(s->client, h->kind);
		rq_pop(ss);
	}
}

/* A plain answer owed (prepared_internal.h): it joins the row at the
 * queue's tail, or starts one. (Most messages of most clients come here:
 * kept short.) */
bool prepared_owe_plain(struct server *s, enum rq_kind kind)
{
	struct server_stmts *ss = prepared_sstmts(s);
	if (unlikely(!ss))
		return false;
	struct rq_entry *t = rq_tail(ss);
	if (!t || t->kind != RQ_RUN || t->sync || t->n == RQ_RUN_MAX) {
		if (!prepared_rq_push(s, RQ_RUN, 0, NULL))
			return false;
		t = rq_tail(ss);
	}
	if (kind == RQ_SYNC) {
		t->sync = true;   /* the row ends with its ReadyForQuery */
	} else {
		t->n++;
		t->executes |= kind == RQ_EXECUTE;
	}
	return true;
}

/* Note a response owed to the client for what it just sent; sluice's own
 * answers go out at once when nothing is owed before them. */
bool prepared_owe(struct server *s, enum rq_kind kind, uint64_t id, const char *cname)
{
	struct server_stmts *ss = prepared_sstmts(s);
	if (!ss)
		return false;
	if (prepared_is_answer((uint8_t)kind) && ss->qlen == 0 && s->unqueued_readies == 0) {
		send_answer(s->client, (uint8_t)kind);
		return true;
	}
	return prepared_rq_push(s, kind, id, cname);
}

/* A Query: with nothing owed, it needs no entry (prepared_internal.h). */
bool prepared_owe_query(struct server *s)
{
	if ((!s->stmts || s->stmts->qlen == 0) && s->unqueued_readies < UINT32_MAX) {
		s->unqueued_readies++;
		return true;
	}
	return prepared_owe(s, RQ_QUERY, 0, NULL);
}

void prepared_server_ready(struct server *s)
{
	if (s->unqueued_readies > 0 && --s->unqueued_readies == 0 && s->stmts)
		s->stmts->worked = false;   /* nothing owed: txn_status is the server's now */
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



void prepared_stmt_name(char *buf, size_t n, uint64_t id)
{
	snprintf(buf, n, NAME_PREFIX "%llu", (unsigned long long)id);
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
	struct sstmt *have = prepared_sset_find(ss, h->id);
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
		ok = conn_add(&c->conn, w.buf, w.len);
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
	prepared_stmt_name(from, sizeof from, h->id);
	struct pq_writer w;
	pq_writer_init(&w);
	enum relay_action act = RELAY_FORWARD;
	if (proto_build_error_renamed(&w, body, len, from, to) && pq_writer_ok(&w)) {
		relay_flush(&s->relay);
		act = conn_add(&c->conn, w.buf, w.len) ? RELAY_DROP : RELAY_FAIL;
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
			struct sstmt *have = prepared_sset_find(s->stmts, h->id);
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

/* The messages that end the answer to a Parse, Bind, Close, Describe or
 * Execute: each ends exactly one. */
static inline bool is_completion(char type)
{
	static const bool ends[256] = { ['1'] = true, ['2'] = true, ['3'] = true, ['T'] = true,
					['n'] = true, ['C'] = true, ['I'] = true, ['s'] = true };
	return ends[(uint8_t)type];
}

/* Does a message of `type` end what h is owed (a run: its first answer)? */
static bool completes(const struct rq_entry *h, char type)
{
	switch (h->kind) {
	case RQ_PARSE: case RQ_PARSE_DUP: case RQ_PARSE_CHECK: case RQ_OWN_PARSE: return type == '1';
	case RQ_BIND: return type == '2';
	case RQ_OWN_CLOSE: return type == '3';
	case RQ_DESCRIBE_STMT: case RQ_DESCRIBE_PORTAL: case RQ_OWN_DESCRIBE:
		return type == 'T' || type == 'n';
	case RQ_QUERY: case RQ_FUNC: case RQ_READIES: return type == 'Z';
	case RQ_RUN: return h->n > 0 ? is_completion(type) : type == 'Z';
	default: return false;
	}
}

/* h is owed nothing but a ReadyForQuery: an error before it is that of
 * its own Query, FunctionCall or Sync, and skips nothing. */
static bool only_ready_owed(const struct rq_entry *h)
{
	return h->kind == RQ_QUERY || h->kind == RQ_FUNC || h->kind == RQ_READIES ||
	       (h->kind == RQ_RUN && h->n == 0);
}

/* The client waited for a Describe that has come (or never will). */
static void wake_client(struct server_stmts *ss)
{
	if (ss->client_waits) {
		ss->client_waits = false;
		ss->resume = true;
	}
}

/* The answer of `type` settles what h stands for, or part of it. */
static __attribute__((noinline)) void settle(struct server *s, struct rq_entry *h, char type)
{
	struct server_stmts *ss = s->stmts;
	if (type == 'E' && !only_ready_owed(h)) {
		/* An error in the extended protocol: PostgreSQL skips everything
		 * up to the next Sync, so nothing else before it is owed, and
		 * statements it skipped preparing are not on the server. */
		while ((h = rq_head(ss))) {
			if (h->kind == RQ_RUN && h->sync) {
				h->n = 0;   /* its Sync's ReadyForQuery is still owed */
				break;
			}
			if ((h->kind == RQ_OWN_PARSE || h->kind == RQ_PARSE) && h->id)
				prepared_sset_del(ss, h->id);
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
	if (completes(h, type)) {
		if (h->kind == RQ_RUN && h->n > 0 && (--h->n > 0 || h->sync))
			return;   /* more of the row is owed (the queue did not shrink) */
		if (h->kind == RQ_READIES && --h->n > 0)
			return;
		if ((h->kind == RQ_PARSE || h->kind == RQ_OWN_PARSE) && h->id) {
			struct sstmt *have = prepared_sset_find(ss, h->id);
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
		if (type == 'Z' && ss->qlen == 0)
			ss->worked = false;   /* txn_status is the server's now */
	}
	if (ss->stalled && ss->qlen < PREPARED_QUEUE_MAX / 2) {
		ss->stalled = false;
		ss->resume = true;
	}
}

/* (the common case first, in a function that saves no registers for the
 * rest: this runs for most answers of most servers that owe something) */
void prepared_server_after(struct server *s, char type)
{
	struct rq_entry *h = rq_head(s->stmts);
	if (!h)
		return;
	if (h->kind == RQ_RUN && (h->n > 1 || (h->n == 1 && h->sync)) && is_completion(type)) {
		h->n--;   /* one of a row's answers, not its last: most of them */
		return;
	}
	settle(s, h, type);
}

