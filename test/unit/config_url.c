/*
 * config_url.c — configurations from URLs. A [databases] entry in URL
 * form: the same fields as key=value, its errors naming file, line and
 * entry or key. The one-line start: the defaults a URL gets, what
 * --listen, --pool-mode and --pool-size change, the one user and its SCRAM
 * verifier, the libpq parameters that become global keys, the refusals,
 * and the DATABASE_URL printed for clients.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "scram.h"
#include "tap.h"
#include "userlist.h"

static bool parse(const char *text, struct config **cfg, char *err, size_t errlen)
{
	return config_parse_text(text, strlen(text), "t.ini", cfg, err, errlen);
}

/* the URL form fills the same fields as key=value */
static void test_databases_entry(void)
{
	struct config *cfg;
	char err[512];
	if (!ok(parse("[databases]\n"
		      "kv  = host=db.example port=5433 dbname=real user=app password='p@ss:w/rd' "
		      "sslmode=require pool_size=4\n"
		      "url = postgresql://app:p%40ss%3Aw%2Frd@db.example:5433/real?sslmode=require&pool_size=4\n"
		      "v6 = postgres://[::1]/x?host=%2Ftmp\n", &cfg, err, sizeof err),
		"[databases] in URL form parses")) {
		diag("%s", err);
		return;
	}
	const struct db_entry *kv = config_find_db(cfg, "kv"), *url = config_find_db(cfg, "url");
	ok(kv && url && kv != url, "  both entries");
	for (size_t i = 0; kv && url && i < cfg_db_nkeys; i++)
		if (cfg_db_keys[i].type != CFG_UNSUPPORTED)
			ok(cfg_key_equal(&cfg_db_keys[i], kv, url), "  %s: the same from both forms",
			   cfg_db_keys[i].name);
	is_int(url->server_tls_sslmode, TLS_REQUIRE, "  sslmode=require");
	is_int(config_db_tls_mode(cfg, url), TLS_REQUIRE, "  config_db_tls_mode: the entry's");
	const struct db_entry *db = config_find_db(cfg, "v6");
	is_str(db->host, "/tmp", "  ?host= wins over the URL's host");
	is_int(config_db_tls_mode(cfg, db), TLS_PREFER, "  no sslmode: server_tls_sslmode");
	ok(!cfg->from_url, "  a file's configuration is not from_url");
	config_free(cfg);
}

static const struct { const char *text, *err; } entry_errors[] = {
	{ "[databases]\n\nappdb = postgresql://u:p%zz@h/app\n",
	  "t.ini:3: appdb: URL: bad percent escape in the password (a % must start %XX, "
	  "two hex digits; write % itself as %25)" },
	{ "[databases]\nappdb = postgres://h:0/app\n",
	  "t.ini:2: appdb: URL: port \"0\" is not a number from 1 to 65535" },
	{ "[databases]\nappdb = postgresql://h/app?sslmode=sure\n",
	  "t.ini:2: sslmode: \"sure\" is not one of: disable, allow, prefer, require, verify-ca, verify-full" },
	{ "[databases]\nappdb = postgresql://h/app?target_session_attrs=any\n",
	  "t.ini:2: target_session_attrs: unknown URL parameter" },
	{ "[databases]\nappdb = postgresql://h/app?sslrootcert=ca.pem\n",
	  "t.ini:2: sslrootcert: a URL parameter sluice applies to every database: "
	  "set server_tls_ca_file in [sluice] instead" },
	{ "[databases]\nappdb = postgresql://h/app pool_size=5\n",
	  "t.ini:2: appdb: URL: a blank or control character at offset 18: percent-encode it (a blank is %20)" },
};

static void test_entry_errors(void)
{
	char err[512];
	for (size_t i = 0; i < ARRAY_SIZE(entry_errors); i++) {
		struct config *cfg = (struct config *)1;
		err[0] = 0;
		bool okay = parse(entry_errors[i].text, &cfg, err, sizeof err);
		ok(!okay && cfg == NULL, "fails: %s", entry_errors[i].err);
		is_str(err, entry_errors[i].err, "  message");
		config_free(okay ? cfg : NULL);
	}
}

static struct config *from(const char *url, const char *listen, const char *mode, const char *size,
			   char *err, size_t errlen)
{
	struct config_url_opts o = { url, "SLUICE_DATABASE_URL", listen, mode, size };
	struct config *cfg = (struct config *)1;
	err[0] = 0;
	if (!config_from_url(&o, &cfg, err, errlen)) {
		ok(cfg == NULL, "  no configuration on failure");
		return NULL;
	}
	return cfg;
}

