/*
 * pool.c — pools keyed by (database, user), their limits and wait queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client_types.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "pool_timers.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"
#include "stats.h"

#define DEFAULT_SOCKET_DIR "/var/run/postgresql"

const struct pool_owner_ops *pool_owner;   /* link.c: pool_set_owner */

static void wait_cb(int fd, short what, void *arg);
static void pool_note_unused(struct pool *p);
static void idle_cb(int fd, short what, void *arg);
static void arm_idle(struct pool *p);

static char *dup_or(const char *s, const char *fallback)
{
	return strdup(s && *s ? s : fallback);
}

static struct pool *pool_find_or_create(const char *db_name, const char *user,
					const struct db_entry *entry, bool internal, bool bypass);

struct pool *pool_get(const char *db_name, const char *user, const struct db_entry *entry)
{
	return pool_find_or_create(db_name, user, entry, false, false);
}

struct pool *pool_get_auth(const char *db_name, const char *auth_user, const struct db_entry *entry)
{
	return pool_find_or_create(db_name, auth_user, entry, true, false);
}

struct pool *pool_get_bypass(const char *db_name, const char *user, const struct db_entry *entry)
{
	return pool_find_or_create(db_name, user, entry, false, true);
}

static void target_free(struct pool_target *t)
{
	free(t->host);
	free(t->dbname);
	free(t->user);
	free(t->password);
	memset(t, 0, sizeof *t);
}

/* Where the servers of pool (db_name, user) log in, per entry. An internal
 * (auth_query) pool logs in as its user, auth_user, whatever the entry
 * says. */
