/*
 * config.h — sluice's configuration as a value.
 *
 * INTERFACE ROUTINES
 *   config_load(path, &cfg, err, errlen)   parse + validate a whole file into
 *                                         a fresh struct config; on failure
 *                                         err says "file:line: key: reason"
 *   config_parse_text(text, len, name, &cfg, err, errlen)   the same from
 *                                         memory, without touching files
 *   config_reload_check(old, next, err, errlen)   may a reload go from old
 *                                         to next? (some keys need a restart)
 *   config_free(cfg)                      free it (NULL is a no-op)
 *   config_find_db(cfg, name)             [databases] entry, or the `*`
 *                                         fallback, or NULL
 *   config_db_auto(cfg, name)             is name served by the fallback
 *                                         (or by no entry at all)?
 *   config_console_name(name)             sluice / pgbouncer: the console's,
 *                                         never the fallback's
 *   config_db_pool_size / config_db_pool_mode   entry value or global default
 *   config_find_peer(cfg, id)             [peers] entry or NULL
 *   config_copy(cfg)                      a copy sharing nothing with cfg
 *   config_with_setting(cfg, key, value, &next, err, errlen)   SET: a copy
 *                                         of cfg with one key changed,
 *                                         parsed as the loader parses it
 *   config_key_next(&cursor, &info)       the keys SHOW CONFIG lists
 *   config_key_value(cfg, key)            a key's value as SHOW CONFIG
 *                                         prints it (malloc'd)
 *   config_from_url(&opts, &cfg, err, errlen)   the one-line start: a whole
 *                                         configuration from one
 *                                         postgresql:// URL (config_url.c)
 *   config_url_for_clients(cfg)           the DATABASE_URL clients of such
 *                                         a configuration use (malloc'd)
 *   config_db_tls_mode(cfg, db)           an entry's sslmode, else the
 *                                         global server_tls_sslmode
 *
 * Reload and SET build a new struct and swap one pointer
 * (lifecycle_swap); nothing here is global.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"
#include "log.h"
#include "userlist.h"

struct hba_rules;

enum auth_type { AUTH_TRUST = 0, AUTH_PLAIN, AUTH_MD5, AUTH_SCRAM, AUTH_HBA, AUTH_CERT };
enum pool_mode { POOL_SESSION = 0, POOL_TRANSACTION, POOL_STATEMENT };
enum gate_policy { GATE_POLICY_REOPEN = 0, GATE_POLICY_CANCEL };
/* transaction_session_state: what a transaction-pooled client's session
 * state (SET, advisory locks, LISTEN, ...) meets (session_state.c) */
enum state_policy { STATE_ALLOW = 0, STATE_WARN, STATE_REFUSE, STATE_PIN };
enum gate_reset { GATE_RESET_DISCARD = 0, GATE_RESET_RECONNECT, GATE_RESET_NONE };
enum tls_mode { TLS_DISABLE = 0, TLS_ALLOW, TLS_PREFER, TLS_REQUIRE, TLS_VERIFY_CA, TLS_VERIFY_FULL };

/* One [users] entry: `name = pool_mode=transaction max_user_connections=5`.
 * Unset ints are -1. */
struct user_settings {
	char *name;
	int pool_mode;
	int max_user_connections;
	int state_policy;    /* enum state_policy, -1: the database's */
	int line;
};

/* One [databases] entry. Unset ints are -1, unset strings NULL. */
struct db_entry {
	char *name;          /* key in [databases]; "*" for the fallback */
	char *host;          /* NULL or "" : unix socket default; "/path": socket dir */
	int port;            /* -1 : 5432 */
	char *dbname;        /* NULL : same as the client's database name */
	char *user;          /* NULL : the client's user; else forced user */
	char *password;      /* NULL : take from auth_file */
	int pool_size;       /* -1 : default_pool_size */
	int pool_mode;       /* -1 : global pool_mode; else enum pool_mode */
	int state_policy;    /* -1 : global transaction_session_state */
	int max_db_connections; /* -1 : global */
	int min_pool_size;   /* -1 : global */
	int reserve_pool;    /* -1 : global reserve_pool_size */
	int server_tls_sslmode; /* -1 : global server_tls_sslmode; else enum tls_mode
	                      * (the entry's `sslmode`, libpq's name) */
	int line;            /* where it was defined, for messages */
};

