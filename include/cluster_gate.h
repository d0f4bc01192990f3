/*
 * cluster_gate.h — the cluster-wide migration gate (doc/cluster.md): the
 * windows recorded in the coordination database (cluster.h), and this
 * member's part in each, played through its own gates (gate.h).
 *
 * INTERFACE ROUTINES
 *   cluster_gate_start()     after cluster_start: hear of the connection
 */
#ifndef SLUICE_CLUSTER_GATE_H
#define SLUICE_CLUSTER_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void cluster_gate_start(void);

#endif
