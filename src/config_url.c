/*
 * config_url.c — the one-line start: a whole configuration from one
 * postgresql:// URL (`sluice URL` or SLUICE_DATABASE_URL), and the
 * DATABASE_URL its clients use.
 *
 * The configuration is what a short sluice.ini would say, built in memory
 * (nothing is written to disk, the password least of all):
 *
 *   [databases]
 *   DB = <the URL, in its [databases] form>
 *   [sluice]
 *   listen_addr = 127.0.0.1        listen_port = 6432      (--listen)
 *   unix_socket_dir =              pool_mode = transaction (--pool-mode)
 *   auth_type = scram-sha-256      default_pool_size = 20  (--pool-size)
 *   admin_users = USER
 *
 * and a user list of one: USER with a SCRAM verifier made from the URL's
 * password with a fresh random salt, so clients log in by SCRAM with the
 * very password sluice logs in to PostgreSQL with (SCRAM, md5 or plain
 * text, as the server asks).
 *
 * INTERFACE ROUTINES: see config.h (config_from_url, config_url_for_clients).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"
#include "connurl.h"
#include "scram.h"
#include "userlist.h"

#define LISTEN_DEFAULT "127.0.0.1:6432"
#define HOST_MAX 256

/* One global key, through the loader's setter; errors say `what: why`. */
static bool set(struct config *cfg, const char *key, const char *value, const char *what,
		char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_key_find(cfg_global_keys, cfg_global_nkeys, key);
	char why[256];

	if (!k || !cfg_key_set(k, cfg, value, cfg->dir, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", what, k ? why : "unknown key");
		return false;
	}
	return true;
}

/* --listen HOST:PORT or [IPv6]:PORT; `*` listens on every address. */
static bool apply_listen(struct config *cfg, const char *s, char *err, size_t errlen)
{
	const char *host = s, *colon;
	size_t hlen;
	char h[HOST_MAX];

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "--listen %s: expected [IPv6]:PORT", s);
			return false;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(err, errlen, "--listen %s: expected HOST:PORT (127.0.0.1:6432, *:6432, [::1]:6432)", s);
			return false;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen)) {
			snprintf(err, errlen, "--listen %s: write an IPv6 address in brackets ([::1]:6432)", s);
			return false;
		}
	}
	if (hlen == 0 || hlen >= sizeof h) {
		snprintf(err, errlen, "--listen %s: %s", s, hlen ? "host name too long"
			 : "no host before the port (127.0.0.1, or * for every address)");
		return false;
	}
	memcpy(h, host, hlen);
	h[hlen] = 0;
	return set(cfg, "listen_addr", h, "--listen", err, errlen) &&
	       set(cfg, "listen_port", colon + 1, "--listen", err, errlen);
}

/* USER, known by a SCRAM verifier of the URL's password. */
static bool add_login(struct config *cfg, const char *user, const char *password,
		      char *err, size_t errlen)
{
	struct scram_secret sec;
	char verifier[256];
	struct user_entry *e = calloc(1, sizeof *e);
	bool ok = e && scram_secret_from_password(password, &sec) &&
		  scram_secret_to_verifier(&sec, verifier, sizeof verifier);

	explicit_bzero(&sec, sizeof sec);
	if (ok && (e->name = strdup(user)) && (e->secret = strdup(verifier))) {
		e->kind = SECRET_SCRAM;
		cfg->users->users = e;
		cfg->users->n = 1;
		return true;
	}
	if (e) {
		free(e->name);
		free(e->secret);
	}
	free(e);
	snprintf(err, errlen, "%s: cannot make the SCRAM secret of user %s", cfg->path, user);
	return false;
}

static bool build(struct config *cfg, const struct config_url_opts *o, const struct connurl *u,
		  char *err, size_t errlen)
{
	const char *dbname = u->dbname ? u->dbname : u->user;   /* libpq's default */
	char why[512];

	if (!strcmp(dbname, "*")) {
		snprintf(err, errlen, "%s: the database name \"*\" names [databases]' fallback; "
			 "name a database", cfg->path);
		return false;
	}
	if (!set(cfg, "unix_socket_dir", "", "unix_socket_dir", err, errlen) ||
	    !set(cfg, "auth_type", "scram-sha-256", "auth_type", err, errlen) ||
	    !set(cfg, "pool_mode", o->pool_mode ? o->pool_mode : "transaction", "--pool-mode", err, errlen) ||
	    (o->pool_size && !set(cfg, "default_pool_size", o->pool_size, "--pool-size", err, errlen)) ||
	    !apply_listen(cfg, o->listen ? o->listen : LISTEN_DEFAULT, err, errlen))
		return false;
	/* the console's list syntax cannot name a user with a comma in it */
	if (!strchr(u->user, ',') && !set(cfg, "admin_users", u->user, "admin_users", err, errlen))
		return false;
	struct db_entry *db = config_add_db(cfg, dbname, err, errlen);
	if (!db)
		return false;
	if (!connstr_apply_url(u, cfg->path, db, cfg, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", cfg->path, why);
		return false;
	}
	int mode = config_db_tls_mode(cfg, db);
	if (mode >= TLS_VERIFY_CA && !cfg->server_tls_ca_file) {
		snprintf(err, errlen, "%s: sslmode=%s needs sslrootcert=FILE (the CA certificates) in the URL",
			 cfg->path, config_tls_mode_name(mode));
		return false;
	}
	return add_login(cfg, u->user, u->password, err, errlen);
}

bool config_from_url(const struct config_url_opts *o, struct config **out, char *err, size_t errlen)
{
	const char *origin = o->origin ? o->origin : "URL";
	struct connurl u;
	struct config *cfg = NULL;
	char why[512], *cwd = NULL;
	bool ok = false;

	*out = NULL;
	if (!connurl_parse(o->url, &u, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", origin, why);
		goto out;
	}
	if (!u.user || !u.password || !*u.password) {
		snprintf(err, errlen, "%s: the URL needs a user and a password (sluice logs in to "
			 "PostgreSQL with them, and clients log in to sluice with them): "
			 "postgresql://USER:PASSWORD@HOST:PORT/DB", origin);
		goto out;
	}
	/* relative paths (sslrootcert=...) resolve against where sluice starts */
	cwd = getcwd(NULL, 0);
	if (!(cfg = config_blank(origin, cwd ? cwd : ".", err, errlen)))
		goto out;
	cfg->from_url = 1;
	if (!build(cfg, o, &u, err, errlen))
		goto out;
	ok = true;
	*out = cfg;
	cfg = NULL;
out:
	config_free(cfg);
	free(cwd);
	connurl_free(&u);
	return ok;
}

char *config_url_for_clients(const struct config *cfg)
{
	char host[HOST_MAX];

	if (!cfg->from_url || cfg->ndbs != 1)
		return NULL;
	const struct db_entry *db = &cfg->dbs[0];
	const char *la = cfg->listen_addr ? cfg->listen_addr : "";
	size_t n = strcspn(la, ",");
	snprintf(host, sizeof host, "%.*s", (int)n, la);
	/* listening on every address: clients here reach it on loopback */
	if (!*host || !strcmp(host, "*") || !strcmp(host, "0.0.0.0"))
		snprintf(host, sizeof host, "127.0.0.1");
	else if (!strcmp(host, "::"))
		snprintf(host, sizeof host, "::1");
	struct connurl u = {
		.user = db->user, .password = db->password, .host = host,
		.port = cfg->listen_port, .dbname = db->name,
	};
	return connurl_build(&u);
}
