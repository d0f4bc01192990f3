/*
 * conn.c — sockets, buffers and events shared by clients and servers.
 *
 * Writes go to the socket at once; a write event is armed only when the
 * kernel did not take everything, and it is made then, on first need: most
 * clients never fill their socket buffer, and an idle connection should
 * cost as little as it can. Reads fill the input buffer directly with
 * readv() into reserved space, up to CONN_READ_SIZE per call.
 *
 * Timers (conn_timer) are deadlines in one min-heap with one libevent
 * timer for the earliest, not a struct event per connection: a connection
 * with a timer costs a heap slot, one without costs nothing.
 *
 * Events reach the owner only from the event loop, never from inside a
 * call the owner made (conn_send): a write error or a drained buffer found
 * there is handed to the loop with event_active(), so no owner sees its
 * object change state in the middle of its own code.
 *
 * Batches (conn_loop): a pass of the loop usually finds many sockets
 * ready, and on a VM a system call costs more than the work it does here.
 * So while conn_loop runs, a plain socket found readable is only noted;
 * when libevent has run the pass's callbacks, every noted socket is read
 * in one batch (iobatch.c: one io_uring_enter), the owners get their
 * reads, and then everything they wrote with conn_send_soon goes out in
 * one more batch. TLS sockets, large reads and large writes take the
 * direct way, where a batch saves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conn.h"
#include "iobatch.h"
#include "log.h"
#include "runtime.h"

#define CONN_READ_SIZE (32 * 1024)
#define CONN_READ_SMALL 900            /* copied into a chain of malloc's 1 KiB class */
#define TLS_READ_BUDGET (256 * 1024)   /* per callback, then yield */
#define TLS_WRITE_CHUNK (16 * 1024)
#define BATCH_READ_SIZE 4096           /* per socket in a read batch */

/* The connections a loop pass noted for its batches, in order; each
 * knows its place (batch_slot) and what it was noted for (noted), so
 * conn_close takes it out at once. */
static struct {
	struct conn **v;
	uint32_t n, cap;
} batch;
static bool batching;   /* conn_loop runs: reads and soon-writes are batched */
static bool in_batch;   /* batch_reads/batch_writes run: no more reads may be noted */

static char tls_err[256];

static void write_now(struct conn *c, bool from_loop);
static void write_settled(struct conn *c, bool from_loop);
static void plain_read(struct conn *c, evutil_socket_t fd);
static bool note(struct conn *c, uint8_t what);
static void unnote(struct conn *c, uint8_t what);
static void write_cb(evutil_socket_t fd, short what, void *arg);
static void tls_read(struct conn *c);
static void tls_step(struct conn *c);
#define CONN_FLUSH_TIMEOUT 5.0   /* longest wait to flush before closing */

static void dispatch(struct conn *c, enum conn_event ev)
{
	if (!c->closing)
		c->ops->event(c, ev);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->write_failed) {
		c->write_failed = false;
		dispatch(c, CONN_EV_ERROR);
		return;
	}
	if (c->tls_handshaking) {
		tls_step(c);
		return;
	}
	if (c->tls_write_wants_read) {
		c->tls_write_wants_read = false;
		write_now(c, true);
		if (c->closing)
			return;
	}
	if (!c->reading)
		return;   /* woken only to deliver a write failure */
	if (c->ssl) {
		tls_read(c);
		return;
	}
	if (c->in_unseen) {   /* from conn_read_start: bytes a batch read */
		c->in_unseen = false;
		dispatch(c, CONN_EV_READ);
		return;
	}
	if (batching && !c->read_big && note(c, CONN_NOTE_READ))
		return;   /* read with the pass's batch */
	plain_read(c, fd);
}

/* What a read of `res` bytes into `buf` (or -errno) means for c. Bytes
 * read while reading was off (a batch read them, then an owner stopped
 * reading) are kept and reported when reading is on again; an end of
 * file or error found then is left for that next read to find again. */
static void read_done(struct conn *c, const uint8_t *buf, ssize_t res)
{
	if (c->closing || res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR)
		return;
	if (res <= 0) {
		if (!c->reading)
			return;
		if (res < 0) {
			c->err = (int)-res;
			dispatch(c, CONN_EV_ERROR);
		} else {
			dispatch(c, CONN_EV_EOF);
		}
		return;
	}
	if (evbuffer_add(c->in, buf, (size_t)res) != 0) {
		c->err = ENOMEM;
		dispatch(c, CONN_EV_ERROR);
		return;
	}
	c->read_big = (size_t)res > CONN_READ_SMALL;
	if (!c->reading) {
		c->in_unseen = true;
		return;
	}
	dispatch(c, CONN_EV_READ);
}

