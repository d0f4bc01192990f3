/*
 * conn.c — sockets, buffers and events shared by clients and servers.
 *
 * Writes go to the socket at once; a write event is armed only when the
 * kernel did not take everything, and it is made then, on first need: most
 * clients never fill their socket buffer, and an idle connection should
 * cost as little as it can. Buffers are buf.h's contiguous arrays: a
 * write is one send() of the whole output; a small read is copied in
 * (plain_read), a large one lands in reserved space.
 *
 * Events reach the owner only from the event loop, never from inside a
 * call the owner made (conn_send): a write error or a drained buffer found
 * there is handed to the loop with loop_ev_active(), so no owner sees its
 * object change state in the middle of its own code.
 *
 * An idle client should cost little more than its struct: while its owner
 * says it is idle (conn_shed), an empty buffer goes back to a spare list
 * shared by all connections, and the next read or write takes one from
 * there. The list also serves new connections and takes back closed
 * ones', so a connection per transaction makes no buffers either.
 *
 * The rest of the module, each in a file of its own: the batches of
 * reads and writes of a loop pass (conn_batch.c), the timer heap
 * (conn_timer.c) and TLS (conn_tls.c); conn_internal.h joins them.
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "conn.h"
#include "conn_internal.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"

#define CONN_READ_SMALL 900            /* copied in: fits BUF_MIN_CAP (1 KiB) */
#define CONN_FLUSH_TIMEOUT 5.0         /* longest wait to flush before closing */

#define CONN_SPARE_MAX 256              /* empty buffers kept for reuse, at most */
#define CONN_SPARE_CAP 4096             /* ...with arrays this large at most */

static void plain_read(struct conn *c, int fd);
static void write_cb(int fd, short what, void *arg);

static struct {
	struct buf *v[CONN_SPARE_MAX];
	unsigned n;
} spare;

/* A connection's read event, kept for the next connection when it closes
 * (loop_ev_assign anew) rather than freed and allocated again: a client
 * that connects for one transaction costs one less malloc and free. */
static struct {
	struct loop_ev *v[CONN_SPARE_MAX];
	unsigned n;
} spare_ev;

static struct loop_ev *rev_take(int fd, short what, loop_fn cb, void *arg)
{
	if (spare_ev.n) {
		loop_ev_assign(spare_ev.v[spare_ev.n - 1], fd, what, cb, arg);
		return spare_ev.v[--spare_ev.n];
	}
	return loop_ev_new(fd, what, cb, arg);
}

static void rev_give(struct loop_ev *ev)
{
	loop_ev_del(ev);
	if (spare_ev.n < CONN_SPARE_MAX)
		spare_ev.v[spare_ev.n++] = ev;
	else
		loop_ev_free(ev);
}

static struct buf *buffer_take(void)
{
	return spare.n ? spare.v[--spare.n] : buf_new();
}

/* An empty buffer back to the spare list (its array cut back to
 * BUF_MIN_CAP when a large read left it bigger than CONN_SPARE_CAP), or
 * freed when the list is full. */
static void buffer_give(struct buf **b)
{
	if (spare.n < CONN_SPARE_MAX) {
		if ((*b)->cap > CONN_SPARE_CAP)
			buf_shrink(*b);
		spare.v[spare.n++] = *b;
	} else {
		buf_free(*b);
	}
	*b = NULL;
}

/* A closing connection's buffer: emptied (a client's Terminate is still
 * in its input when it closes, at every ordinary logout) and given back. */
static void buffer_drop(struct buf **b)
{
	if (!*b)
		return;
	buf_drain(*b, buf_len(*b));
	buffer_give(b);
}

struct buf *conn_in_take(struct conn *c)
{
	c->in = buffer_take();
	return c->in;
}

void conn_dispatch(struct conn *c, enum conn_event ev)
{
	if (c->phase != CONN_CLOSED)
		c->ops->event(c, ev);
}

static void read_cb(int fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->write_failed) {
		c->write_failed = false;
		conn_dispatch(c, CONN_EV_ERROR);
		return;
	}
	if (c->phase == CONN_TLS) {
		conn_tls_step(c);
		return;
	}
	if (c->tls_write_wants_read) {
		c->tls_write_wants_read = false;
		conn_write_now(c, true);
		if (c->phase == CONN_CLOSED)
			return;
	}
	if (!c->reading)
		return;   /* woken only to deliver a write failure */
	if (c->ssl) {
		conn_tls_read(c);
		return;
	}
	if (c->in_unseen) {   /* from conn_read_start: bytes a batch read */
		c->in_unseen = false;
		conn_dispatch(c, CONN_EV_READ);
		return;
	}
	if (!c->read_big && conn_note(c, CONN_NOTE_READ))
		return;   /* read with the pass's batch */
	plain_read(c, fd);
}

