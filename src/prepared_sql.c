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
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "pool.h"
#include "prepared.h"
#include "sqlscan.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "varcache.h"

/* The encoding the client's text is in, as far as lexing cares. */
static enum sqlscan_enc client_enc(const struct client *c)
{
	const char *server = NULL;
	const struct param_list *pl = &c->pool->welcome;
	for (size_t i = 0; i < pl->n; i++)
		if (!strcmp(pl->names[i], "server_encoding"))
			server = pl->values[i];
	const char *client = varcache_get(&c->vars, VC_CLIENT_ENCODING);
	return sqlscan_encoding(client ? client : "", server ? server : "");
}

/* What the scan found: pass it, or end the client's session. */
static bool judge(struct client *c, unsigned found)
{
	if (!(found & SQLSCAN_REFUSE))
		return true;
	if (found & SQLSCAN_UNSURE)
		client_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
			    "query refused: a dollar-quote tag longer than %d bytes cannot be checked "
			    "for sluice's statement names", SQLSCAN_TAG_MAX);
	else
		client_fail(c, SQLSTATE_INSUFFICIENT_PRIVILEGE,
			    "%s of a prepared statement named " STMT_NAME_PREFIX "...: those are sluice's "
			    "own, on servers other clients share; SQL-level PREPARE, EXECUTE and "
			    "DEALLOCATE of them are refused",
			    found & SQLSCAN_PREPARE_OWN ? "PREPARE" : found & SQLSCAN_EXECUTE_OWN ? "EXECUTE"
											   : "DEALLOCATE");
	return false;
}

void prepared_client_scan(struct client *c, const uint8_t *p, size_t n)
{
	struct client_stmts *cs = stmtreg_names(c);
	if (!cs)
		return;   /* scan_end refuses */
	if (!cs->scan) {
		if (!(cs->scan = malloc(sizeof *cs->scan))) {
			cs->scan_lost = true;   /* scan_end refuses */
			return;
		}
		sqlscan_init(cs->scan, STMT_NAME_PREFIX);
		cs->scan_for = NULL;
		sqlscan_set_encoding(cs->scan, client_enc(c));
	}
	const char *enc = varcache_get(&c->vars, VC_CLIENT_ENCODING);
	if (enc != cs->scan_for) {   /* strpool strings: the same value, the same pointer */
		cs->scan_for = enc;
		sqlscan_set_encoding(cs->scan, client_enc(c));
	}
	sqlscan_feed(cs->scan, (const char *)p, n);
}

enum relay_action prepared_client_scan_end(struct client *c)
{
	struct client_stmts *cs = c->stmts;
	if (!cs || cs->scan_lost) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return RELAY_FAIL;
	}
	if (!cs->scan)
		return RELAY_FORWARD;   /* an empty body: nothing to find (PostgreSQL refuses it) */
	unsigned found = sqlscan_finish(cs->scan);
	sqlscan_reset(cs->scan);
	return judge(c, found) ? RELAY_FORWARD : RELAY_FAIL;
}

bool prepared_parse_allowed(struct client *c, const char *query)
{
	struct sqlscan s;
	sqlscan_init(&s, STMT_NAME_PREFIX);
	sqlscan_set_encoding(&s, client_enc(c));
	sqlscan_feed(&s, query, strlen(query));
	return judge(c, sqlscan_finish(&s));
}
