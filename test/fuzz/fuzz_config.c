/*
 * fuzz_config.c — libFuzzer target for the configuration parsers: the ini
 * reader with [databases] connection strings (config_parse_text), the
 * auth_file reader (userlist_parse), connstr_parse on its own, and the
 * postgresql:// URL parser (connurl_parse; what it builds back must parse
 * to the same parts, and scrubbing must keep the length). Nothing
 * here touches a file; everything parsed is freed, so leaks show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "connurl.h"
#include "log.h"
#include "userlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void fuzz_url(const char *s)
{
	char err[512];
	struct connurl u, back;
	if (connurl_parse(s, &u, err, sizeof err)) {
		char *built = connurl_build(&u);
		if (built) {
			if (!connurl_parse(built, &back, err, sizeof err))
				BUG("connurl_build made %s, which does not parse: %s", built, err);
			if (!same(u.user, back.user) || !same(u.password, back.password) ||
			    !same(u.host, back.host) || u.port != back.port || !same(u.dbname, back.dbname))
				BUG("connurl_build made %s, which parses to other parts", built);
			connurl_free(&back);
		}
		free(built);
	}
	connurl_free(&u);
	char *copy = strdup(s);
	if (copy) {
		connurl_scrub(copy);
		if (strlen(copy) != strlen(s))
			BUG("connurl_scrub changed the length");
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct config *cfg;
	struct userlist *ul;
	const char *text = (const char *)data;

	log_set_level(LOG_LVL_ERROR);     /* warnings for odd input are expected */

	if (config_parse_text(text, size, "fuzz.ini", &cfg, err, sizeof err)) {
		for (size_t i = 0; i < cfg->ndbs; i++) {
			const struct db_entry *db = config_find_db(cfg, cfg->dbs[i].name);
			if (db != &cfg->dbs[i])
				BUG("config_find_db(%s) found another entry", cfg->dbs[i].name);
			(void)config_db_pool_size(cfg, db);
			(void)config_db_pool_mode(cfg, db);
		}
		(void)config_find_db(cfg, "postgres");
		(void)config_list_has(cfg->admin_users, "admin");
		(void)config_list_has(cfg->ignore_startup_parameters, "extra_float_digits");
		config_free(cfg);
	}

	if (userlist_parse(text, size, "fuzz.txt", &ul, err, sizeof err)) {
		for (size_t i = 0; i < ul->n; i++)
			if (!userlist_find(ul, ul->users[i].name))
				BUG("userlist_find(%s) failed", ul->users[i].name);
		userlist_free(ul);
	}

	/* one [databases] value, when the input is a C string */
	if (size < 4096 && !memchr(data, 0, size)) {
		char *s = strndup(text, size);
		struct db_entry db = { .name = (char *)"fuzzdb" };
		if (s && cfg_keys_init(cfg_db_keys, cfg_db_nkeys, &db, err, sizeof err)) {
			if (connstr_parse(s, "fuzz:1", &db, err, sizeof err) &&
			    (db.port == 0 || db.port > 65535 || db.pool_size == 0))
				BUG("connstr_parse let port %d pool_size %d through", db.port, db.pool_size);
			cfg_keys_free(cfg_db_keys, cfg_db_nkeys, &db);
		}
		if (s)
			fuzz_url(s);
		free(s);
	}
	return 0;
}
