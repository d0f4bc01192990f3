/*
 * server.h — one connection to PostgreSQL and its state machine.
 *
 * INTERFACE ROUTINES
 *   server_connect(p, set)     open a new server connection for pool p, to
 *                              log in with startup settings `set`
 *   server_set_owner(ops)      who the server reports to (link.c)
 *   server_setup(s, q, n, k)   send the SETs of a client's parameters (k
 *                              Queries); ops->ready when answered
 *   server_lookup(s, c)        run auth_query for c; ops->lookup_done
 *   server_reset(s)            run server_reset_query, then back to the pool
 *   server_test(s)             run server_check_query, then back to the pool
 *   server_kill(s, code, msg)  close s, telling its client why
 *   server_set_state(s, st)    the one function that moves a server
 *   server_close(s, why)       close and forget it
 *   server_broke(s, why)       the server broke the stream: its client
 *                              is told, it is closed
 */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include "conn.h"
#include "list.h"
#include "log.h"
#include "pool_types.h"
#include "relay.h"
#include "stats.h"
#include "varcache.h"

enum server_state {
	SV_CONNECTING,   /* TCP/unix connect in progress        (busy) */
	SV_TLS,          /* SSLRequest sent, or TLS handshake   (busy) */
	SV_LOGIN,        /* startup sent, authenticating        (busy) */
	SV_IDLE,         /* ready for a client                  (idle) */
	SV_SETUP,        /* applying a client's parameters      (used) */
	SV_ACTIVE,       /* relaying for its client             (used) */
	SV_AUTHQ,        /* running auth_query for a client     (used) */
	SV_RESET,        /* running the reset query             (busy) */
	SV_TEST,         /* running server_check_query          (busy) */
	SV_CANCEL_WAIT,  /* its client let go of it while a cancel
	                  * is in flight: no one's until PostgreSQL
	                  * has taken it (pool_release)        (busy) */
	SV_CLOSED,       /* waiting for the reaper              (none) */
};

struct server_login;   /* auth exchange state, server_login.c */
struct startup_set;    /* startup_set.h */
struct server;
struct client;

#define SERVER_CONTROL_MSG_MAX (1024 * 1024)  /* longest message read whole */

/* What a server tells the owner of the pair it is in (link.c). The
 * server module itself never calls a client's function. */
struct server_owner_ops {
	void (*ready)(struct server *s);     /* linked and set up: its client may go on */
	void (*input)(struct server *s);     /* SV_ACTIVE: bytes for its client */
	void (*drained)(struct server *s);   /* its output went out */
	/* it dies under its client (still linked), or must drop it */
	void (*lost)(struct server *s, const char *sqlstate, const char *msg);
	void (*drop_client)(struct server *s, const char *sqlstate, const char *msg);
	void (*unlink)(struct server *s);    /* closing with its client still linked */
	void (*stop_query)(struct server *s);   /* cancel what runs there */
	void (*statements_dropped)(struct server *s);   /* DISCARD ALL, DEALLOCATE ALL */
	void (*gone)(struct server *s);      /* being freed: forget it */
	/* auth_query answered for c (secret NULL: unknown user, or error) */
	void (*lookup_done)(struct client *c, const char *secret, const char *error);
	/* what the clients' logins taught about a user's secret (server_login.c) */
	const char *(*known_secret)(const char *user);
	bool (*scram_keys)(const char *user, const char *verifier,
			   uint8_t client_key[32], uint8_t server_key[32]);
};
/* What a server tells its pool (link.c fills it with the pool module's
 * functions): the server module never calls the pool by name, and only
 * moves itself between its pool's lists (server_set_state). */
struct startup_set;
struct server_pool_ops {
	void (*ready)(struct server *s);   /* logged in, reset or checked: hand it on */
	void (*gone)(struct server *s);    /* closing: forget it, maybe replace it */
	/* a connect or login failed: the pool's waiting clients may fail */
	void (*login_failed)(struct pool *p, const char *sqlstate, const char *msg);
	/* PostgreSQL refused a setting of `set` at login */
	void (*set_refused)(struct pool *p, struct startup_set *set, const char *sqlstate, const char *msg);
	void (*learned)(struct server *s);   /* its first login's ParameterStatus (s->login_params) */
	void (*ref)(struct pool *p);       /* a server points at p, until it is freed */
	void (*unref)(struct pool *p);
	void (*idle)(struct server *s);    /* SV_IDLE: arm its lifetime and idle timers */
	void (*timer)(struct server *s);   /* one of those fired */
};
void server_set_pool(const struct server_pool_ops *ops);
/* for the module's parts (server_login.c) */
extern const struct server_pool_ops *server_pool;

/* The answer of server_read_value (NULL: the query failed). Return true
 * to keep s (then pass it on, e.g. to server_discard), false to give it
 * back to its pool. */
typedef bool (*server_value_fn)(void *arg, struct server *s, const char *value);