/* Most reads bring one small message: recv() into `spill` (recv is a
 * cheaper way into the kernel than readv here), then a copy of the few
 * bytes into c->in, in a chain malloc serves from its fast cache. A read
 * that fills more than CONN_READ_SMALL switches to reading straight into
 * reserved space in c->in (no copy) until a read is small again. */
static void plain_read(struct conn *c, evutil_socket_t fd)
{
	static uint8_t spill[CONN_READ_SIZE];
	if (!c->read_big) {
		ssize_t n = recv(fd, spill, sizeof spill, 0);
		read_done(c, spill, n < 0 ? -errno : n);
		return;
	}
	struct evbuffer_iovec v[2];
	int nv = evbuffer_reserve_space(c->in, CONN_READ_SIZE, v, 2);
	if (nv <= 0) {
		c->err = ENOMEM;
		dispatch(c, CONN_EV_ERROR);
		return;
	}
	struct iovec iov[2];
	for (int i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	ssize_t n = readv(fd, iov, nv);
	if (n <= 0) {
		ssize_t res = n < 0 ? -errno : 0;
		evbuffer_commit_space(c->in, v, 0);
		read_done(c, NULL, res);   /* nothing read: EAGAIN, end of file or error */
		return;
	}
	size_t left = (size_t)n;
	for (int i = 0; i < nv; i++) {
		size_t take = left < v[i].iov_len ? left : v[i].iov_len;
		v[i].iov_len = take;
		left -= take;
	}
	evbuffer_commit_space(c->in, v, nv);
	c->read_big = (size_t)n > CONN_READ_SMALL;
	dispatch(c, CONN_EV_READ);
}

static void finish_connect(struct conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	c->connecting = false;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		c->err = soerr;
		dispatch(c, CONN_EV_ERROR);
		return;
	}
	dispatch(c, CONN_EV_CONNECTED);
}

/* Wait for writability: the write event is made here the first time it
 * is needed, then kept. False only when it cannot be made (no memory). */
static bool write_wait(struct conn *c)
{
	if (c->wev_on)
		return true;
	if (!c->wev) {
		c->wev = event_new(rt.base, c->fd, EV_WRITE | EV_PERSIST, write_cb, c);
		if (!c->wev) {
			c->err = ENOMEM;
			return false;
		}
	}
	event_add(c->wev, NULL);
	c->wev_on = true;
	return true;
}

/* No event call when write interest is off already (most writes). */
static void write_unwait(struct conn *c)
{
	if (c->wev_on)
		event_del(c->wev);
	c->wev_on = false;
}

/* One step of writing: > 0 bytes written, 0 would block, < 0 failed. */
static int write_some(struct conn *c)
{
	if (!c->ssl) {
		/* one chain (the usual reply): send(), a cheaper way into the
		 * kernel than writev; several: writev them all at once */
		struct evbuffer_iovec v;
		ssize_t n;
		if (evbuffer_peek(c->out, -1, NULL, &v, 1) == 1 &&
		    v.iov_len == evbuffer_get_length(c->out)) {
			n = send(c->fd, v.iov_base, v.iov_len, MSG_NOSIGNAL);
			if (n > 0)
				evbuffer_drain(c->out, (size_t)n);
		} else {
			n = evbuffer_write(c->out, c->fd);
		}
		if (n > 0)
			return (int)n;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		c->err = n < 0 ? errno : EPIPE;
		return -1;
	}
	struct evbuffer_iovec v;
	if (evbuffer_peek(c->out, -1, NULL, &v, 1) < 1)
		return 0;
	/* a retried SSL_write must repeat its length exactly */
	int len = c->tls_retry_len ? c->tls_retry_len
				   : (int)(v.iov_len < TLS_WRITE_CHUNK ? v.iov_len : TLS_WRITE_CHUNK);
	ERR_clear_error();
	int n = SSL_write(c->ssl, v.iov_base, len);
	if (n > 0) {
		c->tls_retry_len = 0;
		evbuffer_drain(c->out, (size_t)n);
		return n;
	}
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_WRITE:
		c->tls_retry_len = len;
		return 0;
	case SSL_ERROR_WANT_READ:
		c->tls_retry_len = len;
		c->tls_write_wants_read = true;
		event_add(c->rev, NULL);
		return 0;
	default:
		c->err = EPIPE;
		ERR_error_string_n(ERR_get_error(), tls_err, sizeof tls_err);
		ERR_clear_error();
		return -1;
	}
}

