/*
 * conn_shed.t — an accepted connection has no buffer until its first
 * read or write; an idle connection's empty buffers go back to the spare
 * list (conn_shed; the input alone: conn_shed_in) and come back on first
 * need: a read while shed finds
 * an input buffer, a write an output buffer; output still waiting for
 * room stays until it is written; conn_unshed makes both again; a buffer
 * given back serves the next connection; bytes are never lost on the way.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "tap.h"

struct tconn {
	struct conn conn;   /* first */
	char got[64];
	size_t seen;
	bool had_in;        /* c->in was there when the read was reported */
};

static void on_event(struct conn *c, enum conn_event ev)
{
	struct tconn *t = (struct tconn *)c;
	if (ev != CONN_EV_READ)
		return;
	t->had_in = c->in != NULL;
	size_t n = c->in ? buf_len(c->in) : 0;
	if (n > sizeof t->got - 1 - t->seen)
		n = sizeof t->got - 1 - t->seen;
	if (n)
		buf_remove(c->in, t->got + t->seen, n);
	t->seen += n;
	loop_break();
}

static void on_destroy(struct conn *c)
{
	conn_release(c);
}

static const struct conn_ops ops = { on_event, on_destroy };

static void give_up(int fd, short what, void *arg)
{
	loop_break();
}

/* Run the loop until the owner has seen a read (or 2 s pass). */
static void loop_until_read(void)
{
	struct timeval tv = { 2, 0 };
	struct loop_ev *limit = loop_timer_new(give_up, NULL);
	(void)loop_ev_add(limit, &tv);
	do
		(void)loop_pass(true);
	while (!loop_broken());
	loop_ev_free(limit);
}

static size_t read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;
	for (int tries = 0; got < n && tries < 200; tries++) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else if (r < 0 && errno == EAGAIN)
			usleep(1000);
		else
			break;
	}
	return got;
}

int main(void)
{
	log_set_level(LOG_LVL_WARN);
	ok(loop_init() && conn_reaper_init(), "event loop and reaper");

	int sv[2];
	ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
	static struct tconn t;
	ok(conn_init(&t.conn, sv[0], &ops), "conn_init");
	conn_read_start(&t.conn);
	ok(t.conn.in == NULL && t.conn.out == NULL, "a new connection: no buffer until one is needed");
	ok(write(sv[1], "hi", 2) == 2, "the peer writes");
	loop_until_read();
	ok(t.had_in && t.seen == 2 && t.conn.in != NULL, "the first read made an input buffer");
	t.seen = 0;

	conn_shed(&t.conn);
	ok(t.conn.in == NULL && t.conn.out == NULL, "shed: the empty input buffer went back");
	ok(conn_in_len(&t.conn) == 0 && conn_out_len(&t.conn) == 0, "lengths read as empty while shed");

	/* a read while shed */
	ok(write(sv[1], "hello", 5) == 5, "the peer writes");
	loop_until_read();
	ok(t.had_in && t.seen == 5 && !memcmp(t.got, "hello", 5), "the read found an input buffer, bytes whole");

	/* a write while shed: the buffer goes back once written */
	ok(conn_add(&t.conn, "world", 5), "conn_add while shed makes an output buffer");
	conn_send(&t.conn);
	ok(t.conn.out == NULL, "written at once: the output buffer went back");
	char buf[64];
	ok(read_all(sv[1], buf, 5) == 5 && !memcmp(buf, "world", 5), "the peer got it");

	/* output that waits for room stays until it is written */
	static char big[1 << 20];
	memset(big, 'x', sizeof big);
	ok(conn_add(&t.conn, big, sizeof big), "1 MiB queued");
	conn_send(&t.conn);
	ok(t.conn.out != NULL && conn_out_len(&t.conn) > 0, "the socket took part of it; the rest waits");
	conn_shed(&t.conn);
	ok(t.conn.out != NULL && conn_out_len(&t.conn) > 0, "shed again: waiting output stays");
	size_t drained = 0;
	for (int i = 0; i < 2000 && conn_out_len(&t.conn) > 0; i++) {
		char sink[65536];
		ssize_t r = read(sv[1], sink, sizeof sink);
		if (r > 0)
			drained += (size_t)r;
		loop_pass(false);
	}
	for (;;) {
		char sink[65536];
		ssize_t r = read(sv[1], sink, sizeof sink);
		if (r <= 0)
			break;
		drained += (size_t)r;
	}
	ok(drained == sizeof big, "every byte reached the peer (%zu)", drained);
	ok(t.conn.out == NULL, "once written, the output buffer went back");

	/* busy again */
	conn_unshed(&t.conn);
	ok(t.conn.in != NULL && t.conn.out != NULL, "conn_unshed: both buffers");
	ok(conn_add(&t.conn, "again", 5), "conn_add");
	conn_send(&t.conn);
	ok(t.conn.out != NULL, "not shed: the output buffer stays after a write");
	ok(read_all(sv[1], buf, 5) == 5 && !memcmp(buf, "again", 5), "the peer got it");

	/* a buffer given back serves the next connection */
	struct buf *was_in = t.conn.in, *was_out = t.conn.out;
	conn_shed(&t.conn);
	ok(t.conn.in == NULL && t.conn.out == NULL, "shed: both went back");
	int sv2[2];
	ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv2) == 0, "another socketpair");
	static struct tconn u;
	ok(conn_init(&u.conn, sv2[0], &ops), "conn_init");
	ok(u.conn.in == NULL && u.conn.out == NULL, "the new connection has no buffer yet");
	ok(conn_add(&u.conn, "x", 1) && (u.conn.out == was_in || u.conn.out == was_out),
	   "its first write takes one given back");
	ok(buf_len(u.conn.out) == 1, "which holds only its own byte");

	/* the input alone, between a login's messages */
	conn_read_start(&u.conn);
	u.seen = 0;
	ok(write(sv2[1], "abc", 3) == 3, "the other peer writes");
	loop_until_read();
	ok(u.had_in && u.seen == 3 && u.conn.in != NULL && buf_len(u.conn.in) == 0,
	   "read whole: an empty input buffer");
	conn_shed_in(&u.conn);
	ok(u.conn.in == NULL && u.conn.out != NULL && !u.conn.shed,
	   "conn_shed_in: the input went back, the output stays, not shed");
	ok(write(sv2[1], "de", 2) == 2, "the other peer writes again");
	loop_until_read();
	ok(u.had_in && u.seen == 5 && !memcmp(u.got, "abcde", 5), "the next read took one again, bytes whole");

	conn_close(&t.conn);
	conn_close(&u.conn);
	loop_pass(false);
	close(sv[1]);
	close(sv2[1]);
	loop_ev_free(rt.reaper);
	loop_free();
	return done_testing();
}
