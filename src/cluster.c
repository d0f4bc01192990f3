/*
 * cluster.c — the coordination connection of a cluster of instances and
 * its membership (cluster.h; doc/cluster.md has the schema and the
 * failure table).
 *
 * One libpq connection, never blocking the event loop: PQconnectStart and
 * PQconnectPoll while connecting, then non-blocking PQsendQueryParams,
 * PQflush, PQconsumeInput and PQgetResult, woken by the event loop on the
 * socket. Queries run one at a time from a queue; each waits at most
 * cluster_member_timeout, after which the connection counts as lost (a
 * coordination server that stops answering costs a reconnect, never a
 * hang). What the server answers is read through cluster_value and
 * cluster_rows_ok only, which check row and field counts.
 *
 * After a connect: the schema (created and migrated here under an
 * advisory lock), LISTEN, the registration, then the layer above is told
 * (ops->connected). A timer every cluster_heartbeat writes the heartbeat
 * and reads the members back; a NOTIFY on the schema's channel whose
 * payload names this cluster makes that happen at once.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "cluster_internal.h"
#include "config.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"

#define SCHEMA_VERSION 1          /* what this sluice creates and understands */
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 10.0
#define QUERIES_MAX 256           /* queued at most; more fail at once */
#define ADVISORY_KEY 1936487779   /* pg_advisory_xact_lock: one migration at a time */

enum phase { PH_IDLE, PH_CONNECTING, PH_UP };

struct query {
	struct list node;
	char *sql;
	int nparams;
	char **params;
	cluster_result_fn cb;
	void *arg;
};

static struct {
	enum phase phase;
	PGconn *pg;
	struct loop_ev *ev_conn;       /* one-shot, while connecting */
	struct loop_ev *ev_read;       /* persistent, once up */
	struct loop_ev *ev_write;      /* one-shot, while output is unsent */
	struct loop_ev *tick;          /* heartbeat, reconnect, query deadline */
	double next_connect;         /* rt_now() of the next attempt */
	double backoff;
	double started_at;           /* of the connect or of the query in flight */
	bool set_up;                 /* schema, LISTEN, registration done */
	struct list queue;           /* struct query; the first is in flight when sent */
	int nqueued;
	bool sent;                   /* the first of the queue is on the server */
	PGresult *result;            /* the in-flight query's answer so far */
	struct cluster_state st;
	const struct cluster_ops *ops;
} cl = { .queue = { &cl.queue, &cl.queue } };

static void drop(const char *why);
static void pump(void);

bool cluster_enabled(void)
{
	return rt.cfg && rt.cfg->cluster_name && rt.cfg->cluster_name[0];
}

bool cluster_ready(void)
{
	return cl.phase == PH_UP && cl.set_up;
}

void cluster_set_ops(const struct cluster_ops *ops)
{
	cl.ops = ops;
}

const struct cluster_state *cluster_status(void)
{
	return &cl.st;
}

struct cluster_state *cluster_state_rw(void)
{
	return &cl.st;
}

const struct cluster_ops *cluster_ops_get(void)
{
	return cl.ops;
}

void cluster_drop(const char *why)
{
	drop(why);
}

bool cluster_rows_ok(const PGresult *res, int fields)
{
	return res && PQresultStatus(res) == PGRES_TUPLES_OK && PQnfields(res) >= fields &&
	       PQntuples(res) >= 0;
}

const char *cluster_value(const PGresult *res, int row, int field)
{
	if (!res || row < 0 || field < 0 || row >= PQntuples(res) || field >= PQnfields(res) ||
	    PQgetisnull(res, row, field))
		return "";
	return PQgetvalue(res, row, field);
}

static const char *schema(void)
{
	return rt.cfg->cluster_schema;
}


/* ---- the query queue ---- */