/* Does the user list's secret for user verify `password`? */
static bool verifier_matches(const struct config *cfg, const char *user, const char *password)
{
	const struct user_entry *e = userlist_find(cfg->users, user);
	struct scram_secret sec, again;
	return e && e->kind == SECRET_SCRAM && scram_secret_from_verifier(e->secret, &sec) &&
	       scram_secret_from_password_salt(password, sec.salt, sec.salt_len, sec.iterations, &again) &&
	       memcmp(sec.stored_key, again.stored_key, SCRAM_KEY_LEN) == 0 &&
	       memcmp(sec.server_key, again.server_key, SCRAM_KEY_LEN) == 0;
}

static void test_defaults(void)
{
	char err[512];
	struct config *cfg = from("postgresql://alice:s3cret@db.example:5433/app", NULL, NULL, NULL,
				  err, sizeof err);
	if (!ok(cfg, "a URL alone makes a configuration")) {
		diag("%s", err);
		return;
	}
	ok(cfg->from_url, "  from_url");
	is_str(cfg->path, "SLUICE_DATABASE_URL", "  labelled by its origin");
	is_str(cfg->listen_addr, "127.0.0.1", "  listen_addr 127.0.0.1");
	is_int(cfg->listen_port, 6432, "  listen_port 6432");
	is_str(cfg->unix_socket_dir, "", "  no unix socket");
	is_int(cfg->auth_type, AUTH_SCRAM, "  auth_type scram-sha-256");
	is_int(cfg->pool_mode, POOL_TRANSACTION, "  transaction pooling");
	is_int(cfg->default_pool_size, 20, "  default_pool_size 20");
	is_str(cfg->admin_users, "alice", "  the user may use the console");
	is_int(cfg->ndbs, 1, "  one database");
	const struct db_entry *db = config_find_db(cfg, "app");
	ok(db && !cfg->fallback, "  named after the URL's database, no fallback");
	if (db) {
		is_str(db->host, "db.example", "  host");
		is_int(db->port, 5433, "  port");
		is_str(db->dbname, "app", "  dbname");
		is_str(db->user, "alice", "  logs in to PostgreSQL as the URL's user");
		is_str(db->password, "s3cret", "  with the URL's password");
	}
	is_int(cfg->users->n, 1, "  one user");
	ok(verifier_matches(cfg, "alice", "s3cret"), "  a SCRAM verifier of the same password");
	ok(!verifier_matches(cfg, "alice", "s3creT"), "  ... and of no other");
	char *url = config_url_for_clients(cfg);
	is_str(url, "postgresql://alice:s3cret@127.0.0.1:6432/app", "  DATABASE_URL");
	free(url);
	struct config *copy = config_copy(cfg);
	ok(copy && copy->from_url, "  a copy (SET) is still from_url");
	config_free(copy);
	config_free(cfg);
}

static void test_overrides(void)
{
	char err[512];
	struct config *cfg = from("postgres://bob:p%40ss%2Fw@%2Fvar%2Frun%2Fpostgresql?sslmode=disable",
				  "[::1]:7000", "session", "3", err, sizeof err);
	if (!ok(cfg, "--listen, --pool-mode, --pool-size")) {
		diag("%s", err);
		return;
	}
	is_str(cfg->listen_addr, "::1", "  listen_addr from [::1]:7000");
	is_int(cfg->listen_port, 7000, "  listen_port");
	is_int(cfg->pool_mode, POOL_SESSION, "  pool_mode");
	is_int(cfg->default_pool_size, 3, "  default_pool_size");
	const struct db_entry *db = config_find_db(cfg, "bob");
	ok(db != NULL, "  no database in the URL: the user's name, as libpq");
	if (db) {
		is_str(db->host, "/var/run/postgresql", "  unix socket host");
		ok(db->dbname == NULL, "  dbname: the entry's name");
		is_int(config_db_tls_mode(cfg, db), TLS_DISABLE, "  sslmode=disable");
	}
	ok(verifier_matches(cfg, "bob", "p@ss/w"), "  verifier of the decoded password");
	char *url = config_url_for_clients(cfg);
	is_str(url, "postgresql://bob:p%40ss%2Fw@[::1]:7000/bob", "  DATABASE_URL, encoded");
	free(url);
	config_free(cfg);

	cfg = from("postgresql://u:p@h/d", "*:7001", NULL, NULL, err, sizeof err);
	ok(cfg && !strcmp(cfg->listen_addr, "*") && cfg->listen_port == 7001, "--listen *:7001");
	url = cfg ? config_url_for_clients(cfg) : NULL;
	is_str(url, "postgresql://u:p@127.0.0.1:7001/d", "  clients are told 127.0.0.1");
	free(url);
	config_free(cfg);

	/* libpq parameters that are global keys in sluice */
	char *cwd = getcwd(NULL, 0), want[4096];
	cfg = from("postgresql://u:p@h/d?sslmode=verify-full&sslrootcert=ca.pem&connect_timeout=7"
		   "&application_name=x&pool_size=2", NULL, NULL, NULL, err, sizeof err);
	if (ok(cfg, "sslrootcert, connect_timeout, a per-database key")) {
		snprintf(want, sizeof want, "%s/ca.pem", cwd);
		is_str(cfg->server_tls_ca_file, want, "  sslrootcert: server_tls_ca_file, from the cwd");
		ok(cfg->server_connect_timeout == 7.0, "  connect_timeout: server_connect_timeout");
		is_int(config_db_tls_mode(cfg, &cfg->dbs[0]), TLS_VERIFY_FULL, "  sslmode: the entry's");
		is_int(config_db_pool_size(cfg, &cfg->dbs[0]), 2, "  pool_size: the entry's");
	} else {
		diag("%s", err);
	}
	config_free(cfg);
	free(cwd);
}

