/*
 * iobatch.h — a batch of non-blocking socket reads and writes done in one
 * system call.
 *
 * A system call is the dearest thing the relay does (on a VM more so than
 * the copy it makes), and one loop pass usually finds many sockets ready.
 * With io_uring the whole batch goes into the kernel with one
 * io_uring_enter(); every operation is non-blocking (MSG_DONTWAIT), so each
 * has finished, done or EAGAIN, when the call returns and no buffer is
 * left in the kernel's hands. Where io_uring is missing or refused (old
 * kernels, container seccomp profiles, SLUICE_IO_URING=off), the same batch
 * runs as one recv/send call per operation: the results are the
 * same, only dearer.
 *
 * INTERFACE ROUTINES
 *   iobatch_start()        try io_uring once; false: plain calls (why says)
 *   iobatch_run(ops, n)    do ops[0..n) (n <= IOBATCH_MAX); each op's res is
 *                          bytes moved, 0 for end of file, or -errno
 *   iobatch_uring()        true while batches go through io_uring
 *   iobatch_stop()         give the ring back
 */
#ifndef SLUICE_IOBATCH_H
#define SLUICE_IOBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "compiler.h"

#define IOBATCH_MAX 64

/* One read into, or write from, len bytes at buf (a connection's output
 * is one contiguous array, buf.h: a write never needs more) */
struct iobatch_op {
	int fd;
	bool write;
	void *buf;
	size_t len;
	ssize_t res;
};

bool iobatch_start(char *why, size_t whylen) MUST_CHECK;
void iobatch_run(struct iobatch_op *ops, int n);
bool iobatch_uring(void);
void iobatch_stop(void);

#endif