/* Writing failed (c->err says why): report it, from the loop. */
static void write_failed(struct conn *c, bool from_loop)
{
	write_unwait(c);
	if (c->close_when_flushed) {
		conn_close(c);
		return;
	}
	if (c->out)
		evbuffer_drain(c->out, evbuffer_get_length(c->out));
	if (from_loop) {
		dispatch(c, CONN_EV_ERROR);
	} else {
		c->write_failed = true;
		event_active(c->rev, EV_READ, 0);
	}
}

/* Write what the kernel takes. `from_loop`: called by the write event, so
 * events may be dispatched directly; otherwise they are deferred. */
static void write_now(struct conn *c, bool from_loop)
{
	size_t left = conn_out_len(c);
	while (left > 0) {
		int n = write_some(c);
		if (n > 0) {
			left = conn_out_len(c);
			continue;
		}
		if (n == 0) {
			if (c->tls_write_wants_read)
				return;   /* the read event resumes the write */
			break;
		}
		write_failed(c, from_loop);
		return;
	}
	if (left > 0) {
		if (!write_wait(c))
			write_failed(c, from_loop);
		return;
	}
	write_settled(c, from_loop);
}

/* c->out is empty: close if that was awaited, tell an owner waiting for
 * the drain, or drop write interest. */
static void write_settled(struct conn *c, bool from_loop)
{
	if (c->close_when_flushed) {
		write_unwait(c);
		conn_close(c);
		return;
	}
	if (c->want_drained) {
		if (from_loop) {
			write_unwait(c);
			c->want_drained = false;
			dispatch(c, CONN_EV_DRAINED);
		} else if (!write_wait(c)) {   /* the loop tells the owner */
			write_failed(c, from_loop);
		}
		return;
	}
	write_unwait(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->tls_handshaking) {
		tls_step(c);
		return;
	}
	if (c->connecting) {
		write_unwait(c);
		finish_connect(c);
		return;
	}
	write_now(c, true);
	if (!c->closing && c->want_drained && conn_out_len(c) <= CONN_LOW_WATER) {
		c->want_drained = false;
		dispatch(c, CONN_EV_DRAINED);
	}
}

/* c's deadline passed (it is out of the timer heap already). */
static void timer_fired(struct conn *c)
{
	if (c->close_when_flushed) {
		conn_close(c);
		return;
	}
	dispatch(c, CONN_EV_TIMEOUT);
}

static bool setup(struct conn *c, int fd, const struct conn_ops *ops, bool lazy_out)
{
	memset(c, 0, sizeof *c);
	list_init(&c->dead_node);
	c->fd = fd;
	c->ops = ops;
	c->id = ++rt.next_conn_id;
#ifdef SLUICE_DEBUG
	if (!(fcntl(fd, F_GETFL) & O_NONBLOCK))
		BUG("conn: socket %d is blocking", fd);
#endif
	c->in = evbuffer_new();
	c->out = lazy_out ? NULL : evbuffer_new();
	c->rev = event_new(rt.base, fd, EV_READ | EV_PERSIST, read_cb, c);
	return c->in && (lazy_out || c->out) && c->rev;   /* c->wev: see write_wait() */
}

static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool conn_init(struct conn *c, int fd, const struct conn_ops *ops)
{
	if (!setup(c, fd, ops, true))
		return false;
	set_nodelay(fd);
	return true;
}

bool conn_connect(struct conn *c, const struct sockaddr *sa, socklen_t len,
		  const struct conn_ops *ops)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		memset(c, 0, sizeof *c);
		list_init(&c->dead_node);
		c->fd = -1;
		c->err = errno;
		return false;
	}
	if (!setup(c, fd, ops, false)) {
		c->err = ENOMEM;
		return false;
	}
	if (sa->sa_family != AF_UNIX)
		set_nodelay(fd);
	if (connect(fd, sa, len) == 0) {
		/* Completed at once (unix sockets often do): report it from the
		 * loop, never from inside the caller. */
		c->connecting = true;
		return write_wait(c);
	}
	if (errno != EINPROGRESS) {
		c->err = errno;
		return false;
	}
	c->connecting = true;
	return write_wait(c);
}

