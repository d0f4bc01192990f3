/*
 * conn_timer.t — conn_timer(): the connections' deadlines in conn.c's
 * heap fire once each, in deadline order; a stopped timer never fires; a
 * moved one fires at its new deadline; a timer set from a timeout works.
 *
 * Order is checked, never how long anything took.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "loop.h"
#include "runtime.h"
#include "tap.h"

#define NCONN 300

struct tconn {
	struct conn conn;   /* first */
	int fired;
	bool again;         /* arm once more from its timeout */
};

static struct tconn tc[NCONN];
static double last_at;
static int nfired, out_of_order;

static void on_event(struct conn *c, enum conn_event ev)
{
	struct tconn *t = (struct tconn *)c;
	if (ev != CONN_EV_TIMEOUT)
		return;
	t->fired++;
	nfired++;
	if (c->timer.at < last_at)
		out_of_order++;
	last_at = c->timer.at;
	if (t->again) {
		t->again = false;
		conn_timer(c, 0.002);
	}
}

static void on_destroy(struct conn *c)
{
	conn_release(c);
}

static const struct conn_ops ops = { on_event, on_destroy };

static void run_until(int want)
{
	/* a bound, not a measurement: the loop stops once `want` fired */
	for (int i = 0; i < 2000 && nfired < want; i++)
		loop_pass(true);
}

int main(void)
{
	ok(loop_init() && conn_reaper_init(), "event loop and reaper");
	int sv[2];
	ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
	bool inited = true;
	for (int i = 0; i < NCONN; i++)
		inited &= conn_init(&tc[i].conn, dup(sv[0]), &ops);
	ok(inited, "%d connections", NCONN);

	/* a few by hand: stop, move later, move sooner */
	conn_timer(&tc[0].conn, 0.030);
	conn_timer(&tc[1].conn, 0.010);
	conn_timer(&tc[2].conn, 0.020);
	conn_timer(&tc[3].conn, 0.015);
	conn_timer(&tc[2].conn, 0);          /* stopped */
	conn_timer(&tc[1].conn, 0.040);      /* later */
	conn_timer(&tc[0].conn, 0.005);      /* sooner */
	conn_timer(&tc[3].conn, -1);         /* stopped too */
	conn_timer(&tc[3].conn, 0);          /* stopping twice is fine */
	run_until(2);
	is_int(nfired, 2, "two timers fired");
	is_int(tc[0].fired, 1, "the one moved sooner fired");
	is_int(tc[1].fired, 1, "the one moved later fired");
	is_int(tc[2].fired + tc[3].fired, 0, "stopped timers did not");
	is_int(out_of_order, 0, "in deadline order");

	/* many, shuffled: every third stopped, every fifth moved, every
	 * seventh arms again from its own timeout */
	nfired = 0;
	last_at = 0;
	for (int i = 0; i < NCONN; i++)
		tc[i].fired = 0;
	srand(7);
	int want = 0;
	for (int i = 0; i < NCONN; i++)
		conn_timer(&tc[i].conn, 0.005 + (rand() % 1000) / 20000.0);
	for (int i = 0; i < NCONN; i++) {
		if (i % 3 == 0) {
			conn_timer(&tc[i].conn, 0);
			continue;
		}
		if (i % 5 == 0)
			conn_timer(&tc[i].conn, 0.005 + (rand() % 1000) / 20000.0);
		tc[i].again = i % 7 == 0;
		want += 1 + tc[i].again;
	}
	run_until(want);
	is_int(nfired, want, "every running timer fired, re-armed ones twice");
	int wrong = 0;
	for (int i = 0; i < NCONN; i++)
		wrong += tc[i].fired != (i % 3 == 0 ? 0 : 1 + (i % 7 == 0));
	is_int(wrong, 0, "each as often as it should");
	is_int(out_of_order, 0, "in deadline order");

	/* closing takes a connection's timer away */
	nfired = 0;
	tc[1].fired = tc[2].fired = 0;
	conn_timer(&tc[1].conn, 0.001);
	conn_timer(&tc[2].conn, 0.002);
	conn_close(&tc[1].conn);
	run_until(1);
	is_int(tc[2].fired, 1, "a timer fires next to a closed connection");
	is_int(tc[1].fired, 0, "the closed one's timer did not");

	for (int i = 0; i < NCONN; i++)
		conn_close(&tc[i].conn);
	loop_pass(false);
	close(sv[0]);
	close(sv[1]);
	loop_ev_free(rt.reaper);
	loop_free();
	return done_testing();
}
