/*
 * loop.c — the event loop (loop.h): one epoll set, one timer heap, one
 * queue of active events, and a pipe that turns signals into reads.
 *
 * Sockets: a table indexed by descriptor holds the events waiting on
 * each and the interest epoll has for it, so adding or deleting an event
 * touches epoll only when the socket's interest changes. Timers: a
 * min-heap of deadlines on the pass's clock (heap.h). Signals: the
 * handler writes the signal's number to a pipe the loop reads like any
 * socket, so a signal's callback runs in a pass like everything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "list.h"
#include "loop.h"

#define LOOP_WAIT_MAX 256     /* ready sockets taken per epoll_wait */

enum {
	EV_IN_FD = 1,       /* on its socket's (or signal's) chain */
	EV_ACTIVE = 2,      /* in the active queue */
	EV_ONCE = 4,        /* loop_once's: freed after its callback */
};

struct loop_ev {
	int fd;                    /* socket, signal number, or -1 */
	short what;                /* LOOP_* waited for */
	short res;                 /* LOOP_* that happened, while active */
	uint8_t flags;             /* EV_* */
	loop_fn fn;
	void *arg;
	struct loop_ev *next;      /* on the same socket's or signal's chain */
	struct list act_node;      /* in the active queue */
	struct heap_node timer;    /* its deadline, when it has one */
	double period;             /* a persistent event's timeout */
};

struct fd_slot {
	struct loop_ev *evs;
	uint32_t interest;         /* EPOLLIN/EPOLLOUT epoll has */
};

static struct {
	int epfd;
	struct fd_slot *fds;
	int nfds;
	struct heap timers;
	struct list active;
	void (*pass_end)(void);
	bool broke;
	/* signals */
	int sig_pipe[2];
	struct loop_ev *sig_reader;
	struct loop_ev *sigs[NSIG];
	struct sigaction sig_old[NSIG];
	bool sig_set[NSIG];
} L = { .epfd = -1, .sig_pipe = { -1, -1 } };

double loop_clock;

double loop_clock_read(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void loop_at_pass_end(void (*fn)(void))
{
	L.pass_end = fn;
}

/* ---- sockets ---- */

static uint32_t interest_of(const struct loop_ev *evs)
{
	uint32_t in = 0;
	for (; evs; evs = evs->next)
		in |= (evs->what & LOOP_READ ? EPOLLIN : 0) | (evs->what & LOOP_WRITE ? EPOLLOUT : 0);
	return in;
}

/* Tell epoll what the socket's events want now. */
static bool fd_update(int fd)
{
	struct fd_slot *s = &L.fds[fd];
	uint32_t want = interest_of(s->evs);
	if (want == s->interest)
		return true;
	struct epoll_event e = { .events = want, .data.u64 = (uint64_t)fd };
	int r;
	if (want == 0) {
		r = epoll_ctl(L.epfd, EPOLL_CTL_DEL, fd, &e);
		if (r < 0 && (errno == ENOENT || errno == EBADF))
			r = 0;   /* closed already: the kernel forgot it */
	} else if (s->interest == 0) {
		r = epoll_ctl(L.epfd, EPOLL_CTL_ADD, fd, &e);
		if (r < 0 && errno == EEXIST)   /* left by a descriptor closed and reused */
			r = epoll_ctl(L.epfd, EPOLL_CTL_MOD, fd, &e);
	} else {
		r = epoll_ctl(L.epfd, EPOLL_CTL_MOD, fd, &e);
		if (r < 0 && errno == ENOENT)
			r = epoll_ctl(L.epfd, EPOLL_CTL_ADD, fd, &e);
	}
	if (r < 0)
		return false;
	s->interest = want;
	return true;
}

static bool fd_room(int fd)
{
	if (fd < L.nfds)
		return true;
	int n = L.nfds ? L.nfds : 64;
	while (n <= fd)
		n *= 2;
	struct fd_slot *v = realloc(L.fds, (size_t)n * sizeof *v);
	if (!v)
		return false;
	memset(v + L.nfds, 0, (size_t)(n - L.nfds) * sizeof *v);
	L.fds = v;
	L.nfds = n;
	return true;
}

static void chain_remove(struct loop_ev **head, struct loop_ev *ev)
{
	for (struct loop_ev **p = head; *p; p = &(*p)->next) {
		if (*p == ev) {
			*p = ev->next;
			break;
		}
	}
	ev->next = NULL;
}

/* ---- signals ---- */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(L.sig_pipe[1], &b, 1);   /* a full pipe has enough to wake us */
	(void)n;
	errno = saved;
}

