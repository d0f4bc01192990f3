/*
 * pool_timers.h — recycling and timeouts of server connections, each driven
 * by the connection's own timer (no sweep over all connections).
 *
 * INTERFACE ROUTINES
 *   timers_server_idle(s)       s just became idle: arm its timer for the
 *                               nearest of server_lifetime and
 *                               server_idle_timeout
 *   timers_server_fire(s)       its timer fired while idle: close or re-arm
 *   timers_server_expired(s)    older than server_lifetime?
 *   timers_server_needs_check(s)  idle longer than server_check_delay?
 */
#ifndef SLUICE_POOL_TIMERS_H
#define SLUICE_POOL_TIMERS_H

#include <stdbool.h>

struct server;

void timers_server_idle(struct server *s);
void timers_server_fire(struct server *s);
bool timers_server_expired(const struct server *s);
bool timers_server_needs_check(const struct server *s);

#endif
