/*
 * runtime.c — the process-wide context, the deferred checks and the clock.
 */
#include <time.h>

#include <event2/event.h>

#include "runtime.h"

struct runtime rt;

static struct {
	struct event *ev;
	rt_check_fn fn[RT_CHECKS_MAX];
	int n;
} checks;

static void checks_cb(evutil_socket_t fd, short what, void *arg)
{
	for (int i = 0; i < checks.n; i++)
		checks.fn[i]();
}

bool rt_checks_init(void)
{
	checks.n = 0;
	checks.ev = event_new(rt.base, -1, 0, checks_cb, NULL);
	return checks.ev != NULL;
}

bool rt_check_register(rt_check_fn fn)
{
	if (checks.n == RT_CHECKS_MAX)
		return false;
	checks.fn[checks.n++] = fn;
	return true;
}

void rt_kick(void)
{
	if (checks.ev && !event_pending(checks.ev, EV_TIMEOUT, NULL))
		event_active(checks.ev, EV_TIMEOUT, 0);
}

void rt_checks_free(void)
{
	if (checks.ev)
		event_free(checks.ev);
	checks.ev = NULL;
	checks.n = 0;
}

/* Inside a loop pass the clock is read once: every event of the pass
 * happened "when the pass began" to within the pass's own length, and a
 * transaction asks for the time several times (waits, statistics, idle
 * timers). 0: read it at the next call. */
static double pass_clock;
static bool pass_clock_held;

double rt_now(void)
{
	if (pass_clock > 0)
		return pass_clock;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (pass_clock_held)
		pass_clock = now;
	return now;
}

void rt_clock_hold(bool hold)
{
	pass_clock_held = hold;
	pass_clock = 0;
}

void rt_clock_tick(void)
{
	pass_clock = 0;
	rt.passes++;
}

double rt_wallclock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