/* One [peers] entry: `2 = host=/run/sluice-2 port=6432 pool_size=10`, where
 * cancel requests whose key carries peer id 2 are forwarded. Unset ints
 * are -1. */
struct peer_entry {
	char *name;          /* the id as a key in [peers], in canonical decimal */
	int id;              /* 1..CONFIG_PEER_ID_MAX */
	char *host;          /* required: host name, IP address or "/dir" of a unix socket */
	int port;            /* -1 : 6432 */
	int pool_size;       /* -1 : default_pool_size; forwards to it in flight at most */
	int line;            /* where it was defined, for messages */
};

#define CONFIG_PEER_ID_MAX 16383   /* PgBouncer's bound: 14 bits of the cancel key */
#define CONFIG_PEER_PORT 6432      /* a [peers] entry's default port */

struct config {
	char *path;                  /* file it came from; a label when from_url */
	int from_url;                /* bool: built by config_from_url, no file to reload */
	char *dir;                   /* its directory: relative paths resolve here */

	/* [sluice] / [pgbouncer] */
	char *listen_addr;           /* comma list; "*" = all IPv4+IPv6; "" = none */
	int listen_port;             /* 6432 */
	char *unix_socket_dir;       /* "/tmp"; "" disables */
	int so_reuseport;            /* bool: several processes share the port */
	int tcp_defer_accept;        /* bool: TCP listeners wake when the first bytes come */
	int auth_type;               /* enum auth_type, default md5 */
	char *auth_file;             /* resolved path or NULL */
	int pool_mode;               /* enum pool_mode, default session */
	int default_pool_size;       /* 20 */
	int max_client_conn;         /* 100 */
	int max_login_clients;       /* 1000: not yet authenticated */
	int max_db_connections;      /* 0 = unlimited */
	char *server_reset_query;    /* "DISCARD ALL"; "" = none */
	double query_wait_timeout;   /* seconds, 120; 0 = forever */
	double client_login_timeout; /* seconds, 60; 0 = forever */
	double server_connect_timeout; /* seconds, 15 */
	char *logfile;               /* NULL/"" = stderr only */
	char *pidfile;               /* NULL/"" = none */
	char *admin_users;           /* comma list */
	char *stats_users;           /* comma list */
	char *ignore_startup_parameters; /* comma list */
	int max_packet_size;         /* bytes, 1 GiB; longest accepted message */
	int verbose;                 /* extra debug levels from the file */

	/* logging (applied by log_configure) */
	int log_connections;         /* bool, 1: a line per successful login */
	int log_disconnections;      /* bool, 1: a line per close, with the reason */
	int log_pooler_errors;       /* bool, 1: a line per error sluice sends a client */
	int log_query_text;          /* bool, 0: reports name a query by its command words only */
	int log_format;              /* enum log_format: text (default) or logfmt */
	int use_syslog;              /* bool, 0: also send lines to syslog(3) ("syslog") */
	char *syslog_ident;          /* "sluice" */
	int syslog_facility;         /* enum log_facility, daemon */

	/* pooling, timeouts and recycling (seconds; 0 = off unless noted) */
	int server_reset_query_always; /* bool, 0: reset only in session mode */
	double server_lifetime;      /* 3600: close a server this old when released */
	double server_idle_timeout;  /* 600: close a server idle this long */
	double server_login_retry;   /* 15: after a failed connect/login, wait this
	                              * long before trying again; clients arriving
	                              * meanwhile get the error at once */
	double query_timeout;        /* 0: cancel a query running this long */
	double client_idle_timeout;  /* 0: close a client idle (no server) this long */
	double idle_transaction_timeout; /* 0: close a client idle in transaction this long */
	int min_pool_size;           /* 0: keep this many servers open per pool */
	int reserve_pool_size;       /* 0: extra servers when clients wait too long */
	double autodb_idle_timeout;  /* 3600: free a pool of the `*` fallback that
	                              * has had no client and no server this long */
	double reserve_pool_timeout; /* 5: how long a client waits before the reserve is used */
	int max_user_connections;    /* 0 = unlimited; servers per user over all pools */
	char *server_check_query;    /* "select 1"; "" = none */
	double server_check_delay;   /* 30: check a server idle longer than this */
	char *track_extra_parameters; /* comma list, added to the tracked set */
	int max_prepared_statements; /* 200: per server connection; 0 = no tracking */
	int max_client_prepared_statements; /* 10000: named statements one client may hold */
	int max_client_prepared_bytes;      /* 64MB: their names and texts */
	int state_policy;            /* enum state_policy, warn (transaction_session_state) */
	int max_pinned_servers;      /* 0: half the pool (at least 1) may be pinned */

