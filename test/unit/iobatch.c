/*
 * iobatch.t — a batch of socket reads and writes gives each operation the
 * result its own system call would: bytes in order (several iovecs
 * included), -EAGAIN for nothing to read, 0 at end of file, -EPIPE for a
 * closed peer (and no SIGPIPE). Run once through io_uring, when this
 * kernel lets us have one, and once with plain calls.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iobatch.h"
#include "tap.h"

#define NPAIR IOBATCH_MAX

static char nbuf[160];
#define NAME(...) (snprintf(nbuf, sizeof nbuf, __VA_ARGS__), nbuf)

static int a[NPAIR], b[NPAIR];   /* a: the batch's side; b: the peer */
static struct iobatch_op ops[IOBATCH_MAX];
static char rbuf[IOBATCH_MAX][256];

static void set_read(int i, int fd)
{
	ops[i].fd = fd;
	ops[i].write = false;
	ops[i].buf = rbuf[i];
	ops[i].len = sizeof rbuf[i];
	ops[i].res = 12345;
}

static void set_write(int i, int fd, const char *s)
{
	ops[i].fd = fd;
	ops[i].write = true;
	ops[i].buf = (void *)s;
	ops[i].len = strlen(s);
	ops[i].res = 12345;
}

static void pairs(void)
{
	for (int i = 0; i < NPAIR; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
			abort();
		a[i] = sv[0];
		b[i] = sv[1];
	}
}

static void unpair(void)
{
	for (int i = 0; i < NPAIR; i++) {
		close(a[i]);
		if (b[i] >= 0)
			close(b[i]);
	}
}

static void run_all(const char *mode)
{
	char want[64], got[64];
	pairs();

	/* writes on every pair, a full batch */
	static char msg[NPAIR][32];
	for (int i = 0; i < NPAIR; i++) {
		snprintf(msg[i], sizeof msg[i], "message %d", i);
		set_write(i, a[i], msg[i]);
	}
	iobatch_run(ops, NPAIR);
	int wrong = 0;
	for (int i = 0; i < NPAIR; i++) {
		ssize_t n = recv(b[i], got, sizeof got - 1, MSG_DONTWAIT);
		wrong += ops[i].res != (ssize_t)strlen(msg[i]) || n != ops[i].res ||
			 memcmp(got, msg[i], (size_t)n) != 0;
	}
	is_int(wrong, 0, NAME("%s: %d writes, each on its own socket", mode, NPAIR));

	/* reads: some with bytes, some with none, one at end of file */
	for (int i = 0; i < 6; i++)
		set_read(i, a[i]);
	(void)send(b[0], "alpha", 5, 0);
	(void)send(b[2], "gamma!", 6, 0);
	(void)send(b[3], "x", 1, 0);
	shutdown(b[4], SHUT_WR);
	iobatch_run(ops, 6);
	ok(ops[0].res == 5 && memcmp(rbuf[0], "alpha", 5) == 0, "%s: read with bytes", mode);
	is_int((int)ops[1].res, -EAGAIN, NAME("%s: read with none: -EAGAIN", mode));
	ok(ops[2].res == 6 && memcmp(rbuf[2], "gamma!", 6) == 0, "%s: another read", mode);
	ok(ops[3].res == 1 && rbuf[3][0] == 'x', "%s: a read of one byte", mode);
	is_int((int)ops[4].res, 0, NAME("%s: end of file: 0", mode));
	is_int((int)ops[5].res, -EAGAIN, NAME("%s: the last read: -EAGAIN", mode));

	/* a write arrives whole and in order; a write to a closed peer fails
	 * with EPIPE (SIGPIPE ignored by MSG_NOSIGNAL, or this test would
	 * die); a read in the same batch still works */
	set_write(0, a[10], "one,two,three");
	close(b[11]);
	b[11] = -1;
	set_write(1, a[11], "lost");
	(void)send(b[12], "late", 4, 0);
	set_read(2, a[12]);
	iobatch_run(ops, 3);
	is_int((int)ops[0].res, 13, NAME("%s: 13 bytes written", mode));
	ssize_t n = recv(b[10], got, sizeof got, MSG_DONTWAIT);
	strcpy(want, "one,two,three");
	is_mem(got, n < 0 ? 0 : (size_t)n, want, strlen(want), NAME("%s: in order", mode));
	is_int((int)ops[1].res, -EPIPE, NAME("%s: a closed peer: -EPIPE", mode));
	ok(ops[2].res == 4 && memcmp(rbuf[2], "late", 4) == 0, "%s: the read next to it", mode);

	/* a write the socket has no room for: part of it, then -EAGAIN */
	static char big[1 << 20];
	memset(big, 'z', sizeof big);
	set_write(0, a[20], "");
	ops[0].buf = big;
	ops[0].len = sizeof big;
	set_write(1, a[21], "small");
	iobatch_run(ops, 2);
	ok(ops[0].res > 0 && ops[0].res < (ssize_t)sizeof big, "%s: a full socket takes part (%zd)", mode, ops[0].res);
	is_int((int)ops[1].res, 5, NAME("%s: the next write is whole", mode));
	set_write(0, a[20], "more");
	iobatch_run(ops, 1);
	is_int((int)ops[0].res, -EAGAIN, NAME("%s: then no room: -EAGAIN, not a wait", mode));

	unpair();
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL);   /* a SIGPIPE would end the test */
	char why[160];
	if (iobatch_start(why, sizeof why)) {
		ok(iobatch_uring(), "io_uring is in use");
		run_all("io_uring");
		iobatch_stop();
		ok(!iobatch_uring(), "stopped");
	} else {
		diag("no io_uring here (%s): the batch path runs with plain calls only", why);
	}
	setenv("SLUICE_IO_URING", "off", 1);
	ok(!iobatch_start(why, sizeof why) && strstr(why, "SLUICE_IO_URING") != NULL,
	   "SLUICE_IO_URING=off keeps io_uring off (%s)", why);
	run_all("plain");
	return done_testing();
}
