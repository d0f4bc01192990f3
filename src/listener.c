/*
 * listener.c — accept connections on TCP addresses and a unix socket, and
 * hand each to client_accept().
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "sdlisten.h"

#define LISTEN_BACKLOG 4096
#define MAX_LISTENERS 16
#define ACCEPT_BURST_MAX 64

/* A listening socket. Each wake takes up to `burst` connections: one
 * while they come one at a time, so that no accept finds the queue empty
 * (a system call that does nothing, once per connection). The event is
 * level-triggered, so what a wake leaves wakes the very next loop pass:
 * a wake right after one that took all it might doubles the burst, one
 * that finds the queue empty halves it. */
struct listener {
	struct loop_ev *ev;
	int fd;
	int burst;
	uint64_t full_pass;   /* the loop pass of a wake that took all its burst, + 1 */
	bool nodelay_each;    /* TCP from systemd: connections queued before we set
			       * TCP_NODELAY on it lack it, so each gets its own */
};

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct stat unix_stat;   /* the socket file we made, to remove only it */

static void reenable_cb(int fd, short what, void *arg)
{
	struct listener *l = arg;
	if (l->ev)   /* (not closed meanwhile) */
		loop_ev_add(l->ev, NULL);
}

static void accept_failed(struct listener *l, int err)
{
	log_warn("accept failed: %s", strerror(err));
	if (err != EINTR && err != ECONNABORTED) {
		/* Out of descriptors or memory: pause accepting briefly rather
		 * than spin on the same error. */
		loop_ev_del(l->ev);
		struct timeval tv = { 1, 0 };
		if (!loop_once(&tv, reenable_cb, l))
			log_warn("accepting stays paused: no memory for the timer");
	}
}

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* Accepted TCP sockets inherit TCP_NODELAY from their listener on Linux:
 * set once here rather than once per connection. */
static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void accept_cb(int lfd, short what, void *arg)
{
	struct listener *l = arg;
	if (l->full_pass == rt.passes && l->burst < ACCEPT_BURST_MAX)
		l->burst *= 2;   /* the last pass left some */
	for (int i = 0; i < l->burst; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (l->burst > 1)
					l->burst /= 2;
			} else {
				accept_failed(l, errno);
			}
			l->full_pass = 0;
			return;
		}
		if (l->nodelay_each)
			set_nodelay(fd);
		client_accept(fd, (struct sockaddr *)&ss, len);
	}
	l->full_pass = rt.passes + 1;
}

static bool add_listener(int fd, const char *what, bool nodelay_each, char *err, size_t errlen)
{
	if (nlisteners == MAX_LISTENERS) {
		snprintf(err, errlen, "too many listen addresses");
		close(fd);
		return false;
	}
	/* (listen again: a socket from systemd may have a smaller backlog,
	 * or be blocking) */
	struct listener *l = &listeners[nlisteners];
	l->fd = fd;
	l->burst = 1;
	l->full_pass = 0;
	l->nodelay_each = nodelay_each;
	l->ev = NULL;
	if (!nonblocking(fd) || listen(fd, LISTEN_BACKLOG) < 0 ||
	    !(l->ev = loop_ev_new(fd, LOOP_READ | LOOP_PERSIST, accept_cb, l)) ||
	    loop_ev_add(l->ev, NULL) < 0) {
		snprintf(err, errlen, "cannot listen on %s", what);
		if (l->ev)
			loop_ev_free(l->ev);
		close(fd);
		return false;
	}
	nlisteners++;
	log_info("listening on %s", what);
	return true;
}

/* Wake for a TCP connection only once its first bytes (the startup
 * packet or SSLRequest) have come, as PgBouncer's tcp_defer_accept does.
 * One second, PgBouncer's value: a client that connects and says nothing
 * is accepted anyway once Linux retransmits the SYN-ACK (about 1 to 3 s),
 * and client_login_timeout applies to it from then on. A longer defer
 * would keep silent connections open, unseen, beyond that timeout. */
#define DEFER_ACCEPT_SECS 1

static bool listen_tcp(const char *host, int port, bool reuseport, bool defer_accept,
		       char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res, *ai;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	int rc = getaddrinfo(strcmp(host, "*") ? host : NULL, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen_addr %s: %s", host, gai_strerror(rc));
		return false;
	}
	int bound = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
			snprintf(err, errlen, "so_reuseport: %s", strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return false;
		}
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		set_nodelay(fd);
		int secs = DEFER_ACCEPT_SECS;
		if (defer_accept && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) < 0)
			log_warn("tcp_defer_accept: %s", strerror(errno));
		char what[NI_MAXHOST + 16];
		char hbuf[NI_MAXHOST] = "?";
		getnameinfo(ai->ai_addr, ai->ai_addrlen, hbuf, sizeof hbuf, NULL, 0, NI_NUMERICHOST);
		snprintf(what, sizeof what, "%s:%d", hbuf, port);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", what, strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return false;
		}
		if (!add_listener(fd, what, false, err, errlen)) {
			freeaddrinfo(res);
			return false;
		}
		bound++;
	}
	freeaddrinfo(res);
	if (!bound) {
		snprintf(err, errlen, "listen_addr %s: no usable address", host);
		return false;
	}
	return true;
}

