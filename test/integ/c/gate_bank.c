/*
 * gate_bank.c — the bank workload of 30-migration-load.t: many clients
 * moving money with named prepared statements (extended protocol, the way
 * drivers such as pgbench -M prepared, asyncpg or JDBC run them) through
 * sluice while migration windows come and go. Single-threaded over async
 * libpq. Prints TAP.
 *
 *   gate_bank CONNSTR NCLIENTS SECONDS NACCOUNTS OUTDIR [CLIENT_BASE]
 *
 * CLIENT_BASE (default 0) is added to the client numbers written to
 * history, so that several drivers (one per sluice of a cluster,
 * 74-cluster-load.t) share the table.
 *
 * Each client prepares four statements once:
 *   begin   BEGIN
 *   move    UPDATE accounts SET balance = balance + $1 WHERE id = $2 RETURNING balance
 *   log     INSERT INTO history (client, seq, src, dst, amount, xact_start, at)
 *           VALUES ($1, $2, $3, $4, $5, now(), clock_timestamp())
 *   commit  COMMIT
 * then, for SECONDS after every client is ready, runs transfers back to
 * back: begin, move (lower id first, so no deadlock), move, log, commit,
 * one statement per round trip. Every result must be what the statement
 * gives (COMMIT's tag, one row per move, whatever the type of balance is
 * by now); anything else counts as an error.
 *
 * Measured per transfer: when its BEGIN was sent and when it was answered
 * (CLOCK_REALTIME, the clock PostgreSQL's clock_timestamp() reads). A held
 * transfer waits at its BEGIN. Files in OUTDIR:
 *   ready    written once every client has connected and prepared
 *   begins   "client seq begin_sent begin_done" of every transfer
 *   result   "committed N errors E"
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "tap.h"

#define MAX_CONNECTING 50

static int client_base;   /* added to the client numbers in history */

enum cstate { C_CONNECTING, C_PREPARING, C_IDLE, C_BUSY, C_DEAD };
enum step { S_BEGIN, S_MOVE1, S_MOVE2, S_LOG, S_COMMIT, S_NSTEPS };

static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
	{ "begin", "BEGIN", 0 },
	{ "move", "UPDATE accounts SET balance = balance + $1 WHERE id = $2 RETURNING balance", 2 },
	{ "log", "INSERT INTO history (client, seq, src, dst, amount, xact_start, at) "
		 "VALUES ($1, $2, $3, $4, $5, now(), clock_timestamp())", 5 },
	{ "commit", "COMMIT", 0 },
};
#define NSTMTS (int)(sizeof stmts / sizeof stmts[0])

struct client {
	PGconn *conn;
	enum cstate st;
	PostgresPollingStatusType poll_for;
	int prepared;                /* statements prepared so far */
	enum step step;
	bool failed, want_write, got_result;
	int seq, src, dst, amount;
	double begin_sent;
	long committed;
};

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static long total_errors;
static FILE *begins_file;