static void query_free(struct query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

bool cluster_query(const char *sql, int nparams, const char *const *params, cluster_result_fn cb, void *arg)
{
	if (cl.phase != PH_UP || cl.nqueued >= QUERIES_MAX)
		return false;
	struct query *q = calloc(1, sizeof *q);
	if (!q)
		return false;
	q->sql = strdup(sql);
	q->params = nparams ? calloc((size_t)nparams, sizeof *q->params) : NULL;
	bool ok = q->sql && (!nparams || q->params);
	q->nparams = ok ? nparams : 0;
	for (int i = 0; ok && i < nparams; i++)
		ok = (q->params[i] = strdup(params[i] ? params[i] : "")) != NULL;
	if (!ok) {
		query_free(q);
		return false;
	}
	q->cb = cb;
	q->arg = arg;
	list_append(&cl.queue, &q->node);
	cl.nqueued++;
	pump();
	return true;
}

/* Every query queued fails: its owner hears NULL. */
static void fail_queue(void)
{
	while (!list_empty(&cl.queue)) {
		struct query *q = list_entry(list_first(&cl.queue), struct query, node);
		list_del_init(&q->node);
		cl.nqueued--;
		if (q->cb)
			q->cb(q->arg, NULL);
		query_free(q);
	}
	cl.sent = false;
}

static void want_write(void)
{
	if (cl.ev_write && !loop_ev_pending(cl.ev_write, LOOP_WRITE))
		loop_ev_add(cl.ev_write, NULL);
}

/* Send the next query if none is on the server. */
static void pump(void)
{
	if (cl.phase != PH_UP || cl.sent || list_empty(&cl.queue))
		return;
	struct query *q = list_entry(list_first(&cl.queue), struct query, node);
	/* without parameters, the simple protocol: the schema's text is
	 * several statements */
	int ok = q->nparams ? PQsendQueryParams(cl.pg, q->sql, q->nparams, NULL,
						(const char *const *)q->params, NULL, NULL, 0)
			    : PQsendQuery(cl.pg, q->sql);
	if (!ok) {
		drop(PQerrorMessage(cl.pg));
		return;
	}
	cl.sent = true;
	cl.started_at = rt_now();
	int f = PQflush(cl.pg);
	if (f < 0)
		drop(PQerrorMessage(cl.pg));
	else if (f > 0)
		want_write();
}

/* The query in flight is over: hand its result over, send the next. */
static void finish_query(void)
{
	struct query *q = list_entry(list_first(&cl.queue), struct query, node);
	list_del_init(&q->node);
	cl.nqueued--;
	cl.sent = false;
	PGresult *res = cl.result;
	cl.result = NULL;
	if (res && PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *msg = PQresultErrorMessage(res);
		snprintf(cl.st.last_error, sizeof cl.st.last_error, "%.*s", (int)strcspn(msg, "\n"), msg);
		log_warn("cluster: query on the coordination database failed: %s", cl.st.last_error);
	}
	if (q->cb)
		q->cb(q->arg, res);
	PQclear(res);
	query_free(q);
	pump();
}

static void on_notify(const PGnotify *n)
{
	if (strcmp(n->extra, rt.cfg->cluster_name) != 0)
		return;   /* another cluster sharing the schema */
	log_debug("cluster: notified by the coordination database (backend %d)", n->be_pid);
	if (!cl.set_up)
		return;
	cluster_members_read();
	if (cl.ops && cl.ops->changed)
		cl.ops->changed();
}

static void read_cb(int fd, short what, void *arg)
{
	if (!PQconsumeInput(cl.pg)) {
		drop(PQerrorMessage(cl.pg));
		return;
	}
	while (cl.phase == PH_UP && cl.sent && !PQisBusy(cl.pg)) {
		PGresult *r = PQgetResult(cl.pg);
		if (!r) {
			finish_query();
			continue;
		}
		/* several statements: the first error, else the last result */
		if (cl.result && PQresultStatus(cl.result) == PGRES_FATAL_ERROR) {
			PQclear(r);
		} else {
			PQclear(cl.result);
			cl.result = r;
		}
	}
	if (cl.phase != PH_UP)
		return;
	PGnotify *n;
	for (int i = 0; i < 100 && (n = PQnotifies(cl.pg)); i++) {
		on_notify(n);
		PQfreemem(n);
		if (cl.phase != PH_UP)
			return;
	}
}

static void write_cb(int fd, short what, void *arg)
{
	int f = PQflush(cl.pg);
	if (f < 0)
		drop(PQerrorMessage(cl.pg));
	else if (f > 0)
		want_write();
}

/* ---- connecting ---- */

static void free_events(void)
{
	struct loop_ev **evs[] = { &cl.ev_conn, &cl.ev_read, &cl.ev_write };
	for (size_t i = 0; i < ARRAY_SIZE(evs); i++)
		if (*evs[i]) {
			loop_ev_free(*evs[i]);
			*evs[i] = NULL;
		}
}

static void set_connected(bool up)
{
	if (cl.st.connected == up)
		return;
	cl.st.connected = up;
	cl.st.since = rt_now();
	if (up)
		cl.st.connects++;
	else
		cl.st.losses++;
}

static void drop(const char *why)
{
	if (cl.phase == PH_IDLE)
		return;
	bool was_up = cl.set_up;
	snprintf(cl.st.last_error, sizeof cl.st.last_error, "%.*s", (int)strcspn(why, "\n"), why);
	log_warn("cluster %s: lost the coordination connection: %s; reconnecting in %.1f s",
		 rt.cfg->cluster_name, cl.st.last_error, cl.backoff);
	free_events();
	PQclear(cl.result);
	cl.result = NULL;
	PQfinish(cl.pg);
	cl.pg = NULL;
	cl.phase = PH_IDLE;
	cl.set_up = false;
	cl.st.registered = false;
	set_connected(false);
	cluster_members_lost();
	cl.next_connect = rt_now() + cl.backoff;
	cl.backoff = cl.backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : cl.backoff * 2;
	fail_queue();
	if (was_up && cl.ops && cl.ops->lost)
		cl.ops->lost();
}

static void set_up_connection(void);

static void poll_connect(void);

static void conn_cb(int fd, short what, void *arg)
{
	poll_connect();
}

static void poll_connect(void)
{
	PostgresPollingStatusType st = PQconnectPoll(cl.pg);
	if (cl.ev_conn) {
		loop_ev_free(cl.ev_conn);
		cl.ev_conn = NULL;
	}
	if (st == PGRES_POLLING_FAILED) {
		drop(PQerrorMessage(cl.pg));
		return;
	}
	int fd = PQsocket(cl.pg);
	if (st == PGRES_POLLING_OK) {
		if (PQsetnonblocking(cl.pg, 1) != 0 || fd < 0) {
			drop("cannot make the connection non-blocking");
			return;
		}
		cl.ev_read = loop_ev_new(fd, LOOP_READ | LOOP_PERSIST, read_cb, NULL);
		cl.ev_write = loop_ev_new(fd, LOOP_WRITE, write_cb, NULL);
		if (!cl.ev_read || !cl.ev_write || loop_ev_add(cl.ev_read, NULL) != 0) {
			drop("out of memory");
			return;
		}
		cl.phase = PH_UP;
		set_up_connection();
		return;
	}
	short ev = st == PGRES_POLLING_WRITING ? LOOP_WRITE : LOOP_READ;
	cl.ev_conn = fd >= 0 ? loop_ev_new(fd, ev, conn_cb, NULL) : NULL;
	if (!cl.ev_conn || loop_ev_add(cl.ev_conn, NULL) != 0)
		drop("cannot wait for the connection");
}

/* The first configured database's server, when cluster_dsn is empty. */
static bool default_dsn(char *out, size_t n)
{
	const struct db_entry *d = NULL;
	for (size_t i = 0; i < rt.cfg->ndbs && !d; i++)
		if (strcmp(rt.cfg->dbs[i].name, "*") != 0)
			d = &rt.cfg->dbs[i];
	if (!d)
		return false;
	char port[16] = "";
	if (d->port > 0)
		snprintf(port, sizeof port, "%d", d->port);
	const char *keys[] = { "host", "port", "dbname", "user", "password" };
	const char *vals[] = { d->host, port, d->dbname ? d->dbname : d->name, d->user, d->password };
	size_t len = 0;
	out[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!vals[i] || !*vals[i])
			continue;
		int w = snprintf(out + len, n - len, "%s%s='", len ? " " : "", keys[i]);
		if (w < 0 || (size_t)w >= n - len)
			return false;
		len += (size_t)w;
		for (const char *p = vals[i]; *p && len + 3 < n; p++) {
			if (*p == '\'' || *p == '\\')
				out[len++] = '\\';
			out[len++] = *p;
		}
		if (len + 2 >= n)
			return false;
		out[len++] = '\'';
		out[len] = 0;
	}
	return true;
}

