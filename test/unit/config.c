/*
 * config.c — the ini reader, the key table, [databases] and [users]
 * wiring, pool mode precedence, file loading (auth_file, %include, relative
 * paths) and the shipped examples.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "logcapture.h"
#include "tap.h"

/* ---- helpers ---- */

static const char *render(const struct cfg_key *k, const void *base, char *buf, size_t len)
{
	const void *f = (const char *)base + k->offset;
	const char *s;
	switch (k->type) {
	case CFG_INT: case CFG_BYTES: snprintf(buf, len, "%d", *(const int *)f); break;
	case CFG_SECONDS: snprintf(buf, len, "%g", *(const double *)f); break;
	case CFG_BOOL: snprintf(buf, len, "%s", *(const int *)f ? "on" : "off"); break;
	case CFG_ENUM:
		s = cfg_enum_name(k->enums, *(const int *)f);
		snprintf(buf, len, "%s", s ? s : "?");
		break;
	case CFG_STRING: case CFG_PATH:
		s = *(char *const *)f;
		snprintf(buf, len, "%s", s ? s : "(null)");
		break;
	case CFG_UNSUPPORTED: snprintf(buf, len, "-"); break;
	}
	return buf;
}

static const char *global(const struct config *cfg, const char *key, char *buf, size_t len)
{
	const struct cfg_key *k = cfg_key_find(cfg_global_keys, cfg_global_nkeys, key);
	return k ? render(k, cfg, buf, len) : "no such key";
}