/* What a read of `res` bytes into `buf` (or -errno) means for c. Bytes
 * read while reading was off (a batch read them, then an owner stopped
 * reading) are kept and reported when reading is on again; an end of
 * file or error found then is left for that next read to find again. */
void conn_read_done(struct conn *c, const uint8_t *buf, ssize_t res)
{
	if (c->phase == CONN_CLOSED || res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR)
		return;
	if (res <= 0) {
		if (!c->reading)
			return;
		if (res < 0) {
			c->err = (int)-res;
			conn_dispatch(c, CONN_EV_ERROR);
		} else {
			conn_dispatch(c, CONN_EV_EOF);
		}
		return;
	}
	struct buf *in = conn_in(c);
	if (!in || !buf_add(in, buf, (size_t)res)) {
		c->err = ENOMEM;
		conn_dispatch(c, CONN_EV_ERROR);
		return;
	}
	c->read_big = (size_t)res > CONN_READ_SMALL;
	if (!c->reading) {
		c->in_unseen = true;
		return;
	}
	conn_dispatch(c, CONN_EV_READ);
}

/* Most reads bring one small message: recv() into `spill`, then a copy
 * of the few bytes into c->in, whose array stays small. A read that
 * fills more than CONN_READ_SMALL switches to reading straight into
 * reserved space in c->in (no copy) until a read is small again. */
static void plain_read(struct conn *c, int fd)
{
	static uint8_t spill[CONN_READ_SIZE];
	if (!c->read_big) {
		ssize_t n = recv(fd, spill, sizeof spill, 0);
		conn_read_done(c, spill, n < 0 ? -errno : n);
		return;
	}
	uint8_t *room = conn_in(c) ? buf_reserve(c->in, CONN_READ_SIZE) : NULL;
	if (!room) {
		c->err = ENOMEM;
		conn_dispatch(c, CONN_EV_ERROR);
		return;
	}
	ssize_t n = recv(fd, room, CONN_READ_SIZE, 0);
	if (n <= 0) {
		conn_read_done(c, NULL, n < 0 ? -errno : 0);   /* nothing read: EAGAIN, end of file or error */
		return;
	}
	buf_commit(c->in, (size_t)n);
	c->read_big = (size_t)n > CONN_READ_SMALL;
	conn_dispatch(c, CONN_EV_READ);
}

static void finish_connect(struct conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	c->phase = CONN_OPEN;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		c->err = soerr;
		conn_dispatch(c, CONN_EV_ERROR);
		return;
	}
	conn_dispatch(c, CONN_EV_CONNECTED);
}

/* Wait for writability: the write event is made here the first time it
 * is needed, then kept. False only when it cannot be made or added (no
 * memory, or epoll refuses the socket; c->err says which). */
bool conn_write_wait(struct conn *c)
{
	if (c->wev_on)
		return true;
	if (!c->wev) {
		c->wev = loop_ev_new(c->fd, LOOP_WRITE | LOOP_PERSIST, write_cb, c);
		if (!c->wev) {
			c->err = ENOMEM;
			return false;
		}
	}
	if (loop_ev_add(c->wev, NULL) < 0) {
		c->err = errno;   /* the loop cannot watch it */
		return false;
	}
	c->wev_on = true;
	return true;
}

/* No event call when write interest is off already (most writes). */
void conn_write_unwait(struct conn *c)
{
	if (c->wev_on)
		loop_ev_del(c->wev);
	c->wev_on = false;
}


/* One step of writing: > 0 bytes written, 0 would block, < 0 failed. */
static int write_some(struct conn *c)
{
	if (!c->ssl) {
		ssize_t n = send(c->fd, buf_data(c->out), buf_len(c->out), MSG_NOSIGNAL);
		if (n > 0) {
			buf_drain(c->out, (size_t)n);
			return (int)n;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		c->err = n < 0 ? errno : EPIPE;
		return -1;
	}
	return conn_tls_write_some(c);
}

/* Writing failed (c->err says why): report it, from the loop. */
void conn_write_failed(struct conn *c, bool from_loop)
{
	conn_write_unwait(c);
	if (c->phase == CONN_FLUSHING) {
		conn_close(c);
		return;
	}
	if (c->out)
		buf_drain(c->out, buf_len(c->out));
	if (from_loop) {
		conn_dispatch(c, CONN_EV_ERROR);
	} else {
		c->write_failed = true;
		loop_ev_active(c->rev, LOOP_READ);
	}
}

/* Write what the kernel takes. `from_loop`: called by the write event, so
 * events may be dispatched directly; otherwise they are deferred. */
void conn_write_now(struct conn *c, bool from_loop)
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
		conn_write_failed(c, from_loop);
		return;
	}
	if (left > 0) {
		if (!conn_write_wait(c))
			conn_write_failed(c, from_loop);
		return;
	}
	conn_write_settled(c, from_loop);
}

