/*
 * sluicectl.c — the command line: arguments, help, and which command runs.
 * The commands talk to sluice's admin console (database pgbouncer) with
 * libpq; see doc/migrations.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char help_text[] =
	"sluicectl — the migration gate of a sluice pooler, from the command line\n"
	"\n"
	"usage:\n"
	"  sluicectl [-h HOST] [-p PORT] [-U USER] pause DB [--cluster] [--timeout S]\n"
	"  sluicectl [-h HOST] [-p PORT] [-U USER] resume DB [--cluster] [--window N]\n"
	"  sluicectl [-h HOST] [-p PORT] [-U USER] status [DB] [--cluster]\n"
	"  sluicectl [-h HOST] [-p PORT] [-U USER] migrate DB [--cluster] [--timeout S]\n"
	"            [--user U] [--no-bypass-check] -- COMMAND [ARGS...]\n"
	"\n"
	"  pause    close DB's gate: wait until the transactions in flight end (at most\n"
	"           S seconds; default: sluice's gate_drain_timeout; 0: no deadline);\n"
	"           new transactions are held meanwhile and until resume\n"
	"  resume   open DB's gate (only window N, if given); held transactions go on\n"
	"  status   every gate (or DB's): state, held clients, the last window\n"
	"  migrate  pause DB, run COMMAND through the bypass route, resume DB whatever\n"
	"           the command's outcome (also on SIGINT, SIGTERM or SIGHUP, which are\n"
	"           passed on to the command), print the window's summary, exit with the\n"
	"           command's status. COMMAND gets DATABASE_URL, PGHOST, PGPORT,\n"
	"           PGDATABASE, PGUSER (--user, default $PGUSER; a user in sluice's\n"
	"           gate_bypass_users) and PGAPPNAME=sluicectl-migrate; PGPASSWORD passes\n"
	"           through and goes into DATABASE_URL when set\n"
	"  --cluster  act on every member of HOST's sluice cluster (cluster_name): the\n"
	"           window is the cluster's (PAUSE DB CLUSTER), and a line per member is\n"
	"           printed (peer, address, alive or dead, its part in the window)\n"
	"\n"
	"The console: database pgbouncer on HOST:PORT as USER; defaults as libpq's\n"
	"(PGHOST, PGPORT, PGUSER). Password: SLUICECTL_PASSWORD if set, else libpq's\n"
	"(PGPASSWORD, ~/.pgpass). USER must be in sluice's admin_users.\n"
	"\n"
	"exit status:\n"
	"  0        done\n"
	"  1        sluice refused (no such database, not paused, already paused,\n"
	"           not an admin user...)\n"
	"  64       usage error\n"
	"  69       the console cannot be reached, the login failed, or it broke\n"
	"  70       migrate: the command succeeded but the gate could not be reopened\n"
	"  75       pause/migrate: the drain deadline passed, the gate reopened by\n"
	"           itself (what still ran is printed); migrate did not run COMMAND\n"
	"  78       migrate: the command's route is not a bypass (see above); nothing done\n"
	"  126/127  migrate: COMMAND could not be run / was not found\n"
	"  128+N    interrupted by signal N while pausing (the gate was reopened), or\n"
	"           COMMAND was killed by signal N\n"
	"  other    migrate: COMMAND's own exit status\n";

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "sluicectl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\ntry sluicectl --help\n");
	return CTL_EXIT_USAGE;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end = NULL;
	double v = s ? strtod(s, &end) : -1;
	if (!s || !*s || !end || *end || v < 0 || v > 1e9)
		return false;
	*out = v;
	return true;
}

struct args {
	struct ctl ctl;
	const char *words[3];        /* command, DB */
	int nwords;
	const char *timeout, *window, *user;
	bool no_bypass_check;
	bool cluster;
	char **command;              /* after "--" */
};

/* An option's value: "-hHOST", "--host=HOST", or the next argument. */
static const char *option_value(int argc, char **argv, int *i)
{
	const char *a = argv[*i], *eq = strchr(a, '=');
	if (a[1] != '-' && a[2])
		return a + 2;
	if (a[1] == '-' && eq)
		return eq + 1;
	return *i + 1 < argc ? argv[++*i] : NULL;
}

static bool is_opt(const char *a, const char *shortopt, const char *longopt)
{
	size_t ll = strlen(longopt);
	return (shortopt && !strncmp(a, shortopt, 2)) || (!strncmp(a, longopt, ll) && (!a[ll] || a[ll] == '='));
}

