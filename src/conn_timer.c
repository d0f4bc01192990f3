/*
 * conn_timer.c — connection timers, part of the connection core (conn.c).
 *
 * Timers (conn_timer) are deadlines in one min-heap (heap.h) with one loop
 * timer for the earliest, not a loop event per connection: a connection
 * with a timer costs a heap slot, one without costs nothing.
 */
#include <stdlib.h>
#include <sys/time.h>

#include "conn.h"
#include "conn_internal.h"
#include "heap.h"
#include "loop.h"
#include "runtime.h"

static struct {
	struct heap heap;      /* the armed connections' deadlines (conn.timer) */
	struct loop_ev *ev;    /* wakes the loop for the earliest */
	double ev_at;          /* the deadline ev is set for; 0 when not set */
} timers;

void conn_timer_remove(struct conn *c)
{
	heap_remove(&timers.heap, &c->timer);
}

/* Set ev for the earliest deadline unless it is set for that or sooner:
 * a wakeup that comes early (its connection's timer was stopped or moved
 * on) finds nothing due and sets ev again, so arming and stopping a
 * timer, as every transaction may, rarely touches the loop's timer. */
static void timers_arm(void)
{
	struct heap_node *first = heap_top(&timers.heap);
	if (!first)
		return;
	double at = first->at;
	if (timers.ev_at > 0 && timers.ev_at <= at)
		return;
	double d = at - rt_now();
	if (d < 0)
		d = 0;
	struct timeval tv;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	if (loop_ev_add(timers.ev, &tv) == 0)
		timers.ev_at = at;   /* (not set: the next arm tries again) */
}

static void timers_cb(int fd, short what, void *arg)
{
	timers.ev_at = 0;
	double now = rt_now();
	/* a fired timer may stop or arm others: take the top afresh each time */
	for (struct heap_node *t; (t = heap_top(&timers.heap)) && t->at <= now;) {
		struct conn *c = container_of(t, struct conn, timer);
		conn_timer_remove(c);
		conn_timer_fired(c);
	}
	timers_arm();
}

void conn_timer(struct conn *c, double seconds)
{
	if (c->phase == CONN_CLOSED)
		return;
	if (seconds <= 0) {
		conn_timer_remove(c);
		return;
	}
	if (!timers.ev) {
		timers.ev = loop_timer_new(timers_cb, NULL);
		if (!timers.ev)
			return;
	}
	/* (no memory to grow the heap: no timer, as when the loop's timer
	 * cannot be made) */
	if (!heap_set(&timers.heap, &c->timer, rt_now() + seconds))
		return;
	timers_arm();
}

void conn_timer_by(struct conn *c, double seconds)
{
	if (seconds > 0 && heap_has(&c->timer) && c->timer.at <= rt_now() + seconds)
		return;
	conn_timer(c, seconds);
}
