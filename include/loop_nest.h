/*
 * loop_nest.h — a libevent base run inside sluice's loop (loop.h), for
 * the one part that still uses a libevent library: the metrics HTTP
 * server (evhttp).
 *
 * libevent waits with an epoll set of its own. That set's descriptor goes
 * into sluice's epoll set, so whatever wakes libevent wakes the loop, which
 * then lets libevent run without waiting. Its timers (evhttp's request
 * timeouts) are run at least once a second. Should the descriptor not be
 * found (libevent chose another way to wait), libevent is run every
 * LOOP_NEST_POLL_MS instead.
 *
 * INTERFACE ROUTINES
 *   loop_nest_new()      a base running inside the loop; NULL: no memory
 *   loop_nest_base(n)    the base, for libevent's calls
 *   loop_nest_watched(n) true when its epoll set was found (no polling)
 *   loop_nest_free(n)    stop running it, free it; NULL is a no-op
 */
#ifndef SLUICE_LOOP_NEST_H
#define SLUICE_LOOP_NEST_H

#include <stdbool.h>

#define LOOP_NEST_POLL_MS 10

struct event_base;
struct loop_nest;

struct loop_nest *loop_nest_new(void);
struct event_base *loop_nest_base(struct loop_nest *n);
bool loop_nest_watched(const struct loop_nest *n);
void loop_nest_free(struct loop_nest *n);

#endif
