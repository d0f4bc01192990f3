/*
 * pool.h — server pools keyed by (database, user): bounded size, a FIFO
 * queue of waiting clients, hand-over at release, limits per database.
 *
 * INTERFACE ROUTINES
 *   pool_get(db_name, user, entry)    find or create the pool
 *   pool_acquire(p, c)                link c to an idle server, or queue it
 *                                     (and open a server if the limits allow)
 *   pool_unqueue(c)                   take a waiting client off the queue
 *   pool_release(s, how)              the client let go of s; reuse or close
 *                                     (once no cancel for s is in flight)
 *   pool_cancel_settled(s)            the last cancel in flight for s is
 *                                     taken (cancel.c's callback)
 *   pool_server_ready(s)              s finished login or reset: hand it on
 *   pool_server_gone(s)               s is closing: forget it, maybe replace
 *   pool_login_failed(p, sqlstate, msg)  fail the clients waiting for p
 *   pool_get_counts(p, &counts)       clients and servers by state (SHOW
 *                                     POOLS, /metrics)
 *   pool_ref(p) / pool_unref(p)       a logged-in client or a server points
 *                                     at p (until it is freed)
 *
 * Servers are opened with the startup settings of the client they are
 * opened for (startup_set.h); an idle server of the client's own set is
 * taken first (pool_sets.c, doc/pooling.md).
 *
 * A server's state is also the list it sits on (idle / used / busy); only
 * server_set_state() moves it.
 *
 * Pools of a database the configuration does not list by name (the `*`
 * fallback's) are freed once nothing points at them (no reference, no
 * client waiting) for autodb_idle_timeout; sluice's own (auth_query) pools
 * of such a database, and pools whose login failed for good (no such
 * database, a refused login), on the next turn of the loop. The last pool
 * of such a database takes its counters and its gate along. Freeing
 * happens only in the pool's own timer.
 */
#ifndef SLUICE_POOL_H
#define SLUICE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "compiler.h"
#include "list.h"
#include "pool_types.h"
#include "varcache.h"

struct client;
struct server;
struct db_entry;
struct loop_ev;
struct stats_db;

/* A pool's clients and servers by state, with SHOW POOLS's meanings. */
struct pool_counts {
	int cl_active;               /* logged in, not waiting for a server */
	int cl_waiting;              /* queued for a server */
	int sv_active;               /* linked to a client */
	int sv_idle;
	int sv_used;                 /* running the reset query */
	int sv_tested;               /* running server_check_query */
	int sv_being_canceled;       /* let go of, waiting for a cancel to be taken */
	int sv_login;                /* connecting or logging in */
	double maxwait;              /* seconds the oldest waiting client has waited */
};

struct pool *pool_get(const char *db_name, const char *user, const struct db_entry *entry) MUST_CHECK;
/* The pool that runs auth_query for a database, as auth_user; apart from
 * any pool clients use. */
struct pool *pool_get_auth(const char *db_name, const char *auth_user,
			   const struct db_entry *entry) MUST_CHECK;
/* The pool of gate bypass sessions of (db, user). */
struct pool *pool_get_bypass(const char *db_name, const char *user,
			     const struct db_entry *entry) MUST_CHECK;
/* What a pool tells the owner of its clients (link.c): the pool module
 * never calls a client's function. */
