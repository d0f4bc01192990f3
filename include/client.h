/*
 * client.h — one application connection and its state machine.
 *
 * INTERFACE ROUTINES
 *   client_accept(fd, addr)        take a new socket from the listener
 *   client_fail(c, sqlstate, fmt)  the one exit path with a reason: send a
 *                                  FATAL ErrorResponse, log, close
 *   client_server_ready(c)         pool/server: c's server is linked, go on
 *   client_login_done(c)           client_auth: authentication succeeded
 *   client_welcome(c)              send AuthenticationOk ... ReadyForQuery
 *   client_relay(c)                move client input toward its server
 *   client_lost_server(c, s, msg)  c's server died under it: fail the
 *                                  session, or (transaction pooling) the
 *                                  work in flight only
 *   client_release_server(c)       transaction over: give the server back
 *   client_set_state(c, st)        the one function that moves a client
 */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "conn.h"
#include "htab.h"
#include "list.h"
#include "log.h"
#include "relay.h"
#include "varcache.h"

enum client_state {
	CL_STARTUP,      /* reading the startup packet */
	CL_AUTH,         /* authenticating */
	CL_AUTH_QUERY,   /* its secret is being looked up with auth_query
	                  * (queued on, then served by, the auth pool) */
	CL_LOGIN_WAIT,   /* authenticated; waiting for a server to learn the
	                  * pool's parameters (queued on the pool) */
	CL_IDLE,         /* logged in, holds no server, nothing to send */
	CL_WAITING,      /* has work, queued for a server */
	CL_ACTIVE,       /* linked to a server */
	CL_ADMIN,        /* logged in to the admin console (admin.c) */
	CL_HELD,         /* its next transaction waits for the gate (client_hold.c);
	                  * session pooling: still linked to its server */
	CL_CLOSED,
};

struct client_auth;   /* client_auth.c */

/* A client's address: an IPv4 or IPv6 one whole; of a unix socket's only
 * the family, which is all sluice looks at. Kept as an address and
 * formatted when shown (client_addr), not kept as text too. */