static bool parse(const char *text, struct config **cfg, char *err, size_t errlen)
{
	return config_parse_text(text, strlen(text), "t.ini", cfg, err, errlen);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* ---- defaults ---- */

static const struct { const char *key, *want; } defaults[] = {
	{ "listen_addr", "" }, { "listen_port", "6432" }, { "unix_socket_dir", "/tmp" },
	{ "auth_type", "md5" }, { "auth_file", "(null)" }, { "auth_hba_file", "(null)" },
	{ "auth_user", "" }, { "auth_cache_lifetime", "60" },
	{ "auth_cache_negative_lifetime", "5" }, { "auth_cache_max_entries", "10000" },
	{ "auth_cache_max_bytes", "8388608" }, { "auth_query_max_in_flight", "4" },
	{ "auth_query", "SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1 AND (valuntil IS NULL OR valuntil > pg_catalog.now())" }, { "pool_mode", "session" },
	{ "default_pool_size", "20" }, { "max_client_conn", "100" },
	{ "max_login_clients", "1000" },
	{ "max_db_connections", "0" }, { "server_reset_query", "DISCARD ALL" },
	{ "query_wait_timeout", "120" }, { "client_login_timeout", "60" },
	{ "server_connect_timeout", "15" }, { "logfile", "(null)" }, { "pidfile", "(null)" },
	{ "admin_users", "" }, { "stats_users", "" },
	{ "ignore_startup_parameters", "" }, { "max_packet_size", "1073741824" },
	{ "verbose", "0" }, { "log_connections", "on" }, { "log_disconnections", "on" },
	{ "log_pooler_errors", "on" }, { "log_query_text", "off" },
	{ "log_format", "text" }, { "syslog", "off" },
	{ "syslog_ident", "sluice" }, { "syslog_facility", "daemon" },
	{ "server_reset_query_always", "off" }, { "server_lifetime", "3600" },
	{ "server_idle_timeout", "600" }, { "server_login_retry", "15" },
	{ "query_timeout", "0" }, { "client_idle_timeout", "0" },
	{ "idle_transaction_timeout", "0" }, { "min_pool_size", "0" },
	{ "reserve_pool_size", "0" }, { "reserve_pool_timeout", "5" },
	{ "autodb_idle_timeout", "3600" },
	{ "max_user_connections", "0" }, { "server_check_query", "select 1" },
	{ "server_check_delay", "30" }, { "track_extra_parameters", "" },
	{ "max_prepared_statements", "200" }, { "max_client_prepared_statements", "10000" },
	{ "max_client_prepared_bytes", "67108864" },
	{ "transaction_session_state", "warn" }, { "max_pinned_servers", "0" },
	{ "stats_period", "60" }, { "stats_legacy_columns", "off" }, { "metrics_listen", "" },
	{ "client_tls_sslmode", "disable" }, { "client_tls_key_file", "(null)" },
	{ "client_tls_cert_file", "(null)" }, { "client_tls_ca_file", "(null)" },
	{ "client_tls_protocols", "secure" }, { "client_tls_ciphers", "default" },
	{ "client_tls13_ciphers", "default" }, { "server_tls_sslmode", "prefer" },
	{ "server_tls_ca_file", "(null)" }, { "server_tls_key_file", "(null)" },
	{ "server_tls_cert_file", "(null)" }, { "server_tls_protocols", "secure" },
	{ "server_tls_ciphers", "default" }, { "server_tls13_ciphers", "default" },
	{ "so_reuseport", "off" }, { "tcp_defer_accept", "on" }, { "gate_drain_timeout", "30" }, { "gate_drain_policy", "reopen" },
	{ "gate_bypass_users", "" }, { "gate_bypass_application_names", "" }, { "gate_auto", "off" },
	{ "gate_resume_reset", "discard" }, { "gate_hold_timeout", "60" }, { "gate_max_pause", "300" },
	{ "peer_id", "0" },
	{ "cluster_name", "" }, { "cluster_dsn", "" }, { "cluster_schema", "sluice_cluster" },
	{ "cluster_address", "" }, { "cluster_member_timeout", "10" }, { "cluster_heartbeat", "1" },
};

static void test_defaults(void)
{
	struct config *cfg;
	char err[512], buf[256];
	size_t nsupported = 0;

	ok(parse("", &cfg, err, sizeof err), "empty text parses");
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		is_str(global(cfg, defaults[i].key, buf, sizeof buf), defaults[i].want, defaults[i].key);
	for (size_t i = 0; i < cfg_global_nkeys; i++)
		nsupported += cfg_global_keys[i].type != CFG_UNSUPPORTED;
	is_int(nsupported, ARRAY_SIZE(defaults), "every supported key has a default checked here");
	is_int(cfg->ndbs, 0, "no databases");
	ok(cfg->fallback == NULL && config_find_db(cfg, "x") == NULL, "no fallback");
	ok(cfg->users && cfg->users->n == 0, "users is an empty list, not NULL");
	ok(cfg->nuser_settings == 0 && cfg->user_settings == NULL, "no [users] entries");
	ok(config_find_user(cfg, "alice") == NULL && config_find_user(cfg, NULL) == NULL,
	   "config_find_user: nothing to find");
	is_int(config_max_user_connections(cfg, "alice"), 0, "max_user_connections: global 0");
	is_int(config_pool_mode_for(cfg, NULL, NULL), POOL_SESSION, "pool mode: global session");
	is_str(cfg->dir, ".", "dir of a bare name is .");
	config_free(cfg);
	config_free(NULL);
}

/* ---- values that parse ---- */

static const struct { const char *line, *key, *want; } values[] = {
	{ "listen_port = 7000", "listen_port", "7000" },
	{ "LISTEN_PORT=7001", "listen_port", "7001" },
	{ "  listen_port   =   7002  \r", "listen_port", "7002" },
	{ "listen_port = 65535", "listen_port", "65535" },
	{ "listen_addr = *", "listen_addr", "*" },
	{ "listen_addr = 127.0.0.1, ::1", "listen_addr", "127.0.0.1, ::1" },
	{ "unix_socket_dir =", "unix_socket_dir", "" },
	{ "auth_type = TRUST", "auth_type", "trust" },
	{ "auth_type = plain", "auth_type", "plain" },
	{ "auth_type = scram-sha-256", "auth_type", "scram-sha-256" },
	{ "pool_mode = transaction", "pool_mode", "transaction" },
	{ "pool_mode = Statement", "pool_mode", "statement" },
	{ "default_pool_size = 1", "default_pool_size", "1" },
	{ "max_client_conn = 10000", "max_client_conn", "10000" },
	{ "max_db_connections = 50", "max_db_connections", "50" },
	{ "server_reset_query = DISCARD ALL; SELECT 1 -- no ; comments", "server_reset_query",
	  "DISCARD ALL; SELECT 1 -- no ; comments" },
	{ "server_reset_query =", "server_reset_query", "" },
	{ "query_wait_timeout = 0", "query_wait_timeout", "0" },
	{ "query_wait_timeout = 0.5", "query_wait_timeout", "0.5" },
	{ "query_wait_timeout = 250ms", "query_wait_timeout", "0.25" },
	{ "query_wait_timeout = 2 min", "query_wait_timeout", "120" },
	{ "client_login_timeout = 1h", "client_login_timeout", "3600" },
	{ "server_connect_timeout = 1d", "server_connect_timeout", "86400" },
	{ "server_connect_timeout = 3s", "server_connect_timeout", "3" },
	{ "auth_file = users.txt", "auth_file", "/etc/sluice/users.txt" },
	{ "auth_file = /srv/users.txt", "auth_file", "/srv/users.txt" },
	{ "auth_file =", "auth_file", "(null)" },
	{ "logfile = log/sluice.log", "logfile", "/etc/sluice/log/sluice.log" },
	{ "pidfile = /run/sluice.pid", "pidfile", "/run/sluice.pid" },
	{ "admin_users = alice, bob", "admin_users", "alice, bob" },
	{ "stats_users = carol", "stats_users", "carol" },
	{ "ignore_startup_parameters = extra_float_digits", "ignore_startup_parameters",
	  "extra_float_digits" },
	{ "max_packet_size = 1024", "max_packet_size", "1024" },
	{ "max_packet_size = 64kB", "max_packet_size", "65536" },
	{ "max_packet_size = 16 MB", "max_packet_size", "16777216" },
	{ "max_packet_size = 2147483647", "max_packet_size", "2147483647" },
	{ "verbose = 2", "verbose", "2" },
	{ "server_reset_query_always = 1", "server_reset_query_always", "on" },
	{ "server_reset_query_always = yes", "server_reset_query_always", "on" },
	{ "server_reset_query_always = Off", "server_reset_query_always", "off" },
	{ "server_lifetime = 0", "server_lifetime", "0" },
	{ "server_lifetime = 1h", "server_lifetime", "3600" },
	{ "server_lifetime = 90.5", "server_lifetime", "90.5" },
	{ "server_idle_timeout = 30s", "server_idle_timeout", "30" },
	{ "server_idle_timeout = 0", "server_idle_timeout", "0" },
	{ "server_login_retry = 500ms", "server_login_retry", "0.5" },
	{ "query_timeout = 30", "query_timeout", "30" },
	{ "client_idle_timeout = 2 min", "client_idle_timeout", "120" },
	{ "idle_transaction_timeout = 1d", "idle_transaction_timeout", "86400" },
	{ "min_pool_size = 5", "min_pool_size", "5" },
	{ "reserve_pool_size = 3", "reserve_pool_size", "3" },
	{ "reserve_pool_timeout = 0.25", "reserve_pool_timeout", "0.25" },
	{ "reserve_pool_timeout = 0", "reserve_pool_timeout", "0" },
	{ "max_user_connections = 50", "max_user_connections", "50" },
	{ "server_check_query =", "server_check_query", "" },
	{ "server_check_query = SELECT 1; -- alive?", "server_check_query", "SELECT 1; -- alive?" },
	{ "server_check_delay = 0", "server_check_delay", "0" },
	{ "server_check_delay = 10s", "server_check_delay", "10" },
	{ "track_extra_parameters = search_path, IntervalStyle", "track_extra_parameters",
	  "search_path, IntervalStyle" },
	{ "max_prepared_statements = 0", "max_prepared_statements", "0" },
	{ "max_prepared_statements = 1000", "max_prepared_statements", "1000" },
};

static void test_values(void)
{
	char text[512], err[512], buf[256], name[600];
	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		struct config *cfg = NULL;
		snprintf(text, sizeof text, "[sluice]\n%s\n", values[i].line);
		snprintf(name, sizeof name, "value: %s", values[i].line);
		bool okay = config_parse_text(text, strlen(text), "/etc/sluice/sluice.ini", &cfg,
					      err, sizeof err);
		if (!ok(okay, "%s parses", name)) {
			diag("%s", err);
			continue;
		}
		is_str(global(cfg, values[i].key, buf, sizeof buf), values[i].want, name);
		config_free(cfg);
	}
}

/* ---- errors: exact messages ---- */

