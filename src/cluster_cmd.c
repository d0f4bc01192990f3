/*
 * cluster_cmd.c — PAUSE db CLUSTER and RESUME db CLUSTER on the member
 * they are typed on (cluster_gate.h): the window's row in the coordination
 * database, and the wait for every live member's report.
 *
 * The member that opened a window decides it: closed once every member
 * with a heartbeat within cluster_member_timeout reported closed (a dead
 * one is left out), failed when one reports failed or the deadline
 * passes. It reads the reports at each NOTIFY and heartbeat. If it loses
 * its coordination connection meanwhile, its caller hears of the failure
 * at once and the window is failed when the connection is back (or by any
 * member reading it past its deadline or gate_max_pause): a PAUSE that
 * failed never leaves the cluster closed.
 *
 * A caller's done is always called from the deferred check
 * (cluster_gate_update), never inside cluster_gate_pause/_resume.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_gate.h"
#include "cluster_gate_internal.h"
#include "config.h"
#include "list.h"
#include "log.h"
#include "runtime.h"
#include "sqlstate.h"

#define ORPHANS_MAX 16
#define DETAIL_MAX 2048

enum wait_kind { W_PAUSE, W_RESUME };
enum wait_state { S_OPENING, S_WAITING, S_CHECKING, S_ENDING, S_DONE };

struct cwait {
	struct list node;
	enum wait_kind kind;
	enum wait_state st;
	cluster_gate_done_fn done;   /* NULL once its caller is gone */
	void *arg;
	char db[64];
	uint64_t number;
	double timeout;
	bool ok;
	const char *sqlstate;
	char msg[512];
	char detail[DETAIL_MAX];
	char members[256];           /* "1=closed 2=closed", as SHOW GATES shows them */
};

static struct list waits = { &waits, &waits };
static uint64_t orphans[ORPHANS_MAX];   /* windows to fail when connected again */
static int norphans;

static const char *schema(void)
{
	return rt.cfg->cluster_schema;
}

static bool active(const char *state)
{
	return !strcmp(state, "closing") || !strcmp(state, "closed");
}

static void finish(struct cwait *w, bool ok, const char *sqlstate, const char *fmt, ...) PRINTF(4, 5);
static void finish(struct cwait *w, bool ok, const char *sqlstate, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof w->msg, fmt, ap);
	va_end(ap);
	w->ok = ok;
	w->sqlstate = sqlstate;
	w->st = S_DONE;
	rt_kick();
}

void cluster_cmd_progress(void)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &waits) {
		struct cwait *w = list_entry(it, struct cwait, node);
		if (w->st != S_DONE)
			continue;
		list_del_init(&w->node);
		if (w->done)
			w->done(w->arg, w->ok, w->sqlstate, w->msg, w->detail);
		free(w);
	}
}

void cluster_gate_forget(void *arg)
{
	for (struct list *it = waits.next; it != &waits; it = it->next) {
		struct cwait *w = list_entry(it, struct cwait, node);
		if (w->arg == arg)
			w->done = NULL;
	}
}

static struct cwait *wait_new(enum wait_kind kind, const char *db, cluster_gate_done_fn done, void *arg,
			      char *why, size_t whylen)
{
	if (!cluster_ready()) {
		snprintf(why, whylen, "the coordination database is not reachable from this member (%s)",
			 cluster_status()->last_error[0] ? cluster_status()->last_error : "connecting");
		return NULL;
	}
	if (strlen(db) >= sizeof ((struct cwait *)0)->db) {
		snprintf(why, whylen, "database name too long for a cluster window");
		return NULL;
	}
	struct cwait *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	w->kind = kind;
	w->done = done;
	w->arg = arg;
	snprintf(w->db, sizeof w->db, "%s", db);
	list_append(&waits, &w->node);
	return w;
}

/* The connection went while w waited: its caller hears so now, and the
 * window is failed once connected again. */
static void orphan(struct cwait *w)
{
	if (w->number && norphans < ORPHANS_MAX)
		orphans[norphans++] = w->number;
	finish(w, false, SQLSTATE_CONNECTION_FAILURE,
	       "PAUSE %s CLUSTER: lost the coordination connection; window %llu is failed and reopened "
	       "everywhere once it is back (or at its deadline)", w->db, (unsigned long long)w->number);
}

