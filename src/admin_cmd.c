/*
 * admin_cmd.c — the console commands that act: PAUSE, RESUME, RECONNECT,
 * KILL, DISABLE, ENABLE, RELOAD, SHUTDOWN, WAIT_CLOSE, SET, each given its
 * command's tokens (admin_lex.h). Those that wait (PAUSE, WAIT_CLOSE) park
 * the console until admin_progress() finds their condition met; the
 * console reads no further command meanwhile.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "admin_lex.h"
#include "client.h"
#include "cluster.h"
#include "cluster_gate.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "pool.h"
#include "runtime.h"
#include "sqlstate.h"

enum wait_kind { WAIT_PAUSE, WAIT_CLOSE };

struct admin_wait {
	struct list node;
	struct client *console;
	enum wait_kind kind;
	char *db;                    /* NULL: every database */
	uint64_t window;             /* PAUSE db: the window it waits to close */
};

static struct list waits = { &waits, &waits };

static void wait_end(struct admin_wait *w)
{
	list_del_init(&w->node);
	w->console->console_waiting = false;
	free(w->db);
	free(w);
}

static bool wait_start(struct client *c, enum wait_kind kind, const char *db, uint64_t window)
{
	struct admin_wait *w = calloc(1, sizeof *w);
	if (!w || (db && !(w->db = strdup(db)))) {
		free(w);
		return false;
	}
	w->console = c;
	w->kind = kind;
	w->window = window;
	list_append(&waits, &w->node);
	c->console_waiting = true;
	rt_kick();
	return true;
}

enum wait_result { W_WAITING, W_DONE, W_CANCELLED, W_FAILED };

static enum wait_result wait_check(const struct admin_wait *w, const struct gate **failed)
{
	if (w->kind == WAIT_CLOSE)
		return pool_db_servers(w->db, true) == 0 ? W_DONE : W_WAITING;
	if (w->db) {
		const struct gate *g = gate_get(w->db);
		if (!g)
			return W_CANCELLED;
		if (g->cur.number == w->window && g->state == GATE_CLOSED)
			return W_DONE;
		if (g->cur.number == w->window && g->state == GATE_DRAINING)
			return W_WAITING;
		*failed = g;
		return g->failed_window == w->window ? W_FAILED : W_CANCELLED;
	}
	if (!gate_paused_all())
		return W_CANCELLED;
	for (const struct gate *g = gate_next(NULL); g; g = gate_next((struct gate *)g))
		if (g->state == GATE_DRAINING)
			return W_WAITING;
	return W_DONE;
}

void admin_progress(void)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &waits) {
		struct admin_wait *w = list_entry(it, struct admin_wait, node);
		const struct gate *g = NULL;
		enum wait_result r = wait_check(w, &g);
		if (r == W_WAITING)
			continue;
		struct client *c = w->console;
		enum wait_kind kind = w->kind;
		uint64_t window = w->window;
		wait_end(w);
		if (r == W_DONE)
			admin_reply(c, kind == WAIT_PAUSE ? "PAUSE" : "WAIT_CLOSE");
		else if (r == W_FAILED)
			admin_error_detail(c, SQLSTATE_LOCK_NOT_AVAILABLE, g->failure,
					   "PAUSE %s: the drain deadline passed; the gate reopened (window %llu)",
					   g->db_name, (unsigned long long)window);
		else
			admin_error(c, SQLSTATE_QUERY_CANCELED, "PAUSE was cancelled: the gate reopened");
		admin_input(c);   /* commands that came meanwhile */
	}
}

void admin_forget(struct client *c)
{
	cluster_gate_forget(c);
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &waits) {
		struct admin_wait *w = list_entry(it, struct admin_wait, node);
		if (w->console == c)
			wait_end(w);
	}
}

/* ---- commands ---- */

/* A database the console may name: configured, or with pools (the `*`
 * fallback makes those on demand). */
static bool known_db(const char *db)
{
	for (size_t i = 0; i < rt.cfg->ndbs; i++)
		if (!strcmp(rt.cfg->dbs[i].name, db) && strcmp(db, "*") != 0)
			return true;
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		if (!p->internal && !strcmp(p->db_name, db))
			return true;
	}
	return false;
}

