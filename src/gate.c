/*
 * gate.c — the migration gate of each database: windows, draining with a
 * deadline, held clients, bypass sessions, refresh at resume.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "client_types.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"

#define CANCEL_GRACE 5.0   /* policy cancel: seconds for cancelled transactions to end */

/*
 * The schema version, from whichever migration tool's table exists:
 * Alembic's alembic_version, Flyway's flyway_schema_history, Rails'
 * schema_migrations. One statement that works whatever exists: each
 * table is read through query_to_xml only when to_regclass finds it.
 */
#define VERSION_FROM(tool, sql, table) \
	"(SELECT '" tool " ' || (xpath('/row/v/text()', query_to_xml('" sql "', false, true, '')))[1]::text " \
	"WHERE to_regclass('" table "') IS NOT NULL)"
static const struct gate_owner_ops *owner;   /* link.c: gate_set_owner */

static const char schema_version_query[] =
	"SELECT coalesce("
	VERSION_FROM("alembic", "SELECT string_agg(version_num, '','') AS v FROM alembic_version",
		     "alembic_version") ", "
	VERSION_FROM("flyway", "SELECT version AS v FROM flyway_schema_history WHERE success "
		     "ORDER BY installed_rank DESC LIMIT 1", "flyway_schema_history") ", "
	VERSION_FROM("rails", "SELECT max(version) AS v FROM schema_migrations", "schema_migrations")
	", '')";

static struct list gates = { &gates, &gates };
static bool paused_all;
static bool held_all;        /* gate_hold_all: a cluster's windows not read yet */
static uint64_t last_window;

static const char *const state_names[] = {
	[GATE_OPEN] = "open", [GATE_DRAINING] = "draining", [GATE_CLOSED] = "closed",
};

void gate_set_owner(const struct gate_owner_ops *ops)
{
	owner = ops;
}

const char *gate_state_name(enum gate_state st)
{
	return st <= GATE_CLOSED ? state_names[st] : "?";
}

static void timer_cb(int fd, short what, void *arg);
static bool pause_one(struct gate *g, double timeout, uint64_t number);

struct gate *gate_get(const char *db_name)
{
	for (struct list *it = gates.next; it != &gates; it = it->next) {
		struct gate *g = list_entry(it, struct gate, node);
		if (!strcmp(g->db_name, db_name))
			return g;
	}
	struct gate *g = calloc(1, sizeof *g);
	if (!g || !(g->db_name = strdup(db_name))) {
		free(g);
		return NULL;
	}
	g->timer = loop_timer_new(timer_cb, g);
	if (!g->timer) {
		free(g->db_name);
		free(g);
		return NULL;
	}
	list_init(&g->held);
	g->state = GATE_OPEN;
	g->since = rt_now();
	list_append(&gates, &g->node);
	if (paused_all)
		pause_one(g, -1, 0);   /* PAUSE of everything covers it too */
	return g;
}

struct gate *gate_next(struct gate *prev)
{
	struct list *it = prev ? prev->node.next : gates.next;
	return it == &gates ? NULL : list_entry(it, struct gate, node);
}

bool gate_paused_all(void)
{
	return paused_all;
}

bool gate_holds_client(const struct client *c)
{
	const struct gate *g = c->pool ? c->pool->gate : NULL;
	if (!g)
		return false;   /* sluice's own pools */
	if (c->bypass)      /* an auto window lets the migrator in once drained */
		return g->auto_window && g->state == GATE_DRAINING;
	return paused_all || held_all || g->state != GATE_OPEN;
}

static void set_state(struct gate *g, enum gate_state st)
{
	if (g->state == st)
		return;
	log_info("database %s: gate %s -> %s (window %llu)", g->db_name, gate_state_name(g->state),
		 gate_state_name(st), (unsigned long long)g->cur.number);
	g->state = st;
	g->since = rt_now();
}

static void count_error(struct gate *g)
{
	g->cur.errors++;
	g->errors_total++;
}

static void gate_kick(void)
{
	rt_kick();
}

/* The next moment the gate must act: its drain deadline while draining,
 * else the end of gate_max_pause. */