static void end_window(uint64_t number, const char *reason, cluster_result_fn cb, void *arg)
{
	char sql[320], n[24];
	snprintf(sql, sizeof sql, "UPDATE %s.windows SET state = 'failed', ended = now(), reason = $3 "
		 "WHERE cluster = $1 AND number = $2 AND state IN ('closing', 'closed') RETURNING 1", schema());
	snprintf(n, sizeof n, "%llu", (unsigned long long)number);
	const char *v[] = { rt.cfg->cluster_name, n, reason };
	if (!cluster_query(sql, 3, v, cb, arg) && cb)
		cb(arg, NULL);
}

static void got_failed(void *arg, const PGresult *res)
{
	struct cwait *w = arg;
	if (!res) {
		orphan(w);
		return;
	}
	char reason[sizeof w->msg];
	snprintf(reason, sizeof reason, "%s", w->msg);
	cluster_gate_mark(w->db, w->number, "failed", w->members);
	cluster_notify();
	finish(w, false, SQLSTATE_LOCK_NOT_AVAILABLE,
	       "PAUSE %s CLUSTER: %s; cluster window %llu reopened everywhere", w->db, reason,
	       (unsigned long long)w->number);
}

static void fail_window(struct cwait *w, const char *reason)
{
	log_warn("cluster window %llu (%s) failed: %s; reopening on every member. Members:\n%s",
		 (unsigned long long)w->number, w->db, reason, w->detail);
	snprintf(w->msg, sizeof w->msg, "%s", reason);
	w->st = S_ENDING;
	end_window(w->number, reason, got_failed, w);
}

static void got_closed(void *arg, const PGresult *res)
{
	struct cwait *w = arg;
	if (!res) {
		orphan(w);
		return;
	}
	if (!cluster_rows_ok(res, 1) || PQntuples(res) != 1) {
		w->st = S_WAITING;   /* it changed meanwhile: look again */
		cluster_cmd_changed();
		return;
	}
	log_info("cluster window %llu (%s): closed on every live member", (unsigned long long)w->number, w->db);
	cluster_gate_mark(w->db, w->number, "closed", w->members);   /* SHOW GATES says so at once */
	cluster_notify();
	finish(w, true, NULL, "PAUSE");
}

static void got_check(void *arg, const PGresult *res)
{
	struct cwait *w = arg;
	if (!res) {
		orphan(w);
		return;
	}
	w->st = S_WAITING;
	if (!cluster_rows_ok(res, 7) || PQntuples(res) < 1) {
		finish(w, false, SQLSTATE_QUERY_CANCELED, "PAUSE %s CLUSTER: window %llu is gone from the "
		       "coordination database", w->db, (unsigned long long)w->number);
		return;
	}
	const char *state = cluster_value(res, 0, 0);
	if (!active(state)) {
		finish(w, false, SQLSTATE_QUERY_CANCELED, "PAUSE %s CLUSTER was cancelled: window %llu ended (%s)",
		       w->db, (unsigned long long)w->number, *cluster_value(res, 0, 6) ? cluster_value(res, 0, 6) : state);
		return;
	}
	int alive = 0, closed = 0, failed = 0;
	size_t len = 0, mlen = 0;
	w->detail[0] = 0;
	w->members[0] = 0;
	int rows = PQntuples(res) > CLUSTER_MEMBERS_MAX ? CLUSTER_MEMBERS_MAX : PQntuples(res);
	for (int r = 0; r < rows; r++) {
		const char *peer = cluster_value(res, r, 2), *rs = cluster_value(res, r, 3);
		bool is_alive = !strcmp(cluster_value(res, r, 5), "t");
		if (!*peer)
			continue;   /* no member at all */
		alive += is_alive;
		closed += is_alive && !strcmp(rs, "closed");
		failed += is_alive && !strcmp(rs, "failed");
		int n = snprintf(w->detail + len, sizeof w->detail - len, "%speer %s: %s%s%s", len ? "\n" : "", peer,
				 !is_alive ? "dead, left out" : *rs ? rs : "no report yet",
				 *cluster_value(res, r, 4) ? ": " : "", cluster_value(res, r, 4));
		if (n < 0 || (size_t)n >= sizeof w->detail - len)
			break;
		len += (size_t)n;
		if (*rs) {
			n = snprintf(w->members + mlen, sizeof w->members - mlen, "%s%s=%s", mlen ? " " : "", peer, rs);
			if (n < 0 || (size_t)n >= sizeof w->members - mlen)
				w->members[mlen] = 0;
			else
				mlen += (size_t)n;
		}
	}
	if (!strcmp(state, "closed")) {
		finish(w, true, NULL, "PAUSE");
	} else if (failed) {
		fail_window(w, "a member could not drain before the deadline");
	} else if (alive && closed == alive) {
		char sql[256], n[24];
		snprintf(sql, sizeof sql, "UPDATE %s.windows SET state = 'closed', closed = now() "
			 "WHERE cluster = $1 AND number = $2 AND state = 'closing' RETURNING 1", schema());
		snprintf(n, sizeof n, "%llu", (unsigned long long)w->number);
		const char *v[] = { rt.cfg->cluster_name, n };
		w->st = S_ENDING;
		if (!cluster_query(sql, 2, v, got_closed, w))
			orphan(w);
	} else if (!strcmp(cluster_value(res, 0, 1), "t")) {
		fail_window(w, "the drain deadline passed before every live member closed");
	}
}

