/*
 * cluster_internal.h — between the parts of the cluster module: the
 * connection (cluster.c) and the membership (cluster_members.c).
 *
 * INTERFACE ROUTINES
 *   cluster_state_rw()        the state cluster_status() shows
 *   cluster_ops_get()         the layer above's ops (NULL: none yet)
 *   cluster_drop(why)         give the connection up; reconnect with backoff
 *   cluster_members_init()    this process's random instance id; false: no CSPRNG
 *   cluster_members_join()    connected and set up: register
 *   cluster_members_tick()    every cluster_heartbeat: heartbeat, read members
 *   cluster_members_read()    read the members now (a NOTIFY); coalesced
 *   cluster_members_lost()    the connection is gone
 *   cluster_members_free()    at exit
 */
#ifndef SLUICE_CLUSTER_INTERNAL_H
#define SLUICE_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include "compiler.h"

struct cluster_state;
struct cluster_ops;

struct cluster_state *cluster_state_rw(void);
const struct cluster_ops *cluster_ops_get(void);
void cluster_drop(const char *why);
bool cluster_members_init(void) MUST_CHECK;
void cluster_members_join(void);
void cluster_members_tick(void);
void cluster_members_read(void);
void cluster_members_lost(void);
void cluster_members_free(void);

#endif