static const struct { const char *text, *err; } errors[] = {
	{ "[sluice]\ncluster_name = c\n",
	  "t.ini: cluster_name is set but peer_id is 0: every member of a cluster needs its own peer_id" },
	{ "[sluice]\ncluster_name = c\npeer_id = 1\ncluster_schema = Bad\n",
	  "t.ini: cluster_schema: a lower-case SQL identifier of at most 63 bytes (letters, digits, _), not \"Bad\"" },
	{ "[sluice]\ncluster_name = c\npeer_id = 1\ncluster_schema = x; DROP TABLE t\n",
	  "t.ini: cluster_schema: a lower-case SQL identifier of at most 63 bytes (letters, digits, _), "
	  "not \"x; DROP TABLE t\"" },
	{ "[sluice]\ncluster_name = c\npeer_id = 1\ncluster_heartbeat = 6\n",
	  "t.ini: cluster_member_timeout (10 s) must be at least twice cluster_heartbeat (6 s), which must be over 0" },
	{ "listen_port = 1\n", "t.ini:1: listen_port: key outside of any section" },
	{ "[sluice]\nlisten_port\n", "t.ini:2: expected \"key = value\" or \"[section]\"" },
	{ "[sluice\n", "t.ini:1: unterminated section header" },
	{ "[sluice] junk\n", "t.ini:1: unexpected text after section header" },
	{ "[sluice]\n = 5\n", "t.ini:2: missing key before \"=\"" },
	{ "%include\n", "t.ini:1: %include: missing file name" },
	{ "%include other.ini\n", "t.ini:1: %include: not available when parsing from memory" },
	{ "%define x 1\n", "t.ini:1: unknown directive" },
	{ "[sluice]\n\ndefault_pool_size = abc\n", "t.ini:3: default_pool_size: \"abc\" is not an integer" },
	{ "[sluice]\ndefault_pool_size =\n", "t.ini:2: default_pool_size: \"\" is not an integer" },
	{ "[sluice]\ndefault_pool_size = 12x\n", "t.ini:2: default_pool_size: \"12x\" is not an integer" },
	{ "[sluice]\ndefault_pool_size = 0\n", "t.ini:2: default_pool_size: 0 is out of range (1..2147483647)" },
	{ "[sluice]\ndefault_pool_size = 2147483648\n",
	  "t.ini:2: default_pool_size: 2147483648 is out of range (1..2147483647)" },
	{ "[sluice]\nlisten_port = 99999999999999999999\n",
	  "t.ini:2: listen_port: \"99999999999999999999\" is not an integer" },
	{ "[pgbouncer]\nlisten_port = 0\n", "t.ini:2: listen_port: 0 is out of range (1..65535)" },
	{ "[pgbouncer]\nlisten_port = 65536\n", "t.ini:2: listen_port: 65536 is out of range (1..65535)" },
	{ "[sluice]\nlisten_port = 6432 ; comment\n", "t.ini:2: listen_port: \"6432 ; comment\" is not an integer" },
	{ "[sluice]\nmax_client_conn = -5\n", "t.ini:2: max_client_conn: -5 is out of range (1..2147483647)" },
	{ "[sluice]\nmax_db_connections = -1\n", "t.ini:2: max_db_connections: -1 is out of range (0..2147483647)" },
	{ "[sluice]\nverbose = 10\n", "t.ini:2: verbose: 10 is out of range (0..9)" },
	{ "[sluice]\nauth_type = md4\n",
	  "t.ini:2: auth_type: \"md4\" is not one of: trust, plain, md5, scram-sha-256, hba, cert" },
	{ "[sluice]\nauth_type = pam\n", "t.ini:2: auth_type: \"pam\" is not supported yet" },
	{ "[sluice]\nauth_type = ldap\n", "t.ini:2: auth_type: \"ldap\" is not supported yet" },
	{ "[sluice]\nauth_type = any\n", "t.ini:2: auth_type: \"any\" is not supported yet" },
	{ "[sluice]\npool_mode = sessions\n",
	  "t.ini:2: pool_mode: \"sessions\" is not one of: session, transaction, statement" },
	{ "[sluice]\ntransaction_session_state = sometimes\n",
	  "t.ini:2: transaction_session_state: \"sometimes\" is not one of: allow, warn, refuse, pin" },
	{ "[databases]\nd = transaction_session_state=pinned\n",
	  "t.ini:2: transaction_session_state: \"pinned\" is not one of: allow, warn, refuse, pin" },
	{ "[users]\nu = transaction_session_state=\n",
	  "t.ini:2: transaction_session_state: \"\" is not one of: allow, warn, refuse, pin" },
	{ "[sluice]\nmax_pinned_servers = -1\n",
	  "t.ini:2: max_pinned_servers: -1 is out of range (0..2147483647)" },
	{ "[sluice]\nquery_wait_timeout = -1\n",
	  "t.ini:2: query_wait_timeout: \"-1\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nquery_wait_timeout = 1e3\n",
	  "t.ini:2: query_wait_timeout: \"1e3\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nquery_wait_timeout = nan\n",
	  "t.ini:2: query_wait_timeout: \"nan\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nclient_login_timeout = 10 years\n",
	  "t.ini:2: client_login_timeout: \"10 years\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nclient_login_timeout = .\n",
	  "t.ini:2: client_login_timeout: \".\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nserver_connect_timeout = 100000d\n",
	  "t.ini:2: server_connect_timeout: 100000d is out of range (0..2147483647 seconds)" },
	{ "[sluice]\nmax_packet_size = 1000\n",
	  "t.ini:2: max_packet_size: 1000 is out of range (1024..2147483647)" },
	{ "[sluice]\nmax_packet_size = 2GB\n",
	  "t.ini:2: max_packet_size: 2GB is out of range (1024..2147483647)" },
	{ "[sluice]\nmax_packet_size = 1.5MB\n",
	  "t.ini:2: max_packet_size: \"1.5MB\" is not a size in bytes (units: B, kB, MB, GB)" },
	{ "[sluice]\nserver_reset_query_always = maybe\n",
	  "t.ini:2: server_reset_query_always: \"maybe\" is not a boolean (on/off, yes/no, true/false, 1/0)" },
	{ "[sluice]\nserver_reset_query_always = 2\n",
	  "t.ini:2: server_reset_query_always: \"2\" is not a boolean (on/off, yes/no, true/false, 1/0)" },
	{ "[sluice]\nserver_lifetime = -1\n",
	  "t.ini:2: server_lifetime: \"-1\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nserver_idle_timeout = forever\n",
	  "t.ini:2: server_idle_timeout: \"forever\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\n\nserver_login_retry = 15 sec\n",
	  "t.ini:3: server_login_retry: \"15 sec\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nquery_timeout = 1e2\n",
	  "t.ini:2: query_timeout: \"1e2\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nclient_idle_timeout = 100000d\n",
	  "t.ini:2: client_idle_timeout: 100000d is out of range (0..2147483647 seconds)" },
	{ "[sluice]\nidle_transaction_timeout =\n",
	  "t.ini:2: idle_transaction_timeout: \"\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nmin_pool_size = -1\n", "t.ini:2: min_pool_size: -1 is out of range (0..2147483647)" },
	{ "[sluice]\nmin_pool_size = five\n", "t.ini:2: min_pool_size: \"five\" is not an integer" },
	{ "[sluice]\nreserve_pool_size = -2\n",
	  "t.ini:2: reserve_pool_size: -2 is out of range (0..2147483647)" },
	{ "[sluice]\nreserve_pool_timeout = -0.5\n",
	  "t.ini:2: reserve_pool_timeout: \"-0.5\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nmax_user_connections = -1\n",
	  "t.ini:2: max_user_connections: -1 is out of range (0..2147483647)" },
	{ "[sluice]\nmax_user_connections = 1.5\n",
	  "t.ini:2: max_user_connections: \"1.5\" is not an integer" },
	{ "[sluice]\nserver_check_delay = 30 seconds\n",
	  "t.ini:2: server_check_delay: \"30 seconds\" is not a number of seconds (units: ms, s, min, h, d)" },
	{ "[sluice]\nmax_prepared_statements = -1\n",
	  "t.ini:2: max_prepared_statements: -1 is out of range (0..2147483647)" },
	{ "[sluice]\nmax_prepared_statements = 2147483648\n",
	  "t.ini:2: max_prepared_statements: 2147483648 is out of range (0..2147483647)" },
	{ "[databases]\nappdb = pool_size=abc\n", "t.ini:2: pool_size: \"abc\" is not an integer" },
	{ "[databases]\nappdb = pool_size=\n", "t.ini:2: pool_size: \"\" is not an integer" },
	{ "[databases]\nappdb = port=0\n", "t.ini:2: port: 0 is out of range (1..65535)" },
	{ "[databases]\nappdb = max_db_connections=-2\n",
	  "t.ini:2: max_db_connections: -2 is out of range (0..2147483647)" },
	{ "[databases]\nappdb = pool_mode=fast\n",
	  "t.ini:2: pool_mode: \"fast\" is not one of: session, transaction, statement" },
	{ "[databases]\nappdb = host=x bogus=1\n", "t.ini:2: bogus: unknown database parameter" },
	{ "[databases]\nappdb = min_pool_size=-1\n", "t.ini:2: min_pool_size: -1 is out of range (0..2147483647)" },
	{ "[databases]\nappdb = min_pool_size=lots\n", "t.ini:2: min_pool_size: \"lots\" is not an integer" },
	{ "[databases]\nappdb = reserve_pool=abc\n", "t.ini:2: reserve_pool: \"abc\" is not an integer" },
	{ "[databases]\nappdb = reserve_pool_size=-3\n",
	  "t.ini:2: reserve_pool_size: -3 is out of range (0..2147483647)" },
	{ "[users]\nalice = bogus=1\n", "t.ini:2: bogus: unknown user parameter" },
	{ "[users]\nalice = pool_mode=session host=x\n", "t.ini:2: host: unknown user parameter" },
	{ "[users]\n\nalice = pool_mode=fast\n",
	  "t.ini:3: pool_mode: \"fast\" is not one of: session, transaction, statement" },
	{ "[users]\nalice = max_user_connections=abc\n",
	  "t.ini:2: max_user_connections: \"abc\" is not an integer" },
	{ "[users]\nalice = max_user_connections=\n",
	  "t.ini:2: max_user_connections: \"\" is not an integer" },
	{ "[users]\nalice = max_user_connections=-1\n",
	  "t.ini:2: max_user_connections: -1 is out of range (0..2147483647)" },
	{ "[users]\nalice = pool_mode\n", "t.ini:2: alice: expected \"=\" after \"pool_mode\"" },
	{ "[users]\nalice = pool_mode='transaction\n", "t.ini:2: pool_mode: unterminated quoted value" },
	{ "[users]\nalice = pool_mode=session\n\nalice = max_user_connections=1\n",
	  "t.ini:4: alice: user defined twice (first on line 2)" },
	{ "[users]\nalice =\n[databases]\nalice = \n[users]\nalice = pool_mode=statement\n",
	  "t.ini:6: alice: user defined twice (first on line 2)" },
	{ "[databases]\nappdb = host\n", "t.ini:2: appdb: expected \"=\" after \"host\"" },
	{ "[databases]\nappdb = password='abc\n", "t.ini:2: password: unterminated quoted value" },
	{ "[databases]\nappdb = host=x\n\nappdb = host=y\n",
	  "t.ini:4: appdb: database defined twice (first on line 2)" },
	{ "[sluice]\nlisten_port = 1\n[databases]\n* = \n* = port=1\n",
	  "t.ini:5: *: database defined twice (first on line 4)" },
};

