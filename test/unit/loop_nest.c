/*
 * loop_nest.t — a libevent base inside sluice's loop (loop_nest.c): its
 * epoll set is found, so a socket libevent waits on wakes sluice's loop
 * and libevent's callback runs in that pass; libevent's timers run too;
 * after loop_nest_free nothing of it is left in the loop.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "loop.h"
#include "loop_nest.h"
#include "tap.h"

#define RUNS_MAX 400   /* a bound on passes, not a measurement */

static int nread, nfired;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	char c;
	if (read(fd, &c, 1) == 1)
		nread++;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	nfired++;
}

int main(void)
{
	ok(loop_init(), "loop_init");
	/* libevent's own switches would choose poll() or defer its epoll
	 * changes: they are ignored */
	setenv("EVENT_NOEPOLL", "1", 1);
	setenv("EVENT_EPOLL_USE_CHANGELIST", "1", 1);
	struct loop_nest *n = loop_nest_new();
	ok(n != NULL, "a nested base");
	ok(n && loop_nest_watched(n), "its epoll set was found, whatever EVENT_NOEPOLL says: no polling");
	int sv[2];
	ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
	struct event *ev = event_new(loop_nest_base(n), sv[0], EV_READ | EV_PERSIST, on_read, NULL);
	ok(ev && event_add(ev, NULL) == 0, "libevent waits on a socket");
	ok(write(sv[1], "a", 1) == 1, "the peer writes");
	(void)loop_pass(true);
	is_int(nread, 1, "one pass of sluice's loop ran libevent's callback");
	ok(write(sv[1], "b", 1) == 1, "again");
	for (int i = 0; i < RUNS_MAX && nread < 2; i++)
		(void)loop_pass(true);
	is_int(nread, 2, "and again");

	struct event *t = evtimer_new(loop_nest_base(n), on_timer, NULL);
	struct timeval ms = { 0, 1000 };
	ok(t && evtimer_add(t, &ms) == 0, "a libevent timer");
	for (int i = 0; i < RUNS_MAX && nfired < 1; i++)
		(void)loop_pass(true);
	is_int(nfired, 1, "it fires");

	event_free(ev);
	event_free(t);
	loop_nest_free(n);
	ok(write(sv[1], "c", 1) == 1, "the peer writes after the base is gone");
	ok(loop_pass(false) == 0, "the loop runs on without it");
	close(sv[0]);
	close(sv[1]);
	loop_free();
	return done_testing();
}
