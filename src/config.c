/*
 * config.c — the ini reader: sections, lines, diagnostics, and loading a
 * whole file into a fresh struct config (a value; reload swaps it).
 *
 *   [sluice] or [pgbouncer]   global keys (config_keys.c)
 *   [databases]               name = key=value ... (connstr.c); `*` = fallback
 *   [users]                   user = key=value ... (connstr.c, per-user keys)
 *   [peers]                   id = host=... port=... pool_size=... (connstr.c)
 *   others                    warned about and skipped
 *   ; or # at line start      comment
 *   %include FILE             textual include (config_load only)
 *
 * A malformed line or a bad value fails the load with "file:line: key:
 * reason"; an unknown key is only a warning naming file and line.
 *
 * INTERFACE ROUTINES: see config.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "config.h"
#include "hba.h"
#include "config_internal.h"
#include "log.h"

#define INCLUDE_DEPTH_MAX 8

enum section { SECT_NONE, SECT_GLOBAL, SECT_DATABASES, SECT_USERS, SECT_PEERS, SECT_IGNORED };

struct parser {
	struct config *cfg;
	bool read_files;        /* config_load: %include may open files */
	int depth;              /* %include nesting */
	enum section sect;      /* carries across %include, as textual inclusion */
	size_t dbcap;
	size_t usercap;
	size_t peercap;
};

/* Where a line came from: file name, its directory, line number. */
struct src {
	const char *name;
	const char *dir;
	int line;
};

