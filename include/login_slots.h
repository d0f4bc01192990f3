/*
 * login_slots.h — the clients that have not finished logging in, counted
 * against max_login_clients apart from the logged-in ones (max_client_conn),
 * so that sockets which never log in cannot take the places of clients
 * that do.
 *
 * A client holds a slot from accept until it has authenticated (or
 * closes). When every slot is taken, a newcomer may have the slot of the
 * oldest client still waiting for its peer's bytes, if that one has been
 * logging in for LOGIN_SLOT_MIN_AGE or longer; otherwise the newcomer is
 * refused. client.c does the refusing and evicting; this module keeps the
 * slots in accept order and picks the one to give away.
 *
 * INTERFACE ROUTINES
 *   login_slots_enter(c)     c was accepted: it takes a slot
 *   login_slots_leave(c)     c authenticated or closed (no-op if it holds none)
 *   login_slots_full()       every slot is taken
 *   login_slots_victim(now)  the client whose slot a newcomer may have, or NULL
 */
#ifndef SLUICE_LOGIN_SLOTS_H
#define SLUICE_LOGIN_SLOTS_H

#include <stdbool.h>

/* A login this old has had ample time (a login over a slow network takes
 * a few round trips) and may lose its slot to a newer connection. */
#define LOGIN_SLOT_MIN_AGE 1.0   /* seconds */

struct client;

void login_slots_enter(struct client *c);
void login_slots_leave(struct client *c);
bool login_slots_full(void);
struct client *login_slots_victim(double now);

#endif
