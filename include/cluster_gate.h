/*
 * cluster_gate.h — the cluster-wide migration gate (doc/cluster.md): the
 * windows recorded in the coordination database (cluster.h), and this
 * member's part in each, played through its own gates (gate.h).
 *
 * A window is numbered in the cluster; its states there are `closing`
 * (members drain), `closed` (every live member reported closed: PAUSE
 * returned), `open` (ended: RESUME, gate_max_pause) and `failed` (a member
 * could not drain before the deadline, or the member that opened it lost
 * its connection: reopened everywhere).
 *
 * INTERFACE ROUTINES
 *   cluster_gate_start()     cluster_name set: hold transactions until the
 *                            windows are read, hear of the connection
 *   cluster_gate_stop()      at exit
 *   cluster_gate_update()    a deferred check: report parts whose gate moved
 *   cluster_gate_pause(db, timeout, done, arg, why, n)   PAUSE db CLUSTER:
 *                            open a window, wait until every live member
 *                            reported closed or the deadline passed;
 *                            timeout < 0: no deadline. false: not started,
 *                            `why` says why; else done(arg, ...) is called
 *                            once, from a later loop pass
 *   cluster_gate_resume(db, window, done, arg, why, n)   RESUME db CLUSTER
 *                            [WINDOW n] (window 0: the current one)
 *   cluster_gate_forget(arg) the caller is gone: its done is not called
 *   cluster_gate_part(db, &number, &members)   the database's latest cluster
 *                            window as last read: its state ("" none), its
 *                            number and each member's report
 */
#ifndef SLUICE_CLUSTER_GATE_H
#define SLUICE_CLUSTER_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

/* ok; else the error's SQLSTATE, message and detail (each member's report) */
typedef void (*cluster_gate_done_fn)(void *arg, bool ok, const char *sqlstate, const char *msg,
				     const char *detail);

bool cluster_gate_start(void) MUST_CHECK;
void cluster_gate_stop(void);
void cluster_gate_update(void);
bool cluster_gate_pause(const char *db, double timeout, cluster_gate_done_fn done, void *arg,
			char *why, size_t whylen) MUST_CHECK;
bool cluster_gate_resume(const char *db, uint64_t window, cluster_gate_done_fn done, void *arg,
			 char *why, size_t whylen) MUST_CHECK;
void cluster_gate_forget(void *arg);
const char *cluster_gate_part(const char *db, uint64_t *number, const char **members);

#endif