static bool target_from_entry(struct pool_target *t, const struct db_entry *entry,
			      const char *db_name, const char *user, bool internal)
{
	memset(t, 0, sizeof *t);
	t->host = dup_or(entry->host, DEFAULT_SOCKET_DIR);
	t->port = entry->port > 0 ? entry->port : 5432;
	t->tls_mode = entry->server_tls_sslmode;
	t->dbname = dup_or(entry->dbname, db_name);
	t->user = internal ? strdup(user) : dup_or(entry->user, user);
	/* the entry's password belongs to its own user */
	bool own_password = entry->password && (!internal || (entry->user && !strcmp(entry->user, user)));
	t->password = own_password ? strdup(entry->password) : NULL;
	if (!t->host || !t->dbname || !t->user || (own_password && !t->password)) {
		target_free(t);
		return false;
	}
	return true;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool target_same(const struct pool_target *a, const struct pool_target *b)
{
	return a->port == b->port && a->tls_mode == b->tls_mode &&
	       str_eq(a->host, b->host) && str_eq(a->dbname, b->dbname) &&
	       str_eq(a->user, b->user) && str_eq(a->password, b->password);
}

/* Sizes and limits: the entry's, else the global ones. */
static void settings_from_entry(struct pool *p, const struct db_entry *entry)
{
	p->size = config_db_pool_size(rt.cfg, entry);
	p->max_db_connections = entry->max_db_connections >= 0 ? entry->max_db_connections
							       : rt.cfg->max_db_connections;
	p->min_pool_size = entry->min_pool_size >= 0 ? entry->min_pool_size : rt.cfg->min_pool_size;
	p->reserve_size = entry->reserve_pool >= 0 ? entry->reserve_pool : rt.cfg->reserve_pool_size;
	/* sluice's own lookups and bypass sessions are no clients' to judge */
	p->state_policy = p->internal || p->bypass ? STATE_ALLOW
						    : config_state_policy_for(rt.cfg, entry, p->user);
	if (p->internal) {
		/* one lookup per server: auth_query_max_in_flight bounds what
		 * strangers can make PostgreSQL run at once; more wait in the
		 * queue (within max_client_conn and client_login_timeout) */
		p->min_pool_size = 0;
		p->reserve_size = 0;
		if (p->size > rt.cfg->auth_query_max_in_flight)
			p->size = rt.cfg->auth_query_max_in_flight;
	}
}

/* A gate bypass session keeps its server for the whole session: migration
 * tools rely on session state (advisory locks). */
static int pool_mode_of(const struct pool *p, const struct db_entry *entry)
{
	return p->bypass ? POOL_SESSION : config_pool_mode_for(rt.cfg, entry, p->user);
}

static struct pool *pool_find_or_create(const char *db_name, const char *user,
					const struct db_entry *entry, bool internal, bool bypass)
{
	struct list *n, *tmp;
	list_for_each_safe(n, tmp, &rt.pools) {
		struct pool *p = list_entry(n, struct pool, node);
		if (p->internal == internal && p->bypass == bypass && !strcmp(p->db_name, db_name) &&
		    !strcmp(p->user, user))
			return p;
	}
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	list_init(&p->idle);
	list_init(&p->used);
	list_init(&p->busy);
	list_init(&p->waiting);
	p->wait_ev = loop_timer_new(wait_cb, p);
	p->idle_ev = loop_timer_new(idle_cb, p);
	p->unused_since = rt_now();
	p->internal = internal;
	p->bypass = bypass;
	p->db_name = strdup(db_name);
	p->user = strdup(user);
	p->gate = internal ? NULL : pool_owner->gate_of(db_name);
	p->stats = stats_db_get(db_name);
	if (!p->db_name || !p->user || (!internal && !p->gate) || !p->stats || !p->wait_ev ||
	    !p->idle_ev || !target_from_entry(&p->target, entry, db_name, user, internal)) {
		if (p->wait_ev)
			loop_ev_free(p->wait_ev);
		if (p->idle_ev)
			loop_ev_free(p->idle_ev);
		free(p->db_name);
		free(p->user);
		free(p);
		return NULL;
	}
	p->mode = p->next_mode = pool_mode_of(p, entry);
	settings_from_entry(p, entry);
	p->max_user_connections = config_max_user_connections(rt.cfg, p->target.user);
	list_append(&rt.pools, &p->node);
	pool_launch(p);
	log_debug("pool %s/%s created: server %s@%s:%d/%s, size %d", p->db_name, p->user,
		  p->target.user, p->target.host, p->target.port, p->target.dbname, p->size);
	return p;
}

/* The configuration changed (RELOAD, SET): take the new sizes and limits;
 * a new server address or login closes the servers made for the old one
 * as they come free. Its pool mode changes once no client uses the pool. */
void pool_reconfigure(struct pool *p)
{
	/* autodb_idle_timeout, or whether the fallback serves the database,
	 * may have changed */
	arm_idle(p);
	p->max_user_connections = config_max_user_connections(rt.cfg, p->target.user);
	const struct db_entry *entry = config_find_db(rt.cfg, p->db_name);
	if (!entry)
		return;   /* removed: its clients go on; new logins are refused */
	settings_from_entry(p, entry);
	p->next_mode = pool_mode_of(p, entry);
	if (p->nclients == 0)
		p->mode = p->next_mode;
	struct pool_target t;
	if (!target_from_entry(&t, entry, p->db_name, p->user, p->internal))
		return;
	if (target_same(&t, &p->target)) {
		target_free(&t);
	} else {
		log_info("pool %s/%s: server now %s@%s:%d/%s; reconnecting", p->db_name, p->user,
			 t.user, t.host, t.port, t.dbname);
		target_free(&p->target);
		p->target = t;
		p->max_user_connections = config_max_user_connections(rt.cfg, p->target.user);
		p->last_error[0] = 0;
		p->retry_at = 0;
		pool_mark_reconnect(p);
	}
	pool_trim(p);
	pool_launch(p);
}

/* Server connections of every pool of this database. */
static int db_server_count(const char *db_name)
{
	int n = 0;
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *p = list_entry(it, struct pool, node);
		if (!strcmp(p->db_name, db_name))
			n += p->nservers;
	}
	return n;
}