	int stats_period;            /* 60: seconds between SHOW STATS_AVERAGES updates */
	int stats_legacy_columns;    /* 0: SHOW STATS adds PgBouncer 1.7's total_requests, avg_req, avg_query */
	char *metrics_listen;        /* "": off; else host:port of /metrics and /health */

	/* TLS toward clients and toward PostgreSQL (PgBouncer's keys) */
	int client_tls_sslmode;      /* enum tls_mode, disable */
	char *client_tls_key_file, *client_tls_cert_file, *client_tls_ca_file;
	char *client_tls_protocols;  /* "secure" = TLS 1.2 and 1.3 */
	char *client_tls_ciphers, *client_tls13_ciphers;
	int server_tls_sslmode;      /* enum tls_mode, prefer */
	char *server_tls_ca_file, *server_tls_key_file, *server_tls_cert_file;
	char *server_tls_protocols;
	char *server_tls_ciphers, *server_tls13_ciphers;

	/* the migration gate (gate.c; seconds) */
	double gate_drain_timeout;   /* 30: PAUSE's default drain deadline */
	int gate_drain_policy;       /* enum gate_policy: at the deadline, reopen or cancel */
	char *gate_bypass_users;     /* comma list: never held, own server */
	char *gate_bypass_application_names; /* comma list: narrows gate_bypass_users */
	int gate_auto;               /* bool: a bypass login closes its database's gate */
	int gate_resume_reset;       /* enum gate_reset: refresh servers at RESUME */
	double gate_hold_timeout;    /* 60: longest a client is held; 0 = no limit */
	double gate_max_pause;       /* 300: a gate closed this long reopens; 0 = never */

	/* cancels across instances (peers.c, doc/cluster.md) */
	int peer_id;                 /* 0: off; else this instance's id in its keys */
	struct peer_entry *peers;    /* [peers] entries in file order */
	size_t npeers;

	/* a cluster of instances (cluster.c, cluster_gate.c, doc/cluster.md) */
	char *cluster_name;          /* "": no cluster, nothing of it runs */
	char *cluster_dsn;           /* "": the first database's server */
	char *cluster_schema;        /* "sluice_cluster": an SQL identifier */
	char *cluster_address;       /* "": where peers forward cancels (unix socket, else TCP) */
	double cluster_member_timeout; /* 10: a member without heartbeat this long is dead */
	double cluster_heartbeat;    /* 1: seconds between heartbeats */

	struct user_settings *user_settings; /* [users] entries */
	size_t nuser_settings;

	struct db_entry *dbs;        /* [databases] entries in file order */
	size_t ndbs;
	struct db_entry *fallback;   /* the "*" entry inside dbs, or NULL */

	struct userlist *users;      /* loaded auth_file (empty if none) */
	char *auth_hba_file;         /* pg_hba.conf-style rules for auth_type = hba */
	char *auth_user;             /* looks up users missing from auth_file */
	char *auth_query;            /* ...with this query ($1 = the user name) */
	double auth_cache_lifetime;  /* seconds a looked-up secret is reused */
	double auth_cache_negative_lifetime; /* ...and a "no such user" answer */
	int auth_cache_max_entries;  /* bounds of that cache (auth_cache.h) */
	int auth_cache_max_bytes;
	int auth_query_max_in_flight; /* lookups running at once, per database */
	struct hba_rules *hba;       /* loaded from it */
};

/*
 * struct config owns every pointer in it. config_copy (config_set.c) copies
 * the key table's strings and each pointer below the keys by hand: a new
 * pointer field needs a line there too.
 */
bool config_load(const char *path, struct config **out, char *err, size_t errlen) MUST_CHECK;
/*
 * Parse text as if it were the file `name` (used in messages; relative
 * paths resolve against its directory), touching no file: %include fails
 * and auth_file is not read, so cfg->users is empty. For tests and fuzzing.
 */
bool config_parse_text(const char *text, size_t len, const char *name,
		       struct config **out, char *err, size_t errlen) MUST_CHECK;
/* false, with err naming the key, if `next` changes a key only a restart may change. */
bool config_reload_check(const struct config *old, const struct config *next,
			 char *err, size_t errlen) MUST_CHECK;
