/*
 * admin.c — the admin console: commands split by its tokenizer
 * (admin_lex.c), the SHOW command table with help text, and result sets
 * built through one RowDescription/DataRow builder that takes a
 * column-type string.
 *
 * The commands that act (PAUSE, RELOAD, ...) live in admin_cmd.c.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>


#include "admin.h"
#include "admin_lex.h"
#include "client.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "session_state.h"
#include "sqlstate.h"
#include "stats.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

#define OID_TEXT 25
#define OID_INT4 23
#define OID_NUMERIC 1700
#define ADMIN_MSG_MAX (64 * 1024)

const struct admin_process_ops *admin_process;   /* lifecycle.c: admin_set_process */

void admin_set_process(const struct admin_process_ops *ops)
{
	admin_process = ops;
}

bool admin_is_console(const char *db)
{
	return config_console_name(db) && !config_find_db(rt.cfg, db);
}

/* ---- result builder: column types as a string, 'T' text, 'I' int4,
 * 'N' numeric (PgBouncer's type for its 64-bit counters) ---- */

static uint32_t type_oid(char t)
{
	return t == 'I' ? OID_INT4 : t == 'N' ? OID_NUMERIC : OID_TEXT;
}

void result_begin(struct result *r, const char *types, ...)
{
	va_list ap;
	pq_writer_init(&r->w);
	r->types = types;
	r->rows = 0;
	size_t n = strlen(types);
	pq_begin(&r->w, 'T');
	pq_put_u16(&r->w, (uint16_t)n);
	va_start(ap, types);
	for (size_t i = 0; i < n; i++) {
		pq_put_cstring(&r->w, va_arg(ap, const char *));
		pq_put_u32(&r->w, 0);
		pq_put_u16(&r->w, 0);
		pq_put_u32(&r->w, type_oid(types[i]));
		pq_put_u16(&r->w, types[i] == 'I' ? 4 : 0xffff);
		pq_put_u32(&r->w, 0xffffffff);
		pq_put_u16(&r->w, 0);
	}
	va_end(ap);
	pq_end(&r->w);
}

/* One row: a const char * per 'T' column (NULL for SQL NULL), a long long
 * per 'I' column, a uint64_t per 'N' column. */
void result_row(struct result *r, ...)
{
	va_list ap;
	size_t n = strlen(r->types);
	pq_begin(&r->w, 'D');
	pq_put_u16(&r->w, (uint16_t)n);
	va_start(ap, r);
	for (size_t i = 0; i < n; i++) {
		char num[32];
		const char *v;
		if (r->types[i] == 'I') {
			snprintf(num, sizeof num, "%lld", va_arg(ap, long long));
			v = num;
		} else if (r->types[i] == 'N') {
			snprintf(num, sizeof num, "%" PRIu64, va_arg(ap, uint64_t));
			v = num;
		} else {
			v = va_arg(ap, const char *);
		}
		if (!v) {
			pq_put_u32(&r->w, 0xffffffff);
			continue;
		}
		pq_put_u32(&r->w, (uint32_t)strlen(v));
		pq_put_bytes(&r->w, v, strlen(v));
	}
	va_end(ap);
	pq_end(&r->w);
	r->rows++;
}

/* Queue what w holds, free it, send. An answer that could not be built
 * (over PQ_WRITER_MAX, or out of memory) is replaced by an error and
 * ReadyForQuery: sending nothing would leave the console waiting for ever. */
static void send_writer(struct client *c, struct pq_writer *w)
{
	if (pq_writer_ok(w)) {
		buf_add(c->conn.out, w->buf, w->len);
	} else {
		char msg[160];
		snprintf(msg, sizeof msg, "the answer is larger than the console sends (%u bytes) "
			 "or memory ran out while building it", PQ_WRITER_MAX);
		pq_writer_free(w);
		proto_build_error(w, "ERROR", SQLSTATE_PROGRAM_LIMIT_EXCEEDED, msg, NULL);
		proto_build_ready(w, 'I');
		client_log_error(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED, msg);
		if (pq_writer_ok(w))
			buf_add(c->conn.out, w->buf, w->len);
	}
	pq_writer_free(w);
	conn_send(&c->conn);
}

void result_send(struct client *c, struct result *r, const char *tag)
{
	pq_begin(&r->w, 'C');
	pq_put_cstring(&r->w, tag);
	pq_end(&r->w);
	proto_build_ready(&r->w, 'I');
	send_writer(c, &r->w);
}