void conn_read_start(struct conn *c)
{
	if (c->reading || c->closing)
		return;
	c->reading = true;
	event_add(c->rev, NULL);
	/* records OpenSSL already decrypted do not wake the socket, nor do
	 * bytes a batch read while reading was off */
	if ((c->ssl && !c->tls_handshaking && SSL_pending(c->ssl) > 0) || c->in_unseen)
		event_active(c->rev, EV_READ, 0);
}

void conn_read_soon(struct conn *c)
{
	/* From inside the batch (an owner accepting while it handles a read,
	 * as listener_stop's sweep of the backlog does), the read event,
	 * which conn_read_start turned on, brings the bytes next pass. */
	if (batching && !in_batch && c->reading && !c->closing && !c->ssl && !c->read_big)
		(void)note(c, CONN_NOTE_READ);   /* no room: the read event does it */
}

void conn_read_stop(struct conn *c)
{
	if (!c->reading)
		return;
	c->reading = false;
	if (!c->tls_handshaking && !c->tls_write_wants_read)
		event_del(c->rev);
}

void conn_send(struct conn *c)
{
	if (c->closing || c->connecting)
		return;
	if (conn_out_len(c) == 0)
		return;
	write_now(c, false);
}

void conn_send_soon(struct conn *c)
{
	if (c->closing || c->connecting)
		return;
	size_t len = conn_out_len(c);
	if (len == 0)
		return;
	/* a large output gains nothing from sharing a system call */
	if (batching && !c->ssl && len <= CONN_LOW_WATER && note(c, CONN_NOTE_WRITE))
		return;
	write_now(c, false);
}

/* ---- batches (conn_loop) ---- */

static bool note(struct conn *c, uint8_t what)
{
	if (!c->batch_slot) {
		if (batch.n == batch.cap) {
			/* grows, never shrinks, like the timer heap */
			uint32_t cap = batch.cap ? 2 * batch.cap : 256;
			struct conn **v = realloc(batch.v, cap * sizeof *v);
			if (!v)
				return false;   /* the caller goes the direct way */
			batch.v = v;
			batch.cap = cap;
		}
		batch.v[batch.n++] = c;
		c->batch_slot = batch.n;
	}
	c->noted |= what;
	return true;
}

static void unnote(struct conn *c, uint8_t what)
{
	c->noted &= (uint8_t)~what;
	if (c->noted || !c->batch_slot)
		return;
	batch.v[c->batch_slot - 1] = NULL;
	c->batch_slot = 0;
}

/* Read every socket the pass noted, IOBATCH_MAX at a time, then hand each
 * its bytes. An owner may close or stop another noted connection while
 * its bytes are handed out; read_done copes with both. */
static void batch_reads(void)
{
	static uint8_t bufs[IOBATCH_MAX][BATCH_READ_SIZE];
	static struct iobatch_op ops[IOBATCH_MAX];
	struct conn *who[IOBATCH_MAX];
	uint32_t i = 0, end = batch.n;   /* entries added meanwhile only write */
	while (i < end) {
		int n = 0;
		for (; i < end && n < IOBATCH_MAX; i++) {
			struct conn *c = batch.v[i];
			if (!c || !(c->noted & CONN_NOTE_READ))
				continue;
			unnote(c, CONN_NOTE_READ);
			if (c->closing || !c->reading || c->ssl)
				continue;
			ops[n].fd = c->fd;
			ops[n].write = false;
			ops[n].niov = 1;
			ops[n].iov[0].iov_base = bufs[n];
			ops[n].iov[0].iov_len = BATCH_READ_SIZE;
			who[n++] = c;
		}
		iobatch_run(ops, n);
		for (int k = 0; k < n; k++)
			read_done(who[k], bufs[k], ops[k].res);
	}
}