static bool PRINTF(3, 4) fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char *trim(char *s)
{
	char *e = s + strlen(s);
	while (is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	*e = 0;
	return s;
}

/* Directory part of a path, lexically: "a/b.ini" -> "a", "b.ini" -> ".". */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static struct config *config_new(const char *path, char *dir, char *err, size_t errlen)
{
	struct config *cfg = calloc(1, sizeof *cfg);
	char why[256];

	if (!cfg || !(cfg->path = strdup(path))) {
		free(dir);
		free(cfg);
		fail(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	cfg->dir = dir;
	if (!dir || !cfg_keys_init(cfg_global_keys, cfg_global_nkeys, cfg, why, sizeof why)) {
		fail(err, errlen, "%s: %s", path, dir ? why : "out of memory");
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static bool parse_section(struct parser *ps, char *s, const struct src *at,
			  char *err, size_t errlen)
{
	char *close = strchr(s, ']');
	char *rest, *name;

	if (!close)
		return fail(err, errlen, "%s:%d: unterminated section header", at->name, at->line);
	*close = 0;
	rest = trim(close + 1);
	if (*rest && *rest != ';' && *rest != '#')
		return fail(err, errlen, "%s:%d: unexpected text after section header", at->name, at->line);
	name = trim(s + 1);
	if (strcasecmp(name, "sluice") == 0 || strcasecmp(name, "pgbouncer") == 0) {
		ps->sect = SECT_GLOBAL;
	} else if (strcasecmp(name, "databases") == 0) {
		ps->sect = SECT_DATABASES;
	} else if (strcasecmp(name, "users") == 0) {
		ps->sect = SECT_USERS;
	} else if (strcasecmp(name, "peers") == 0) {
		ps->sect = SECT_PEERS;
	} else {
		ps->sect = SECT_IGNORED;
		log_warn("%s:%d: unknown section [%s], ignored", at->name, at->line, name);
	}
	return true;
}

static bool parse_text(struct parser *ps, const char *text, size_t len, const char *name,
		       const char *dir, char *err, size_t errlen);

static bool parse_include(struct parser *ps, const char *arg, const struct src *at,
			  char *err, size_t errlen)
{
	char why[512];
	char *path = NULL, *text = NULL, *dir = NULL;
	size_t len;
	bool ok = false;

	if (!*arg)
		return fail(err, errlen, "%s:%d: %%include: missing file name", at->name, at->line);
	if (!ps->read_files)
		return fail(err, errlen, "%s:%d: %%include: not available when parsing from memory",
			    at->name, at->line);
	if (ps->depth >= INCLUDE_DEPTH_MAX)
		return fail(err, errlen, "%s:%d: %%include: nested more than %d deep",
			    at->name, at->line, INCLUDE_DEPTH_MAX);
	if (!(path = cfg_resolve_path(at->dir, arg)) || !(dir = dir_of(path))) {
		fail(err, errlen, "%s:%d: %%include: out of memory", at->name, at->line);
		goto out;
	}
	if (!file_read_all(path, &text, &len, why, sizeof why)) {
		fail(err, errlen, "%s:%d: %%include: %s", at->name, at->line, why);
		goto out;
	}
	ps->depth++;
	ok = parse_text(ps, text, len, path, dir, err, errlen);
	ps->depth--;
out:
	free(text);
	free(dir);
	free(path);
	return ok;
}

static bool set_global(struct parser *ps, const char *key, const char *value,
		       const struct src *at, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_key_find(cfg_global_keys, cfg_global_nkeys, key);
	char why[256];

	if (!k) {
		log_warn("%s:%d: unknown key \"%s\", ignored", at->name, at->line, key);
		return true;
	}
	if (k->type == CFG_UNSUPPORTED) {
		log_warn("%s:%d: %s is not supported yet, ignored", at->name, at->line, k->name);
		return true;
	}
	if (!cfg_key_set(k, ps->cfg, value, at->dir, why, sizeof why))
		return fail(err, errlen, "%s:%d: %s: %s", at->name, at->line, k->name, why);
	return true;
}

/* [databases], [users] and [peers] entries are alike: a name and a line,
 * keys of their own table, and a value in the connection-string syntax.
 * One kind of each describes where its array, count and parts are;
 * add_entry and find_entry serve all three. */
struct entry_kind {
	const char *what;                 /* "database", "user", "peer" (for errors) */
	size_t size;                      /* of one entry */
	size_t array_at, count_at;        /* in struct config */
	size_t cap_at;                    /* in struct parser */
	size_t name_at, line_at;          /* in the entry */
	const struct cfg_key *keys;
	const size_t *nkeys;
	bool (*parse)(const char *text, const char *where, void *entry, char *err, size_t errlen);
};

static bool parse_db(const char *text, const char *where, void *entry, char *err, size_t errlen)
{
	return connstr_parse(text, where, entry, err, errlen);
}

static bool parse_user(const char *text, const char *where, void *entry, char *err, size_t errlen)
{
	return connstr_parse_user(text, where, entry, err, errlen);
}

/* A peer's host is where its cancels go: there is no sensible default (in
 * the so_reuseport shape each instance needs an address of its own). */
static bool parse_peer(const char *text, const char *where, void *entry, char *err, size_t errlen)
{
	struct peer_entry *pe = entry;
	pe->id = atoi(pe->name);     /* canonical decimal: add_peer made it */
	if (!connstr_parse_peer(text, where, pe, err, errlen))
		return false;
	if (!pe->host || !*pe->host)
		return fail(err, errlen, "%s: host is required (where this peer takes cancel requests)",
			    pe->name);
	if (pe->host[0] == '@')
		return fail(err, errlen, "host: abstract unix sockets (\"%s\") are not supported",
			    pe->host);
	struct sockaddr_un un;
	if (pe->host[0] == '/' &&
	    strlen(pe->host) + sizeof "/.s.PGSQL.65535" > sizeof un.sun_path)
		return fail(err, errlen, "host: unix socket directory too long (at most %zu bytes)",
			    sizeof un.sun_path - sizeof "/.s.PGSQL.65535");
	return true;
}

static const struct entry_kind db_kind = {
	"database", sizeof(struct db_entry),
	offsetof(struct config, dbs), offsetof(struct config, ndbs), offsetof(struct parser, dbcap),
	offsetof(struct db_entry, name), offsetof(struct db_entry, line),
	cfg_db_keys, &cfg_db_nkeys, parse_db,
};

static const struct entry_kind user_kind = {
	"user", sizeof(struct user_settings),
	offsetof(struct config, user_settings), offsetof(struct config, nuser_settings),
	offsetof(struct parser, usercap),
	offsetof(struct user_settings, name), offsetof(struct user_settings, line),
	cfg_user_keys, &cfg_user_nkeys, parse_user,
};

/* The fields named by offsets are read and written with memcpy: each has
 * its own type (struct db_entry *, size_t, char *, int). */
static void *field_ptr(const void *base, size_t at)
{
	void *p;
	memcpy(&p, (const char *)base + at, sizeof p);
	return p;
}

static size_t field_size(const void *base, size_t at)
{
	size_t n;
	memcpy(&n, (const char *)base + at, sizeof n);
	return n;
}

static void *find_entry(const struct entry_kind *k, const struct config *cfg, const char *name)
{
	char *arr = field_ptr(cfg, k->array_at);
	size_t n = field_size(cfg, k->count_at);
	for (size_t i = 0; i < n; i++) {
		char *e = arr + i * k->size;
		const char *ename = field_ptr(e, k->name_at);
		if (ename && strcmp(ename, name) == 0)
			return e;
	}
	return NULL;
}

static const struct entry_kind peer_kind = {
	"peer", sizeof(struct peer_entry),
	offsetof(struct config, peers), offsetof(struct config, npeers), offsetof(struct parser, peercap),
	offsetof(struct peer_entry, name), offsetof(struct peer_entry, line),
	cfg_peer_keys, &cfg_peer_nkeys, parse_peer,
};

static struct db_entry *find_db(const struct config *cfg, const char *name)
{
	return find_entry(&db_kind, cfg, name);
}

static struct user_settings *find_user(const struct config *cfg, const char *name)
{
	return find_entry(&user_kind, cfg, name);
}

static void entry_clear(const struct entry_kind *k, void *e)
{
	cfg_keys_free(k->keys, *k->nkeys, e);
	char *name = field_ptr(e, k->name_at), *none = NULL;
	free(name);
	memcpy((char *)e + k->name_at, &none, sizeof none);
}

/* One "name = value" line of a [databases] or [users] section. */
static bool add_entry(const struct entry_kind *k, struct parser *ps, const char *name,
		      const char *value, const struct src *at, char *err, size_t errlen)
{
	struct config *cfg = ps->cfg;
	char where[300], why[256];
	const char *dup = find_entry(k, cfg, name);
	if (dup) {
		int line;
		memcpy(&line, dup + k->line_at, sizeof line);
		return fail(err, errlen, "%s:%d: %s: %s defined twice (first on line %d)",
			    at->name, at->line, name, k->what, line);
	}
	char *arr = field_ptr(cfg, k->array_at);
	size_t n = field_size(cfg, k->count_at), cap = field_size(ps, k->cap_at);
	if (n == cap) {
		size_t ncap = cap ? cap * 2 : 8;
		char *grown = realloc(arr, ncap * k->size);
		if (!grown)
			return fail(err, errlen, "%s:%d: %s: out of memory", at->name, at->line, name);
		arr = grown;
		memcpy((char *)cfg + k->array_at, &arr, sizeof arr);
		memcpy((char *)ps + k->cap_at, &ncap, sizeof ncap);
	}
	char *e = arr + n * k->size;
	memset(e, 0, k->size);
	if (!cfg_keys_init(k->keys, *k->nkeys, e, why, sizeof why))
		return fail(err, errlen, "%s:%d: %s: %s", at->name, at->line, name, why);
	memcpy(e + k->line_at, &at->line, sizeof at->line);
	char *copy = strdup(name);
	if (!copy)
		return fail(err, errlen, "%s:%d: %s: out of memory", at->name, at->line, name);
	memcpy(e + k->name_at, &copy, sizeof copy);
	n++;                      /* from here config_free owns it, even half-set */
	memcpy((char *)cfg + k->count_at, &n, sizeof n);
	snprintf(where, sizeof where, "%s:%d", at->name, at->line);
	if (!k->parse(value, where, e, why, sizeof why))
		return fail(err, errlen, "%s: %s", where, why);
	return true;
}

/* A [peers] key is a peer id: digits only, 1..CONFIG_PEER_ID_MAX, written
 * back in canonical decimal so that "02" and "2" are the same entry. */
static bool add_peer(struct parser *ps, const char *key, const char *value, const struct src *at,
		     char *err, size_t errlen)
{
	long id = 0;
	if (strspn(key, "0123456789") != strlen(key))
		return fail(err, errlen, "%s:%d: %s: a peer id is an integer 1..%d", at->name, at->line,
			    key, CONFIG_PEER_ID_MAX);
	for (const char *p = key; *p && id <= CONFIG_PEER_ID_MAX; p++)
		id = id * 10 + (*p - '0');
	if (id < 1 || id > CONFIG_PEER_ID_MAX)
		return fail(err, errlen, "%s:%d: %s: peer id out of range (1..%d)", at->name, at->line,
			    key, CONFIG_PEER_ID_MAX);
	char name[16];
	snprintf(name, sizeof name, "%ld", id);
	return add_entry(&peer_kind, ps, name, value, at, err, errlen);
}

static bool parse_line(struct parser *ps, char *line, const struct src *at,
		       char *err, size_t errlen)
{
	char *s = trim(line), *eq, *key, *value;

	if (*s == 0 || *s == ';' || *s == '#')
		return true;
	if (*s == '[')
		return parse_section(ps, s, at, err, errlen);
	if (strncmp(s, "%include", 8) == 0 && (s[8] == 0 || is_blank(s[8])))
		return parse_include(ps, trim(s + 8), at, err, errlen);
	if (*s == '%')
		return fail(err, errlen, "%s:%d: unknown directive", at->name, at->line);
	if (!(eq = strchr(s, '=')))
		return fail(err, errlen, "%s:%d: expected \"key = value\" or \"[section]\"",
			    at->name, at->line);
	*eq = 0;
	key = trim(s);
	value = trim(eq + 1);
	if (!*key)
		return fail(err, errlen, "%s:%d: missing key before \"=\"", at->name, at->line);
	switch (ps->sect) {
	case SECT_NONE:
		return fail(err, errlen, "%s:%d: %s: key outside of any section", at->name, at->line, key);
	case SECT_GLOBAL:
		return set_global(ps, key, value, at, err, errlen);
	case SECT_DATABASES:
		return add_entry(&db_kind, ps, key, value, at, err, errlen);
	case SECT_USERS:
		return add_entry(&user_kind, ps, key, value, at, err, errlen);
	case SECT_PEERS:
		return add_peer(ps, key, value, at, err, errlen);
	case SECT_IGNORED:
		break;
	}
	return true;
}

static bool parse_text(struct parser *ps, const char *text, size_t len, const char *name,
		       const char *dir, char *err, size_t errlen)
{
	struct src at = { name, dir, 0 };
	char *buf = malloc(len + 1), *line, *next;
	bool ok = true;

	if (!buf)
		return fail(err, errlen, "%s: out of memory", name);
	memcpy(buf, text, len);
	buf[len] = 0;
	line = buf;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		line += 3;         /* UTF-8 byte order mark */
	for (; ok && line < buf + len; line = next) {
		char *nl = memchr(line, '\n', (size_t)(buf + len - line));
		next = nl ? nl + 1 : buf + len;
		if (nl)
			*nl = 0;
		at.line++;
		if (strlen(line) != (size_t)(next - line) - (nl ? 1 : 0))
			ok = fail(err, errlen, "%s:%d: NUL byte in line", name, at.line);
		else
			ok = parse_line(ps, line, &at, err, errlen);
	}
	free(buf);
	return ok;
}

/* After every line: what needs the whole file. */
static bool finish(struct config *cfg, char *err, size_t errlen)
{
	cfg->fallback = NULL;
	for (size_t i = 0; i < cfg->ndbs; i++)
		if (strcmp(cfg->dbs[i].name, "*") == 0)
			cfg->fallback = &cfg->dbs[i];
	if (cfg->auth_type != AUTH_TRUST && !cfg->auth_file)
		log_warn("%s: auth_type = %s but no auth_file is set: password logins will fail",
			 cfg->path, config_auth_type_name(cfg->auth_type));
	config_warn_gate_bypass(cfg, cfg->path);
	if (cfg->npeers && !cfg->peer_id)
		log_warn("%s: [peers] is set but peer_id is 0: cancel requests are not forwarded "
			 "(give this instance its own peer_id)", cfg->path);
	if (!cfg_check_cluster(cfg, err, errlen))
		return false;
	if (!cfg->users && !(cfg->users = calloc(1, sizeof *cfg->users)))
		return fail(err, errlen, "%s: out of memory", cfg->path);
	return true;
}

static bool parse_into(struct config *cfg, bool read_files, const char *text, size_t len,
		       char *err, size_t errlen)
{
	struct parser ps = { .cfg = cfg, .read_files = read_files, .sect = SECT_NONE };
	return parse_text(&ps, text, len, cfg->path, cfg->dir, err, errlen) &&
	       finish(cfg, err, errlen);
}

bool config_parse_text(const char *text, size_t len, const char *name,
		       struct config **out, char *err, size_t errlen)
{
	struct config *cfg = config_new(name, dir_of(name), err, errlen);

	*out = NULL;
	if (!cfg)
		return false;
	if (!parse_into(cfg, false, text, len, err, errlen)) {
		config_free(cfg);
		return false;
	}
	*out = cfg;
	return true;
}

bool config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	struct userlist *ul;
	char *text = NULL, *lexdir, *dir;
	char why[1024];
	size_t len;
	bool ok = false;

	*out = NULL;
	if (!file_read_all(path, &text, &len, err, errlen))
		return false;
	/* absolute, so a later chdir (daemon, reload) resolves paths the same */
	lexdir = dir_of(path);
	dir = lexdir ? realpath(lexdir, NULL) : NULL;
	if (!dir) {
		dir = lexdir;
		lexdir = NULL;
	}
	free(lexdir);
	if (!(cfg = config_new(path, dir, err, errlen)) ||
	    !parse_into(cfg, true, text, len, err, errlen))
		goto out;
	if (cfg->auth_file) {
		if (!userlist_load(cfg->auth_file, &ul, why, sizeof why)) {
			fail(err, errlen, "%s: auth_file: %s", path, why);
			goto out;
		}
		userlist_free(cfg->users);
		cfg->users = ul;
	}
	if (cfg->auth_type == AUTH_HBA) {
		if (!cfg->auth_hba_file) {
			fail(err, errlen, "%s: auth_type = hba needs auth_hba_file", path);
			goto out;
		}
		if (!hba_load(cfg->auth_hba_file, &cfg->hba, why, sizeof why)) {
			fail(err, errlen, "%s: auth_hba_file: %s", path, why);
			goto out;
		}
		/* PostgreSQL refuses such a rule without a root certificate store */
		struct hba_match cc = hba_find_clientcert(cfg->hba);
		if (cc.line && !cfg->client_tls_ca_file) {
			fail(err, errlen, "%s: auth_hba_file: %s:%d: %s: client certificates can only be "
			     "checked if client_tls_ca_file is set", path, cfg->auth_hba_file, cc.line,
			     cc.method == HBA_CERT ? "cert" : "clientcert");
			goto out;
		}
	}
	ok = true;
	*out = cfg;
	cfg = NULL;
out:
	config_free(cfg);
	free(text);
	return ok;
}

bool config_reload_check(const struct config *old, const struct config *next,
			 char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg_global_nkeys; i++) {
		const struct cfg_key *k = &cfg_global_keys[i];
		if (k->type == CFG_UNSUPPORTED || k->reload_ok || cfg_key_equal(k, old, next))
			continue;
		return fail(err, errlen, "%s: %s: cannot be changed by a reload, restart sluice",
			    next->path, k->name);
	}
	return true;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->ndbs; i++)
		entry_clear(&db_kind, &cfg->dbs[i]);
	free(cfg->dbs);
	for (size_t i = 0; i < cfg->nuser_settings; i++)
		entry_clear(&user_kind, &cfg->user_settings[i]);
	free(cfg->user_settings);
	for (size_t i = 0; i < cfg->npeers; i++)
		entry_clear(&peer_kind, &cfg->peers[i]);
	free(cfg->peers);
	cfg_keys_free(cfg_global_keys, cfg_global_nkeys, cfg);
	userlist_free(cfg->users);
	hba_free(cfg->hba);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

/* The admin console's names. The `*` fallback never covers them: a client
 * naming one reaches the console (and its rules), never PostgreSQL. Only
 * an entry listing the name itself takes it from the console. */
bool config_console_name(const char *name)
{
	return !strcmp(name, "sluice") || !strcmp(name, "pgbouncer");
}

struct log_settings config_log_settings(const struct config *cfg)
{
	return (struct log_settings){
		.log_format = cfg->log_format, .verbose = cfg->verbose,
		.use_syslog = cfg->use_syslog != 0, .syslog_facility = cfg->syslog_facility,
		.syslog_ident = cfg->syslog_ident, .logfile = cfg->logfile,
	};
}

const struct db_entry *config_find_db(const struct config *cfg, const char *name)
{
	const struct db_entry *db = name ? find_db(cfg, name) : NULL;
	if (db)
		return db;
	return name && config_console_name(name) ? NULL : cfg->fallback;
}

/* Pools of such a database are made on demand, and freed when unused for
 * autodb_idle_timeout (pool.c). */
bool config_db_auto(const struct config *cfg, const char *name)
{
	const struct db_entry *db = config_find_db(cfg, name);
	return !db || db == cfg->fallback;
}

int config_db_pool_size(const struct config *cfg, const struct db_entry *db)
{
	return db && db->pool_size >= 0 ? db->pool_size : cfg->default_pool_size;
}

int config_db_pool_mode(const struct config *cfg, const struct db_entry *db)
{
	return db && db->pool_mode >= 0 ? db->pool_mode : cfg->pool_mode;
}

int config_db_tls_mode(const struct config *cfg, const struct db_entry *db)
{
	return db && db->server_tls_sslmode >= 0 ? db->server_tls_sslmode : cfg->server_tls_sslmode;
}

struct config *config_blank(const char *name, const char *dir, char *err, size_t errlen)
{
	char *d = strdup(dir);
	struct config *cfg = d ? config_new(name, d, err, errlen) : NULL;
	if (!d)
		fail(err, errlen, "%s: out of memory", name);
	if (cfg && !(cfg->users = calloc(1, sizeof *cfg->users))) {
		fail(err, errlen, "%s: out of memory", name);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct db_entry *config_add_db(struct config *cfg, const char *name, char *err, size_t errlen)
{
	char why[256];
	struct db_entry *grown = realloc(cfg->dbs, (cfg->ndbs + 1) * sizeof *grown);
	if (!grown) {
		fail(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	cfg->dbs = grown;
	cfg->fallback = NULL;     /* the array moved; find it again */
	for (size_t i = 0; i < cfg->ndbs; i++)
		if (strcmp(cfg->dbs[i].name, "*") == 0)
			cfg->fallback = &cfg->dbs[i];
	struct db_entry *db = &cfg->dbs[cfg->ndbs];
	memset(db, 0, sizeof *db);
	if (!cfg_keys_init(cfg_db_keys, cfg_db_nkeys, db, why, sizeof why)) {
		fail(err, errlen, "%s: %s", name, why);
		return NULL;
	}
	if (!(db->name = strdup(name))) {
		cfg_keys_free(cfg_db_keys, cfg_db_nkeys, db);
		fail(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	cfg->ndbs++;
	if (!strcmp(name, "*"))
		cfg->fallback = db;
	return db;
}

const struct user_settings *config_find_user(const struct config *cfg, const char *user)
{
	return user ? find_user(cfg, user) : NULL;
}

const struct peer_entry *config_find_peer(const struct config *cfg, int id)
{
	for (size_t i = 0; i < cfg->npeers; i++)
		if (cfg->peers[i].id == id)
			return &cfg->peers[i];
	return NULL;
}

int config_pool_mode_for(const struct config *cfg, const struct db_entry *db, const char *user)
{
	const struct user_settings *us = config_find_user(cfg, user);
	return us && us->pool_mode >= 0 ? us->pool_mode : config_db_pool_mode(cfg, db);
}

int config_state_policy_for(const struct config *cfg, const struct db_entry *db, const char *user)
{
	const struct user_settings *us = config_find_user(cfg, user);
	if (us && us->state_policy >= 0)
		return us->state_policy;
	return db && db->state_policy >= 0 ? db->state_policy : cfg->state_policy;
}

/*
 * As in PgBouncer, a user's 0 means "the global value", not "no limit":
 * a pgbouncer.ini that says max_user_connections=0 for a user keeps the
 * global limit under sluice too.
 */
int config_max_user_connections(const struct config *cfg, const char *user)
{
	const struct user_settings *us = config_find_user(cfg, user);
	return us && us->max_user_connections > 0 ? us->max_user_connections
						  : cfg->max_user_connections;
}

bool config_list_has(const char *list, const char *name)
{
	size_t nlen = name ? strlen(name) : 0;
	const char *p = list;

	if (!list || nlen == 0)
		return false;
	while (*p) {
		const char *start, *end;
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		if ((size_t)(end - start) == nlen && memcmp(start, name, nlen) == 0)
			return true;
	}
	return false;
}

const char *config_auth_type_name(int t)
{
	const char *s = cfg_enum_name(cfg_auth_types, t);
	return s ? s : "unknown";
}

const char *config_tls_mode_name(int m)
{
	const char *s = cfg_enum_name(cfg_tls_modes, m);
	return s ? s : "unknown";
}

const char *config_pool_mode_name(int m)
{
	const char *s = cfg_enum_name(cfg_pool_modes, m);
	return s ? s : "unknown";
}

static bool list_is_empty(const char *list)
{
	for (const char *p = list; p && *p; p++)
		if (*p != ',' && !isspace((unsigned char)*p))
			return false;
	return true;
}

bool config_gate_bypass(const struct config *cfg, const char *user, const char *application_name)
{
	if (!config_list_has(cfg->gate_bypass_users, user))
		return false;
	return list_is_empty(cfg->gate_bypass_application_names) ||
	       config_list_has(cfg->gate_bypass_application_names, application_name);
}

void config_warn_gate_bypass(const struct config *cfg, const char *where)
{
	if (list_is_empty(cfg->gate_bypass_users) && !list_is_empty(cfg->gate_bypass_application_names))
		log_warn("%s: gate_bypass_application_names is set but gate_bypass_users is empty: "
			 "it has no effect (application names only narrow gate_bypass_users; "
			 "a client chooses its own application_name)", where);
}
