/*
 * sdlisten.h — listening sockets handed over by systemd (socket
 * activation, etc/sluice.socket): LISTEN_PID names the process they are
 * for, LISTEN_FDS how many there are, from file descriptor 3 on.
 *
 * Read by hand rather than with libsystemd's sd_listen_fds(): the protocol
 * is those two variables, so a build without libsystemd can be socket
 * activated too, and both builds take the one code path the tests run.
 *
 * INTERFACE ROUTINES
 *   sdlisten_take(fds, max, err, errlen)   the sockets passed to this
 *         process, each checked (a stream socket that listens, TCP or
 *         unix) and made nonblocking and close-on-exec, into fds[]; returns
 *         how many: 0 when none were passed to this process, -1 (err says
 *         why) when one is unusable or there are more than max. The
 *         variables (and LISTEN_FDNAMES) are removed from the environment:
 *         the sockets are taken once.
 */
#ifndef SLUICE_SDLISTEN_H
#define SLUICE_SDLISTEN_H

#include <stddef.h>
#include "compiler.h"

#define SDLISTEN_FIRST_FD 3

int sdlisten_take(int *fds, int max, char *err, size_t errlen) MUST_CHECK;

#endif
