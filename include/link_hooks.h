/*
 * link_hooks.h — the relay's tables of a linked pair (link_hooks.c), for
 * link.c, which runs the relay in both directions.
 */
#ifndef SLUICE_LINK_HOOKS_H
#define SLUICE_LINK_HOOKS_H

#include "relay.h"

struct client;
struct server;

/* The client side's table for its next run (the packet size limit set
 * from the configuration in force). */
struct relay_spec *link_client_spec(const struct client *c);
/* The server side's: chosen per run, as only the client side adds what
 * the server owes. */
const struct relay_spec *link_server_spec(const struct server *s);

#endif
