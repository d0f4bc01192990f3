/*
 * lifecycle.h — the process as a whole: reload the configuration, stop
 * (at once, once servers are free, or once clients have left), and the
 * deferred check that finishes whatever was waiting for connections to go.
 *
 * INTERFACE ROUTINES
 *   lifecycle_init()            after loop_init(); registers the
 *                               deferred checks (the gates, waiting console
 *                               commands, a pending shutdown) with rt_kick
 *   lifecycle_kick()            rt_kick(), for the modules above runtime
 *   lifecycle_reload(err, n)    re-read the config file; false: the
 *                               running configuration stays, err says why
 *   lifecycle_swap(next, err, n)   make next the running configuration,
 *                               as RELOAD does (SET builds next); next is
 *                               ours from here. false: it is freed, the
 *                               running configuration stays, err says why
 *   lifecycle_shutdown(mode)    RT_RUNNING means at once
 *   lifecycle_free()
 */
#ifndef SLUICE_LIFECYCLE_H
#define SLUICE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"
#include "runtime.h"

bool lifecycle_init(void) MUST_CHECK;
void lifecycle_kick(void);
bool lifecycle_reload(char *err, size_t errlen);
struct config;
bool lifecycle_swap(struct config *next, char *err, size_t errlen);
void lifecycle_shutdown(enum rt_shutdown mode);
void lifecycle_free(void);

#endif
