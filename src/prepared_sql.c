/*
 * prepared_sql.c — SQL text that would reach sluice's own statements on a
 * shared server: refused before PostgreSQL sees it (prepared.h).
 *
 * In transaction and statement pooling a client's SQL runs on servers
 * where sluice has prepared other clients' statements as "sluice_<n>".
 * SQL-level PREPARE, EXECUTE or DEALLOCATE of such a name (sqlscan.c finds
 * them, quoted, escaped or commented as they may be) would let one client
 * run, replace or remove another's statement. A Query is scanned as it
 * streams through, its last bytes held until the whole was judged; a
 * Parse's text is scanned whole. Either way the client is told why
 * (SQLSTATE 42501) and its session ends, with the server it held: a
 * Query refused after its start went out leaves that server unusable.
 * SQL that PostgreSQL builds at run time (DO blocks, functions) is out of
 * any scanner's sight (doc/sql-scan.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "client_types.h"
#include "conn.h"
#include "pool.h"
#include "pq_reader.h"
#include "pq_writer.h"
#include "prepared.h"
#include "proto.h"
#include "relay.h"
#include "server.h"
#include "session_state.h"
#include "sqlscan.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "varcache.h"

/* The encoding the client's text is in, as far as lexing cares (asked
 * only when a text is lexed: rarely). */
static enum sqlscan_enc client_enc(const struct client *c)
{
	const char *client = varcache_get(&c->vars, VC_CLIENT_ENCODING);
	const char *server = NULL;
	const struct param_list *pl = &c->pool->welcome;
	for (size_t i = 0; i < pl->n; i++)
		if (!strcmp(pl->names[i], "server_encoding"))
			server = pl->values[i];
	return sqlscan_encoding(client ? client : "", server ? server : "");
}

/* What the scan found: pass it, or end the client's session. */
static bool judge(struct client *c, unsigned found)
{
	if (!(found & SQLSCAN_REFUSE))
		return true;
	if (found & SQLSCAN_UNSURE)
		prepared_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
			    "query refused: a dollar-quote tag longer than %d bytes cannot be checked "
			    "for sluice's statement names", SQLSCAN_TAG_MAX);
	else
		prepared_fail(c, SQLSTATE_INSUFFICIENT_PRIVILEGE,
			    "%s of a prepared statement named " STMT_NAME_PREFIX "...: those are sluice's "
			    "own, on servers other clients share; SQL-level PREPARE, EXECUTE and "
			    "DEALLOCATE of them are refused",
			    found & SQLSCAN_PREPARE_OWN ? "PREPARE" : found & SQLSCAN_EXECUTE_OWN ? "EXECUTE"
											   : "DEALLOCATE");
	return false;
}

/* The scan of a client's text: for sluice's statement names (always)
 * and, where the client's pool watches for it, for session state. */
static void start_scan(struct client *c, struct sqlscan *s)
{
	sqlscan_init(s, STMT_NAME_PREFIX);
	sqlscan_set_encoding(s, client_enc(c));
	if (session_state_watch(c))
		sqlscan_set_tracked(s, session_state_tracked, c);
}

/* A whole text, at once; a cheap look first (most texts stop there: it
 * costs a few instructions per 16 bytes where lexing costs many a byte). */
static unsigned scan_whole(struct client *c, const uint8_t *p, size_t n)
{
	if (!sqlscan_may_match((const char *)p, n, session_state_watch(c)))
		return 0;
	struct sqlscan s;
	start_scan(c, &s);
	sqlscan_feed(&s, (const char *)p, n);
	return sqlscan_finish(&s);
}

/* What a text's scan means: RELAY_FORWARD, it runs (warned or pinned as
 * transaction_session_state says); RELAY_DROP, the policy refuses it
 * (the caller puts the refusal in its place); RELAY_FAIL, the session
 * ends (sluice's own statement names). */
static enum relay_action verdict(struct client *c, unsigned found, const uint8_t *p, size_t n)
{
	if (!judge(c, found))
		return RELAY_FAIL;
	if (!(found & (SQLSCAN_ST_ANY | SQLSCAN_CL_ANY)) || !session_state_watch(c))
		return RELAY_FORWARD;
	return session_state_admit(c, found, p, n) ? RELAY_FORWARD : RELAY_DROP;
}

