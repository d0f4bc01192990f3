/*
 * conn_internal.h — shared by the parts of the connection core only:
 * conn.c (sockets, buffers, events, closing), conn_batch.c (a loop pass's
 * batches), conn_timer.c (the timer heap) and conn_tls.c (TLS). Owners
 * use conn.h.
 */
#ifndef SLUICE_CONN_INTERNAL_H
#define SLUICE_CONN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

#define CONN_READ_SIZE (32 * 1024)   /* one read's reserved space */

/* conn.c */
void conn_dispatch(struct conn *c, enum conn_event ev);   /* unless closing */
void conn_read_done(struct conn *c, const uint8_t *buf, ssize_t res);
struct buf *conn_in_take(struct conn *c);
/* c->in, taken from the spare list if shed; NULL: no memory */
static inline struct buf *conn_in(struct conn *c)
{
	return c->in ? c->in : conn_in_take(c);
}
/* Read interest on; false when the loop cannot watch the socket: the
 * owner hears CONN_EV_ERROR from the loop (c->err says why). */
bool conn_read_watch(struct conn *c);
bool conn_write_wait(struct conn *c);
void conn_write_unwait(struct conn *c);
void conn_write_now(struct conn *c, bool from_loop);
void conn_write_settled(struct conn *c, bool from_loop);
void conn_write_failed(struct conn *c, bool from_loop);
void conn_timer_fired(struct conn *c);

/* conn_batch.c */
bool conn_note(struct conn *c, uint8_t what);
void conn_unnote(struct conn *c, uint8_t what);

/* conn_timer.c */
void conn_timer_remove(struct conn *c);

/* conn_tls.c */
void conn_tls_read(struct conn *c);
void conn_tls_step(struct conn *c);
int conn_tls_write_some(struct conn *c);

#endif