/* Close an idle server of another pool of the same database, to make room. */
/* Two pools share a limit: the database's (max_db_connections) or the
 * server user's (max_user_connections). */
enum shared_limit { LIMIT_DB, LIMIT_USER };

static bool shares(const struct pool *a, const struct pool *b, enum shared_limit lim)
{
	return lim == LIMIT_DB ? !strcmp(a->db_name, b->db_name)
			       : !strcmp(a->target.user, b->target.user);
}

/* Close an idle server of another pool under the same limit, to make room. */
static bool steal_idle_slot(struct pool *self, enum shared_limit lim)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p == self || !shares(p, self, lim) || list_empty(&p->idle))
			continue;
		struct server *s = list_entry(list_first(&p->idle), struct server, pool_node);
		server_close(s, lim == LIMIT_DB ? "making room for another pool of the database"
						: "making room for another pool of the user");
		return true;
	}
	return false;
}

/* Has another pool under the same limit an idle server steal_idle_slot
 * could close? */
static bool other_pool_idle(const struct pool *self, enum shared_limit lim)
{
	for (const struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		if (p != self && shares(p, self, lim) && !list_empty(&p->idle))
			return true;
	}
	return false;
}

static int connecting_count(const struct pool *p)
{
	int n = 0;
	const struct list *it;
	for (it = p->busy.next; it != &p->busy; it = it->next) {
		const struct server *s = list_entry(it, struct server, pool_node);
		if (server_logging_in(s))
			n++;
	}
	return n;
}

/* Server connections logging in as this server user, over all pools. */
static int user_server_count(const char *server_user)
{
	int n = 0;
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *p = list_entry(it, struct pool, node);
		if (!strcmp(p->target.user, server_user))
			n += p->nservers;
	}
	return n;
}

/* The reserve opens once the longest-waiting client has waited
 * reserve_pool_timeout. */
static int pool_limit(const struct pool *p)
{
	if (p->reserve_size <= 0 || rt.cfg->reserve_pool_timeout <= 0 || list_empty(&p->waiting))
		return p->size;
	const struct client *first = list_entry(list_first(&p->waiting), struct client, pool_node);
	if (rt_now() - first->wait_since >= rt.cfg->reserve_pool_timeout)
		return p->size + p->reserve_size;
	return p->size;
}

bool pool_is_failing(const struct pool *p)
{
	return p->nservers == 0 && p->last_error[0] != 0;
}

static void retry_cb(int fd, short what, void *arg)
{
	pool_launch(arg);
}

bool pool_held(const struct pool *p)
{
	return rt.shutdown == RT_WAIT_SERVERS;
}

void pool_launch(struct pool *p)
{
	if (pool_held(p))
		return;   /* shutting down */
	if (rt_now() < p->retry_at)
		return;   /* retry_cb calls again when the pause is over */
	int max_user = p->max_user_connections;
	while (p->nservers < pool_limit(p) &&
	       (p->nwaiting > connecting_count(p) || p->nservers < p->min_pool_size)) {
		if (p->max_db_connections > 0 && db_server_count(p->db_name) >= p->max_db_connections) {
			if (!steal_idle_slot(p, LIMIT_DB))
				return;
			continue;
		}
		if (max_user > 0 && user_server_count(p->target.user) >= max_user) {
			if (!steal_idle_slot(p, LIMIT_USER))
				return;
			continue;
		}
		if (!server_connect(p, pool_next_set(p)))
			return;
	}
}

/* ---- waiting: one timer per pool ----
 *
 * The waiting list is in arrival order, so its head is always the client
 * whose query_wait_timeout (and the reserve pool's moment) comes first.
 * One timer per pool, armed for the head: a transaction that waits costs
 * no timer work. When it fires it handles every client whose moment has
 * come and arms itself for the new head. */

