/*
 * cancel.h — cancel keys sluice hands to clients, and forwarding a
 * client's CancelRequest to the server connection it holds.
 *
 * INTERFACE ROUTINES
 *   cancel_init(settled)   who is told when a server's last cancel in
 *                          flight is taken (the pool; set once, main.c)
 *   cancel_register(c)     give c a fresh random (pid, key), carrying
 *                          peer_id when it is set (cancel_key.h), and index it
 *   cancel_unregister(c)
 *   cancel_request(pid, key, why, n)  look up the client; if it holds a
 *                          server, send PostgreSQL a CancelRequest for that
 *                          backend. With peer_id set, a key of another
 *                          peer's goes to that peer instead (peers.h).
 *                          false: dropped for a reason its sender's
 *                          connection should log (`why`); an unknown key
 *                          or an idle client is dropped quietly (true)
 *   cancel_backend(s)      send PostgreSQL a CancelRequest for s's backend
 *                          (also before sluice drops a server mid-query)
 *   cancel_forget(s)       s is being freed: its cancels still in flight
 *                          no longer point at it
 *
 * A cancel is in flight from cancel_backend until PostgreSQL closes the
 * connection that carried it (it has signalled the backend by then), or
 * that connection fails or times out; s->cancels counts them (at most one:
 * a request while one is in flight is dropped).
 */
#ifndef SLUICE_CANCEL_H
#define SLUICE_CANCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct server;

/* s->cancels fell to zero: whatever waited for it may go on. */
typedef void (*cancel_settled_fn)(struct server *s);

void cancel_init(cancel_settled_fn settled);
bool cancel_register(struct client *c);
void cancel_unregister(struct client *c);
bool cancel_request(uint32_t pid, uint32_t key, char *why, size_t whylen);
void cancel_backend(struct server *s);
void cancel_forget(struct server *s);

#endif
