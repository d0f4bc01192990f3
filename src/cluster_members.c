/*
 * cluster_members.c — this instance's row in the coordination database
 * (registration, heartbeat) and the members read back from it: for SHOW
 * PEERS and the metrics, and as the peers cancels are forwarded to
 * (peers_learn). Part of the cluster module (cluster_internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_internal.h"
#include "config.h"
#include "csprng.h"
#include "log.h"
#include "peers.h"
#include "runtime.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

static char instance[33];           /* random: this process's registration */
static char started[32];            /* epoch seconds, as text */
static struct cluster_member *members;
static size_t nmembers;
static bool refresh_queued, said_conflict;

static const char *schema(void)
{
	return rt.cfg->cluster_schema;
}

const struct cluster_member *cluster_members(size_t *n)
{
	*n = nmembers;
	return members;
}

/* What this instance's pools may open, per database, for its row. */
static int describe_pools(char *out, size_t n)
{
	size_t len = 0;
	int total = 0;
	out[0] = 0;
	for (size_t i = 0; i < rt.cfg->ndbs; i++) {
		const struct db_entry *d = &rt.cfg->dbs[i];
		int size = config_db_pool_size(rt.cfg, d);
		total += size;
		int w = snprintf(out + len, n - len, "%s%s=%d", len ? " " : "", d->name, size);
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
	return total;
}

/* The address other members forward this one's cancels to. */
static void own_address(char *out, size_t n)
{
	const struct config *c = rt.cfg;
	if (c->cluster_address && *c->cluster_address)
		snprintf(out, n, "%s", c->cluster_address);
	else if (c->unix_socket_dir && *c->unix_socket_dir)
		snprintf(out, n, "%s:%d", c->unix_socket_dir, c->listen_port);
	else
		snprintf(out, n, "%.*s:%d", (int)strcspn(c->listen_addr, ","), c->listen_addr, c->listen_port);
}

static void row_values(char *gates, size_t gn, char *pools, size_t pn, char *total, size_t tn)
{
	gates[0] = 0;
	if (cluster_ops_get() && cluster_ops_get()->describe)
		cluster_ops_get()->describe(gates, gn);
	snprintf(total, tn, "%d", describe_pools(pools, pn));
}

static void send_register(void);

static void got_register(void *arg, const PGresult *res)
{
	if (!res)
		return;
	if (cluster_rows_ok(res, 1) && PQntuples(res) == 1) {
		cluster_state_rw()->registered = true;
		said_conflict = false;
		log_info("cluster %s: registered as peer %d", rt.cfg->cluster_name, rt.cfg->peer_id);
		cluster_notify();
	} else if (cluster_rows_ok(res, 1) && !said_conflict) {
		said_conflict = true;
		log_error("cluster %s: peer_id %d is held by another live member: not registered "
			  "(each member needs its own peer_id); trying again at each heartbeat",
			  rt.cfg->cluster_name, rt.cfg->peer_id);
	}
	cluster_members_read();
}

static void send_register(void)
{
	char sql[1024], gates[256], pools[256], total[16], peer[16], timeout[32], address[256];
	const char *s = schema();
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s.members AS m (cluster, peer_id, instance, address, version, started, heartbeat, "
		 "gates, pools, pool_total) VALUES ($1, $2, $3, $4, $5, to_timestamp($6), now(), $7, $8, $9) "
		 "ON CONFLICT (cluster, peer_id) DO UPDATE SET instance = EXCLUDED.instance, "
		 "address = EXCLUDED.address, version = EXCLUDED.version, started = EXCLUDED.started, "
		 "heartbeat = now(), gates = EXCLUDED.gates, pools = EXCLUDED.pools, pool_total = EXCLUDED.pool_total "
		 "WHERE m.instance = EXCLUDED.instance OR m.heartbeat < now() - make_interval(secs => $10) "
		 "RETURNING 1", s);
	row_values(gates, sizeof gates, pools, sizeof pools, total, sizeof total);
	snprintf(peer, sizeof peer, "%d", rt.cfg->peer_id);
	snprintf(timeout, sizeof timeout, "%g", rt.cfg->cluster_member_timeout);
	own_address(address, sizeof address);
	const char *p[] = { rt.cfg->cluster_name, peer, instance, address, SLUICE_VERSION, started,
			    gates, pools, total, timeout };
	if (!cluster_query(sql, (int)ARRAY_SIZE(p), p, got_register, NULL))
		cluster_drop("out of memory");
}

/* ---- heartbeat and members ---- */

static void got_heartbeat(void *arg, const PGresult *res)
{
	if (!res)
		return;
	if (cluster_rows_ok(res, 1) && PQntuples(res) == 0) {
		/* our row was taken over or removed: register again */
		if (cluster_state_rw()->registered)
			log_warn("cluster %s: this instance's row is gone: registering again", rt.cfg->cluster_name);
		cluster_state_rw()->registered = false;
		send_register();
	}
}

static void heartbeat(void)
{
	char sql[512], gates[256], pools[256], total[16], peer[16];
	if (!cluster_state_rw()->registered) {
		send_register();
		return;
	}
	snprintf(sql, sizeof sql, "UPDATE %s.members SET heartbeat = now(), gates = $4, pools = $5, "
		 "pool_total = $6 WHERE cluster = $1 AND peer_id = $2 AND instance = $3 RETURNING 1", schema());
	row_values(gates, sizeof gates, pools, sizeof pools, total, sizeof total);
	snprintf(peer, sizeof peer, "%d", rt.cfg->peer_id);
	const char *p[] = { rt.cfg->cluster_name, peer, instance, gates, pools, total };
	if (!cluster_query(sql, (int)ARRAY_SIZE(p), p, got_heartbeat, NULL))
		cluster_drop("out of memory");
}

/* "host:port" or "/dir:port" (the last colon), "[v6]:port". */
static bool split_address(const char *a, char *host, size_t n, int *port)
{
	const char *colon = strrchr(a, ':');
	if (!colon || colon == a)
		return false;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return false;
	size_t hl = (size_t)(colon - a);
	if (a[0] == '[' && hl >= 2 && a[hl - 1] == ']') {
		a++;
		hl -= 2;
	}
	if (hl >= n)
		return false;
	memcpy(host, a, hl);
	host[hl] = 0;
	*port = (int)p;
	return true;
}

/* The live members feed the peer table cancels are forwarded by. */
static void learn_peers(void)
{
	struct peer_spec *specs = nmembers ? calloc(nmembers, sizeof *specs) : NULL;
	char (*hosts)[256] = nmembers ? calloc(nmembers, sizeof *hosts) : NULL;
	size_t n = 0;
	if (nmembers && (!specs || !hosts))
		goto out;
	for (size_t i = 0; i < nmembers; i++) {
		const struct cluster_member *m = &members[i];
		if (m->self || !m->alive || !split_address(m->address, hosts[n], sizeof hosts[n], &specs[n].port))
			continue;
		specs[n].id = m->peer_id;
		specs[n].host = hosts[n];
		specs[n].pool_size = rt.cfg->default_pool_size;
		specs[n].origin = "cluster membership";
		n++;
	}
	peers_learn(specs, n);
out:
	free(specs);
	free(hosts);
}

static void got_members(void *arg, const PGresult *res)
{
	refresh_queued = false;
	if (!cluster_rows_ok(res, 10))
		return;
	int rows = PQntuples(res);
	if (rows > CLUSTER_MEMBERS_MAX)
		rows = CLUSTER_MEMBERS_MAX;
	struct cluster_member *m = rows ? calloc((size_t)rows, sizeof *m) : NULL;
	if (rows && !m)
		return;
	size_t n = 0;
	for (int r = 0; r < rows; r++) {
		struct cluster_member *x = &m[n];
		char *end;
		long id = strtol(cluster_value(res, r, 0), &end, 10);
		if (*end || id < 1 || id > CONFIG_PEER_ID_MAX)
			continue;   /* not a row sluice wrote */
		x->peer_id = (int)id;
		snprintf(x->address, sizeof x->address, "%s", cluster_value(res, r, 1));
		snprintf(x->version, sizeof x->version, "%s", cluster_value(res, r, 2));
		snprintf(x->started, sizeof x->started, "%s", cluster_value(res, r, 3));
		snprintf(x->heartbeat, sizeof x->heartbeat, "%s", cluster_value(res, r, 4));
		x->age = strtod(cluster_value(res, r, 5), NULL);
		snprintf(x->gates, sizeof x->gates, "%s", cluster_value(res, r, 6));
		snprintf(x->pools, sizeof x->pools, "%s", cluster_value(res, r, 7));
		x->pool_total = (int)strtol(cluster_value(res, r, 8), NULL, 10);
		x->self = x->peer_id == rt.cfg->peer_id && !strcmp(cluster_value(res, r, 9), instance);
		x->alive = x->age >= 0 && x->age < rt.cfg->cluster_member_timeout;
		n++;
	}
	/* say who came and went */
	for (size_t i = 0; i < n; i++) {
		const struct cluster_member *old = NULL;
		for (size_t j = 0; j < nmembers; j++)
			if (members[j].peer_id == m[i].peer_id)
				old = &members[j];
		if (!m[i].self && (!old || old->alive != m[i].alive))
			log_info("cluster %s: peer %d (%s) is %s", rt.cfg->cluster_name, m[i].peer_id,
				 m[i].address, m[i].alive ? "alive" : "dead (no heartbeat within cluster_member_timeout)");
	}
	free(members);
	members = m;
	nmembers = n;
	learn_peers();
}

void cluster_members_read(void)
{
	char sql[640], timeout[32];
	if (refresh_queued)
		return;
	snprintf(sql, sizeof sql,
		 "SELECT peer_id, address, version, to_char(started AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
		 "to_char(heartbeat AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
		 "extract(epoch FROM now() - heartbeat)::float8, gates, pools, pool_total, instance "
		 "FROM %s.members WHERE cluster = $1 "
		 "AND heartbeat > now() - make_interval(secs => $2) ORDER BY peer_id LIMIT %d",
		 schema(), CLUSTER_MEMBERS_MAX);
	/* dead members stay listed a while (ten timeouts, at least ten minutes) */
	double keep = rt.cfg->cluster_member_timeout * 10;
	snprintf(timeout, sizeof timeout, "%g", keep < 600 ? 600 : keep);
	const char *p[] = { rt.cfg->cluster_name, timeout };
	refresh_queued = cluster_query(sql, 2, p, got_members, NULL);
}

void cluster_members_join(void)
{
	send_register();
}

void cluster_members_tick(void)
{
	heartbeat();
	cluster_members_read();
}

void cluster_members_lost(void)
{
	refresh_queued = false;
}

bool cluster_members_init(void)
{
	uint8_t rnd[16];
	if (!csprng_bytes(rnd, sizeof rnd))
		return false;
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(instance + 2 * i, 3, "%02x", rnd[i]);
	snprintf(started, sizeof started, "%.3f", rt_wallclock());
	return true;
}

void cluster_members_free(void)
{
	free(members);
	members = NULL;
	nmembers = 0;
	refresh_queued = false;
}
