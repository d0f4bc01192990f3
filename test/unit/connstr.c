/*
 * connstr.c — [databases] and [users] values: tokens, quoting, escapes,
 * strict numbers, unknown and not-yet-supported keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "tap.h"

#define UNSET_S "(unset)"

static const struct {
	const char *text;
	const char *host, *dbname, *user, *password;   /* UNSET_S: NULL */
	int port, pool_size, pool_mode, max_db;
} good[] = {
	{ "", UNSET_S, UNSET_S, UNSET_S, UNSET_S, -1, -1, -1, -1 },
	{ "   ", UNSET_S, UNSET_S, UNSET_S, UNSET_S, -1, -1, -1, -1 },
	{ "host=127.0.0.1 port=5432 dbname=app", "127.0.0.1", "app", UNSET_S, UNSET_S, 5432, -1, -1, -1 },
	{ "  host = db.example   port =6000\tdbname= x  ", "db.example", "x", UNSET_S, UNSET_S, 6000, -1, -1, -1 },
	{ "HOST=h User=u", "h", UNSET_S, "u", UNSET_S, -1, -1, -1, -1 },
	{ "password='a b c'", UNSET_S, UNSET_S, UNSET_S, "a b c", -1, -1, -1, -1 },
	{ "password='it\\'s'", UNSET_S, UNSET_S, UNSET_S, "it's", -1, -1, -1, -1 },
	{ "password='back\\\\slash'", UNSET_S, UNSET_S, UNSET_S, "back\\slash", -1, -1, -1, -1 },
	{ "password=un\\ quoted", UNSET_S, UNSET_S, UNSET_S, "un quoted", -1, -1, -1, -1 },
	{ "password=''", UNSET_S, UNSET_S, UNSET_S, "", -1, -1, -1, -1 },
	{ "password=", UNSET_S, UNSET_S, UNSET_S, "", -1, -1, -1, -1 },
	{ "password='=x y='", UNSET_S, UNSET_S, UNSET_S, "=x y=", -1, -1, -1, -1 },
	{ "host=/var/run/postgresql", "/var/run/postgresql", UNSET_S, UNSET_S, UNSET_S, -1, -1, -1, -1 },
	{ "pool_size=1 pool_mode=session", UNSET_S, UNSET_S, UNSET_S, UNSET_S, -1, 1, POOL_SESSION, -1 },
	{ "pool_size=30 pool_mode=Transaction max_db_connections=0", UNSET_S, UNSET_S, UNSET_S, UNSET_S,
	  -1, 30, POOL_TRANSACTION, 0 },
	{ "pool_mode=statement max_db_connections=100", UNSET_S, UNSET_S, UNSET_S, UNSET_S,
	  -1, -1, POOL_STATEMENT, 100 },
	{ "port=1 port=2", UNSET_S, UNSET_S, UNSET_S, UNSET_S, 2, -1, -1, -1 },
	{ "client_encoding=UTF8 application_name=x dbname=d", UNSET_S, "d", UNSET_S, UNSET_S, -1, -1, -1, -1 },
	{ "auth_user=a datestyle=ISO timezone=UTC connect_query='SELECT 1' server_lifetime=5",
	  UNSET_S, UNSET_S, UNSET_S, UNSET_S, -1, -1, -1, -1 },
};

/* the URL form: the same fields (sslmode: -1 unset, else enum tls_mode) */
static const struct {
	const char *text;
	const char *host, *dbname, *user, *password;   /* UNSET_S: NULL */
	int port, pool_size, pool_mode, sslmode;
} url_good[] = {
	{ "postgresql://app:pw@127.0.0.1:5433/realdb?sslmode=require", "127.0.0.1", "realdb", "app", "pw",
	  5433, -1, -1, TLS_REQUIRE },
	{ "postgres://h", "h", UNSET_S, UNSET_S, UNSET_S, -1, -1, -1, -1 },
	{ "  postgresql://h/d", "h", "d", UNSET_S, UNSET_S, -1, -1, -1, -1 },
	{ "postgresql:///app?host=%2Ftmp&pool_size=5&pool_mode=session", "/tmp", "app", UNSET_S, UNSET_S,
	  -1, 5, POOL_SESSION, -1 },
	{ "postgresql://u:@h/d?sslmode=disable", "h", "d", "u", "", -1, -1, -1, TLS_DISABLE },
	{ "postgresql://h/d?application_name=x", "h", "d", UNSET_S, UNSET_S, -1, -1, -1, -1 },
	{ "postgresql://[::1]:6000/d?user=bob&password=a%26b", "::1", "d", "bob", "a&b", 6000, -1, -1, -1 },
	{ "host=h sslmode=verify-full", "h", UNSET_S, UNSET_S, UNSET_S, -1, -1, -1, TLS_VERIFY_FULL },
};