void admin_reply(struct client *c, const char *tag)
{
	struct pq_writer w;
	pq_writer_init(&w);
	pq_begin(&w, 'C');
	pq_put_cstring(&w, tag);
	pq_end(&w);
	proto_build_ready(&w, 'I');
	send_writer(c, &w);
}

static void send_error(struct client *c, const char *sqlstate, const char *msg, const char *detail)
{
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_error(&w, "ERROR", sqlstate, msg, detail);
	proto_build_ready(&w, 'I');
	client_log_error(c, sqlstate, msg);
	send_writer(c, &w);
}

void admin_error(struct client *c, const char *sqlstate, const char *fmt, ...)
{
	char msg[1280];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	send_error(c, sqlstate, msg, NULL);
}

void admin_error_detail(struct client *c, const char *sqlstate, const char *detail, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	send_error(c, sqlstate, msg, detail && *detail ? detail : NULL);
}

/* ---- SHOW ---- */

static void show_version(struct client *c)
{
	struct result r;
	result_begin(&r, "T", "version");
	result_row(&r, "sluice " SLUICE_VERSION);
	result_send(c, &r, "SHOW");
}

static void show_pools(struct client *c)
{
	struct result r;
	result_begin(&r, "TTIIIIIIIIIIIIIT", "database", "user", "cl_active", "cl_waiting",
		     "cl_active_cancel_req", "cl_waiting_cancel_req", "sv_active", "sv_active_cancel",
		     "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait",
		     "maxwait_us", "pool_mode");
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->internal)
			continue;
		struct pool_counts n;
		pool_get_counts(p, &n);
		long long wait_s = (long long)n.maxwait;
		result_row(&r, p->db_name, p->user, (long long)n.cl_active, (long long)n.cl_waiting,
			   0LL, 0LL, (long long)n.sv_active, 0LL, (long long)n.sv_being_canceled,
			   (long long)n.sv_idle,
			   (long long)n.sv_used, (long long)n.sv_tested, (long long)n.sv_login,
			   wait_s, (long long)((n.maxwait - (double)wait_s) * 1e6),
			   config_pool_mode_name(p->mode));
	}
	result_send(c, &r, "SHOW");
}

/* sluice's own (SHOW POOLS keeps PgBouncer's columns): per pool, the
 * links of a client to a server opened with other startup parameters,
 * where RESET goes back to that server's values (doc/pooling.md) */
static void show_startup(struct client *c)
{
	struct result r;
	result_begin(&r, "TTI", "database", "user", "startup_mismatch");
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (!p->internal)
			result_row(&r, p->db_name, p->user, (long long)p->startup_mismatch);
	}
	result_send(c, &r, "SHOW");
}

/* sluice's own: per pool and kind of session state, what
 * transaction_session_state did with the statements that leave it
 * (session_state.h); a row once a pool has met a kind, and the pool's
 * pinned servers now */
static void show_state_leaks(struct client *c)
{
	struct result r;
	result_begin(&r, "TTTTIIII", "database", "user", "policy", "kind", "warned", "refused",
		     "pinned", "sv_pinned");
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->internal)
			continue;
		for (int k = 0; k < STATE_KINDS; k++) {
			const unsigned long long *n = p->state_seen[k];
			if (n[STATE_WARNED] || n[STATE_REFUSED] || n[STATE_PINNED])
				result_row(&r, p->db_name, p->user, session_state_policy_name(p->state_policy),
					   session_state_kind_name(k), (long long)n[STATE_WARNED],
					   (long long)n[STATE_REFUSED], (long long)n[STATE_PINNED],
					   (long long)p->npinned);
		}
	}
	result_send(c, &r, "SHOW");
}

static int db_servers(const char *db)
{
	int n = 0;
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		if (!strcmp(p->db_name, db))
			n += p->nservers;
	}
	return n;
}

static bool db_paused(const char *db)
{
	const struct gate *g = strcmp(db, "*") ? gate_get(db) : NULL;
	return gate_paused_all() || (g && g->state != GATE_OPEN);
}

static bool db_disabled(const char *db)
{
	const struct gate *g = strcmp(db, "*") ? gate_get(db) : NULL;
	return g && g->disabled;
}

