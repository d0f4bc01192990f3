/*
 * sdlisten.c — take the listening sockets systemd passes (sd_listen_fds(3)
 * describes the protocol: LISTEN_PID, LISTEN_FDS, descriptors from 3 on).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdlisten.h"

static bool parse_count(const char *s, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		return false;
	*out = v;
	return true;
}

static int sockopt(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
		return -1;
	return v;
}

/* A socket systemd made from a ListenStream= line: stream, listening,
 * TCP over IPv4 or IPv6, or unix. Anything else (a datagram socket, a
 * FIFO, a descriptor that is not open) is a unit file mistake, said at
 * start rather than found at the first accept. */
static bool usable(int fd, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "socket activation: descriptor %d (LISTEN_FDS) is not a socket", fd);
		return false;
	}
	int domain = sockopt(fd, SO_DOMAIN);
	if (sockopt(fd, SO_TYPE) != SOCK_STREAM || sockopt(fd, SO_ACCEPTCONN) != 1 ||
	    (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)) {
		snprintf(err, errlen, "socket activation: descriptor %d (LISTEN_FDS) is not a listening "
			 "TCP or unix stream socket (use ListenStream=)", fd);
		return false;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "socket activation: descriptor %d: %s", fd, strerror(errno));
		return false;
	}
	return true;
}

static void forget_env(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int sdlisten_take(int *fds, int max, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	long want, n;
	if (!pid || !nfds)
		return 0;
	/* a variable inherited from a parent that was activated, not us */
	if (!parse_count(pid, 0x7fffffffL, &want) || want != (long)getpid()) {
		forget_env();
		return 0;
	}
	if (!parse_count(nfds, 0x7fffffffL - SDLISTEN_FIRST_FD, &n)) {
		snprintf(err, errlen, "socket activation: LISTEN_FDS=%s is not a count", nfds);
		forget_env();
		return -1;
	}
	forget_env();
	if (n > max) {
		snprintf(err, errlen, "socket activation: %ld sockets passed, at most %d", n, max);
		return -1;
	}
	for (int i = 0; i < (int)n; i++) {
		if (!usable(SDLISTEN_FIRST_FD + i, err, errlen))
			return -1;
		fds[i] = SDLISTEN_FIRST_FD + i;
	}
	return (int)n;
}