struct server {
	struct conn conn;            /* first: conn <-> server */
	enum server_state state;
	struct list pool_node;
	struct pool *pool;
	struct client *client;
	struct varcache vars;        /* what PostgreSQL reported */
	struct startup_set *set;     /* the startup settings it was opened with (NULL: none) */
	struct param_list login_params;
	struct server_login *login;
	struct server_stmts *stmts;  /* prepared here, and responses owed (prepared.c) */
	struct relay relay;          /* server -> client */
	struct stats_clock clock;    /* its client's query and transaction (stats.c) */
	uint32_t backend_pid, backend_key;
	char txn_status;             /* last ReadyForQuery status */
	int setup_left;              /* SV_SETUP: ReadyForQuery still owed to its SETs */
	double created;
	double idle_since;
	bool used;                   /* has served a client (server_lifetime = 0) */
	bool rows_stmt;              /* has PREPARED_ROWS_NAME (prepared.h) */
	uint32_t unqueued_readies;   /* ReadyForQuery owed to Queries its client sent
	                              * while nothing was owed (prepared.c) */
	bool close_needed;           /* RECONNECT or a new target: close when free */
	int cancels;                 /* cancel requests for it in flight (cancel.c) */
	uint8_t release_after_cancel; /* SV_CANCEL_WAIT: then this POOL_RELEASE_* (pool.c) */
	char last_query[101];        /* the first 100 bytes of the last query its client
	                              * sent (the gate's report); kept here, not per
	                              * client, since only linked clients send any */
	char *authq_secret;          /* auth_query's answer, until ReadyForQuery */
	server_value_fn value_done;  /* server_read_value: who wants the answer */
	void *value_arg;
	char value[64];              /* ...first column of the first row so far */
	bool value_failed;           /* ...or the query failed */
	bool authq_failed;
	const char *violation;       /* set by the relay's hook: how the server
	                              * broke the protocol (static text) */
	bool said_fatal;             /* a FATAL of its went to its client (passed
	                              * in session mode, then nothing more;
	                              * softened to ERROR otherwise) */
};

/* Who a server's log lines are about: S-id, database, user, host:port. */
static inline struct log_who server_who(const struct server *s)
{
	return (struct log_who){ 'S', (unsigned long long)s->conn.id, s->pool->db_name,
				 s->pool->target.user, s->pool->target.host, s->pool->target.port };
}

/* Lines about the servers of auth_query's pools are caused by clients not
 * logged in (under `*`, each made-up database name opens such a pool): at
 * LOG and above they share those clients' log budget (log_limit_budget). */
bool server_log_ok(const struct server *s, int lvl);

#define server_log(s, lvl, fmt, ...) \
	do { if (log_on(lvl) && server_log_ok(s, lvl)) { struct log_who who_ = server_who(s); \
		log_write_at((lvl), &who_, NULL, fmt, ##__VA_ARGS__); } } while (0)

void server_set_owner(const struct server_owner_ops *ops);
/* for the module's parts (server_login.c) */
extern const struct server_owner_ops *server_owner;
bool server_connect(struct pool *p, struct startup_set *set);
void server_setup(struct server *s, const void *queries, size_t len, int count);
void server_lookup(struct server *s, const struct client *c);
void server_note_command(struct server *s, const uint8_t *body, size_t len);
void server_broke(struct server *s, const char *why);
void server_reset(struct server *s);
void server_test(struct server *s);
/* DISCARD ALL on an idle server, then back to the pool (gate RESUME). */
void server_discard(struct server *s);
/* Run q on an idle server and hand the first column of its first row to
 * done (the gate's schema version). */
void server_read_value(struct server *s, const char *q, server_value_fn done, void *arg);
void server_kill(struct server *s, const char *sqlstate, const char *msg);
void server_set_state(struct server *s, enum server_state st);
void server_close(struct server *s, const char *why);
const char *server_state_name(enum server_state st);
/* Not yet logged in: connecting, negotiating TLS or authenticating. */
static inline bool server_logging_in(const struct server *s)
{
	return s->state == SV_CONNECTING || s->state == SV_TLS || s->state == SV_LOGIN;
}

/* server_login.c */
/* Longest message a server may send before its first ReadyForQuery:
 * room for any ParameterStatus within server_login.c's bounds, the SASL
 * exchange and PostgreSQL's ErrorResponse. */
#define SERVER_LOGIN_MSG_MAX (32u * 1024)
bool server_login_start(struct server *s) MUST_CHECK;
/* Give up logging s in: log why, close s, report to its pool. Returns
 * false (for `return server_login_fail(...)`). */
bool server_login_fail(struct server *s, const char *sqlstate, const char *msg);
/* Handles one message during SV_LOGIN; false = login failed (already
 * reported to the pool). */
bool server_login_message(struct server *s, char type, const uint8_t *body, size_t len) MUST_CHECK;
void server_login_free(struct server *s);

#endif
