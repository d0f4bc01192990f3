/*
 * sdnotify.c — READY=1, RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1
 * for systemd (sd_notify(3)), when sluice runs as a Type=notify service.
 *
 * libsystemd is optional at build time (HAVE_SYSTEMD, set by the Makefile
 * when pkg-config finds it): without it every routine does nothing, and a
 * unit that waits for READY=1 would time out, so sdnotify_ready() says so
 * in the log when NOTIFY_SOCKET is set.
 *
 * The watchdog is a timer on the event loop, not a thread: WATCHDOG=1 goes
 * out only while the loop turns, which is what systemd should be told.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "sdnotify.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static struct loop_ev *watchdog_ev;
static bool stopping;
static bool send_failed;   /* warned once: the watchdog would repeat it */

/* One datagram of newline-separated assignments. A STATUS= text is kept
 * on its line: a newline in it would start a new assignment. */
static void notify(const char *fmt, ...) PRINTF(1, 2);
static void notify(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int rc = sd_notify(0, msg);
	if (rc < 0 && !send_failed) {
		send_failed = true;
		log_warn("cannot notify systemd (NOTIFY_SOCKET): %s", strerror(-rc));
	}
}

static void one_line(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < n; i++)
		dst[i] = src[i] == '\n' || src[i] == '\r' ? ' ' : src[i];
	dst[i] = 0;
}

static void watchdog_cb(int fd, short what, void *arg)
{
	notify("WATCHDOG=1");
}

/* WATCHDOG_USEC (and WATCHDOG_PID, if set, naming us): systemd restarts
 * the service if no WATCHDOG=1 comes within that time; twice as often is
 * what sd_watchdog_enabled(3) recommends. */
static void watchdog_start(void)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return;
	uint64_t half = usec / 2;
	struct timeval tv = { (time_t)(half / 1000000), (suseconds_t)(half % 1000000) };
	watchdog_ev = loop_ev_new(-1, LOOP_PERSIST, watchdog_cb, NULL);
	if (!watchdog_ev || loop_ev_add(watchdog_ev, &tv) != 0) {
		log_error("cannot start the systemd watchdog timer");
		return;
	}
	log_info("systemd watchdog: WATCHDOG=1 every %.3f s", (double)half / 1e6);
}

void sdnotify_ready(void)
{
	char path[512];
	one_line(path, sizeof path, rt.cfg ? rt.cfg->path : "");
	notify("READY=1\nSTATUS=ready: listening (%s)", path);
	watchdog_start();
}

void sdnotify_reloading(void)
{
	if (stopping)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long usec = (unsigned long long)ts.tv_sec * 1000000ULL +
				  (unsigned long long)ts.tv_nsec / 1000ULL;
	notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration", usec);
}

void sdnotify_reloaded(const char *why)
{
	if (stopping)
		return;
	if (!why) {
		notify("READY=1\nSTATUS=ready: configuration reloaded");
		return;
	}
	char reason[768];
	one_line(reason, sizeof reason, why);
	notify("READY=1\nSTATUS=ready: reload refused, the running configuration stays: %s", reason);
}

void sdnotify_stopping(const char *how)
{
	if (stopping)
		return;
	stopping = true;
	char text[256];
	one_line(text, sizeof text, how);
	notify("STOPPING=1\nSTATUS=stopping: %s", text);
}

void sdnotify_free(void)
{
	if (watchdog_ev)
		loop_ev_free(watchdog_ev);
	watchdog_ev = NULL;
}

#else   /* built without libsystemd */

void sdnotify_ready(void)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	if (sock && *sock)
		log_warn("NOTIFY_SOCKET is set, but this sluice was built without libsystemd: "
			 "systemd is not told READY=1 (use Type=simple, or build with libsystemd-dev)");
}

void sdnotify_reloading(void)
{
}

void sdnotify_reloaded(const char *why)
{
}

void sdnotify_stopping(const char *how)
{
}

void sdnotify_free(void)
{
}

#endif