/* In place of a refused Query: the refusal, raised by the server. */
static bool send_refusal_query(struct client *c)
{
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_query(&w, session_state_refusal_sql(c));
	bool ok = pq_writer_ok(&w);
	relay_flush(&c->relay);   /* after what passed before it */
	if (ok)
		ok = buf_add(c->server->conn.out, w.buf, w.len);
	pq_writer_free(&w);
	return ok;
}

enum relay_action prepared_client_scan(struct client *c, const uint8_t *p, size_t n, bool last)
{
	struct client_stmts *cs = c->stmts;
	if (last && !(cs && cs->scan_streaming)) {   /* the whole body in one piece */
		enum relay_action v = verdict(c, scan_whole(c, p, n), p, n);
		if (v != RELAY_DROP)
			return v;
		return send_refusal_query(c) ? RELAY_DROP : RELAY_FAIL;
	}
	/* streamed: every piece through the scanner, kept per client */
	if (!cs && !(cs = stmtreg_names(c)))
		goto no_memory;
	if (!cs->scan && !(cs->scan = malloc(sizeof *cs->scan)))
		goto no_memory;
	if (!cs->scan_streaming) {
		start_scan(c, cs->scan);
		cs->scan_streaming = true;
	}
	sqlscan_feed(cs->scan, (const char *)p, n);
	if (!last)
		return RELAY_FORWARD;
	cs->scan_streaming = false;
	enum relay_action v = verdict(c, sqlscan_finish(cs->scan), (const uint8_t *)"", 0);
	if (v == RELAY_DROP) {
		/* its front went out already: nothing can take its place */
		char msg[400];
		session_state_refusal_text(c, msg, sizeof msg);
		prepared_fail(c, SQLSTATE_FEATURE_NOT_SUPPORTED, "%s", msg);
		return RELAY_FAIL;
	}
	return v;
no_memory:
	prepared_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
	return RELAY_FAIL;
}

enum relay_action prepared_parse_verdict(struct client *c, const uint8_t *body, size_t len)
{
	struct pq_reader r = pq_reader_make(body, len);
	(void)pq_get_cstring(&r);
	const char *text = pq_get_cstring(&r);
	if (!text)
		return RELAY_FORWARD;   /* malformed: PostgreSQL says so */
	size_t n = strlen(text);
	return verdict(c, scan_whole(c, (const uint8_t *)text, n), (const uint8_t *)text, n);
}

#define TEXT_OID 25u   /* pg_type's text */

/* A refused Parse becomes the same Parse of the refusal's DO block; its
 * parameter types stay (a Bind must still fit them), and those left
 * unspecified become text, which nothing then reads. */
bool prepared_refused_parse(struct client *c, const uint8_t *body, size_t len, struct pq_writer *w)
{
	struct pq_reader r = pq_reader_make(body, len);
	const char *name = pq_get_cstring(&r);
	(void)pq_get_cstring(&r);
	uint16_t nparams = pq_get_u16(&r);
	if (!name || r.bad)
		return false;
	pq_begin(w, 'P');
	pq_put_cstring(w, name);
	pq_put_cstring(w, session_state_refusal_sql(c));
	pq_put_u16(w, nparams);
	for (uint16_t i = 0; i < nparams; i++) {
		uint32_t oid = pq_get_u32(&r);
		pq_put_u32(w, oid ? oid : TEXT_OID);
	}
	pq_end(w);
	return !r.bad && pq_writer_ok(w);
}

/* Without statement tracking, a Parse is only looked at for session
 * state: it passes, or its refusal goes in its place. */
enum relay_action prepared_parse_watched(struct client *c, const uint8_t *body, size_t len)
{
	enum relay_action v = prepared_parse_verdict(c, body, len);
	if (v != RELAY_DROP)
		return v;
	struct pq_writer w;
	pq_writer_init(&w);
	bool ok = prepared_refused_parse(c, body, len, &w);
	relay_flush(&c->relay);
	if (ok)
		ok = buf_add(c->server->conn.out, w.buf, w.len);
	pq_writer_free(&w);
	return ok ? RELAY_DROP : RELAY_FAIL;
}