static int parse_args(int argc, char **argv, struct args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], **slot = NULL;
		if (!strcmp(arg, "--")) {
			a->command = argv + i + 1;
			break;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-?")) {
			fputs(help_text, stdout);
			exit(CTL_EXIT_OK);
		}
		if (is_opt(arg, "-h", "--host"))
			slot = &a->ctl.host;
		else if (is_opt(arg, "-p", "--port"))
			slot = &a->ctl.port;
		else if (is_opt(arg, "-U", "--username"))
			slot = &a->ctl.user;
		else if (is_opt(arg, NULL, "--timeout"))
			slot = &a->timeout;
		else if (is_opt(arg, NULL, "--window"))
			slot = &a->window;
		else if (is_opt(arg, NULL, "--user"))
			slot = &a->user;
		if (slot) {
			const char *opt = arg;
			if (!(*slot = option_value(argc, argv, &i)))
				return usage("%s needs a value", opt);
			continue;
		}
		if (!strcmp(arg, "--no-bypass-check")) {
			a->no_bypass_check = true;
			continue;
		}
		if (!strcmp(arg, "--cluster")) {
			a->cluster = true;
			continue;
		}
		if (arg[0] == '-' && arg[1])
			return usage("unknown option %s", arg);
		if (a->nwords == 2)
			return usage("unexpected argument %s (the command to run goes after --)", arg);
		a->words[a->nwords++] = arg;
	}
	return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct args a;
	memset(&a, 0, sizeof a);
	int rc = parse_args(argc, argv, &a);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (a.nwords == 0)
		return usage("%s", "no command given (pause, resume, status or migrate)");
	const char *cmd = a.words[0], *db = a.nwords > 1 ? a.words[1] : NULL;
	bool is_pause = !strcmp(cmd, "pause"), is_resume = !strcmp(cmd, "resume"),
	     is_status = !strcmp(cmd, "status"), is_migrate = !strcmp(cmd, "migrate");
	if (!is_pause && !is_resume && !is_status && !is_migrate)
		return usage("unknown command %s (pause, resume, status or migrate)", cmd);
	if (!is_status && !db)
		return usage("%s needs a database name", cmd);
	if (db && !ctl_db_name_ok(db))
		return usage("not a database name the console can take: \"%s\"", db);
	if (a.timeout && !is_pause && !is_migrate)
		return usage("--timeout goes with pause and migrate, not %s", cmd);
	if (a.window && !is_resume)
		return usage("--window goes with resume, not %s", cmd);
	if ((a.user || a.no_bypass_check) && !is_migrate)
		return usage("--user and --no-bypass-check go with migrate, not %s", cmd);
	if (a.command && !is_migrate)
		return usage("only migrate runs a command (after --), not %s", cmd);
	double timeout = -1;
	if (a.timeout && !parse_seconds(a.timeout, &timeout))
		return usage("--timeout takes seconds (0: no deadline), not \"%s\"", a.timeout);
	double window = 0;
	if (a.window && (!parse_seconds(a.window, &window) || window < 1))
		return usage("--window takes a window number, not \"%s\"", a.window);
	struct migrate_opts mo = { .db = db, .timeout = timeout, .no_bypass_check = a.no_bypass_check,
				   .cluster = a.cluster, .argv = a.command };
	if (is_migrate) {
		if (!a.command || !a.command[0])
			return usage("%s", "migrate needs a command after --");
		mo.user = a.user ? a.user : getenv("PGUSER");
		if (!mo.user || !*mo.user)
			return usage("%s", "migrate needs --user (or PGUSER): the bypass user the command logs in as");
	}

	if (!console_open(&a.ctl))
		return CTL_EXIT_UNAVAILABLE;
	if (is_status) {
		rc = a.cluster ? ctl_cluster_status(&a.ctl, db) : ctl_status(&a.ctl, db);
	} else if (is_resume && a.cluster) {
		rc = ctl_cluster_resume(&a.ctl, db, (long long)window, false);
		if (rc == CTL_EXIT_OK)
			ctl_cluster_summary(&a.ctl, db);
	} else if (is_resume) {
		rc = ctl_resume(&a.ctl, db, (long long)window, false);
		struct gate_row g;
		if (rc == CTL_EXIT_OK && console_gate(&a.ctl, db, &g) && g.found)
			ctl_print_window(&a.ctl, db, g.last_window);
	} else if (is_pause) {
		long long w = 0;
		int sig = 0;
		if (!ctl_catch_signals()) {
			rc = CTL_EXIT_UNAVAILABLE;
		} else {
			enum pause_result pr = a.cluster ? ctl_cluster_pause(&a.ctl, db, timeout, &w, &sig)
							 : ctl_pause(&a.ctl, db, timeout, &w, &sig);
			switch (pr) {
			case PAUSE_DONE:
				printf("%s paused (%swindow %lld); reopen with: sluicectl resume %s%s\n", db,
				       a.cluster ? "on every member, cluster " : "", w, db, a.cluster ? " --cluster" : "");
				if (a.cluster)
					ctl_cluster_summary(&a.ctl, db);
				rc = CTL_EXIT_OK;
				break;
			case PAUSE_DRAIN_FAILED: rc = CTL_EXIT_DRAIN_FAILED; break;
			case PAUSE_REFUSED: rc = CTL_EXIT_REFUSED; break;
			case PAUSE_BROKEN: rc = CTL_EXIT_UNAVAILABLE; break;
			case PAUSE_INTERRUPTED: rc = CTL_EXIT_SIGNAL_BASE + sig; break;
			}
		}
	} else {
		rc = ctl_migrate(&a.ctl, &mo);
	}
	console_close(&a.ctl);
	return rc;
}