static const struct { const char *text, *err; } url_bad[] = {
	{ "postgresql://h/d?sslrootcert=ca.pem", "sslrootcert: a URL parameter sluice applies to every "
	  "database: set server_tls_ca_file in [sluice] instead" },
	{ "postgresql://h/d?connect_timeout=5", "connect_timeout: a URL parameter sluice applies to every "
	  "database: set server_connect_timeout in [sluice] instead" },
	{ "postgresql://h/d?options=-c%20a%3Db", "options: unknown URL parameter" },
	{ "postgresql://h:99999/d", "appdb: URL: port \"99999\" is not a number from 1 to 65535" },
	{ "postgresql://h/d?pool_size=0", "pool_size: 0 is out of range (1..2147483647)" },
	{ "postgresql://h/d?sslmode=yes", "sslmode: \"yes\" is not one of: disable, allow, prefer, require, "
	  "verify-ca, verify-full" },
	{ "postgresql://h1,h2/d", "appdb: URL: several hosts (h1,h2,...) are not supported: give one" },
};

/* the per-database pool limits that used to be ignored */
static const struct {
	const char *text;
	int min_pool_size, reserve_pool;
} limits[] = {
	{ "", -1, -1 },
	{ "min_pool_size=1 reserve_pool=2", 1, 2 },
	{ "MIN_POOL_SIZE=0 Reserve_Pool=0", 0, 0 },
	{ "reserve_pool_size=7", -1, 7 },
	{ "reserve_pool_size=7 reserve_pool=3", -1, 3 },
	{ "min_pool_size='10' host=x", 10, -1 },
};

static const struct {
	const char *text;
	int pool_mode, max_user_connections;
} user_good[] = {
	{ "", -1, -1 },
	{ "pool_mode=transaction max_user_connections=5", POOL_TRANSACTION, 5 },
	{ "  Pool_Mode = Statement  ", POOL_STATEMENT, -1 },
	{ "max_user_connections=0", -1, 0 },
	{ "pool_mode=session pool_mode='transaction'", POOL_TRANSACTION, -1 },
	{ "query_timeout=5 pool_size=3 max_user_connections=2", -1, 2 },   /* not supported yet: warned */
};

static const struct { const char *text, *err; } bad[] = {
	{ "pool_size=abc", "pool_size: \"abc\" is not an integer" },
	{ "pool_size=", "pool_size: \"\" is not an integer" },
	{ "pool_size=0", "pool_size: 0 is out of range (1..2147483647)" },
	{ "pool_size=5x", "pool_size: \"5x\" is not an integer" },
	{ "pool_size=' 5'", "pool_size: \" 5\" is not an integer" },
	{ "port=70000", "port: 70000 is out of range (1..65535)" },
	{ "port=-1", "port: -1 is out of range (1..65535)" },
	{ "max_db_connections=lots", "max_db_connections: \"lots\" is not an integer" },
	{ "pool_mode=fast", "pool_mode: \"fast\" is not one of: session, transaction, statement" },
	{ "bogus=1", "bogus: unknown database parameter" },
	{ "host=x gssencmode=disable", "gssencmode: unknown database parameter" },
	{ "sslmode=sometimes", "sslmode: \"sometimes\" is not one of: disable, allow, prefer, require, "
	  "verify-ca, verify-full" },
	{ "host", "appdb: expected \"=\" after \"host\"" },
	{ "host x=y", "appdb: expected \"=\" after \"host\"" },
	{ "=x", "appdb: expected key=value, found \"=\"" },
	{ "password='abc", "password: unterminated quoted value" },
	{ "password='abc\\'", "password: unterminated quoted value" },
	{ "password='a'b", "password: unexpected text after closing quote" },
	{ "dbname='x'user=u", "dbname: unexpected text after closing quote" },
	{ "password=abc\\", "password: backslash at end of value" },
	{ "min_pool_size=-1", "min_pool_size: -1 is out of range (0..2147483647)" },
	{ "min_pool_size=2x", "min_pool_size: \"2x\" is not an integer" },
	{ "reserve_pool=", "reserve_pool: \"\" is not an integer" },
	{ "reserve_pool=many", "reserve_pool: \"many\" is not an integer" },
	{ "reserve_pool_size=-1", "reserve_pool_size: -1 is out of range (0..2147483647)" },
	{ "max_user_connections=1", "max_user_connections: unknown database parameter" },
};

static const struct { const char *text, *err; } user_bad[] = {
	{ "pool_mode=fast", "pool_mode: \"fast\" is not one of: session, transaction, statement" },
	{ "pool_mode=", "pool_mode: \"\" is not one of: session, transaction, statement" },
	{ "max_user_connections=abc", "max_user_connections: \"abc\" is not an integer" },
	{ "max_user_connections=-1", "max_user_connections: -1 is out of range (0..2147483647)" },
	{ "max_user_connections=99999999999", "max_user_connections: 99999999999 is out of range (0..2147483647)" },
	{ "host=x", "host: unknown user parameter" },
	{ "pool_mode=session bogus=1", "bogus: unknown user parameter" },
	{ "pool_mode", "alice: expected \"=\" after \"pool_mode\"" },
	{ "=session", "alice: expected key=value, found \"=\"" },
	{ "pool_mode='session", "pool_mode: unterminated quoted value" },
};