static void write_done(struct conn *c, ssize_t res)
{
	if (c->closing)
		return;
	if (res > 0) {
		evbuffer_drain(c->out, (size_t)res);
		if (evbuffer_get_length(c->out) == 0)
			write_settled(c, false);
		else
			write_now(c, false);   /* the rest, or a wait for room */
		return;
	}
	if (res == 0 || res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR) {
		if (!write_wait(c))
			write_failed(c, false);
		return;
	}
	c->err = (int)-res;
	write_failed(c, false);
}

/* Write what the pass's owners left with conn_send_soon; then the batch
 * is empty (nothing notes a read while it runs). */
static void batch_writes(void)
{
	static struct iobatch_op ops[IOBATCH_MAX];
	struct conn *who[IOBATCH_MAX];
	uint32_t i = 0;
	while (i < batch.n) {
		int n = 0;
		for (; i < batch.n && n < IOBATCH_MAX; i++) {
			struct conn *c = batch.v[i];
			if (!c)
				continue;
			if (c->noted != CONN_NOTE_WRITE)
				BUG("conn %llu: noted %u after the read batch",
				    (unsigned long long)c->id, c->noted);
			unnote(c, CONN_NOTE_WRITE);
			if (c->closing || c->connecting || conn_out_len(c) == 0)
				continue;
			if (c->ssl) {   /* started TLS after the note */
				write_now(c, false);
				continue;
			}
			struct evbuffer_iovec v[IOBATCH_IOV];
			int nv = evbuffer_peek(c->out, -1, NULL, v, IOBATCH_IOV);
			if (nv > IOBATCH_IOV)
				nv = IOBATCH_IOV;
			for (int k = 0; k < nv; k++) {
				ops[n].iov[k].iov_base = v[k].iov_base;
				ops[n].iov[k].iov_len = v[k].iov_len;
			}
			ops[n].fd = c->fd;
			ops[n].write = true;
			ops[n].niov = nv;
			who[n++] = c;
		}
		iobatch_run(ops, n);
		for (int k = 0; k < n; k++)
			write_done(who[k], ops[k].res);
	}
	batch.n = 0;
}

/* Bytes left by conn_send_soon on a connection being closed go out now,
 * as conn_send would have sent them (best effort, as there). */
static void flush_noted(struct conn *c)
{
	unnote(c, CONN_NOTE_WRITE);
	while (!c->ssl && conn_out_len(c) > 0 && write_some(c) > 0)
		;
}

void conn_loop(void)
{
	char why[160];
	if (iobatch_start(why, sizeof why))
		log_info("socket reads and writes go to the kernel in batches (io_uring)");
	else
		log_info("socket reads and writes: one system call each (%s)", why);
	batching = true;
	for (;;) {
		int r = event_base_loop(rt.base, EVLOOP_ONCE);
		in_batch = true;
		batch_reads();
		batch_writes();
		in_batch = false;
		if (r != 0 || event_base_got_break(rt.base) || event_base_got_exit(rt.base))
			break;
	}
	batching = false;
	iobatch_stop();
}

/* ---- timers: a binary min-heap of connections on timer_at ---- */

static struct {
	struct conn **v;     /* v[0] has the earliest deadline */
	uint32_t n, cap;
	struct event *ev;    /* wakes the loop for v[0] */
	double ev_at;        /* the deadline ev is set for; 0 when not set */
} timers;

static void heap_place(struct conn *c, uint32_t i)
{
	timers.v[i] = c;
	c->timer_slot = i + 1;
}

static void heap_up(uint32_t i)
{
	struct conn *c = timers.v[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (timers.v[parent]->timer_at <= c->timer_at)
			break;
		heap_place(timers.v[parent], i);
		i = parent;
	}
	heap_place(c, i);
}

static void heap_down(uint32_t i)
{
	struct conn *c = timers.v[i];
	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= timers.n)
			break;
		if (child + 1 < timers.n && timers.v[child + 1]->timer_at < timers.v[child]->timer_at)
			child++;
		if (c->timer_at <= timers.v[child]->timer_at)
			break;
		heap_place(timers.v[child], i);
		i = child;
	}
	heap_place(c, i);
}

static void timer_remove(struct conn *c)
{
	if (!c->timer_slot)
		return;
	uint32_t i = c->timer_slot - 1;
	c->timer_slot = 0;
	struct conn *last = timers.v[--timers.n];
	if (last == c)
		return;
	heap_place(last, i);
	heap_up(i);
	heap_down(last->timer_slot - 1);
}