static void sig_read(int fd, short what, void *arg)
{
	unsigned char b[64];
	ssize_t n;
	while ((n = read(fd, b, sizeof b)) > 0)
		for (ssize_t i = 0; i < n; i++)
			for (struct loop_ev *ev = b[i] < NSIG ? L.sigs[b[i]] : NULL; ev; ev = ev->next)
				loop_ev_active(ev, LOOP_SIGNAL);
}

static void sig_pipe_close(void)
{
	loop_ev_free(L.sig_reader);
	L.sig_reader = NULL;
	for (int i = 0; i < 2; i++) {
		if (L.sig_pipe[i] >= 0)
			close(L.sig_pipe[i]);
		L.sig_pipe[i] = -1;
	}
}

static bool sig_start(int sig)
{
	if (sig <= 0 || sig >= NSIG) {
		errno = EINVAL;
		return false;
	}
	if (L.sig_pipe[0] < 0) {
		if (pipe2(L.sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
			return false;
		L.sig_reader = loop_ev_new(L.sig_pipe[0], LOOP_READ | LOOP_PERSIST, sig_read, NULL);
		if (!L.sig_reader || loop_ev_add(L.sig_reader, NULL) < 0) {
			int err = L.sig_reader ? errno : ENOMEM;
			sig_pipe_close();   /* the next signal event tries again */
			errno = err;
			return false;
		}
	}
	if (L.sig_set[sig])
		return true;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, &L.sig_old[sig]) < 0)
		return false;
	L.sig_set[sig] = true;
	return true;
}

static void sig_stop(int sig)
{
	if (L.sigs[sig] || !L.sig_set[sig])
		return;
	(void)sigaction(sig, &L.sig_old[sig], NULL);
	L.sig_set[sig] = false;
}

/* ---- events ---- */

/* Out of the active queue, what it was active for forgotten. */
static void unqueue(struct loop_ev *ev)
{
	if (ev->flags & EV_ACTIVE) {
		list_del_init(&ev->act_node);
		ev->flags &= (uint8_t)~EV_ACTIVE;
		ev->res = 0;
	}
}


void loop_ev_assign(struct loop_ev *ev, int fd, short what, loop_fn fn, void *arg)
{
	memset(ev, 0, sizeof *ev);
	ev->fd = fd;
	ev->what = what;
	ev->fn = fn;
	ev->arg = arg;
	list_init(&ev->act_node);
}

struct loop_ev *loop_ev_new(int fd, short what, loop_fn fn, void *arg)
{
	struct loop_ev *ev = malloc(sizeof *ev);
	if (ev)
		loop_ev_assign(ev, fd, what, fn, arg);
	return ev;
}

/* -1 with errno set: EBADF, ENOMEM, or what epoll_ctl, pipe2 or
 * sigaction said. */
