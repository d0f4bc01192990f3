/*
 * cluster_gate_internal.h — between the parts of the cluster gate: the
 * member's part (cluster_gate.c) and the commands that open and end
 * windows (cluster_cmd.c).
 *
 * INTERFACE ROUTINES
 *   cluster_cmd_changed()     a NOTIFY or heartbeat: look at the windows waited for
 *   cluster_cmd_progress()    a deferred check: tell the callers whose command ended
 *   cluster_cmd_connected()   connected again: end the windows whose PAUSE failed
 *                             when the connection was lost
 *   cluster_cmd_lost()        the connection is gone: the PAUSEs waiting fail
 *   cluster_cmd_free()        at exit
 *   cluster_gate_mark(db, n, state, members)   this member changed window n:
 *                             what SHOW GATES shows until the next read
 *                             (members NULL: unchanged)
 */
#ifndef SLUICE_CLUSTER_GATE_INTERNAL_H
#define SLUICE_CLUSTER_GATE_INTERNAL_H

#include <stdint.h>

void cluster_cmd_changed(void);
void cluster_cmd_progress(void);
void cluster_cmd_connected(void);
void cluster_cmd_lost(void);
void cluster_cmd_free(void);
void cluster_gate_mark(const char *db, uint64_t number, const char *state, const char *members);

#endif