/* Set ev for the earliest deadline unless it is set for that or sooner:
 * a wakeup that comes early (its connection's timer was stopped or moved
 * on) finds nothing due and sets ev again, so arming and stopping a
 * timer, as every transaction may, rarely touches libevent. */
static void timers_arm(void)
{
	if (timers.n == 0)
		return;
	double at = timers.v[0]->timer_at;
	if (timers.ev_at > 0 && timers.ev_at <= at)
		return;
	double d = at - rt_now();
	if (d < 0)
		d = 0;
	struct timeval tv;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	evtimer_add(timers.ev, &tv);
	timers.ev_at = at;
}

static void timers_cb(evutil_socket_t fd, short what, void *arg)
{
	timers.ev_at = 0;
	double now = rt_now();
	/* a fired timer may stop or arm others: take v[0] afresh each time */
	while (timers.n > 0 && timers.v[0]->timer_at <= now) {
		struct conn *c = timers.v[0];
		timer_remove(c);
		timer_fired(c);
	}
	timers_arm();
}

void conn_timer(struct conn *c, double seconds)
{
	if (c->closing)
		return;
	if (seconds <= 0) {
		timer_remove(c);
		return;
	}
	if (!timers.ev) {
		timers.ev = evtimer_new(rt.base, timers_cb, NULL);
		if (!timers.ev)
			return;
	}
	double old = c->timer_at;
	c->timer_at = rt_now() + seconds;
	if (c->timer_slot) {
		uint32_t i = c->timer_slot - 1;
		if (c->timer_at < old)
			heap_up(i);
		else
			heap_down(i);
	} else {
		if (timers.n == timers.cap) {
			/* grows, never shrinks: no malloc once the heap has seen
			 * its largest number of armed timers */
			uint32_t cap = timers.cap ? 2 * timers.cap : 256;
			struct conn **v = realloc(timers.v, cap * sizeof *v);
			if (!v)
				return;
			timers.v = v;
			timers.cap = cap;
		}
		timers.n++;
		heap_place(c, timers.n - 1);
		heap_up(timers.n - 1);
	}
	timers_arm();
}

void conn_timer_by(struct conn *c, double seconds)
{
	if (seconds > 0 && c->timer_slot && c->timer_at <= rt_now() + seconds)
		return;
	conn_timer(c, seconds);
}

/* ---- TLS ---- */

static void tls_read(struct conn *c)
{
	size_t got = 0;
	bool eof = false, failed = false;
	while (got < TLS_READ_BUDGET) {
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(c->in, CONN_READ_SIZE, &v, 1) < 1) {
			c->err = ENOMEM;
			failed = true;
			break;
		}
		ERR_clear_error();
		int n = SSL_read(c->ssl, v.iov_base, (int)v.iov_len);
		if (n > 0) {
			v.iov_len = (size_t)n;
			evbuffer_commit_space(c->in, &v, 1);
			got += (size_t)n;
			continue;
		}
		evbuffer_commit_space(c->in, &v, 0);
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_WANT_WRITE) {
			failed = !write_wait(c);
			break;
		}
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
			eof = true;
			break;
		}
		ERR_error_string_n(ERR_get_error(), tls_err, sizeof tls_err);
		ERR_clear_error();
		c->err = EPROTO;
		failed = true;
		break;
	}
	if (got >= TLS_READ_BUDGET && SSL_pending(c->ssl) > 0)
		event_active(c->rev, EV_READ, 0);
	if (got)
		dispatch(c, CONN_EV_READ);
	if (eof)
		dispatch(c, CONN_EV_EOF);
	else if (failed)
		dispatch(c, CONN_EV_ERROR);
}

static void tls_step(struct conn *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->tls_handshaking = false;
		write_unwait(c);
		if (!c->reading)
			event_del(c->rev);
		dispatch(c, CONN_EV_TLS_READY);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		write_unwait(c);
		event_add(c->rev, NULL);
		return;
	case SSL_ERROR_WANT_WRITE:
		if (!write_wait(c))
			dispatch(c, CONN_EV_ERROR);
		return;
	default: {
		unsigned long e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, tls_err, sizeof tls_err);
		else
			snprintf(tls_err, sizeof tls_err, "connection closed during TLS handshake");
		long vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			snprintf(tls_err, sizeof tls_err, "certificate verify failed: %s",
				 X509_verify_cert_error_string(vr));
		ERR_clear_error();
		c->err = EPROTO;
		dispatch(c, CONN_EV_ERROR);
		return;
	}
	}
}

