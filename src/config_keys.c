/*
 * config_keys.c — the one typed table of configuration keys (global,
 * per-database and per-user) and the setter every value goes through,
 * defaults included.
 *
 * INTERFACE ROUTINES: see config_internal.h (cfg_key_find, cfg_keys_init,
 * cfg_key_set, cfg_key_equal, cfg_keys_copy, cfg_keys_free, cfg_key_text,
 * cfg_enum_name, cfg_resolve_path).
 *
 * Adding a key: a field in struct config (or struct db_entry, struct
 * user_settings), one row below, a line in etc/sluice.ini and a section in
 * doc/config.md (test/unit/config.c checks the last two). A TODO row is
 * named in doc/config.md too ("Keys not supported yet", or the [databases]
 * and [users] sections): test/lint/man-pages.t checks every row in
 * sluice.ini(5), which make builds from doc/config.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"

const struct cfg_enum cfg_auth_types[] = {
	{ "trust", AUTH_TRUST, false },
	{ "plain", AUTH_PLAIN, false },
	{ "md5", AUTH_MD5, false },
	{ "scram-sha-256", AUTH_SCRAM, false },
	{ "hba", AUTH_HBA, false },
	{ "cert", AUTH_CERT, false },
	{ "any", -1, true },
	{ "pam", -1, true },
	{ "ldap", -1, true },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_tls_modes[] = {
	{ "disable", TLS_DISABLE, false },
	{ "allow", TLS_ALLOW, false },
	{ "prefer", TLS_PREFER, false },
	{ "require", TLS_REQUIRE, false },
	{ "verify-ca", TLS_VERIFY_CA, false },
	{ "verify-full", TLS_VERIFY_FULL, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_gate_policies[] = {
	{ "reopen", GATE_POLICY_REOPEN, false },
	{ "cancel", GATE_POLICY_CANCEL, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_gate_resets[] = {
	{ "discard", GATE_RESET_DISCARD, false },
	{ "reconnect", GATE_RESET_RECONNECT, false },
	{ "none", GATE_RESET_NONE, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_log_formats[] = {
	{ "text", LOG_FORMAT_TEXT, false },
	{ "logfmt", LOG_FORMAT_LOGFMT, false },
	{ NULL, 0, false },
};

/* PgBouncer's list of syslog facilities */
const struct cfg_enum cfg_syslog_facilities[] = {
	{ "auth", LOG_FAC_AUTH, false }, { "authpriv", LOG_FAC_AUTHPRIV, false },
	{ "daemon", LOG_FAC_DAEMON, false }, { "user", LOG_FAC_USER, false },
	{ "local0", LOG_FAC_LOCAL0, false }, { "local1", LOG_FAC_LOCAL1, false },
	{ "local2", LOG_FAC_LOCAL2, false }, { "local3", LOG_FAC_LOCAL3, false },
	{ "local4", LOG_FAC_LOCAL4, false }, { "local5", LOG_FAC_LOCAL5, false },
	{ "local6", LOG_FAC_LOCAL6, false }, { "local7", LOG_FAC_LOCAL7, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_state_policies[] = {
	{ "allow", STATE_ALLOW, false },
	{ "warn", STATE_WARN, false },
	{ "refuse", STATE_REFUSE, false },
	{ "pin", STATE_PIN, false },
	{ NULL, 0, false },
};

const struct cfg_enum cfg_pool_modes[] = {
	{ "session", POOL_SESSION, false },
	{ "transaction", POOL_TRANSACTION, false },
	{ "statement", POOL_STATEMENT, false },
	{ NULL, 0, false },
};

/*
 * Each row names its field as G(f) (struct config), D(f) (struct db_entry),
 * U(f) (struct user_settings) or P(f) (struct peer_entry); FIELD() turns that into the offset and
 * checks at compile time that the field has the C type the key's type
 * stores (int, double, char *), so a row can never write past its field.
 */
#define FIELD(S, f, T) (offsetof(struct S, f) + 0 * sizeof(struct { int dummy; \
	_Static_assert(__builtin_types_compatible_p(__typeof__(((struct S *)0)->f), T), \
		       "struct " #S ": field " #f " is not " #T); }))
#define G(f) config, f
#define D(f) db_entry, f
#define U(f) user_settings, f
#define P(f) peer_entry, f
/* name, type, offset, min, max, default, enums, reload_ok; "fld" is G/D/U(f) */
#define INT(n, fld, lo, hi, def, rl)  INT_(n, fld, lo, hi, def, rl)
#define BOOL(n, fld, def, rl)         BOOL_(n, fld, def, rl)
#define STR(n, fld, def, rl)          STR_(n, fld, def, rl)
#define PATH(n, fld, rl)              PATH_(n, fld, rl)
#define ENUM(n, fld, e, def, rl)      ENUM_(n, fld, e, def, rl)
#define SECS(n, fld, def)             SECS_(n, fld, def)
#define BYTES(n, fld, lo, hi, def)    BYTES_(n, fld, lo, hi, def)
#define TODO(n)                       { n, CFG_UNSUPPORTED, 0, 0, 0, NULL, NULL, true }
#define INT_(n, S, f, lo, hi, def, rl) { n, CFG_INT, FIELD(S, f, int), lo, hi, def, NULL, rl }
#define BOOL_(n, S, f, def, rl)       { n, CFG_BOOL, FIELD(S, f, int), 0, 1, def, NULL, rl }
#define STR_(n, S, f, def, rl)        { n, CFG_STRING, FIELD(S, f, char *), 0, 0, def, NULL, rl }
#define PATH_(n, S, f, rl)            { n, CFG_PATH, FIELD(S, f, char *), 0, 0, NULL, NULL, rl }
#define ENUM_(n, S, f, e, def, rl)    { n, CFG_ENUM, FIELD(S, f, int), 0, 0, def, e, rl }
#define SECS_(n, S, f, def)           { n, CFG_SECONDS, FIELD(S, f, double), 0, INT_MAX, def, NULL, true }
#define BYTES_(n, S, f, lo, hi, def)  { n, CFG_BYTES, FIELD(S, f, int), lo, hi, def, NULL, true }

const struct cfg_key cfg_global_keys[] = {
	STR("listen_addr", G(listen_addr), "", false),
	INT("listen_port", G(listen_port), 1, 65535, "6432", false),
	STR("unix_socket_dir", G(unix_socket_dir), "/tmp", false),
	BOOL("so_reuseport", G(so_reuseport), "0", false),
	BOOL("tcp_defer_accept", G(tcp_defer_accept), "1", false),
	ENUM("auth_type", G(auth_type), cfg_auth_types, "md5", true),
	PATH("auth_file", G(auth_file), true),
	PATH("auth_hba_file", G(auth_hba_file), true),
	STR("auth_user", G(auth_user), "", true),
	STR("auth_query", G(auth_query), "SELECT usename, passwd FROM pg_catalog.pg_shadow "
	    "WHERE usename = $1 AND (valuntil IS NULL OR valuntil > pg_catalog.now())", true),
	SECS("auth_cache_lifetime", G(auth_cache_lifetime), "60"),
	SECS("auth_cache_negative_lifetime", G(auth_cache_negative_lifetime), "5"),
	INT("auth_cache_max_entries", G(auth_cache_max_entries), 0, 1000000, "10000", true),
	BYTES("auth_cache_max_bytes", G(auth_cache_max_bytes), 0, INT_MAX, "8MB"),
	INT("auth_query_max_in_flight", G(auth_query_max_in_flight), 1, INT_MAX, "4", true),
	ENUM("pool_mode", G(pool_mode), cfg_pool_modes, "session", true),
	INT("default_pool_size", G(default_pool_size), 1, INT_MAX, "20", true),
	INT("max_client_conn", G(max_client_conn), 1, INT_MAX, "100", true),
	INT("max_login_clients", G(max_login_clients), 1, INT_MAX, "1000", true),
	INT("max_db_connections", G(max_db_connections), 0, INT_MAX, "0", true),
	STR("server_reset_query", G(server_reset_query), "DISCARD ALL", true),
	SECS("query_wait_timeout", G(query_wait_timeout), "120"),
	SECS("client_login_timeout", G(client_login_timeout), "60"),
	SECS("server_connect_timeout", G(server_connect_timeout), "15"),
	PATH("logfile", G(logfile), true),
	PATH("pidfile", G(pidfile), false),
	STR("admin_users", G(admin_users), "", true),
	STR("stats_users", G(stats_users), "", true),
	STR("ignore_startup_parameters", G(ignore_startup_parameters), "", true),
	BYTES("max_packet_size", G(max_packet_size), 1024, INT_MAX, "1GB"),

	/* logging (log.c applies them; client.c and server.c read log_*) */
	INT("verbose", G(verbose), 0, 9, "0", true),
	BOOL("log_connections", G(log_connections), "1", true),
	BOOL("log_disconnections", G(log_disconnections), "1", true),
	BOOL("log_pooler_errors", G(log_pooler_errors), "1", true),
	BOOL("log_query_text", G(log_query_text), "0", true),
	ENUM("log_format", G(log_format), cfg_log_formats, "text", true),
	BOOL("syslog", G(use_syslog), "0", true),
	STR("syslog_ident", G(syslog_ident), "sluice", true),
	ENUM("syslog_facility", G(syslog_facility), cfg_syslog_facilities, "daemon", true),

	/* pooling, timeouts and recycling: PgBouncer's names, defaults and units */
	BOOL("server_reset_query_always", G(server_reset_query_always), "0", true),
	SECS("server_lifetime", G(server_lifetime), "3600"),
	SECS("server_idle_timeout", G(server_idle_timeout), "600"),
	SECS("server_login_retry", G(server_login_retry), "15"),
	SECS("query_timeout", G(query_timeout), "0"),
	SECS("client_idle_timeout", G(client_idle_timeout), "0"),
	SECS("idle_transaction_timeout", G(idle_transaction_timeout), "0"),
	INT("min_pool_size", G(min_pool_size), 0, INT_MAX, "0", true),
	INT("reserve_pool_size", G(reserve_pool_size), 0, INT_MAX, "0", true),
	SECS("reserve_pool_timeout", G(reserve_pool_timeout), "5"),
	SECS("autodb_idle_timeout", G(autodb_idle_timeout), "3600"),
	INT("max_user_connections", G(max_user_connections), 0, INT_MAX, "0", true),
	STR("server_check_query", G(server_check_query), "select 1", true),
	SECS("server_check_delay", G(server_check_delay), "30"),
	STR("track_extra_parameters", G(track_extra_parameters), "", false),
	INT("max_prepared_statements", G(max_prepared_statements), 0, INT_MAX, "200", true),
	ENUM("transaction_session_state", G(state_policy), cfg_state_policies, "warn", true),
	INT("max_pinned_servers", G(max_pinned_servers), 0, INT_MAX, "0", true),
	INT("max_client_prepared_statements", G(max_client_prepared_statements), 1, INT_MAX, "10000", true),
	BYTES("max_client_prepared_bytes", G(max_client_prepared_bytes), 1024, INT_MAX, "64MB"),

	/* statistics (PgBouncer's stats_period) and sluice's HTTP metrics */
	INT("stats_period", G(stats_period), 1, INT_MAX, "60", true),
	BOOL("stats_legacy_columns", G(stats_legacy_columns), "0", true),
	STR("metrics_listen", G(metrics_listen), "", false),

	/* TLS: PgBouncer's keys and defaults; files are re-read on SIGHUP */
	ENUM("client_tls_sslmode", G(client_tls_sslmode), cfg_tls_modes, "disable", true),
	PATH("client_tls_key_file", G(client_tls_key_file), true),
	PATH("client_tls_cert_file", G(client_tls_cert_file), true),
	PATH("client_tls_ca_file", G(client_tls_ca_file), true),
	STR("client_tls_protocols", G(client_tls_protocols), "secure", true),
	STR("client_tls_ciphers", G(client_tls_ciphers), "default", true),
	STR("client_tls13_ciphers", G(client_tls13_ciphers), "default", true),
	ENUM("server_tls_sslmode", G(server_tls_sslmode), cfg_tls_modes, "prefer", true),
	PATH("server_tls_ca_file", G(server_tls_ca_file), true),
	PATH("server_tls_key_file", G(server_tls_key_file), true),
	PATH("server_tls_cert_file", G(server_tls_cert_file), true),
	STR("server_tls_protocols", G(server_tls_protocols), "secure", true),
	STR("server_tls_ciphers", G(server_tls_ciphers), "default", true),
	STR("server_tls13_ciphers", G(server_tls13_ciphers), "default", true),

	/* the migration gate (sluice's own) */
	SECS("gate_drain_timeout", G(gate_drain_timeout), "30"),
	ENUM("gate_drain_policy", G(gate_drain_policy), cfg_gate_policies, "reopen", true),
	STR("gate_bypass_users", G(gate_bypass_users), "", true),
	STR("gate_bypass_application_names", G(gate_bypass_application_names), "", true),
	BOOL("gate_auto", G(gate_auto), "0", true),
	ENUM("gate_resume_reset", G(gate_resume_reset), cfg_gate_resets, "discard", true),
	SECS("gate_hold_timeout", G(gate_hold_timeout), "60"),
	SECS("gate_max_pause", G(gate_max_pause), "300"),

	/* cancels across instances: PgBouncer's key; the keys handed to
	 * clients carry it, so only a restart changes it */
	INT("peer_id", G(peer_id), 0, CONFIG_PEER_ID_MAX, "0", false),

	/* a cluster coordinated through PostgreSQL (sluice's own) */
	STR("cluster_name", G(cluster_name), "", false),
	STR("cluster_dsn", G(cluster_dsn), "", false),
	STR("cluster_schema", G(cluster_schema), "sluice_cluster", false),
	STR("cluster_address", G(cluster_address), "", false),
	SECS("cluster_member_timeout", G(cluster_member_timeout), "10"),
	SECS("cluster_heartbeat", G(cluster_heartbeat), "1"),

	/* PgBouncer keys not implemented yet: a warning, never a failure. */
	TODO("user"), TODO("unix_socket_mode"), TODO("unix_socket_group"),
	TODO("auth_dbname"),
TODO("auth_ident_file"), TODO("auth_ldap_options"),
	TODO("max_db_client_connections"), TODO("max_user_client_connections"),
	TODO("server_round_robin"),
	TODO("application_name_add_host"), TODO("disable_pqexec"),
	TODO("conffile"), TODO("service_name"), TODO("job_name"),
	TODO("log_stats"), TODO("server_fast_close"),
	TODO("query_wait_notify"), TODO("cancel_wait_timeout"),
	TODO("transaction_timeout"), TODO("suspend_timeout"),
	TODO("dns_max_ttl"), TODO("dns_nxdomain_ttl"),
	TODO("dns_zone_check_period"), TODO("resolv_conf"), TODO("pkt_buf"),
	TODO("listen_backlog"), TODO("sbuf_loopcnt"),
	TODO("tcp_socket_buffer"), TODO("tcp_keepalive"),
	TODO("tcp_keepcnt"), TODO("tcp_keepidle"), TODO("tcp_keepintvl"),
	TODO("tcp_user_timeout"),
	TODO("client_tls_ecdhcurve"), TODO("client_tls_dheparams"),
};
const size_t cfg_global_nkeys = ARRAY_SIZE(cfg_global_keys);

/* [databases] values: no defaults; unset means "use the global value". */
const struct cfg_key cfg_db_keys[] = {
	STR("host", D(host), NULL, true),
	INT("port", D(port), 1, 65535, NULL, true),
	STR("dbname", D(dbname), NULL, true),
	STR("user", D(user), NULL, true),
	STR("password", D(password), NULL, true),
	INT("pool_size", D(pool_size), 1, INT_MAX, NULL, true),
	ENUM("pool_mode", D(pool_mode), cfg_pool_modes, NULL, true),
	ENUM("transaction_session_state", D(state_policy), cfg_state_policies, NULL, true),
	INT("max_db_connections", D(max_db_connections), 0, INT_MAX, NULL, true),
	INT("min_pool_size", D(min_pool_size), 0, INT_MAX, NULL, true),
	INT("reserve_pool", D(reserve_pool), 0, INT_MAX, NULL, true),
	/* newer PgBouncer's name for reserve_pool: the same field */
	INT("reserve_pool_size", D(reserve_pool), 0, INT_MAX, NULL, true),
	/* libpq's name; server_tls_sslmode for this database alone */
	ENUM("sslmode", D(server_tls_sslmode), cfg_tls_modes, NULL, true),

	TODO("auth_user"), TODO("auth_query"), TODO("auth_dbname"),
	TODO("client_encoding"), TODO("datestyle"), TODO("timezone"),
	TODO("connect_query"), TODO("application_name"), TODO("server_lifetime"),
	TODO("max_db_client_connections"), TODO("load_balance_hosts"),
};
const size_t cfg_db_nkeys = ARRAY_SIZE(cfg_db_keys);

/* [users] values: no defaults; unset means "use the database's or global value". */
const struct cfg_key cfg_user_keys[] = {
	ENUM("pool_mode", U(pool_mode), cfg_pool_modes, NULL, true),
	ENUM("transaction_session_state", U(state_policy), cfg_state_policies, NULL, true),
	INT("max_user_connections", U(max_user_connections), 0, INT_MAX, NULL, true),

	/* accepted by newer PgBouncer versions */
	TODO("pool_size"), TODO("reserve_pool_size"), TODO("max_user_client_connections"),
	TODO("query_timeout"), TODO("idle_transaction_timeout"), TODO("client_idle_timeout"),
	TODO("transaction_timeout"),
};
const size_t cfg_user_nkeys = ARRAY_SIZE(cfg_user_keys);

/* [peers] values: PgBouncer's three; host is required (config.c checks). */
const struct cfg_key cfg_peer_keys[] = {
	STR("host", P(host), NULL, true),
	INT("port", P(port), 1, 65535, NULL, true),
	INT("pool_size", P(pool_size), 1, INT_MAX, NULL, true),
};
const size_t cfg_peer_nkeys = ARRAY_SIZE(cfg_peer_keys);

struct unit {
	const char *name;
	double mult;
};

static const struct unit second_units[] = {
	{ "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "min", 60 }, { "h", 3600 }, { "d", 86400 }, { NULL, 0 },
};
static const struct unit byte_units[] = {
	{ "", 1 }, { "B", 1 }, { "kB", 1024 }, { "MB", 1024.0 * 1024 },
	{ "GB", 1024.0 * 1024 * 1024 }, { NULL, 0 },
};

const struct cfg_key *cfg_key_find(const struct cfg_key *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

const char *cfg_enum_name(const struct cfg_enum *e, int value)
{
	for (; e->name; e++)
		if (!e->unsupported && e->value == value)
			return e->name;
	return NULL;
}

char *cfg_resolve_path(const char *dir, const char *path)
{
	char *out;
	if (path[0] == '/' || !dir || !*dir)
		return strdup(path);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		return NULL;
	return out;
}

static const struct unit *find_unit(const struct unit *u, const char *s)
{
	for (; u->name; u++)
		if (strcasecmp(u->name, s) == 0)
			return u;
	return NULL;
}

/*
 * "<digits>[.<digits>] [unit]" -> number * unit multiplier. Only plain
 * decimal: no sign, exponent, hex, inf or nan.
 */
static bool parse_number_unit(const char *s, const struct unit *units, bool fraction,
			      double *out)
{
	const char *p = s;
	size_t digits = 0;
	char num[64];

	while (*p >= '0' && *p <= '9') p++, digits++;
	if (fraction && *p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') p++, digits++;
	}
	if (digits == 0 || (size_t)(p - s) >= sizeof num)
		return false;
	memcpy(num, s, (size_t)(p - s));
	num[p - s] = 0;
	while (*p == ' ' || *p == '\t') p++;
	const struct unit *u = find_unit(units, p);
	if (!u)
		return false;
	*out = strtod(num, NULL) * u->mult;
	return isfinite(*out);
}

static bool parse_int(const char *s, long long *out)
{
	char *end;
	if (!*s || *s == ' ' || *s == '\t')
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == 0;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) { *out = true; return true; }
		if (strcasecmp(s, no[i]) == 0) { *out = false; return true; }
	}
	return false;
}

static bool set_enum(const struct cfg_key *k, int *field, const char *s, char *why, size_t whylen)
{
	const struct cfg_enum *e;
	size_t n;

	for (e = k->enums; e->name; e++) {
		if (strcasecmp(e->name, s) != 0)
			continue;
		if (e->unsupported) {
			snprintf(why, whylen, "\"%s\" is not supported yet", s);
			return false;
		}
		*field = e->value;
		return true;
	}
	n = (size_t)snprintf(why, whylen, "\"%s\" is not one of:", s);
	for (e = k->enums; e->name && n < whylen; e++)
		if (!e->unsupported)
			n += (size_t)snprintf(why + n, whylen - n, "%s %s", e == k->enums ? "" : ",", e->name);
	return false;
}

static bool set_string(char **field, const char *s, bool path, const char *dir)
{
	char *v = NULL;
	if (!path)
		v = strdup(s);
	else if (*s)
		v = cfg_resolve_path(dir, s);
	if (!v && (!path || *s))
		return false;
	free(*field);
	*field = v;
	return true;
}

bool cfg_key_set(const struct cfg_key *k, void *base, const char *value, const char *dir,
		 char *why, size_t whylen)
{
	void *field = (char *)base + k->offset;
	long long n = 0;
	double d;
	bool b;

	switch (k->type) {
	case CFG_INT:
		if (!parse_int(value, &n)) {
			snprintf(why, whylen, "\"%s\" is not an integer", value);
			return false;
		}
		break;
	case CFG_BYTES:
		if (!parse_number_unit(value, byte_units, false, &d) || d > (double)LLONG_MAX / 2) {
			snprintf(why, whylen, "\"%s\" is not a size in bytes (units: B, kB, MB, GB)", value);
			return false;
		}
		n = (long long)d;
		break;
	case CFG_SECONDS:
		if (!parse_number_unit(value, second_units, true, &d)) {
			snprintf(why, whylen, "\"%s\" is not a number of seconds (units: ms, s, min, h, d)",
				 value);
			return false;
		}
		if (d < (double)k->min || d > (double)k->max) {
			snprintf(why, whylen, "%s is out of range (%lld..%lld seconds)", value, k->min, k->max);
			return false;
		}
		*(double *)field = d;
		return true;
	case CFG_BOOL:
		if (!parse_bool(value, &b)) {
			snprintf(why, whylen, "\"%s\" is not a boolean (on/off, yes/no, true/false, 1/0)", value);
			return false;
		}
		*(int *)field = b;
		return true;
	case CFG_ENUM:
		return set_enum(k, field, value, why, whylen);
	case CFG_STRING:
	case CFG_PATH:
		if (!set_string(field, value, k->type == CFG_PATH, dir)) {
			snprintf(why, whylen, "out of memory");
			return false;
		}
		return true;
	case CFG_UNSUPPORTED:
		snprintf(why, whylen, "is not supported yet");
		return false;
	}
	/* CFG_INT and CFG_BYTES: n holds the value */
	if (n < k->min || n > k->max) {
		snprintf(why, whylen, "%s is out of range (%lld..%lld)", value, k->min, k->max);
		return false;
	}
	*(int *)field = (int)n;
	return true;
}

static void set_unset(const struct cfg_key *k, void *base)
{
	void *field = (char *)base + k->offset;
	switch (k->type) {
	case CFG_INT: case CFG_ENUM: case CFG_BYTES: *(int *)field = -1; break;
	case CFG_SECONDS: *(double *)field = -1; break;
	case CFG_BOOL: *(int *)field = 0; break;
	case CFG_STRING: case CFG_PATH: *(char **)field = NULL; break;
	case CFG_UNSUPPORTED: break;
	}
}

bool cfg_keys_init(const struct cfg_key *tab, size_t n, void *base, char *why, size_t whylen)
{
	char reason[200];
	for (size_t i = 0; i < n; i++) {
		if (tab[i].type == CFG_UNSUPPORTED)
			continue;
		set_unset(&tab[i], base);
		if (tab[i].def && !cfg_key_set(&tab[i], base, tab[i].def, NULL, reason, sizeof reason)) {
			snprintf(why, whylen, "%s: default: %s", tab[i].name, reason);
			return false;
		}
	}
	return true;
}

bool cfg_key_equal(const struct cfg_key *k, const void *a, const void *b)
{
	const void *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
	const char *sa, *sb;

	switch (k->type) {
	case CFG_INT: case CFG_ENUM: case CFG_BYTES: case CFG_BOOL:
		return *(const int *)fa == *(const int *)fb;
	case CFG_SECONDS:
		return *(const double *)fa == *(const double *)fb;
	case CFG_STRING: case CFG_PATH:
		sa = *(char *const *)fa;
		sb = *(char *const *)fb;
		return (sa && sb) ? strcmp(sa, sb) == 0 : sa == sb;
	case CFG_UNSUPPORTED:
		break;
	}
	return true;
}

static bool is_string(const struct cfg_key *k)
{
	return k->type == CFG_STRING || k->type == CFG_PATH;
}

/* Every string field is cut from src before any is copied: a failure half
 * way leaves dst owning copies and NULLs only, never src's strings. */
bool cfg_keys_copy(const struct cfg_key *tab, size_t n, void *dst, const void *src)
{
	for (size_t i = 0; i < n; i++)
		if (is_string(&tab[i]))
			*(char **)((char *)dst + tab[i].offset) = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!is_string(&tab[i]))
			continue;
		const char *s = *(char *const *)((const char *)src + tab[i].offset);
		char **field = (char **)((char *)dst + tab[i].offset);
		if (s && !(*field = strdup(s)))
			return false;
	}
	return true;
}

char *cfg_key_text(const struct cfg_key *k, const void *base)
{
	const char *field = (const char *)base + k->offset;
	const char *s = "";
	char num[64];
	switch (k->type) {
	case CFG_INT:
	case CFG_BYTES:
		snprintf(num, sizeof num, "%d", *(const int *)field);
		s = num;
		break;
	case CFG_BOOL:
		s = *(const int *)field ? "1" : "0";
		break;
	case CFG_ENUM:
		s = cfg_enum_name(k->enums, *(const int *)field);
		break;
	case CFG_SECONDS:
		snprintf(num, sizeof num, "%g", *(const double *)field);
		s = num;
		break;
	case CFG_STRING:
	case CFG_PATH:
		s = *(const char *const *)field;
		break;
	case CFG_UNSUPPORTED:
		break;
	}
	return strdup(s ? s : "");
}

void cfg_keys_free(const struct cfg_key *tab, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		if (tab[i].type != CFG_STRING && tab[i].type != CFG_PATH)
			continue;
		char **field = (char **)((char *)base + tab[i].offset);
		free(*field);
		*field = NULL;
	}
}