static void test_errors(void)
{
	char err[512];
	for (size_t i = 0; i < ARRAY_SIZE(errors); i++) {
		struct config *cfg = (struct config *)1;
		err[0] = 0;
		bool okay = parse(errors[i].text, &cfg, err, sizeof err);
		ok(!okay && cfg == NULL, "fails: %s", errors[i].err);
		is_str(err, errors[i].err, "  message");
		config_free(okay ? cfg : NULL);
	}
	/* a NUL byte is an error, not the end of the file */
	static const char nul[] = "[sluice]\nlisten_addr = a\0b\nlisten_port = 1\n";
	struct config *cfg;
	ok(!config_parse_text(nul, sizeof nul - 1, "t.ini", &cfg, err, sizeof err), "NUL byte fails");
	is_str(err, "t.ini:2: NUL byte in line", "  message names the line");
}

/* ---- syntax that is accepted ---- */

static void test_syntax(void)
{
	static const char text[] =
		"\xef\xbb\xbf# comment\r\n"
		"; comment\n"
		"   ; indented comment\n"
		"\n"
		"[ Sluice ]  ; trailing comment\r\n"
		"#listen_port = 1\n"
		"listen_port = 1111\r\n"
		"[pgbouncer]\n"
		"listen_port = 2222\n"     /* same keys: the later line wins */
		"[databases]\n"
		"eq = dbname=a=b\n";
	struct config *cfg;
	char err[512], buf[64];
	bool okay = parse(text, &cfg, err, sizeof err);
	if (!ok(okay, "BOM, CRLF, comments, section case and spacing")) {
		diag("%s", err);
		return;
	}
	is_str(global(cfg, "listen_port", buf, sizeof buf), "2222", "[pgbouncer] after [sluice]: last wins");
	is_str(cfg->dbs[0].dbname, "a=b", "first = splits key from value");
	config_free(cfg);
}

/* ---- warnings do not fail ---- */

