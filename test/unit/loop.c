/*
 * loop.t — the event loop (loop.c): sockets are level-triggered and a
 * non-persistent event fires once; two events share a socket; timers
 * fire in deadline order, once, and not after loop_ev_del; active events
 * run in the order made active, in the pass, once however often made
 * active; an event may free itself or another from a callback; signals
 * arrive as callbacks and the old handler comes back; loop_break ends the
 * pass after the callback that asked.
 *
 * Order and counts are checked, never how long anything took (the timers
 * are a few milliseconds apart, and the loop only waits for them).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "tap.h"

#define RUNS_MAX 2000   /* a bound on passes, not a measurement */

static char order[64];
static int norder;

static void note(char c)
{
	if (norder < (int)sizeof order - 1)
		order[norder++] = c;
	order[norder] = '\0';
}

static void reset(void)
{
	norder = 0;
	order[0] = '\0';
}

struct hit {
	char tag;
	int n;
	short last;
	struct loop_ev *self;
	struct loop_ev *victim;   /* freed by this one's callback */
	struct loop_ev *rearm;    /* given rearm_tv by this one's callback */
	struct timeval rearm_tv;
	bool free_self, breaks;
};

static void on_hit(int fd, short what, void *arg)
{
	struct hit *h = arg;
	h->n++;
	h->last = what;
	note(h->tag);
	if (h->victim) {
		loop_ev_free(h->victim);
		h->victim = NULL;
	}
	if (h->rearm)
		(void)loop_ev_add(h->rearm, &h->rearm_tv);
	if (h->breaks)
		loop_break();
	if (h->free_self) {
		loop_ev_free(h->self);
		h->self = NULL;
	}
}

static void passes(int n)
{
	for (int i = 0; i < n; i++)
		(void)loop_pass(false);
}

static void run_until(const int *counter, int want)
{
	for (int i = 0; i < RUNS_MAX && *counter < want; i++)
		(void)loop_pass(true);
}

static void sockets(void)
{
	int sv[2];
	ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
	struct hit r = { .tag = 'r' }, once = { .tag = 'o' }, w = { .tag = 'w' };
	struct loop_ev *rev = loop_ev_new(sv[0], LOOP_READ | LOOP_PERSIST, on_hit, &r);
	struct loop_ev *oev = loop_ev_new(sv[0], LOOP_READ, on_hit, &once);
	ok(loop_ev_add(rev, NULL) == 0 && loop_ev_add(oev, NULL) == 0, "two read events on one socket");
	passes(3);
	is_int(r.n + once.n, 0, "nothing to read: neither fires");
	ok(write(sv[1], "x", 1) == 1, "the peer writes");
	passes(3);
	is_int(r.n, 3, "level-triggered: the persistent one fires every pass while unread");
	is_int(once.n, 1, "the non-persistent one fires once");
	ok(r.last == LOOP_READ, "with LOOP_READ");
	ok(!loop_ev_pending(oev, LOOP_READ) && loop_ev_pending(rev, LOOP_READ),
	   "only the persistent one still waits");

	struct loop_ev *wev = loop_ev_new(sv[0], LOOP_WRITE | LOOP_PERSIST, on_hit, &w);
	ok(loop_ev_add(wev, NULL) == 0, "a write event joins the socket");
	r.n = 0;
	passes(1);
	ok(w.n == 1 && r.n == 1, "both fire in one pass");
	loop_ev_del(rev);
	char c;
	ok(read(sv[0], &c, 1) == 1, "the byte read");
	ok(write(sv[1], "y", 1) == 1, "the peer writes again");
	r.n = w.n = 0;
	passes(2);
	ok(r.n == 0 && w.n == 2, "the deleted read event stays quiet; the write event goes on");
	loop_ev_del(wev);
	ok(loop_ev_add(rev, NULL) == 0, "read added again");
	passes(1);
	ok(r.n == 1 && w.n == 2, "it sees the unread byte; the write event is gone");
	loop_ev_free(rev);
	loop_ev_free(wev);
	loop_ev_free(oev);

	/* a peer that hangs up wakes a reader */
	struct hit h = { .tag = 'h' };
	struct loop_ev *hev = loop_ev_new(sv[0], LOOP_READ, on_hit, &h);
	ok(loop_ev_add(hev, NULL) == 0 && read(sv[0], &c, 1) == 1, "reader of a drained socket");
	close(sv[1]);
	run_until(&h.n, 1);
	is_int(h.n, 1, "the hang-up wakes it");
	loop_ev_free(hev);
	close(sv[0]);
}