static void arm_timer(struct gate *g)
{
	double at = 0;
	if (g->state == GATE_DRAINING && g->deadline > 0 && !g->reading_version)
		at = g->deadline;
	if (g->state != GATE_OPEN && rt.cfg->gate_max_pause > 0) {
		double end = g->cur.started + rt.cfg->gate_max_pause;
		if (at == 0 || end < at)
			at = end;
	}
	loop_ev_del(g->timer);
	if (at <= 0)
		return;
	double in = at - rt_now();
	if (in < 0.001)
		in = 0.001;
	struct timeval tv = { (time_t)in, (suseconds_t)((in - (double)(time_t)in) * 1e6) };
	loop_ev_add(g->timer, &tv);
}

int gate_in_flight(const struct gate *g)
{
	return g->in_flight;
}

/* The link moves the count wherever a pair of this database may cross a
 * transaction boundary; a drain is done when it reaches 0, and no walk
 * over the clients is needed to find that out. */
void gate_count_flight(struct gate *g, int delta)
{
	g->in_flight += delta;
	if (g->in_flight < 0)
		BUG("gate of %s: transactions in flight below zero", g->db_name);
	if (g->in_flight == 0 && g->state == GATE_DRAINING)
		gate_kick();   /* closed by gate_update, after this loop pass */
}

#ifdef SLUICE_DEBUG
/* Debug builds (make asan) check the count against the clients
 * themselves whenever it is read to close a gate: a transition the link
 * misses fails the tests instead of holding a PAUSE forever. */
static void check_count(const struct gate *g)
{
	int n = 0;
	for (struct list *it = rt.clients.next; it != &rt.clients; it = it->next) {
		const struct client *c = list_entry(it, struct client, all_node);
		n += c->pool && c->pool->gate == g && !c->bypass && owner->in_flight(c);
	}
	if (n != g->in_flight)
		BUG("gate of %s: %d transactions in flight counted, %d found", g->db_name, g->in_flight, n);
}
#else
static void check_count(const struct gate *g)
{
}
#endif

/* Transaction-pooled clients queued for a server have not started: they
 * wait for the gate instead. */
static void hold_queued(struct gate *g)
{
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->gate != g || p->bypass)
			continue;
		struct list *c_it, *tmp;
		list_for_each_safe(c_it, tmp, &p->waiting) {
			struct client *c = list_entry(c_it, struct client, pool_node);
			if (c->state != CL_WAITING)
				continue;   /* logging in: login does not need the gate */
			pool_unqueue(c);
			owner->hold(c);
		}
	}
}

/* number 0: the next of this instance's own windows; else a cluster's */
static bool pause_one(struct gate *g, double timeout, uint64_t number)
{
	if (g->state != GATE_OPEN)
		return false;
	memset(&g->cur, 0, sizeof g->cur);
	if (number > last_window)
		last_window = number;   /* this instance's later windows number after it */
	g->cur.number = number ? number : ++last_window;
	g->windows_total++;
	g->cur.started = rt_now();
	g->cancelling = false;
	if (timeout == 0)
		timeout = rt.cfg->gate_drain_timeout;
	g->deadline = timeout > 0 ? g->cur.started + timeout : 0;
	set_state(g, GATE_DRAINING);
	hold_queued(g);
	arm_timer(g);
	gate_kick();
	return true;
}

bool gate_pause(struct gate *g, double timeout)
{
	if (g)
		return pause_one(g, timeout, 0);
	if (paused_all)
		return false;
	paused_all = true;
	for (g = gate_next(NULL); g; g = gate_next(g))
		pause_one(g, timeout, 0);
	return true;
}

bool gate_pause_window(struct gate *g, double timeout, uint64_t number)
{
	return pause_one(g, timeout, number);
}

/* gate_resume_reset: what a schema change may have left on the servers
 * the held clients will use. Session-pooled servers keep their client's
 * session; bypass sessions are the migrator's. */
