/*
 * pipeline.c — the extended protocol through a transaction-mode pool, with
 * libpq. Prints TAP.
 *
 *   pipeline CONNSTR
 *
 * A second connection (a thread) keeps the pool busy with short queries
 * the whole time, so with a pool of one server every gap in which sluice
 * lets go of the server too early is taken by the other client. On the
 * main connection:
 *   - pipeline mode: several PQsendQueryParams before one PQpipelineSync,
 *     three syncs in flight at once, an error aborting one sync's batch
 *     and not the next, a transaction inside one sync;
 *   - PQsendPrepare / PQsendQueryPrepared of the unnamed statement in one
 *     pipeline;
 *   - PQsendFlushRequest: a result arrives before any sync is sent;
 *   - COPY FROM STDIN of ~1 MB and COPY TO STDOUT of the same rows, which
 *     must come back byte for byte (FNV-1a checksum and length compared);
 *   - PQfn (the function-call message) on int4pl.
 * Expects the tables pipe_t (v int) and copytest (id int, payload text),
 * both empty, writable by the user.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tap.h"

#define RESULT_TIMEOUT 10.0

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The next result, waiting at most RESULT_TIMEOUT s. *timed_out tells a
 * timeout from a NULL that ends a query's results. */
static PGresult *next_result(PGconn *conn, bool *timed_out)
{
	double deadline = now() + RESULT_TIMEOUT;
	*timed_out = false;
	while (PQisBusy(conn)) {
		double left = deadline - now();
		if (left <= 0) {
			*timed_out = true;
			return NULL;
		}
		struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };
		if (poll(&p, 1, (int)(left * 1000) + 1) > 0 && !PQconsumeInput(conn)) {
			*timed_out = true;   /* connection broken: no more results */
			return NULL;
		}
	}
	return PQgetResult(conn);
}

static const char *status_name(PGresult *r, bool timed_out)
{
	if (timed_out)
		return "TIMEOUT";
	return r ? PQresStatus(PQresultStatus(r)) : "NULL";
}

/* One query's result in pipeline mode: its status, the first value, then
 * the NULL that ends it. Returns the status (or -1 on timeout). */
static int pipe_result(PGconn *conn, char *value, size_t n)
{
	bool to;
	PGresult *r = next_result(conn, &to);
	int st = to || !r ? -1 : (int)PQresultStatus(r);
	if (value) {
		value[0] = 0;
		if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
			snprintf(value, n, "%s", PQgetvalue(r, 0, 0));
		else if (r && PQresultStatus(r) == PGRES_FATAL_ERROR)
			snprintf(value, n, "%s", PQresultErrorMessage(r));
	}
	if (!r) {
		if (!to)
			diag("unexpected NULL result");
		else
			diag("timed out waiting for a result: %s", PQerrorMessage(conn));
		return -1;
	}
	if (st == PGRES_PIPELINE_SYNC) {
		PQclear(r);
		return st;
	}
	PQclear(r);
	r = next_result(conn, &to);
	if (r) {
		diag("expected the end of a query's results, got %s", status_name(r, to));
		PQclear(r);
		return -1;
	}
	return to ? -1 : st;
}

/* ---- the busy neighbour ---- */

static atomic_bool stop_busy;
static atomic_int busy_ok, busy_err;
static char busy_pid[32];

static void *busy_main(void *arg)
{
	PGconn *b = PQconnectdb(arg);
	if (PQstatus(b) != CONNECTION_OK) {
		fprintf(stderr, "busy connection failed: %s", PQerrorMessage(b));
		atomic_fetch_add(&busy_err, 1);
		PQfinish(b);
		return NULL;
	}
	while (!atomic_load(&stop_busy)) {
		PGresult *r = PQexec(b, "SELECT pg_backend_pid()");
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			atomic_fetch_add(&busy_ok, 1);
			snprintf(busy_pid, sizeof busy_pid, "%s", PQgetvalue(r, 0, 0));
		} else {
			fprintf(stderr, "busy query failed: %s", PQerrorMessage(b));
			atomic_fetch_add(&busy_err, 1);
		}
		PQclear(r);
	}
	PQfinish(b);
	return NULL;
}