static const struct { const char *text, *warning; } warnings[] = {
	{ "[sluice]\nfrobnicate = 1\n", "t.ini:2: unknown key \"frobnicate\", ignored" },
	{ "[sluice]\nserver_fast_close = 1\n", "t.ini:2: server_fast_close is not supported yet, ignored" },
	{ "[sluice]\ntransaction_timeout = 5\n", "t.ini:2: transaction_timeout is not supported yet, ignored" },
	{ "[pgbouncer]\n\nTCP_KEEPALIVE = 1\n", "t.ini:3: tcp_keepalive is not supported yet, ignored" },
	{ "[sluice]\nclient_tls_ecdhcurve = auto\n", "t.ini:2: client_tls_ecdhcurve is not supported yet, ignored" },
	{ "[peers]\n1 = host=x\n", "t.ini: [peers] is set but peer_id is 0: cancel requests are not forwarded" },
	{ "[extra]\nx = y\n", "t.ini:1: unknown section [extra], ignored" },
	{ "[databases]\nappdb = client_encoding=UTF8 host=x\n",
	  "t.ini:2: appdb: database parameter client_encoding is not supported yet, ignored" },
	{ "[databases]\nappdb = connect_query='SELECT 1'\n",
	  "t.ini:2: appdb: database parameter connect_query is not supported yet, ignored" },
	{ "[users]\n\nalice = pool_mode=session query_timeout=5\n",
	  "t.ini:3: alice: user parameter query_timeout is not supported yet, ignored" },
	{ "[users]\nbob = max_user_client_connections=5\n",
	  "t.ini:2: bob: user parameter max_user_client_connections is not supported yet, ignored" },
	{ "[sluice]\nauth_type = md5\n", "t.ini: auth_type = md5 but no auth_file is set" },
	{ "[sluice]\nauth_type = trust\ngate_bypass_application_names = migrator\n",
	  "t.ini: gate_bypass_application_names is set but gate_bypass_users is empty: it has no effect" },
};

static void test_warnings(void)
{
	char err[512];
	for (size_t i = 0; i < ARRAY_SIZE(warnings); i++) {
		struct config *cfg;
		log_capture_start();
		bool okay = parse(warnings[i].text, &cfg, err, sizeof err);
		char *out = log_capture_end();
		ok(okay, "loads despite: %s", warnings[i].warning);
		if (!ok(strstr(out, warnings[i].warning) != NULL, "  warning logged"))
			diag("stderr: %s", out);
		free(out);
		if (okay)
			config_free(cfg);
	}
	/* auth_type = trust needs no auth_file: no warning at all */
	struct config *cfg;
	log_capture_start();
	bool okay = parse("[sluice]\nauth_type = trust\n", &cfg, err, sizeof err);
	char *out = log_capture_end();
	ok(okay && *out == 0, "trust without auth_file: silent");
	free(out);
	if (okay)
		config_free(cfg);
	/* [users] is read now, not skipped with a warning; nor are the new keys */
	log_capture_start();
	okay = parse("[sluice]\nauth_type = trust\nserver_lifetime = 60\nmin_pool_size = 2\n"
		     "[users]\nalice = pool_mode=transaction\n"
		     "[databases]\nappdb = min_pool_size=1 reserve_pool=2\n", &cfg, err, sizeof err);
	out = log_capture_end();
	if (!ok(okay && *out == 0, "[users], new keys, min_pool_size/reserve_pool: silent"))
		diag("%s / stderr: %s", okay ? "" : err, out);
	free(out);
	if (okay)
		config_free(cfg);
}

/* ---- [databases] ---- */

static void test_databases(void)
{
	static const char text[] =
		"[databases]\n"
		"appdb = host=127.0.0.1 port=5432 dbname=app\n"
		"q = host='/var/run/postgresql' user=bob password='it\\'s a \\\\ secret' "
		"pool_size=5 pool_mode=transaction max_db_connections=7\n"
		"empty =\n"
		"* = host=fallback.example port=6543\n"
		"[sluice]\n"
		"default_pool_size = 11\n"
		"pool_mode = statement\n";
	struct config *cfg;
	char err[512];
	const struct db_entry *db;

	if (!ok(parse(text, &cfg, err, sizeof err), "[databases] parses")) {
		diag("%s", err);
		return;
	}
	is_int(cfg->ndbs, 4, "four entries");
	db = config_find_db(cfg, "appdb");
	ok(db && strcmp(db->name, "appdb") == 0, "find appdb");
	is_str(db->host, "127.0.0.1", "  host");
	is_int(db->port, 5432, "  port");
	is_str(db->dbname, "app", "  dbname");
	ok(db->user == NULL && db->password == NULL, "  user, password unset");
	is_int(db->line, 2, "  line");
	is_int(config_db_pool_size(cfg, db), 11, "  pool size from default_pool_size");
	is_int(config_db_pool_mode(cfg, db), POOL_STATEMENT, "  pool mode from pool_mode");
	db = config_find_db(cfg, "q");
	is_str(db->host, "/var/run/postgresql", "quoted host");
	is_str(db->user, "bob", "  user");
	is_str(db->password, "it's a \\ secret", "  \\' and \\\\ in quotes");
	is_int(config_db_pool_size(cfg, db), 5, "  pool_size");
	is_int(config_db_pool_mode(cfg, db), POOL_TRANSACTION, "  pool_mode");
	is_int(db->max_db_connections, 7, "  max_db_connections");
	db = config_find_db(cfg, "empty");
	ok(db && !db->host && db->port == -1 && db->pool_size == -1 && db->pool_mode == -1 &&
	   db->max_db_connections == -1 && !db->dbname, "empty entry: everything unset");
	ok(cfg->fallback && strcmp(cfg->fallback->name, "*") == 0, "fallback is *");
	ok(config_find_db(cfg, "other") == cfg->fallback, "unknown name -> fallback");
	ok(config_find_db(cfg, "APPDB") == cfg->fallback, "names are case-sensitive");
	is_str(cfg->fallback->host, "fallback.example", "  fallback host");
	is_int(cfg->fallback->port, 6543, "  fallback port");
	is_int(config_db_pool_size(cfg, NULL), 11, "pool size for NULL entry");
	is_int(config_db_pool_mode(cfg, NULL), POOL_STATEMENT, "pool mode for NULL entry");
	/* the console's names are never the fallback's (issue 14, item 12) */
	ok(config_find_db(cfg, "pgbouncer") == NULL, "pgbouncer: not the fallback's");
	ok(config_find_db(cfg, "sluice") == NULL, "sluice: not the fallback's");
	ok(config_find_db(cfg, "Sluice") == cfg->fallback, "  only those exact names");
	ok(config_db_auto(cfg, "other") && !config_db_auto(cfg, "appdb"),
	   "config_db_auto: the fallback's names, not listed ones");
	config_free(cfg);
	if (!ok(parse("[databases]\npgbouncer = host=h\n* = host=f\n", &cfg, err, sizeof err),
		"a listed pgbouncer entry parses")) {
		diag("%s", err);
		return;
	}
	db = config_find_db(cfg, "pgbouncer");
	ok(db && !strcmp(db->name, "pgbouncer"), "  a listed entry takes the name from the console");
	ok(config_find_db(cfg, "sluice") == NULL, "  sluice stays the console's");
	config_free(cfg);
}