static void refresh_servers(struct gate *g)
{
	int how = rt.cfg->gate_resume_reset;
	if (how == GATE_RESET_NONE)
		return;
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->gate != g || p->bypass || p->mode == POOL_SESSION)
			continue;
		if (how == GATE_RESET_RECONNECT) {
			pool_mark_reconnect(p);
			continue;
		}
		while (!list_empty(&p->idle))
			server_discard(list_entry(list_first(&p->idle), struct server, pool_node));
		/* servers busy now (connecting, testing) are new or reset anyway;
		 * one waiting for a cancel to be taken would miss the DISCARD:
		 * it closes when free instead */
		for (struct list *it2 = p->busy.next; it2 != &p->busy; it2 = it2->next) {
			struct server *s = list_entry(it2, struct server, pool_node);
			if (s->state == SV_CANCEL_WAIT)
				s->close_needed = true;
		}
	}
}

/* An idle server of the database's client pools, to ask something. */
static struct server *idle_server(const struct gate *g)
{
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->gate == g && !p->bypass && !list_empty(&p->idle))
			return list_entry(list_first(&p->idle), struct server, pool_node);
	}
	return NULL;
}

static void close_gate(struct gate *g);

/* The version before the window is read once nothing is in flight and
 * before the gate counts as closed: PAUSE returns, and an auto window's
 * migrator goes on, only after it. */
static bool got_version_before(void *arg, struct server *s, const char *value)
{
	struct gate *g = arg;
	log_info("database %s: schema version before window %llu: %s", g->db_name,
		 (unsigned long long)g->cur.number, !value ? "(query failed)" : *value ? value : "(no migration table)");
	if (!g->reading_version)
		return false;   /* the window ended meanwhile */
	g->reading_version = false;
	if (value)
		snprintf(g->cur.schema_before, sizeof g->cur.schema_before, "%s", value);
	if (g->state == GATE_DRAINING)
		close_gate(g);
	return false;
}

static bool got_version_after(void *arg, struct server *s, const char *value)
{
	struct gate *g = arg;
	log_info("database %s: schema version after window %llu: %s", g->db_name,
		 (unsigned long long)g->last.number, !value ? "(query failed)" : *value ? value : "(no migration table)");
	if (!value)
		return false;   /* failed, or the server is closing */
	snprintf(g->last.schema_after, sizeof g->last.schema_after, "%s", value);
	if (rt.cfg->gate_resume_reset == GATE_RESET_DISCARD && s->pool->mode != POOL_SESSION) {
		server_discard(s);
		return true;
	}
	if (rt.cfg->gate_resume_reset == GATE_RESET_RECONNECT && s->pool->mode != POOL_SESSION)
		s->close_needed = true;
	return false;
}

/* The gate is open: its held clients go on, its queued ones get servers. */
static void release_held(struct gate *g)
{
	while (!list_empty(&g->held))
		owner->release(list_entry(list_first(&g->held), struct client, hold_node));
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->gate == g)
			pool_launch(p);
	}
	gate_kick();
}

static void resume_one(struct gate *g, bool refresh)
{
	if (g->state == GATE_OPEN)
		return;
	g->cur.ended = rt_now();
	g->last = g->cur;
	g->reading_version = false;
	g->deadline = 0;
	g->cancelling = false;
	g->auto_window = false;
	set_state(g, GATE_OPEN);
	loop_ev_del(g->timer);
	if (refresh) {
		/* one idle server reads the new schema version first, then is
		 * refreshed like the others */
		struct server *s = idle_server(g);
		if (s)
			server_read_value(s, schema_version_query, got_version_after, g);
		refresh_servers(g);
	}
	if (!held_all)   /* else a cluster's windows are not read yet: still held */
		release_held(g);
}

void gate_hold_all(bool on)
{
	if (held_all == on)
		return;
	held_all = on;
	if (on)
		return;
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g))
		if (g->state == GATE_OPEN && !paused_all)
			release_held(g);
}

void gate_resume(struct gate *g)
{
	if (g) {
		if (!paused_all)
			resume_one(g, true);
		return;
	}
	paused_all = false;
	for (g = gate_next(NULL); g; g = gate_next(g))
		resume_one(g, true);
}

void gate_kill(struct gate *g)
{
	if (g->state == GATE_OPEN) {
		pause_one(g, 0, 0);
		g->deadline = 0;
	}
	set_state(g, GATE_CLOSED);
	if (!g->cur.closed)
		g->cur.closed = rt_now();
	arm_timer(g);
}

