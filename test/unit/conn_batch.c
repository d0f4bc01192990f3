/*
 * conn_batch.t — conn_loop's batches keep conn's promises: every socket
 * a pass finds readable is read and its owner told, in one batch; what
 * owners leave with conn_send_soon reaches each peer, whole and in order;
 * bytes a batch read for a connection whose reading an owner stopped
 * meanwhile are reported once reading is on again, not lost; a connection
 * closed right after conn_send_soon still sends those bytes first; a
 * connection an owner accepts while the batch hands out reads (as
 * listener_stop's sweep of the backlog does) and asks to read soon gets
 * its bytes on the next pass. Run with io_uring (when this kernel allows
 * it) and with plain calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "tap.h"

#define NECHO 150   /* more than one batch of IOBATCH_MAX */

enum role { ECHO, PAIR, BYE, GUARD, ACCEPT, LATE };

struct tconn {
	struct conn conn;   /* first */
	enum role role;
	struct tconn *other;   /* PAIR: the partner whose reading is stopped */
	size_t seen;
	char got[64];
	bool stopped_other;
};

#define NCONN (NECHO + 6)   /* + pair, pair, bye, guard, accept, late */
static struct tconn tc[NCONN];
static int peer[NCONN];
static int late_fd = -1;   /* the socket ACCEPT takes in */
static int echoed, reads_total, guard_fired;
static size_t echo_want;
static char nbuf[160];
#define NAME(...) (snprintf(nbuf, sizeof nbuf, __VA_ARGS__), nbuf)

static void take(struct tconn *t)
{
	size_t n = buf_len(t->conn.in);
	if (n > sizeof t->got - 1 - t->seen)
		n = sizeof t->got - 1 - t->seen;
	buf_remove(t->conn.in, t->got + t->seen, n);
	t->seen += n;
}

static struct tconn *pair_waiting;
static const struct conn_ops ops;   /* below */

static void on_event(struct conn *c, enum conn_event ev)
{
	struct tconn *t = (struct tconn *)c;
	if (t->role == GUARD) {
		if (ev == CONN_EV_TIMEOUT) {
			guard_fired++;
			loop_break();
		}
		return;
	}
	if (ev != CONN_EV_READ && ev != CONN_EV_TIMEOUT)
		return;
	switch (t->role) {
	case ECHO:
		reads_total++;
		echoed += (int)buf_len(c->in);
		if (!buf_move(c->in, conn_out(c), buf_len(c->in)))   /* out made on first need */
			abort();
		conn_send_soon(c);
		if ((size_t)echoed == echo_want)
			loop_break();
		break;
	case PAIR:
		if (ev == CONN_EV_TIMEOUT) {   /* the first one: let the other read */
			conn_read_start(&t->other->conn);
			break;
		}
		take(t);
		if (!pair_waiting) {
			/* first of the two: stop the other, whose bytes the same
			 * batch has read already, and start it again later */
			pair_waiting = t->other;
			t->stopped_other = true;
			conn_read_stop(&t->other->conn);
			conn_timer(c, 0.01);
		} else if (t == pair_waiting) {
			loop_break();
		}
		break;
	case BYE:
		take(t);
		(void)conn_add(c, "bye", 3);
		conn_send_soon(c);
		conn_close(c);
		break;
	case ACCEPT: {
		take(t);
		struct tconn *l = &tc[NECHO + 5];
		memset(l, 0, sizeof *l);
		l->role = LATE;
		if (conn_init(&l->conn, late_fd, &ops)) {
			conn_read_start(&l->conn);
			conn_read_soon(&l->conn);
		}
		late_fd = -1;
		break;
	}
	case LATE:
		take(t);
		loop_break();
		break;
	case GUARD:
		break;
	}
}

static void on_destroy(struct conn *c)
{
	conn_release(c);
}

static const struct conn_ops ops = { on_event, on_destroy };

static bool make(int i, enum role role)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return false;
	memset(&tc[i], 0, sizeof tc[i]);
	tc[i].role = role;
	peer[i] = sv[1];
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0)   /* conn_init's rule */
		return false;
	if (!conn_init(&tc[i].conn, sv[0], &ops))
		return false;
	conn_read_start(&tc[i].conn);
	return true;
}

