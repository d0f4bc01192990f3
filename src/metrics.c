/*
 * metrics.c — /metrics (Prometheus text format 0.0.4) and /health over
 * libevent's evhttp, on the address of metrics_listen, in a libevent base
 * nested in sluice's loop (loop_nest.h).
 *
 * Everything is read at scrape time from what the pools and stats.c keep
 * anyway: a scrape costs a walk over the pools, the hot path nothing.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "client.h"
#include "cluster.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "loop_nest.h"
#include "metrics.h"
#include "pool.h"
#include "runtime.h"
#include "session_state.h"
#include "stats.h"

#define METRICS_MAX_SOCKETS 8
#define METRICS_TIMEOUT 10          /* seconds a request may take */
#define METRICS_MAX_HEADERS 8192

struct metrics {
	struct loop_nest *nest;
	struct evhttp *http;
};

/* ---- metrics_listen ---- */

bool metrics_parse_listen(const char *text, char *host, size_t hostlen, int *port,
			  char *why, size_t whylen)
{
	const char *h = text, *colon;
	size_t n;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':') {
			snprintf(why, whylen, "\"%s\" is not [address]:port", text);
			return false;
		}
		h = text + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon) {
			snprintf(why, whylen, "\"%s\" is not host:port (an IPv6 address goes in [])", text);
			return false;
		}
		n = (size_t)(colon - text);
	}
	if (n == 0 || n >= hostlen || strcspn(h, " \t") < n) {
		snprintf(why, whylen, "\"%s\": the host part is missing or malformed", text);
		return false;
	}
	const char *p = colon + 1;
	long v = 0;
	if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 ||
	    (v = strtol(p, NULL, 10)) < 1 || v > 65535) {
		snprintf(why, whylen, "\"%s\": the port must be a number 1..65535", text);
		return false;
	}
	memcpy(host, h, n);
	host[n] = 0;
	*port = (int)v;
	return true;
}

/* ---- /metrics ---- */

static void family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void label(struct evbuffer *b, const char *key, const char *value, bool first)
{
	evbuffer_add_printf(b, "%s%s=\"", first ? "" : ",", key);
	for (const char *v = value; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void pool_labels(struct evbuffer *b, const char *name, const struct pool *p)
{
	evbuffer_add_printf(b, "%s{", name);
	label(b, "database", p->db_name, true);
	label(b, "user", p->user, false);
}

struct pool_state {
	const char *state;
	size_t offset;             /* into struct pool_counts */
};

static const struct pool_state client_states[] = {
	{ "active", offsetof(struct pool_counts, cl_active) },
	{ "waiting", offsetof(struct pool_counts, cl_waiting) },
};

static const struct pool_state server_states[] = {
	{ "active", offsetof(struct pool_counts, sv_active) },
	{ "idle", offsetof(struct pool_counts, sv_idle) },
	{ "used", offsetof(struct pool_counts, sv_used) },
	{ "tested", offsetof(struct pool_counts, sv_tested) },
	{ "login", offsetof(struct pool_counts, sv_login) },
	{ "being_canceled", offsetof(struct pool_counts, sv_being_canceled) },
};

static void pool_family(struct evbuffer *b, const char *name, const char *help,
			const struct pool_state *states, size_t nstates)
{
	family(b, name, "gauge", help);
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		if (p->internal)
			continue;
		struct pool_counts n;
		pool_get_counts(p, &n);
		for (size_t i = 0; i < nstates; i++) {
			pool_labels(b, name, p);
			label(b, "state", states[i].state, false);
			evbuffer_add_printf(b, "} %d\n", *(const int *)((const char *)&n + states[i].offset));
		}
	}
}

static void render_pools(struct evbuffer *b)
{
	pool_family(b, "sluice_pool_client_connections",
		    "Logged-in clients of a pool: active (not waiting) or waiting for a server.",
		    client_states, ARRAY_SIZE(client_states));
	pool_family(b, "sluice_pool_server_connections",
		    "Server connections of a pool: active (linked to a client), idle, used (running "
		    "the reset query), tested (running server_check_query), login (connecting or "
		    "logging in), being_canceled (let go of while a cancel for it is on its way).",
		    server_states, ARRAY_SIZE(server_states));
	family(b, "sluice_pool_max_wait_seconds", "gauge",
	       "How long the oldest client waiting for a server of the pool has waited.");
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		if (p->internal)
			continue;
		struct pool_counts n;
		pool_get_counts(p, &n);
		pool_labels(b, "sluice_pool_max_wait_seconds", p);
		evbuffer_add_printf(b, "} %.6f\n", n.maxwait);
	}
	family(b, "sluice_pool_startup_mismatch_total", "counter",
	       "Clients linked to a server opened with other startup parameters (RESET there "
	       "goes back to that server's values).");
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		if (p->internal)
			continue;
		pool_labels(b, "sluice_pool_startup_mismatch_total", p);
		evbuffer_add_printf(b, "} %llu\n", p->startup_mismatch);
	}
	family(b, "sluice_pool_session_state_total", "counter",
	       "Statements in transaction or statement pooling that leave session state on the "
	       "server, by kind and by what transaction_session_state did (warned, refused, "
	       "pinned).");
	static const char *const actions[] = { "warned", "refused", "pinned" };
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		if (p->internal)
			continue;
		for (int k = 0; k < STATE_KINDS; k++)
			for (int a = 0; a < 3; a++) {
				if (!p->state_seen[k][a])
					continue;
				pool_labels(b, "sluice_pool_session_state_total", p);
				evbuffer_add_printf(b, ",kind=\"%s\",action=\"%s\"} %llu\n",
						    session_state_kind_name(k), actions[a], p->state_seen[k][a]);
			}
	}
	family(b, "sluice_pool_pinned_servers", "gauge",
	       "Servers kept by a client whose session state pins it (transaction_session_state = pin).");
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		if (p->internal)
			continue;
		pool_labels(b, "sluice_pool_pinned_servers", p);
		evbuffer_add_printf(b, "} %d\n", p->npinned);
	}
}

