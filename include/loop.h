/*
 * loop.h — sluice's event loop: sockets, timers, signals and callbacks
 * made active by hand, on one thread.
 *
 * An event is a callback with what it waits for: a socket's readability
 * or writability (level-triggered, epoll), a timeout, a signal, or only
 * being made active by loop_ev_active(). A pass of the loop waits once,
 * makes active every event whose socket is ready and every timer that is
 * due, then runs the active callbacks in the order they became active,
 * including those made active while the pass runs. An event that is not
 * LOOP_PERSIST is taken out of the loop before its callback runs.
 *
 * It does, for this program, what libevent's core did, without its
 * general machinery: a ready socket costs a table lookup and a queue
 * entry. Several events may wait on one socket (a connection's read and
 * write events). A socket's events are deleted before it is closed (the
 * table is by descriptor number, which the kernel hands out again).
 * Adding a timeout to an event already due and queued makes it wait for
 * the new one.
 *
 * INTERFACE ROUTINES
 *   loop_init() / loop_free()        the process's loop (one)
 *   loop_ev_new(fd, what, fn, arg)   an event; fd -1 for a timer, the
 *                                    signal number with LOOP_SIGNAL
 *   loop_ev_assign(ev, ...)          make a not-pending event anew
 *   loop_ev_add(ev, tv)              start waiting (tv: timeout, or NULL:
 *                                    none, or keep the one set)
 *   loop_ev_del(ev)                  stop waiting, and drop it if active
 *   loop_ev_free(ev)                 del, then free (also from its own fn)
 *   loop_ev_active(ev, res)          run fn(res) in this pass
 *   loop_ev_pending(ev, what)        what of `what` it waits for or is
 *                                    active with
 *   loop_once(tv, fn, arg)           run fn once after tv
 *   loop_pass(block)                 wait for something, run what is due
 *   loop_break() / loop_broken()     end the pass after this callback
 *   loop_at_pass_end(fn)             run fn at the end of every pass
 *   loop_now()                       the pass's clock (monotonic seconds)
 */
#ifndef SLUICE_LOOP_H
#define SLUICE_LOOP_H

#include <stdbool.h>
#include <sys/time.h>

#include "compiler.h"

#define LOOP_TIMEOUT 0x01
#define LOOP_READ    0x02
#define LOOP_WRITE   0x04
#define LOOP_SIGNAL  0x08
#define LOOP_PERSIST 0x10

typedef void (*loop_fn)(int fd, short what, void *arg);

struct loop_ev;

bool loop_init(void) MUST_CHECK;
void loop_free(void);

struct loop_ev *loop_ev_new(int fd, short what, loop_fn fn, void *arg);
void loop_ev_assign(struct loop_ev *ev, int fd, short what, loop_fn fn, void *arg);
int loop_ev_add(struct loop_ev *ev, const struct timeval *tv);
void loop_ev_del(struct loop_ev *ev);
void loop_ev_free(struct loop_ev *ev);
void loop_ev_active(struct loop_ev *ev, short res);
short loop_ev_pending(const struct loop_ev *ev, short what);
bool loop_once(const struct timeval *tv, loop_fn fn, void *arg);

/* One pass: waits until something is ready or due (at once when a
 * callback is active already; never, `block` false), runs it; 0, or -1
 * when waiting failed. */
int loop_pass(bool block);
void loop_break(void);
bool loop_broken(void);
/* Run fn at the end of every pass, after its callbacks, on the pass's
 * clock (conn_batch.c's reads and writes); NULL: nothing. */
void loop_at_pass_end(void (*fn)(void));

/* The clock (monotonic seconds) read when the pass's wait ended, 0
 * between passes; loop_now() reads it afresh then. */
extern double loop_clock;
double loop_clock_read(void);
static inline double loop_now(void)
{
	return loop_clock > 0 ? loop_clock : loop_clock_read();
}

/* A timer: an event without a socket. */
#define loop_timer_new(fn, arg) loop_ev_new(-1, 0, (fn), (arg))

#endif
