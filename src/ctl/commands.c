/*
 * commands.c — sluicectl pause, resume and status, and the window summary
 * migrate prints too.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "sqlstate.h"

/* The console splits commands at blanks and semicolons, with no quoting. */
bool ctl_db_name_ok(const char *db)
{
	if (!db || !*db || strlen(db) > 63)
		return false;
	for (const char *p = db; *p; p++)
		if (*p == ';' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\'' || *p == '"')
			return false;
	return true;
}

/* A signal came while PAUSE waited for the drain. If this PAUSE opened the
 * window, close it again from a second connection (the first one waits). */
static void undo_pause(struct ctl *ctl, const char *db, bool ours)
{
	if (!ours) {
		fprintf(stderr, "sluicectl: interrupted; the window of %s was not opened by us and stays\n", db);
		return;
	}
	struct ctl second = { .host = ctl->host, .port = ctl->port, .user = ctl->user };
	struct gate_row g;
	if (!console_open(&second) || !console_gate(&second, db, &g)) {
		fprintf(stderr, "sluicectl: interrupted; could not reopen the gate of %s: RESUME it by hand "
			"(gate_max_pause reopens it in the end)\n", db);
		console_close(&second);
		return;
	}
	if (g.found && strcmp(g.state, "open") != 0)
		ctl_resume(&second, db, g.window, true);
	else
		fprintf(stderr, "sluicectl: interrupted; the gate of %s is open\n", db);
	console_close(&second);
}

enum pause_result ctl_pause(struct ctl *ctl, const char *db, double timeout, long long *window, int *sig)
{
	struct gate_row g;
	*window = 0;
	if (!console_gate(ctl, db, &g))
		return PAUSE_BROKEN;
	bool ours = !g.found || !strcmp(g.state, "open");
	char sql[160];
	if (timeout >= 0)
		snprintf(sql, sizeof sql, "PAUSE %s TIMEOUT %g", db, timeout);
	else
		snprintf(sql, sizeof sql, "PAUSE %s", db);
	PGresult *r = console_run(ctl, sql, sig);
	if (!r && *sig) {
		fprintf(stderr, "sluicectl: %s while PAUSE %s waited for transactions to end\n",
			strsignal(*sig), db);
		undo_pause(ctl, db, ours);
		return PAUSE_INTERRUPTED;
	}
	if (!r)
		return PAUSE_BROKEN;
	if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
		bool drain = !strcmp(console_sqlstate(r), SQLSTATE_LOCK_NOT_AVAILABLE);
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
		fprintf(stderr, "sluicectl: %s\n", msg ? msg : PQresultErrorMessage(r));
		if (drain && detail && *detail)
			fprintf(stderr, "sluicectl: still running at the deadline:\n%s\n", detail);
		else if (detail && *detail)
			fprintf(stderr, "%s\n", detail);
		PQclear(r);
		return drain ? PAUSE_DRAIN_FAILED : PAUSE_REFUSED;
	}
	PQclear(r);
	if (!console_gate(ctl, db, &g))
		return PAUSE_BROKEN;
	if (!g.found || strcmp(g.state, "closed") != 0) {
		fprintf(stderr, "sluicectl: PAUSE %s returned but the gate is %s now\n", db,
			g.found ? g.state : "gone");
		return PAUSE_REFUSED;
	}
	*window = g.window;
	if (!ours)
		fprintf(stderr, "sluicectl: %s was already paused: joined window %lld\n", db, g.window);
	return PAUSE_DONE;
}

int ctl_resume_run(struct ctl *ctl, const char *db, const char *sql, bool quiet_not_paused)
{
	PGresult *r = console_run(ctl, sql, NULL);
	if (!r && ctl->conn) {
		/* the console connection may have been dropped during a long
		 * command: one new connection, one more try */
		fprintf(stderr, "sluicectl: connecting to the console again to resume %s\n", db);
		console_close(ctl);
		if (console_open(ctl))
			r = console_run(ctl, sql, NULL);
	}
	if (!r)
		return CTL_EXIT_UNAVAILABLE;
	int rc = CTL_EXIT_OK;
	if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
		if (!(quiet_not_paused && !strcmp(console_sqlstate(r), SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE)))
			console_error(r, sql);
		rc = CTL_EXIT_REFUSED;
	}
	PQclear(r);
	return rc;
}