/* ---- tests ---- */

static void test_pipeline(PGconn *conn)
{
	char v[256], want[32];
	ok(PQenterPipelineMode(conn), "entered pipeline mode");

	/* three syncs in flight: 5 queries, sync, 3 queries, sync, 1, sync */
	int batches[3] = { 5, 3, 1 }, k = 0, sent_ok = 1;
	for (int b = 0; b < 3; b++) {
		for (int i = 0; i < batches[b]; i++, k++) {
			char p[16];
			snprintf(p, sizeof p, "%d", k);
			const char *vals[1] = { p };
			sent_ok &= PQsendQueryParams(conn, "SELECT $1::int * 2",
						     1, NULL, vals, NULL, NULL, 0);
		}
		sent_ok &= PQpipelineSync(conn);
	}
	ok(sent_ok && PQflush(conn) == 0, "sent 9 queries under 3 syncs without reading");
	k = 0;
	int right = 0, syncs = 0;
	for (int b = 0; b < 3; b++) {
		for (int i = 0; i < batches[b]; i++, k++) {
			int st = pipe_result(conn, v, sizeof v);
			snprintf(want, sizeof want, "%d", k * 2);
			if (st == PGRES_TUPLES_OK && !strcmp(v, want))
				right++;
			else
				diag("query %d: status %d value '%s', want '%s'", k, st, v, want);
		}
		if (pipe_result(conn, NULL, 0) == PGRES_PIPELINE_SYNC)
			syncs++;
	}
	is_int(right, 9, "all 9 pipelined results are right and in order");
	is_int(syncs, 3, "all 3 syncs answered");

	/* an error aborts the rest of its sync's batch only */
	const char *one[1] = { "1" };
	PQsendQueryParams(conn, "SELECT 1/($1::int - 1)", 1, NULL, one, NULL, NULL, 0);
	PQsendQueryParams(conn, "SELECT 'skipped'", 0, NULL, NULL, NULL, NULL, 0);
	PQpipelineSync(conn);
	PQsendQueryParams(conn, "SELECT 'after'", 0, NULL, NULL, NULL, NULL, 0);
	PQpipelineSync(conn);
	int st = pipe_result(conn, v, sizeof v);
	ok(st == PGRES_FATAL_ERROR && strstr(v, "division by zero"), "error in a pipeline: division by zero");
	bool to;
	PGresult *r = next_result(conn, &to);
	ok(r && PQresultStatus(r) == PGRES_PIPELINE_ABORTED, "the rest of its batch is aborted (%s)",
	   status_name(r, to));
	PQclear(r);
	r = next_result(conn, &to);   /* NULL after the aborted query */
	PQclear(r);
	is_int(pipe_result(conn, NULL, 0), PGRES_PIPELINE_SYNC, "its sync is answered");
	st = pipe_result(conn, v, sizeof v);
	ok(st == PGRES_TUPLES_OK && !strcmp(v, "after"), "the next sync's batch runs normally ('%s')", v);
	is_int(pipe_result(conn, NULL, 0), PGRES_PIPELINE_SYNC, "the next sync is answered");

	/* a transaction inside one sync */
	PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
	PQsendQueryParams(conn, "INSERT INTO pipe_t VALUES (1), (2)", 0, NULL, NULL, NULL, NULL, 0);
	PQsendQueryParams(conn, "INSERT INTO pipe_t SELECT v + 2 FROM pipe_t", 0, NULL, NULL, NULL, NULL, 0);
	PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
	PQsendQueryParams(conn, "SELECT count(*) FROM pipe_t", 0, NULL, NULL, NULL, NULL, 0);
	PQpipelineSync(conn);
	int good = 0;
	for (int i = 0; i < 4; i++)
		good += pipe_result(conn, NULL, 0) == PGRES_COMMAND_OK;
	st = pipe_result(conn, v, sizeof v);
	is_int(good, 4, "BEGIN, two INSERTs, COMMIT in one pipeline sync");
	ok(st == PGRES_TUPLES_OK && !strcmp(v, "4"), "the transaction's rows are there ('%s')", v);
	is_int(pipe_result(conn, NULL, 0), PGRES_PIPELINE_SYNC, "sync after the transaction");

	/* the unnamed statement: prepared and executed twice in one pipeline */
	ok(PQsendPrepare(conn, "", "SELECT $1::text || '-unnamed'", 1, NULL), "PQsendPrepare of the unnamed statement");
	const char *a[1] = { "first" }, *b2[1] = { "second" };
	PQsendQueryPrepared(conn, "", 1, a, NULL, NULL, 0);
	PQsendQueryPrepared(conn, "", 1, b2, NULL, NULL, 0);
	PQpipelineSync(conn);
	is_int(pipe_result(conn, NULL, 0), PGRES_COMMAND_OK, "unnamed Parse succeeded");
	st = pipe_result(conn, v, sizeof v);
	ok(st == PGRES_TUPLES_OK && !strcmp(v, "first-unnamed"), "first execution of the unnamed statement ('%s')", v);
	st = pipe_result(conn, v, sizeof v);
	ok(st == PGRES_TUPLES_OK && !strcmp(v, "second-unnamed"), "second execution of the unnamed statement ('%s')", v);
	is_int(pipe_result(conn, NULL, 0), PGRES_PIPELINE_SYNC, "sync after the unnamed statement");

	/* Flush: the result comes without a sync */
	PQsendQueryParams(conn, "SELECT 41 + 1", 0, NULL, NULL, NULL, NULL, 0);
	ok(PQsendFlushRequest(conn) && PQflush(conn) == 0, "sent a query and a Flush, no sync");
	st = pipe_result(conn, v, sizeof v);
	ok(st == PGRES_TUPLES_OK && !strcmp(v, "42"), "the result arrives before any sync ('%s')", v);
	PQsendQueryParams(conn, "SELECT 'after flush'", 0, NULL, NULL, NULL, NULL, 0);
	PQpipelineSync(conn);
	st = pipe_result(conn, v, sizeof v);
	ok(st == PGRES_TUPLES_OK && !strcmp(v, "after flush"), "a query after the Flush, then a sync ('%s')", v);
	is_int(pipe_result(conn, NULL, 0), PGRES_PIPELINE_SYNC, "sync after the Flush");

	ok(PQexitPipelineMode(conn), "left pipeline mode: %s", PQerrorMessage(conn));
}

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

