/*
 * idle_conns — many logged-in PostgreSQL clients, for the benchmarks in
 * test/bench/ (memory per idle client, thousands of concurrent clients).
 *
 * Opens N TCP connections to a pooler (or PostgreSQL), spreading them over
 * source addresses 127.0.0.2 .. 127.0.0.(1+S) so that ephemeral ports never
 * run out, and completes a protocol-3 login on each (trust, cleartext or
 * md5 password). At most -C logins are in flight at once, so a listen
 * backlog never overflows into SYN retransmits.
 *
 * When every login has finished it prints one line to stdout:
 *
 *     ready clients=N errors=E login_seconds=S
 *
 * Then, without -r, it holds the connections idle until SIGTERM/SIGINT (or
 * -t seconds, a bound so it can never be left behind). With -r SECONDS each
 * connection runs simple-protocol "SELECT 1" transactions back to back for
 * that long, all at once over epoll, and it prints
 *
 *     done clients=N transactions=T errors=E seconds=S tps=X
 *
 * Errors are failed connects and logins, ErrorResponses, lost connections
 * and queries still unanswered 30 s after the end. Exit status: 0 with no
 * error, 1 with errors, 2 on bad usage. The first few errors go to stderr.
 *
 *   cc -O2 -o idle_conns idle_conns.c -lcrypto
 *   idle_conns -p 6432 -U bench -P pw -d bench -n 10000 [-s 8] [-C 256]
 *              [-r 30] [-t 600] [-h 127.0.0.1]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum cstate { C_NEW, C_CONNECTING, C_LOGIN, C_IDLE, C_BUSY, C_DONE };

struct conn {
	int fd;
	enum cstate state;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t out[256];
	size_t out_len, out_off;
};

static struct {
	const char *host, *user, *password, *db;
	int port, nconn, nsrc, inflight_max, run_secs, hold_secs;
} opt = { "127.0.0.1", NULL, NULL, NULL, 0, 0, 8, 256, 0, 600 };

static struct conn *conns;
static int epfd;
static int logins_pending;          /* connecting or logging in */
static int next_conn;               /* next index to start */
static long n_ok, n_errors, n_tx, n_busy;
static bool running;                /* in the query phase, before its deadline */
static volatile sig_atomic_t stop_signal;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void conn_error(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (n_errors < 10) {
		fprintf(stderr, "idle_conns: connection %ld: ", (long)(c - conns));
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	n_errors++;
	if (c->state == C_CONNECTING || c->state == C_LOGIN)
		logins_pending--;
	if (c->state == C_BUSY)
		n_busy--;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_DONE;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			conn_error(c, "send: %s", strerror(errno));
			return false;
		}
		c->out_off += n;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (c->out_off < c->out_len)
		ev.events |= EPOLLOUT;
	else
		c->out_len = c->out_off = 0;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return true;
}

/* Append one message (type 0: the untyped startup packet) and send. */
static bool send_msg(struct conn *c, char type, const void *body, size_t len)
{
	size_t need = (type ? 1 : 0) + 4 + len;

	if (c->out_len + need > sizeof(c->out)) {
		conn_error(c, "output buffer full");
		return false;
	}
	if (type)
		c->out[c->out_len++] = type;
	put_u32(c->out + c->out_len, 4 + len);
	memcpy(c->out + c->out_len + 4, body, len);
	c->out_len += 4 + len;
	return flush_out(c);
}

