/*
 * reconnect_loop.c — clients that connect, work and disconnect back to
 * back, counting every failed connection and query. Prints TAP.
 *
 *   reconnect_loop CONNSTR NTHREADS READYFILE STOPFILE MAX_SECONDS
 *
 * Each thread loops: connect, `SELECT 1`, a one-string transaction
 * (BEGIN; INSERT INTO hits ...; COMMIT), disconnect. READYFILE is created
 * once every thread has done a round; the loop ends when STOPFILE appears
 * (or MAX_SECONDS pass).
 * Tests: no connection failed, no query failed, and rounds were done.
 * Expects a table hits (client int, n int) writable by the user.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tap.h"

struct worker {
	int id;
	pthread_t th;
	atomic_int rounds;
	int connect_failed, query_failed;
};

static const char *connstr, *stopfile;
static double max_seconds, t_start;
static atomic_int shown;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(int id, const char *what, const char *msg)
{
	if (atomic_fetch_add(&shown, 1) < 30) {
		printf("# client %d at %.3f s: %s: %s", id, now() - t_start, what, msg);
		fflush(stdout);
	}
}

static bool run(struct worker *w, PGconn *conn, const char *q)
{
	PGresult *r = PQexec(conn, q);
	ExecStatusType st = PQresultStatus(r);
	bool good = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
	if (!good)
		report(w->id, "query failed", r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
	PQclear(r);
	return good;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int n = 0;
	while (access(stopfile, F_OK) != 0 && now() - t_start < max_seconds) {
		PGconn *conn = PQconnectdb(connstr);
		if (PQstatus(conn) != CONNECTION_OK) {
			report(w->id, "connect failed", PQerrorMessage(conn));
			w->connect_failed++;
			PQfinish(conn);
			continue;
		}
		char q[128];
		snprintf(q, sizeof q, "BEGIN; INSERT INTO hits VALUES (%d, %d); COMMIT", w->id, n++);
		if (!run(w, conn, "SELECT 1") || !run(w, conn, q))
			w->query_failed++;
		PQfinish(conn);
		atomic_fetch_add(&w->rounds, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s CONNSTR NTHREADS READYFILE STOPFILE MAX_SECONDS\n", argv[0]);
		return 2;
	}
	connstr = argv[1];
	int n = atoi(argv[2]);
	const char *readyfile = argv[3];
	stopfile = argv[4];
	max_seconds = atof(argv[5]);
	t_start = now();

	struct worker *w = calloc((size_t)n, sizeof *w);
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	}
	bool ready = false;
	while (!ready && now() - t_start < max_seconds) {
		ready = true;
		for (int i = 0; i < n; i++)
			if (atomic_load(&w[i].rounds) < 1)
				ready = false;
		if (!ready) {
			struct timespec ts = { 0, 5 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (ready) {
		FILE *f = fopen(readyfile, "w");
		if (f)
			fclose(f);
	}
	ok(ready, "every client got going");
	int rounds = 0, connect_failed = 0, query_failed = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].th, NULL);
		rounds += atomic_load(&w[i].rounds);
		connect_failed += w[i].connect_failed;
		query_failed += w[i].query_failed;
	}
	diag("%d rounds (connect, two queries, disconnect) done", rounds);
	ok(rounds > 0, "rounds were done (%d)", rounds);
	is_int(connect_failed, 0, "no connection failed");
	is_int(query_failed, 0, "no query failed");
	free(w);
	return done_testing();
}