static void show_databases(struct client *c)
{
	const struct config *cfg = rt.cfg;
	struct result r;
	result_begin(&r, "TTITTIIITIIII", "name", "host", "port", "database", "force_user", "pool_size",
		     "min_pool_size", "reserve_pool", "pool_mode", "max_connections",
		     "current_connections", "paused", "disabled");
	for (size_t i = 0; i < cfg->ndbs; i++) {
		const struct db_entry *d = &cfg->dbs[i];
		result_row(&r, d->name, d->host, (long long)(d->port > 0 ? d->port : 5432),
			   d->dbname ? d->dbname : d->name, d->user,
			   (long long)config_db_pool_size(cfg, d),
			   (long long)(d->min_pool_size >= 0 ? d->min_pool_size : cfg->min_pool_size),
			   (long long)(d->reserve_pool >= 0 ? d->reserve_pool : cfg->reserve_pool_size),
			   d->pool_mode >= 0 ? config_pool_mode_name(d->pool_mode) : NULL,
			   (long long)(d->max_db_connections >= 0 ? d->max_db_connections : cfg->max_db_connections),
			   (long long)db_servers(d->name), (long long)db_paused(d->name),
			   (long long)db_disabled(d->name));
	}
	result_send(c, &r, "SHOW");
}

static void show_users(struct client *c)
{
	const struct config *cfg = rt.cfg;
	struct result r;
	result_begin(&r, "TT", "name", "pool_mode");
	for (size_t i = 0; cfg->users && i < cfg->users->n; i++) {
		const struct user_settings *u = config_find_user(cfg, cfg->users->users[i].name);
		result_row(&r, cfg->users->users[i].name,
			   u && u->pool_mode >= 0 ? config_pool_mode_name(u->pool_mode) : NULL);
	}
	result_send(c, &r, "SHOW");
}

static void show_lists(struct client *c)
{
	int pools = 0, servers = 0;
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		pools++;
		servers += p->nservers;
	}
	struct result r;
	result_begin(&r, "TI", "list", "items");
	result_row(&r, "databases", (long long)rt.cfg->ndbs);
	result_row(&r, "users", (long long)(rt.cfg->users ? rt.cfg->users->n : 0));
	result_row(&r, "pools", (long long)pools);
	result_row(&r, "free_clients", 0LL);
	result_row(&r, "used_clients", (long long)rt.nclients);
	result_row(&r, "login_clients", (long long)rt.nlogins);
	result_row(&r, "free_servers", 0LL);
	result_row(&r, "used_servers", (long long)servers);
	result_row(&r, "dns_names", 0LL);
	result_row(&r, "dns_zones", 0LL);
	result_row(&r, "dns_queries", 0LL);
	result_row(&r, "dns_pending", 0LL);
	result_send(c, &r, "SHOW");
}

static void show_config(struct client *c)
{
	struct result r;
	struct config_key_info k;
	result_begin(&r, "TTTT", "key", "value", "default", "changeable");
	for (size_t cur = 0; config_key_next(&cur, &k);) {
		char *value = config_key_value(rt.cfg, k.name);
		if (!value) {
			pq_writer_free(&r.w);
			admin_error(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
			return;
		}
		result_row(&r, k.name, value, k.def ? k.def : "", k.reload_ok ? "yes" : "no");
		free(value);
	}
	result_send(c, &r, "SHOW");
}

/* Addresses and times as PgBouncer prints them. */
static void split_addr(const struct sockaddr *sa, char *host, size_t n, long long *port)
{
	*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, (socklen_t)n);
		*port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)n);
		*port = ntohs(in6->sin6_port);
	} else {
		snprintf(host, n, "unix");
		*port = rt.cfg->listen_port;
	}
}

static void local_addr(int fd, char *host, size_t n, long long *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		ss.ss_family = AF_UNIX;
	split_addr((const struct sockaddr *)&ss, host, n, port);
}