/* c->out is empty: close if that was awaited, tell an owner waiting for
 * the drain, or drop write interest. */
void conn_write_settled(struct conn *c, bool from_loop)
{
	if (c->phase == CONN_FLUSHING) {
		conn_write_unwait(c);
		conn_close(c);
		return;
	}
	if (c->want_drained) {
		if (from_loop) {
			conn_write_unwait(c);
			c->want_drained = false;
			conn_dispatch(c, CONN_EV_DRAINED);
		} else if (!conn_write_wait(c)) {   /* the loop tells the owner */
			conn_write_failed(c, from_loop);
		}
		return;
	}
	conn_write_unwait(c);
	if (c->shed && c->out)
		buffer_give(&c->out);
}

static void write_cb(int fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->phase == CONN_TLS) {
		conn_tls_step(c);
		return;
	}
	if (c->phase == CONN_CONNECTING) {
		conn_write_unwait(c);
		finish_connect(c);
		return;
	}
	conn_write_now(c, true);
	if (c->phase != CONN_CLOSED && c->want_drained && conn_out_len(c) <= CONN_LOW_WATER) {
		c->want_drained = false;
		conn_dispatch(c, CONN_EV_DRAINED);
	}
}

/* c's deadline passed (it is out of the timer heap already). */
void conn_timer_fired(struct conn *c)
{
	if (c->phase == CONN_FLUSHING) {
		conn_close(c);
		return;
	}
	conn_dispatch(c, CONN_EV_TIMEOUT);
}

static bool setup(struct conn *c, int fd, const struct conn_ops *ops, bool lazy)
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
	/* an accepted socket's buffers come on first need: one that never
	 * sends a byte costs no array (a server's are made at once) */
	c->in = lazy ? NULL : buffer_take();
	c->out = lazy ? NULL : buffer_take();
	c->rev = rev_take(fd, LOOP_READ | LOOP_PERSIST, read_cb, c);
	return (lazy || (c->in && c->out)) && c->rev;   /* c->wev: see conn_write_wait() */
}

static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool conn_init(struct conn *c, int fd, const struct conn_ops *ops)
{
	/* (no TCP_NODELAY here: an accepted socket has its listener's) */
#ifdef SLUICE_DEBUG
	int nodelay = 0;
	socklen_t nl = sizeof nodelay;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family != AF_UNIX &&
	    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl) == 0 && !nodelay)
		BUG("conn: accepted TCP socket %d without TCP_NODELAY", fd);
#endif
	return setup(c, fd, ops, true);
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
		c->phase = CONN_CONNECTING;
		return conn_write_wait(c);
	}
	if (errno != EINPROGRESS) {
		c->err = errno;
		return false;
	}
	c->phase = CONN_CONNECTING;
	return conn_write_wait(c);
}

bool conn_read_watch(struct conn *c)
{
	if (loop_ev_add(c->rev, NULL) == 0)
		return true;
	/* the loop cannot watch it (no memory, or epoll refuses the
	 * descriptor): an error from the loop, not a wait forever */
	c->err = errno;
	c->write_failed = true;   /* read_cb reports it as CONN_EV_ERROR */
	loop_ev_active(c->rev, LOOP_READ);
	return false;
}

void conn_read_start(struct conn *c)
{
	if (c->reading || c->phase == CONN_CLOSED)
		return;
	c->reading = true;
	if (!conn_read_watch(c))
		return;
	/* bytes OpenSSL holds already (decrypted, or read from the socket and
	 * not yet decrypted: SSL_pending counts only the first) do not wake
	 * the socket, nor do bytes a batch read while reading was off */
	if ((c->ssl && c->phase != CONN_TLS && SSL_has_pending(c->ssl)) || c->in_unseen)
		loop_ev_active(c->rev, LOOP_READ);
}

void conn_read_soon(struct conn *c)
{
	/* From inside the batch (an owner accepting while it handles a read,
	 * as listener_stop's sweep of the backlog does), the read event,
	 * which conn_read_start turned on, brings the bytes next pass. */
	if (c->reading && c->phase != CONN_CLOSED && !c->ssl && !c->read_big)
		(void)conn_note(c, CONN_NOTE_READ);   /* no room: the read event does it */
}

void conn_read_stop(struct conn *c)
{
	if (!c->reading)
		return;
	c->reading = false;
	if (c->phase != CONN_TLS && !c->tls_write_wants_read)
		loop_ev_del(c->rev);
}