static void hex_md5(const void *data, size_t len, char out[33])
{
	unsigned char d[16];
	unsigned int dl = 0;

	EVP_Digest(data, len, d, &dl, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static bool send_password(struct conn *c, const uint8_t *salt)
{
	char buf[512], inner[33], outer[36];

	if (!opt.password) {
		conn_error(c, "the server asks for a password and none was given (-P)");
		return false;
	}
	if (!salt)
		return send_msg(c, 'p', opt.password, strlen(opt.password) + 1);
	int n = snprintf(buf, sizeof(buf), "%s%s", opt.password, opt.user);
	if (n < 0 || (size_t)n + 4 > sizeof(buf)) {
		conn_error(c, "password too long");
		return false;
	}
	hex_md5(buf, n, inner);
	memcpy(buf, inner, 32);
	memcpy(buf + 32, salt, 4);
	memcpy(outer, "md5", 3);
	hex_md5(buf, 36, outer + 3);
	return send_msg(c, 'p', outer, 36);
}

static bool send_query(struct conn *c)
{
	static const char q[] = "SELECT 1";

	c->state = C_BUSY;
	n_busy++;
	return send_msg(c, 'Q', q, sizeof(q));
}

static void start_next(void);

static void login_done(struct conn *c)
{
	logins_pending--;
	n_ok++;
	c->state = C_IDLE;
	start_next();
}

/* One complete backend message. False when the connection was closed. */
static bool on_message(struct conn *c, char type, const uint8_t *body, uint32_t len)
{
	switch (type) {
	case 'R': {
		if (len < 4) {
			conn_error(c, "short authentication message");
			return false;
		}
		uint32_t code = get_u32(body);
		if (code == 0)
			return true;
		if (code == 3)
			return send_password(c, NULL);
		if (code == 5 && len >= 8)
			return send_password(c, body + 4);
		conn_error(c, "authentication method %u is not supported (use md5, plain or trust)", code);
		return false;
	}
	case 'E': {
		const char *msg = "?";
		for (uint32_t i = 0; i < len && body[i]; ) {
			const char *f = (const char *)body + i;
			if (f[0] == 'M')
				msg = f + 1;
			i += strnlen(f, len - i) + 1;
		}
		if (c->state == C_BUSY) {
			/* the ReadyForQuery that follows ends the transaction */
			if (n_errors < 10)
				fprintf(stderr, "idle_conns: connection %ld: error: %s\n", (long)(c - conns), msg);
			n_errors++;
			return true;
		}
		conn_error(c, "error: %s", msg);
		return false;
	}
	case 'Z':
		if (c->state == C_LOGIN) {
			login_done(c);
			return true;
		}
		if (c->state == C_BUSY) {
			n_busy--;
			n_tx++;
			c->state = C_IDLE;
			if (running)
				return send_query(c);
		}
		return true;
	default:
		/* S, K, N, T, D, C, ... */
		return true;
	}
}

static void on_readable(struct conn *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < 4096) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
			uint8_t *p = realloc(c->in, cap);
			if (!p) {
				conn_error(c, "out of memory");
				return;
			}
			c->in = p;
			c->in_cap = cap;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_error(c, n == 0 ? "server closed the connection" : "recv: %s",
				   strerror(errno));
			return;
		}
		c->in_len += n;
		if ((size_t)n < c->in_cap - c->in_len + n)
			break;
	}
	size_t off = 0;
	while (c->in_len - off >= 5) {
		uint32_t len = get_u32(c->in + off + 1);
		if (len < 4 || len > (1u << 24)) {
			conn_error(c, "bad message length %u", len);
			return;
		}
		if (c->in_len - off < 1 + (size_t)len)
			break;
		if (!on_message(c, c->in[off], c->in + off + 5, len - 4))
			return;
		off += 1 + len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	/* idle connections keep no input buffer */
	if (c->in_len == 0 && (c->state == C_IDLE || c->state == C_BUSY) && c->in_cap > 8192) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

static void send_startup(struct conn *c)
{
	uint8_t body[200];
	size_t n = 0;
	const char *kv[] = { "user", opt.user, "database", opt.db,
			     "application_name", "idle_conns" };

	put_u32(body, 196608);
	n = 4;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		size_t l = strlen(kv[i]) + 1;
		if (n + l + 1 > sizeof(body)) {
			conn_error(c, "startup packet too long");
			return;
		}
		memcpy(body + n, kv[i], l);
		n += l;
	}
	body[n++] = 0;
	c->state = C_LOGIN;
	send_msg(c, 0, body, n);
}

static void on_event(struct conn *c, uint32_t events)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			conn_error(c, "connect: %s", strerror(err));
			return;
		}
		send_startup(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (!flush_out(c))
			return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(c);
}

static void start_conn(struct conn *c, int idx)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->state = C_CONNECTING;
	logins_pending++;
	if (c->fd < 0) {
		conn_error(c, "socket: %s", strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.nsrc > 0) {
		/* 127.0.0.2, .3, ...: the port is chosen at connect, per address */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(idx % opt.nsrc));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			conn_error(c, "bind 127.0.0.%d: %s", 2 + idx % opt.nsrc, strerror(errno));
			return;
		}
	}
	dst.sin_port = htons(opt.port);
	if (inet_pton(AF_INET, opt.host, &dst.sin_addr) != 1) {
		conn_error(c, "bad host %s (an IPv4 address)", opt.host);
		return;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		conn_error(c, "epoll_ctl: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		conn_error(c, "connect: %s", strerror(errno));
		return;
	}
}

