/*
 * session_state.h — session state a client leaves on a server it shares
 * (transaction and statement pooling), and what the pool's
 * transaction_session_state does about it.
 *
 * The SQL scanner (sqlscan.h) finds, in each Query and Parse text, the
 * statements that outlive their transaction: SET without LOCAL (of a
 * parameter sluice does not carry itself), set_config(..., false),
 * session advisory locks, LISTEN, temp tables that outlive the
 * transaction, cursors WITH HOLD, SQL PREPARE, LOAD; and those that clear
 * such state again (DISCARD ALL, RESET ALL, pg_advisory_unlock_all(),
 * UNLISTEN *, DISCARD TEMP, CLOSE ALL, DEALLOCATE ALL). Per policy:
 *
 *   allow    nothing is looked at (the behaviour before the key)
 *   warn     it runs; a log line and a NOTICE once per client and kind,
 *            and a count per pool and kind
 *   refuse   it does not reach PostgreSQL: the text is replaced by a DO
 *            block that raises 0A000 naming the kind and the
 *            transaction-safe form, so the server's transaction state
 *            is what PostgreSQL's own refusal would leave
 *   pin      it runs, and the client keeps its server (as in session
 *            pooling) until the state is cleared or the client leaves;
 *            the server is then reset with DISCARD ALL (closed after
 *            LOAD) before anyone else gets it. Past max_pinned_servers
 *            in the pool, refuse applies.
 *
 * INTERFACE ROUTINES
 *   session_state_watch(c)             are c's texts to be looked at?
 *   session_state_tracked(name, c)     sqlscan's predicate: is a SET of
 *                                      name carried by sluice (no leak)?
 *   session_state_admit(c, bits, t, n) the policy for a text's scan bits:
 *                                      true, it runs; false, refused
 *   session_state_refusal_sql(c)       the DO block that replaces a
 *                                      refused text (after admit: false)
 *   session_state_refusal_text(c, out, n)  the same as a message, for a
 *                                      text that cannot be replaced
 *   session_state_answered(c)          c's last sync point is answered
 *                                      with no error since the clearing
 *                                      statements: they apply, pins end
 *   session_state_notices(c, out)      NOTICEs due, written to out
 *   session_state_left(c)              c lets go of its server: how
 *                                      (POOL_RELEASE_*), and unpinned
 *   session_state_kind_name(i)         "set", "advisory_lock", ...
 */
#ifndef SLUICE_SESSION_STATE_H
#define SLUICE_SESSION_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client_types.h"
#include "config.h"
#include "pool_types.h"

struct buf;

static inline bool session_state_watch(const struct client *c)
{
	return c->pool->mode != POOL_SESSION && c->pool->state_policy != STATE_ALLOW;
}

bool session_state_tracked(const char *name, void *arg);
bool session_state_admit(struct client *c, unsigned bits, const uint8_t *text, size_t n);
const char *session_state_refusal_sql(const struct client *c);
void session_state_refusal_text(const struct client *c, char *out, size_t n);
void session_state_answered(struct client *c);
void session_state_notices(struct client *c, struct buf *out);
int session_state_left(struct client *c);
const char *session_state_kind_name(int kind);
const char *session_state_policy_name(int policy);

#endif