#define COPY_ROWS 8000

static void test_copy(PGconn *conn)
{
	/* ~1 MB of rows: id, then 120 to 140 bytes of text with a tab escape */
	size_t cap = COPY_ROWS * 200, len = 0;
	char *data = malloc(cap);
	for (int i = 0; i < COPY_ROWS; i++) {
		int plen = 120 + i % 21;
		len += (size_t)snprintf(data + len, cap - len, "%d\t", i);
		for (int j = 0; j < plen; j++)
			data[len++] = (char)('a' + (i * 7 + j) % 26);
		memcpy(data + len, "\\t!\n", 4);   /* an escaped tab in the text */
		len += 4;
	}
	uint64_t sum_in = fnv1a(1469598103934665603ULL, data, len);

	PGresult *r = PQexec(conn, "COPY copytest (id, payload) FROM STDIN");
	if (!ok(PQresultStatus(r) == PGRES_COPY_IN, "COPY FROM STDIN started"))
		diag("%s", PQerrorMessage(conn));
	PQclear(r);
	int put_ok = 1;
	for (size_t off = 0, chunk = 1; off < len; off += chunk, chunk = chunk * 3 % 65521 + 1) {
		if (chunk > len - off)
			chunk = len - off;
		put_ok &= PQputCopyData(conn, data + off, (int)chunk) == 1;
	}
	put_ok &= PQputCopyEnd(conn, NULL) == 1;
	ok(put_ok, "sent %zu bytes of COPY data in uneven chunks", len);
	r = PQgetResult(conn);
	ok(PQresultStatus(r) == PGRES_COMMAND_OK, "COPY FROM finished: %s", PQresultErrorMessage(r));
	char want_tag[32];
	snprintf(want_tag, sizeof want_tag, "COPY %d", COPY_ROWS);
	is_str(PQcmdStatus(r), want_tag, "COPY FROM reports every row");
	PQclear(r);
	while ((r = PQgetResult(conn)))
		PQclear(r);

	r = PQexec(conn, "COPY (SELECT id, payload FROM copytest ORDER BY id) TO STDOUT");
	if (!ok(PQresultStatus(r) == PGRES_COPY_OUT, "COPY TO STDOUT started"))
		diag("%s", PQerrorMessage(conn));
	PQclear(r);
	size_t got = 0;
	uint64_t sum_out = 1469598103934665603ULL;
	bool same = true;
	char *buf;
	int n;
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		if (got + (size_t)n > len || memcmp(buf, data + got, (size_t)n))
			same = false;
		sum_out = fnv1a(sum_out, buf, (size_t)n);
		got += (size_t)n;
		PQfreemem(buf);
	}
	ok(n == -1, "COPY TO STDOUT ended normally");
	r = PQgetResult(conn);
	ok(PQresultStatus(r) == PGRES_COMMAND_OK, "COPY TO finished: %s", PQresultErrorMessage(r));
	PQclear(r);
	while ((r = PQgetResult(conn)))
		PQclear(r);
	is_int(got, len, "COPY TO returned as many bytes as COPY FROM sent");
	ok(sum_out == sum_in && same, "same bytes back (FNV-1a %016llx vs %016llx)",
	   (unsigned long long)sum_out, (unsigned long long)sum_in);
	free(data);
}

