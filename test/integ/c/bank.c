/*
 * bank.c — many concurrent clients moving money between accounts through
 * sluice, single-threaded over async libpq. Prints TAP.
 *
 *   bank CONNSTR NCLIENTS SECONDS NACCOUNTS [RESULTFILE]
 *
 * Opens NCLIENTS connections (at most 50 logins in progress at once), then
 * for SECONDS each runs transfers back to back, each one explicit
 * transaction in one simple Query:
 *   BEGIN; UPDATE accounts ... -x (lower id first); UPDATE ... +x;
 *   INSERT INTO transfers (client, seq, src, dst, amount) ...; COMMIT;
 * The two UPDATEs take their rows in id order, so transfers never
 * deadlock: any error is sluice's. Every result must be COMMAND_OK and the
 * last one COMMIT; any other outcome counts as an error, as does a
 * connection that breaks.
 * Prints the counts as TAP notes, writes "committed N errors E" to
 * RESULTFILE when given, and tests: every client connected, zero errors, every connection still
 * fine at the end, each client committed at least one transfer.
 * The caller compares N with the transfers table and the balance total.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tap.h"

#define MAX_CONNECTING 50

enum cstate { C_NEW, C_CONNECTING, C_IDLE, C_BUSY, C_DEAD };

struct client {
	PGconn *conn;
	enum cstate st;
	PostgresPollingStatusType poll_for;
	int results, seq;
	bool failed, commit_seen, want_write;
	long committed, errors;
	double sent_at;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static long total_errors;
static int errors_shown;

static void report(int i, const char *what, PGconn *conn, PGresult *r)
{
	total_errors++;
	if (errors_shown++ < 10)
		diag("client %d: %s: %s", i, what, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
}

static bool send_transfer(struct client *c, int i, int naccounts)
{
	int a = (int)rnd((unsigned)naccounts) + 1, b;
	do
		b = (int)rnd((unsigned)naccounts) + 1;
	while (b == a);
	int x = (int)rnd(50) + 1;
	int lo = a < b ? a : b, hi = a < b ? b : a;
	int dlo = lo == a ? -x : x;   /* change of the lower id's balance */
	char q[512];
	snprintf(q, sizeof q,
		 "BEGIN; UPDATE accounts SET balance = balance + %d WHERE id = %d; "
		 "UPDATE accounts SET balance = balance + %d WHERE id = %d; "
		 "INSERT INTO transfers (client, seq, src, dst, amount) VALUES (%d, %d, %d, %d, %d); COMMIT;",
		 dlo, lo, -dlo, hi, i, c->seq, a, b, x);
	c->seq++;
	c->results = 0;
	c->failed = false;
	c->commit_seen = false;
	c->sent_at = now();
	if (!PQsendQuery(c->conn, q)) {
		report(i, "PQsendQuery", c->conn, NULL);
		return false;
	}
	c->st = C_BUSY;
	return true;
}