static const struct {
	const char *url, *listen, *mode, *size, *err;
} bad[] = {
	{ "postgresql://alice@h/d", NULL, NULL, NULL,
	  "SLUICE_DATABASE_URL: the URL needs a user and a password" },
	{ "postgresql://alice:@h/d", NULL, NULL, NULL, "the URL needs a user and a password" },
	{ "postgresql://:pw@h/d", NULL, NULL, NULL, "the URL needs a user and a password" },
	{ "postgresql://a:b%zz@h/d", NULL, NULL, NULL, "SLUICE_DATABASE_URL: bad percent escape in the password" },
	{ "mysql://a:b@h/d", NULL, NULL, NULL, "must start with postgresql://" },
	{ "postgresql://a:b@h/d?frobnicate=1", NULL, NULL, NULL,
	  "SLUICE_DATABASE_URL: frobnicate: unknown URL parameter" },
	{ "postgresql://a:b@h/d?sslmode=verify-ca", NULL, NULL, NULL,
	  "sslmode=verify-ca needs sslrootcert=FILE" },
	{ "postgresql://a:b@h/%2A", NULL, NULL, NULL, "the database name \"*\"" },
	{ "postgresql://a:b@h/d", "7000", NULL, NULL, "--listen 7000: expected HOST:PORT" },
	{ "postgresql://a:b@h/d", ":7000", NULL, NULL, "--listen :7000: no host before the port" },
	{ "postgresql://a:b@h/d", "::1:7000", NULL, NULL, "write an IPv6 address in brackets" },
	{ "postgresql://a:b@h/d", "[::1]7000", NULL, NULL, "expected [IPv6]:PORT" },
	{ "postgresql://a:b@h/d", "h:0", NULL, NULL, "--listen: 0 is out of range" },
	{ "postgresql://a:b@h/d", "h:x", NULL, NULL, "--listen: \"x\" is not an integer" },
	{ "postgresql://a:b@h/d", NULL, "fast", NULL, "--pool-mode: \"fast\" is not one of: session, transaction, statement" },
	{ "postgresql://a:b@h/d", NULL, NULL, "0", "--pool-size: 0 is out of range" },
	{ "postgresql://a:b@h/d", NULL, NULL, "ten", "--pool-size: \"ten\" is not an integer" },
};

static void test_bad(void)
{
	char err[512];
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct config *cfg = from(bad[i].url, bad[i].listen, bad[i].mode, bad[i].size, err, sizeof err);
		ok(!cfg, "refused: %s", bad[i].err);
		if (!ok(strstr(err, bad[i].err) != NULL, "  message"))
			diag("got: %s", err);
		ok(!strstr(err, "b%zz") && !strstr(err, ":b@"), "  the password is not in it");
		config_free(cfg);
	}
}

static void test_verifier_text(void)
{
	static const uint8_t salt[] = "0123456789abcdef";
	struct scram_secret sec, back;
	char v[256], small[40];
	ok(scram_secret_from_password_salt("pencil", salt, 16, 4096, &sec) &&
	   scram_secret_to_verifier(&sec, v, sizeof v), "scram_secret_to_verifier");
	ok(!strncmp(v, "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$", 44), "  prefix, iterations, salt");
	ok(scram_secret_from_verifier(v, &back) && back.iterations == 4096 && back.salt_len == 16 &&
	   !memcmp(back.stored_key, sec.stored_key, SCRAM_KEY_LEN) &&
	   !memcmp(back.server_key, sec.server_key, SCRAM_KEY_LEN), "  parses back to the same secret");
	ok(!scram_secret_to_verifier(&sec, small, sizeof small), "  too small a buffer: false");
}

int main(void)
{
	log_set_level(LOG_LVL_ERROR);
	test_databases_entry();
	test_entry_errors();
	test_defaults();
	test_overrides();
	test_bad();
	test_verifier_text();
	return done_testing();
}
