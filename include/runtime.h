/*
 * runtime.h — the one process-wide context: the event base, the running
 * configuration, the registry of pools and the connection reaper.
 *
 * Everything else is owned by a module (pools by pool.c, clients by
 * client.c, ...). The configuration is a value: reload (later) swaps the
 * pointer.
 */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include "list.h"

struct event_base;
struct event;
struct config;

struct runtime {
	struct event_base *base;
	struct config *cfg;
	struct list pools;           /* struct pool, by pool.c */
	struct list dead;            /* struct conn waiting to be freed */
	struct event *reaper;
	uint64_t next_conn_id;
	int nclients;                /* logged in or logging in */
	int nconns;                  /* all client sockets, for the hard cap */
};

extern struct runtime rt;

/* Monotonic time in seconds. */
double rt_now(void);

#endif