/* What the server says outside a query's answer (a NOTICE, the FATAL
 * of a terminated session): logged, never written to stderr by libpq. */
static void notice_cb(void *arg, const char *msg)
{
	log_info("cluster %s: the coordination server says: %.*s", rt.cfg->cluster_name,
		 (int)strcspn(msg, "\n"), msg);
}

static void start_connect(void)
{
	char dsn[2048];
	const char *conninfo = rt.cfg->cluster_dsn;
	if (!conninfo || !*conninfo) {
		if (!default_dsn(dsn, sizeof dsn)) {
			log_error("cluster %s: cluster_dsn is empty and no [databases] entry names a server",
				  rt.cfg->cluster_name);
			cl.next_connect = rt_now() + BACKOFF_MAX;
			return;
		}
		conninfo = dsn;
	}
	/* the member is named in pg_stat_activity (a dsn may name another) */
	char app[64];
	snprintf(app, sizeof app, "sluice cluster peer %d", rt.cfg->peer_id);
	const char *const keys[] = { "dbname", "fallback_application_name", NULL };
	const char *const vals[] = { conninfo, app, NULL };
	cl.pg = PQconnectStartParams(keys, vals, 1);
	if (!cl.pg) {
		cl.next_connect = rt_now() + cl.backoff;
		return;
	}
	PQsetNoticeProcessor(cl.pg, notice_cb, NULL);
	cl.phase = PH_CONNECTING;
	cl.started_at = rt_now();
	if (PQstatus(cl.pg) == CONNECTION_BAD) {
		drop(PQerrorMessage(cl.pg));
		return;
	}
	poll_connect();
}

