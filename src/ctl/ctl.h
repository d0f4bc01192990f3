/*
 * ctl.h — sluicectl, the operator's tool for the migration gate. It is a
 * separate program: libpq toward sluice's admin console, nothing of the
 * pooler linked in.
 *
 * INTERFACE ROUTINES
 *   console.c   console_open / console_close   connect to the console
 *               console_run(ctl, sql, &sig)    one command; stops at a signal
 *               console_error(r, what)         print sluice's error
 *               console_gate(ctl, db, &row)    one row of SHOW GATES
 *               console_config(ctl, key, ...)  one value of SHOW CONFIG
 *               ctl_catch_signals / ctl_signal_fd / ctl_take_signal
 *   commands.c  ctl_pause / ctl_resume / ctl_resume_run / ctl_print_window / ctl_status
 *   migrate.c   ctl_migrate                    pause, run, resume, report
 *   cluster.c   ctl_cluster_pause / ctl_cluster_resume / ctl_cluster_status /
 *               ctl_cluster_summary            the --cluster forms, through
 *               any member, with a summary per member
 *   sluicectl.c main: arguments, help, exit codes
 */
#ifndef SLUICECTL_H
#define SLUICECTL_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* Exit codes; doc/migrations.md and `sluicectl --help` list them. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_REFUSED = 1,        /* sluice answered with an error */
	CTL_EXIT_USAGE = 64,
	CTL_EXIT_UNAVAILABLE = 69,   /* the console cannot be reached, or broke */
	CTL_EXIT_NOT_RESUMED = 70,   /* migrate: command ok, the gate not reopened */
	CTL_EXIT_DRAIN_FAILED = 75,  /* the drain deadline passed: try again later */
	CTL_EXIT_NOT_BYPASS = 78,    /* migrate: the command's route would be held */
	CTL_EXIT_SIGNAL_BASE = 128,
};

/* Where the console is and who logs in: NULL means libpq's default
 * (PGHOST, PGPORT, PGUSER, then its built-in defaults). */
struct ctl {
	const char *host, *port, *user;
	PGconn *conn;
};

/* One row of SHOW GATES, by column name. Text columns stay text. */
struct gate_row {
	bool found;
	char state[16], since[64];
	long long window, held, in_flight, bypass, last_window, last_held, last_errors;
	char last_drain_s[32], last_closed_s[32], last_longest_hold_s[32];
	char schema_before[128], schema_after[128];
	long long cluster_window;    /* the database's latest cluster window; 0: none */
	char cluster_state[16];      /* its state: closing, closed, open, failed */
	char cluster_members[256];   /* each member's report: "1=closed 2=draining" */
};

bool console_open(struct ctl *ctl);
void console_close(struct ctl *ctl);
/* The result of one console command. NULL: the connection broke (said on
 * stderr) or, with sig given, a signal came first (*sig > 0; the command
 * may still be running). */
PGresult *console_run(struct ctl *ctl, const char *sql, int *sig);
/* r is an error (said on stderr with `what`) or NULL: true. */
bool console_error(const PGresult *r, const char *what);
const char *console_sqlstate(const PGresult *r);
/* False: the connection broke or SHOW GATES failed (said on stderr). */
bool console_gate(struct ctl *ctl, const char *db, struct gate_row *row);
bool console_config(struct ctl *ctl, const char *key, char *value, size_t n);

/* Signals for pause and migrate: INT, TERM, HUP (and CHLD) are written to
 * a pipe that console_run and migrate's wait loop poll. */
bool ctl_catch_signals(void);
int ctl_signal_fd(void);
/* The next signal that came (0: none); *from_tty: the terminal sent it to
 * the whole foreground process group. */
int ctl_take_signal(bool *from_tty);
void ctl_default_signals(void);

/* commands.c */
enum pause_result { PAUSE_DONE, PAUSE_REFUSED, PAUSE_DRAIN_FAILED, PAUSE_BROKEN, PAUSE_INTERRUPTED };
/* PAUSE db [TIMEOUT s] (timeout < 0: none given). On PAUSE_DONE *window
 * is the window closed; on PAUSE_INTERRUPTED *sig the signal, and the
 * gate was reopened if this call had closed it. */
enum pause_result ctl_pause(struct ctl *ctl, const char *db, double timeout, long long *window, int *sig);
/* RESUME db [WINDOW n] (window <= 0: any). */
int ctl_resume(struct ctl *ctl, const char *db, long long window, bool quiet_not_paused);
/* Run a RESUME statement `sql` for db (one more try on a new console
 * connection if the old one was dropped); prints only errors. */
int ctl_resume_run(struct ctl *ctl, const char *db, const char *sql, bool quiet_not_paused);
/* RESUME db [CLUSTER] [WINDOW n], and a line saying so: ctl_resume and
 * ctl_cluster_resume. */
int ctl_resume_in(struct ctl *ctl, const char *db, long long window, bool quiet_not_paused,
		  bool cluster);
/* The last finished window's figures; waits up to ~1 s for schema_after. */
void ctl_print_window(struct ctl *ctl, const char *db, long long window);
int ctl_status(struct ctl *ctl, const char *db);
bool ctl_db_name_ok(const char *db);

/* migrate.c */
struct migrate_opts {
	const char *db, *user;
	double timeout;              /* < 0: gate_drain_timeout applies */
	bool no_bypass_check;
	bool cluster;                /* --cluster: the window closes every member */
	char **argv;                 /* the command */
};
int ctl_migrate(struct ctl *ctl, const struct migrate_opts *o);

/* cluster.c: PAUSE db CLUSTER / RESUME db CLUSTER through the member ctl
 * talks to; results as ctl_pause and ctl_resume give them. */
enum pause_result ctl_cluster_pause(struct ctl *ctl, const char *db, double timeout, long long *window, int *sig);
int ctl_cluster_resume(struct ctl *ctl, const char *db, long long window, bool quiet_not_paused);
int ctl_cluster_status(struct ctl *ctl, const char *db);
/* Each member's part in the database's latest cluster window, on stdout. */
void ctl_cluster_summary(struct ctl *ctl, const char *db);

#endif