static void test_db_pool_limits(void)
{
	static const char text[] =
		"[databases]\n"
		"a = min_pool_size=3 reserve_pool=4\n"
		"b = min_pool_size=0 reserve_pool_size=0\n"
		"c = reserve_pool=1 reserve_pool_size=9\n"  /* one field, two names: last wins */
		"d =\n"
		"[sluice]\n"
		"min_pool_size = 2\n"
		"reserve_pool_size = 5\n";
	struct config *cfg;
	char err[512];
	const struct db_entry *db;

	if (!ok(parse(text, &cfg, err, sizeof err), "min_pool_size and reserve_pool parse")) {
		diag("%s", err);
		return;
	}
	db = config_find_db(cfg, "a");
	is_int(db->min_pool_size, 3, "a: min_pool_size");
	is_int(db->reserve_pool, 4, "a: reserve_pool");
	db = config_find_db(cfg, "b");
	is_int(db->min_pool_size, 0, "b: min_pool_size=0 is set, not unset");
	is_int(db->reserve_pool, 0, "b: reserve_pool_size=0 is set, not unset");
	db = config_find_db(cfg, "c");
	is_int(db->reserve_pool, 9, "c: reserve_pool_size is reserve_pool's other name");
	db = config_find_db(cfg, "d");
	ok(db->min_pool_size == -1 && db->reserve_pool == -1, "d: both unset (-1)");
	is_int(cfg->min_pool_size, 2, "global min_pool_size");
	is_int(cfg->reserve_pool_size, 5, "global reserve_pool_size");
	config_free(cfg);
}

/* ---- [users] ---- */

static void test_users(void)
{
	static const char text[] =
		"[users]\n"
		"alice = pool_mode=transaction max_user_connections=5\n"
		"bob = pool_mode='statement'\n"
		"carol = max_user_connections=0\n"
		"dave =\n"
		"[sluice]\n"
		"max_user_connections = 40\n"
		"[users]\n"
		"Alice = pool_mode=session\n";
	struct config *cfg;
	char err[512];
	const struct user_settings *us;

	if (!ok(parse(text, &cfg, err, sizeof err), "[users] parses")) {
		diag("%s", err);
		return;
	}
	is_int(cfg->nuser_settings, 5, "five entries");
	us = config_find_user(cfg, "alice");
	ok(us && strcmp(us->name, "alice") == 0, "find alice");
	is_int(us->pool_mode, POOL_TRANSACTION, "  pool_mode");
	is_int(us->max_user_connections, 5, "  max_user_connections");
	is_int(us->line, 2, "  line");
	us = config_find_user(cfg, "bob");
	ok(us && us->pool_mode == POOL_STATEMENT && us->max_user_connections == -1,
	   "bob: quoted pool_mode, max_user_connections unset");
	us = config_find_user(cfg, "dave");
	ok(us && us->pool_mode == -1 && us->max_user_connections == -1, "dave: empty value, all unset");
	us = config_find_user(cfg, "Alice");
	ok(us && us->pool_mode == POOL_SESSION && us->line == 9, "names are case-sensitive");
	ok(config_find_user(cfg, "erin") == NULL, "unlisted user: NULL");
	ok(config_find_user(cfg, NULL) == NULL, "NULL user: NULL");

	is_int(config_max_user_connections(cfg, "alice"), 5, "max_user_connections: alice's own");
	is_int(cfg->user_settings[2].max_user_connections, 0, "  carol: 0 is stored");
	is_int(config_max_user_connections(cfg, "carol"), 40, "  carol's 0 means global (as PgBouncer)");
	is_int(config_max_user_connections(cfg, "bob"), 40, "  bob: unset, global");
	is_int(config_max_user_connections(cfg, "erin"), 40, "  unlisted: global");
	is_int(config_max_user_connections(cfg, NULL), 40, "  NULL user: global");
	config_free(cfg);
}

/* pool mode: [users] beats [databases] beats global */
static void test_pool_mode_precedence(void)
{
	static const char text[] =
		"[sluice]\n"
		"pool_mode = session\n"
		"[databases]\n"
		"txdb = pool_mode=transaction\n"
		"plain = host=x\n"
		"[users]\n"
		"st = pool_mode=statement\n"
		"se = pool_mode=session\n"
		"nomode = max_user_connections=3\n";
	static const struct { const char *db, *user; int want; } cases[] = {
		{ "plain", "nobody", POOL_SESSION },       /* global */
		{ "plain", NULL, POOL_SESSION },
		{ NULL, NULL, POOL_SESSION },
		{ "txdb", "nobody", POOL_TRANSACTION },     /* database over global */
		{ "txdb", "nomode", POOL_TRANSACTION },     /* user without pool_mode: database */
		{ "txdb", NULL, POOL_TRANSACTION },
		{ "plain", "st", POOL_STATEMENT },          /* user over global */
		{ "txdb", "st", POOL_STATEMENT },           /* user over database */
		{ "txdb", "se", POOL_SESSION },             /* user over database, back to session */
		{ NULL, "st", POOL_STATEMENT },             /* user with no database entry */
	};
	struct config *cfg;
	char err[512];

	if (!ok(parse(text, &cfg, err, sizeof err), "precedence config parses")) {
		diag("%s", err);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct db_entry *db = cases[i].db ? config_find_db(cfg, cases[i].db) : NULL;
		char name[128];
		snprintf(name, sizeof name, "pool mode for db %s, user %s: %s",
			 cases[i].db ? cases[i].db : "(none)", cases[i].user ? cases[i].user : "(none)",
			 config_pool_mode_name(cases[i].want));
		is_int(config_pool_mode_for(cfg, db, cases[i].user), cases[i].want, name);
	}
	config_free(cfg);
}

/* transaction_session_state: [users] over [databases] over the global
 * key; a bad value names file, line and key. */
static void test_state_policy_precedence(void)
{
	static const char text[] =
		"[sluice]\n"
		"transaction_session_state = refuse\n"
		"[databases]\n"
		"pindb = transaction_session_state=pin\n"
		"plain = host=x\n"
		"[users]\n"
		"ok = transaction_session_state=allow\n"
		"w = transaction_session_state=warn pool_mode=transaction\n"
		"other = max_user_connections=3\n";
	static const struct { const char *db, *user; int want; } cases[] = {
		{ "plain", "nobody", STATE_REFUSE },   /* global */
		{ NULL, NULL, STATE_REFUSE },
		{ "pindb", "nobody", STATE_PIN },      /* database over global */
		{ "pindb", "other", STATE_PIN },       /* user without the key: database */
		{ "pindb", "ok", STATE_ALLOW },        /* user over database */
		{ "plain", "w", STATE_WARN },          /* user over global */
	};
	struct config *cfg;
	char err[512];

	if (!ok(parse(text, &cfg, err, sizeof err), "state policy config parses")) {
		diag("%s", err);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct db_entry *db = cases[i].db ? config_find_db(cfg, cases[i].db) : NULL;
		char name[128];
		snprintf(name, sizeof name, "transaction_session_state for db %s, user %s",
			 cases[i].db ? cases[i].db : "(none)", cases[i].user ? cases[i].user : "(none)");
		is_int(config_state_policy_for(cfg, db, cases[i].user), cases[i].want, name);
	}
	config_free(cfg);

}

