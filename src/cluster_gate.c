/*
 * cluster_gate.c — this member's part in the cluster's windows
 * (cluster_gate.h; doc/cluster.md has the failure table).
 *
 * The windows live in the coordination database; each member reads them
 * (at connect, at every NOTIFY and every heartbeat), closes its own gate
 * for a window's database through gate_pause_window, and reports what its
 * gate did (draining, closed, failed, open) in the reports table. A window
 * that is no longer closing or closed there reopens the member's gate.
 *
 * What the member does not know it does not guess: started, it holds every
 * transaction until it has read the windows once (gate_hold_all); having
 * lost the connection, its gates stay as they are until it reads again.
 * gate_max_pause bounds both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_gate.h"
#include "cluster_gate_internal.h"
#include "config.h"
#include "gate.h"
#include "list.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"

#define WINDOWS_MAX 1000   /* rows read at most */

/* The latest window of one database, as last read, and this member's part. */
struct part {
	struct list node;
	char *db;
	uint64_t number;
	char state[16];              /* closing, closed, open, failed (the window's) */
	char reason[128];
	char members[256];           /* "1=closed 2=draining" */
	bool applied;                /* this member's gate takes part */
	char reported[16];           /* the last part state written; "" none */
};

static struct list parts = { &parts, &parts };
static bool synced;                  /* the windows were read since start */
static bool reading;
static struct loop_ev *unsynced_timer; /* gate_max_pause while not synced */

static struct part *part_find(const char *db)
{
	for (struct list *it = parts.next; it != &parts; it = it->next) {
		struct part *p = list_entry(it, struct part, node);
		if (!strcmp(p->db, db))
			return p;
	}
	return NULL;
}

static struct part *part_get(const char *db)
{
	struct part *p = part_find(db);
	if (p)
		return p;
	p = calloc(1, sizeof *p);
	if (!p || !(p->db = strdup(db))) {
		free(p);
		return NULL;
	}
	list_append(&parts, &p->node);
	return p;
}

static bool active(const char *state)
{
	return !strcmp(state, "closing") || !strcmp(state, "closed");
}

const char *cluster_gate_part(const char *db, uint64_t *number, const char **members)
{
	const struct part *p = cluster_enabled() ? part_find(db) : NULL;
	*number = p ? p->number : 0;
	*members = p ? p->members : "";
	return p ? p->state : "";
}

void cluster_gate_mark(const char *db, uint64_t number, const char *state, const char *members)
{
	struct part *p = part_find(db);
	if (!p || p->number != number)
		return;   /* not read yet: the next read brings it */
	snprintf(p->state, sizeof p->state, "%s", state);
	if (members)
		snprintf(p->members, sizeof p->members, "%s", members);
}

/* What this member's gate does in window p: its report. */
static const char *part_state(const struct part *p, const struct gate *g)
{
	if (!g || g->cluster_window != p->number)
		return "";
	if (g->state == GATE_CLOSED)
		return "closed";
	if (g->state == GATE_DRAINING)
		return "draining";
	return g->failed_window == p->number ? "failed" : "open";
}

static void report(struct part *p, const char *state, const char *detail)
{
	char sql[512], number[24], peer[16];
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s.reports (cluster, number, peer_id, state, detail) VALUES ($1, $2, $3, $4, $5) "
		 "ON CONFLICT (cluster, number, peer_id) DO UPDATE SET state = EXCLUDED.state, "
		 "detail = EXCLUDED.detail, at = now()", rt.cfg->cluster_schema);
	snprintf(number, sizeof number, "%llu", (unsigned long long)p->number);
	snprintf(peer, sizeof peer, "%d", rt.cfg->peer_id);
	const char *v[] = { rt.cfg->cluster_name, number, peer, state, detail ? detail : "" };
	if (!cluster_query(sql, 5, v, NULL, NULL))
		return;   /* lost: reported again after the reconnect */
	snprintf(p->reported, sizeof p->reported, "%s", state);
	log_info("cluster window %llu (%s): this member reports %s", (unsigned long long)p->number, p->db, state);
	cluster_notify();
}

/* After anything that may have moved a gate: report the parts that changed. */
static void update(void)
{
	cluster_cmd_progress();   /* callers whose command ended, connected or not */
	if (!cluster_ready())
		return;
	for (struct list *it = parts.next; it != &parts; it = it->next) {
		struct part *p = list_entry(it, struct part, node);
		if (!p->applied)
			continue;
		struct gate *g = gate_get(p->db);
		const char *st = part_state(p, g);
		if (!*st || !strcmp(st, p->reported))
			continue;
		report(p, st, !strcmp(st, "failed") ? g->failure : NULL);
	}
}

