/*
 * prepared.h — named prepared statements across the pool (transaction and
 * statement modes).
 *
 * A client's Parse with a name is kept in a registry shared by every
 * client, keyed by the statement's text and parameter types, and prepared
 * on whatever server the client lands on under sluice's own name
 * ("sluice_<id>"), once per server. Bind/Describe/Close name the server's
 * statement instead of the client's; a Parse of a statement the server
 * already has, and every Close of a statement, are answered by sluice.
 *
 * Because sluice answers some requests itself and makes some of its own,
 * each server keeps the queue of responses its client is owed; sluice's
 * answers are slotted in where PostgreSQL would have sent them, and the
 * replies to sluice's own requests are dropped.
 *
 * What PostgreSQL says a statement takes and returns (its Describe) is
 * kept per registry entry, per server and per client name. A client that
 * holds no server gets a Parse of a statement the pool knows, a Describe
 * of one whose description is known, a Close, Flush and Sync answered by
 * sluice alone. A client's Bind of a statement it was told the shape of
 * goes to a server only where the statement has the same shape; elsewhere
 * it gets 0A000 "cached plan must not change result type", as from
 * PostgreSQL, and nothing of the new shape.
 *
 * INTERFACE ROUTINES
 *   prepared_client_message(c, type, body, len)   client side: rewrite
 *                                       (RELAY_WAIT: the message waits for
 *                                       the server's Describe of it)
 *   prepared_client_observe(c, type)    client side: note other requests
 *   prepared_client_scan(c, p, n, last) a Query's text: refused if it names
 *                                       sluice's statements; session state
 *                                       (session_state.h) met as the pool says
 *   prepared_parse_verdict(c, body, len) the same for a Parse (RELAY_DROP:
 *                                       refused by the policy)
 *   prepared_refused_parse(c, body, len, w)  that Parse with the refusal
 *   prepared_parse_watched(c, body, len) a Parse without statement tracking:
 *                                       verdict, and the refusal in its place
 *   prepared_client_idle(c, max_len, next) a client without a server: answer
 *                                       what needs none
 *   prepared_server_observe(s, type)    server side: drop replies to ours
 *   prepared_server_message(s, type, body, len)   server side: descriptions
 *                                       and errors of statements
 *   prepared_server_after(s, type)      server side: settle the queue
 *   prepared_server_ready(s)            every ReadyForQuery: one owed to a
 *                                       Query that was not queued
 *   prepared_server_take_resume(s)      the client's waiting message may go
 *   prepared_server_describing(s)       descriptions owed: read them
 *   prepared_server_discarded(s)        the server dropped its statements
 *   prepared_server_idle(s)             nothing owed: may be released
 *   prepared_client_forget_names(c)     its statements were deallocated
 *   prepared_client_free / prepared_server_free
 */
#ifndef SLUICE_PREPARED_H
#define SLUICE_PREPARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "relay.h"

struct client;
struct server;
struct client_stmts;
struct server_stmts;

/* How the module ends a client it cannot serve (a limit, no memory):
 * link.c hands it the client module's client_fail. */
typedef void (*prepared_fail_fn)(struct client *c, const char *sqlstate, const char *msg);
void prepared_set_owner(prepared_fail_fn fail);
/* for the module's parts: fail c with a formatted message */
void prepared_fail(struct client *c, const char *sqlstate, const char *fmt, ...) PRINTF(3, 4);

/* Bind, Describe and Close longer than this are shown to
 * prepared_client_message by their first PREPARED_HEAD_LEN body bytes
 * (the names they carry must lie there) and the rest streams: a Bind's
 * parameters cost sluice no memory, whatever their size. */
#define PREPARED_HEAD_LEN (64 * 1024)

/* Responses owed to a client before sluice stops reading it (each entry
 * is 24 bytes, plus a statement name while a Parse is owed). */
#define PREPARED_QUEUE_MAX 65536

enum relay_action prepared_client_message(struct client *c, char type,
					  const uint8_t *body, size_t len);
enum relay_action prepared_client_observe(struct client *c, char type);

/* prepared_sql.c: SQL naming sluice's statements is refused (the client
 * is failed); session state meets transaction_session_state. A Query is
 * shown piece by piece (`last` ends it: the verdict is the answer to
 * it), a Parse whole. */
struct pq_writer;
enum relay_action prepared_client_scan(struct client *c, const uint8_t *p, size_t n, bool last);
enum relay_action prepared_parse_verdict(struct client *c, const uint8_t *body, size_t len);
bool prepared_refused_parse(struct client *c, const uint8_t *body, size_t len,
			    struct pq_writer *w) MUST_CHECK;
enum relay_action prepared_parse_watched(struct client *c, const uint8_t *body, size_t len);

enum prepared_idle {
	PREPARED_IDLE_ANSWERED,   /* all input answered (or none was there) */
	PREPARED_IDLE_MORE,       /* a message sluice may answer is still arriving */
	PREPARED_IDLE_SERVER,     /* the next message needs a server */
	PREPARED_IDLE_FAIL,       /* out of memory */
	PREPARED_IDLE_FULL,       /* the client's output is over its mark: stop reading */
};
/* *next: the type of the message that needs a server (PREPARED_IDLE_SERVER) */
enum prepared_idle prepared_client_idle(struct client *c, uint32_t max_len, char *next);

enum relay_action prepared_server_observe(struct server *s, char type);
enum relay_action prepared_server_message(struct server *s, char type,
					  const uint8_t *body, size_t len);
void prepared_server_after(struct server *s, char type);
void prepared_server_ready(struct server *s);
bool prepared_server_take_resume(struct server *s);
/* So many answers are owed that the client must wait for the server's
 * before sending more (the server is asked to flush what it holds);
 * prepared_server_take_resume() says when to go on. */
bool prepared_client_stalled(struct server *s);
/* Descriptions of statements are owed: their answers must be read. */
bool prepared_server_describing(const struct server *s);
void prepared_server_discarded(struct server *s);
/* A statement returning rows that every server of a pool tracking
 * statements has, prepared at its first link (while its transaction
 * cannot have failed): in a failed transaction a Describe of a statement
 * the server lacks and that returns rows is sent as a Describe of this,
 * which fails there as PostgreSQL fails the client's. */
#define PREPARED_ROWS_NAME "sluice_rows"
/* Append to w the simple Query preparing it if s lacks it; returns how
 * many Queries (0 or 1). */
int prepared_link_setup(struct server *s, struct pq_writer *w);
bool prepared_server_idle(const struct server *s);
void prepared_client_free(struct client *c);
/* DISCARD ALL / DEALLOCATE ALL: the client's names are gone. */
void prepared_client_forget_names(struct client *c);
void prepared_server_free(struct server *s);

#endif
