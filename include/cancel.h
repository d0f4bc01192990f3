/*
 * cancel.h — cancel keys sluice hands to clients, and forwarding a
 * client's CancelRequest to the server connection it holds.
 *
 * INTERFACE ROUTINES
 *   cancel_register(c)     give c a fresh random (pid, key) and index it
 *   cancel_unregister(c)
 *   cancel_request(pid, key)  look up the client; if it holds a server,
 *                          send PostgreSQL a CancelRequest for that backend
 *   cancel_backend(s)      send PostgreSQL a CancelRequest for s's backend
 *                          (before sluice drops a server mid-query)
 */
#ifndef SLUICE_CANCEL_H
#define SLUICE_CANCEL_H

#include <stdbool.h>
#include <stdint.h>

struct client;

bool cancel_register(struct client *c);
void cancel_unregister(struct client *c);
void cancel_request(uint32_t pid, uint32_t key);
struct server;
void cancel_backend(const struct server *s);

#endif
