/*
 * conn.h — the connection core shared by clients and servers: a socket,
 * its input and output buffers, read/write/timer events, backpressure
 * watermarks, and deferred closing.
 *
 * INTERFACE ROUTINES
 *   conn_init(c, fd, ops)      take a connected socket, made non-blocking by
 *                              its maker (accept4 with SOCK_NONBLOCK), TCP
 *                              ones with TCP_NODELAY (their listener's); it
 *                              starts without buffers: c->in comes with the
 *                              first read, c->out with conn_out
 *   conn_out(c)                c->out, made on first need; NULL when out of
 *                              memory (a socket that never sends or is never
 *                              answered costs no buffer)
 *   conn_add(c, data, len)     append to conn_out(c)
 *   conn_connect(c, sa, len, ops)  start a non-blocking connect
 *   conn_read_start/stop(c)    read interest
 *   conn_read_soon(c)          read in this pass's batch without waiting for
 *                              the socket to say it is readable (bytes that
 *                              are probably there: a new client's startup)
 *   conn_send(c)               write c->out now; what is left waits for
 *                              writability (no write event unless needed)
 *   conn_send_soon(c)          write c->out when this loop pass ends, with
 *                              the pass's other writes in one system call
 *                              (the relay's way; see conn_loop)
 *   conn_timer(c, seconds)     arm the one timer (<= 0 disarms)
 *   conn_timer_by(c, seconds)  make sure the timer fires within `seconds`:
 *                              one already due sooner is left alone (the
 *                              owner copes with firing early)
 *   conn_close(c)              stop everything now; destroy later
 *   conn_close_flushed(c)      close once c->out is written (bounded wait)
 *   conn_tls_start(c, ctx, accept, host)   start TLS on the socket; the
 *                              owner gets CONN_EV_TLS_READY (or an error)
 *   conn_tls_error(c)          why the last TLS step failed
 *   conn_frame(c, max, &hdr)   frame the next typed message in c->in
 *   conn_shed(c)               the owner is idle (a client between
 *                              transactions): its buffers go back to a
 *                              shared spare list whenever they are empty,
 *                              and come back on first need
 *   conn_unshed(c)             busy again: both buffers now
 *   conn_shed_in(c)            c->in alone back to the spare list if it is
 *                              empty; the next read takes one again (a
 *                              login that waits for the rest of a message)
 *   conn_loop()                run the event loop until it is broken; each
 *                              pass's plain-socket reads, then its soon
 *                              writes, go to the kernel as batches
 *
 * Owners embed struct conn first and get every event through ops->event;
 * ops->destroy runs from the reaper, never inside the owner's callback.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "compiler.h"
#include "heap.h"
#include "list.h"
#include "proto.h"

struct loop_ev;
struct conn;
struct ssl_st;
struct ssl_ctx_st;

#define CONN_HIGH_WATER (256 * 1024)   /* peer output above this: stop reading */
#define CONN_LOW_WATER  (64 * 1024)    /* ...until it drains below this */

#define CONN_NOTE_READ  1   /* read the socket */
#define CONN_NOTE_WRITE 2   /* write c->out (conn_send_soon) */

enum conn_event {
	CONN_EV_READ,        /* new bytes in c->in */
	CONN_EV_EOF,         /* peer closed */
	CONN_EV_ERROR,       /* socket error (errno in c->err) */
	CONN_EV_CONNECTED,   /* non-blocking connect finished */
	CONN_EV_DRAINED,     /* c->out fell below CONN_LOW_WATER after being high */
	CONN_EV_TIMEOUT,     /* the conn_timer fired */
	CONN_EV_TLS_READY,   /* the TLS handshake finished */
};

/* Where a connection is in its life; one at a time. */
enum conn_phase {
	CONN_OPEN,           /* accepted, or connected: reads and writes */
	CONN_CONNECTING,     /* a non-blocking connect is under way */
	CONN_TLS,            /* the TLS handshake is under way (conn_tls_start) */
	CONN_FLUSHING,       /* conn_close_flushed: writing what is left, then closed */
	CONN_CLOSED,         /* conn_close: stopped; destroyed by the reaper */
};