static struct gate *db_gate(struct client *c, const char *db)
{
	if (!known_db(db)) {
		admin_error(c, SQLSTATE_INVALID_CATALOG_NAME, "no such database: %s", db);
		return NULL;
	}
	struct gate *g = gate_get(db);
	if (!g)
		admin_error(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
	return g;
}

/* Digits only, and few enough to be exact in a double. */
static bool whole_number(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && n <= 15 && !s[n];
}

/* A command as typed: its tokens (tok[0] is the command), its first
 * argument's text (or NULL). */
struct cmd_call {
	const struct admin_tok *tok;
	size_t n;
	const char *arg;
};

/* "TIMEOUT s" / "WINDOW n" after the database name: a finite number, 0 or
 * more (TIMEOUT 0: no deadline, what `sluicectl pause --timeout 0` sends);
 * WINDOW a whole one. nan, inf, -1, 1x, '5' are syntax errors. */
static bool option_number(struct client *c, const struct cmd_call *a, const char *name, bool whole,
			  double *out)
{
	const struct admin_tok *tok = a->tok;
	if (a->n < 3)
		return true;
	if (a->n != 4 || !admin_tok_is(&tok[2], name)) {
		admin_error(c, SQLSTATE_SYNTAX_ERROR, "usage: %s db [%s n]", tok[0].text, name);
		return false;
	}
	const char *s = tok[3].text;
	char *end = NULL;
	double v = strtod(s, &end);
	if ((tok[3].kind != ADMIN_TOK_NUMBER && tok[3].kind != ADMIN_TOK_WORD) || end == s || *end ||
	    !isfinite(v) || v < 0 || (whole && !whole_number(s))) {
		admin_error(c, SQLSTATE_SYNTAX_ERROR, "%s %s: %s takes %s, not \"%s\"", tok[0].text, a->arg,
			    name, whole ? "a window number" : "a finite number of seconds, 0 or more", s);
		return false;
	}
	*out = v;
	return true;
}

/* ---- PAUSE db CLUSTER, RESUME db CLUSTER (cluster_gate.h) ---- */

static void cluster_done(void *arg, bool ok, const char *sqlstate, const char *msg, const char *detail)
{
	struct client *c = arg;
	c->console_waiting = false;
	if (ok)
		admin_reply(c, msg);
	else
		admin_error_detail(c, sqlstate, detail, "%s", msg);
	admin_input(c);   /* commands that came meanwhile */
}

static void cmd_cluster(struct client *c, const struct cmd_call *a, bool pause)
{
	const char *db = a->arg;
	/* the option after CLUSTER, read as PAUSE db / RESUME db read theirs */
	const struct admin_tok shifted[4] = { a->tok[0], a->tok[1], a->tok[a->n > 3 ? 3 : 2],
					      a->tok[a->n > 4 ? 4 : 2] };
	const struct cmd_call opt = { shifted, 4, db };
	double v = 0;
	char why[512];
	if (a->n > 3 && (!admin_tok_is(&a->tok[3], pause ? "TIMEOUT" : "WINDOW") || a->n != 5)) {
		admin_error(c, SQLSTATE_SYNTAX_ERROR, "usage: %s db CLUSTER [%s n]", a->tok[0].text,
			    pause ? "TIMEOUT" : "WINDOW");
		return;
	}
	if (a->n == 5 && !option_number(c, &opt, pause ? "TIMEOUT" : "WINDOW", !pause, &v))
		return;
	if (!cluster_enabled()) {
		admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			    "%s %s CLUSTER: this instance is in no cluster (cluster_name)", a->tok[0].text, db);
		return;
	}
	if (!known_db(db)) {
		admin_error(c, SQLSTATE_INVALID_CATALOG_NAME, "no such database: %s", db);
		return;
	}
	/* PAUSE: no TIMEOUT, gate_drain_timeout; TIMEOUT 0, no deadline */
	double dflt = rt.cfg->gate_drain_timeout > 0 ? rt.cfg->gate_drain_timeout : -1;
	double timeout = a->n == 5 ? (v > 0 ? v : -1) : dflt;
	log_info("console: %s %s CLUSTER%s", a->tok[0].text, db,
		 a->n < 5 ? "" : pause ? " (with TIMEOUT)" : " (with WINDOW)");
	c->console_waiting = true;
	bool ok = pause ? cluster_gate_pause(db, timeout, cluster_done, c, why, sizeof why)
			: cluster_gate_resume(db, (uint64_t)v, cluster_done, c, why, sizeof why);
	if (!ok) {
		c->console_waiting = false;
		admin_error(c, SQLSTATE_CONNECTION_EXCEPTION, "%s %s CLUSTER: %s", a->tok[0].text, db, why);
	}
}

