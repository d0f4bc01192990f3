/*
 * console.c — sluicectl's side of sluice's admin console: connect with
 * libpq, run one command at a time without blocking signals out, read
 * SHOW GATES and SHOW CONFIG by column name; and the signal pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* ---- signals ---- */

static int sig_pipe[2] = { -1, -1 };

/* One byte per signal: its number, the high bit set when the kernel sent
 * it (a terminal's ^C or ^\ goes to the whole foreground group). */
static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (si && si->si_code == SI_KERNEL)
		b |= 0x80;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* the pipe is full: enough signals are waiting already */
	}
	errno = saved;
}

static const int caught[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };

bool ctl_catch_signals(void)
{
	if (sig_pipe[0] >= 0)
		return true;
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		fprintf(stderr, "sluicectl: pipe: %s\n", strerror(errno));
		return false;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
		sigaction(caught[i], &sa, NULL);
	return true;
}

/* In a forked child before exec: the command gets the usual dispositions. */
void ctl_default_signals(void)
{
	for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
		signal(caught[i], SIG_DFL);
}

int ctl_signal_fd(void)
{
	return sig_pipe[0];
}

int ctl_take_signal(bool *from_tty)
{
	unsigned char b;
	if (sig_pipe[0] < 0 || read(sig_pipe[0], &b, 1) != 1)
		return 0;
	if (from_tty)
		*from_tty = (b & 0x80) != 0;
	return b & 0x7f;
}

/* ---- the connection ---- */

bool console_open(struct ctl *ctl)
{
	const char *keys[8], *vals[8];
	int n = 0;
	if (ctl->host) {
		keys[n] = "host";
		vals[n++] = ctl->host;
	}
	if (ctl->port) {
		keys[n] = "port";
		vals[n++] = ctl->port;
	}
	if (ctl->user) {
		keys[n] = "user";
		vals[n++] = ctl->user;
	}
	/* The console's password may differ from the one the migration's
	 * command uses (PGPASSWORD): SLUICECTL_PASSWORD takes precedence. */
	const char *pw = getenv("SLUICECTL_PASSWORD");
	if (pw && *pw) {
		keys[n] = "password";
		vals[n++] = pw;
	}
	keys[n] = "dbname";
	vals[n++] = "pgbouncer";
	keys[n] = "fallback_application_name";
	vals[n++] = "sluicectl";
	keys[n] = NULL;
	vals[n] = NULL;
	ctl->conn = PQconnectdbParams(keys, vals, 0);
	if (ctl->conn && PQstatus(ctl->conn) == CONNECTION_OK)
		return true;
	const char *msg = ctl->conn ? PQerrorMessage(ctl->conn) : "out of memory\n";
	fprintf(stderr, "sluicectl: cannot log in to the sluice console (database pgbouncer%s%s%s%s%s%s): %s",
		ctl->host ? ", host " : "", ctl->host ? ctl->host : "",
		ctl->port ? ", port " : "", ctl->port ? ctl->port : "",
		ctl->user ? ", user " : "", ctl->user ? ctl->user : "", msg);
	if (!strchr(msg, '\n'))
		fputc('\n', stderr);
	PQfinish(ctl->conn);
	ctl->conn = NULL;
	return false;
}

void console_close(struct ctl *ctl)
{
	PQfinish(ctl->conn);
	ctl->conn = NULL;
}

static void say_broken(struct ctl *ctl)
{
	const char *msg = ctl->conn ? PQerrorMessage(ctl->conn) : "";
	fprintf(stderr, "sluicectl: the connection to the sluice console broke%s%s", *msg ? ": " : "",
		*msg ? msg : "\n");
}

