/*
 * runtime.c — the process-wide context, the deferred checks and the clock.
 */
#include <time.h>

#include "loop.h"
#include "runtime.h"

struct runtime rt;

static struct {
	struct loop_ev *ev;
	rt_check_fn fn[RT_CHECKS_MAX];
	int n;
} checks;

static void checks_cb(int fd, short what, void *arg)
{
	for (int i = 0; i < checks.n; i++)
		checks.fn[i]();
}

bool rt_checks_init(void)
{
	checks.n = 0;
	checks.ev = loop_ev_new(-1, 0, checks_cb, NULL);
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
	if (checks.ev && !loop_ev_pending(checks.ev, LOOP_TIMEOUT))
		loop_ev_active(checks.ev, LOOP_TIMEOUT);
}

void rt_checks_free(void)
{
	if (checks.ev)
		loop_ev_free(checks.ev);
	checks.ev = NULL;
	checks.n = 0;
}

double rt_wallclock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
