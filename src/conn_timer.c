/*
 * conn_timer.c — connection timers, part of the connection core (conn.c).
 *
 * Timers (conn_timer) are deadlines in one min-heap with one libevent
 * timer for the earliest, not a struct event per connection: a connection
 * with a timer costs a heap slot, one without costs nothing.
 */
#include <stdlib.h>
#include <sys/time.h>

#include <event2/event.h>

#include "conn.h"
#include "conn_internal.h"
#include "runtime.h"

static struct {
	struct conn **v;     /* v[0] has the earliest deadline */
	uint32_t n, cap;
	struct event *ev;    /* wakes the loop for v[0] */
	double ev_at;        /* the deadline ev is set for; 0 when not set */
} timers;

static void heap_place(struct conn *c, uint32_t i)
{
	timers.v[i] = c;
	c->timer_slot = i + 1;
}

static void heap_up(uint32_t i)
{
	struct conn *c = timers.v[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (timers.v[parent]->timer_at <= c->timer_at)
			break;
		heap_place(timers.v[parent], i);
		i = parent;
	}
	heap_place(c, i);
}

static void heap_down(uint32_t i)
{
	struct conn *c = timers.v[i];
	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= timers.n)
			break;
		if (child + 1 < timers.n && timers.v[child + 1]->timer_at < timers.v[child]->timer_at)
			child++;
		if (c->timer_at <= timers.v[child]->timer_at)
			break;
		heap_place(timers.v[child], i);
		i = child;
	}
	heap_place(c, i);
}

void conn_timer_remove(struct conn *c)
{
	if (!c->timer_slot)
		return;
	uint32_t i = c->timer_slot - 1;
	c->timer_slot = 0;
	struct conn *last = timers.v[--timers.n];
	if (last == c)
		return;
	heap_place(last, i);
	heap_up(i);
	heap_down(last->timer_slot - 1);
}

/* Set ev for the earliest deadline unless it is set for that or sooner:
 * a wakeup that comes early (its connection's timer was stopped or moved
 * on) finds nothing due and sets ev again, so arming and stopping a
 * timer, as every transaction may, rarely touches libevent. */
static void timers_arm(void)
{
	if (timers.n == 0)
		return;
	double at = timers.v[0]->timer_at;
	if (timers.ev_at > 0 && timers.ev_at <= at)
		return;
	double d = at - rt_now();
	if (d < 0)
		d = 0;
	struct timeval tv;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	evtimer_add(timers.ev, &tv);
	timers.ev_at = at;
}

static void timers_cb(evutil_socket_t fd, short what, void *arg)
{
	timers.ev_at = 0;
	double now = rt_now();
	/* a fired timer may stop or arm others: take v[0] afresh each time */
	while (timers.n > 0 && timers.v[0]->timer_at <= now) {
		struct conn *c = timers.v[0];
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
		timers.ev = evtimer_new(rt.base, timers_cb, NULL);
		if (!timers.ev)
			return;
	}
	double old = c->timer_at;
	c->timer_at = rt_now() + seconds;
	if (c->timer_slot) {
		uint32_t i = c->timer_slot - 1;
		if (c->timer_at < old)
			heap_up(i);
		else
			heap_down(i);
	} else {
		if (timers.n == timers.cap) {
			/* grows, never shrinks: no malloc once the heap has seen
			 * its largest number of armed timers */
			uint32_t cap = timers.cap ? 2 * timers.cap : 256;
			struct conn **v = realloc(timers.v, cap * sizeof *v);
			if (!v)
				return;
			timers.v = v;
			timers.cap = cap;
		}
		timers.n++;
		heap_place(c, timers.n - 1);
		heap_up(timers.n - 1);
	}
	timers_arm();
}

void conn_timer_by(struct conn *c, double seconds)
{
	if (seconds > 0 && c->timer_slot && c->timer_at <= rt_now() + seconds)
		return;
	conn_timer(c, seconds);
}
