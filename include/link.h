/*
 * link.h — a client linked to a server: the pair's two relays, the one
 * rule for "between transactions", the release decision per pool mode,
 * and what the pair does when either side stalls or goes away.
 *
 * The link owns the pair. The modules below it (client, gate, pool,
 * server, prepared) report to it through their ops tables, which
 * link_init fills; none of them calls an upper module by name.
 *
 * INTERFACE ROUTINES
 *   link_init()                    hand the ops tables to client, gate,
 *                                  pool, server and prepared
 *   link_pair(s, c)                s is c's now (SET c's parameters first
 *                                  when they differ)
 *   link_at_boundary(c)            between transactions (the one rule)
 *   link_in_flight(c)              inside a transaction on a server
 *   link_release(c)                transaction over: give the server back
 *   link_lost(c, s, sqlstate, msg) c's server died under it: fail the
 *                                  session, or (transaction pooling) the
 *                                  work in flight only
 */
#ifndef SLUICE_LINK_H
#define SLUICE_LINK_H

#include <stdbool.h>

struct client;
struct server;

void link_init(void);
void link_pair(struct server *s, struct client *c);
/* Between transactions: the server idle in no transaction, every sync
 * point the client sent answered, nothing half-sent either way, nothing
 * owed to the client by sluice. */
bool link_at_boundary(const struct client *c);
bool link_in_flight(const struct client *c);
void link_release(struct client *c);
void link_lost(struct client *c, struct server *s, const char *sqlstate, const char *msg);

#endif