bool conn_tls_start(struct conn *c, struct ssl_ctx_st *ctx, bool accept, const char *host)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return false;
	if (accept) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (host && *host && host[0] != '/') {
			unsigned char addr[16];
			bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
			if (!is_ip)
				SSL_set_tlsext_host_name(c->ssl, host);
			if (SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER) {
				X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
				if (is_ip)
					X509_VERIFY_PARAM_set1_ip_asc(vp, host);
				else
					X509_VERIFY_PARAM_set1_host(vp, host, 0);
			}
		}
	}
	c->tls_handshaking = true;
	/* the loop drives every step: nothing is reported from here */
	if (accept) {
		event_add(c->rev, NULL);
		return true;
	}
	return write_wait(c);
}

const char *conn_tls_error(void)
{
	return tls_err[0] ? tls_err : "TLS error";
}

static void reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	while (!list_empty(&rt.dead)) {
		struct list *n = list_first(&rt.dead);
		list_del_init(n);
		struct conn *c = list_entry(n, struct conn, dead_node);
		c->ops->destroy(c);
	}
}

bool conn_reaper_init(void)
{
	list_init(&rt.dead);
	rt.reaper = event_new(rt.base, -1, 0, reaper_cb, NULL);
	return rt.reaper != NULL;
}

void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	if (c->noted & CONN_NOTE_WRITE)
		flush_noted(c);
	unnote(c, CONN_NOTE_READ);
	c->closing = true;
	if (c->ssl && !c->tls_handshaking)
		(void)SSL_shutdown(c->ssl);   /* close_notify, best effort */
	c->reading = false;
	if (c->rev) event_del(c->rev);
	write_unwait(c);
	timer_remove(c);
	list_append(&rt.dead, &c->dead_node);
	event_active(rt.reaper, 0, 0);
}

void conn_close_flushed(struct conn *c)
{
	if (c->closing)
		return;
	unnote(c, CONN_NOTE_WRITE);   /* written here, with the rest */
	conn_read_stop(c);
	if (c->connecting || c->fd < 0 || conn_out_len(c) == 0) {
		conn_close(c);
		return;
	}
	c->close_when_flushed = true;
	conn_timer(c, CONN_FLUSH_TIMEOUT);
	write_now(c, false);
}

void conn_release(struct conn *c)
{
	unnote(c, CONN_NOTE_READ | CONN_NOTE_WRITE);
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->rev) event_free(c->rev);
	if (c->wev) event_free(c->wev);
	timer_remove(c);
	if (c->in) evbuffer_free(c->in);
	if (c->out) evbuffer_free(c->out);
	if (c->fd >= 0) close(c->fd);
	c->rev = c->wev = NULL;
	c->in = c->out = NULL;
	c->fd = -1;
}

size_t conn_out_len(const struct conn *c)
{
	return c->out ? evbuffer_get_length(c->out) : 0;
}

struct evbuffer *conn_out(struct conn *c)
{
	if (!c->out)
		c->out = evbuffer_new();
	return c->out;
}

bool conn_add(struct conn *c, const void *data, size_t len)
{
	struct evbuffer *out = conn_out(c);
	return out && evbuffer_add(out, data, len) == 0;
}

enum pq_frame conn_frame(const struct conn *c, uint32_t max, struct pq_header *hdr)
{
	uint8_t buf[PQ_HEADER_LEN];
	size_t avail = evbuffer_get_length(c->in);
	if (avail < PQ_HEADER_LEN)
		return PQ_FRAME_NEED_MORE;
	evbuffer_copyout(c->in, buf, PQ_HEADER_LEN);
	enum pq_frame f = proto_frame(buf, PQ_HEADER_LEN, max, hdr);
	if (f == PQ_FRAME_BAD)
		return f;
	return avail >= pq_msg_total(hdr) ? PQ_FRAME_COMPLETE : PQ_FRAME_HEADER;
}

size_t conn_in_len(const struct conn *c)
{
	return c->in ? evbuffer_get_length(c->in) : 0;
}

bool conn_out_full(struct conn *c)
{
	if (conn_out_len(c) <= CONN_HIGH_WATER)
		return false;
	c->want_drained = true;
	return true;
}
