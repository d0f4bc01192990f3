/*
 * runtime.h — the one process-wide context: the running
 * configuration, the registry of pools and the connection reaper.
 *
 * Everything else is owned by a module (pools by pool.c, clients by
 * client.c, ...). The configuration is a value: reload swaps the pointer
 * (lifecycle.c).
 */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include "list.h"
#include "loop.h"

struct loop_ev;
struct config;

/* How the process is stopping (lifecycle.c). */
enum rt_shutdown {
	RT_RUNNING,
	RT_WAIT_SERVERS,   /* SIGINT, SHUTDOWN WAIT_FOR_SERVERS: no new work;
	                    * exit once every server is free */
	RT_WAIT_CLIENTS,   /* SHUTDOWN WAIT_FOR_CLIENTS: not listening;
	                    * exit once the last client has left */
};

struct runtime {
	struct config *cfg;
	struct list pools;           /* struct pool, by pool.c */
	struct list clients;         /* every struct client, by client.c */
	struct list dead;            /* struct conn waiting to be freed */
	struct loop_ev *reaper;
	uint64_t next_conn_id;
	struct list logins;          /* clients not yet authenticated, in accept
	                              * order (login_slots.c) */
	int nlogins;                 /* ...how many: at most max_login_clients */
	int nclients;                /* authenticated: at most max_client_conn */
	int nconns;                  /* all client sockets, for the hard cap */
	enum rt_shutdown shutdown;
	int cli_verbose;             /* -v given on the command line */
	uint64_t passes;             /* loop passes ended (conn_loop) */
};

extern struct runtime rt;

/* Deferred checks: conditions that wait on many objects (a gate drained,
 * a PAUSE or WAIT_CLOSE done, the last client gone for a shutdown) are
 * checked once, at the end of a loop pass, after something that may have
 * completed them happened. The modules above register their checks
 * (lifecycle_init), in order; anything below says rt_kick(), naming no
 * one. At most RT_CHECKS_MAX checks. */
#define RT_CHECKS_MAX 8
typedef void (*rt_check_fn)(void);
bool rt_checks_init(void);
bool rt_check_register(rt_check_fn fn);
void rt_kick(void);
void rt_checks_free(void);

/* Monotonic time in seconds: inside a loop pass, the pass's clock (read
 * once when its wait ended: a transaction asks for the time several
 * times); outside, the clock now. */
static inline double rt_now(void)
{
	return loop_now();
}
/* Wall-clock time in seconds since the epoch (for display). */
double rt_wallclock(void);

#endif
