/*
 * main.c — command line, signals, pidfile, and wiring the modules together.
 *
 *   sluice [-d] [-v] [-q] [-V] [-h] CONFIG_FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "cancel.h"
#include "config.h"
#include "conn.h"
#include "lifecycle.h"
#include "link.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "pool.h"
#include "runtime.h"
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
		"  -d   run in the background (needs logfile)\n"
		"  -v   more logging (repeat for more)\n"
		"  -q   no logging to stderr\n"
		"  -V   print the version and exit\n"
		"  -h   print this help and exit\n"
		"\n"
		"CONFIG_FILE is an ini file: [sluice] (or [pgbouncer]) and [databases].\n");
}

/* SIGTERM: stop at once. SIGINT: safe shutdown, as SHUTDOWN
 * WAIT_FOR_SERVERS: refuse new connections, let transactions in flight
 * end, then exit. */
static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("got %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	lifecycle_shutdown(sig == SIGINT ? RT_WAIT_SERVERS : RT_RUNNING);
}

/* SIGHUP: RELOAD. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
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

/* Load the configuration and start logging as it says. NULL (the reason
 * written to stderr) when sluice cannot start with it. */
static struct config *load(const char *path, bool background, bool quiet, int verbose)
{
	char err[1024];
	struct config *cfg = NULL;
	log_hold();   /* warnings while loading reach the log file too */
	if (!config_load(path, &cfg, err, sizeof err)) {
		log_release();
		fprintf(stderr, "sluice: %s\n", err);
		return NULL;
	}
	rt.cli_verbose = verbose;
	if (background && (!cfg->logfile || !*cfg->logfile)) {
		log_release();
		fprintf(stderr, "sluice: -d needs a logfile in the configuration\n");
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
	rt.base = event_base_new();
	if (!rt.base || !conn_reaper_init() || !lifecycle_init()) {
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

int main(int argc, char **argv)
{
	bool background = false, quiet = false;
	int verbose = 0, opt;
	while ((opt = getopt(argc, argv, "dvqVh")) != -1) {
		switch (opt) {
		case 'd': background = true; break;
		case 'v': verbose++; break;
		case 'q': quiet = true; break;
		case 'V': printf("sluice " SLUICE_VERSION "\n"); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	struct config *cfg = load(argv[optind], background, quiet, verbose);
	if (!cfg)
		return 1;
	struct metrics *metrics = NULL;
	if (!start(cfg, background, &metrics)) {
		tls_shutdown();
		config_free(cfg);
		log_close();
		return 1;
	}
	struct event *sigterm = evsignal_new(rt.base, SIGTERM, on_stop_signal, NULL);
	struct event *sigint = evsignal_new(rt.base, SIGINT, on_stop_signal, NULL);
	struct event *sighup = evsignal_new(rt.base, SIGHUP, on_hup, NULL);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);

	log_info("sluice " SLUICE_VERSION " started (pid %d, %s)", (int)getpid(), cfg->path);
	conn_loop();

	listener_stop();
	metrics_free(metrics);
	stats_stop();
	if (rt.cfg->pidfile && *rt.cfg->pidfile)
		unlink(rt.cfg->pidfile);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	lifecycle_free();
	tls_shutdown();
	log_info("sluice stopped");
	log_close();
	config_free(rt.cfg);
	return 0;
}
