/*
 * migrate.c — sluicectl migrate DB -- COMMAND...: close the gate, run the
 * command through the bypass route, reopen the gate whatever happened,
 * print the window's summary, exit with the command's status.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

#define MIGRATE_APPNAME "sluicectl-migrate"

/* Is name in a comma-separated list (as sluice reads its lists)? */
static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;
	while (p && *p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) == n && !strncmp(start, name, n))
			return true;
	}
	return false;
}

/* The command logs in as o->user with application_name sluicectl-migrate:
 * it is a bypass when the user is in gate_bypass_users and, if
 * gate_bypass_application_names lists any name, sluicectl-migrate is one
 * of them (the names narrow the users, they never admit anyone alone).
 * Otherwise its own work would wait for the gate it runs behind, until
 * gate_hold_timeout. */
static int check_bypass(struct ctl *ctl, const struct migrate_opts *o)
{
	char users[1024], apps[1024];
	if (!console_config(ctl, "gate_bypass_users", users, sizeof users) ||
	    !console_config(ctl, "gate_bypass_application_names", apps, sizeof apps))
		return ctl->conn && PQstatus(ctl->conn) == CONNECTION_OK ? CTL_EXIT_REFUSED : CTL_EXIT_UNAVAILABLE;
	bool any_app = apps[strspn(apps, ", \t")] != 0;
	if (list_has(users, o->user) && (!any_app || list_has(apps, MIGRATE_APPNAME)))
		return CTL_EXIT_OK;
	if (!list_has(users, o->user))
		fprintf(stderr,
			"sluicectl: user %s is not in gate_bypass_users (%s): the command's own work would be\n"
			"held by the gate. Give the migration's user with --user (or PGUSER), add it to\n"
			"gate_bypass_users, or pass --no-bypass-check if the command does not connect through\n"
			"sluice. The gate was not closed.\n",
			o->user, *users ? users : "empty");
	else
		fprintf(stderr,
			"sluicectl: gate_bypass_application_names (%s) does not list \"" MIGRATE_APPNAME "\",\n"
			"the application_name the command logs in with: its own work would be held by the gate.\n"
			"Add it to the list, or pass --no-bypass-check if the command does not connect through\n"
			"sluice. The gate was not closed.\n",
			apps);
	return CTL_EXIT_NOT_BYPASS;
}

/* Percent-encoding for the parts of a postgresql:// URL. */
static bool url_part(char *out, size_t n, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			     ch == '-' || ch == '.' || ch == '_' || ch == '~';
		if (len + (plain ? 1 : 3) >= n)
			return false;
		if (plain) {
			out[len++] = (char)ch;
		} else {
			out[len++] = '%';
			out[len++] = hex[ch >> 4];
			out[len++] = hex[ch & 15];
		}
	}
	out[len] = 0;
	return true;
}

/* DATABASE_URL for the bypass route: sluice's host and port, the
 * database, the migration's user, PGPASSWORD when the operator set it. */
static bool database_url(char *out, size_t n, const char *host, const char *port, const char *db,
			 const char *user, const char *password)
{
	char h[512], d[256], u[256], pw[512] = "";
	if (!url_part(d, sizeof d, db) || !url_part(u, sizeof u, user) ||
	    (password && !url_part(pw, sizeof pw, password)) || !url_part(h, sizeof h, host))
		return false;
	const char *colon = password ? ":" : "";
	int w;
	if (host[0] == '/' || host[0] == '@')   /* a unix socket directory */
		w = snprintf(out, n, "postgresql://%s%s%s@/%s?host=%s&port=%s&application_name=" MIGRATE_APPNAME,
			     u, colon, pw, d, h, port);
	else if (strchr(host, ':'))             /* IPv6 */
		w = snprintf(out, n, "postgresql://%s%s%s@[%s]:%s/%s?application_name=" MIGRATE_APPNAME,
			     u, colon, pw, host, port, d);
	else
		w = snprintf(out, n, "postgresql://%s%s%s@%s:%s/%s?application_name=" MIGRATE_APPNAME,
			     u, colon, pw, host, port, d);
	return w > 0 && (size_t)w < n;
}