void gate_hold(struct gate *g, struct client *c)
{
	list_append(&g->held, &c->hold_node);
	g->nheld++;
	g->cur.held++;
	c->held_since = rt_now();
}

void gate_unhold(struct client *c, bool refused)
{
	struct gate *g = c->pool->gate;
	if (list_empty(&c->hold_node))
		return;
	if (refused)
		count_error(g);
	list_del_init(&c->hold_node);
	g->nheld--;
	double held = rt_now() - c->held_since;
	if (held > g->cur.longest_hold)
		g->cur.longest_hold = held;
	if (g->state == GATE_OPEN && held > g->last.longest_hold)
		g->last.longest_hold = held;   /* released by the RESUME just done */
}

void gate_bypass_login(struct client *c)
{
	struct gate *g = c->pool->gate;
	g->nbypass++;
	if (rt.cfg->gate_auto && g->state == GATE_OPEN && !paused_all) {
		log_info("database %s: bypass client %s logged in: gate_auto closes the gate",
			 g->db_name, c->user);
		pause_one(g, 0, 0);
		g->auto_window = true;
	}
}

void gate_bypass_logout(struct client *c)
{
	struct gate *g = c->pool->gate;
	if (--g->nbypass == 0 && g->auto_window) {
		log_info("database %s: the last bypass client left: gate_auto reopens the gate",
			 g->db_name);
		resume_one(g, true);
	}
}

/* A query named by its command words only ("ALTER ROLE ...", "SELECT
 * ..."): what the log may say of it unless log_query_text is on (the
 * text can hold a password). Only letters are copied, never literals. */
static const char *query_words(const char *q, char *out, size_t n)
{
	static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
	size_t len = 0;
	int want = 1;   /* ALTER, CREATE, DROP: and the kind of object */
	q += strspn(q, " \t\r\n(");
	for (int words = 0; words < want && isalpha((unsigned char)*q); words++) {
		size_t wl = strspn(q, letters);
		if (len + 1 + wl + sizeof " ..." > n)
			break;
		if (words)
			out[len++] = ' ';
		for (size_t i = 0; i < wl; i++)
			out[len++] = (char)toupper((unsigned char)q[i]);
		out[len] = 0;
		if (!words && (!strcmp(out, "ALTER") || !strcmp(out, "CREATE") || !strcmp(out, "DROP")))
			want = 2;
		q += wl;
		q += strspn(q, " \t\r\n");
	}
	if (!len)
		return "?";
	if (*q)
		memcpy(out + len, " ...", sizeof " ...");
	return out;
}

/* What still runs, one line per client: for the console (full_text) and
 * the log and refused clients (the query's text only with log_query_text). */
static void describe_in_flight(const struct gate *g, bool full_text, char *out, size_t n)
{
	size_t len = 0;
	double now = rt_now();
	out[0] = 0;
	for (struct list *it = rt.clients.next; it != &rt.clients; it = it->next) {
		const struct client *c = list_entry(it, struct client, all_node);
		if (!c->pool || c->pool->gate != g || c->bypass || !owner->in_flight(c))
			continue;
		const struct server *s = c->server;
		char addr[CLIENT_ADDR_LEN], words[48];
		client_addr(c, addr, sizeof addr);
		const char *query = !s->last_query[0] ? "?"
				  : full_text ? s->last_query
				  : query_words(s->last_query, words, sizeof words);
		int w = snprintf(out + len, n - len, "%sC-%llu %s@%s db %s user %s: transaction %.1f s, %s, query: %s",
				 len ? "\n" : "", (unsigned long long)c->conn.id, c->user, addr,
				 c->db_name, c->user, now - c->xact_start,
				 s->txn_status == 'I' ? "active" : s->txn_status == 'E' ? "idle in failed transaction"
				 : c->relay.counted != s->relay.counted ? "active in transaction" : "idle in transaction",
				 query);
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
}

static void reject_held_bypass(struct gate *g, const char *msg)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &g->held) {
		struct client *c = list_entry(it, struct client, hold_node);
		if (c->bypass)
			owner->reject(c, SQLSTATE_LOCK_NOT_AVAILABLE, msg);
	}
}

