/*
 * prepared_client.c — the client side of prepared statements across the
 * pool (prepared.h): a client's Parse, Bind, Describe and Close, renamed
 * to the server's statements, answered by sluice, or made to wait for the
 * server's description of a statement. Part of the prepared module.
 */
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
#include "pq_writer.h"
#include "prepared.h"
#include "prepared_internal.h"
#include "proto.h"
#include "relay.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "stmtshape.h"


/* ---- the client side ---- */


static void put_msg(struct server *s, struct pq_writer *w)
{
	if (s->client)
		relay_flush(&s->client->relay);   /* after the messages passed before it */
	if (pq_writer_ok(w))
		buf_add(s->conn.out, w->buf, w->len);
	pq_writer_reset(w);
}

static void put_stmt_msg(struct server *s, struct pq_writer *w, char type, char what, uint64_t id)
{
	char name[32];
	prepared_stmt_name(name, sizeof name, id);
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
		if (!prepared_rq_push(s, RQ_OWN_CLOSE, id, NULL))
			return false;
		prepared_sset_del(ss, id);
	}
	return true;
}

/* Begin sluice's Parse of ps under its server name: the name is closed
 * first, and room is made under max_prepared_statements. The caller
 * writes the rest. The Close goes also when sluice believes the server
 * lacks the name: an error ahead of an earlier Close (an eviction's, or
 * a stand-in's replacement) skips it and leaves the statement there, and
 * a Parse of the name would then fail with 42P05 (closing a name the
 * server lacks is no error). */
static bool begin_parse(struct server *s, struct server_stmts *ss, struct pq_writer *w,
			const struct pstmt *ps)
{
	put_stmt_msg(s, w, 'C', 'S', ps->id);
	if (!prepared_rq_push(s, RQ_OWN_CLOSE, ps->id, NULL))
		return false;
	prepared_sset_del(ss, ps->id);
	if (!make_room(s, ss, w))
		return false;
	char name[32];
	prepared_stmt_name(name, sizeof name, ps->id);
	pq_begin(w, 'P');
	pq_put_cstring(w, name);
	return true;
}

/* Would PostgreSQL accept, right now, a Parse of a statement this server
 * has prepared? Only when nothing is in flight and its transaction has
 * not failed (in a failed one every Parse but COMMIT's or ROLLBACK's gets
 * 25P02, and what is in flight may yet fail). */
static bool parse_would_pass(const struct server *s)
{
	return s->stmts->qlen == 0 && s->unqueued_readies == 0 && s->txn_status != 'E' &&
	       !s->stmts->skipping;
}

/* PREPARED_ROWS_NAME again, after a DISCARD ALL or DEALLOCATE ALL took it,
 * when nothing can make its Parse fail. */
static bool ensure_rows_stmt(struct server *s, struct pq_writer *w)
{
	if (s->rows_stmt || !parse_would_pass(s))
		return true;
	pq_begin(w, 'P');
	pq_put_cstring(w, PREPARED_ROWS_NAME);
	pq_put_cstring(w, "SELECT");
	pq_put_u16(w, 0);
	pq_end(w);
	put_msg(s, w);
	s->rows_stmt = true;
	return prepared_rq_push(s, RQ_OWN_PARSE, 0, NULL);
}

/* Make sure the server has `ps`, preparing it if not (as the client's
 * Parse under `cname`, or as sluice's own when `cname` is NULL), and
 * describing it there, so that what it takes and returns is known. */
