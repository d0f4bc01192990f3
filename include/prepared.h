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
 * INTERFACE ROUTINES
 *   prepared_client_message(c, type, body, len)   client side: rewrite
 *   prepared_client_observe(c, type)    client side: note other requests
 *   prepared_server_observe(s, type)    server side: drop replies to ours
 *   prepared_server_after(s, type)      server side: settle the queue
 *   prepared_server_discarded(s)        the server dropped its statements
 *   prepared_server_idle(s)             nothing owed: may be released
 *   prepared_client_free / prepared_server_free
 */
#ifndef SLUICE_PREPARED_H
#define SLUICE_PREPARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "relay.h"

struct client;
struct server;
struct client_stmts;
struct server_stmts;

enum relay_action prepared_client_message(struct client *c, char type,
					  const uint8_t *body, size_t len);
enum relay_action prepared_client_observe(struct client *c, char type);
enum relay_action prepared_server_observe(struct server *s, char type);
void prepared_server_after(struct server *s, char type);
void prepared_server_discarded(struct server *s);
bool prepared_server_idle(const struct server *s);
void prepared_client_free(struct client *c);
void prepared_server_free(struct server *s);

/* For tests and SHOW: statements in the shared registry. */
size_t prepared_registry_size(void);

#endif