int ctl_resume_in(struct ctl *ctl, const char *db, long long window, bool quiet_not_paused,
		  bool cluster)
{
	const char *scope = cluster ? " CLUSTER" : "";
	char sql[160];
	if (window > 0)
		snprintf(sql, sizeof sql, "RESUME %s%s WINDOW %lld", db, scope, window);
	else
		snprintf(sql, sizeof sql, "RESUME %s%s", db, scope);
	int rc = ctl_resume_run(ctl, db, sql, quiet_not_paused);
	if (rc != CTL_EXIT_OK)
		return rc;
	const char *where = cluster ? " on every member" : "";
	if (window > 0)
		fprintf(stderr, "sluicectl: %s resumed%s (%swindow %lld)\n", db, where,
			cluster ? "cluster " : "", window);
	else
		fprintf(stderr, "sluicectl: %s resumed%s\n", db, where);
	return rc;
}

int ctl_resume(struct ctl *ctl, const char *db, long long window, bool quiet_not_paused)
{
	return ctl_resume_in(ctl, db, window, quiet_not_paused, false);
}

static const char *or_unknown(const char *s)
{
	return s && *s ? s : "?";
}

/* SHOW GATES fills schema_after once it has read the version after the
 * window; give it about a second. */
void ctl_print_window(struct ctl *ctl, const char *db, long long window)
{
	struct gate_row g;
	for (int i = 0; i < 20; i++) {
		if (!console_gate(ctl, db, &g))
			return;
		if (g.found && g.last_window == window && g.schema_after[0])
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (!g.found || g.last_window != window) {
		printf("window %lld of %s: no summary (the last finished window is %lld)\n", window, db,
		       g.found ? g.last_window : 0);
		fflush(stdout);
		return;
	}
	printf("window %lld of %s:\n"
	       "  drain time    %s s\n"
	       "  closed time   %s s\n"
	       "  held clients  %lld\n"
	       "  longest hold  %s s\n"
	       "  errors        %lld\n"
	       "  schema        %s -> %s\n",
	       window, db, or_unknown(g.last_drain_s), or_unknown(g.last_closed_s), g.last_held,
	       or_unknown(g.last_longest_hold_s), g.last_errors, or_unknown(g.schema_before),
	       or_unknown(g.schema_after));
	fflush(stdout);
}

static const char *col(const PGresult *r, int row, const char *name)
{
	int c = PQfnumber(r, name);
	return c < 0 ? "" : PQgetvalue(r, row, c);
}

int ctl_status(struct ctl *ctl, const char *db)
{
	PGresult *r = console_run(ctl, "SHOW GATES", NULL);
	if (!r)
		return CTL_EXIT_UNAVAILABLE;
	if (console_error(r, "SHOW GATES")) {
		PQclear(r);
		return CTL_EXIT_REFUSED;
	}
	int shown = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *name = col(r, i, "database");
		if (db && strcmp(name, db) != 0)
			continue;
		if (shown++ == 0)
			printf("%-20s %-9s %-23s %7s %6s %9s %6s\n", "database", "state", "since", "window", "held",
			       "in_flight", "bypass");
		printf("%-20s %-9s %-23s %7s %6s %9s %6s\n", name, col(r, i, "state"), col(r, i, "since"),
		       col(r, i, "window"), col(r, i, "held"), col(r, i, "in_flight"), col(r, i, "bypass"));
		if (strtoll(col(r, i, "last_window"), NULL, 10) > 0)
			printf("  last window %s: drain %s s, closed %s s, held %s, longest hold %s s, errors %s, "
			       "schema %s -> %s\n",
			       col(r, i, "last_window"), or_unknown(col(r, i, "last_drain_s")),
			       or_unknown(col(r, i, "last_closed_s")), col(r, i, "last_held"),
			       or_unknown(col(r, i, "last_longest_hold_s")), col(r, i, "last_errors"),
			       or_unknown(col(r, i, "schema_before")), or_unknown(col(r, i, "schema_after")));
	}
	PQclear(r);
	if (db && !shown) {
		printf("%s: no gate (no client has used this database since sluice started, or there is no such database)\n", db);
		return CTL_EXIT_OK;
	}
	if (!shown)
		printf("no gates yet (the gate of a database appears once a client uses it)\n");
	return CTL_EXIT_OK;
}