static void print_command(char **argv)
{
	fprintf(stderr, "sluicectl: running:");
	for (char **a = argv; *a; a++)
		fprintf(stderr, " %s", *a);
	fputc('\n', stderr);
}

/* In the child: the route, then the command. Never returns. */
static void exec_command(const struct migrate_opts *o, const char *host, const char *port, const char *url)
{
	ctl_default_signals();
	/* the console's password is not the command's business; a service
	 * file or PGHOSTADDR would override the route */
	unsetenv("SLUICECTL_PASSWORD");
	unsetenv("PGSERVICE");
	unsetenv("PGHOSTADDR");
	if (setenv("PGHOST", host, 1) || setenv("PGPORT", port, 1) || setenv("PGDATABASE", o->db, 1) ||
	    setenv("PGUSER", o->user, 1) || setenv("PGAPPNAME", MIGRATE_APPNAME, 1) ||
	    setenv("DATABASE_URL", url, 1)) {
		fprintf(stderr, "sluicectl: setenv: %s\n", strerror(errno));
		_exit(126);
	}
	execvp(o->argv[0], o->argv);
	int e = errno;
	fprintf(stderr, "sluicectl: cannot run %s: %s\n", o->argv[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* Wait for the command; pass INT, TERM and HUP on to it (unless the
 * terminal sent them to the whole group already). Returns its wait status,
 * -1 if waitpid failed. */
static int wait_command(pid_t pid)
{
	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return st;
		if (w < 0 && errno != EINTR) {
			fprintf(stderr, "sluicectl: waitpid: %s\n", strerror(errno));
			return -1;
		}
		struct pollfd pfd = { .fd = ctl_signal_fd(), .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "sluicectl: poll: %s\n", strerror(errno));
			return -1;
		}
		bool tty;
		int sig;
		while ((sig = ctl_take_signal(&tty)) != 0) {
			if (sig == SIGCHLD)
				continue;
			if (!tty)
				kill(pid, sig);
			fprintf(stderr, "sluicectl: %s: %s the command; the gate reopens when it ends\n",
				strsignal(sig), tty ? "the terminal sent it to" : "passed it on to");
		}
	}
}

/* Run the migration's command with DATABASE_URL and the PG* variables;
 * its exit status, or CTL_EXIT_SIGNAL_BASE + the signal that killed it. */
static int run_command(const struct migrate_opts *o, const char *host, const char *port, const char *url)
{
	int rc, st = -1;
	pid_t pid = fork();
	if (pid == 0)
		exec_command(o, host, port, url);
	if (pid < 0) {
		fprintf(stderr, "sluicectl: fork: %s\n", strerror(errno));
		rc = 126;
	} else {
		st = wait_command(pid);
		if (st < 0)
			rc = 126;
		else if (WIFSIGNALED(st))
			rc = CTL_EXIT_SIGNAL_BASE + WTERMSIG(st);
		else
			rc = WEXITSTATUS(st);
	}
	if (st >= 0 && WIFSIGNALED(st))
		fprintf(stderr, "sluicectl: the command was killed by %s\n", strsignal(WTERMSIG(st)));
	else if (rc != 0)
		fprintf(stderr, "sluicectl: the command failed (exit status %d)\n", rc);
	return rc;
}

int ctl_migrate(struct ctl *ctl, const struct migrate_opts *o)
{
	if (!o->no_bypass_check) {
		int rc = check_bypass(ctl, o);
		if (rc != CTL_EXIT_OK)
			return rc;
	}
	struct gate_row g;
	if (!console_gate(ctl, o->db, &g))
		return CTL_EXIT_UNAVAILABLE;
	if (g.found && strcmp(g.state, "open") != 0) {
		fprintf(stderr, "sluicectl: %s is already paused (window %lld, %s): migrate needs the gate open, "
			"so that it reopens only its own window\n", o->db, g.window, g.state);
		return CTL_EXIT_REFUSED;
	}
	if (o->cluster && (!strcmp(g.cluster_state, "closing") || !strcmp(g.cluster_state, "closed"))) {
		fprintf(stderr, "sluicectl: %s has cluster window %lld open (%s): migrate --cluster needs it "
			"ended, so that it reopens only its own\n", o->db, g.cluster_window, g.cluster_state);
		return CTL_EXIT_REFUSED;
	}
	/* copies: a reconnect at RESUME frees the connection's strings */
	char host[512], port[32];
	snprintf(host, sizeof host, "%s", PQhost(ctl->conn) ? PQhost(ctl->conn) : "");
	snprintf(port, sizeof port, "%s", PQport(ctl->conn) ? PQport(ctl->conn) : "");
	const char *password = getenv("PGPASSWORD");
	char url[2048];
	if (!*host || !*port ||
	    !database_url(url, sizeof url, host, port, o->db, o->user, password && *password ? password : NULL)) {
		fprintf(stderr, "sluicectl: cannot build DATABASE_URL for host \"%s\" port \"%s\"\n", host, port);
		return CTL_EXIT_USAGE;
	}
	if (!ctl_catch_signals())
		return CTL_EXIT_UNAVAILABLE;

	long long window = 0;
	int sig = 0;
	enum pause_result pr = o->cluster ? ctl_cluster_pause(ctl, o->db, o->timeout, &window, &sig)
					  : ctl_pause(ctl, o->db, o->timeout, &window, &sig);
	switch (pr) {
	case PAUSE_DONE:
		break;
	case PAUSE_DRAIN_FAILED:
		fprintf(stderr, "sluicectl: the command was not run\n");
		return CTL_EXIT_DRAIN_FAILED;
	case PAUSE_REFUSED:
		fprintf(stderr, "sluicectl: the command was not run\n");
		return CTL_EXIT_REFUSED;
	case PAUSE_BROKEN:
		fprintf(stderr, "sluicectl: the command was not run\n");
		return CTL_EXIT_UNAVAILABLE;
	case PAUSE_INTERRUPTED:
		fprintf(stderr, "sluicectl: the command was not run\n");
		return CTL_EXIT_SIGNAL_BASE + sig;
	}
	fprintf(stderr, "sluicectl: %s paused (%swindow %lld); migrating as %s through %s:%s\n", o->db,
		o->cluster ? "on every member, cluster " : "", window, o->user, host, port);
	print_command(o->argv);
	fflush(stdout);
	fflush(stderr);

	int rc = run_command(o, host, port, url);

	int resumed = o->cluster ? ctl_cluster_resume(ctl, o->db, window, true)
				 : ctl_resume(ctl, o->db, window, true);
	if (resumed == CTL_EXIT_REFUSED)
		fprintf(stderr, "sluicectl: WARNING: window %lld of %s had already ended before the command did "
			"(gate_max_pause, or a RESUME from elsewhere): application transactions may have run "
			"alongside the migration\n", window, o->db);
	if (resumed != CTL_EXIT_UNAVAILABLE)
		ctl_print_window(ctl, o->db, window);
	if (resumed != CTL_EXIT_UNAVAILABLE && o->cluster)
		ctl_cluster_summary(ctl, o->db);
	if (resumed == CTL_EXIT_UNAVAILABLE) {
		fprintf(stderr, "sluicectl: could not reopen the gate of %s: run `sluicectl resume %s%s` "
			"(gate_max_pause reopens it in the end)\n", o->db, o->db, o->cluster ? " --cluster" : "");
		if (rc == 0)
			rc = CTL_EXIT_NOT_RESUMED;
	}
	return rc;
}
