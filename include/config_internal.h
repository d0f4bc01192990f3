/*
 * config_internal.h — the one typed table of configuration keys, and the
 * pieces config.c builds the loader from. For the config module and its
 * tests only; the rest of sluice reads struct config (config.h).
 *
 * Each key is described once: name, type, bounds, default (as text, parsed
 * by the same setter a file value goes through), whether a reload may change
 * it, and where it lives in its struct. Global keys ([sluice]/[pgbouncer])
 * live in struct config, per-database keys ([databases] values) in struct
 * db_entry, per-user keys ([users] values) in struct user_settings, [peers]
 * values in struct peer_entry; the same
 * setter serves all three, so `pool_size=abc` fails exactly like
 * `default_pool_size = abc`.
 *
 * INTERFACE ROUTINES
 *   cfg_key_find(tab, n, name)           entry (case-insensitive) or NULL
 *   cfg_keys_init(tab, n, base, why, l)  store every default into a fresh base
 *   cfg_key_set(k, base, value, dir, why, l)  parse + store one value; on
 *                                        failure `why` is a short reason
 *                                        without file, line or key
 *   cfg_key_equal(k, a, b)               same value in two structs?
 *   cfg_keys_copy(tab, n, dst, src)      dst, a bytewise copy of src, gets
 *                                        copies of src's strings (false: out
 *                                        of memory; dst still frees cleanly)
 *   cfg_key_text(k, base)                the value as text (SHOW CONFIG),
 *                                        malloc'd; NULL: out of memory
 *   cfg_keys_free(tab, n, base)          free the strings base owns
 *   cfg_enum_name(enums, value)          text of an enum value or NULL
 *   cfg_resolve_path(dir, path)          malloc'd: path, or dir/path if relative
 *   cfg_check_cluster(cfg, err, n)       the cluster keys, checked together
 *   connstr_parse(text, where, db, err, l)   one [databases] value into db;
 *                                        err is "KEY: reason"; `where`
 *                                        ("file:line") prefixes warnings
 *   connstr_parse_user(text, where, us, err, l)   the same for one [users]
 *                                        value, with the per-user keys
 *   connstr_parse_peer(text, where, pe, err, l)   ...and one [peers] value
 *   connstr_apply_url(&u, where, db, global, err, l)   a parsed
 *                                        postgresql:// URL into db (the URL
 *                                        form of a [databases] value);
 *                                        parameters that are global keys
 *                                        go to `global`, or are refused
 *                                        when it is NULL
 *   config_blank(name, dir, err, l)      a configuration of defaults, no
 *                                        file behind it, an empty user list
 *   config_add_db(cfg, name, err, l)     a new [databases] entry of
 *                                        defaults (NULL: out of memory)
 *   file_read_all(path, &buf, &len, err, l)  whole file, NUL-terminated
 */
#ifndef SLUICE_CONFIG_INTERNAL_H
#define SLUICE_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"
#include "config.h"

enum cfg_type {
	CFG_INT,         /* int: decimal integer within [min, max] */
	CFG_BOOL,        /* int 0 or 1: 1/0, yes/no, on/off, true/false */
	CFG_STRING,      /* char *: any text, "" allowed */
	CFG_PATH,        /* char *: relative resolves against dir; "" stores NULL */
	CFG_ENUM,        /* int: one of k->enums (case-insensitive) */
	CFG_SECONDS,     /* double: seconds, optional unit ms/s/min/h/d, within [min, max] s */
	CFG_BYTES,       /* int: bytes, optional unit B/kB/MB/GB (1024-based), within [min, max] */
	CFG_UNSUPPORTED, /* a PgBouncer key sluice knows but does not implement: warn, ignore */
};

struct cfg_enum {
	const char *name;
	int value;
	bool unsupported;    /* a valid PgBouncer value sluice does not implement yet */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;       /* into struct config, db_entry, user_settings or peer_entry */
	long long min, max;  /* CFG_INT, CFG_BYTES, CFG_SECONDS */
	const char *def;     /* default, as text; NULL: unset (-1, -1.0, 0 or NULL) */
	const struct cfg_enum *enums; /* CFG_ENUM: ends with { NULL } */
	bool reload_ok;      /* a reload may change it (else: restart) */
};

extern const struct cfg_key cfg_global_keys[];
extern const size_t cfg_global_nkeys;
extern const struct cfg_key cfg_db_keys[];
extern const size_t cfg_db_nkeys;
extern const struct cfg_key cfg_user_keys[];
extern const size_t cfg_user_nkeys;
extern const struct cfg_key cfg_peer_keys[];
extern const size_t cfg_peer_nkeys;
extern const struct cfg_enum cfg_auth_types[];
extern const struct cfg_enum cfg_pool_modes[];
extern const struct cfg_enum cfg_state_policies[];
extern const struct cfg_enum cfg_tls_modes[];
extern const struct cfg_enum cfg_gate_policies[];
extern const struct cfg_enum cfg_gate_resets[];
extern const struct cfg_enum cfg_log_formats[];
extern const struct cfg_enum cfg_syslog_facilities[];

const struct cfg_key *cfg_key_find(const struct cfg_key *tab, size_t n, const char *name);
bool cfg_keys_init(const struct cfg_key *tab, size_t n, void *base,
		   char *why, size_t whylen) MUST_CHECK;
bool cfg_key_set(const struct cfg_key *k, void *base, const char *value, const char *dir,
		 char *why, size_t whylen) MUST_CHECK;
bool cfg_key_equal(const struct cfg_key *k, const void *a, const void *b);
bool cfg_keys_copy(const struct cfg_key *tab, size_t n, void *dst, const void *src) MUST_CHECK;
char *cfg_key_text(const struct cfg_key *k, const void *base);
void cfg_keys_free(const struct cfg_key *tab, size_t n, void *base);
const char *cfg_enum_name(const struct cfg_enum *e, int value);
char *cfg_resolve_path(const char *dir, const char *path);
/* cluster_*: false with err set if the cluster keys do not fit together */
bool cfg_check_cluster(const struct config *cfg, char *err, size_t errlen) MUST_CHECK;

bool connstr_parse(const char *text, const char *where, struct db_entry *db,
		   char *err, size_t errlen) MUST_CHECK;
bool connstr_parse_user(const char *text, const char *where, struct user_settings *us,
			char *err, size_t errlen) MUST_CHECK;
bool connstr_parse_peer(const char *text, const char *where, struct peer_entry *pe,
			char *err, size_t errlen) MUST_CHECK;

struct connurl;
bool connstr_apply_url(const struct connurl *u, const char *where, struct db_entry *db,
		       struct config *global, char *err, size_t errlen) MUST_CHECK;
struct config *config_blank(const char *name, const char *dir, char *err, size_t errlen);
struct db_entry *config_add_db(struct config *cfg, const char *name, char *err, size_t errlen);

bool file_read_all(const char *path, char **buf, size_t *len, char *err, size_t errlen) MUST_CHECK;

#endif