static bool listen_unix(const char *dir, int port, bool take_over, char *err, size_t errlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int n = snprintf(un.sun_path, sizeof un.sun_path, "%s/.s.PGSQL.%d", dir, port);
	if (n < 0 || (size_t)n >= sizeof un.sun_path) {
		snprintf(err, errlen, "unix_socket_dir %s: path too long", dir);
		return false;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "unix socket: %s", strerror(errno));
		return false;
	}
	/* A stale socket file from a crashed run: remove it if nobody answers.
	 * With so_reuseport, a live one belongs to the sluice we replace. */
	if (!take_over && (connect(fd, (struct sockaddr *)&un, sizeof un) == 0 || errno == EAGAIN)) {
		snprintf(err, errlen, "unix socket %s is in use by another process", un.sun_path);
		close(fd);
		return false;
	}
	close(fd);
	unlink(un.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", un.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	chmod(un.sun_path, 0777);
	memcpy(unix_path, un.sun_path, sizeof unix_path);
	if (stat(unix_path, &unix_stat) != 0)
		memset(&unix_stat, 0, sizeof unix_stat);
	return add_listener(fd, un.sun_path, false, err, errlen);
}

/* Sockets from systemd (etc/sluice.socket) replace listen_addr,
 * listen_port and unix_socket_dir, as in PgBouncer: the unit says where to
 * listen. They are not ours to unlink; a reload leaves them alone, as it
 * does every listener; closing ours at shutdown leaves systemd's copy,
 * which keeps accepting for the next start. */
static bool listen_passed(const struct config *cfg, const int *fds, int n, char *err, size_t errlen)
{
	log_info("socket activation: %d listening socket%s from systemd; listen_addr, listen_port "
		 "and unix_socket_dir are not used for listening", n, n == 1 ? "" : "s");
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		char what[sizeof(struct sockaddr_un) + NI_MAXHOST + 64] = "";
		char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) < 0)
			memset(&ss, 0, sizeof ss);
		if (ss.ss_family == AF_UNIX) {
			const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
			snprintf(what, sizeof what, "%.*s (fd %d)", (int)sizeof un->sun_path,
				 un->sun_path[0] ? un->sun_path : "(abstract unix socket)", fds[i]);
		} else {
			getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
				    NI_NUMERICHOST | NI_NUMERICSERV);
			snprintf(what, sizeof what, "%s:%s (fd %d)", host, port, fds[i]);
			set_nodelay(fds[i]);
			int secs = DEFER_ACCEPT_SECS;
			if (cfg->tcp_defer_accept &&
			    setsockopt(fds[i], IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) < 0)
				log_warn("tcp_defer_accept: %s", strerror(errno));
		}
		if (!add_listener(fds[i], what, ss.ss_family != AF_UNIX, err, errlen))
			return false;
	}
	return true;
}

bool listener_start(const struct config *cfg, char *err, size_t errlen)
{
	int passed[MAX_LISTENERS];
	int n = sdlisten_take(passed, MAX_LISTENERS, err, errlen);
	if (n < 0)
		return false;
	if (n > 0)
		return listen_passed(cfg, passed, n, err, errlen);
	if (cfg->listen_addr && *cfg->listen_addr) {
		char *list = strdup(cfg->listen_addr), *save = NULL;
		if (!list)
			return false;
		for (char *tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
			/* not with so_reuseport: when this process hands the port
			 * over and closes its listener, the kernel resets the
			 * connections it was still holding back for it */
			bool defer = cfg->tcp_defer_accept && !cfg->so_reuseport;
			if (!listen_tcp(tok, cfg->listen_port, cfg->so_reuseport, defer,
					err, errlen)) {
				free(list);
				return false;
			}
		}
		free(list);
	}
	if (cfg->unix_socket_dir && *cfg->unix_socket_dir &&
	    !listen_unix(cfg->unix_socket_dir, cfg->listen_port, cfg->so_reuseport, err, errlen))
		return false;
	if (nlisteners == 0) {
		snprintf(err, errlen, "nothing to listen on: set listen_addr or unix_socket_dir");
		return false;
	}
	return true;
}

/* Connections the kernel already completed wait in the backlog: take
 * them before closing, or closing the socket would reset them. */
static void accept_backlog(const struct listener *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (l->nodelay_each)
			set_nodelay(fd);
		client_accept(fd, (struct sockaddr *)&ss, len);
	}
}

void listener_stop(void)
{
	for (int i = 0; i < nlisteners; i++) {
		accept_backlog(&listeners[i]);
		loop_ev_free(listeners[i].ev);
		listeners[i].ev = NULL;
		close(listeners[i].fd);
	}
	nlisteners = 0;
	/* remove the socket file only if it is still ours (a process that
	 * took the port over with so_reuseport has made its own) */
	struct stat st;
	if (unix_path[0] && stat(unix_path, &st) == 0 && st.st_ino == unix_stat.st_ino &&
	    st.st_dev == unix_stat.st_dev)
		unlink(unix_path);
	unix_path[0] = 0;
}
