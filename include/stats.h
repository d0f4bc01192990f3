/*
 * stats.h — per-database counters with PgBouncer's SHOW STATS meanings,
 * their averages over the last stats_period, and a histogram of how long
 * clients waited for a server connection.
 *
 * INTERFACE ROUTINES
 *   stats_db_get(name)              a database's counters, made on first use
 *                                   (pools keep the pointer)
 *   stats_db_next(d)                walk the databases by name (NULL: first)
 *   stats_db_forget(d)              free d: its database's last pool is gone
 *                                   (a database of the `*` fallback)
 *   stats_start()                   arm the stats_period timer (needs rt.base)
 *   stats_stop()                    disarm it and free every counter set
 *                                   (after the event loop has ended)
 *   stats_period_tick(now)          close the current period: compute the
 *                                   averages (the timer calls it)
 *
 * The hot path (each call a few adds; no allocation):
 *   stats_client_bytes(k, d, n)     n bytes of a client went to its server;
 *                                   a query (and maybe a transaction) starts
 *   stats_server_bytes(d, n)        n bytes of a server went to its client
 *   stats_ready(k, d, status, more) the server sent ReadyForQuery: a query
 *                                   ends, and a transaction with status 'I'
 *   stats_wait(d, seconds)          a client got a server after waiting
 *
 * Meanings (PgBouncer's): a query is one round up to ReadyForQuery, a
 * transaction runs from its first query to a ReadyForQuery with status
 * 'I'; query and transaction times are measured while a server is linked
 * (so they leave out the wait), in microseconds. Received bytes came from
 * clients, sent bytes went to clients.
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "list.h"

/* Upper bounds (seconds) of the wait histogram's buckets; one more bucket
 * above the last bound holds the rest. */
#define STATS_WAIT_NBOUNDS 14
extern const double stats_wait_bounds[STATS_WAIT_NBOUNDS];

struct stats_counters {
	uint64_t xact_count;
	uint64_t query_count;
	uint64_t recv_bytes;     /* from clients */
	uint64_t sent_bytes;     /* to clients */
	uint64_t xact_us;        /* time in transactions */
	uint64_t query_us;       /* time in queries */
	uint64_t wait_us;        /* time clients waited for a server */
};

struct stats_db {
	struct list node;                 /* by name */
	char *name;
	struct stats_counters total;      /* since start */
	struct stats_counters avg;        /* over the last complete period: counts
	                                   * and bytes per second, xact_us and
	                                   * query_us per transaction / query,
	                                   * wait_us per second */
	struct stats_counters mark;       /* total when the current period began */
	uint64_t wait_count;              /* servers handed to clients */
	uint64_t wait_bucket[STATS_WAIT_NBOUNDS + 1];  /* not cumulative */
};

/* Per server connection: when its current query and transaction began
 * (0: none in progress). Zero it when the server gets a new client. */
struct stats_clock {
	double query_start;
	double xact_start;
};

struct stats_db *stats_db_get(const char *name) MUST_CHECK;
struct stats_db *stats_db_next(const struct stats_db *d);
void stats_db_forget(struct stats_db *d);
bool stats_start(void) MUST_CHECK;
void stats_stop(void);
void stats_period_tick(double now);

void stats_client_bytes(struct stats_clock *k, struct stats_db *d, size_t n);
void stats_ready(struct stats_clock *k, struct stats_db *d, char status, bool more);
void stats_wait(struct stats_db *d, double seconds);

static inline void stats_server_bytes(struct stats_db *d, size_t n)
{
	d->total.sent_bytes += n;
}

#endif