static bool is_cluster(const struct cmd_call *a)
{
	return a->n >= 3 && admin_tok_is(&a->tok[2], "CLUSTER");
}

static void cmd_pause(struct client *c, const struct cmd_call *a)
{
	size_t n = a->n;
	const char *db = a->arg;
	double timeout = 0;
	if (is_cluster(a)) {
		cmd_cluster(c, a, true);
		return;
	}
	if (!option_number(c, a, "TIMEOUT", false, &timeout))
		return;
	if (!db) {
		if (!gate_pause(NULL, -1)) {
			admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE, "already paused");
			return;
		}
		log_info("console: PAUSE (every database)");
		if (!wait_start(c, WAIT_PAUSE, NULL, 0))
			admin_error(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	struct gate *g = db_gate(c, db);
	if (!g)
		return;
	if (g->state != GATE_OPEN) {
		/* a second PAUSE of the window in progress waits for it too */
		log_info("console: PAUSE %s joins window %llu", db, (unsigned long long)g->cur.number);
	} else {
		log_info("console: PAUSE %s%s", db, n > 2 ? " (with TIMEOUT)" : "");
		if (!gate_pause(g, n > 2 ? (timeout > 0 ? timeout : -1) : 0)) {
			admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE, "database %s is already paused", db);
			return;
		}
	}
	if (!wait_start(c, WAIT_PAUSE, db, g->cur.number))
		admin_error(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
}

static void cmd_resume(struct client *c, const struct cmd_call *a)
{
	size_t n = a->n;
	const char *db = a->arg;
	double window = 0;
	if (is_cluster(a)) {
		cmd_cluster(c, a, false);
		return;
	}
	if (!option_number(c, a, "WINDOW", true, &window))
		return;
	if (!db) {
		bool any = gate_paused_all();
		for (const struct gate *g = gate_next(NULL); g; g = gate_next((struct gate *)g))
			any |= g->state != GATE_OPEN;
		if (!any) {
			admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE, "not paused");
			return;
		}
		log_info("console: RESUME (every database)");
		gate_resume(NULL);
		admin_reply(c, "RESUME");
		return;
	}
	struct gate *g = db_gate(c, db);
	if (!g)
		return;
	if (gate_paused_all()) {
		admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			    "every database is paused: RESUME without a name resumes them");
		return;
	}
	if (g->state == GATE_OPEN) {
		admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE, "database %s is not paused", db);
		return;
	}
	if (g->cluster_window && g->cluster_window == g->cur.number) {
		admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			    "database %s is paused by cluster window %llu: RESUME %s CLUSTER ends it", db,
			    (unsigned long long)g->cluster_window, db);
		return;
	}
	if (n > 2 && (uint64_t)window != g->cur.number) {
		admin_error(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			    "window %llu of database %s is over (the current one is %llu)",
			    (unsigned long long)window, db, (unsigned long long)g->cur.number);
		return;
	}
	log_info("console: RESUME %s (window %llu)", db, (unsigned long long)g->cur.number);
	gate_resume(g);
	admin_reply(c, "RESUME");
}

static void cmd_reconnect(struct client *c, const struct cmd_call *a)
{
	const char *db = a->arg;
	if (db && !db_gate(c, db))
		return;
	log_info("console: RECONNECT %s", db ? db : "(every database)");
	pool_db_reconnect(db);
	admin_reply(c, "RECONNECT");
}

