/*
 * listener.h — the TCP and unix-socket listeners.
 *
 * INTERFACE ROUTINES
 *   listener_start(cfg, err, errlen)   bind every listen_addr and the unix
 *                                      socket, or take the sockets systemd
 *                                      passed (sdlisten.h) instead; false
 *                                      (with why) on failure
 *   listener_stop()                    close them and remove the socket file
 */
#ifndef SLUICE_LISTENER_H
#define SLUICE_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

struct config;

bool listener_start(const struct config *cfg, char *err, size_t errlen) MUST_CHECK;
void listener_stop(void);

#endif
