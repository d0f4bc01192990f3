/*
 * iobatch.c — socket reads and writes in batches: one io_uring_enter()
 * for the lot, or one plain call each without io_uring.
 *
 * Every operation carries MSG_DONTWAIT, which io_uring honours by
 * completing it at submission (with -EAGAIN when the socket has nothing
 * or no room) instead of parking it on the socket. So when
 * io_uring_submit_and_wait() returns, every operation has its completion,
 * and the buffers the batch named are ours again. A batch of one costs
 * less as a plain call (measured on this project's machine: io_uring
 * wins from two operations on), so it takes that way.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "iobatch.h"
#include "log.h"

static struct io_uring ring;
static bool ring_on;

bool iobatch_start(char *why, size_t whylen)
{
	if (ring_on)
		return true;
	const char *env = getenv("SLUICE_IO_URING");
	if (env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0)) {
		snprintf(why, whylen, "SLUICE_IO_URING=%s", env);
		return false;
	}
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;
	int r = io_uring_queue_init_params(2 * IOBATCH_MAX, &ring, &p);
	if (r == -EINVAL) {   /* a kernel without those flags */
		memset(&p, 0, sizeof p);
		r = io_uring_queue_init_params(2 * IOBATCH_MAX, &ring, &p);
	}
	if (r < 0) {
		snprintf(why, whylen, "io_uring: %s", strerror(-r));
		return false;
	}
	(void)io_uring_register_ring_fd(&ring);   /* saves a lookup per call */
	ring_on = true;
	return true;
}

bool iobatch_uring(void)
{
	return ring_on;
}

void iobatch_stop(void)
{
	if (ring_on)
		io_uring_queue_exit(&ring);
	ring_on = false;
}

static void run_plain(struct iobatch_op *op)
{
	ssize_t n = op->write ? send(op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL)
			      : recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
	op->res = n < 0 ? -errno : n;
}

static void prep(struct io_uring_sqe *sqe, struct iobatch_op *op, int i)
{
	if (op->write)
		io_uring_prep_send(sqe, op->fd, op->buf, op->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		io_uring_prep_recv(sqe, op->fd, op->buf, op->len, MSG_DONTWAIT);
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
}

/* The ring failed in a way it should not: stop using it. Operations not
 * submitted are done with plain calls; submitted ones completed at
 * submission (MSG_DONTWAIT), so their results are collected first. */
static void ring_broken(struct iobatch_op *ops, int n, bool *done, int err)
{
	log_warn("io_uring failed (%s): socket I/O goes on with plain system calls",
		 strerror(err));
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&ring, &cqe) == 0) {
		uint64_t i = io_uring_cqe_get_data64(cqe);
		if (i < (uint64_t)n && !done[i]) {
			ops[i].res = cqe->res;
			done[i] = true;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	iobatch_stop();
	for (int i = 0; i < n; i++)
		if (!done[i])
			run_plain(&ops[i]);
}

void iobatch_run(struct iobatch_op *ops, int n)
{
	if (n > IOBATCH_MAX)
		BUG("iobatch_run: %d operations, at most %d", n, IOBATCH_MAX);
	if (n <= 0)
		return;
	if (!ring_on || n == 1) {
		for (int i = 0; i < n; i++)
			run_plain(&ops[i]);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		if (!sqe)
			BUG("iobatch_run: no submission entry for %d of %d", i, n);
		prep(sqe, &ops[i], i);
	}
	bool done[IOBATCH_MAX] = { false };
	int r;
	do
		r = io_uring_submit_and_wait(&ring, (unsigned)n);
	while (r == -EINTR);
	int submitted = r;
	while (r >= 0 && submitted < n) {   /* SUBMIT_ALL: should not happen */
		r = io_uring_submit(&ring);
		if (r == 0)
			break;   /* nothing left unsubmitted */
		if (r > 0)
			submitted += r;
		else if (r == -EINTR)
			r = 0;
	}
	if (r < 0) {
		ring_broken(ops, n, done, -r);
		return;
	}
	/* every completion is there already (MSG_DONTWAIT): take them all,
	 * then advance the ring once; wait only if one is missing */
	int got = 0;
	while (got < n) {
		unsigned head, seen = 0;
		struct io_uring_cqe *cqe;
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t i = io_uring_cqe_get_data64(cqe);
			if (i >= (uint64_t)n || done[i])
				BUG("iobatch_run: completion for %llu, not in the batch",
				    (unsigned long long)i);
			ops[i].res = cqe->res;
			done[i] = true;
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
		got += (int)seen;
		if (got == n)
			break;
		int w = io_uring_wait_cqe(&ring, &cqe);   /* (takes nothing from the ring) */
		if (w < 0 && w != -EINTR) {
			ring_broken(ops, n, done, -w);
			return;
		}
	}
}