void conn_send(struct conn *c)
{
	if (c->phase == CONN_CLOSED || c->phase == CONN_CONNECTING)
		return;
	if (conn_out_len(c) == 0)
		return;
	conn_write_now(c, false);
}

void conn_send_soon(struct conn *c)
{
	if (c->phase == CONN_CLOSED || c->phase == CONN_CONNECTING)
		return;
	size_t len = conn_out_len(c);
	if (len == 0)
		return;
	/* a large output gains nothing from sharing a system call */
	if (!c->ssl && len <= CONN_LOW_WATER && conn_note(c, CONN_NOTE_WRITE))
		return;
	conn_write_now(c, false);
}


/* Bytes left by conn_send_soon on a connection being closed go out now,
 * as conn_send would have sent them (best effort, as there). */
static void flush_noted(struct conn *c)
{
	conn_unnote(c, CONN_NOTE_WRITE);
	while (!c->ssl && conn_out_len(c) > 0 && write_some(c) > 0)
		;
}

static void reaper_cb(int fd, short what, void *arg)
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
	rt.reaper = loop_ev_new(-1, 0, reaper_cb, NULL);
	return rt.reaper != NULL;
}

void conn_close(struct conn *c)
{
	if (c->phase == CONN_CLOSED)
		return;
	if (c->noted & CONN_NOTE_WRITE)
		flush_noted(c);
	conn_unnote(c, CONN_NOTE_READ);
	if (c->ssl && c->phase != CONN_TLS)
		(void)SSL_shutdown(c->ssl);   /* close_notify, best effort */
	c->phase = CONN_CLOSED;
	c->reading = false;
	if (c->rev) loop_ev_del(c->rev);
	conn_write_unwait(c);
	conn_timer_remove(c);
	list_append(&rt.dead, &c->dead_node);
	loop_ev_active(rt.reaper, 0);
}

void conn_close_flushed(struct conn *c)
{
	if (c->phase == CONN_CLOSED)
		return;
	conn_unnote(c, CONN_NOTE_WRITE);   /* written here, with the rest */
	conn_read_stop(c);
	/* connecting or mid-handshake, nothing can be written yet: close now */
	if (c->phase == CONN_CONNECTING || c->phase == CONN_TLS || c->fd < 0 || conn_out_len(c) == 0) {
		conn_close(c);
		return;
	}
	c->phase = CONN_FLUSHING;
	conn_timer(c, CONN_FLUSH_TIMEOUT);
	conn_write_now(c, false);
}

void conn_release(struct conn *c)
{
	conn_unnote(c, CONN_NOTE_READ | CONN_NOTE_WRITE);
	buffer_drop(&c->in);
	buffer_drop(&c->out);
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->rev) rev_give(c->rev);
	if (c->wev) loop_ev_free(c->wev);
	conn_timer_remove(c);
	if (c->fd >= 0) close(c->fd);
	c->rev = c->wev = NULL;
	c->fd = -1;
}

struct buf *conn_out(struct conn *c)
{
	if (!c->out)
		c->out = buffer_take();
	return c->out;
}

void conn_shed(struct conn *c)
{
	c->shed = true;
	if (c->in && buf_len(c->in) == 0)
		buffer_give(&c->in);
	/* out only when nothing more is to come of it: no write waits for
	 * room, no owner waits for the drain; noted for this pass's writes,
	 * it goes back once written (conn_write_settled) */
	if (c->out && !(c->noted & CONN_NOTE_WRITE) && !c->wev_on && !c->want_drained &&
	    c->phase == CONN_OPEN && buf_len(c->out) == 0)
		buffer_give(&c->out);
}

void conn_shed_in(struct conn *c)
{
	if (c->in && buf_len(c->in) == 0)
		buffer_give(&c->in);
}

void conn_unshed(struct conn *c)
{
	c->shed = false;
	(void)conn_in(c);
	(void)conn_out(c);
}

bool conn_add(struct conn *c, const void *data, size_t len)
{
	struct buf *out = conn_out(c);
	return out && buf_add(out, data, len);
}

enum pq_frame conn_frame(const struct conn *c, uint32_t max, struct pq_header *hdr)
{
	size_t avail = conn_in_len(c);
	if (avail < PQ_HEADER_LEN)
		return PQ_FRAME_NEED_MORE;
	enum pq_frame f = proto_frame(buf_data(c->in), PQ_HEADER_LEN, max, hdr);
	if (f == PQ_FRAME_BAD)
		return f;
	return avail >= pq_msg_total(hdr) ? PQ_FRAME_COMPLETE : PQ_FRAME_HEADER;
}

bool conn_out_full(struct conn *c)
{
	if (conn_out_len(c) <= CONN_HIGH_WATER)
		return false;
	c->want_drained = true;
	return true;
}