static double wait_moment(const struct pool *p, const struct client *head, double now)
{
	double waited = now - head->wait_since;
	double until = rt.cfg->query_wait_timeout > 0 ? rt.cfg->query_wait_timeout - waited : 0;
	double reserve = rt.cfg->reserve_pool_timeout - waited;
	bool reserve_on = p->reserve_size > 0 && rt.cfg->reserve_pool_timeout > 0 && reserve > 0;
	if (reserve_on && (until <= 0 || reserve < until))
		until = reserve;
	if (rt.cfg->query_wait_timeout <= 0 && !reserve_on)
		return 0;   /* nothing to wait for */
	return until > 0.001 ? until : 0.001;
}

static void arm_wait(struct pool *p)
{
	if (list_empty(&p->waiting) || !p->wait_ev || loop_ev_pending(p->wait_ev, LOOP_TIMEOUT))
		return;
	const struct client *head = list_entry(list_first(&p->waiting), struct client, pool_node);
	double until = wait_moment(p, head, rt_now());
	if (until <= 0)
		return;
	struct timeval tv = { (time_t)until, (suseconds_t)((until - (double)(time_t)until) * 1e6) };
	loop_ev_add(p->wait_ev, &tv);
}

static void wait_cb(int fd, short what, void *arg)
{
	struct pool *p = arg;
	double limit = rt.cfg->query_wait_timeout, now = rt_now();
	while (limit > 0 && !list_empty(&p->waiting)) {
		struct client *c = list_entry(list_first(&p->waiting), struct client, pool_node);
		if (now - c->wait_since < limit)
			break;
		pool_unqueue(c);
		pool_owner->wait_expired(c);
	}
	pool_launch(p);   /* the reserve pool's moment may have come */
	arm_wait(p);
}

/* Could pool_launch open a server now (closing another pool's idle one
 * under a shared limit counts)? */
static bool can_open(struct pool *p)
{
	if (pool_held(p) || rt_now() < p->retry_at || p->nservers >= pool_limit(p))
		return false;
	int max_user = p->max_user_connections;
	if (p->max_db_connections > 0 && db_server_count(p->db_name) >= p->max_db_connections &&
	    !other_pool_idle(p, LIMIT_DB))
		return false;
	return max_user <= 0 || user_server_count(p->target.user) < max_user ||
	       other_pool_idle(p, LIMIT_USER);
}

/* An idle server for c: of its own startup set (pool_sets.c) if there is
 * one; else none when a new one can be opened, or must be (closing the
 * least recently used idle server of another set for room); else the
 * most recently used of another set. */
static struct server *idle_for(struct pool *p, struct client *c)
{
	struct startup_set *want = pool_client_set(p, c);
	struct server *other = NULL, *oldest = NULL;
	for (struct list *it = p->idle.next; it != &p->idle; it = it->next) {
		struct server *s = list_entry(it, struct server, pool_node);
		if (s->set == want)
			return s;
		if (!other)
			other = s;
		oldest = s;
	}
	if (!other || can_open(p))
		return NULL;
	if (pool_room_needed(p, c) && rt_now() >= p->retry_at) {
		server_close(oldest, "making room for other startup parameters");
		return NULL;
	}
	return other;
}

bool pool_acquire(struct pool *p, struct client *c)
{
	list_append(&p->waiting, &c->pool_node);
	p->nwaiting++;
	if (pool_held(p))
		return false;   /* shutting down: no new work */
	/* Idle servers are kept most recently used first. One idle too long
	 * is checked first; the client waits for whichever is ready. */
	struct server *s;
	while (c->state != CL_CLOSED && !list_empty(&c->pool_node) && (s = idle_for(p, c))) {
		if (timers_server_expired(s)) {
			server_close(s, "server_lifetime reached");
			continue;
		}
		if (timers_server_needs_check(s)) {
			server_test(s);
			continue;
		}
		pool_unqueue(c);
		pool_link(p, s, c);
		return true;
	}
	pool_launch(p);
	if (c->state == CL_WAITING || c->state == CL_LOGIN_WAIT)
		arm_wait(p);
	return false;
}