PGresult *console_run(struct ctl *ctl, const char *sql, int *sig)
{
	if (sig)
		*sig = 0;
	if (!ctl->conn || PQstatus(ctl->conn) != CONNECTION_OK || !PQsendQuery(ctl->conn, sql)) {
		say_broken(ctl);
		return NULL;
	}
	PGresult *kept = NULL;   /* the first error, else the last result */
	for (;;) {
		while (!PQisBusy(ctl->conn)) {
			PGresult *r = PQgetResult(ctl->conn);
			if (!r) {
				if (!kept)
					say_broken(ctl);
				return kept;
			}
			if (kept && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
				PQclear(r);
			} else {
				PQclear(kept);
				kept = r;
			}
		}
		struct pollfd pfd[2] = {
			{ .fd = PQsocket(ctl->conn), .events = POLLIN },
			{ .fd = sig ? ctl_signal_fd() : -1, .events = POLLIN },
		};
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "sluicectl: poll: %s\n", strerror(errno));
			PQclear(kept);
			return NULL;
		}
		if (pfd[1].revents & POLLIN) {
			int s;
			while ((s = ctl_take_signal(NULL)) == SIGCHLD)
				;
			if (s) {
				*sig = s;
				PQclear(kept);
				return NULL;
			}
		}
		if ((pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(ctl->conn)) {
			say_broken(ctl);
			PQclear(kept);
			return NULL;
		}
	}
}

const char *console_sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

bool console_error(const PGresult *r, const char *what)
{
	if (!r)
		return true;
	if (PQresultStatus(r) != PGRES_FATAL_ERROR && PQresultStatus(r) != PGRES_NONFATAL_ERROR &&
	    PQresultStatus(r) != PGRES_BAD_RESPONSE)
		return false;
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	fprintf(stderr, "sluicectl: %s: %s\n", what, msg ? msg : PQresultErrorMessage(r));
	if (detail && *detail)
		fprintf(stderr, "%s\n", detail);
	return true;
}

/* ---- reading result sets by column name ---- */

static const char *field(const PGresult *r, int row, const char *col)
{
	int c = PQfnumber(r, col);
	return c < 0 || PQgetisnull(r, row, c) ? "" : PQgetvalue(r, row, c);
}

static void copy_field(const PGresult *r, int row, const char *col, char *out, size_t n)
{
	snprintf(out, n, "%s", field(r, row, col));
}

static long long number_field(const PGresult *r, int row, const char *col)
{
	return strtoll(field(r, row, col), NULL, 10);
}

bool console_gate(struct ctl *ctl, const char *db, struct gate_row *g)
{
	memset(g, 0, sizeof *g);
	PGresult *r = console_run(ctl, "SHOW GATES", NULL);
	if (!r || console_error(r, "SHOW GATES")) {
		PQclear(r);
		return false;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if (strcmp(field(r, i, "database"), db) != 0)
			continue;
		g->found = true;
		copy_field(r, i, "state", g->state, sizeof g->state);
		copy_field(r, i, "since", g->since, sizeof g->since);
		g->window = number_field(r, i, "window");
		g->held = number_field(r, i, "held");
		g->in_flight = number_field(r, i, "in_flight");
		g->bypass = number_field(r, i, "bypass");
		g->last_window = number_field(r, i, "last_window");
		copy_field(r, i, "last_drain_s", g->last_drain_s, sizeof g->last_drain_s);
		copy_field(r, i, "last_closed_s", g->last_closed_s, sizeof g->last_closed_s);
		copy_field(r, i, "last_longest_hold_s", g->last_longest_hold_s, sizeof g->last_longest_hold_s);
		g->last_held = number_field(r, i, "last_held");
		g->last_errors = number_field(r, i, "last_errors");
		copy_field(r, i, "schema_before", g->schema_before, sizeof g->schema_before);
		copy_field(r, i, "schema_after", g->schema_after, sizeof g->schema_after);
		g->cluster_window = number_field(r, i, "cluster_window");
		copy_field(r, i, "cluster_state", g->cluster_state, sizeof g->cluster_state);
		copy_field(r, i, "cluster_members", g->cluster_members, sizeof g->cluster_members);
		break;
	}
	PQclear(r);
	return true;
}

bool console_config(struct ctl *ctl, const char *key, char *value, size_t n)
{
	value[0] = 0;
	PGresult *r = console_run(ctl, "SHOW CONFIG", NULL);
	if (!r || console_error(r, "SHOW CONFIG")) {
		PQclear(r);
		return false;
	}
	for (int i = 0; i < PQntuples(r); i++)
		if (!strcmp(field(r, i, "key"), key))
			copy_field(r, i, "value", value, n);
	PQclear(r);
	return true;
}