static void timers(void)
{
	reset();
	struct hit a = { .tag = 'a' }, b = { .tag = 'b' }, c = { .tag = 'c' }, d = { .tag = 'd' };
	struct loop_ev *ta = loop_timer_new(on_hit, &a), *tb = loop_timer_new(on_hit, &b);
	struct loop_ev *tc = loop_timer_new(on_hit, &c), *td = loop_timer_new(on_hit, &d);
	struct timeval t30 = { 0, 30000 }, t10 = { 0, 10000 }, t20 = { 0, 20000 }, t5 = { 0, 5000 };
	ok(loop_ev_add(ta, &t30) == 0 && loop_ev_add(tb, &t10) == 0 && loop_ev_add(tc, &t20) == 0 &&
	   loop_ev_add(td, &t5) == 0, "four timers");
	loop_ev_del(tc);
	ok(loop_ev_add(td, &t20) == 0, "one moved later (added again)");
	ok(loop_ev_pending(ta, LOOP_TIMEOUT) && !loop_ev_pending(tc, LOOP_TIMEOUT),
	   "pending: the set one, not the deleted one");
	run_until(&a.n, 1);
	is_str(order, "bda", "deadline order, the deleted one never");
	ok(a.last == LOOP_TIMEOUT, "with LOOP_TIMEOUT");
	passes(2);
	ok(a.n == 1 && b.n == 1 && d.n == 1 && c.n == 0, "each once");
	loop_ev_free(ta);
	loop_ev_free(tb);
	loop_ev_free(tc);
	loop_ev_free(td);

	struct hit p = { .tag = 'p' };
	struct loop_ev *tp = loop_ev_new(-1, LOOP_PERSIST, on_hit, &p);
	struct timeval t1 = { 0, 1000 };
	ok(loop_ev_add(tp, &t1) == 0, "a persistent timer");
	run_until(&p.n, 3);
	is_int(p.n, 3, "it fires again and again");
	loop_ev_del(tp);
	ok(!loop_ev_pending(tp, LOOP_TIMEOUT), "until deleted");
	loop_ev_free(tp);

	/* a timer due and queued, set again by another's callback in the
	 * same pass, waits for its new deadline */
	reset();
	struct hit first = { .tag = 'f' }, second = { .tag = 's' };
	struct loop_ev *tf = loop_timer_new(on_hit, &first), *ts = loop_timer_new(on_hit, &second);
	struct timeval t2 = { 0, 2000 }, far = { 60, 0 };
	first.rearm = ts;
	first.rearm_tv = far;
	ok(loop_ev_add(tf, &t1) == 0 && loop_ev_add(ts, &t2) == 0, "two timers");
	usleep(5000);   /* both due by the next pass */
	(void)loop_pass(true);
	passes(1);
	ok(first.n == 1 && second.n == 0, "the one set again did not run (%s)", order);
	ok(loop_ev_pending(ts, LOOP_TIMEOUT), "it waits for its new deadline");
	loop_ev_free(tf);
	loop_ev_free(ts);

	struct hit o = { .tag = 'o' };
	ok(loop_once(&t1, on_hit, &o), "loop_once");
	run_until(&o.n, 1);
	passes(2);
	is_int(o.n, 1, "runs once");
}

static void active(void)
{
	reset();
	struct hit x = { .tag = 'x' }, y = { .tag = 'y' }, z = { .tag = 'z' };
	struct loop_ev *ex = loop_timer_new(on_hit, &x), *ey = loop_timer_new(on_hit, &y);
	struct loop_ev *ez = loop_timer_new(on_hit, &z);
	loop_ev_active(ey, LOOP_READ);
	loop_ev_active(ex, LOOP_TIMEOUT);
	loop_ev_active(ey, LOOP_WRITE);
	ok(loop_ev_pending(ey, LOOP_READ | LOOP_WRITE) == (LOOP_READ | LOOP_WRITE),
	   "made active twice: pending with both");
	loop_ev_active(ez, LOOP_TIMEOUT);
	loop_ev_del(ez);
	passes(1);
	is_str(order, "yx", "in the order made active; a deleted one not at all");
	ok(y.n == 1 && y.last == (LOOP_READ | LOOP_WRITE), "once, with what both asked");
	passes(1);
	is_str(order, "yx", "and not again");

	/* one frees another that is active, then itself */
	reset();
	x.victim = ey;
	x.free_self = true;
	x.self = ex;
	loop_ev_active(ex, LOOP_TIMEOUT);
	loop_ev_active(ey, LOOP_TIMEOUT);
	loop_ev_active(ez, LOOP_TIMEOUT);
	passes(1);
	is_str(order, "xz", "an event freed by another's callback does not run");

	/* loop_break: the rest run in the next pass */
	reset();
	struct hit b1 = { .tag = '1', .breaks = true }, b2 = { .tag = '2' };
	struct loop_ev *e1 = loop_timer_new(on_hit, &b1), *e2 = loop_timer_new(on_hit, &b2);
	loop_ev_active(e1, LOOP_TIMEOUT);
	loop_ev_active(e2, LOOP_TIMEOUT);
	(void)loop_pass(true);
	ok(loop_broken() && !strcmp(order, "1"), "loop_break ends the pass after its callback");
	(void)loop_pass(true);
	ok(!loop_broken() && !strcmp(order, "12"), "the next pass runs the rest at once");
	loop_ev_free(e1);
	loop_ev_free(e2);
	loop_ev_free(ez);
}

static void signals(void)
{
	struct hit s = { .tag = 's' };
	struct loop_ev *ev = loop_ev_new(SIGUSR1, LOOP_SIGNAL | LOOP_PERSIST, on_hit, &s);
	ok(loop_ev_add(ev, NULL) == 0, "a signal event");
	raise(SIGUSR1);
	run_until(&s.n, 1);
	ok(s.n == 1 && s.last == LOOP_SIGNAL, "the signal arrives as a callback");
	raise(SIGUSR1);
	raise(SIGUSR1);
	run_until(&s.n, 2);
	passes(2);
	ok(s.n >= 2 && s.n <= 3, "raised twice: run for each, or once for both");
	loop_ev_free(ev);
	struct sigaction now;
	ok(sigaction(SIGUSR1, NULL, &now) == 0 && now.sa_handler == SIG_DFL,
	   "freed: the old handler is back");
}

int main(void)
{
	ok(loop_init(), "loop_init");
	sockets();
	timers();
	active();
	signals();
	loop_free();
	return done_testing();
}