struct db_counter {
	const char *name, *help;
	size_t offset;             /* into struct stats_counters */
	bool usec;                 /* microseconds, shown in seconds */
};

static const struct db_counter db_counters[] = {
	{ "sluice_transactions_total",
	  "Transactions that ended (ReadyForQuery with status idle) on servers of the database.",
	  offsetof(struct stats_counters, xact_count), false },
	{ "sluice_queries_total",
	  "Queries (rounds up to ReadyForQuery) run on servers of the database.",
	  offsetof(struct stats_counters, query_count), false },
	{ "sluice_received_bytes_total",
	  "Bytes received from clients and passed to servers of the database.",
	  offsetof(struct stats_counters, recv_bytes), false },
	{ "sluice_sent_bytes_total",
	  "Bytes received from servers of the database and sent to clients.",
	  offsetof(struct stats_counters, sent_bytes), false },
	{ "sluice_transaction_seconds_total",
	  "Time spent in transactions (running queries or idle in transaction) on servers of the database.",
	  offsetof(struct stats_counters, xact_us), true },
	{ "sluice_query_seconds_total",
	  "Time spent running queries on servers of the database.",
	  offsetof(struct stats_counters, query_us), true },
};

static void render_databases(struct evbuffer *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(db_counters); i++) {
		const struct db_counter *k = &db_counters[i];
		family(b, k->name, "counter", k->help);
		for (const struct stats_db *d = stats_db_next(NULL); d; d = stats_db_next(d)) {
			uint64_t v = *(const uint64_t *)((const char *)&d->total + k->offset);
			evbuffer_add_printf(b, "%s{", k->name);
			label(b, "database", d->name, true);
			if (k->usec)
				evbuffer_add_printf(b, "} %.6f\n", (double)v / 1e6);
			else
				evbuffer_add_printf(b, "} %llu\n", (unsigned long long)v);
		}
	}
	const char *h = "sluice_client_wait_seconds";
	family(b, h, "histogram",
	       "How long clients waited for a server connection of the database: one observation "
	       "each time a client gets a server.");
	for (const struct stats_db *d = stats_db_next(NULL); d; d = stats_db_next(d)) {
		uint64_t cum = 0;
		for (size_t i = 0; i <= STATS_WAIT_NBOUNDS; i++) {
			char le[32] = "+Inf";
			if (i < STATS_WAIT_NBOUNDS)
				snprintf(le, sizeof le, "%g", stats_wait_bounds[i]);
			cum += d->wait_bucket[i];
			evbuffer_add_printf(b, "%s_bucket{", h);
			label(b, "database", d->name, true);
			label(b, "le", le, false);
			evbuffer_add_printf(b, "} %llu\n", (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "%s_sum{", h);
		label(b, "database", d->name, true);
		evbuffer_add_printf(b, "} %.6f\n", (double)d->total.wait_us / 1e6);
		evbuffer_add_printf(b, "%s_count{", h);
		label(b, "database", d->name, true);
		evbuffer_add_printf(b, "} %llu\n", (unsigned long long)d->wait_count);
	}
}

static long long resident_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long long size = 0, resident = -1;
	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return resident >= 0 && page > 0 ? resident * page : -1;
}