void config_free(struct config *cfg);
const struct db_entry *config_find_db(const struct config *cfg, const char *name);
/* cfg's logging keys, for log_configure (pointers into cfg) */
struct log_settings config_log_settings(const struct config *cfg);
bool config_db_auto(const struct config *cfg, const char *name);
bool config_console_name(const char *name);
int config_db_pool_size(const struct config *cfg, const struct db_entry *db);
int config_db_pool_mode(const struct config *cfg, const struct db_entry *db);
/* Effective pool mode for (db, user): [users] beats [databases] beats global. */
int config_pool_mode_for(const struct config *cfg, const struct db_entry *db, const char *user);
/* transaction_session_state for a user of a database: [users], [databases], global */
int config_state_policy_for(const struct config *cfg, const struct db_entry *db, const char *user);
int config_max_user_connections(const struct config *cfg, const char *user);
const struct user_settings *config_find_user(const struct config *cfg, const char *user);
/* The [peers] entry for id, or NULL */
const struct peer_entry *config_find_peer(const struct config *cfg, int id);

/* Is `name` in the comma-separated list `list`? (whitespace around items ignored) */
bool config_list_has(const char *list, const char *name);

/* Is a login of `user` with `application_name` (may be NULL) a gate bypass?
 * The role earns it: the user must be in gate_bypass_users; a non-empty
 * gate_bypass_application_names narrows that to logins naming one of its
 * entries, and never admits anyone by itself (a client picks its own name). */
bool config_gate_bypass(const struct config *cfg, const char *user, const char *application_name);
/* Warn (prefixed by `where`) when gate_bypass_application_names is set with
 * no gate_bypass_users: the key then has no effect. */
void config_warn_gate_bypass(const struct config *cfg, const char *where);

struct config *config_copy(const struct config *cfg);

/* What config_with_setting made of SET key = value. */
enum config_set {
	CONFIG_SET_OK,
	CONFIG_SET_UNKNOWN,   /* no such key (or one sluice does not implement) */
	CONFIG_SET_FIXED,     /* only a restart, or an edit of the file and a reload, changes it */
	CONFIG_SET_INVALID,   /* the value does not parse or is out of range */
	CONFIG_SET_NOMEM,
};
/*
 * A new configuration: a copy of cfg with the global key `key` (any case)
 * set to `value` by the setter the loader uses, so it is checked the same
 * way. CONFIG_SET_OK: *next is the caller's. Otherwise *next is NULL and
 * err says "key: why". cfg itself is never changed.
 */
enum config_set config_with_setting(const struct config *cfg, const char *key, const char *value,
				    struct config **next, char *err, size_t errlen) MUST_CHECK;

/* SHOW CONFIG: the global keys sluice implements, in the key table's order. */
struct config_key_info {
	const char *name;
	const char *def;      /* the default as text; NULL: none */
	bool reload_ok;       /* a reload may change it */
};
/* Start with *cursor = 0; false after the last key. */
bool config_key_next(size_t *cursor, struct config_key_info *info);
/* The key's value in cfg as text, malloc'd; NULL: no such key, or out of memory. */
char *config_key_value(const struct config *cfg, const char *key);

/*
 * The one-line start (`sluice postgresql://USER:PASSWORD@HOST:PORT/DB`):
 * one [databases] entry named DB (the URL's database, else its user, as
 * libpq defaults), which logs in to PostgreSQL as the URL's user with its
 * password; that login as the only user toward clients, by SCRAM with the
 * same password (a verifier made in memory); transaction pooling on
 * 127.0.0.1:6432, no unix socket, the user in admin_users. listen
 * ("HOST:PORT", "[v6]:PORT"), pool_mode and pool_size override; NULL keeps
 * the default. `origin` labels the configuration in messages (cfg->path).
 */
struct config_url_opts {
	const char *url;
	const char *origin;
	const char *listen;
	const char *pool_mode;
	const char *pool_size;
};
bool config_from_url(const struct config_url_opts *o, struct config **out,
		     char *err, size_t errlen) MUST_CHECK;
char *config_url_for_clients(const struct config *cfg);
int config_db_tls_mode(const struct config *cfg, const struct db_entry *db);

/* Text of enum values, for messages and SHOW CONFIG later. */
const char *config_auth_type_name(int t);
const char *config_pool_mode_name(int m);
const char *config_tls_mode_name(int m);

#endif