void admin_format_wall(double wall, char *out, size_t n)
{
	time_t t = (time_t)wall;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

static void tls_desc(const struct conn *conn, char *out, size_t n)
{
	out[0] = 0;
	if (conn->ssl)
		snprintf(out, n, "%s/%s", SSL_get_version(conn->ssl), SSL_get_cipher_name(conn->ssl));
}

#define ADDR_COLUMNS "type", "user", "database", "state", "addr", "port", "local_addr", \
	"local_port", "connect_time", "request_time", "wait", "wait_us", "close_needed", "ptr", \
	"link", "remote_pid", "tls", "application_name"
#define ADDR_TYPES "TTTTTITITTIIITTITT"

static void show_servers(struct client *c)
{
	struct result r;
	result_begin(&r, ADDR_TYPES, ADDR_COLUMNS);
	double now = rt_now(), wall = rt_wallclock();
	for (struct list *it = rt.pools.next; it != &rt.pools; it = it->next) {
		struct pool *p = list_entry(it, struct pool, node);
		const struct list *lists[] = { &p->used, &p->idle, &p->busy };
		for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
			for (const struct list *s_it = lists[l]->next; s_it != lists[l]; s_it = s_it->next) {
				const struct server *s = list_entry(s_it, struct server, pool_node);
				char ptr[24], link[24], laddr[64], connected[64], tls[128];
				long long lport;
				snprintf(ptr, sizeof ptr, "S-%llu", (unsigned long long)s->conn.id);
				snprintf(link, sizeof link, "C-%llu",
					 s->client ? (unsigned long long)s->client->conn.id : 0ULL);
				local_addr(s->conn.fd, laddr, sizeof laddr, &lport);
				admin_format_wall(wall - (now - s->created), connected, sizeof connected);
				tls_desc(&s->conn, tls, sizeof tls);
				const char *state = s->state == SV_IDLE ? "idle" : s->client ? "active"
					: server_logging_in(s) ? "login"
					: s->state == SV_CANCEL_WAIT ? "being_canceled" : "used";
				result_row(&r, "S", p->target.user, p->db_name, state, p->target.host,
					   (long long)p->target.port, laddr, lport, connected, connected,
					   0LL, 0LL, (long long)s->close_needed, ptr, s->client ? link : NULL,
					   (long long)s->backend_pid, tls, NULL);
			}
		}
	}
	result_send(c, &r, "SHOW");
}

static const char *client_show_state(const struct client *c)
{
	switch (c->state) {
	case CL_WAITING:
	case CL_LOGIN_WAIT:
	case CL_HELD:
		return "waiting";
	case CL_IDLE:
	case CL_ACTIVE:
	case CL_ADMIN:
		return "active";
	default:
		return "login";
	}
}

static void show_clients(struct client *self)
{
	struct result r;
	result_begin(&r, ADDR_TYPES, ADDR_COLUMNS);
	double now = rt_now(), wall = rt_wallclock();
	int app_idx = varcache_index("application_name");
	for (struct list *it = rt.clients.next; it != &rt.clients; it = it->next) {
		const struct client *c = list_entry(it, struct client, all_node);
		if (c->state == CL_CLOSED)
			continue;
		char host[64], laddr[64], connected[64], requested[64], ptr[24], link[24], tls[128];
		long long port, lport;
		split_addr(&c->peer.sa, host, sizeof host, &port);
		local_addr(c->conn.fd, laddr, sizeof laddr, &lport);
		admin_format_wall(wall - (now - c->connected_at), connected, sizeof connected);
		admin_format_wall(wall - (now - c->request_at), requested, sizeof requested);
		snprintf(ptr, sizeof ptr, "C-%llu", (unsigned long long)c->conn.id);
		snprintf(link, sizeof link, "S-%llu", c->server ? (unsigned long long)c->server->conn.id : 0ULL);
		tls_desc(&c->conn, tls, sizeof tls);
		double wait = c->state == CL_WAITING || c->state == CL_LOGIN_WAIT ? now - c->wait_since
			    : c->state == CL_HELD ? now - c->held_since : 0;
		long long wait_s = (long long)wait;
		const char *app = app_idx >= 0 ? varcache_get(&c->vars, app_idx) : NULL;
		result_row(&r, "C", c->user, c->db_name, client_show_state(c), host, port, laddr, lport,
			   connected, requested, wait_s, (long long)((wait - (double)wait_s) * 1e6), 0LL,
			   ptr, c->server ? link : NULL, 0LL, tls, app ? app : "");
	}
	result_send(self, &r, "SHOW");
}

/* ---- SHOW STATS, STATS_TOTALS, STATS_AVERAGES: one row per database ---- */

/*
 * stats_legacy_columns adds, after PgBouncer 1.18's columns, the three of
 * PgBouncer 1.7 that 1.8 renamed (total_requests is total_query_count,
 * avg_req avg_query_count, avg_query avg_query_time): tools written before
 * 1.8 (Debian 12's prometheus-pgbouncer-exporter) stop on their absence.
 * Both calls always pass the three; the type string says how many are
 * read, and a variadic call may pass more than are read.
 */
