/*
 * main.c — command line, signals, pidfile, and wiring the modules together.
 *
 *   sluice [-d] [-v] [-q] [-V] [-h] CONFIG_FILE
 *   sluice [-v] [-q] [--listen HOST:PORT] [--pool-mode MODE] [--pool-size N]
 *          [postgresql://USER:PASSWORD@HOST:PORT/DB]
 *
 * The second form is the one-line start (config_url.c); without the URL
 * argument it is taken from SLUICE_DATABASE_URL. The URL's password is
 * overwritten in argv and the environment once read, so ps no longer
 * shows it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel.h"
#include "cluster.h"
#include "cluster_gate.h"
#include "config.h"
#include "conn.h"
#include "connurl.h"
#include "lifecycle.h"
#include "link.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "peers.h"
#include "pool.h"
#include "runtime.h"
#include "sdnotify.h"
#include "stats.h"
#include "tls.h"
#include "varcache.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"sluice " SLUICE_VERSION " - a PostgreSQL connection pooler\n"
		"\n"
		"usage: sluice [-d] [-v] [-q] [-V] [-h] CONFIG_FILE\n"
		"       sluice [-v] [-q] [--listen HOST:PORT] [--pool-mode MODE] [--pool-size N]\n"
		"              postgresql://USER:PASSWORD@HOST:PORT/DB\n"
		"  -d   run in the background (needs logfile)\n"
		"  -v   more logging (repeat for more)\n"
		"  -q   no logging to stderr\n"
		"  -V, --version   print the version and exit\n"
		"  -h, --help      print this help and exit\n"
		"  --listen HOST:PORT   with a URL: where to listen (default 127.0.0.1:6432;\n"
		"                       *:PORT for every address, [::1]:PORT for IPv6)\n"
		"  --pool-mode MODE     with a URL: session, transaction (default) or statement\n"
		"  --pool-size N        with a URL: server connections per pool (default 20)\n"
		"\n"
		"CONFIG_FILE is an ini file: [sluice] (or [pgbouncer]) and [databases].\n"
		"\n"
		"One-line start: with a postgresql:// (or postgres://) URL instead, or with\n"
		"none and the URL in SLUICE_DATABASE_URL, sluice pools that database in\n"
		"transaction mode for the URL's user alone: it logs in to PostgreSQL with the\n"
		"URL's password, clients log in with the same one (SCRAM), and it prints the\n"
		"DATABASE_URL clients use on stdout. A URL argument wins over\n"
		"SLUICE_DATABASE_URL; a CONFIG_FILE with SLUICE_DATABASE_URL set is an error.\n");
}

/* SIGTERM: stop at once. SIGINT: safe shutdown, as SHUTDOWN
 * WAIT_FOR_SERVERS: refuse new connections, let transactions in flight
 * end, then exit. */