static void report(int i, const char *what, PGconn *conn, const PGresult *r)
{
	if (total_errors++ < 10)
		diag("client %d: %s: %s", i, what, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
}

static void fail(struct client *c, int i, const char *what)
{
	report(i, what, c->conn, NULL);
	c->st = C_DEAD;
}

static bool send_prepare(struct client *c)
{
	c->got_result = false;
	return PQsendPrepare(c->conn, stmts[c->prepared].name, stmts[c->prepared].sql, 0, NULL);
}

/* The statement of the transfer's current step. */
static bool send_step(struct client *c, int i)
{
	char p[5][16];
	const char *v[5] = { p[0], p[1], p[2], p[3], p[4] };
	const char *name;
	int n = 0;
	int lo = c->src < c->dst ? c->src : c->dst, hi = c->src < c->dst ? c->dst : c->src;
	int dlo = lo == c->src ? -c->amount : c->amount;
	switch (c->step) {
	case S_BEGIN:
		name = "begin";
		c->begin_sent = wall();
		break;
	case S_MOVE1:
	case S_MOVE2:
		name = "move";
		snprintf(p[0], sizeof p[0], "%d", c->step == S_MOVE1 ? dlo : -dlo);
		snprintf(p[1], sizeof p[1], "%d", c->step == S_MOVE1 ? lo : hi);
		n = 2;
		break;
	case S_LOG:
		name = "log";
		snprintf(p[0], sizeof p[0], "%d", client_base + i);
		snprintf(p[1], sizeof p[1], "%d", c->seq);
		snprintf(p[2], sizeof p[2], "%d", c->src);
		snprintf(p[3], sizeof p[3], "%d", c->dst);
		snprintf(p[4], sizeof p[4], "%d", c->amount);
		n = 5;
		break;
	default:
		name = "commit";
		break;
	}
	c->got_result = false;
	return PQsendQueryPrepared(c->conn, name, n, n ? v : NULL, NULL, NULL, 0);
}

static bool start_transfer(struct client *c, int i, int naccounts)
{
	c->src = (int)rnd((unsigned)naccounts) + 1;
	do
		c->dst = (int)rnd((unsigned)naccounts) + 1;
	while (c->dst == c->src);
	c->amount = (int)rnd(50) + 1;
	c->seq++;
	c->step = S_BEGIN;
	c->failed = false;
	c->st = C_BUSY;
	return send_step(c, i);
}

/* One result of the current step: is it what that step gives? */
static bool result_ok(const struct client *c, PGresult *r)
{
	if (c->st == C_PREPARING)
		return PQresultStatus(r) == PGRES_COMMAND_OK;
	switch (c->step) {
	case S_MOVE1:
	case S_MOVE2:
		return PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1;
	case S_COMMIT:
		return PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");
	default:
		return PQresultStatus(r) == PGRES_COMMAND_OK;
	}
}

/* The current statement is answered: the next one, or the transfer is done. */
static void step_done(struct client *c, int i, int naccounts, bool stopping)
{
	if (c->st == C_PREPARING) {
		if (++c->prepared < NSTMTS) {
			if (!send_prepare(c))
				fail(c, i, "PQsendPrepare");
		} else {
			c->st = C_IDLE;
		}
		return;
	}
	if (c->step == S_BEGIN)
		fprintf(begins_file, "%d %d %.6f %.6f\n", i, c->seq, c->begin_sent, wall());
	if (c->failed) {
		/* end the transaction the failure left open, then go on */
		PGresult *r = PQexec(c->conn, "ROLLBACK");
		PQclear(r);
		c->st = C_IDLE;
		return;
	}
	if (c->step == S_COMMIT) {
		c->committed++;
		c->st = C_IDLE;
		if (!stopping && !start_transfer(c, i, naccounts))
			fail(c, i, "PQsendQueryPrepared");
		return;
	}
	c->step++;
	if (!send_step(c, i))
		fail(c, i, "PQsendQueryPrepared");
}

static void on_input(struct client *c, int i, int naccounts, bool stopping)
{
	if (!PQconsumeInput(c->conn)) {
		fail(c, i, "connection broken");
		return;
	}
	while ((c->st == C_BUSY || c->st == C_PREPARING) && !PQisBusy(c->conn)) {
		PGresult *r = PQgetResult(c->conn);
		if (!r) {
			if (!c->got_result) {
				fail(c, i, "no result");
				return;
			}
			step_done(c, i, naccounts, stopping);
			continue;
		}
		c->got_result = true;
		if (!result_ok(c, r)) {
			if (!c->failed)
				report(i, c->st == C_PREPARING ? "prepare" : "transfer", c->conn, r);
			c->failed = true;
			if (c->st == C_PREPARING)
				c->st = C_DEAD;
		}
		PQclear(r);
	}
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s CONNSTR NCLIENTS SECONDS NACCOUNTS OUTDIR\n", argv[0]);
		return 2;
	}
	const char *connstr = argv[1], *outdir = argv[5];
	int n = atoi(argv[2]), naccounts = atoi(argv[4]);
	double seconds = atof(argv[3]);
	client_base = argc > 6 ? atoi(argv[6]) : 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/begins", outdir);
	begins_file = fopen(path, "w");
	if (!begins_file) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 2;
	}
	struct client *cl = calloc((size_t)n, sizeof *cl);
	struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
	if (!cl || !pfd)
		return 2;

	/* ---- connect (MAX_CONNECTING at a time) and prepare ---- */
	double t0 = wall(), deadline = t0 + 60;
	int next = 0, ready = 0, dead = 0, connecting = 0;
	while (ready + dead < n && wall() < deadline) {
		while (next < n && connecting < MAX_CONNECTING) {
			struct client *c = &cl[next++];
			c->conn = PQconnectStart(connstr);
			if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
				fail(c, next - 1, "PQconnectStart");
				dead++;
				continue;
			}
			c->st = C_CONNECTING;
			c->poll_for = PGRES_POLLING_WRITING;
			connecting++;
		}
		for (int i = 0; i < n; i++) {
			struct client *c = &cl[i];
			pfd[i].fd = i < next && (c->st == C_CONNECTING || c->st == C_PREPARING) ? PQsocket(c->conn) : -1;
			pfd[i].events = c->st == C_CONNECTING && c->poll_for == PGRES_POLLING_WRITING ? POLLOUT : POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < next; i++) {
			struct client *c = &cl[i];
			if (!pfd[i].revents)
				continue;
			if (c->st == C_CONNECTING) {
				PostgresPollingStatusType ps = PQconnectPoll(c->conn);
				if (ps == PGRES_POLLING_OK) {
					connecting--;
					PQsetnonblocking(c->conn, 1);
					c->st = C_PREPARING;
					if (!send_prepare(c))
						fail(c, i, "PQsendPrepare");
				} else if (ps == PGRES_POLLING_FAILED) {
					connecting--;
					fail(c, i, "connect");
				} else {
					c->poll_for = ps;
				}
			} else if (c->st == C_PREPARING) {
				on_input(c, i, naccounts, true);
			}
			if (c->st == C_IDLE)
				ready++;
			else if (c->st == C_DEAD)
				dead++;
		}
	}
	is_int(ready, n, "every client connected and prepared its statements");
	diag("%d clients ready in %.2f s", ready, wall() - t0);
	write_file(outdir, "ready", "ready\n");

	/* ---- transfers ---- */
	double start = wall(), end = start + seconds;
	for (int i = 0; i < n; i++)
		if (cl[i].st == C_IDLE && !start_transfer(&cl[i], i, naccounts))
			fail(&cl[i], i, "PQsendQueryPrepared");
	for (;;) {
		double t = wall();
		bool stopping = t >= end;
		int busy = 0;
		for (int i = 0; i < n; i++) {
			struct client *c = &cl[i];
			if (c->st == C_IDLE && !stopping && !start_transfer(c, i, naccounts))
				fail(c, i, "PQsendQueryPrepared");
			pfd[i].fd = -1;
			if (c->st != C_BUSY)
				continue;
			busy++;
			int f = PQflush(c->conn);
			if (f < 0) {
				fail(c, i, "flush");
				continue;
			}
			pfd[i].fd = PQsocket(c->conn);
			pfd[i].events = POLLIN | (f == 1 ? POLLOUT : 0);
			pfd[i].revents = 0;
		}
		if (stopping && busy == 0)
			break;
		if (t > end + 60) {
			diag("transfers still unanswered 60 s after the end");
			total_errors++;
			break;
		}
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++)
			if (cl[i].st == C_BUSY && (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				on_input(&cl[i], i, naccounts, stopping);
	}
	double took = wall() - start;
	fclose(begins_file);

	long committed = 0;
	int healthy = 0, none = 0;
	for (int i = 0; i < n; i++) {
		committed += cl[i].committed;
		none += cl[i].committed == 0;
		healthy += cl[i].conn && PQstatus(cl[i].conn) == CONNECTION_OK && cl[i].st == C_IDLE;
	}
	diag("%ld transfers in %.1f s (%.0f/s)", committed, took, committed / took);
	is_int(total_errors, 0, "no client errors");
	is_int(healthy, n, "every connection is still fine at the end");
	is_int(none, 0, "every client committed transfers");
	char line[128];
	snprintf(line, sizeof line, "committed %ld errors %ld\n", committed, total_errors);
	write_file(outdir, "result", line);
	for (int i = 0; i < n; i++)
		PQfinish(cl[i].conn);
	free(cl);
	free(pfd);
	return done_testing();
}