struct conn_ops {
	void (*event)(struct conn *c, enum conn_event ev);
	void (*destroy)(struct conn *c);
};

struct conn {
	int fd;
	uint32_t batch_slot; /* place in this pass's batch + 1; 0: not in it */
	uint64_t id;
	const struct conn_ops *ops;
	struct buf *in, *out;   /* NULL while shed (conn_shed), out until first need */
	struct loop_ev *rev, *wev;   /* wev is made on first need */
	struct list dead_node;
	struct heap_node timer; /* in conn_timer.c's heap while armed: at is the
	                         * rt_now() when it fires */
	int err;
	enum conn_phase phase;
	bool reading;        /* read interest is on */
	bool want_drained;   /* owner wants CONN_EV_DRAINED */
	bool write_failed;   /* a write error waits to be reported from the loop */
	bool wev_on;         /* wev is added */
	bool read_big;       /* the last read was large: read straight into c->in */
	bool shed;           /* conn_shed: empty buffers go back to the spare list */
	struct ssl_st *ssl;  /* TLS on this socket, once started */
	bool tls_write_wants_read; /* SSL_write waits for the socket to be readable */
	bool in_unseen;      /* a batch read bytes while reading was off: report
	                      * them when it is on again */
	uint8_t noted;       /* what this pass's batch does for it: CONN_NOTE_* */
	int tls_retry_len;   /* an SSL_write to retry with exactly this length */
};

bool conn_init(struct conn *c, int fd, const struct conn_ops *ops) MUST_CHECK;
bool conn_connect(struct conn *c, const struct sockaddr *sa, socklen_t len,
		  const struct conn_ops *ops) MUST_CHECK;
void conn_read_start(struct conn *c);
void conn_read_soon(struct conn *c);
void conn_read_stop(struct conn *c);
void conn_send(struct conn *c);
void conn_send_soon(struct conn *c);
void conn_loop(void);
void conn_timer(struct conn *c, double seconds);
void conn_timer_by(struct conn *c, double seconds);
void conn_close(struct conn *c);
void conn_close_flushed(struct conn *c);
/* Frees buffers and events; called by the owner's destroy. */
void conn_release(struct conn *c);
/* inline: asked several times per message relayed */
static inline size_t conn_out_len(const struct conn *c)
{
	return c->out ? buf_len(c->out) : 0;
}
/* c->out; after conn_shed it may be NULL until this makes it again. */
struct buf *conn_out(struct conn *c);
void conn_shed(struct conn *c);
/* Makes both buffers if it can; where it could not, c->in NULL reads as
 * empty and conn_out() tries again (NULL: no memory). */
void conn_unshed(struct conn *c);
void conn_shed_in(struct conn *c);
/* Append to conn_out(c); false when out of memory. */
bool conn_add(struct conn *c, const void *data, size_t len);
/* The next typed message in c->in (nothing is consumed): PQ_FRAME_COMPLETE
 * when all pq_msg_total(hdr) bytes are there, PQ_FRAME_BAD when its length
 * is below 4 or above max, else not yet. */
enum pq_frame conn_frame(const struct conn *c, uint32_t max, struct pq_header *hdr);
static inline size_t conn_in_len(const struct conn *c)
{
	return c->in ? buf_len(c->in) : 0;
}
/* True when c->out is above the high watermark; arms CONN_EV_DRAINED. */
bool conn_out_full(struct conn *c);

/* `host`: for a connecting side, the name to check the certificate
 * against (verify-full) and to send as SNI; NULL for none. */
bool conn_tls_start(struct conn *c, struct ssl_ctx_st *ctx, bool accept, const char *host) MUST_CHECK;
const char *conn_tls_error(void);

/* Start the reaper; call once after loop_init(). */
bool conn_reaper_init(void) MUST_CHECK;

#endif