static void cmd_wait_close(struct client *c, const struct cmd_call *a)
{
	const char *db = a->arg;
	if (db && !db_gate(c, db))
		return;
	if (!wait_start(c, WAIT_CLOSE, db, 0))
		admin_error(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
}

static void cmd_kill(struct client *c, const struct cmd_call *a)
{
	const char *db = a->arg;
	struct gate *g = db_gate(c, db);
	if (!g)
		return;
	log_info("console: KILL %s", db);
	gate_kill(g);
	char msg[ADMIN_CMD_MAX + 64];   /* the name whole */
	snprintf(msg, sizeof msg, "database \"%s\" was killed from the admin console", db);
	client_kill_db(db, msg);
	pool_db_kill_servers(db, "database killed");
	admin_reply(c, "KILL");
}

static void set_disabled(struct client *c, const char *db, bool disable)
{
	struct gate *g = db_gate(c, db);
	if (!g)
		return;
	log_info("console: %s %s", disable ? "DISABLE" : "ENABLE", db);
	g->disabled = disable;
	admin_reply(c, disable ? "DISABLE" : "ENABLE");
}

static void cmd_disable(struct client *c, const struct cmd_call *a)
{
	set_disabled(c, a->arg, true);
}

static void cmd_enable(struct client *c, const struct cmd_call *a)
{
	set_disabled(c, a->arg, false);
}

static void cmd_reload(struct client *c, const struct cmd_call *a)
{
	char err[1024];
	log_info("console: RELOAD");
	if (!admin_process->reload(err, sizeof err)) {
		admin_error(c, SQLSTATE_INVALID_PARAMETER_VALUE,
			    "reload failed, the running configuration stays: %s", err);
		return;
	}
	admin_reply(c, "RELOAD");
}

static void cmd_shutdown(struct client *c, const struct cmd_call *a)
{
	const char *how = a->arg;
	if (!how) {
		log_info("console: SHUTDOWN");
		admin_process->shutdown(RT_RUNNING);
		return;
	}
	if (admin_tok_is(&a->tok[1], "WAIT_FOR_SERVERS")) {
		log_info("console: SHUTDOWN WAIT_FOR_SERVERS");
		admin_reply(c, "SHUTDOWN");
		admin_process->shutdown(RT_WAIT_SERVERS);
	} else if (admin_tok_is(&a->tok[1], "WAIT_FOR_CLIENTS")) {
		log_info("console: SHUTDOWN WAIT_FOR_CLIENTS");
		admin_reply(c, "SHUTDOWN");
		admin_process->shutdown(RT_WAIT_CLIENTS);
	} else {
		admin_error(c, SQLSTATE_SYNTAX_ERROR,
			    "SHUTDOWN takes no argument, WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS, not %s", how);
	}
}

static bool is_value(const struct admin_tok *t)
{
	return t->kind != ADMIN_TOK_EQUALS && t->kind != ADMIN_TOK_COMMA;
}

/* SET's value: one word, number, 'string' or "identifier", or a list of
 * them separated by commas, joined by commas (SET admin_users = a, b is
 * "a,b"). NULL once an error was sent. */
static char *set_value(struct client *c, const struct cmd_call *a)
{
	size_t len = 0;
	for (size_t i = 3; i < a->n; i++)
		len += a->tok[i].len + 1;
	char *value = malloc(len + 1), *w = value;
	if (!value) {
		admin_error(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return NULL;
	}
	for (size_t i = 3;; i += 2) {
		if (i >= a->n || !is_value(&a->tok[i])) {
			admin_error(c, SQLSTATE_SYNTAX_ERROR, "usage: SET key = value (a word, a number, "
				    "a 'string' or a \"quoted identifier\"; a list: separated by commas)");
			break;
		}
		memcpy(w, a->tok[i].text, a->tok[i].len);
		w += a->tok[i].len;
		*w = 0;
		if (i + 1 == a->n)
			return value;
		if (a->tok[i + 1].kind != ADMIN_TOK_COMMA) {
			admin_error(c, SQLSTATE_SYNTAX_ERROR, "unexpected text after the value: %s",
				    a->tok[i + 1].text);
			break;
		}
		*w++ = ',';
	}
	free(value);
	return NULL;
}

/* SET key = value (or TO value): a new configuration, the running one with
 * the key changed, swapped in as RELOAD swaps one; a bad value changes
 * nothing. */
static void cmd_set(struct client *c, const struct cmd_call *a)
{
	const struct admin_tok *tok = a->tok;
	if (a->n < 3 || (tok[1].kind != ADMIN_TOK_WORD && tok[1].kind != ADMIN_TOK_IDENT) ||
	    (tok[2].kind != ADMIN_TOK_EQUALS && !admin_tok_is(&tok[2], "TO"))) {
		admin_error(c, SQLSTATE_SYNTAX_ERROR, "usage: SET key = value");
		return;
	}
	const char *key = tok[1].text;
	char *value = set_value(c, a);
	if (!value)
		return;
	struct config *next = NULL;
	char why[1024];
	/* what each refusal is, as PostgreSQL's SET says it */
	static const char *const refused[] = {
		[CONFIG_SET_UNKNOWN] = SQLSTATE_UNDEFINED_OBJECT,
		[CONFIG_SET_FIXED] = SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
		[CONFIG_SET_INVALID] = SQLSTATE_INVALID_PARAMETER_VALUE,
		[CONFIG_SET_NOMEM] = SQLSTATE_OUT_OF_MEMORY,
	};
	enum config_set res = config_with_setting(rt.cfg, key, value, &next, why, sizeof why);
	if (res != CONFIG_SET_OK) {
		admin_error(c, refused[res], "%s", why);
		goto out;
	}
	if (!admin_process->swap(next, why, sizeof why)) {
		log_error("console: SET %s refused, the running configuration stays: %s", key, why);
		admin_error(c, SQLSTATE_INVALID_PARAMETER_VALUE,
			    "SET %s refused, the running configuration stays: %s", key, why);
		goto out;
	}
	log_info("console: SET %s = %s", key, value);
	if (!strncasecmp(key, "gate_bypass_", 12))
		config_warn_gate_bypass(rt.cfg, "console");
	admin_reply(c, "SET");
out:
	free(value);
}

static const struct {
	const char *name;
	size_t min_args, max_args;   /* tokens after the command (SET parses its own) */
	bool names_db;               /* the first argument is a database name */
	void (*fn)(struct client *c, const struct cmd_call *a);
	const char *help;
} commands[] = {
	{ "PAUSE", 0, 4, true, cmd_pause, "PAUSE [db [CLUSTER] [TIMEOUT s]]: hold new transactions once those "
	  "in flight end (CLUSTER: on every member of the cluster)" },
	{ "RESUME", 0, 4, true, cmd_resume, "RESUME [db [CLUSTER] [WINDOW n]]: end a PAUSE or KILL" },
	{ "RECONNECT", 0, 1, true, cmd_reconnect, "RECONNECT [db]: replace servers as they come free" },
	{ "WAIT_CLOSE", 0, 1, true, cmd_wait_close, "WAIT_CLOSE [db]: wait until RECONNECT/RELOAD closed them" },
	{ "KILL", 1, 1, true, cmd_kill, "KILL db: drop its clients and servers; pause it" },
	{ "DISABLE", 1, 1, true, cmd_disable, "DISABLE db: refuse new logins to it" },
	{ "ENABLE", 1, 1, true, cmd_enable, "ENABLE db: accept logins again" },
	{ "RELOAD", 0, 0, false, cmd_reload, "RELOAD: read the configuration file again" },
	{ "SHUTDOWN", 0, 1, false, cmd_shutdown, "SHUTDOWN [WAIT_FOR_SERVERS | WAIT_FOR_CLIENTS]: stop" },
	{ "SET", 0, SIZE_MAX, false, cmd_set, "SET key = value: change a setting until the next RELOAD" },
};

void admin_cmd_help(void (*line)(void *arg, const char *text), void *arg)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		line(arg, commands[i].help);
	line(arg, "db: a word, or a \"quoted identifier\" (\"\" inside for a quote): KILL \"my db\"");
}

bool admin_cmd_run(struct client *c, const struct admin_toks *t)
{
	size_t i;
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (admin_tok_is(&t->v[0], commands[i].name))
			break;
	if (i == ARRAY_SIZE(commands))
		return false;
	const char *name = commands[i].name;
	if (!config_list_has(rt.cfg->admin_users, c->user)) {
		admin_error(c, SQLSTATE_INSUFFICIENT_PRIVILEGE,
			    "%s needs an admin user (admin_users); stats_users may only SHOW", name);
		return true;
	}
	size_t nargs = t->n - 1;
	if (nargs < commands[i].min_args || nargs > commands[i].max_args) {
		if (commands[i].min_args == commands[i].max_args)
			admin_error(c, SQLSTATE_SYNTAX_ERROR, "%s takes %s", name,
				    commands[i].min_args ? "a database name" : "no argument");
		else
			admin_error(c, SQLSTATE_SYNTAX_ERROR, "%s takes at most one argument", name);
		return true;
	}
	const struct admin_tok *arg = nargs > 0 ? &t->v[1] : NULL;
	if (commands[i].names_db && arg && !admin_tok_is_name(arg)) {
		if (arg->kind == ADMIN_TOK_STRING)
			admin_error(c, SQLSTATE_SYNTAX_ERROR, "%s takes a database name (a word or a \"quoted "
				    "identifier\"), not a string: '%s'", name, arg->text);
		else
			admin_error(c, SQLSTATE_SYNTAX_ERROR, "%s takes a database name, not '%s'", name, arg->text);
		return true;
	}
	const struct cmd_call call = { t->v, t->n, arg ? arg->text : NULL };
	commands[i].fn(c, &call);
	return true;
}
