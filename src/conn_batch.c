/*
 * conn_batch.c — the batches of conn_loop, part of the connection core
 * (conn.c).
 *
 * A pass of the loop usually finds many sockets ready, and on a VM a
 * system call costs more than the work it does here. So while conn_loop
 * runs, a plain socket found readable is only noted; when the loop has
 * run the pass's callbacks, every noted socket is read in one batch
 * (iobatch.c: one io_uring_enter), the owners get their reads, and then
 * everything they wrote with conn_send_soon goes out in one more batch.
 * TLS sockets, large reads and large writes take the direct way, where a
 * batch saves nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "conn_internal.h"
#include "iobatch.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"

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


/* Note c for the pass's batch (CONN_NOTE_READ, CONN_NOTE_WRITE). False
 * when there is no batch to join: conn_loop is not running, reads are
 * being handed out already, or no memory; the caller goes the direct way. */
/* (out of line: conn_note runs for most reads and writes, and keeps its
 * registers for them) */
static __attribute__((noinline)) bool batch_grow(void)
{
	/* grows, never shrinks, like the timer heap */
	uint32_t cap = batch.cap ? 2 * batch.cap : 256;
	struct conn **v = realloc(batch.v, cap * sizeof *v);
	if (!v)
		return false;   /* the caller goes the direct way */
	batch.v = v;
	batch.cap = cap;
	return true;
}

bool conn_note(struct conn *c, uint8_t what)
{
	if (!batching || (in_batch && (what & CONN_NOTE_READ)))
		return false;
	if (!c->batch_slot) {
		if (unlikely(batch.n == batch.cap) && !batch_grow())
			return false;
		batch.v[batch.n++] = c;
		c->batch_slot = batch.n;
	}
	c->noted |= what;
	return true;
}

void conn_unnote(struct conn *c, uint8_t what)
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
			conn_unnote(c, CONN_NOTE_READ);
			if (c->phase == CONN_CLOSED || !c->reading || c->ssl)
				continue;
			ops[n].fd = c->fd;
			ops[n].write = false;
			ops[n].buf = bufs[n];
			ops[n].len = BATCH_READ_SIZE;
			who[n++] = c;
		}
		iobatch_run(ops, n);
		for (int k = 0; k < n; k++)
			conn_read_done(who[k], bufs[k], ops[k].res);
	}
}

static void write_done(struct conn *c, ssize_t res)
{
	if (c->phase == CONN_CLOSED)
		return;
	if (res > 0) {
		buf_drain(c->out, (size_t)res);
		if (buf_len(c->out) == 0)
			conn_write_settled(c, false);
		else
			conn_write_now(c, false);   /* the rest, or a wait for room */
		return;
	}
	if (res == 0 || res == -EAGAIN || res == -EWOULDBLOCK || res == -EINTR) {
		if (!conn_write_wait(c))
			conn_write_failed(c, false);
		return;
	}
	c->err = (int)-res;
	conn_write_failed(c, false);
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
			conn_unnote(c, CONN_NOTE_WRITE);
			if (c->phase == CONN_CLOSED || c->phase == CONN_CONNECTING || conn_out_len(c) == 0)
				continue;
			if (c->ssl) {   /* started TLS after the note */
				conn_write_now(c, false);
				continue;
			}
			ops[n].buf = buf_data(c->out);
			ops[n].len = buf_len(c->out);
			ops[n].fd = c->fd;
			ops[n].write = true;
			who[n++] = c;
		}
		iobatch_run(ops, n);
		for (int k = 0; k < n; k++)
			write_done(who[k], ops[k].res);
	}
	batch.n = 0;
}

/* The end of a loop pass: the reads its callbacks noted, then the
 * writes. */
static void batches(void)
{
	in_batch = true;
	batch_reads();
	batch_writes();
	in_batch = false;
	rt.passes++;
}

void conn_loop(void)
{
	char why[160];
	if (iobatch_start(why, sizeof why))
		log_info("socket reads and writes go to the kernel in batches (io_uring)");
	else
		log_info("socket reads and writes: one system call each (%s)", why);
	batching = true;
	loop_at_pass_end(batches);
	for (;;) {
		if (loop_pass(true) != 0) {
			log_error("the event loop cannot wait: %s", strerror(errno));
			break;
		}
		if (loop_broken())
			break;
	}
	loop_at_pass_end(NULL);
	batching = false;
	iobatch_stop();
}