static void show_stats(struct client *c)
{
	struct result r;
	result_begin(&r, rt.cfg->stats_legacy_columns ? "TNNNNNNNNNNNNNNNNN" : "TNNNNNNNNNNNNNN",
		     "database", "total_xact_count", "total_query_count",
		     "total_received", "total_sent", "total_xact_time", "total_query_time",
		     "total_wait_time", "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent",
		     "avg_xact_time", "avg_query_time", "avg_wait_time",
		     "total_requests", "avg_req", "avg_query");
	for (const struct stats_db *d = stats_db_next(NULL); d; d = stats_db_next(d)) {
		const struct stats_counters *t = &d->total, *a = &d->avg;
		result_row(&r, d->name, t->xact_count, t->query_count, t->recv_bytes, t->sent_bytes,
			   t->xact_us, t->query_us, t->wait_us, a->xact_count, a->query_count,
			   a->recv_bytes, a->sent_bytes, a->xact_us, a->query_us, a->wait_us,
			   t->query_count, a->query_count, a->query_us);
	}
	result_send(c, &r, "SHOW");
}

static void show_counters(struct client *c, bool averages)
{
	struct result r;
	result_begin(&r, "TNNNNNNN", "database", "xact_count", "query_count", "bytes_received",
		     "bytes_sent", "xact_time", "query_time", "wait_time");
	for (const struct stats_db *d = stats_db_next(NULL); d; d = stats_db_next(d)) {
		const struct stats_counters *v = averages ? &d->avg : &d->total;
		result_row(&r, d->name, v->xact_count, v->query_count, v->recv_bytes, v->sent_bytes,
			   v->xact_us, v->query_us, v->wait_us);
	}
	result_send(c, &r, "SHOW");
}

static void show_stats_totals(struct client *c)
{
	show_counters(c, false);
}

static void show_stats_averages(struct client *c)
{
	show_counters(c, true);
}

struct command {
	const char *name;
	void (*fn)(struct client *c);
	const char *help;
};

static const struct command show_commands[] = {
	{ "VERSION", show_version, "sluice's version" },
	{ "POOLS", show_pools, "pools: clients and servers by state" },
	{ "DATABASES", show_databases, "the [databases] entries" },
	{ "USERS", show_users, "users of auth_file" },
	{ "LISTS", show_lists, "counts of internal lists" },
	{ "CONFIG", show_config, "every configuration key: value, default, changeable" },
	{ "SERVERS", show_servers, "server connections" },
	{ "CLIENTS", show_clients, "client connections" },
	{ "STATS", show_stats, "per database: totals since start and averages of the last stats_period" },
	{ "STATS_TOTALS", show_stats_totals, "per database: totals since start" },
	{ "STATS_AVERAGES", show_stats_averages, "per database: averages of the last stats_period" },
	{ "GATES", admin_show_gates, "the migration gate of each database, and its cluster window" },
	{ "PEERS", admin_show_peers, "the members of the cluster (cluster_name)" },
	{ "STARTUP", show_startup, "per pool: clients linked to a server of other startup parameters" },
	{ "STATE_LEAKS", show_state_leaks, "per pool and kind: session state warned, refused, pinned" },
};

static void help_line(void *arg, const char *text)
{
	proto_build_notice(arg, "00000", text);
}

static void show_help(struct client *c)
{
	struct pq_writer w;
	pq_writer_init(&w);
	for (size_t i = 0; i < ARRAY_SIZE(show_commands); i++) {
		char line[128];
		snprintf(line, sizeof line, "SHOW %s: %s", show_commands[i].name, show_commands[i].help);
		help_line(&w, line);
	}
	admin_cmd_help(help_line, &w);
	pq_begin(&w, 'C');
	pq_put_cstring(&w, "SHOW");
	pq_end(&w);
	proto_build_ready(&w, 'I');
	send_writer(c, &w);
}

/* ---- dispatch ---- */

static void run_show(struct client *c, const struct admin_toks *t)
{
	if (t->n == 1 || admin_tok_is(&t->v[1], "HELP")) {
		show_help(c);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(show_commands); i++) {
		if (!admin_tok_is(&t->v[1], show_commands[i].name))
			continue;
		if (t->n > 2) {
			admin_error(c, SQLSTATE_PROTOCOL_VIOLATION, "SHOW %s takes no arguments",
				    show_commands[i].name);
			return;
		}
		show_commands[i].fn(c);
		return;
	}
	admin_error(c, SQLSTATE_FEATURE_NOT_SUPPORTED, "SHOW %s%s%s is not supported (yet); try SHOW HELP",
		    t->v[1].kind == ADMIN_TOK_IDENT ? "\"" : "", t->v[1].text,
		    t->v[1].kind == ADMIN_TOK_IDENT ? "\"" : "");
}

