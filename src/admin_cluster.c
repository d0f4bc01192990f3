/*
 * admin_cluster.c — the console's view of gates and of the cluster:
 * SHOW GATES, SHOW PEERS (doc/cluster.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cluster.h"
#include "cluster_gate.h"
#include "config.h"
#include "gate.h"
#include "runtime.h"

static void seconds_text(double from, double to, char *out, size_t n)
{
	if (from > 0 && to >= from)
		snprintf(out, n, "%.3f", to - from);
	else
		out[0] = 0;
}

/* sluice's own: the migration gate of each database (doc/migrations.md). */
void admin_show_gates(struct client *c)
{
	struct result r;
	result_begin(&r, "TTTIIIIITTTIITTNTT", "database", "state", "since", "window", "held",
		     "in_flight", "bypass", "last_window", "last_drain_s", "last_closed_s",
		     "last_longest_hold_s", "last_held", "last_errors", "schema_before", "schema_after",
		     "cluster_window", "cluster_state", "cluster_members");
	double now = rt_now(), wall = rt_wallclock();
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g)) {
		char since[64], drain[32], closed[32], hold[32];
		admin_format_wall(wall - (now - g->since), since, sizeof since);
		const struct gate_window *w = &g->last;
		seconds_text(w->started, w->closed, drain, sizeof drain);
		seconds_text(w->closed, w->ended, closed, sizeof closed);
		snprintf(hold, sizeof hold, "%.3f", w->longest_hold);
		uint64_t cw;
		const char *members, *cstate = cluster_gate_part(g->db_name, &cw, &members);
		result_row(&r, g->db_name, gate_state_name(g->state), since,
			   (long long)(g->state == GATE_OPEN ? 0 : g->cur.number), (long long)g->nheld,
			   (long long)gate_in_flight(g), (long long)g->nbypass, (long long)w->number,
			   drain, closed, w->number ? hold : "", (long long)w->held, (long long)w->errors,
			   w->schema_before, w->schema_after, cw, cstate, members);
	}
	result_send(c, &r, "SHOW");
}

/* The sum of one database's pool_size over the live members, from their
 * rows' "db=size ..." text. */
static long long cluster_pool_total(const struct cluster_member *m, size_t n)
{
	long long sum = 0;
	for (size_t i = 0; i < n; i++)
		if (m[i].alive)
			sum += m[i].pool_total;
	return sum;
}

/* PgBouncer's columns (peer_id, host, port, pool_size) first, then the
 * cluster's. Without a cluster: the [peers] entries. */
void admin_show_peers(struct client *c)
{
	struct result r;
	result_begin(&r, "ITIITTTTTTTTII", "peer_id", "host", "port", "pool_size", "state", "address",
		     "last_heartbeat", "heartbeat_age_s", "version", "started", "gates", "pool_sizes",
		     "pool_size_total", "cluster_pool_size_total");
	size_t n = 0;
	const struct cluster_member *m = cluster_enabled() ? cluster_members(&n) : NULL;
	long long total = cluster_pool_total(m, n);
	for (size_t i = 0; i < n; i++) {
		char host[256], age[32];
		long long port = 0;
		const char *colon = strrchr(m[i].address, ':');
		snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - m[i].address) : (int)strlen(m[i].address),
			 m[i].address);
		if (colon)
			port = strtol(colon + 1, NULL, 10);
		snprintf(age, sizeof age, "%.1f", m[i].age);
		result_row(&r, (long long)m[i].peer_id, host, port, (long long)rt.cfg->default_pool_size,
			   m[i].alive ? "alive" : "dead", m[i].address, m[i].heartbeat, age,
			   m[i].version, m[i].started, m[i].gates, m[i].pools, (long long)m[i].pool_total, total);
	}
	if (!cluster_enabled()) {
		for (size_t i = 0; i < rt.cfg->npeers; i++) {
			const struct peer_entry *p = &rt.cfg->peers[i];
			result_row(&r, (long long)p->id, p->host, (long long)(p->port > 0 ? p->port : CONFIG_PEER_PORT),
				   (long long)(p->pool_size > 0 ? p->pool_size : rt.cfg->default_pool_size),
				   p->id == rt.cfg->peer_id ? "self" : "configured", NULL, NULL, NULL, NULL, NULL,
				   NULL, NULL, 0LL, 0LL);
		}
	}
	result_send(c, &r, "SHOW");
}
