/*
 * conn_watch.t — a connection whose descriptor the loop cannot watch
 * (epoll refuses /dev/null, as it would refuse any descriptor when out of
 * memory) is told CONN_EV_ERROR from the loop, with the reason, instead
 * of waiting for a read that never comes.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "tap.h"

#define RUNS_MAX 50   /* a bound on passes, not a measurement */

struct tconn {
	struct conn conn;   /* first */
	int errors, others;
	int err;
};

static void on_event(struct conn *c, enum conn_event ev)
{
	struct tconn *t = (struct tconn *)c;
	if (ev == CONN_EV_ERROR) {
		t->errors++;
		t->err = c->err;
		conn_close(c);
	} else {
		t->others++;
	}
}

static void on_destroy(struct conn *c)
{
	conn_release(c);
}

static const struct conn_ops ops = { on_event, on_destroy };

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	ok(loop_init() && conn_reaper_init(), "event loop and reaper");
	int fd = open("/dev/null", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ok(fd >= 0, "a descriptor epoll refuses");
	static struct tconn t;
	ok(conn_init(&t.conn, fd, &ops), "conn_init");
	conn_read_start(&t.conn);
	is_int(t.errors + t.others, 0, "nothing is told from inside conn_read_start");
	for (int i = 0; i < RUNS_MAX && t.errors == 0; i++)
		(void)loop_pass(false);
	is_int(t.errors, 1, "the loop tells CONN_EV_ERROR");
	is_int(t.err, EPERM, "with epoll's reason");
	is_int(t.others, 0, "and nothing else");
	(void)loop_pass(false);   /* the reaper frees it */
	loop_ev_free(rt.reaper);
	loop_free();
	return done_testing();
}
