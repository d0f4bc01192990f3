/*
 * loop_nest.c — a libevent base run inside the loop (loop_nest.h).
 *
 * libevent keeps its epoll descriptor to itself, so it is found the way
 * the kernel hands descriptors out: the lowest free number is noted
 * before the base is made, and the first descriptor from there that was
 * closed before and is an epoll set after is the base's.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "loop_nest.h"

#define NEST_SCAN 16   /* descriptors looked at from the lowest free one */

struct loop_nest {
	struct event_base *base;
	struct loop_ev *ready;   /* libevent's epoll set is readable */
	struct loop_ev *tick;    /* its timers; or everything, without `ready` */
};

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static bool is_epoll(int fd)
{
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[eventpoll]") == 0;
}

static void run(int fd, short what, void *arg)
{
	struct loop_nest *n = arg;
	(void)event_base_loop(n->base, EVLOOP_NONBLOCK);
}

struct loop_nest *loop_nest_new(void)
{
	struct loop_nest *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	int low = open("/dev/null", O_RDONLY | O_CLOEXEC);
	bool was_open[NEST_SCAN] = { false };
	if (low >= 0) {
		close(low);
		for (int i = 0; i < NEST_SCAN; i++)
			was_open[i] = is_open(low + i);
	}
	/* libevent's EVENT_* environment variables could pick another way
	 * to wait, or defer its epoll_ctl calls to its next wait (which,
	 * run without waiting, would leave them to the next tick) */
	struct event_config *cfg = event_config_new();
	if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV) == 0)
		n->base = event_base_new_with_config(cfg);
	if (cfg)
		event_config_free(cfg);
	if (!n->base) {
		free(n);
		return NULL;
	}
	int epfd = -1;
	bool epoll = !strcmp(event_base_get_method(n->base), "epoll");
	for (int i = 0; epoll && low >= 0 && i < NEST_SCAN && epfd < 0; i++)
		if (!was_open[i] && is_epoll(low + i))
			epfd = low + i;
	struct timeval second = { 1, 0 }, poll = { 0, LOOP_NEST_POLL_MS * 1000 };
	n->tick = loop_ev_new(-1, LOOP_PERSIST, run, n);
	if (!n->tick || loop_ev_add(n->tick, epfd >= 0 ? &second : &poll) < 0)
		goto fail;
	if (epfd >= 0) {
		n->ready = loop_ev_new(epfd, LOOP_READ | LOOP_PERSIST, run, n);
		if (!n->ready || loop_ev_add(n->ready, NULL) < 0)
			goto fail;
	} else {
		log_warn("libevent's wait set not found: its part (metrics) runs every %d ms",
			 LOOP_NEST_POLL_MS);
	}
	return n;
fail:
	loop_nest_free(n);
	return NULL;
}

bool loop_nest_watched(const struct loop_nest *n)
{
	return n->ready != NULL;
}

struct event_base *loop_nest_base(struct loop_nest *n)
{
	return n->base;
}

void loop_nest_free(struct loop_nest *n)
{
	if (!n)
		return;
	loop_ev_free(n->ready);
	loop_ev_free(n->tick);
	if (n->base)
		event_base_free(n->base);
	free(n);
}