static void drain_expired(struct gate *g)
{
	if (rt.cfg->gate_drain_policy == GATE_POLICY_CANCEL && !g->cancelling) {
		log_warn("database %s: drain deadline passed; cancelling what still runs", g->db_name);
		g->cancelling = true;
		for (struct list *it = rt.clients.next; it != &rt.clients; it = it->next) {
			struct client *c = list_entry(it, struct client, all_node);
			if (c->pool && c->pool->gate == g && !c->bypass && owner->in_flight(c))
				cancel_backend(c->server);
		}
		g->deadline = rt_now() + CANCEL_GRACE;
		arm_timer(g);
		return;
	}
	if (g->cancelling) {
		/* cancelled but still inside a transaction: end them */
		struct list *it, *tmp;
		list_for_each_safe(it, tmp, &rt.clients) {
			struct client *c = list_entry(it, struct client, all_node);
			if (c->pool && c->pool->gate == g && !c->bypass && owner->in_flight(c))
				server_kill(c->server, SQLSTATE_ADMIN_SHUTDOWN,
					    "terminating the transaction: the database is paused for a migration");
		}
		g->deadline = 0;
		gate_update();
		arm_timer(g);
		return;
	}
	describe_in_flight(g, true, g->failure, sizeof g->failure);   /* for PAUSE's DETAIL */
	char running[sizeof g->failure];
	describe_in_flight(g, rt.cfg->log_query_text, running, sizeof running);
	g->failed_window = g->cur.number;
	count_error(g);
	log_warn("database %s: drain deadline passed; gate reopened (window %llu). Still running:\n%s",
		 g->db_name, (unsigned long long)g->cur.number, running);
	char msg[1280];
	snprintf(msg, sizeof msg, "database \"%s\" could not be drained before the deadline; still running:\n%s",
		 g->db_name, running);
	reject_held_bypass(g, msg);
	resume_one(g, false);
}

static void timer_cb(int fd, short what, void *arg)
{
	struct gate *g = arg;
	double now = rt_now();
	if (g->state == GATE_OPEN)
		return;
	if (rt.cfg->gate_max_pause > 0 && now >= g->cur.started + rt.cfg->gate_max_pause) {
		log_warn("database %s: gate closed longer than gate_max_pause (%g s): reopening",
			 g->db_name, rt.cfg->gate_max_pause);
		count_error(g);
		resume_one(g, true);
		return;
	}
	if (g->state == GATE_DRAINING && g->deadline > 0 && now >= g->deadline && !g->reading_version) {
		drain_expired(g);
		return;
	}
	arm_timer(g);
}

static void close_gate(struct gate *g)
{
	g->cur.closed = rt_now();
	g->deadline = 0;
	set_state(g, GATE_CLOSED);
	arm_timer(g);
	/* an auto window: the migrator may go on now */
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &g->held) {
		struct client *c = list_entry(it, struct client, hold_node);
		if (c->bypass)
			owner->release(c);
	}
	gate_kick();   /* PAUSE returns */
}

void gate_update(void)
{
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g)) {
		check_count(g);
		if (g->state != GATE_DRAINING || g->reading_version || g->in_flight > 0)
			continue;
		struct server *s = idle_server(g);
		if (s) {
			g->reading_version = true;
			server_read_value(s, schema_version_query, got_version_before, g);
			continue;
		}
		close_gate(g);
	}
}

static void gate_free(struct gate *g)
{
	list_del_init(&g->node);
	loop_ev_free(g->timer);
	free(g->db_name);
	free(g);
}

void gate_forget(const char *db_name)
{
	for (struct list *it = gates.next; it != &gates; it = it->next) {
		struct gate *g = list_entry(it, struct gate, node);
		if (strcmp(g->db_name, db_name) != 0)
			continue;
		/* a window, DISABLE or clients it counts are state an operator
		 * set or relies on: kept */
		if (g->state == GATE_OPEN && !g->disabled && g->nheld == 0 && g->nbypass == 0 && !g->cluster_window &&
		    !paused_all && !loop_ev_pending(g->timer, LOOP_TIMEOUT))
			gate_free(g);
		return;
	}
}

void gate_free_all(void)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &gates)
		gate_free(list_entry(it, struct gate, node));
	paused_all = false;
	held_all = false;
}