static void check(struct cwait *w)
{
	char sql[900], n[24], timeout[32];
	snprintf(sql, sizeof sql,
		 "SELECT w.state, coalesce(w.deadline < now(), false), m.peer_id, coalesce(r.state, ''), "
		 "coalesce(r.detail, ''), coalesce(m.heartbeat > now() - make_interval(secs => $3), false), w.reason "
		 "FROM %s.windows w LEFT JOIN %s.members m ON m.cluster = w.cluster "
		 "LEFT JOIN %s.reports r ON r.cluster = w.cluster AND r.number = w.number AND r.peer_id = m.peer_id "
		 "WHERE w.cluster = $1 AND w.number = $2 ORDER BY m.peer_id LIMIT %d",
		 schema(), schema(), schema(), CLUSTER_MEMBERS_MAX);
	snprintf(n, sizeof n, "%llu", (unsigned long long)w->number);
	snprintf(timeout, sizeof timeout, "%g", rt.cfg->cluster_member_timeout);
	const char *v[] = { rt.cfg->cluster_name, n, timeout };
	w->st = S_CHECKING;
	if (!cluster_query(sql, 3, v, got_check, w))
		orphan(w);
}

void cluster_cmd_changed(void)
{
	for (struct list *it = waits.next; it != &waits; it = it->next) {
		struct cwait *w = list_entry(it, struct cwait, node);
		if (w->st == S_WAITING && w->kind == W_PAUSE)
			check(w);
	}
}

static void got_opened(void *arg, const PGresult *res)
{
	struct cwait *w = arg;
	if (!res) {
		finish(w, false, SQLSTATE_CONNECTION_FAILURE,
		       "PAUSE %s CLUSTER: lost the coordination connection before the window opened", w->db);
		return;
	}
	if (!cluster_rows_ok(res, 1) || PQntuples(res) != 1) {
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (code && !strcmp(code, "23505"))
			finish(w, false, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			       "database %s has a cluster window open already (SHOW GATES names it)", w->db);
		else
			finish(w, false, SQLSTATE_CONNECTION_EXCEPTION, "PAUSE %s CLUSTER: the coordination "
			       "database refused the window: %s", w->db, cluster_status()->last_error);
		return;
	}
	w->number = strtoull(cluster_value(res, 0, 0), NULL, 10);
	log_info("cluster window %llu (%s): opened by this member (PAUSE %s CLUSTER, %s)",
		 (unsigned long long)w->number, w->db, w->db,
		 w->timeout > 0 ? "with a drain deadline" : "no drain deadline");
	w->st = S_WAITING;
	cluster_notify();   /* every member, this one too, reads it and closes */
}