/* Read what arrived; on the last result of a transfer, count it. */
static void on_input(struct client *c, int i)
{
	if (!PQconsumeInput(c->conn)) {
		report(i, "connection broken", c->conn, NULL);
		c->errors++;
		c->st = C_DEAD;
		return;
	}
	while (c->st == C_BUSY && !PQisBusy(c->conn)) {
		PGresult *r = PQgetResult(c->conn);
		if (!r) {
			/* all 5 statements answered */
			if (!c->failed && c->results == 5 && c->commit_seen) {
				c->committed++;
			} else {
				c->errors++;
				if (!c->failed)
					report(i, "incomplete transfer", c->conn, NULL);
			}
			c->st = C_IDLE;
			return;
		}
		c->results++;
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (!c->failed)
				report(i, "transfer failed", c->conn, r);
			c->failed = true;
		} else if (!strcmp(PQcmdStatus(r), "COMMIT")) {
			c->commit_seen = true;
		}
		PQclear(r);
	}
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s CONNSTR NCLIENTS SECONDS NACCOUNTS\n", argv[0]);
		return 2;
	}
	const char *connstr = argv[1];
	int n = atoi(argv[2]), naccounts = atoi(argv[4]);
	double seconds = atof(argv[3]);
	struct client *cl = calloc((size_t)n, sizeof *cl);
	struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
	rng ^= (unsigned long long)getpid() << 20;
	int connected = 0, connecting = 0, conn_failed = 0;

	/* ---- connect, MAX_CONNECTING at a time ---- */
	double t0 = now(), deadline = t0 + 60;
	int next = 0;
	while (connected + conn_failed < n && now() < deadline) {
		while (next < n && connecting < MAX_CONNECTING) {
			struct client *c = &cl[next++];
			c->conn = PQconnectStart(connstr);
			if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
				report(next - 1, "PQconnectStart", c->conn, NULL);
				c->st = C_DEAD;
				conn_failed++;
				continue;
			}
			c->st = C_CONNECTING;
			c->poll_for = PGRES_POLLING_WRITING;
			connecting++;
		}
		int np = 0;
		int idx[MAX_CONNECTING];
		for (int i = 0; i < next; i++) {
			if (cl[i].st != C_CONNECTING)
				continue;
			pfd[np].fd = PQsocket(cl[i].conn);
			pfd[np].events = cl[i].poll_for == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			pfd[np].revents = 0;
			idx[np++] = i;
		}
		if (np == 0)
			continue;
		if (poll(pfd, (nfds_t)np, 100) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < np; k++) {
			if (!pfd[k].revents)
				continue;
			struct client *c = &cl[idx[k]];
			PostgresPollingStatusType ps = PQconnectPoll(c->conn);
			if (ps == PGRES_POLLING_OK) {
				c->st = C_IDLE;
				connecting--;
				connected++;
				PQsetnonblocking(c->conn, 1);
			} else if (ps == PGRES_POLLING_FAILED) {
				report(idx[k], "connect", c->conn, NULL);
				c->st = C_DEAD;
				connecting--;
				conn_failed++;
			} else {
				c->poll_for = ps;
			}
		}
	}
	is_int(connected, n, "all clients connected");
	diag("connected %d clients in %.2f s", connected, now() - t0);

	/* ---- transfers ---- */
	double start = now(), end = start + seconds;
	double slowest = 0;
	bool stopping = false;
	for (;;) {
		double t = now();
		if (t >= end)
			stopping = true;
		int busy = 0;
		for (int i = 0; i < n; i++) {
			struct client *c = &cl[i];
			if (c->st == C_IDLE && !stopping && !send_transfer(c, i, naccounts)) {
				c->errors++;
				c->st = C_DEAD;
			}
			if (c->st == C_BUSY) {
				busy++;
				int f = PQflush(c->conn);
				if (f < 0) {
					report(i, "flush", c->conn, NULL);
					c->errors++;
					c->st = C_DEAD;
				}
				c->want_write = f == 1;
			}
		}
		if (stopping && busy == 0)
			break;
		if (t > end + 60) {
			diag("transfers still unanswered 60 s after the end");
			total_errors++;
			break;
		}
		int np = 0;
		for (int i = 0; i < n; i++) {
			pfd[i].fd = cl[i].st == C_BUSY ? PQsocket(cl[i].conn) : -1;
			pfd[i].events = POLLIN | (cl[i].want_write ? POLLOUT : 0);
			pfd[i].revents = 0;
			np++;
		}
		if (poll(pfd, (nfds_t)np, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct client *c = &cl[i];
			if (c->st != C_BUSY || !(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			double sent = c->sent_at;
			on_input(c, i);
			if (c->st != C_BUSY && now() - sent > slowest)
				slowest = now() - sent;
		}
	}
	double took = now() - start;

	long committed = 0, errors = 0;
	int idle_with_none = 0, healthy = 0;
	for (int i = 0; i < n; i++) {
		committed += cl[i].committed;
		errors += cl[i].errors;
		if (cl[i].committed == 0)
			idle_with_none++;
		if (cl[i].conn && PQstatus(cl[i].conn) == CONNECTION_OK && cl[i].st == C_IDLE)
			healthy++;
	}
	diag("%ld transfers in %.1f s (%.0f/s), slowest %.3f s", committed, took, committed / took, slowest);
	is_int(total_errors, 0, "no client errors");
	is_int(errors, 0, "no failed transfers");
	is_int(healthy, n, "every connection is still fine at the end");
	is_int(idle_with_none, 0, "every client committed at least one transfer");
	printf("# committed %ld errors %ld\n", committed, total_errors);
	if (argc > 5) {
		FILE *f = fopen(argv[5], "w");
		if (f) {
			fprintf(f, "committed %ld errors %ld\n", committed, total_errors);
			fclose(f);
		}
	}
	for (int i = 0; i < n; i++)
		if (cl[i].conn)
			PQfinish(cl[i].conn);
	free(cl);
	free(pfd);
	return done_testing();
}
