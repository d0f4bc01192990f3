/*
 * config_set.c — a configuration as a value changed one key at a time
 * (the console's SET): the copy shares nothing with the original (each
 * is used after the other is freed: a sanitizer build catches what is
 * shared), the key is parsed by the loader's setter, a bad key or value
 * changes nothing and says why, and SHOW CONFIG's key list and values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "hba.h"
#include "log.h"
#include "tap.h"
#include "userlist.h"

static const char ini[] =
	"[databases]\n"
	"app = host=127.0.0.1 port=5433 dbname=real user=u password='p w' pool_size=3\n"
	"* = host=/tmp\n"
	"other = host=h2 pool_mode=session\n"
	"[users]\n"
	"alice = pool_mode=statement max_user_connections=4\n"
	"[sluice]\n"
	"admin_users = admin, root\n"
	"server_check_query = select 1\n"
	"default_pool_size = 20\n"
	"query_wait_timeout = 2min\n";

static const char userlist[] = "\"alice\" \"secret\"\n\"bob\" \"md5" "0123456789abcdef0123456789abcdef\"\n";
static const char hba_text[] = "local all all trust\nhost \"my db\",app alice 10.0.0.0/8 scram-sha-256\n";

static struct config *load(void)
{
	struct config *cfg = NULL;
	char err[512];
	if (!config_parse_text(ini, strlen(ini), "/etc/s/sluice.ini", &cfg, err, sizeof err)) {
		diag("%s", err);
		return NULL;
	}
	userlist_free(cfg->users);
	if (!userlist_parse(userlist, strlen(userlist), "u.txt", &cfg->users, err, sizeof err) ||
	    !hba_parse(hba_text, strlen(hba_text), "hba.conf", &cfg->hba, err, sizeof err)) {
		diag("%s", err);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Every SHOW CONFIG value of a equals b's but for `except`. */
static bool same_values(const struct config *a, const struct config *b, const char *except)
{
	struct config_key_info k;
	bool same = true;
	for (size_t cur = 0; config_key_next(&cur, &k);) {
		char *va = config_key_value(a, k.name), *vb = config_key_value(b, k.name);
		if (!va || !vb || (strcmp(va, vb) != 0) != (except && !strcmp(k.name, except))) {
			diag("%s: '%s' and '%s'", k.name, va ? va : "(null)", vb ? vb : "(null)");
			same = false;
		}
		free(va);
		free(vb);
	}
	return same;
}

static bool hba_matches(const struct hba_rules *r, const char *db, int line)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	a4->sin_family = AF_INET;
	a4->sin_addr.s_addr = htonl(0x0a010203);   /* 10.1.2.3 */
	return hba_find(r, HBA_CONN_TCP, false, (struct sockaddr *)&ss, db, "alice").line == line;
}

/* What the copy holds, read after the original was freed. */
static void check_copy_alone(const struct config *c, const char *what)
{
	const struct db_entry *app = config_find_db(c, "app");
	ok(app && !strcmp(app->host, "127.0.0.1") && app->port == 5433 && !strcmp(app->dbname, "real") &&
	   !strcmp(app->user, "u") && !strcmp(app->password, "p w") && app->pool_size == 3,
	   "%s: [databases] app whole", what);
	ok(c->fallback && config_find_db(c, "nowhere") == c->fallback && !strcmp(c->fallback->name, "*") &&
	   c->fallback >= c->dbs && c->fallback < c->dbs + c->ndbs, "%s: the fallback is its own", what);
	const struct user_settings *u = config_find_user(c, "alice");
	ok(u && u->pool_mode == POOL_STATEMENT && u->max_user_connections == 4, "%s: [users] alice", what);
	const struct user_entry *e = userlist_find(c->users, "bob");
	ok(c->users && c->users->n == 2 && e && e->kind == SECRET_MD5 &&
	   !strcmp(userlist_find(c->users, "alice")->secret, "secret"), "%s: auth_file users", what);
	ok(hba_count(c->hba) == 2 && hba_matches(c->hba, "my db", 2) && hba_matches(c->hba, "app", 2) &&
	   !hba_matches(c->hba, "x", 2), "%s: auth_hba_file rules, names included", what);
	ok(!strcmp(c->path, "/etc/s/sluice.ini") && !strcmp(c->dir, "/etc/s"), "%s: path and dir", what);
	ok(config_list_has(c->admin_users, "root"), "%s: strings", what);
}