static struct sstmt *ensure_prepared(struct server *s, struct pstmt *ps, struct pq_writer *w,
				     const char *cname)
{
	struct server_stmts *ss = prepared_sstmts(s);
	if (!ss)
		return NULL;
	struct sstmt *e = prepared_sset_find(ss, ps->id);
	if (e && !e->stale) {
		list_del_init(&e->lru);
		list_prepend(&ss->lru, &e->lru);
		return e;
	}
	if (!ensure_rows_stmt(s, w) || !begin_parse(s, ss, w, ps))
		return NULL;
	pq_put_bytes(w, ps->rest, ps->rest_len);
	pq_end(w);
	put_msg(s, w);
	if (!prepared_rq_push(s, cname ? RQ_PARSE : RQ_OWN_PARSE, ps->id, cname))
		return NULL;
	put_stmt_msg(s, w, 'D', 'S', ps->id);
	if (!prepared_rq_push(s, RQ_OWN_DESCRIBE, ps->id, NULL))
		return NULL;
	struct sstmt *added = prepared_sset_add(ss, ps);
	if (added)
		added->parse_owed = true;
	return added;
}

/* Will the server's transaction have failed (state E) when the next
 * message reaches it? So when its last ReadyForQuery said E and nothing
 * that could end a failed transaction was sent since: in state E only an
 * Execute (of a ROLLBACK or COMMIT), a Query or a FunctionCall can; a
 * Parse, Bind, Describe, Close or Sync fails or passes and leaves it
 * failed. (An error among them skips what follows, the client's message
 * too, as PostgreSQL would have skipped it.) */