static void render_process(struct evbuffer *b)
{
	int servers = 0;
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next)
		servers += list_entry(it, struct pool, node)->nservers;
	family(b, "sluice_client_connections", "gauge",
	       "Open client connections, logged in or not (the admin console's included).");
	evbuffer_add_printf(b, "sluice_client_connections %d\n", rt.nconns);
	family(b, "sluice_server_connections", "gauge",
	       "Open server connections, in every state.");
	evbuffer_add_printf(b, "sluice_server_connections %d\n", servers);
	size_t entries, bytes;
	client_auth_cache_usage(&entries, &bytes);
	family(b, "sluice_auth_cache_entries", "gauge",
	       "Answers of auth_query cached now, \"no such user\" included (auth_cache_max_entries).");
	evbuffer_add_printf(b, "sluice_auth_cache_entries %zu\n", entries);
	family(b, "sluice_auth_cache_bytes", "gauge",
	       "Bytes of the cached auth_query answers (auth_cache_max_bytes).");
	evbuffer_add_printf(b, "sluice_auth_cache_bytes %zu\n", bytes);
	long long rss = resident_bytes();
	if (rss >= 0) {
		family(b, "sluice_resident_memory_bytes", "gauge",
		       "Resident memory of the sluice process (from /proc/self/statm).");
		evbuffer_add_printf(b, "sluice_resident_memory_bytes %lld\n", rss);
	}
}

/* The migration gate of each database that has one (doc/migrations.md). */
static double gate_held(const struct gate *g) { return g->nheld; }
static double gate_flight(const struct gate *g) { return gate_in_flight(g); }
static double gate_bypass(const struct gate *g) { return g->nbypass; }
static double gate_windows(const struct gate *g) { return (double)g->windows_total; }
static double gate_errors(const struct gate *g) { return (double)g->errors_total; }
static double gate_last_drain(const struct gate *g)
{
	return g->last.closed > 0 ? g->last.closed - g->last.started : 0;
}
static double gate_last_closed(const struct gate *g)
{
	return g->last.closed > 0 && g->last.ended > 0 ? g->last.ended - g->last.closed : 0;
}
static double gate_last_hold(const struct gate *g) { return g->last.longest_hold; }
static double gate_last_held(const struct gate *g) { return g->last.held; }

static const struct {
	const char *name, *type, *help;
	double (*value)(const struct gate *g);
} gate_families[] = {
	{ "sluice_gate_held_clients", "gauge", "Clients held by the gate now.", gate_held },
	{ "sluice_gate_in_flight_transactions", "gauge",
	  "Clients inside a transaction now (bypass not counted).", gate_flight },
	{ "sluice_gate_bypass_clients", "gauge", "Gate bypass sessions logged in now.", gate_bypass },
	{ "sluice_gate_windows_total", "counter", "PAUSE windows opened.", gate_windows },
	{ "sluice_gate_errors_total", "counter",
	  "Hold timeouts, failed drains and gate_max_pause reopenings.", gate_errors },
	{ "sluice_gate_last_drain_seconds", "gauge",
	  "Last finished window: seconds from PAUSE until closed.", gate_last_drain },
	{ "sluice_gate_last_closed_seconds", "gauge",
	  "Last finished window: seconds the gate stayed closed.", gate_last_closed },
	{ "sluice_gate_last_longest_hold_seconds", "gauge",
	  "Last finished window: longest hold of one client.", gate_last_hold },
	{ "sluice_gate_last_held_clients", "gauge", "Last finished window: clients held.", gate_last_held },
};