void cluster_gate_update(void)
{
	if (cluster_enabled())
		update();
}

/* The window p ended (RESUME CLUSTER, a failure, gate_max_pause): this
 * member's gate reopens, refreshing its servers (gate_resume_reset). */
static void end_part(struct part *p, const char *why)
{
	struct gate *g = gate_get(p->db);
	p->applied = false;
	if (!g || g->cluster_window != p->number)
		return;
	g->cluster_window = 0;
	if (g->state != GATE_OPEN && g->cur.number == p->number) {
		log_info("cluster window %llu (%s) ended (%s): reopening this member's gate",
			 (unsigned long long)p->number, p->db, why);
		gate_resume(g);
	}
}

static void apply(struct part *p, double drain_in, bool has_deadline)
{
	struct gate *g = gate_get(p->db);
	if (!g)
		return;
	p->applied = true;
	p->reported[0] = 0;
	g->cluster_window = p->number;
	if (g->state != GATE_OPEN) {
		log_info("cluster window %llu (%s): this member's gate is %s already (window %llu); it takes part",
			 (unsigned long long)p->number, p->db, gate_state_name(g->state),
			 (unsigned long long)g->cur.number);
		return;
	}
	/* a closed window this member never drained for: it ran beside it */
	if (!strcmp(p->state, "closed") && g->in_flight > 0)
		log_warn("cluster window %llu (%s) is closed already: this member closes late, "
			 "%d transaction%s still running", (unsigned long long)p->number, p->db, g->in_flight,
			 g->in_flight == 1 ? "" : "s");
	double timeout = !has_deadline || !strcmp(p->state, "closed") ? -1 : drain_in > 0.001 ? drain_in : 0.001;
	log_info("cluster window %llu (%s): closing this member's gate", (unsigned long long)p->number, p->db);
	if (!gate_pause_window(g, timeout, p->number))
		p->applied = false;
}

static void stop_unsynced(void)
{
	if (synced)
		return;
	synced = true;
	if (unsynced_timer)
		loop_ev_del(unsynced_timer);
	gate_hold_all(false);
	log_info("cluster %s: windows read; transactions held since start go on", rt.cfg->cluster_name);
}

static void got_windows(void *arg, const PGresult *res)
{
	reading = false;
	if (!cluster_rows_ok(res, 7))
		return;
	int rows = PQntuples(res) > WINDOWS_MAX ? WINDOWS_MAX : PQntuples(res);
	for (int r = 0; r < rows; r++) {
		char *end;
		unsigned long long n = strtoull(cluster_value(res, r, 0), &end, 10);
		const char *db = cluster_value(res, r, 1), *state = cluster_value(res, r, 2);
		if (*end || !n || !*db || strlen(db) > 63 || strlen(state) >= sizeof ((struct part *)0)->state)
			continue;   /* not a row sluice wrote */
		struct part *p = part_get(db);
		if (!p)
			continue;
		if (p->number != n) {
			if (p->applied)
				end_part(p, "a later window replaced it");
			p->number = n;
			p->applied = false;
			p->reported[0] = 0;
		}
		snprintf(p->state, sizeof p->state, "%s", state);
		snprintf(p->reason, sizeof p->reason, "%s", cluster_value(res, r, 5));
		snprintf(p->members, sizeof p->members, "%s", cluster_value(res, r, 6));
		bool has_deadline = *cluster_value(res, r, 3) != 0;
		double drain_in = strtod(cluster_value(res, r, 3), NULL);
		double max_in = *cluster_value(res, r, 4) ? strtod(cluster_value(res, r, 4), NULL) : 1;
		if (active(state) && !p->applied && max_in > 0)
			apply(p, drain_in, has_deadline);
		else if (!active(state) && p->applied)
			end_part(p, *p->reason ? p->reason : state);
	}
	stop_unsynced();
	update();
}