static bool PRINTF(3, 4) say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

/* The cluster keys name SQL objects and values sluice puts into its
 * queries: a plain identifier for the schema (it is spliced into the
 * SQL), printable text for the rest (sent as parameters). */
bool cfg_check_cluster(const struct config *cfg, char *err, size_t errlen)
{
	const char *s = cfg->cluster_schema, *n = cfg->cluster_name;
	if (!n || !*n)
		return true;
	if (!cfg->peer_id)
		return say(err, errlen, "%s: cluster_name is set but peer_id is 0: every member of a "
			    "cluster needs its own peer_id", cfg->path);
	for (const char *p = n; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return say(err, errlen, "%s: cluster_name: control characters are not allowed", cfg->path);
	if (strlen(n) > 63)
		return say(err, errlen, "%s: cluster_name: at most 63 bytes", cfg->path);
	size_t len = s ? strlen(s) : 0;
	if (!len || len > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz_0123456789") != len ||
	    (s[0] >= '0' && s[0] <= '9'))
		return say(err, errlen, "%s: cluster_schema: a lower-case SQL identifier of at most 63 "
			    "bytes (letters, digits, _), not \"%s\"", cfg->path, s ? s : "");
	if (cfg->cluster_heartbeat <= 0 || cfg->cluster_member_timeout < 2 * cfg->cluster_heartbeat)
		return say(err, errlen, "%s: cluster_member_timeout (%g s) must be at least twice "
			    "cluster_heartbeat (%g s), which must be over 0", cfg->path,
			    cfg->cluster_member_timeout, cfg->cluster_heartbeat);
	return true;
}