static void render_gates(struct evbuffer *b)
{
	if (!gate_next(NULL))
		return;
	family(b, "sluice_gate_state", "gauge", "1 for the gate's current state (open, draining, closed).");
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g)) {
		for (int st = GATE_OPEN; st <= GATE_CLOSED; st++) {
			evbuffer_add_printf(b, "sluice_gate_state{");
			label(b, "database", g->db_name, true);
			label(b, "state", gate_state_name((enum gate_state)st), false);
			evbuffer_add_printf(b, "} %d\n", g->state == (enum gate_state)st);
		}
	}
	for (size_t f = 0; f < ARRAY_SIZE(gate_families); f++) {
		family(b, gate_families[f].name, gate_families[f].type, gate_families[f].help);
		for (struct gate *g = gate_next(NULL); g; g = gate_next(g)) {
			evbuffer_add_printf(b, "%s{", gate_families[f].name);
			label(b, "database", g->db_name, true);
			evbuffer_add_printf(b, "} %.6g\n", gate_families[f].value(g));
		}
	}
}

/* "app=open other=closed/12": a line per database. Its row is the
 * member's own text: names are escaped as label values. */
static void render_member_gates(struct evbuffer *b, const struct cluster_member *m)
{
	char peer[16];
	snprintf(peer, sizeof peer, "%d", m->peer_id);
	for (const char *p = m->gates; *p;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		const char *eq = memchr(p, '=', len);
		if (len && eq) {
			char db[128];
			snprintf(db, sizeof db, "%.*s", (int)(eq - p), p);
			evbuffer_add_printf(b, "sluice_cluster_member_gate_open{");
			label(b, "peer_id", peer, true);
			label(b, "database", db, false);
			evbuffer_add_printf(b, "} %d\n", len - (size_t)(eq + 1 - p) == 4 && !strncmp(eq + 1, "open", 4));
		}
		p += len;
	}
}

/* The cluster's members as this instance last read them (SHOW PEERS). */
static void render_cluster(struct evbuffer *b)
{
	if (!cluster_enabled())
		return;
	size_t n;
	const struct cluster_member *m = cluster_members(&n);
	const struct cluster_state *st = cluster_status();
	long long alive = 0, pools = 0;
	for (size_t i = 0; i < n; i++)
		if (m[i].alive) {
			alive++;
			pools += m[i].pool_total;
		}
	family(b, "sluice_cluster_connected", "gauge", "1 while the coordination connection is up.");
	evbuffer_add_printf(b, "sluice_cluster_connected %d\n", st->connected);
	family(b, "sluice_cluster_reconnects_total", "counter", "Coordination connections lost since start.");
	evbuffer_add_printf(b, "sluice_cluster_reconnects_total %llu\n", (unsigned long long)st->losses);
	family(b, "sluice_cluster_members", "gauge", "Members by state (alive: a heartbeat within "
	       "cluster_member_timeout).");
	evbuffer_add_printf(b, "sluice_cluster_members{state=\"alive\"} %lld\n", alive);
	evbuffer_add_printf(b, "sluice_cluster_members{state=\"dead\"} %lld\n", (long long)n - alive);
	family(b, "sluice_cluster_pool_size", "gauge",
	       "Sum of the live members' pool sizes: pool limits are per instance.");
	evbuffer_add_printf(b, "sluice_cluster_pool_size %lld\n", pools);
	family(b, "sluice_cluster_member_heartbeat_age_seconds", "gauge", "Seconds since each member's heartbeat.");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(b, "sluice_cluster_member_heartbeat_age_seconds{peer_id=\"%d\"} %.3f\n",
				    m[i].peer_id, m[i].age);
	family(b, "sluice_cluster_member_pool_size", "gauge", "Each member's sum of pool sizes.");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(b, "sluice_cluster_member_pool_size{peer_id=\"%d\"} %d\n",
				    m[i].peer_id, m[i].pool_total);
	family(b, "sluice_cluster_member_up", "gauge", "1 for a member alive by cluster_member_timeout.");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(b, "sluice_cluster_member_up{peer_id=\"%d\"} %d\n", m[i].peer_id, m[i].alive);
	family(b, "sluice_cluster_member_gate_open", "gauge",
	       "Each member's gate of each database, as its heartbeat said: 1 open, 0 draining or closed.");
	for (size_t i = 0; i < n; i++)
		render_member_gates(b, &m[i]);
}

void metrics_render(struct evbuffer *b)
{
	render_pools(b);
	render_databases(b);
	render_gates(b);
	render_cluster(b);
	render_process(b);
}

/* ---- /health ---- */

/* Has some pool of p's database a live server? Then the database is
 * reachable, whatever another user's pool says. */
static bool database_live(const struct pool *p)
{
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *q = list_entry(it, struct pool, node);
		if (q->stats == p->stats && q->nservers > 0)
			return true;
	}
	return false;
}