static void test_copy(void)
{
	struct config *cfg = load(), *c;
	if (!ok(cfg, "loads"))
		return;
	c = config_copy(cfg);
	ok(c && c != cfg, "config_copy");
	ok(same_values(cfg, c, NULL), "every key has the same value");
	ok(c->admin_users != cfg->admin_users && c->dbs != cfg->dbs && c->dbs[0].host != cfg->dbs[0].host &&
	   c->dbs[0].name != cfg->dbs[0].name && c->user_settings[0].name != cfg->user_settings[0].name &&
	   c->users != cfg->users && c->users->users[0].name != cfg->users->users[0].name &&
	   c->hba != cfg->hba, "... and no pointer in common");
	char err[256];
	ok(config_reload_check(cfg, c, err, sizeof err), "a reload may go from one to the other");
	config_free(cfg);
	check_copy_alone(c, "the copy, its original freed");
	struct config *again = config_copy(c);
	config_free(c);
	check_copy_alone(again, "a copy of the copy");
	config_free(again);
}

static void test_with_setting(void)
{
	struct config *cfg = load(), *next = NULL;
	char err[256];
	if (!ok(cfg, "loads"))
		return;

	is_int(config_with_setting(cfg, "default_pool_size", "7", &next, err, sizeof err), CONFIG_SET_OK,
	       "SET default_pool_size = 7");
	ok(next && next->default_pool_size == 7 && cfg->default_pool_size == 20,
	   "... the new configuration has 7, the running one keeps 20");
	ok(next && same_values(cfg, next, "default_pool_size"), "... and nothing else differs");
	config_free(cfg);
	check_copy_alone(next, "the new one, the old one freed");
	cfg = next;

	is_int(config_with_setting(cfg, "Query_Wait_Timeout", "90s", &next, err, sizeof err), CONFIG_SET_OK,
	       "a key in any case, a value with a unit");
	ok(next && next->query_wait_timeout == 90 && cfg->query_wait_timeout == 120, "... 90 s, parsed as the loader does");
	config_free(next);

	is_int(config_with_setting(cfg, "server_check_query", "select 'a b'", &next, err, sizeof err),
	       CONFIG_SET_OK, "a string");
	char *v = next ? config_key_value(next, "server_check_query") : NULL;
	is_str(v, "select 'a b'", "... SHOW CONFIG's value");
	free(v);
	v = config_key_value(cfg, "server_check_query");
	is_str(v, "select 1", "... the running one's");
	free(v);
	config_free(next);

	static const struct {
		const char *key, *value;
		enum config_set want;
		const char *err;
	} bad[] = {
		{ "default_pool_size", "0", CONFIG_SET_INVALID, "default_pool_size: 0 is out of range (1..2147483647)" },
		{ "default_pool_size", "lots", CONFIG_SET_INVALID, "default_pool_size: \"lots\" is not an integer" },
		{ "query_timeout", "soon", CONFIG_SET_INVALID,
		  "query_timeout: \"soon\" is not a number of seconds (units: ms, s, min, h, d)" },
		{ "pool_mode", "sometimes", CONFIG_SET_INVALID, NULL },
		{ "no_such_key", "1", CONFIG_SET_UNKNOWN, "unknown configuration key: no_such_key" },
		{ "listen_port", "7000", CONFIG_SET_FIXED, "listen_port cannot be changed with SET: it needs a restart" },
		{ "auth_file", "/tmp/x", CONFIG_SET_FIXED,
		  "auth_file cannot be changed with SET: edit the configuration file, then RELOAD" },
		{ "auth_type", "trust", CONFIG_SET_FIXED, NULL },
		{ "client_tls_sslmode", "require", CONFIG_SET_FIXED, NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		next = cfg;   /* must come back NULL */
		is_int(config_with_setting(cfg, bad[i].key, bad[i].value, &next, err, sizeof err), bad[i].want,
		       "refused");
		ok(!next, "  SET %s = %s: no new configuration", bad[i].key, bad[i].value);
		if (bad[i].err)
			is_str(err, bad[i].err, "  the reason");
	}
	is_int(cfg->default_pool_size, 7, "the running configuration is untouched by all of them");
	config_free(cfg);
}

static void test_key_list(void)
{
	struct config_key_info k;
	size_t n = 0, cur = 0;
	bool pool = false, port = false;
	while (config_key_next(&cur, &k)) {
		n++;
		if (!strcmp(k.name, "default_pool_size"))
			pool = k.def && !strcmp(k.def, "20") && k.reload_ok;
		if (!strcmp(k.name, "listen_port"))
			port = !k.reload_ok;
	}
	ok(n > 50, "config_key_next lists the keys (%zu)", n);
	ok(pool, "... default_pool_size: default 20, a reload may change it");
	ok(port, "... listen_port: a reload may not");
	ok(!config_key_next(&cur, &k), "... and stays at the end");
	struct config *cfg = load();
	ok(cfg && !config_key_value(cfg, "no_such_key"), "config_key_value of an unknown key: NULL");
	char *v = cfg ? config_key_value(cfg, "query_wait_timeout") : NULL;
	is_str(v, "120", "config_key_value: seconds as SHOW CONFIG prints them");
	free(v);
	config_free(cfg);
}

int main(void)
{
	log_set_level(LOG_LVL_ERROR);
	test_copy();
	test_with_setting();
	test_key_list();
	return done_testing();
}