int loop_ev_add(struct loop_ev *ev, const struct timeval *tv)
{
	if (!(ev->flags & EV_IN_FD)) {
		if (ev->what & LOOP_SIGNAL) {
			if (!sig_start(ev->fd))
				return -1;
			ev->next = L.sigs[ev->fd];
			L.sigs[ev->fd] = ev;
			ev->flags |= EV_IN_FD;
		} else if (ev->what & (LOOP_READ | LOOP_WRITE)) {
			if (ev->fd < 0) {
				errno = EBADF;
				return -1;
			}
			if (!fd_room(ev->fd)) {
				errno = ENOMEM;
				return -1;
			}
			ev->next = L.fds[ev->fd].evs;
			L.fds[ev->fd].evs = ev;
			if (!fd_update(ev->fd)) {
				int err = errno;
				chain_remove(&L.fds[ev->fd].evs, ev);
				errno = err;
				return -1;
			}
			ev->flags |= EV_IN_FD;
		}
	}
	if (tv) {
		/* a new deadline for one already due and waiting in the queue:
		 * it waits for the new one instead (a timeout it had no longer
		 * counts) */
		if ((ev->flags & EV_ACTIVE) && (ev->res & LOOP_TIMEOUT)) {
			ev->res &= (short)~LOOP_TIMEOUT;
			if (!ev->res)
				unqueue(ev);
		}
		double d = (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
		ev->period = d;
		if (!heap_set(&L.timers, &ev->timer, loop_now() + d)) {
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

/* Out of the socket's or signal's chain and the heap; the active
 * queue is left alone. */
static void unwait(struct loop_ev *ev)
{
	if (ev->flags & EV_IN_FD) {
		ev->flags &= (uint8_t)~EV_IN_FD;
		if (ev->what & LOOP_SIGNAL) {
			chain_remove(&L.sigs[ev->fd], ev);
			sig_stop(ev->fd);
		} else {
			chain_remove(&L.fds[ev->fd].evs, ev);
			(void)fd_update(ev->fd);   /* a DEL that fails leaves a closed socket */
		}
	}
	heap_remove(&L.timers, &ev->timer);
}

void loop_ev_del(struct loop_ev *ev)
{
	unwait(ev);
	unqueue(ev);
	ev->period = 0;
}

void loop_ev_free(struct loop_ev *ev)
{
	if (!ev)
		return;
	loop_ev_del(ev);
	free(ev);
}

void loop_ev_active(struct loop_ev *ev, short res)
{
	ev->res |= res;
	if (ev->flags & EV_ACTIVE)
		return;
	ev->flags |= EV_ACTIVE;
	list_append(&L.active, &ev->act_node);
}

short loop_ev_pending(const struct loop_ev *ev, short what)
{
	short has = 0;
	if (ev->flags & EV_IN_FD)
		has |= ev->what & (LOOP_READ | LOOP_WRITE | LOOP_SIGNAL);
	if (heap_has(&ev->timer))
		has |= LOOP_TIMEOUT;
	if (ev->flags & EV_ACTIVE)
		has |= ev->res;
	return has & what;
}

bool loop_once(const struct timeval *tv, loop_fn fn, void *arg)
{
	struct loop_ev *ev = loop_timer_new(fn, arg);
	if (!ev)
		return false;
	ev->flags |= EV_ONCE;
	struct timeval zero = { 0, 0 };
	if (loop_ev_add(ev, tv ? tv : &zero) < 0) {
		free(ev);
		return false;
	}
	return true;
}

/* ---- the pass ---- */

static int wait_ms(void)
{
	if (!list_empty(&L.active))
		return 0;
	struct heap_node *first = heap_top(&L.timers);
	if (!first)
		return -1;
	double d = first->at - loop_clock_read();
	if (d <= 0)
		return 0;
	double ms = ceil(d * 1000);
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int loop_pass(bool block)
{
	static struct epoll_event ready[LOOP_WAIT_MAX];
	L.broke = false;
	loop_clock = 0;
	int n = epoll_wait(L.epfd, ready, LOOP_WAIT_MAX, block ? wait_ms() : 0);
	if (n < 0) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	double now = loop_clock_read();
	loop_clock = now;
	for (int i = 0; i < n; i++) {
		int fd = (int)ready[i].data.u64;
		uint32_t e = ready[i].events;
		short got = (short)((e & (EPOLLIN | EPOLLHUP | EPOLLERR) ? LOOP_READ : 0) |
				    (e & (EPOLLOUT | EPOLLHUP | EPOLLERR) ? LOOP_WRITE : 0));
		if (fd >= L.nfds)
			continue;
		for (struct loop_ev *ev = L.fds[fd].evs; ev; ev = ev->next)
			if (ev->what & got)
				loop_ev_active(ev, (short)(ev->what & got));
	}
	for (struct heap_node *t; (t = heap_top(&L.timers)) && t->at <= now;) {
		heap_remove(&L.timers, t);
		loop_ev_active(container_of(t, struct loop_ev, timer), LOOP_TIMEOUT);
	}
	/* a callback may make others active, delete or free them: the queue
	 * is read afresh for each */
	while (!list_empty(&L.active) && !L.broke) {
		struct loop_ev *ev = list_entry(list_first(&L.active), struct loop_ev, act_node);
		short res = ev->res;
		unqueue(ev);
		if (!(ev->what & LOOP_PERSIST))
			unwait(ev);
		else if (ev->period > 0 && !heap_set(&L.timers, &ev->timer, now + ev->period))
			ev->period = 0;   /* no memory: it stays on its socket, without a timeout */
		bool once = ev->flags & EV_ONCE;
		ev->fn(ev->fd, res, ev->arg);
		if (once)
			free(ev);
	}
	if (L.pass_end)
		L.pass_end();
	loop_clock = 0;
	return 0;
}

void loop_break(void)
{
	L.broke = true;
}

bool loop_broken(void)
{
	return L.broke;
}

bool loop_init(void)
{
	list_init(&L.active);
	L.epfd = epoll_create1(EPOLL_CLOEXEC);
	return L.epfd >= 0;
}

void loop_free(void)
{
	sig_pipe_close();
	if (L.epfd >= 0)
		close(L.epfd);
	L.epfd = -1;
	free(L.fds);
	L.fds = NULL;
	L.nfds = 0;
	heap_free(&L.timers);
}
