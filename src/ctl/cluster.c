/*
 * cluster.c — sluicectl's --cluster forms: pause, resume, status and
 * migrate act on every member of a sluice cluster through the one member
 * sluicectl talks to (PAUSE db CLUSTER, RESUME db CLUSTER), and print a
 * line per member (doc/cluster.md).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "sqlstate.h"

static const char *col(const PGresult *r, int row, const char *name)
{
	int c = PQfnumber(r, name);
	return c < 0 || PQgetisnull(r, row, c) ? "" : PQgetvalue(r, row, c);
}

/* The report of peer id in "1=closed 2=draining"; "" none. */
static void report_of(const char *members, const char *id, char *out, size_t n)
{
	size_t idlen = strlen(id);
	out[0] = 0;
	for (const char *p = members; p && *p;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		if (len > idlen && !strncmp(p, id, idlen) && p[idlen] == '=') {
			snprintf(out, n, "%.*s", (int)(len - idlen - 1), p + idlen + 1);
			return;
		}
		p += len;
	}
}

void ctl_cluster_summary(struct ctl *ctl, const char *db)
{
	struct gate_row g;
	if (!console_gate(ctl, db, &g))
		return;
	PGresult *r = console_run(ctl, "SHOW PEERS", NULL);
	if (!r || console_error(r, "SHOW PEERS")) {
		PQclear(r);
		return;
	}
	if (g.cluster_window)
		printf("cluster window %lld of %s: %s\n", g.cluster_window, db, g.cluster_state);
	else
		printf("%s: no cluster window yet\n", db);
	printf("  %-7s %-40s %-6s %-10s %s\n", "peer", "address", "state", "part", "pool_size");
	for (int i = 0; i < PQntuples(r); i++) {
		char part[32];
		const char *id = col(r, i, "peer_id"), *state = col(r, i, "state");
		report_of(g.cluster_members, id, part, sizeof part);
		printf("  %-7s %-40s %-6s %-10s %s\n", id, col(r, i, "address"), state,
		       *part ? part : !strcmp(state, "dead") ? "left out" : "-", col(r, i, "pool_size_total"));
	}
	if (PQntuples(r) > 0)
		printf("  pool sizes summed over the live members: %s (limits are per member)\n",
		       col(r, 0, "cluster_pool_size_total"));
	PQclear(r);
	fflush(stdout);
}

/* A signal came while PAUSE ... CLUSTER waited: end the window this call
 * opened, from a second connection (the first one waits). */
static void undo_pause(struct ctl *ctl, const char *db, long long before)
{
	struct ctl second = { .host = ctl->host, .port = ctl->port, .user = ctl->user };
	struct gate_row g;
	if (!console_open(&second) || !console_gate(&second, db, &g)) {
		fprintf(stderr, "sluicectl: interrupted; could not end the cluster window of %s: run "
			"`sluicectl resume %s --cluster` (the window ends at its deadline in the end)\n", db, db);
		console_close(&second);
		return;
	}
	bool active = !strcmp(g.cluster_state, "closing") || !strcmp(g.cluster_state, "closed");
	if (active && g.cluster_window != before)
		ctl_cluster_resume(&second, db, g.cluster_window, true);
	else
		fprintf(stderr, "sluicectl: interrupted; no cluster window of ours is open for %s\n", db);
	console_close(&second);
}

enum pause_result ctl_cluster_pause(struct ctl *ctl, const char *db, double timeout, long long *window,
				    int *sig)
{
	struct gate_row g;
	*window = 0;
	if (!console_gate(ctl, db, &g))
		return PAUSE_BROKEN;
	long long before = g.cluster_window;
	char sql[160];
	if (timeout >= 0)
		snprintf(sql, sizeof sql, "PAUSE %s CLUSTER TIMEOUT %g", db, timeout);
	else
		snprintf(sql, sizeof sql, "PAUSE %s CLUSTER", db);
	PGresult *r = console_run(ctl, sql, sig);
	if (!r && *sig) {
		fprintf(stderr, "sluicectl: %s while PAUSE %s CLUSTER waited for the members\n", strsignal(*sig), db);
		undo_pause(ctl, db, before);
		return PAUSE_INTERRUPTED;
	}
	if (!r)
		return PAUSE_BROKEN;
	if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
		bool drain = !strcmp(console_sqlstate(r), SQLSTATE_LOCK_NOT_AVAILABLE);
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
		fprintf(stderr, "sluicectl: %s\n", msg ? msg : PQresultErrorMessage(r));
		if (detail && *detail)
			fprintf(stderr, "sluicectl: each member's report:\n%s\n", detail);
		PQclear(r);
		return drain ? PAUSE_DRAIN_FAILED : PAUSE_REFUSED;
	}
	PQclear(r);
	/* the member's view of the window follows its coordination
	 * database's: give it a moment to read what its PAUSE did */
	for (int i = 0; i < 40; i++) {
		if (!console_gate(ctl, db, &g))
			return PAUSE_BROKEN;
		if (!strcmp(g.cluster_state, "closed"))
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (strcmp(g.cluster_state, "closed") != 0) {
		fprintf(stderr, "sluicectl: PAUSE %s CLUSTER returned but the cluster window is %s now\n", db,
			*g.cluster_state ? g.cluster_state : "gone");
		return PAUSE_REFUSED;
	}
	*window = g.cluster_window;
	return PAUSE_DONE;
}

int ctl_cluster_resume(struct ctl *ctl, const char *db, long long window, bool quiet_not_paused)
{
	return ctl_resume_in(ctl, db, window, quiet_not_paused, true);
}

int ctl_cluster_status(struct ctl *ctl, const char *db)
{
	PGresult *r = console_run(ctl, "SHOW PEERS", NULL);
	if (!r)
		return CTL_EXIT_UNAVAILABLE;
	if (console_error(r, "SHOW PEERS")) {
		PQclear(r);
		return CTL_EXIT_REFUSED;
	}
	printf("%-7s %-40s %-6s %-19s %-9s %s\n", "peer", "address", "state", "last heartbeat", "pool_size",
	       "gates");
	for (int i = 0; i < PQntuples(r); i++)
		printf("%-7s %-40s %-6s %-19s %-9s %s\n", col(r, i, "peer_id"), col(r, i, "address"),
		       col(r, i, "state"), col(r, i, "last_heartbeat"), col(r, i, "pool_size_total"),
		       col(r, i, "gates"));
	if (PQntuples(r) > 0)
		printf("pool sizes summed over the live members: %s (limits are per member)\n",
		       col(r, 0, "cluster_pool_size_total"));
	else
		printf("no members: this sluice is in no cluster, or has not reached the coordination database\n");
	PQclear(r);
	if (db)
		ctl_cluster_summary(ctl, db);
	return CTL_EXIT_OK;
}
