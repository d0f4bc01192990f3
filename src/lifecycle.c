/*
 * lifecycle.c — reload, the three ways to stop, and the deferred check
 * that completes what waits for connections to close.
 */
#include <string.h>

#include "admin.h"
#include "client.h"
#include "cluster.h"
#include "cluster_gate.h"
#include "config.h"
#include "gate.h"
#include "lifecycle.h"
#include "link.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "peers.h"
#include "pool.h"
#include "runtime.h"
#include "sdnotify.h"
#include "server.h"
#include "sqlstate.h"
#include "tls.h"

static void finish_shutdown(void)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.clients) {
		struct client *c = list_entry(it, struct client, all_node);
		if (c->state != CL_CLOSED)
			client_fail(c, SQLSTATE_ADMIN_SHUTDOWN, "sluice is shutting down");
	}
	loop_break();
}

static int clients_left(void)
{
	int n = 0;
	for (struct list *it = rt.clients.next; it != &rt.clients; it = it->next) {
		const struct client *c = list_entry(it, struct client, all_node);
		n += c->state != CL_CLOSED && c->state != CL_ADMIN;
	}
	return n;
}

static void check_shutdown(void)
{
	if (rt.shutdown == RT_WAIT_SERVERS && pool_db_servers(NULL, false) == 0) {
		log_info("shutdown: every server connection is free; exiting");
		finish_shutdown();
	} else if (rt.shutdown == RT_WAIT_CLIENTS && clients_left() == 0) {
		log_info("shutdown: the last client has left; exiting");
		finish_shutdown();
	}
}

static const struct admin_process_ops process_ops = {
	.reload = lifecycle_reload,
	.swap = lifecycle_swap,
	.shutdown = lifecycle_shutdown,
};

static const struct client_console_ops console_ops = {
	.is_console = admin_is_console,
	.login = admin_login,
	.input = admin_input,
	.forget = admin_forget,
};

bool lifecycle_init(void)
{
	admin_set_process(&process_ops);
	client_set_console(&console_ops);
	/* in this order: a drained gate closes before a PAUSE is told */
	return rt_checks_init() && rt_check_register(gate_update) &&
	       rt_check_register(admin_progress) && rt_check_register(check_shutdown);
}

void lifecycle_kick(void)
{
	rt_kick();
}

void lifecycle_free(void)
{
	cluster_stop();        /* its queries' owners hear of it first */
	cluster_gate_stop();
	rt_checks_free();
	gate_free_all();
	peers_free();
}

/* Session pooling: a client between transactions gives its server up now
 * (the server closes); one inside a transaction does at its end. */
static void release_idle_sessions(void)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.clients) {
		struct client *c = list_entry(it, struct client, all_node);
		struct server *s = c->server;
		if (c->state == CL_HELD && s) {
			/* held by the gate between transactions: its session ends */
			client_fail(c, SQLSTATE_ADMIN_SHUTDOWN, "sluice is shutting down");
			continue;
		}
		if (c->state == CL_ACTIVE && link_at_boundary(c) && conn_in_len(&c->conn) == 0)
			link_release(c);
	}
}

static const char *shutdown_how(enum rt_shutdown mode)
{
	switch (mode) {
	case RT_RUNNING: return "now";
	case RT_WAIT_SERVERS: return "once every server connection is free";
	case RT_WAIT_CLIENTS: return "once every client has left";
	}
	return "";
}

void lifecycle_shutdown(enum rt_shutdown mode)
{
	sdnotify_stopping(shutdown_how(mode));   /* the first way asked is the one told */
	if (mode == RT_RUNNING) {
		log_info("shutting down now");
		loop_break();
		return;
	}
	if (rt.shutdown == RT_WAIT_SERVERS || rt.shutdown == mode) {
		lifecycle_kick();
		return;
	}
	listener_stop();
	rt.shutdown = mode;
	if (mode == RT_WAIT_SERVERS) {
		log_info("shutting down once every server connection is free (new connections refused)");
		pool_db_close_idle(NULL, "shutting down");
		release_idle_sessions();
	} else {
		log_info("shutting down once every client has left (new connections refused)");
	}
	lifecycle_kick();
}

/* Settings read once and kept outside struct config. */
static void apply_settings(void)
{
	char err[512];
	struct log_settings ls = config_log_settings(rt.cfg);
	if (!log_configure(&ls, err, sizeof err))
		log_error("%s; logging goes on where it went", err);
	pool_reconfigure_all();
	peers_configure(rt.cfg);
	lifecycle_kick();
}

bool lifecycle_swap(struct config *next, char *err, size_t errlen)
{
	if (!config_reload_check(rt.cfg, next, err, errlen) || !tls_configure(next, err, errlen)) {
		config_free(next);
		return false;
	}
	struct config *old = rt.cfg;
	rt.cfg = next;
	apply_settings();
	config_free(old);
	return true;
}

bool lifecycle_reload(char *err, size_t errlen)
{
	struct config *next = NULL;
	sdnotify_reloading();
	if (rt.cfg->from_url) {
		/* the one-line start: no file to read again (SET still works) */
		log_info("nothing to reload: sluice started from %s, not from a file", rt.cfg->path);
		sdnotify_reloaded(NULL);
		return true;
	}
	if (!config_load(rt.cfg->path, &next, err, errlen) || !lifecycle_swap(next, err, errlen)) {
		log_error("reload refused, the running configuration stays: %s", err);
		sdnotify_reloaded(err);
		return false;
	}
	log_info("configuration reloaded from %s", rt.cfg->path);
	sdnotify_reloaded(NULL);
	return true;
}
