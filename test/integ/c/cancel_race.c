/*
 * cancel_race.c — a cancel must never hit another client's query. Prints TAP.
 *
 *   cancel_race CONNSTR_A CONNSTR_B ROUNDS MAX_SECONDS
 *
 * Meant for a pool of one server in transaction mode. Client A, ROUNDS
 * times: sends a short query and cancels it with PQcancel as soon as the
 * query runs (its query may be cancelled, 57014, or may have finished
 * already). The query's first row, larger than PostgreSQL's output buffer,
 * tells A it runs (and makes sure sluice forwards the cancel); it then runs
 * on for 0 to 1 ms, so that PostgreSQL takes the cancel before, at and after
 * the query's end. Client B,
 * meanwhile, runs `SELECT 1` back to back, at least ROUNDS times and until
 * A is done. A and B use different application_names, so that sluice sets
 * B's before each of its transactions on the server A has just left.
 * Tests: both connected; A did its rounds and lost nothing but its own
 * queries; B saw no error at all and its connection is still good; all
 * within MAX_SECONDS.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tap.h"

#define SHOW_MAX 5   /* errors shown in full, per client */

static double deadline;
static int rounds;
static atomic_bool a_done;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait (until the deadline) for the query's results; return the SQLSTATE
 * of its error in st ("" if none). False: no answer in time, or the
 * connection broke. */
static bool results(PGconn *conn, char st[6], char *msg, size_t msglen)
{
	st[0] = 0;
	msg[0] = 0;
	for (;;) {
		while (PQisBusy(conn)) {
			double left = deadline - now();
			if (left <= 0) {
				snprintf(msg, msglen, "no answer before the deadline");
				return false;
			}
			struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };
			if (poll(&p, 1, (int)(left * 1000) + 1) > 0 && !PQconsumeInput(conn)) {
				snprintf(msg, msglen, "%s", PQerrorMessage(conn));
				return false;
			}
		}
		PGresult *r = PQgetResult(conn);
		if (!r)
			return PQstatus(conn) == CONNECTION_OK;
		if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK && !st[0]) {
			const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			snprintf(st, 6, "%s", code ? code : "?????");
			snprintf(msg, msglen, "%s", PQresultErrorMessage(r));
		}
		PQclear(r);
	}
}

struct client {
	const char *name;
	PGconn *conn;
	int done, cancelled, errors, shown;
	bool broken;
};

/* Until A's query has sent something (it runs), or the deadline. */
static void wait_running(struct client *c)
{
	double left = deadline - now();
	struct pollfd p = { .fd = PQsocket(c->conn), .events = POLLIN };
	if (left > 0)
		(void)poll(&p, 1, (int)(left * 1000) + 1);
}

static void note_error(struct client *c, const char *st, const char *msg)
{
	c->errors++;
	if (c->shown++ < SHOW_MAX)
		diag("%s, query %d: %s %s", c->name, c->done, st[0] ? st : "(no SQLSTATE)", msg);
}

static void *run_a(void *arg)
{
	struct client *c = arg;
	PGcancel *cn = PQgetCancel(c->conn);
	char st[6], msg[512], err[256];
	while (cn && c->done < rounds && now() < deadline) {
		/* The query's first row, larger than PostgreSQL's output
		 * buffer, reaches A at once; then it runs on for 0 to 1 ms: the
		 * moment PostgreSQL takes the cancel falls before, at and after
		 * the query's end. */
		char q[128];
		snprintf(q, sizeof q, "SELECT repeat('x', 20000) UNION ALL SELECT pg_sleep(%.5f)::text",
			 0.00005 * (c->done % 21));
		if (!PQsendQuery(c->conn, q)) {
			c->broken = true;
			break;
		}
		wait_running(c);
		if (!PQcancel(cn, err, sizeof err))
			diag("A: PQcancel failed: %s", err);
		bool alive = results(c->conn, st, msg, sizeof msg);
		c->done++;
		if (!alive) {
			c->broken = true;
			note_error(c, st, msg);
			break;
		}
		if (!strcmp(st, "57014"))
			c->cancelled++;
		else if (st[0])
			note_error(c, st, msg);
	}
	PQfreeCancel(cn);
	atomic_store(&a_done, true);
	return NULL;
}

static void *run_b(void *arg)
{
	struct client *c = arg;
	char st[6], msg[512];
	while ((c->done < rounds || !atomic_load(&a_done)) && now() < deadline) {
		if (!PQsendQuery(c->conn, "SELECT 1")) {
			c->broken = true;
			note_error(c, "", PQerrorMessage(c->conn));
			break;
		}
		bool alive = results(c->conn, st, msg, sizeof msg);
		c->done++;
		if (!alive) {
			c->broken = true;
			note_error(c, st, msg);
			break;
		}
		if (st[0])
			note_error(c, st, msg);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s CONNSTR_A CONNSTR_B ROUNDS MAX_SECONDS\n", argv[0]);
		return 2;
	}
	rounds = atoi(argv[3]);
	double t0 = now();
	deadline = t0 + atof(argv[4]);
	struct client a = { .name = "A" }, b = { .name = "B" };
	a.conn = PQconnectdb(argv[1]);
	b.conn = PQconnectdb(argv[2]);
	bool up = ok(PQstatus(a.conn) == CONNECTION_OK, "A connected through sluice");
	if (!up)
		diag("%s", PQerrorMessage(a.conn));
	if (!ok(PQstatus(b.conn) == CONNECTION_OK, "B connected through sluice")) {
		diag("%s", PQerrorMessage(b.conn));
		up = false;
	}
	if (up) {
		pthread_t ta, tb;
		pthread_create(&tb, NULL, run_b, &b);
		pthread_create(&ta, NULL, run_a, &a);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		diag("A: %d rounds, %d of its queries cancelled; B: %d queries; %.1f s",
		     a.done, a.cancelled, b.done, now() - t0);
		ok(a.done == rounds && !a.broken, "A sent %d queries and a cancel for each (%d)", rounds, a.done);
		is_int(a.errors, 0, "A saw no error but its own queries cancelled");
		ok(b.done >= rounds, "B ran at least %d queries while A cancelled (%d)", rounds, b.done);
		is_int(b.errors, 0, "B saw no error: no cancel landed on B's queries or on their setup");
		ok(!b.broken && PQstatus(b.conn) == CONNECTION_OK, "B's connection is still good");
	}
	PQfinish(a.conn);
	PQfinish(b.conn);
	return done_testing();
}