bool cluster_gate_pause(const char *db, double timeout, cluster_gate_done_fn done, void *arg,
			char *why, size_t whylen)
{
	struct cwait *w = wait_new(W_PAUSE, db, done, arg, why, whylen);
	if (!w)
		return false;
	w->timeout = timeout;
	char sql[700], t[32], max[32], peer[16];
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s.windows (cluster, number, db, state, opened_by, deadline, max_until) "
		 "SELECT $1, coalesce(max(number), 0) + 1, $2, 'closing', $3, "
		 "CASE WHEN $4::float8 > 0 THEN now() + make_interval(secs => $4::float8) END, "
		 "CASE WHEN $5::float8 > 0 THEN now() + make_interval(secs => $5::float8) END "
		 "FROM %s.windows WHERE cluster = $1 RETURNING number", schema(), schema());
	snprintf(t, sizeof t, "%g", timeout > 0 ? timeout : 0);
	snprintf(max, sizeof max, "%g", rt.cfg->gate_max_pause);
	snprintf(peer, sizeof peer, "%d", rt.cfg->peer_id);
	const char *v[] = { rt.cfg->cluster_name, db, peer, t, max };
	if (!cluster_query(sql, 5, v, got_opened, w)) {
		list_del_init(&w->node);
		free(w);
		snprintf(why, whylen, "out of memory");
		return false;
	}
	return true;
}

static void got_resumed(void *arg, const PGresult *res)
{
	struct cwait *w = arg;
	if (!res) {
		finish(w, false, SQLSTATE_CONNECTION_FAILURE, "RESUME %s CLUSTER: lost the coordination "
		       "connection; nothing was resumed", w->db);
		return;
	}
	if (!cluster_rows_ok(res, 1) || PQntuples(res) != 1) {
		if (w->number)
			finish(w, false, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			       "cluster window %llu of database %s is not open", (unsigned long long)w->number, w->db);
		else
			finish(w, false, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			       "database %s has no cluster window open", w->db);
		return;
	}
	w->number = strtoull(cluster_value(res, 0, 0), NULL, 10);
	log_info("cluster window %llu (%s): ended by this member (RESUME %s CLUSTER)",
		 (unsigned long long)w->number, w->db, w->db);
	cluster_gate_mark(w->db, w->number, "open", NULL);
	cluster_notify();
	finish(w, true, NULL, "RESUME");
}

bool cluster_gate_resume(const char *db, uint64_t window, cluster_gate_done_fn done, void *arg,
			 char *why, size_t whylen)
{
	struct cwait *w = wait_new(W_RESUME, db, done, arg, why, whylen);
	if (!w)
		return false;
	w->number = window;
	char sql[400], n[24];
	snprintf(sql, sizeof sql,
		 "UPDATE %s.windows SET state = 'open', ended = now(), reason = 'RESUME CLUSTER' "
		 "WHERE cluster = $1 AND db = $2 AND state IN ('closing', 'closed') AND ($3 = 0 OR number = $3) "
		 "RETURNING number", schema());
	snprintf(n, sizeof n, "%llu", (unsigned long long)window);
	const char *v[] = { rt.cfg->cluster_name, db, n };
	if (!cluster_query(sql, 3, v, got_resumed, w)) {
		list_del_init(&w->node);
		free(w);
		snprintf(why, whylen, "out of memory");
		return false;
	}
	return true;
}

static void got_orphan_ended(void *arg, const PGresult *res)
{
	if (res && cluster_rows_ok(res, 1) && PQntuples(res) == 1) {
		log_warn("cluster window %llu failed: this member opened it and lost its coordination "
			 "connection meanwhile; reopening on every member", (unsigned long long)(uintptr_t)arg);
		cluster_notify();
	}
}

/* Waits with no query in flight hear of the loss here; those with one
 * heard of it through its callback. */
void cluster_cmd_lost(void)
{
	for (struct list *it = waits.next; it != &waits; it = it->next) {
		struct cwait *w = list_entry(it, struct cwait, node);
		if (w->st == S_WAITING)
			orphan(w);
	}
}

void cluster_cmd_connected(void)
{
	int n = norphans;
	norphans = 0;
	for (int i = 0; i < n; i++)
		end_window(orphans[i], "the member that opened it lost its coordination connection",
			   got_orphan_ended, (void *)(uintptr_t)orphans[i]);
}

void cluster_cmd_free(void)
{
	while (!list_empty(&waits)) {
		struct cwait *w = list_entry(list_first(&waits), struct cwait, node);
		list_del_init(&w->node);
		free(w);
	}
	norphans = 0;
}
