/*
 * connstr.c — a [databases], [users] or [peers] value: libpq-style
 * `key=value key='v a l'`, or (a [databases] value) a libpq URL,
 * `postgresql://user:password@host:port/dbname?sslmode=require`.
 *
 * Values may be single-quoted; inside or outside quotes a backslash takes
 * the next character literally (`\'`, `\\`). Each key is looked up in the
 * per-database (per-user, per-peer) part of the key table (config_keys.c) and
 * stored through the same typed setter as the global keys, so numbers are
 * parsed strictly. A repeated key: the last one wins (as in libpq).
 *
 * A URL (connurl.c parses it) fills the same fields: its user, password,
 * host, port and database name, then each query parameter as the key of
 * that name (`sslmode`, `pool_size`, ...). The libpq parameters that are
 * global keys in sluice (sslrootcert, sslcert, sslkey, connect_timeout) are
 * refused in a [databases] entry with the key to set instead; the
 * one-line start (config_url.c) sets them.
 *
 * INTERFACE ROUTINES
 *   connstr_parse(text, where, db, err, errlen)        see config_internal.h
 *   connstr_parse_user(text, where, us, err, errlen)   see config_internal.h
 *   connstr_parse_peer(text, where, pe, err, errlen)   see config_internal.h
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "connurl.h"
#include "log.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static char *skip_space(char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

/*
 * Unescape the value starting at *pp in place (the result never grows).
 * On success *pp points past the value and its terminator.
 */
static bool take_value(char **pp, char **value, const char **problem)
{
	char *r = *pp, *w = *pp;
	bool quoted = *r == '\'';

	*value = w;
	if (quoted)
		r++;
	for (;;) {
		if (*r == 0) {
			if (quoted) {
				*problem = "unterminated quoted value";
				return false;
			}
			break;
		}
		if (quoted ? *r == '\'' : is_space(*r))
			break;
		if (*r == '\\') {
			if (r[1] == 0) {
				*problem = "backslash at end of value";
				return false;
			}
			r++;
		}
		*w++ = *r++;
	}
	if (quoted) {
		r++;     /* the closing quote */
		if (*r && !is_space(*r)) {
			*problem = "unexpected text after closing quote";
			return false;
		}
	}
	char *next = *r ? r + 1 : r;
	*w = 0;
	*pp = next;
	return true;
}

/* What a value configures: its keys, the struct they go into, its name. */
struct target {
	const struct cfg_key *keys;
	size_t nkeys;
	const char *what;       /* "database", "user" or "peer", for messages */
	void *base;
	const char *name;       /* the entry's name, for messages */
};

static bool set_key(const struct target *t, const char *key, const char *value,
		    const char *where, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_key_find(t->keys, t->nkeys, key);
	char why[200];

	if (!k) {
		snprintf(err, errlen, "%s: unknown %s parameter", key, t->what);
		return false;
	}
	if (k->type == CFG_UNSUPPORTED) {
		log_warn("%s: %s: %s parameter %s is not supported yet, ignored",
			 where, t->name, t->what, k->name);
		return true;
	}
	if (!cfg_key_set(k, t->base, value, NULL, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", k->name, why);
		return false;
	}
	return true;
}

static bool parse_pairs(const char *text, const char *where, const struct target *t,
			char *err, size_t errlen)
{
	const char *name = t->name;
	const char *problem = NULL;
	char *buf = strdup(text);
	char *p, *key, *key_end, *value;
	bool ok = false;

	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", name);
		return false;
	}
	p = skip_space(buf);
	while (*p) {
		key = p;
		while (*p && *p != '=' && !is_space(*p))
			p++;
		key_end = p;
		p = skip_space(p);
		if (key == key_end || *p != '=') {
			*key_end = 0;
			if (key == key_end)
				snprintf(err, errlen, "%s: expected key=value, found \"=\"", name);
			else
				snprintf(err, errlen, "%s: expected \"=\" after \"%s\"", name, key);
			goto out;
		}
		p = skip_space(p + 1);
		*key_end = 0;
		if (!take_value(&p, &value, &problem)) {
			snprintf(err, errlen, "%s: %s", key, problem);
			goto out;
		}
		if (!set_key(t, key, value, where, err, errlen))
			goto out;
		p = skip_space(p);
	}
	ok = true;
out:
	free(buf);
	return ok;
}

