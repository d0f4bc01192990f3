/*
 * cluster.h — membership of a cluster of sluice instances, coordinated
 * through PostgreSQL (doc/cluster.md): the one coordination connection
 * (libpq, driven without blocking from the event loop), the schema sluice
 * creates and migrates there, this instance's registration and heartbeat,
 * LISTEN/NOTIFY, and the members read back (SHOW PEERS, the metrics, and
 * the peer table cancels are forwarded by).
 *
 * Nothing of it runs without cluster_name. The window logic of the
 * cluster-wide gate lives above it (cluster_gate.c) and reaches the
 * coordination database through cluster_query, hearing of the connection
 * through struct cluster_ops.
 *
 * INTERFACE ROUTINES
 *   cluster_start()          cluster_name set: begin connecting (never blocks)
 *   cluster_stop()           at exit: close, forget the members
 *   cluster_enabled()        is a cluster configured?
 *   cluster_ready()          connected, schema current, LISTEN on: queries run
 *   cluster_set_ops(ops)     the layer above (cluster_gate.c)
 *   cluster_query(sql, n, params, cb, arg)   queue one query; cb gets its
 *                            result, or NULL when it failed or the
 *                            connection was lost (then cb runs before
 *                            ops->lost)
 *   cluster_notify()         NOTIFY the members: read again now
 *   cluster_members(&n)      the members as last read (SHOW PEERS)
 *   cluster_status()         the connection's state, for SHOW and metrics
 *   cluster_value(res, r, f) / cluster_rows_ok(res, nf)   bounded reading
 *                            of what the coordination server answered
 */
#ifndef SLUICE_CLUSTER_H
#define SLUICE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "compiler.h"

#define CLUSTER_MEMBERS_MAX 1000      /* rows read back at most: a hostile server sends no more */
#define CLUSTER_SQL_MAX 4096

struct cluster_member {
	int peer_id;
	bool alive;                  /* a heartbeat within cluster_member_timeout (the server's clock) */
	bool self;
	double age;                  /* seconds since its last heartbeat */
	int pool_total;              /* the sum of its pool sizes */
	char address[256];
	char version[32];
	char started[32], heartbeat[32];   /* UTC, "YYYY-MM-DD HH:MM:SS" */
	char gates[256];             /* "app=closed/12 other=open" */
	char pools[256];             /* "app=20 other=10" */
};

struct cluster_state {
	bool connected;              /* the connection is up and set up */
	bool registered;             /* this instance's row is ours */
	uint64_t connects, losses;   /* counts since start */
	double since;                /* rt_now() of the last change of `connected` */
	char last_error[256];
};

struct cluster_ops {
	void (*connected)(void);     /* up and set up: read the windows */
	void (*changed)(void);       /* a NOTIFY or a heartbeat: read again */
	void (*lost)(void);          /* the connection is gone (queries failed) */
	/* this instance's gates, for its row: "app=closed/12 ..." */
	void (*describe)(char *out, size_t n);
};

typedef void (*cluster_result_fn)(void *arg, const PGresult *res);

bool cluster_enabled(void);
bool cluster_start(void) MUST_CHECK;
void cluster_stop(void);
bool cluster_ready(void);
void cluster_set_ops(const struct cluster_ops *ops);
bool cluster_query(const char *sql, int nparams, const char *const *params,
		   cluster_result_fn cb, void *arg) MUST_CHECK;
void cluster_notify(void);
const struct cluster_member *cluster_members(size_t *n);
const struct cluster_state *cluster_status(void);
/* A value of a result, bounded: "" when the row or field is missing. */
const char *cluster_value(const PGresult *res, int row, int field);
/* The result was rows with at least `fields` fields (at most
 * CLUSTER_MEMBERS_MAX rows read). */
bool cluster_rows_ok(const PGresult *res, int fields);

#endif