/* ---- small functions ---- */

static void test_list_and_names(void)
{
	static const struct { const char *list, *name; bool want; } lists[] = {
		{ "alice,bob", "bob", true }, { " alice , bob ", "alice", true },
		{ "alice, bob", "bo", false }, { "alice,bob", "alice,bob", false },
		{ "", "alice", false }, { NULL, "alice", false }, { "alice", "", false },
		{ ",,alice,,", "alice", true }, { "Alice", "alice", false },
		{ "a b, c", "a b", true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		is_int(config_list_has(lists[i].list, lists[i].name), lists[i].want, "config_list_has");
	/* a gate bypass is earned by the user; application names only narrow it */
	static const struct { const char *users, *apps, *user, *app; bool want; } bypass[] = {
		{ "migrator", "", "migrator", NULL, true },
		{ "migrator", "", "migrator", "anything", true },
		{ "migrator", " , ", "migrator", "anything", true },
		{ "migrator", "", "app", "migrator", false },
		{ "migrator", "deploy", "app", "deploy", false },
		{ "migrator", "deploy, ci", "migrator", "ci", true },
		{ "migrator", "deploy", "migrator", "psql", false },
		{ "migrator", "deploy", "migrator", NULL, false },
		{ "", "deploy", "migrator", "deploy", false },
		{ NULL, "deploy", "app", "deploy", false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bypass); i++) {
		struct config c = { .gate_bypass_users = (char *)bypass[i].users,
				    .gate_bypass_application_names = (char *)bypass[i].apps };
		is_int(config_gate_bypass(&c, bypass[i].user, bypass[i].app), bypass[i].want, "config_gate_bypass");
	}
	is_str(config_auth_type_name(AUTH_TRUST), "trust", "auth name trust");
	is_str(config_auth_type_name(AUTH_PLAIN), "plain", "auth name plain");
	is_str(config_auth_type_name(AUTH_MD5), "md5", "auth name md5");
	is_str(config_auth_type_name(AUTH_SCRAM), "scram-sha-256", "auth name scram");
	is_str(config_auth_type_name(-1), "unknown", "auth name of -1");
	is_str(config_pool_mode_name(POOL_SESSION), "session", "pool mode session");
	is_str(config_pool_mode_name(POOL_TRANSACTION), "transaction", "pool mode transaction");
	is_str(config_pool_mode_name(POOL_STATEMENT), "statement", "pool mode statement");
	is_str(config_pool_mode_name(7), "unknown", "pool mode of 7");
}

static void test_reload_check(void)
{
	static const struct { const char *next; bool ok; const char *err; } cases[] = {
		{ "[sluice]\nlisten_port = 7000\n", true, "" },
		{ "[sluice]\nlisten_port = 7000\ndefault_pool_size = 3\nlogfile = x.log\n", true, "" },
		{ "[sluice]\nlisten_port = 7001\n", false,
		  "t.ini: listen_port: cannot be changed by a reload, restart sluice" },
		{ "[sluice]\nlisten_port = 7000\nunix_socket_dir =\n", false,
		  "t.ini: unix_socket_dir: cannot be changed by a reload, restart sluice" },
		{ "[sluice]\nlisten_port = 7000\npidfile = p\n", false,
		  "t.ini: pidfile: cannot be changed by a reload, restart sluice" },
		{ "[sluice]\nlisten_port = 7000\nserver_lifetime = 1\nmin_pool_size = 1\n"
		  "server_reset_query_always = 1\nmax_prepared_statements = 0\nstats_period = 5\n"
		  "gate_drain_policy = cancel\n[users]\na = pool_mode=statement\n", true, "" },
		{ "[sluice]\nlisten_port = 7000\nmetrics_listen = 127.0.0.1:9127\n", false,
		  "t.ini: metrics_listen: cannot be changed by a reload, restart sluice" },
		{ "[sluice]\nlisten_port = 7000\ntrack_extra_parameters = search_path\n", false,
		  "t.ini: track_extra_parameters: cannot be changed by a reload, restart sluice" },
		{ "[sluice]\nlisten_port = 7000\nso_reuseport = 1\n", false,
		  "t.ini: so_reuseport: cannot be changed by a reload, restart sluice" },
	};
	struct config *old, *next;
	char err[512];
	if (!parse("[sluice]\nlisten_port = 7000\n", &old, err, sizeof err))
		BUG("%s", err);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (!parse(cases[i].next, &next, err, sizeof err))
			BUG("%s", err);
		err[0] = 0;
		is_int(config_reload_check(old, next, err, sizeof err), cases[i].ok, "reload check");
		is_str(err, cases[i].err, "  message");
		config_free(next);
	}
	config_free(old);
}

/* ---- from files: relative paths, auth_file, %include ---- */

static void test_files(void)
{
	char tmpl[] = "/tmp/sluice-config-XXXXXX", path[PATH_MAX], want[PATH_MAX * 2], err[1024];
	char *dir = mkdtemp(tmpl), *real;
	struct config *cfg;

	if (!dir || !(real = realpath(dir, NULL)))
		BUG("mkdtemp");
	write_file(dir, "main.ini",
		   "[sluice]\nauth_file = users.txt\nlogfile = sluice.log\n%include more.ini\n"
		   "[databases]\nb = port=5433\n");
	write_file(dir, "more.ini", "; included\n[databases]\na = dbname=x\n[sluice]\n");
	write_file(dir, "users.txt", "\"alice\" \"secret\"\n\"bob\" \"md5ffffffffffffffffffffffffffffffff\"\n");
	snprintf(path, sizeof path, "%s/main.ini", dir);
	if (!ok(config_load(path, &cfg, err, sizeof err), "config_load with auth_file and %%include"))
		diag("%s", err);
	else {
		is_str(cfg->dir, real, "  dir is absolute");
		snprintf(want, sizeof want, "%s/users.txt", real);
		is_str(cfg->auth_file, want, "  auth_file resolved against the file's directory");
		snprintf(want, sizeof want, "%s/sluice.log", real);
		is_str(cfg->logfile, want, "  logfile resolved");
		is_int(cfg->users->n, 2, "  users loaded");
		ok(userlist_find(cfg->users, "bob") && userlist_find(cfg->users, "bob")->kind == SECRET_MD5,
		   "  bob has an md5 secret");
		ok(config_find_db(cfg, "a") && config_find_db(cfg, "b"), "  included and own databases");
		config_free(cfg);
	}

	static const struct { const char *ini, *err_fmt; } bad[] = {
		{ "[sluice]\nauth_file = bad.txt\n", "%s/f.ini: auth_file: %s/bad.txt:2: expected a quoted user name" },
		{ "[sluice]\nauth_file = none.txt\n",
		  "%s/f.ini: auth_file: cannot open %s/none.txt: No such file or directory" },
		{ "[sluice]\n%include inc_bad.ini\n", "%s/inc_bad.ini:2: listen_port: 0 is out of range (1..65535)" },
		{ "%include loop.ini\n", "%s/loop.ini:1: %%include: nested more than 8 deep" },
		{ "\n%include nope.ini\n",
		  "%s/f.ini:2: %%include: cannot open %s/nope.ini: No such file or directory" },
		/* a record that needs a client certificate needs a CA to check it */
		{ "[sluice]\nauth_type = hba\nauth_hba_file = cc.conf\nclient_tls_sslmode = require\n",
		  "%s/f.ini: auth_hba_file: %s/cc.conf:2: clientcert: client certificates can only be "
		  "checked if client_tls_ca_file is set" },
		{ "[sluice]\nauth_type = hba\nauth_hba_file = cert.conf\n",
		  "%s/f.ini: auth_hba_file: %s/cert.conf:1: cert: client certificates can only be "
		  "checked if client_tls_ca_file is set" },
	};
	write_file(dir, "cc.conf", "local all all trust\nhostssl all all all md5 clientcert=verify-ca\n");
	write_file(dir, "cert.conf", "hostssl all all all cert\n");
	write_file(dir, "bad.txt", "\"a\" \"b\"\nc d\n");
	write_file(dir, "inc_bad.ini", "\nlisten_port = 0\n");
	write_file(dir, "loop.ini", "%include loop.ini\n");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		write_file(dir, "f.ini", bad[i].ini);
		snprintf(path, sizeof path, "%s/f.ini", dir);
		snprintf(want, sizeof want, bad[i].err_fmt, real, real);
		cfg = (struct config *)1;
		ok(!config_load(path, &cfg, err, sizeof err) && cfg == NULL, "load fails: %s", want);
		is_str(err, want, "  message");
	}
	write_file(dir, "f.ini", "[sluice]\nauth_type = hba\nauth_hba_file = cc.conf\n"
		   "client_tls_ca_file = ca.pem\n");
	snprintf(path, sizeof path, "%s/f.ini", dir);
	if (!ok(config_load(path, &cfg, err, sizeof err), "a clientcert record with client_tls_ca_file loads"))
		diag("%s", err);
	else
		config_free(cfg);
	ok(!config_load("/nonexistent/sluice.ini", &cfg, err, sizeof err), "missing file fails");
	is_str(err, "cannot open /nonexistent/sluice.ini: No such file or directory", "  message");

	static const char *const names[] = { "main.ini", "more.ini", "users.txt", "bad.txt",
		"inc_bad.ini", "loop.ini", "f.ini", "cc.conf", "cert.conf" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	free(real);
}

/* ---- the shipped example and reference stay in step with the table ---- */

static bool mentions(const char *text, const char *fmt, const char *key)
{
	char needle[128];
	snprintf(needle, sizeof needle, fmt, key);
	return strstr(text, needle) != NULL;
}

static void test_examples(void)
{
	char *ini, *doc, err[1024];
	size_t len;
	struct config *cfg;

	if (access("etc/sluice.ini", R_OK) != 0) {
		ok(1, "# SKIP not run from the source tree");
		return;
	}
	if (!ok(config_load("etc/sluice.ini", &cfg, err, sizeof err), "etc/sluice.ini loads"))
		diag("%s", err);
	else {
		ok(cfg->users->n > 0, "  with etc/userlist.txt");
		ok(config_find_db(cfg, "appdb") != NULL, "  and appdb");
		config_free(cfg);
	}
	if (!file_read_all("etc/sluice.ini", &ini, &len, err, sizeof err) ||
	    !file_read_all("doc/config.md", &doc, &len, err, sizeof err))
		BUG("%s", err);
	/* every commented default line ";key = value" must be the table's default */
	for (size_t i = 0; i < cfg_global_nkeys; i++) {
		const struct cfg_key *k = &cfg_global_keys[i];
		if (k->type == CFG_UNSUPPORTED)
			continue;
		ok(mentions(ini, "\n;%s =", k->name), "etc/sluice.ini shows %s's default", k->name);
		ok(mentions(doc, "### `%s`", k->name), "doc/config.md documents %s", k->name);
	}
	for (size_t i = 0; i < cfg_db_nkeys; i++)
		if (cfg_db_keys[i].type != CFG_UNSUPPORTED)
			ok(mentions(doc, "| `%s` |", cfg_db_keys[i].name), "doc/config.md: database key %s",
			   cfg_db_keys[i].name);
	ok(mentions(doc, "## %s", "[users]"), "doc/config.md has a [users] section");
	for (size_t i = 0; i < cfg_user_nkeys; i++)
		if (cfg_user_keys[i].type != CFG_UNSUPPORTED)
			ok(mentions(doc, "| `%s` |", cfg_user_keys[i].name), "doc/config.md: user key %s",
			   cfg_user_keys[i].name);
	char *p = ini;
	while ((p = strstr(p, "\n;"))) {
		char line[512], *eq, *nl;
		p += 2;
		nl = strchr(p, '\n');
		snprintf(line, sizeof line, "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
		if (!(eq = strchr(line, '=')) || strchr(line, ' ') != eq - 1)
			continue;    /* prose, not ";key = value" */
		eq[-1] = 0;
		const struct cfg_key *k = cfg_key_find(cfg_global_keys, cfg_global_nkeys, line);
		if (!k || k->type == CFG_UNSUPPORTED)
			continue;
		struct config *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
		char why[256];
		const char *v = eq + 1 + (eq[1] == ' ');
		bool same = cfg_keys_init(cfg_global_keys, cfg_global_nkeys, a, why, sizeof why) &&
			    cfg_keys_init(cfg_global_keys, cfg_global_nkeys, b, why, sizeof why) &&
			    cfg_key_set(k, b, v, NULL, why, sizeof why) && cfg_key_equal(k, a, b);
		ok(same, "etc/sluice.ini: ;%s = %s is the default", k->name, v);
		cfg_keys_free(cfg_global_keys, cfg_global_nkeys, a);
		cfg_keys_free(cfg_global_keys, cfg_global_nkeys, b);
		free(a);
		free(b);
	}
	free(ini);
	free(doc);
}

int main(void)
{
	log_set_level(LOG_LVL_ERROR);    /* warnings are checked through capture_start */
	test_defaults();
	test_values();
	test_errors();
	test_syntax();
	test_warnings();
	test_databases();
	test_db_pool_limits();
	test_users();
	test_pool_mode_precedence();
	test_state_policy_precedence();
	test_list_and_names();
	test_reload_check();
	test_files();
	test_examples();
	return done_testing();
}