static void read_windows(void)
{
	char sql[1024];
	const char *s = rt.cfg->cluster_schema;
	if (reading)
		return;
	/* windows past their deadline (with 2 s for the member that opened
	 * them to say more) or past gate_max_pause end here, whoever reads
	 * first: a window never outlives the member that opened it */
	snprintf(sql, sizeof sql,
		 "WITH ended AS (UPDATE %s.windows SET state = CASE WHEN max_until < now() THEN 'open' "
		 "ELSE 'failed' END, ended = now(), reason = CASE WHEN max_until < now() THEN 'gate_max_pause passed' "
		 "ELSE 'drain deadline passed' END WHERE cluster = $1 AND ((state = 'closing' AND deadline < "
		 "now() - interval '2 s') OR (state IN ('closing', 'closed') AND max_until < now())) RETURNING 1) "
		 "SELECT CASE WHEN count(*) > 0 THEN pg_notify($2, $1) END FROM ended", s);
	const char *v[] = { rt.cfg->cluster_name, s };
	if (!cluster_query(sql, 2, v, NULL, NULL))
		return;
	snprintf(sql, sizeof sql,
		 "SELECT DISTINCT ON (w.db) w.number, w.db, w.state, "
		 "extract(epoch FROM w.deadline - now())::float8, extract(epoch FROM w.max_until - now())::float8, "
		 "w.reason, coalesce((SELECT string_agg(r.peer_id || '=' || r.state, ' ' ORDER BY r.peer_id) "
		 "FROM %s.reports r WHERE r.cluster = w.cluster AND r.number = w.number), '') "
		 "FROM %s.windows w WHERE w.cluster = $1 ORDER BY w.db, w.number DESC LIMIT %d",
		 s, s, WINDOWS_MAX);
	reading = cluster_query(sql, 1, v, got_windows, NULL);
}

/* This member's gates for its row: those not open, with their window. */
static void describe(char *out, size_t n)
{
	size_t len = 0;
	out[0] = 0;
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g)) {
		int w = g->state == GATE_OPEN
			? snprintf(out + len, n - len, "%s%s=open", len ? " " : "", g->db_name)
			: snprintf(out + len, n - len, "%s%s=%s/%llu", len ? " " : "", g->db_name,
				   gate_state_name(g->state), (unsigned long long)g->cur.number);
		if (w < 0 || (size_t)w >= n - len) {
			out[len] = 0;
			break;
		}
		len += (size_t)w;
	}
}

static void on_connected(void)
{
	/* what was reported before may not have reached the server */
	for (struct list *it = parts.next; it != &parts; it = it->next)
		list_entry(it, struct part, node)->reported[0] = 0;
	reading = false;
	read_windows();
	cluster_cmd_connected();
}

static void on_changed(void)
{
	read_windows();
	cluster_cmd_changed();
}

static void on_lost(void)
{
	reading = false;
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g))
		if (g->cluster_window)
			log_warn("cluster %s: coordination connection lost in window %llu: the gate of %s stays %s "
				 "until the window is read again (gate_max_pause at most)", rt.cfg->cluster_name,
				 (unsigned long long)g->cluster_window, g->db_name, gate_state_name(g->state));
	cluster_cmd_lost();
}

static const struct cluster_ops ops = {
	.connected = on_connected,
	.changed = on_changed,
	.lost = on_lost,
	.describe = describe,
};

static void unsynced_cb(int fd, short what, void *arg)
{
	if (synced)
		return;
	log_warn("cluster %s: the windows could not be read within gate_max_pause (%g s): "
		 "transactions held since start go on", rt.cfg->cluster_name, rt.cfg->gate_max_pause);
	synced = true;
	gate_hold_all(false);
}

bool cluster_gate_start(void)
{
	if (!cluster_enabled())
		return true;
	cluster_set_ops(&ops);
	if (!rt_check_register(cluster_gate_update))
		return false;
	/* a member started while a window is closed must start closed: hold
	 * everything until the windows are read */
	gate_hold_all(true);
	log_info("cluster %s: transactions are held until this member has read the cluster's windows",
		 rt.cfg->cluster_name);
	double t = rt.cfg->gate_max_pause;
	if (t > 0) {
		unsynced_timer = loop_timer_new(unsynced_cb, NULL);
		struct timeval tv = { (time_t)t, (suseconds_t)((t - (double)(time_t)t) * 1e6) };
		if (!unsynced_timer || loop_ev_add(unsynced_timer, &tv) != 0)
			return false;
	}
	return true;
}

void cluster_gate_stop(void)
{
	cluster_cmd_free();
	if (unsynced_timer)
		loop_ev_free(unsynced_timer);
	unsynced_timer = NULL;
	while (!list_empty(&parts)) {
		struct part *p = list_entry(list_first(&parts), struct part, node);
		list_del_init(&p->node);
		free(p->db);
		free(p);
	}
	synced = reading = false;
}