static void run_command(struct client *c, const char *sql)
{
	size_t len = strlen(sql);
	if (len >= ADMIN_CMD_MAX) {
		/* never run a command cut short: "PAUSE <many spaces> app" would
		 * pause every database */
		admin_error(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
			    "console command too long: %zu bytes, at most %d", len, ADMIN_CMD_MAX - 1);
		return;
	}
	struct admin_toks t;
	char err[256];
	if (!admin_lex(sql, len, &t, err, sizeof err)) {
		admin_error(c, SQLSTATE_SYNTAX_ERROR, "%s", err);
		return;
	}
	if (t.n == 0)
		admin_error(c, SQLSTATE_PROTOCOL_VIOLATION, "empty command");
	else if (t.v[0].kind != ADMIN_TOK_WORD)
		admin_error(c, SQLSTATE_SYNTAX_ERROR, "a command starts with a keyword, not a %s; try SHOW HELP",
			    admin_tok_kind_name(t.v[0].kind));
	else if (admin_tok_is(&t.v[0], "SHOW"))
		run_show(c, &t);
	else if (!admin_cmd_run(c, &t))
		admin_error(c, SQLSTATE_SYNTAX_ERROR, "unknown command: %s; try SHOW HELP", t.v[0].text);
	admin_lex_free(&t);
}

void admin_login(struct client *c)
{
	const struct config *cfg = rt.cfg;
	if (!config_list_has(cfg->admin_users, c->user) && !config_list_has(cfg->stats_users, c->user)) {
		client_fail(c, SQLSTATE_INVALID_AUTHORIZATION, "user \"%s\" is not allowed to use the admin console",
			    c->user);
		return;
	}
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_auth(&w, PQ_AUTH_OK, NULL, 0);
	proto_build_param_status(&w, "server_version", "15.0 (sluice " SLUICE_VERSION ")");
	proto_build_param_status(&w, "server_encoding", "UTF8");
	proto_build_param_status(&w, "client_encoding", "UTF8");
	proto_build_param_status(&w, "DateStyle", "ISO, MDY");
	proto_build_param_status(&w, "integer_datetimes", "on");
	proto_build_param_status(&w, "standard_conforming_strings", "on");
	proto_build_backend_key(&w, 0, 0);
	proto_build_ready(&w, 'I');
	if (pq_writer_ok(&w))
		buf_add(c->conn.out, w.buf, w.len);
	pq_writer_free(&w);
	conn_timer(&c->conn, 0);
	client_set_state(c, CL_ADMIN);
	client_log_login(c);   /* logged in: not under the limit of client_log.c */
	conn_send(&c->conn);
}

/* Backpressure, as for every client (conn.h's watermarks): a console
 * whose answers are not read, or whose command waits (PAUSE, WAIT_CLOSE),
 * runs nothing more, and is not read once what it sent passes the mark.
 * Reading resumes from admin_input itself: on CONN_EV_DRAINED, or when
 * the wait ends (admin_progress). */
static bool console_blocked(struct client *c)
{
	if (conn_out_full(&c->conn)) {   /* arms CONN_EV_DRAINED */
		conn_read_stop(&c->conn);
		return true;
	}
	if (c->console_waiting) {
		if (conn_in_len(&c->conn) > CONN_HIGH_WATER)
			conn_read_stop(&c->conn);
		return true;
	}
	return false;
}

void admin_input(struct client *c)
{
	while (c->state == CL_ADMIN && !console_blocked(c)) {
		struct pq_header h;
		enum pq_frame f = conn_frame(&c->conn, ADMIN_MSG_MAX, &h);
		if (f == PQ_FRAME_BAD) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid message length");
			return;
		}
		if (f != PQ_FRAME_COMPLETE) {
			conn_read_start(&c->conn);   /* stopped by console_blocked */
			return;
		}
		size_t total = pq_msg_total(&h);
		char *msg = malloc(total + 1);
		if (!msg) {
			client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
			return;
		}
		buf_remove(c->conn.in, msg, total);
		msg[total] = 0;
		if (h.type == 'Q')
			run_command(c, msg + PQ_HEADER_LEN);
		else if (h.type == 'X')
			client_close_normal(c);
		else
			client_fail(c, SQLSTATE_FEATURE_NOT_SUPPORTED,
				    "the admin console speaks only the simple query protocol");
		free(msg);
	}
}