void pool_set_owner(const struct pool_owner_ops *ops)
{
	pool_owner = ops;
}

void pool_unqueue(struct client *c)
{
	if (list_empty(&c->pool_node))
		return;
	list_del_init(&c->pool_node);
	if (--c->pool->nwaiting == 0 && c->pool->refs == 0)
		pool_note_unused(c->pool);
}

/* Does another pool sharing one of p's limits have clients waiting while
 * that limit is reached? Then p's idle server is worth more closed. */
static bool other_pool_starved(const struct pool *p)
{
	int max_user = p->max_user_connections;
	bool db_full = p->max_db_connections > 0 && db_server_count(p->db_name) >= p->max_db_connections;
	bool user_full = max_user > 0 && user_server_count(p->target.user) >= max_user;
	if (!db_full && !user_full)
		return false;
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *o = list_entry(it, struct pool, node);
		if (o != p && o->nwaiting > 0 &&
		    ((db_full && shares(o, p, LIMIT_DB)) || (user_full && shares(o, p, LIMIT_USER))))
			return true;
	}
	return false;
}

void pool_server_ready(struct server *s)
{
	struct pool *p = s->pool;
	p->last_error[0] = 0;
	if (conn_in_len(&s->conn) > 0) {
		/* a reply nobody asked for would reach the next client */
		server_close(s, "unexpected data from server at release");
		pool_launch(p);
		return;
	}
	if (timers_server_expired(s)) {
		server_close(s, "server_lifetime reached");
		pool_launch(p);
		return;
	}
	if (s->close_needed || pool_held(p)) {
		server_close(s, s->close_needed ? "reconnect requested" : "shutting down");
		pool_launch(p);
		return;
	}
	if (p->nservers > p->size + p->reserve_size && list_empty(&p->waiting)) {
		server_close(s, "pool_size lowered");
		return;
	}
	struct list *first = list_first(&p->waiting);
	if (!first) {
		if (other_pool_starved(p)) {
			/* Its slot is worth more to a client of another pool of
			 * this database waiting at max_db_connections. */
			server_close(s, "making room for another pool of the database");
			return;
		}
		server_set_state(s, SV_IDLE);
		return;
	}
	struct client *c = pool_pick_waiter(p, s);
	if (!c && rt_now() >= p->retry_at) {
		server_close(s, "making room for other startup parameters");
		pool_launch(p);
		return;
	}
	if (!c)
		c = list_entry(first, struct client, pool_node);
	pool_unqueue(c);
	pool_link(p, s, c);
}

static void release_onward(struct server *s, enum pool_release how)
{
	if (how == POOL_RELEASE_RESET)
		server_reset(s);
	else if (how == POOL_RELEASE_DISCARD)
		server_discard(s);   /* a pinned client's session state goes */
	else
		pool_server_ready(s);
}

void pool_release(struct server *s, enum pool_release how)
{
	if (how == POOL_RELEASE_CLOSE) {
		/* a query may still run there: stop it, then close */
		if (s->state == SV_ACTIVE)
			pool_owner->stop_query(s);
		server_close(s, "client left while the server was busy");
		return;
	}
	if (s->cancels > 0) {
		/* PostgreSQL may not have taken a cancel sent for the client's
		 * query yet, and would cancel whatever runs there next: the
		 * reset query, a check, or another client's SET or query.
		 * PgBouncer (1.19 on) waits the same way. */
		s->release_after_cancel = (uint8_t)how;
		server_set_state(s, SV_CANCEL_WAIT);
		return;
	}
	release_onward(s, how);
}