static void start_next(void)
{
	while (logins_pending < opt.inflight_max && next_conn < opt.nconn) {
		start_conn(&conns[next_conn], next_conn);
		next_conn++;
	}
}

/* Run the event loop until done() is true, the deadline passes or a signal. */
static void loop(bool (*done)(void), double deadline)
{
	struct epoll_event evs[512];

	while (!done() && !stop_signal) {
		double left = deadline - now();
		if (left <= 0)
			break;
		int timeout = left > 0.2 ? 200 : (int)(left * 1000) + 1;
		int n = epoll_wait(epfd, evs, 512, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("idle_conns: epoll_wait");
			exit(2);
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->state != C_DONE)
				on_event(c, evs[i].events);
		}
	}
}

static bool logins_finished(void) { return next_conn >= opt.nconn && logins_pending == 0; }
static bool never(void) { return false; }
static bool none_busy(void) { return n_busy == 0; }

static void on_signal(int sig) { stop_signal = sig; }

static void usage(void)
{
	fprintf(stderr, "usage: idle_conns -p PORT -U USER -d DB -n N [-P PASSWORD] [-h IPV4]\n"
			"                  [-s SOURCES] [-C INFLIGHT] [-r SECONDS] [-t HOLD_SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "h:p:U:P:d:n:s:C:r:t:")) != -1) {
		switch (ch) {
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'U': opt.user = optarg; break;
		case 'P': opt.password = optarg; break;
		case 'd': opt.db = optarg; break;
		case 'n': opt.nconn = atoi(optarg); break;
		case 's': opt.nsrc = atoi(optarg); break;
		case 'C': opt.inflight_max = atoi(optarg); break;
		case 'r': opt.run_secs = atoi(optarg); break;
		case 't': opt.hold_secs = atoi(optarg); break;
		default: usage();
		}
	}
	if (opt.port <= 0 || !opt.user || !opt.db || opt.nconn <= 0 || opt.inflight_max <= 0 ||
	    opt.nsrc < 0 || opt.nsrc > 250 || opt.hold_secs <= 0)
		usage();
	if (!opt.password)
		opt.password = getenv("PGPASSWORD");

	prctl(PR_SET_PDEATHSIG, SIGTERM);     /* never outlive the bench */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	conns = calloc(opt.nconn, sizeof(*conns));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || epfd < 0) {
		perror("idle_conns");
		return 2;
	}
	for (int i = 0; i < opt.nconn; i++)
		conns[i].fd = -1;

	double t0 = now();
	start_next();
	loop(logins_finished, t0 + opt.hold_secs);
	if (!logins_finished())
		for (int i = 0; i < opt.nconn; i++)
			if (conns[i].state == C_NEW || conns[i].state == C_CONNECTING ||
			    conns[i].state == C_LOGIN) {
				if (conns[i].state == C_NEW)
					n_errors++;
				else
					conn_error(&conns[i], "login did not finish");
			}
	printf("ready clients=%ld errors=%ld login_seconds=%.3f\n", n_ok, n_errors, now() - t0);
	fflush(stdout);

	if (opt.run_secs > 0 && !stop_signal) {
		double t1 = now();
		running = true;
		for (int i = 0; i < opt.nconn; i++)
			if (conns[i].state == C_IDLE)
				send_query(&conns[i]);
		loop(never, t1 + opt.run_secs);
		running = false;
		double secs = now() - t1;
		loop(none_busy, now() + 30);
		for (int i = 0; i < opt.nconn; i++)
			if (conns[i].state == C_BUSY)
				conn_error(&conns[i], "query unanswered 30 s after the end");
		printf("done clients=%ld transactions=%ld errors=%ld seconds=%.3f tps=%.1f\n",
		       n_ok, n_tx, n_errors, secs, n_tx / secs);
		fflush(stdout);
	} else {
		loop(never, t0 + opt.hold_secs);
	}

	/* Terminate, then close */
	for (int i = 0; i < opt.nconn; i++) {
		struct conn *c = &conns[i];
		if (c->fd >= 0) {
			static const uint8_t term[5] = { 'X', 0, 0, 0, 4 };
			(void)!send(c->fd, term, sizeof(term), MSG_NOSIGNAL | MSG_DONTWAIT);
			close(c->fd);
		}
		free(c->in);
	}
	free(conns);
	return n_errors ? 1 : 0;
}