static void on_stop_signal(int sig, short what, void *arg)
{
	log_info("got %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	lifecycle_shutdown(sig == SIGINT ? RT_WAIT_SERVERS : RT_RUNNING);
}

/* SIGHUP: RELOAD. */
static void on_hup(int sig, short what, void *arg)
{
	char err[1024];
	log_info("got SIGHUP: reloading %s", rt.cfg->path);
	(void)lifecycle_reload(err, sizeof err);
}

static bool write_pidfile(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		log_error("cannot write pidfile %s: %s", path, strerror(errno));
		return false;
	}
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		log_error("cannot write pidfile %s: %s", path, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

static bool daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid > 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return true;
}

/* Load the configuration (from the file at path, or from the URL in *uo)
 * and start logging as it says. NULL (the reason written to stderr) when
 * sluice cannot start with it. */
static struct config *load(const char *path, const struct config_url_opts *uo,
			   bool background, bool quiet, int verbose)
{
	char err[1024];
	struct config *cfg = NULL;
	log_hold();   /* warnings while loading reach the log file too */
	if (uo ? !config_from_url(uo, &cfg, err, sizeof err) : !config_load(path, &cfg, err, sizeof err)) {
		log_release();
		fprintf(stderr, "sluice: %s\n", err);
		return NULL;
	}
	rt.cli_verbose = verbose;
	if (background && (!cfg->logfile || !*cfg->logfile)) {
		log_release();
		fprintf(stderr, uo ? "sluice: -d needs a logfile, and a URL start logs to stderr only: "
			"run it in the foreground or from a configuration file\n"
			: "sluice: -d needs a logfile in the configuration\n");
		config_free(cfg);
		return NULL;
	}
	log_cmdline(verbose, !quiet && !background);
	struct log_settings ls = config_log_settings(cfg);
	if (!log_configure(&ls, err, sizeof err)) {
		log_release();
		fprintf(stderr, "sluice: %s\n", err);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Everything the loop needs, from cfg (which becomes rt.cfg). False when
 * something cannot start; what had started is stopped again. */
static bool start(struct config *cfg, bool background, struct metrics **metrics)
{
	char err[1024];
	signal(SIGPIPE, SIG_IGN);
	if (background && !daemonize()) {
		log_error("cannot go to the background: %s", strerror(errno));
		return false;
	}
	if (!varcache_set_extra(cfg->track_extra_parameters)) {
		log_error("%s: track_extra_parameters: at most %d parameter names (letters, digits, _ and .)",
			  cfg->path, VC_EXTRA_MAX);
		return false;
	}
	if (!tls_configure(cfg, err, sizeof err)) {
		log_error("%s: %s", cfg->path, err);
		return false;
	}
	rt.cfg = cfg;
	list_init(&rt.pools);
	list_init(&rt.clients);
	list_init(&rt.logins);
	cancel_init(pool_cancel_settled);   /* servers wait for their cancels */
	peers_configure(cfg);               /* where cancels for other instances go */
	link_init();   /* the ops tables the pair's modules report through */
	if (!loop_init() || !conn_reaper_init() || !lifecycle_init()) {
		log_error("cannot start the event loop");
		return false;
	}
	if (!listener_start(cfg, err, sizeof err)) {
		log_error("%s", err);
		listener_stop();
		return false;
	}
	if (!stats_start()) {
		log_error("cannot start the stats timer");
		listener_stop();
		return false;
	}
	if (!cluster_gate_start() || !cluster_start()) {
		log_error("cannot start the cluster's coordination connection");
		stats_stop();
		listener_stop();
		return false;
	}
	if (!metrics_start(cfg, metrics, err, sizeof err)) {
		log_error("%s", err);
		stats_stop();
		listener_stop();
		return false;
	}
	if (cfg->pidfile && *cfg->pidfile && !write_pidfile(cfg->pidfile)) {
		metrics_free(*metrics);
		stats_stop();
		listener_stop();
		return false;
	}
	return true;
}

enum { OPT_LISTEN = 256, OPT_POOL_MODE, OPT_POOL_SIZE };

static const struct option long_options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "pool-mode", required_argument, NULL, OPT_POOL_MODE },
	{ "pool-size", required_argument, NULL, OPT_POOL_SIZE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

#define URL_ENV "SLUICE_DATABASE_URL"

/*
 * What to start from: the file `arg`, or a URL (the argument, else the
 * environment's) into uo. 0 when decided; else the exit status, the
 * reason written to stderr.
 */
static int choose_source(char *arg, bool url_options, struct config_url_opts *uo, char **url)
{
	char *env = getenv(URL_ENV);

	*url = NULL;
	if (env && !*env)
		env = NULL;
	if (arg && connurl_is_url(arg)) {
		*url = arg;       /* the command line wins over the environment */
		uo->origin = "the URL argument";
	} else if (arg && env) {
		fprintf(stderr, "sluice: both a configuration file (%s) and %s are given: use one "
			"(unset %s to start from the file)\n", arg, URL_ENV, URL_ENV);
		return 2;
	} else if (env) {
		*url = env;
		uo->origin = URL_ENV;
	} else if (!arg) {
		usage(stderr);
		return 2;
	}
	const char *scheme_end = *url ? NULL : strstr(arg, "://");
	if (scheme_end && access(arg, F_OK) != 0) {
		/* the scheme only: the rest may hold a password */
		fprintf(stderr, "sluice: %.*s://...: not a file, and not a URL sluice reads "
			"(postgresql://USER:PASSWORD@HOST:PORT/DB or postgres://...)\n",
			(int)(scheme_end - arg), arg);
		return 2;
	}
	if (!*url && url_options) {
		fprintf(stderr, "sluice: --listen, --pool-mode and --pool-size go with a URL; "
			"in %s set listen_addr and listen_port, pool_mode, default_pool_size\n", arg);
		return 2;
	}
	uo->url = *url;
	return 0;
}

/* The one-line start says where clients connect, on stdout, as `make run` does. */
static void print_database_url(const struct config *cfg)
{
	char *url = config_url_for_clients(cfg);
	if (!url)
		return;
	log_info("one-line start: database %s on %s:%d, %s pooling, user %s", cfg->dbs[0].name,
		 cfg->listen_addr, cfg->listen_port, config_pool_mode_name(cfg->pool_mode),
		 cfg->dbs[0].user);
	printf("DATABASE_URL=%s\n", url);
	fflush(stdout);
	explicit_bzero(url, strlen(url));
	free(url);
}

int main(int argc, char **argv)
{
	bool background = false, quiet = false, url_options = false;
	int verbose = 0, opt;
	struct config_url_opts uo = { 0 };
	while ((opt = getopt_long(argc, argv, "dvqVh", long_options, NULL)) != -1) {
		switch (opt) {
		case 'd': background = true; break;
		case 'v': verbose++; break;
		case 'q': quiet = true; break;
		case 'V': printf("sluice " SLUICE_VERSION "\n"); return 0;
		case 'h': usage(stdout); return 0;
		case OPT_LISTEN: uo.listen = optarg; url_options = true; break;
		case OPT_POOL_MODE: uo.pool_mode = optarg; url_options = true; break;
		case OPT_POOL_SIZE: uo.pool_size = optarg; url_options = true; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc - 1) {
		usage(stderr);
		return 2;
	}
	char *url;
	int rc = choose_source(optind < argc ? argv[optind] : NULL, url_options, &uo, &url);
	if (rc)
		return rc;
	struct config *cfg = load(url ? NULL : argv[optind], url ? &uo : NULL, background, quiet, verbose);
	if (url)
		connurl_scrub(url);   /* read: ps need not show the password any longer */
	if (!cfg)
		return 1;
	struct metrics *metrics = NULL;
	if (!start(cfg, background, &metrics)) {
		tls_shutdown();
		config_free(cfg);
		log_close();
		return 1;
	}
	struct loop_ev *sigterm = loop_ev_new(SIGTERM, LOOP_SIGNAL | LOOP_PERSIST, on_stop_signal, NULL);
	struct loop_ev *sigint = loop_ev_new(SIGINT, LOOP_SIGNAL | LOOP_PERSIST, on_stop_signal, NULL);
	struct loop_ev *sighup = loop_ev_new(SIGHUP, LOOP_SIGNAL | LOOP_PERSIST, on_hup, NULL);
	if (!sigterm || !sigint || !sighup || loop_ev_add(sigterm, NULL) < 0 ||
	    loop_ev_add(sigint, NULL) < 0 || loop_ev_add(sighup, NULL) < 0) {
		log_error("cannot catch signals: %s", strerror(errno));
		return 1;
	}

	log_info("sluice " SLUICE_VERSION " started (pid %d, %s)", (int)getpid(), cfg->path);
	print_database_url(cfg);
	sdnotify_ready();
	conn_loop();
	sdnotify_free();

	listener_stop();
	metrics_free(metrics);
	stats_stop();
	if (rt.cfg->pidfile && *rt.cfg->pidfile)
		unlink(rt.cfg->pidfile);
	loop_ev_free(sigterm);
	loop_ev_free(sigint);
	loop_ev_free(sighup);
	lifecycle_free();
	tls_shutdown();
	log_info("sluice stopped");
	log_close();
	config_free(rt.cfg);
	return 0;
}