static struct db_entry *new_db(void)
{
	struct db_entry *db = calloc(1, sizeof *db);
	char why[200];
	if (!db || !cfg_keys_init(cfg_db_keys, cfg_db_nkeys, db, why, sizeof why))
		BUG("init");
	db->name = strdup("appdb");
	return db;
}

static void free_db(struct db_entry *db)
{
	cfg_keys_free(cfg_db_keys, cfg_db_nkeys, db);
	free(db->name);
	free(db);
}

static struct user_settings *new_user(void)
{
	struct user_settings *us = calloc(1, sizeof *us);
	char why[200];
	if (!us || !cfg_keys_init(cfg_user_keys, cfg_user_nkeys, us, why, sizeof why))
		BUG("init");
	us->name = strdup("alice");
	return us;
}

static void free_user(struct user_settings *us)
{
	cfg_keys_free(cfg_user_keys, cfg_user_nkeys, us);
	free(us->name);
	free(us);
}

static const char *s_or_unset(const char *s)
{
	return s ? s : UNSET_S;
}

int main(void)
{
	char err[512];

	log_set_level(LOG_LVL_ERROR);
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct db_entry *db = new_db();
		bool okay = connstr_parse(good[i].text, "t.ini:1", db, err, sizeof err);
		if (!ok(okay, "parses: [%s]", good[i].text))
			diag("%s", err);
		is_str(s_or_unset(db->host), good[i].host, "  host");
		is_str(s_or_unset(db->dbname), good[i].dbname, "  dbname");
		is_str(s_or_unset(db->user), good[i].user, "  user");
		is_str(s_or_unset(db->password), good[i].password, "  password");
		is_int(db->port, good[i].port, "  port");
		is_int(db->pool_size, good[i].pool_size, "  pool_size");
		is_int(db->pool_mode, good[i].pool_mode, "  pool_mode");
		is_int(db->max_db_connections, good[i].max_db, "  max_db_connections");
		free_db(db);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct db_entry *db = new_db();
		err[0] = 0;
		ok(!connstr_parse(bad[i].text, "t.ini:1", db, err, sizeof err), "fails: [%s]", bad[i].text);
		is_str(err, bad[i].err, "  message");
		free_db(db);
	}
	for (size_t i = 0; i < ARRAY_SIZE(url_good); i++) {
		struct db_entry *db = new_db();
		bool okay = connstr_parse(url_good[i].text, "t.ini:1", db, err, sizeof err);
		if (!ok(okay, "URL parses: [%s]", url_good[i].text))
			diag("%s", err);
		is_str(s_or_unset(db->host), url_good[i].host, "  host");
		is_str(s_or_unset(db->dbname), url_good[i].dbname, "  dbname");
		is_str(s_or_unset(db->user), url_good[i].user, "  user");
		is_str(s_or_unset(db->password), url_good[i].password, "  password");
		is_int(db->port, url_good[i].port, "  port");
		is_int(db->pool_size, url_good[i].pool_size, "  pool_size");
		is_int(db->pool_mode, url_good[i].pool_mode, "  pool_mode");
		is_int(db->server_tls_sslmode, url_good[i].sslmode, "  sslmode");
		free_db(db);
	}
	for (size_t i = 0; i < ARRAY_SIZE(url_bad); i++) {
		struct db_entry *db = new_db();
		err[0] = 0;
		ok(!connstr_parse(url_bad[i].text, "t.ini:1", db, err, sizeof err), "URL fails: [%s]", url_bad[i].text);
		is_str(err, url_bad[i].err, "  message");
		free_db(db);
	}
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		struct db_entry *db = new_db();
		if (!ok(connstr_parse(limits[i].text, "t.ini:1", db, err, sizeof err),
			"parses: [%s]", limits[i].text))
			diag("%s", err);
		is_int(db->min_pool_size, limits[i].min_pool_size, "  min_pool_size");
		is_int(db->reserve_pool, limits[i].reserve_pool, "  reserve_pool");
		free_db(db);
	}
	for (size_t i = 0; i < ARRAY_SIZE(user_good); i++) {
		struct user_settings *us = new_user();
		if (!ok(connstr_parse_user(user_good[i].text, "t.ini:1", us, err, sizeof err),
			"user parses: [%s]", user_good[i].text))
			diag("%s", err);
		is_int(us->pool_mode, user_good[i].pool_mode, "  pool_mode");
		is_int(us->max_user_connections, user_good[i].max_user_connections, "  max_user_connections");
		free_user(us);
	}
	for (size_t i = 0; i < ARRAY_SIZE(user_bad); i++) {
		struct user_settings *us = new_user();
		err[0] = 0;
		ok(!connstr_parse_user(user_bad[i].text, "t.ini:1", us, err, sizeof err),
		   "user fails: [%s]", user_bad[i].text);
		is_str(err, user_bad[i].err, "  message");
		free_user(us);
	}
	return done_testing();
}