static void test_fn(PGconn *conn)
{
	PGresult *r = PQexec(conn, "SELECT 'int4pl'::regproc::oid");
	Oid fn = PQresultStatus(r) == PGRES_TUPLES_OK ? (Oid)strtoul(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	ok(fn != 0, "looked up int4pl's oid (%u)", fn);
	for (int i = 0; i < 3; i++) {
		PQArgBlock args[2];
		args[0].len = 4; args[0].isint = 1; args[0].u.integer = 40 + i;
		args[1].len = 4; args[1].isint = 1; args[1].u.integer = 2;
		int res = 0, reslen = 0;
		r = PQfn(conn, fn, &res, &reslen, 1, args, 2);
		ok(PQresultStatus(r) == PGRES_COMMAND_OK && reslen == 4 && res == 42 + i,
		   "PQfn(int4pl, %d, 2) = %d (%s)", 40 + i, res, PQresultErrorMessage(r));
		PQclear(r);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CONNSTR\n", argv[0]);
		return 2;
	}
	PGconn *conn = PQconnectdb(argv[1]);
	if (!ok(PQstatus(conn) == CONNECTION_OK, "connected through sluice")) {
		diag("%s", PQerrorMessage(conn));
		return done_testing();
	}
	pthread_t busy;
	pthread_create(&busy, NULL, busy_main, argv[1]);
	/* let the neighbour get going before the tests start */
	double deadline = now() + 10;
	while (atomic_load(&busy_ok) < 5 && atomic_load(&busy_err) == 0 && now() < deadline) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	ok(atomic_load(&busy_ok) >= 5, "the busy neighbour runs queries");
	PGresult *r = PQexec(conn, "SELECT pg_backend_pid()");
	char main_pid[32] = "";
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		snprintf(main_pid, sizeof main_pid, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	int before = atomic_load(&busy_ok);
	test_pipeline(conn);
	test_copy(conn);
	test_fn(conn);

	r = PQexec(conn, "SELECT 'still fine'");
	is_str(PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : PQerrorMessage(conn), "still fine",
	       "the connection works after all that");
	PQclear(r);

	atomic_store(&stop_busy, true);
	pthread_join(busy, NULL);
	int during = atomic_load(&busy_ok) - before;
	is_int(atomic_load(&busy_err), 0, "the busy neighbour saw no errors");
	ok(during > 0, "the neighbour was served in between (%d queries)", during);
	is_str(busy_pid, main_pid, "both clients were served by the same backend (pool size 1)");
	PQfinish(conn);
	return done_testing();
}