/* ---- setting up: schema, LISTEN, registration ---- */

/*
 * The schema, version 1. Created under an advisory lock so that members
 * starting together do it once; each object only when missing, so a
 * database administrator may create the schema (or all of it) beforehand
 * and grant sluice's role only what doc/cluster.md lists.
 */
static const char migrate_fmt[] =
	"DO $sluice$ BEGIN "
	"PERFORM pg_advisory_xact_lock(%d); "
	"IF to_regnamespace('%s') IS NULL THEN CREATE SCHEMA %s; END IF; "
	"IF to_regclass('%s.schema_version') IS NULL THEN "
	"  CREATE TABLE %s.schema_version (version int NOT NULL); END IF; "
	"IF NOT EXISTS (SELECT FROM %s.schema_version WHERE version >= 1) THEN "
	"  CREATE TABLE %s.members (cluster text NOT NULL, peer_id int NOT NULL, instance text NOT NULL, "
	"    address text NOT NULL, version text NOT NULL, started timestamptz NOT NULL, "
	"    heartbeat timestamptz NOT NULL, gates text NOT NULL DEFAULT '', pools text NOT NULL DEFAULT '', "
	"    pool_total int NOT NULL DEFAULT 0, PRIMARY KEY (cluster, peer_id)); "
	"  CREATE TABLE %s.windows (cluster text NOT NULL, number bigint NOT NULL, db text NOT NULL, "
	"    state text NOT NULL, opened_by int NOT NULL, started timestamptz NOT NULL DEFAULT now(), "
	"    deadline timestamptz, max_until timestamptz, closed timestamptz, ended timestamptz, "
	"    reason text NOT NULL DEFAULT '', PRIMARY KEY (cluster, number)); "
	"  CREATE UNIQUE INDEX windows_one_active ON %s.windows (cluster, db) "
	"    WHERE state IN ('closing', 'closed'); "
	"  CREATE TABLE %s.reports (cluster text NOT NULL, number bigint NOT NULL, peer_id int NOT NULL, "
	"    state text NOT NULL, detail text NOT NULL DEFAULT '', at timestamptz NOT NULL DEFAULT now(), "
	"    PRIMARY KEY (cluster, number, peer_id)); "
	"  INSERT INTO %s.schema_version VALUES (1); "
	"END IF; END $sluice$; "
	"SELECT max(version) FROM %s.schema_version";