void pool_cancel_settled(struct server *s)
{
	if (s->state != SV_CANCEL_WAIT)
		return;   /* still with its client, or closing */
	server_log(s, LOG_LVL_DEBUG, "the cancel sent for it is taken: back to the pool");
	release_onward(s, (enum pool_release)s->release_after_cancel);
}

/* Other pools of the same database may have been waiting for a slot. */
/* A slot under a shared limit came free: pools waiting on it may go on. */
static void kick_related(const struct pool *from)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->nwaiting > 0 && (shares(p, from, LIMIT_DB) || shares(p, from, LIMIT_USER)))
			pool_launch(p);
	}
}

void pool_server_gone(struct server *s)
{
	struct pool *p = s->pool;
	if (s->state == SV_CLOSED)
		return;
	p->nservers--;
	list_del_init(&s->pool_node);
	rt_kick();   /* a PAUSE, WAIT_CLOSE or shutdown may be done now */
	/* A server that never logged in tells us the database is failing:
	 * do not reconnect in a loop; pool_login_failed decides. */
	if (!server_logging_in(s)) {
		kick_related(p);
		if (p->nservers < p->min_pool_size)
			pool_launch(p);   /* keep min_pool_size warm */
	}
}

/* Failures that may heal by themselves: the server is down, shutting
 * down or restarting (57P01 when a fast restart meets a login, 57P02 after
 * a crash of another backend, 57P03 while it starts), or full. Anything
 * else (a wrong password, a missing database) will not. */
static bool transient_failure(const char *sqlstate)
{
	return !strncmp(sqlstate, "08", 2) || !strcmp(sqlstate, SQLSTATE_CANNOT_CONNECT_NOW) ||
	       !strcmp(sqlstate, SQLSTATE_ADMIN_SHUTDOWN) || !strcmp(sqlstate, SQLSTATE_CRASH_SHUTDOWN) ||
	       !strcmp(sqlstate, SQLSTATE_TOO_MANY_CONNECTIONS);
}

void pool_login_failed(struct pool *p, const char *sqlstate, const char *msg)
{
	snprintf(p->last_error, sizeof p->last_error, "%s", msg);
	snprintf(p->last_sqlstate, sizeof p->last_sqlstate, "%s", sqlstate);
	if (p->nservers > 0)
		return;   /* live servers can still serve the waiting clients */
	if (transient_failure(sqlstate)) {
		/* Keep waiting clients (up to query_wait_timeout) and try again
		 * after server_login_retry, without spinning. */
		/* never below 0.1 s: server_login_retry = 0 must not spin */
		double pause = rt.cfg->server_login_retry < 0.1 ? 0.1 : rt.cfg->server_login_retry;
		p->retry_at = rt_now() + pause;
		if (!p->retry_ev)
			p->retry_ev = loop_timer_new(retry_cb, p);
		if (p->retry_ev) {
			struct timeval tv = { (time_t)pause, (suseconds_t)((pause - (double)(time_t)pause) * 1e6) };
			loop_ev_add(p->retry_ev, &tv);
		}
		return;
	}
	while (!list_empty(&p->waiting)) {
		struct client *c = list_entry(list_first(&p->waiting), struct client, pool_node);
		pool_unqueue(c);
		pool_owner->fail(c, sqlstate, msg);
	}
}

void pool_capture_welcome(struct pool *p, const struct param_list *params)
{
	pool_welcome_forget(p);
	param_list_free(&p->welcome);
	for (size_t i = 0; i < params->n; i++)
		param_list_add(&p->welcome, params->names[i], params->values[i]);
	p->have_welcome = true;
}