struct pool_owner_ops {
	void (*give)(struct server *s, struct client *c);   /* s is c's now */
	/* no server will come for c (its login failed for good) */
	void (*fail)(struct client *c, const char *sqlstate, const char *msg);
	void (*wait_expired)(struct client *c);   /* query_wait_timeout, off the queue */
	void (*stop_query)(struct server *s);     /* cancel what its client left running */
	/* the gate of a database (NULL: no memory), and its last pool gone */
	struct gate *(*gate_of)(const char *db_name);
	void (*database_gone)(const char *db_name);
};
void pool_set_owner(const struct pool_owner_ops *ops);
/* for the module's parts (pool_sets.c) */
extern const struct pool_owner_ops *pool_owner;
/* Returns true when c was linked at once (server ready or being set up). */
bool pool_acquire(struct pool *p, struct client *c);
void pool_unqueue(struct client *c);
/* How a client lets go of its server. */
enum pool_release {
	POOL_RELEASE_CLOSE,   /* something may still run there: cancel it, close */
	POOL_RELEASE_RESET,   /* reuse, after server_reset_query where it applies */
	POOL_RELEASE_KEEP,    /* reuse as it is */
	POOL_RELEASE_DISCARD, /* reuse after DISCARD ALL, whatever server_reset_query says */
};
void pool_release(struct server *s, enum pool_release how);
void pool_cancel_settled(struct server *s);
void pool_server_ready(struct server *s);
void pool_server_gone(struct server *s);
void pool_login_failed(struct pool *p, const char *sqlstate, const char *msg);
/* Open servers the pool needs now (waiting clients, min_pool_size). */
void pool_launch(struct pool *p);
/* Is the pool unable to reach its server right now? */
bool pool_is_failing(const struct pool *p);
/* Shutting down (SIGINT): no server for anyone. */
bool pool_held(const struct pool *p);
/* Take the running configuration's settings for this pool (reload, SET). */
void pool_reconfigure(struct pool *p);

/* pool_ops.c: acting on every pool of a database (db NULL: of all). */
int pool_db_servers(const char *db, bool close_needed_only);
void pool_db_close_idle(const char *db, const char *why);
void pool_db_reconnect(const char *db);
void pool_db_kill_servers(const char *db, const char *why);
void pool_reconfigure_all(void);
/* Close p's servers as they come free (idle ones now). */
void pool_mark_reconnect(struct pool *p);
/* Close idle servers above p's size. */
void pool_trim(struct pool *p);

void pool_capture_welcome(struct pool *p, const struct param_list *params);
/* pool_sets.c: p->welcome worked out (struct welcome_prep), made on first
 * need and again after the tracked names change; NULL: no memory. */
struct welcome_prep *pool_welcome(struct pool *p);
void pool_welcome_forget(struct pool *p);
/* The ParameterStatus of entry i (a tracked name) with `value`, a strpool
 * string, into w: the last one made for that entry when the value is the
 * same. */
struct pq_writer;
void pool_welcome_tracked(struct welcome_prep *wp, size_t i, const char *name, const char *value,
			  struct pq_writer *w);
void pool_ref(struct pool *p);
void pool_unref(struct pool *p);
void pool_get_counts(const struct pool *p, struct pool_counts *out);

/* pool_sets.c: servers opened with their clients' startup settings */
struct startup_set;
/* Has the pool learned the defaults of every tracked parameter `set`
 * leaves out? */
bool pool_defaults_known(const struct pool *p, const struct startup_set *set);
/* s logged in: the pool's welcome (its first login's ParameterStatus),
 * its set's spelling and the pool's defaults. */
void pool_server_learned(struct server *s);
/* PostgreSQL refused a setting of `set` at login: fail the clients
 * waiting with it, and only them. */
void pool_set_refused(struct pool *p, struct startup_set *set, const char *sqlstate, const char *msg);
/* The set to open the next server with: the first waiting client's whose
 * set has no server logging in; NULL with nobody waiting. */
struct startup_set *pool_next_set(struct pool *p);
/* Who gets s, free now: a waiting client of its set, else the first
 * waiting client, or NULL when s is better closed to open one of that
 * client's set (pool_room_needed). */
struct client *pool_pick_waiter(struct pool *p, struct server *s);
/* Must a new server be opened for c rather than linking it to a server
 * of other settings? (session mode; unknown defaults) */
bool pool_room_needed(const struct pool *p, const struct client *c);
/* The set a client of p has its servers opened with. */
struct startup_set *pool_client_set(const struct pool *p, const struct client *c);
/* Link c to s, counting a link across different sets. */
void pool_link(struct pool *p, struct server *s, struct client *c);


#endif