static void got_listen(void *arg, const PGresult *res)
{
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		drop("LISTEN failed");
		return;
	}
	cl.set_up = true;
	cl.backoff = BACKOFF_MIN;
	set_connected(true);
	log_info("cluster %s: connected to the coordination database (schema %s)",
		 rt.cfg->cluster_name, schema());
	cluster_members_join();
	if (cl.ops && cl.ops->connected)
		cl.ops->connected();
}

static void got_schema(void *arg, const PGresult *res)
{
	if (!cluster_rows_ok(res, 1) || PQntuples(res) != 1) {
		drop(res ? "creating the cluster schema failed (doc/cluster.md lists the privileges)"
			 : "connection lost while creating the schema");
		return;
	}
	long v = strtol(cluster_value(res, 0, 0), NULL, 10);
	if (v != SCHEMA_VERSION) {
		char why[160];
		snprintf(why, sizeof why, "schema %s is at version %ld; this sluice knows version %d",
			 schema(), v, SCHEMA_VERSION);
		drop(why);
		return;
	}
	char sql[128];
	snprintf(sql, sizeof sql, "LISTEN %s", schema());
	if (!cluster_query(sql, 0, NULL, got_listen, NULL))
		drop("out of memory");
}

static void set_up_connection(void)
{
	char sql[CLUSTER_SQL_MAX];
	const char *s = schema();
	snprintf(sql, sizeof sql, migrate_fmt, ADVISORY_KEY, s, s, s, s, s, s, s, s, s, s, s);
	if (!cluster_query(sql, 0, NULL, got_schema, NULL))
		drop("out of memory");
}

void cluster_notify(void)
{
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT pg_notify($1, $2)");
	const char *p[] = { schema(), rt.cfg->cluster_name };
	if (cl.phase == PH_UP && !cluster_query(sql, 2, p, NULL, NULL))
		log_debug("cluster: NOTIFY not sent (queue full or out of memory)");
}

static void tick_cb(int fd, short what, void *arg)
{
	double now = rt_now();
	if (cl.phase == PH_IDLE) {
		if (now >= cl.next_connect)
			start_connect();
		return;
	}
	/* a connect or query that takes longer than a member may stay silent */
	double limit = rt.cfg->cluster_member_timeout;
	if (cl.phase == PH_CONNECTING && now - cl.started_at > limit) {
		drop("no connection within cluster_member_timeout");
		return;
	}
	if (cl.phase == PH_UP && cl.sent && now - cl.started_at > limit) {
		drop("no answer within cluster_member_timeout");
		return;
	}
	if (!cluster_ready())
		return;
	cluster_members_tick();
	if (cl.ops && cl.ops->changed)
		cl.ops->changed();
}

bool cluster_start(void)
{
	if (!cluster_enabled())
		return true;
	if (!cluster_members_init())
		return false;
	cl.backoff = BACKOFF_MIN;
	double every = rt.cfg->cluster_heartbeat;
	struct timeval tv = { (time_t)every, (suseconds_t)((every - (double)(time_t)every) * 1e6) };
	cl.tick = loop_ev_new(-1, LOOP_PERSIST, tick_cb, NULL);
	if (!cl.tick || loop_ev_add(cl.tick, &tv) != 0)
		return false;
	log_info("cluster %s: peer %d joining through the coordination database", rt.cfg->cluster_name,
		 rt.cfg->peer_id);
	start_connect();
	return true;
}

void cluster_stop(void)
{
	if (cl.tick) {
		loop_ev_free(cl.tick);
		cl.tick = NULL;
	}
	cl.ops = NULL;
	free_events();
	PQclear(cl.result);
	cl.result = NULL;
	if (cl.pg)
		PQfinish(cl.pg);
	cl.pg = NULL;
	cl.phase = PH_IDLE;
	cl.set_up = false;
	fail_queue();
	cluster_members_free();
}
