/*
 * cancel.c — query cancellation through sluice, with libpq. Prints TAP.
 *
 *   cancel CONNSTR [DIRECT_CONNSTR]
 *
 * Runs SELECT pg_sleep(30) asynchronously through CONNSTR, waits until the
 * query runs (with DIRECT_CONNSTR, a superuser connection straight to
 * PostgreSQL, by polling pg_stat_activity; without it, 300 ms of quiet on
 * the socket), sends PQcancel, and expects an error with SQLSTATE 57014
 * within 2 s of the cancel. Then the same connection must still work, and a
 * cancel sent while nothing runs must change nothing.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tap.h"

#define MARKER "/* sluice-cancel-test */"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait until conn has input or deadline passes; false on timeout. */
static bool wait_readable(PGconn *conn, double deadline)
{
	for (;;) {
		double left = deadline - now();
		if (left <= 0)
			return false;
		struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return true;
	}
}

/* Wait for the query's result until deadline; NULL on timeout. */
static PGresult *result_by(PGconn *conn, double deadline)
{
	while (PQisBusy(conn)) {
		if (!wait_readable(conn, deadline))
			return NULL;
		if (!PQconsumeInput(conn))
			return NULL;
	}
	return PQgetResult(conn);
}

static void drain(PGconn *conn)
{
	PGresult *r;
	while ((r = PQgetResult(conn)) != NULL)
		PQclear(r);
}

/* Poll pg_stat_activity on a direct connection until the marked query runs. */
/* Is the query running at PostgreSQL (seen in pg_stat_activity)? Gives up
 * early, false, when `conn` already has an answer. */
static bool wait_query_running_on(const char *direct, PGconn *conn, double timeout);

static bool wait_query_running(const char *direct, double timeout)
{
	return wait_query_running_on(direct, NULL, timeout);
}

static bool wait_query_running_on(const char *direct, PGconn *conn, double timeout)
{
	double deadline = now() + timeout;
	PGconn *d = PQconnectdb(direct);
	bool seen = false;
	/* a loaded machine may refuse a connection for a moment: retry */
	while (PQstatus(d) != CONNECTION_OK && now() < deadline) {
		diag("direct connection failed (retrying): %s", PQerrorMessage(d));
		PQfinish(d);
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		d = PQconnectdb(direct);
	}
	if (PQstatus(d) != CONNECTION_OK) {
		PQfinish(d);
		return false;
	}
	while (!seen && now() < deadline) {
		PGresult *r = PQexec(d, "SELECT count(*) FROM pg_stat_activity "
				     "WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(30) " MARKER "%'");
		seen = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) > 0;
		PQclear(r);
		if (!seen && conn && wait_readable(conn, now()))
			break;   /* answered already: it is not running */
		if (!seen) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	PQfinish(d);
	return seen;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CONNSTR [DIRECT_CONNSTR]\n", argv[0]);
		return 2;
	}
	const char *direct = argc > 2 ? argv[2] : NULL;

	PGconn *conn = PQconnectdb(argv[1]);
	if (!ok(PQstatus(conn) == CONNECTION_OK, "connected through sluice")) {
		diag("%s", PQerrorMessage(conn));
		PQfinish(conn);
		done_testing();
		return 1;
	}

	PGcancel *cn = PQgetCancel(conn);
	char errbuf[256] = "";
	PGresult *r;
	ok(cn != NULL, "got cancel key data");

	/* cancel a running query */
	ok(PQsendQuery(conn, "SELECT pg_sleep(30) " MARKER), "sent SELECT pg_sleep(30)");
	if (direct) {
		ok(wait_query_running(direct, 10), "PostgreSQL runs the query (pg_stat_activity)");
	} else {
		ok(!wait_readable(conn, now() + 0.3), "no reply within 300 ms: the query is running");
	}
	double t0 = now();
	errbuf[0] = 0;
	if (!ok(PQcancel(cn, errbuf, sizeof errbuf), "PQcancel succeeded"))
		diag("%s", errbuf);
	r = result_by(conn, t0 + 2.0);
	double took = now() - t0;
	ok(r != NULL, "result arrived within 2 s of the cancel (%.3f s)", took);
	is_int(r ? (int)PQresultStatus(r) : -1, PGRES_FATAL_ERROR, "the query failed");
	is_str(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL, "57014", "SQLSTATE 57014 (query_canceled)");
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	is_str(msg, "canceling statement due to user request", "PostgreSQL's cancel message");
	PQclear(r);
	if (r)
		drain(conn);

	/* the same connection goes on */
	r = PQexec(conn, "SELECT 1");
	ok(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "SELECT 1 on the same connection works");
	is_str(PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : NULL, "1", "and returns 1");
	PQclear(r);

	/* And a second cancel works too (the key is still routed).
	 * PostgreSQL signals a cancelled backend twice, the process and then
	 * its process group; on a loaded machine the second signal can come
	 * after the first error and cancel the next query at once. A query
	 * cancelled before we cancelled it is sent again. */
	bool running = false, sent = false;
	for (int attempt = 0; attempt < 3 && !running; attempt++) {
		sent = PQsendQuery(conn, "SELECT pg_sleep(30) " MARKER);
		if (!sent)
			break;
		running = direct ? wait_query_running_on(direct, conn, 10) : !wait_readable(conn, now() + 0.3);
		if (running)
			break;
		PGresult *early = result_by(conn, now() + 2.0);
		const char *st = early ? PQresultErrorField(early, PG_DIAG_SQLSTATE) : NULL;
		bool stray = st && !strcmp(st, "57014");
		PQclear(early);
		if (early)
			drain(conn);
		if (!stray)
			break;
		diag("the second query was cancelled before we cancelled it (PostgreSQL's second "
		     "signal); sending it again");
	}
	ok(sent, "sent a second pg_sleep(30)");
	ok(running, direct ? "PostgreSQL runs the second query" : "no reply within 300 ms");
	t0 = now();
	if (!ok(PQcancel(cn, errbuf, sizeof errbuf), "second PQcancel succeeded"))
		diag("%s", errbuf);
	r = result_by(conn, t0 + 2.0);
	is_str(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL, "57014", "second cancel: 57014 within 2 s");
	PQclear(r);
	if (r)
		drain(conn);
	r = PQexec(conn, "SELECT 2");
	is_str(PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : NULL, "2", "connection still works");
	PQclear(r);

	PQfreeCancel(cn);
	PQfinish(conn);
	return done_testing();
}