void pool_get_counts(const struct pool *p, struct pool_counts *out)
{
	memset(out, 0, sizeof *out);
	out->cl_waiting = p->nwaiting;
	out->cl_active = p->nclients - p->nwaiting;
	for (const struct list *it = p->used.next; it != &p->used; it = it->next)
		out->sv_active++;
	for (const struct list *it = p->idle.next; it != &p->idle; it = it->next)
		out->sv_idle++;
	for (const struct list *it = p->busy.next; it != &p->busy; it = it->next) {
		const struct server *s = list_entry(it, struct server, pool_node);
		if (s->state == SV_RESET)
			out->sv_used++;
		else if (s->state == SV_TEST)
			out->sv_tested++;
		else if (s->state == SV_CANCEL_WAIT)
			out->sv_being_canceled++;
		else if (server_logging_in(s))
			out->sv_login++;
	}
	if (!list_empty(&p->waiting))
		out->maxwait = rt_now() - list_entry(list_first(&p->waiting), struct client,
						     pool_node)->wait_since;
}

/* ---- pools of the fallback: freed when unused ----
 *
 * A pool is unused when no logged-in client and no server points at it
 * (refs) and no client waits in its queue (a client waiting for an
 * auth_query lookup holds no reference: it leaves the pool at close).
 * Only pools of databases made on demand (config_db_auto) are freed, by
 * their own timer, never inside a caller's stack. */

void pool_ref(struct pool *p)
{
	p->refs++;
}

void pool_unref(struct pool *p)
{
	if (--p->refs < 0)
		BUG("pool %s/%s: references below zero", p->db_name, p->user);
	if (p->refs == 0 && p->nwaiting == 0)
		pool_note_unused(p);
}

static bool unused(const struct pool *p)
{
	return p->refs == 0 && p->nwaiting == 0;
}

/* How long an unused pool is kept. sluice's own lookup pools hold nothing
 * worth keeping once their servers are gone, and neither does a pool whose
 * login failed for good (no such database, a refused login): a stranger
 * naming made-up databases leaves nothing behind. */
static double keep_for(const struct pool *p)
{
	if (p->internal || (p->last_error[0] && !transient_failure(p->last_sqlstate)))
		return 0;
	return rt.cfg->autodb_idle_timeout;
}

static void arm_idle(struct pool *p)
{
	if (!unused(p) || !config_db_auto(rt.cfg, p->db_name))
		return;
	double in = p->unused_since + keep_for(p) - rt_now();
	if (in < 0)
		in = 0;
	struct timeval tv = { (time_t)in, (suseconds_t)((in - (double)(time_t)in) * 1e6) };
	loop_ev_add(p->idle_ev, &tv);
}

static void pool_note_unused(struct pool *p)
{
	p->unused_since = rt_now();
	arm_idle(p);
}

static void pool_free(struct pool *p)
{
	double keep = keep_for(p);
	if (keep > 0)
		log_info("pool %s/%s freed: unused for %g s (autodb_idle_timeout)", p->db_name, p->user, keep);
	else
		log_debug("pool %s/%s freed: unused%s", p->db_name, p->user,
			  p->internal ? "" : " after a login that failed for good");
	list_del_init(&p->node);
	bool last = true;
	for (const struct list *it = rt.pools.next; it != &rt.pools && last; it = it->next)
		last = strcmp(list_entry(it, struct pool, node)->db_name, p->db_name) != 0;
	if (last) {
		/* the database goes with its last pool */
		stats_db_forget(p->stats);
		pool_owner->database_gone(p->db_name);
	}
	loop_ev_free(p->wait_ev);
	loop_ev_free(p->idle_ev);
	if (p->retry_ev)
		loop_ev_free(p->retry_ev);
	pool_welcome_forget(p);
	param_list_free(&p->welcome);
	varcache_clear(&p->defaults);
	target_free(&p->target);
	free(p->db_name);
	free(p->user);
	free(p);
}

static void idle_cb(int fd, short what, void *arg)
{
	struct pool *p = arg;
	if (!unused(p) || !config_db_auto(rt.cfg, p->db_name))
		return;
	if (rt_now() - p->unused_since < keep_for(p)) {
		arm_idle(p);   /* autodb_idle_timeout grew at a reload */
		return;
	}
	pool_free(p);
}