/* libpq URL parameters that are global keys of sluice's */
static const struct {
	const char *param, *key;
} global_params[] = {
	{ "sslrootcert", "server_tls_ca_file" },
	{ "sslcert", "server_tls_cert_file" },
	{ "sslkey", "server_tls_key_file" },
	{ "connect_timeout", "server_connect_timeout" },
};

static bool set_global_param(const char *param, const char *key, const char *value,
			     struct config *global, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_key_find(cfg_global_keys, cfg_global_nkeys, key);
	char why[200];

	if (!global) {
		snprintf(err, errlen, "%s: a URL parameter sluice applies to every database: "
			 "set %s in [sluice] instead", param, key);
		return false;
	}
	if (!k || !cfg_key_set(k, global, value, global->dir, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", param, k ? why : "unknown");
		return false;
	}
	return true;
}

bool connstr_apply_url(const struct connurl *u, const char *where, struct db_entry *db,
		       struct config *global, char *err, size_t errlen)
{
	const struct target t = { cfg_db_keys, cfg_db_nkeys, "database", db,
				  db->name ? db->name : "?" };
	const struct { const char *key, *value; } parts[] = {
		{ "host", u->host }, { "dbname", u->dbname }, { "user", u->user },
		{ "password", u->password },
	};
	char port[16];

	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (parts[i].value && !set_key(&t, parts[i].key, parts[i].value, where, err, errlen))
			return false;
	snprintf(port, sizeof port, "%d", u->port);
	if (u->port > 0 && !set_key(&t, "port", port, where, err, errlen))
		return false;
	for (size_t i = 0; i < u->nparams; i++) {
		const char *name = u->params[i].name, *value = u->params[i].value;
		size_t g = 0;
		while (g < sizeof global_params / sizeof global_params[0] &&
		       strcmp(global_params[g].param, name) != 0)
			g++;
		if (g < sizeof global_params / sizeof global_params[0]) {
			if (!set_global_param(name, global_params[g].key, value, global, err, errlen))
				return false;
			continue;
		}
		if (!cfg_key_find(cfg_db_keys, cfg_db_nkeys, name)) {
			snprintf(err, errlen, "%s: unknown URL parameter", name);
			return false;
		}
		if (!set_key(&t, name, value, where, err, errlen))
			return false;
	}
	return true;
}

static bool parse_url(const char *text, const char *where, struct db_entry *db,
		      char *err, size_t errlen)
{
	struct connurl u;
	char why[300];
	bool ok = connurl_parse(text, &u, why, sizeof why);

	if (!ok)
		snprintf(err, errlen, "%s: URL: %s", db->name ? db->name : "?", why);
	else
		ok = connstr_apply_url(&u, where, db, NULL, err, errlen);
	connurl_free(&u);
	return ok;
}

bool connstr_parse(const char *text, const char *where, struct db_entry *db,
		   char *err, size_t errlen)
{
	const struct target t = { cfg_db_keys, cfg_db_nkeys, "database", db,
				  db->name ? db->name : "?" };
	const char *start = text;
	while (is_space(*start))
		start++;
	if (connurl_is_url(start))
		return parse_url(start, where, db, err, errlen);
	return parse_pairs(text, where, &t, err, errlen);
}

bool connstr_parse_user(const char *text, const char *where, struct user_settings *us,
			char *err, size_t errlen)
{
	const struct target t = { cfg_user_keys, cfg_user_nkeys, "user", us,
				  us->name ? us->name : "?" };
	return parse_pairs(text, where, &t, err, errlen);
}

bool connstr_parse_peer(const char *text, const char *where, struct peer_entry *pe,
			char *err, size_t errlen)
{
	const struct target t = { cfg_peer_keys, cfg_peer_nkeys, "peer", pe,
				  pe->name ? pe->name : "?" };
	return parse_pairs(text, where, &t, err, errlen);
}