static bool txn_failed_ahead(const struct server *s)
{
	const struct server_stmts *ss = s->stmts;
	/* worked: a ROLLBACK sent since (extended, answered after a Flush)
	 * may have ended it with no ReadyForQuery to say so */
	if (s->txn_status != 'E' || s->unqueued_readies || ss->skipping || ss->worked)
		return false;   /* (unqueued_readies: a Query not queued is still answered) */
	for (size_t i = 0; i < ss->qlen; i++) {
		const struct rq_entry *e = &ss->q[(ss->qhead + i) & (ss->qcap - 1)];
		if ((e->kind == RQ_RUN && e->executes) || e->kind == RQ_QUERY || e->kind == RQ_FUNC ||
		    e->kind == RQ_READIES)
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
	struct server_stmts *ss = prepared_sstmts(s);
	if (!ss)
		return NULL;
	if (!begin_parse(s, ss, w, ps))
		return NULL;
	pq_put_cstring(w, "");
	put_param_types(w, ps, nparams);
	pq_end(w);
	put_msg(s, w);
	if (!prepared_rq_push(s, RQ_OWN_PARSE, 0, NULL))
		return NULL;
	struct sstmt *added = prepared_sset_add(ss, ps);
	if (added)
		added->stale = true;
	return added;
}

/* Does the server lack a usable ps? */
static bool server_lacks(struct server *s, const struct pstmt *ps)
{
	struct sstmt *have = prepared_sset_find(s->stmts, ps->id);
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
	return prepared_rq_push(s, RQ_PARSE_CHECK, id, cname) && prepared_rq_push(s, RQ_OWN_CLOSE, 0, NULL);
}

static enum relay_action on_parse(struct client *c, struct server *s, struct pq_reader *r,
				  struct pq_writer *w)
{
	const char *cname = pq_get_cstring(r);
	if (!cname || !*cname)
		return prepared_owe_plain(s, RQ_PARSE) ? RELAY_FORWARD : RELAY_FAIL;
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
		prepared_stmt_name(name, sizeof name, existing->ps->id);
		pq_begin(w, 'P');
		pq_put_cstring(w, name);
		pq_put_bytes(w, r->p, r->left);
		pq_end(w);
		put_msg(s, w);
		return prepared_owe(s, RQ_PARSE_DUP, existing->ps->id, cname) ? RELAY_DROP : RELAY_FAIL;
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
	struct sstmt *have = prepared_sset_find(s->stmts, ps->id);
	if (have && !have->stale) {
		list_del_init(&have->lru);
		list_prepend(&s->stmts->lru, &have->lru);
		if (parse_would_pass(s))
			return prepared_owe(s, RQ_ANSWER_PARSE, ps->id, cname) ? RELAY_DROP : RELAY_FAIL;
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
	prepared_stmt_name(name, sizeof name, ps->id);
	return send_front(c, s, w, type, before, before_len, name, r, shown);
}

/* A name the client never prepared that looks like sluice's own: it
 * must not reach another client's statement on this server. */
static bool foreign_name(const char *cname)
{
	return cname && cname[0] == NAME_PREFIX[0] && !strncmp(cname, NAME_PREFIX, sizeof NAME_PREFIX - 1);
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
	return prepared_owe(s, RQ_BIND, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
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
		if (!prepared_owe_plain(s, RQ_BIND))
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
			return prepared_owe(s, RQ_BIND_MISMATCH, 0, NULL) ? RELAY_DROP : RELAY_FAIL;
		}
	}
	if (!send_renamed(c, s, w, 'B', portal, strlen(portal) + 1, e->ps, r, shown))
		return RELAY_FAIL;
	note_bound(c, portal, e);
	/* should its Parse fail, the error names the client's name (below) */
	return prepared_owe(s, RQ_BIND, e->ps->id, have->parse_owed ? cname : NULL) ? RELAY_FORWARD : RELAY_FAIL;
}

/* A Describe, in a failed transaction, of a statement the server lacks.
 * PostgreSQL answers it there when the statement returns no rows, and
 * fails it with 25P02 when it does; which it is, sluice knows from the
 * statement's last description. No rows: the stand-in answers. Rows: a
 * Describe of another statement of this server that returns rows (else of
 * PREPARED_ROWS_NAME) fails as the client's would. Neither known: the
 * statement is prepared, and that Parse fails (25P02 from
 * exec_parse_message, see doc/testing.md). */
static enum relay_action describe_in_failed_txn(struct client *c, struct server *s,
						struct pq_reader *r, struct pq_writer *w,
						size_t shown, struct cstmt *e)
{
	const struct pstmt *ps = e->ps;
	if (ps->params && ps->rows && ps->rows->kind == 'n') {
		if (!prepare_standin(s, e->ps, w, 0) ||
		    !send_renamed(c, s, w, 'D', "S", 1, e->ps, r, shown))
			return RELAY_FAIL;
		return prepared_owe(s, RQ_DESCRIBE_STMT, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
	}
	bool rows = ps->rows && ps->rows->kind == 'T';
	struct sstmt *other = rows ? some_rows_stmt(s->stmts) : NULL;
	if (other) {
		put_stmt_msg(s, w, 'D', 'S', other->ps->id);
		return prepared_owe_plain(s, RQ_DESCRIBE) ? RELAY_DROP : RELAY_FAIL;
	}
	if (rows && s->rows_stmt) {
		pq_begin(w, 'D');
		pq_put_u8(w, 'S');
		pq_put_cstring(w, PREPARED_ROWS_NAME);
		pq_end(w);
		put_msg(s, w);
		return prepared_owe_plain(s, RQ_DESCRIBE) ? RELAY_DROP : RELAY_FAIL;
	}
	if (!ensure_prepared(s, e->ps, w, NULL) || !send_renamed(c, s, w, 'D', "S", 1, e->ps, r, shown))
		return RELAY_FAIL;
	return prepared_owe(s, RQ_DESCRIBE_STMT, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
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
		struct sstmt *have = prepared_sset_find(s->stmts, e->ps->id);
		bool known = have && have->described && e->told_rows && shape_same(e->told_rows, have->rows);
		if (!known)
			return prepared_owe(s, RQ_DESCRIBE_PORTAL, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
	}
	struct cstmt *e = what == 'S' ? stmtreg_named(c, name) : NULL;
	if (!e) {
		if (!prepared_owe_plain(s, RQ_DESCRIBE))
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
	return prepared_owe(s, RQ_DESCRIBE_STMT, e->ps->id, e->name) ? RELAY_FORWARD : RELAY_FAIL;
}

static enum relay_action on_close(struct client *c, struct server *s, struct pq_reader *r)
{
	uint8_t what = pq_get_u8(r);
	const char *cname = pq_get_cstring(r);
	if (what != 'S' || !cname || !*cname)
		return prepared_owe_plain(s, RQ_CLOSE) ? RELAY_FORWARD : RELAY_FAIL;
	/* The server keeps the statement for others; the client's name goes.
	 * Closing a name that does not exist is not an error. */
	if (c->stmts)
		stmtreg_name_del(c->stmts, cname);
	return prepared_owe(s, RQ_ANSWER_CLOSE, 0, NULL) ? RELAY_DROP : RELAY_FAIL;
}

enum relay_action prepared_client_message(struct client *c, char type,
					  const uint8_t *body, size_t len)
{
	struct server *s = c->server;
	struct pq_writer w, refused = { 0 };
	enum relay_action act = RELAY_FORWARD;
	pq_writer_init(&w);
	if (type == 'P') {
		act = prepared_parse_verdict(c, body, len);
		if (act == RELAY_DROP) {
			/* transaction_session_state refuses it: the same Parse of
			 * the refusal goes on in its place, tracked as any other */
			if (!prepared_refused_parse(c, body, len, &refused))
				act = RELAY_FAIL;
			body = refused.buf + PQ_HEADER_LEN;
			len = refused.len - PQ_HEADER_LEN;
		}
		if (act == RELAY_FAIL)
			goto out;
	}
	act = RELAY_FORWARD;
	if (unlikely(!s->stmts) && !prepared_sstmts(s)) {
		act = RELAY_FAIL;   /* (what follows takes s->stmts to be there) */
		goto out;
	}
	if (s->stmts->skipping)
		goto out;   /* the server ignores it: nothing is owed */
	struct pq_reader r = pq_reader_make(body, len);
	switch (type) {
	case 'P': act = on_parse(c, s, &r, &w); break;
	case 'B': act = on_bind(c, s, &r, &w, len); break;
	case 'D': act = on_describe(c, s, &r, &w, len); break;
	case 'C': act = on_close(c, s, &r); break;
	default: act = RELAY_FORWARD; break;
	}
	if (!pq_writer_ok(&w))
		act = RELAY_FAIL;
out:
	if (refused.len && (act == RELAY_FORWARD || act == RELAY_FORWARD_STOP)) {
		relay_flush(&c->relay);   /* what passes is the refusal, not the client's Parse */
		act = buf_add(s->conn.out, refused.buf, refused.len) ? RELAY_DROP : RELAY_FAIL;
	}
	if (refused.buf)
		pq_writer_free(&refused);
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
	case 'E': ok = prepared_owe_plain(s, RQ_EXECUTE); break;
	case 'S': ok = prepared_owe_plain(s, RQ_SYNC); break;
	case 'Q': ok = prepared_owe_query(s); break;
	case 'F': ok = prepared_owe(s, RQ_FUNC, 0, NULL); break;
	default: break;
	}
	/* Parse, Bind, Describe and Close are noted by prepared_client_message;
	 * none of them ends a transaction (a Bind of ROLLBACK does nothing
	 * until its Execute). CopyData, CopyDone and CopyFail change no
	 * transaction's state: in a COPY their Query's ReadyForQuery is still
	 * owed, and after a failed one (sent eagerly, arriving late)
	 * PostgreSQL ignores them. (link_hooks.c shows this hook none of
	 * those but Sync: CLIENT_NOT_OBSERVED.) */
	static const bool idle_types[256] = { ['S'] = true, ['H'] = true, ['P'] = true, ['B'] = true,
					      ['D'] = true, ['C'] = true, ['d'] = true, ['c'] = true,
					      ['f'] = true };
	if (s->stmts && !idle_types[(uint8_t)type])
		s->stmts->worked = true;
	return ok ? RELAY_FORWARD : RELAY_FAIL;
}