/* Was p's database already reported by a failing pool before p? */
static bool reported_before(const struct pool *p)
{
	for (struct list *it = rt.pools.next; it != &p->node; it = it->next) {
		const struct pool *q = list_entry(it, struct pool, node);
		if (!q->internal && q->stats == p->stats && pool_is_failing(q))
			return true;
	}
	return false;
}

bool metrics_health(struct evbuffer *b)
{
	bool healthy = true;
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		const struct pool *p = list_entry(it, struct pool, node);
		/* sluice's own pools (auth_query) speak for no database clients use */
		if (p->internal || !pool_is_failing(p) || database_live(p) || reported_before(p))
			continue;
		if (healthy)
			evbuffer_add_printf(b, "unhealthy\n");
		healthy = false;
		evbuffer_add_printf(b, "database \"%s\" unreachable: %s\n", p->db_name, p->last_error);
	}
	if (healthy)
		evbuffer_add_printf(b, "ok\n");
	return healthy;
}

/* ---- HTTP ---- */

static void reply(struct evhttp_request *req, int code, const char *reason, const char *type,
		  struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_send_reply(req, code, reason, body);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	metrics_render(b);
	reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

static void health_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	bool ok = metrics_health(b);
	reply(req, ok ? HTTP_OK : HTTP_SERVUNAVAIL, ok ? "OK" : "Service Unavailable",
	      "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static void not_found_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	evbuffer_add_printf(b, "not found: try /metrics or /health\n");
	reply(req, HTTP_NOTFOUND, "Not Found", "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

/* Bind every address of host:port and hand the sockets to evhttp. */
static bool listen_all(struct metrics *m, const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res, *ai;
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	int rc = getaddrinfo(strcmp(host, "*") ? host : NULL, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", host, gai_strerror(rc));
		return false;
	}
	int bound = 0;
	bool ok = true;
	for (ai = res; ai && ok; ai = ai->ai_next) {
		char what[NI_MAXHOST + 16], hbuf[NI_MAXHOST] = "?";
		getnameinfo(ai->ai_addr, ai->ai_addrlen, hbuf, sizeof hbuf, NULL, 0, NI_NUMERICHOST);
		snprintf(what, sizeof what, ai->ai_family == AF_INET6 ? "[%s]:%d" : "%s:%d", hbuf, port);
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (bound == METRICS_MAX_SOCKETS || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, 128) < 0) {
			snprintf(err, errlen, "metrics_listen: cannot listen on %s: %s", what,
				 bound == METRICS_MAX_SOCKETS ? "too many addresses" : strerror(errno));
			close(fd);
			ok = false;
		} else if (!evhttp_accept_socket_with_handle(m->http, fd)) {
			snprintf(err, errlen, "metrics_listen: cannot listen on %s", what);
			close(fd);
			ok = false;
		} else {
			log_info("metrics: listening on %s (/metrics, /health)", what);
			bound++;
		}
	}
	freeaddrinfo(res);
	if (ok && !bound) {
		snprintf(err, errlen, "metrics_listen %s: no usable address", host);
		ok = false;
	}
	return ok;
}

bool metrics_start(const struct config *cfg, struct metrics **out, char *err, size_t errlen)
{
	char host[256], why[200];
	int port;
	*out = NULL;
	if (!cfg->metrics_listen || !*cfg->metrics_listen)
		return true;
	if (!metrics_parse_listen(cfg->metrics_listen, host, sizeof host, &port, why, sizeof why)) {
		snprintf(err, errlen, "%s: metrics_listen: %s", cfg->path, why);
		return false;
	}
	struct metrics *m = calloc(1, sizeof *m);
	if (!m || !(m->nest = loop_nest_new()) || !(m->http = evhttp_new(loop_nest_base(m->nest)))) {
		if (m)
			loop_nest_free(m->nest);
		free(m);
		snprintf(err, errlen, "metrics: out of memory");
		return false;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT);
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, 0);
	if (evhttp_set_cb(m->http, "/metrics", metrics_cb, NULL) != 0 ||
	    evhttp_set_cb(m->http, "/health", health_cb, NULL) != 0) {
		metrics_free(m);
		snprintf(err, errlen, "metrics: out of memory");
		return false;
	}
	evhttp_set_gencb(m->http, not_found_cb, NULL);
	if (!listen_all(m, host, port, err, errlen)) {
		metrics_free(m);
		return false;
	}
	*out = m;
	return true;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	evhttp_free(m->http);
	loop_nest_free(m->nest);
	free(m);
}