static void guard(int i)
{
	/* a bound, not a measurement: a lost wakeup ends the loop here */
	guard_fired = 0;
	conn_timer(&tc[i].conn, 5.0);
}

static void run(const char *mode)
{
	bool made = true;
	for (int i = 0; i < NECHO + 5; i++)
		made &= make(i, i < NECHO ? ECHO : i == NECHO + 4 ? ACCEPT : i == NECHO + 3 ? GUARD
			     : i == NECHO + 2 ? BYE : PAIR);
	ok(made, "%s: connections", mode);

	/* echo: every connection readable in the same pass */
	echoed = 0;
	reads_total = 0;
	echo_want = 0;
	for (int i = 0; i < NECHO; i++) {
		char m[32];
		int n = snprintf(m, sizeof m, "ping %d;", i);
		echo_want += (size_t)n;
		(void)send(peer[i], m, (size_t)n, 0);
	}
	guard(NECHO + 3);
	conn_loop();
	is_int(guard_fired, 0, NAME("%s: every echo done without the guard", mode));
	is_int(echoed, (long long)echo_want, NAME("%s: all bytes read", mode));
	int wrong = 0;
	for (int i = 0; i < NECHO; i++) {
		char m[32], g[64];
		int n = snprintf(m, sizeof m, "ping %d;", i);
		ssize_t r = recv(peer[i], g, sizeof g, MSG_DONTWAIT);
		wrong += r != n || memcmp(g, m, (size_t)n) != 0;
	}
	is_int(wrong, 0, NAME("%s: each peer got its own bytes back", mode));

	/* a batch reads both of a pair; the first stops the other */
	struct tconn *x = &tc[NECHO], *y = &tc[NECHO + 1];
	x->other = y;
	y->other = x;
	pair_waiting = NULL;
	(void)send(peer[NECHO], "to x", 4, 0);
	(void)send(peer[NECHO + 1], "to y", 4, 0);
	guard(NECHO + 3);
	conn_loop();
	is_int(guard_fired, 0, NAME("%s: the stopped one was told once started again", mode));
	is_str(x->got, "to x", NAME("%s: x got its bytes", mode));
	is_str(y->got, "to y", NAME("%s: y got its bytes", mode));

	/* a close right after conn_send_soon */
	struct tconn *z = &tc[NECHO + 2];
	(void)send(peer[NECHO + 2], "hi", 2, 0);
	guard(NECHO + 3);
	conn_timer(&tc[NECHO + 3].conn, 0.2);   /* just long enough to see it */
	conn_loop();
	char g[16] = { 0 };
	ssize_t r = recv(peer[NECHO + 2], g, sizeof g - 1, 0);
	is_str(z->got, "hi", NAME("%s: the closing one read", mode));
	ok(r == 3 && strcmp(g, "bye") == 0, "%s: and its last bytes were sent (%zd)", mode, r);
	r = recv(peer[NECHO + 2], g, sizeof g, 0);
	is_int(r, 0, NAME("%s: then the end of file", mode));

	/* accepted while the batch hands out reads, asked to read soon */
	int sv[2];
	made = socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0;
	late_fd = sv[0];
	peer[NECHO + 5] = sv[1];
	(void)send(sv[1], "late", 4, 0);
	(void)send(peer[NECHO + 4], "accept", 6, 0);
	guard(NECHO + 3);
	conn_loop();
	is_int(guard_fired, 0, NAME("%s: the one accepted inside the batch was read", mode));
	is_str(tc[NECHO + 5].got, "late", NAME("%s: its bytes", mode));
	ok(made && tc[NECHO + 4].seen == 6, "%s: the accepting one read first", mode);

	for (int i = 0; i < NCONN; i++) {
		conn_close(&tc[i].conn);
		close(peer[i]);
	}
	loop_pass(false);
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);   /* conn_loop's line about its way, each run */
	ok(loop_init() && conn_reaper_init(), "event loop and reaper");
	run("batched");
	setenv("SLUICE_IO_URING", "off", 1);
	run("plain calls");
	loop_ev_free(rt.reaper);
	loop_free();
	return done_testing();
}