union client_peer {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

#define CLIENT_ADDR_LEN 64   /* client_addr(): "[v6 address]:port" fits */

/* Every idle client costs this struct (malloc rounds it up to 16 bytes):
 * mind the padding when adding a field. */
enum { NEGOTIATED_SSL = 1, NEGOTIATED_GSSENC = 2 };
struct startup_set;

struct client {
	struct conn conn;            /* first */
	enum client_state state;
	union client_peer peer;      /* for hba rules, SHOW CLIENTS and log lines */
	struct list pool_node;       /* pool's waiting queue */
	struct list all_node;        /* rt.clients */
	union {                      /* never both: one is before login, one after */
		struct list login_node;  /* rt.logins, until authenticated (login_slots.c) */
		struct list hold_node;   /* its gate's held list, while CL_HELD */
	};
	double held_since;           /* rt_now() when held */
	double xact_start;           /* rt_now() when its current transaction began */
	struct pool *pool;
	struct server *server;
	const char *user;            /* strpool strings */
	const char *db_name;
	struct varcache vars;        /* what this client believes is set */
	struct startup_set *set;     /* its startup settings (startup_set.h), NULL: none */
	struct client_auth *auth;
	struct client_stmts *stmts;  /* named prepared statements (prepared.c) */
	struct relay relay;          /* client -> server */
	uint32_t cancel_pid, cancel_key;
	struct htab_node cancel_node;  /* in cancel.c's table, by cancel_pid */
	uint8_t *partial;            /* before login: the start of a message not yet
	                              * complete, out of conn.in (client.c: stash) */
	double wait_since;
	double connect_time;         /* wall clock, for SHOW CLIENTS */
	double request_at;           /* rt_now() of the last request (SHOW CLIENTS) */
	unsigned negotiations;       /* NEGOTIATED_*: the requests answered (each kind once) */
	int lookup_method;           /* auth method waiting on auth_query */
	bool bypass;                 /* gate_bypass_*: never held, own session server */
	bool counted;                /* counted in rt.nclients */
	bool console_waiting;        /* admin: a command waits (PAUSE, WAIT_CLOSE) */
	uint16_t npartial;           /* bytes at partial */
	double connected_at;         /* rt_now() when accepted (age in log lines) */
};

/* "10.0.0.5:53122", "[::1]:53122" or "unix" */
void client_addr(const struct client *c, char *out, size_t n);

/* Who a client's log lines are about: C-id, database, user, address
 * (written into addr, CLIENT_ADDR_LEN bytes). */
static inline struct log_who client_who(const struct client *c, char *addr)
{
	client_addr(c, addr, CLIENT_ADDR_LEN);
	return (struct log_who){ 'C', (unsigned long long)c->conn.id, c->db_name, c->user, addr, 0 };
}

#define client_log(c, lvl, fmt, ...) \
	do { if (log_on(lvl)) { char addr_[CLIENT_ADDR_LEN]; \
		struct log_who who_ = client_who(c, addr_); \
		log_write_at((lvl), &who_, NULL, fmt, ##__VA_ARGS__); } } while (0)

/* client_log for a line a peer can cause before login: limited per peer
 * address and for all peers together (log_limit.h). */
void client_log_peer(struct client *c, int lvl, const char *fmt, ...) PRINTF(3, 4);
/* May another line caused by clients not logged in be written (the budget
 * they all share)? Says first how many were left out, if any. */
bool client_log_budget(int lvl);

void client_accept(int fd, const struct sockaddr *sa, socklen_t len);
void client_fail(struct client *c, const char *sqlstate, const char *fmt, ...) PRINTF(3, 4);
void client_send_error(struct client *c, const char *severity, const char *sqlstate, const char *msg);
void client_server_ready(struct client *c);
void client_login_done(struct client *c);
void client_welcome(struct client *c);
void client_relay(struct client *c);
struct server;
void client_lost_server(struct client *c, struct server *s, const char *sqlstate, const char *msg);
/* c holds its server between transactions or statements: arm the idle
 * (status 'I') or idle-in-transaction ('T', 'E') timeout. */
void client_idle_timer(struct client *c, char txn_status);
void client_release_server(struct client *c);
void client_on_idle_input(struct client *c);
void client_set_state(struct client *c, enum client_state st);
void client_close_normal(struct client *c);
/* KILL: fail every client of database db with msg. */
void client_kill_db(const char *db, const char *msg);
/* The lines log_connections and log_pooler_errors ask for (client.c
 * writes them itself for its own logins and errors; admin.c calls them). */
void client_log_login(struct client *c);
void client_log_error(struct client *c, const char *sqlstate, const char *msg);
/* pool.c: c waited query_wait_timeout in the queue (already left it). */
void client_wait_expired(struct client *c);
const char *client_state_name(enum client_state st);

/* client_hold.c: the gate's side of a client */
/* Between transactions: nothing owed either way, the server idle ('I'). */
bool client_at_boundary(const struct client *c);
/* Inside a transaction (or a query) on a server. */
bool client_in_flight(const struct client *c);
void client_hold(struct client *c);
/* The gate opened: go on with what was held. */
void client_release_hold(struct client *c);
/* Answer the held work (up to its sync point) with an error instead. */
void client_reject_held(struct client *c, const char *sqlstate, const char *msg);

/* client.c, for the module's parts: the one exit path, with the level of
 * its log line when log_disconnections is on. */
void client_close_logged(struct client *c, const char *reason, bool flush, int lvl_on);

/* client_startup.c: the startup packet and what may come before it */
void client_on_startup(struct client *c);
/* At login, its pool known: keep of c->set what the pool mode passes
 * (false: refused, c failed) and fill c->vars with the pool's defaults. */
bool client_startup_settle(struct client *c) MUST_CHECK;
/* Can c be welcomed before it has a server (every value it is told known)? */
bool client_startup_known(const struct client *c);
/* A welcome's ParameterStatus value for `name` (listed: the pool's). */
const char *client_welcome_value(struct client *c, const char *name, const char *listed);

/* Not authenticated yet: holds a login slot (CL_STARTUP, CL_AUTH,
 * CL_AUTH_QUERY). */
bool client_state_before_login(enum client_state st);

/* client_log.c, for the module's parts */
/* May a line about peer `sa`, not logged in, be written (log_limit.h)? */
bool client_log_allowed_addr(const struct sockaddr *sa, int lvl);
void client_log_disconnect(struct client *c, const char *reason, int lvl_on);

/* client_auth.c */
void client_auth_start(struct client *c);
/* auth_query answered: secret NULL when the user is unknown (or the lookup
 * failed: then `error` says why and the client is failed). */
void client_auth_lookup_done(struct client *c, const char *secret, const char *error);
/* The auth_query cache now: its entries and their bytes (auth_cache.h). */
void client_auth_cache_usage(size_t *entries, size_t *bytes);
/* SCRAM pass-through: the keys a client proved for `user` whose stored
 * secret is `verifier`, if one has logged in since it was loaded. */
bool client_auth_scram_keys(const char *user, const char *verifier,
			    uint8_t client_key[32], uint8_t server_key[32]);
/* The SCRAM verifier a client of `user` last proved (from auth_file or
 * auth_query), for logging in to PostgreSQL as that user. */
const char *client_auth_known_secret(const char *user);
void client_auth_message(struct client *c, char type, const uint8_t *body, size_t len);
void client_auth_free(struct client *c);

#endif
