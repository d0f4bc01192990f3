/*
 * loadloop.c — clients that keep querying through sluice while something
 * goes wrong underneath, and must come through it. Prints TAP.
 *
 *   loadloop CONNSTR NCONN READYFILE STOPFILE FINAL_N MAX_ERRORS MAX_SECONDS
 *
 * NCONN threads, one connection each, run short work back to back:
 * `SELECT 1` and a one-string transaction
 * (BEGIN; INSERT INTO hits ...; COMMIT). An error is counted and the
 * client just goes on with the same PGconn; it never reconnects. Once
 * every client has succeeded a few times READYFILE is created; when
 * STOPFILE appears (or MAX_SECONDS pass) each client runs FINAL_N more
 * queries, which must all succeed.
 * Tests: every client connected; no connection went bad; at most
 * MAX_ERRORS errors in all; every final query succeeded.
 * Expects a table hits (client int, n int) writable by the user.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tap.h"

struct worker {
	int id;
	pthread_t th;
	PGconn *conn;
	bool connected, went_bad;
	atomic_int ok;
	int errors, final_ok, final_bad;
};

static const char *connstr, *stopfile;
static int final_n;
static double max_seconds, t_start;
static atomic_int shown;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool run_one(struct worker *w, int n, bool final)
{
	char q[160];
	if (n % 2)
		snprintf(q, sizeof q, "SELECT 1");
	else
		snprintf(q, sizeof q, "BEGIN; INSERT INTO hits VALUES (%d, %d); COMMIT", w->id, n);
	PGresult *r = PQexec(w->conn, q);
	ExecStatusType st = PQresultStatus(r);
	bool good = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
	if (!good && atomic_fetch_add(&shown, 1) < 30) {
		const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		printf("# client %d%s at %.2f s: %s %s", w->id, final ? " (final)" : "", now() - t_start,
		       code ? code : "-", r ? PQresultErrorMessage(r) : PQerrorMessage(w->conn));
		fflush(stdout);
	}
	PQclear(r);
	return good;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->conn = PQconnectdb(connstr);
	if (PQstatus(w->conn) != CONNECTION_OK) {
		printf("# client %d: connect failed: %s", w->id, PQerrorMessage(w->conn));
		return NULL;
	}
	w->connected = true;
	int n = 0;
	while (access(stopfile, F_OK) != 0 && now() - t_start < max_seconds) {
		if (run_one(w, n++, false))
			atomic_fetch_add(&w->ok, 1);
		else
			w->errors++;
		if (PQstatus(w->conn) == CONNECTION_BAD) {
			w->went_bad = true;
			return NULL;
		}
	}
	for (int i = 0; i < final_n; i++) {
		if (run_one(w, n++, true))
			w->final_ok++;
		else
			w->final_bad++;
		if (PQstatus(w->conn) == CONNECTION_BAD) {
			w->went_bad = true;
			return NULL;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: %s CONNSTR NCONN READYFILE STOPFILE FINAL_N MAX_ERRORS MAX_SECONDS\n", argv[0]);
		return 2;
	}
	connstr = argv[1];
	int n = atoi(argv[2]);
	const char *readyfile = argv[3];
	stopfile = argv[4];
	final_n = atoi(argv[5]);
	int max_errors = atoi(argv[6]);
	max_seconds = atof(argv[7]);
	t_start = now();

	struct worker *w = calloc((size_t)n, sizeof *w);
	for (int i = 0; i < n; i++) {
		w[i].id = i;
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	}
	/* ready once every client has succeeded 3 times */
	bool ready = false;
	while (!ready && now() - t_start < max_seconds) {
		ready = true;
		for (int i = 0; i < n; i++)
			if (atomic_load(&w[i].ok) < 3)
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
	for (int i = 0; i < n; i++)
		pthread_join(w[i].th, NULL);

	int connected = 0, bad = 0, errors = 0, final_ok = 0, final_bad = 0, total_ok = 0;
	for (int i = 0; i < n; i++) {
		connected += w[i].connected;
		bad += w[i].went_bad;
		errors += w[i].errors;
		final_ok += w[i].final_ok;
		final_bad += w[i].final_bad;
		total_ok += atomic_load(&w[i].ok);
		if (w[i].conn)
			PQfinish(w[i].conn);
	}
	diag("%d queries succeeded, %d failed during the run; final phase %d ok, %d failed",
	     total_ok, errors, final_ok, final_bad);
	is_int(connected, n, "every client connected");
	is_int(bad, 0, "no client connection went bad (CONNECTION_BAD)");
	ok(errors <= max_errors, "at most %d errors during the run (%d)", max_errors, errors);
	is_int(final_ok, n * final_n, "every final query succeeded");
	free(w);
	return done_testing();
}
