/*
 * client.h — one application connection and its state machine.
 *
 * INTERFACE ROUTINES
 *   client_accept(fd, addr)        take a new socket from the listener
 *   client_fail(c, sqlstate, fmt)  the one exit path with a reason: send a
 *                                  FATAL ErrorResponse, log, close
 *   client_login_done(c)           client_auth: authentication succeeded
 *   client_welcome(c)              send AuthenticationOk ... ReadyForQuery
 *   client_set_link(ops)           what a linked client asks of its pair
 *                                  (link.c)
 *   client_set_state(c, st)        the one function that moves a client
 */
#ifndef SLUICE_CLIENT_H
#define SLUICE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "client_types.h"
#include "config.h"
#include "pool.h"
#include "runtime.h"

/* client_log for a line a peer can cause before login: limited per peer
 * address and for all peers together (log_limit.h). */
void client_log_peer(struct client *c, int lvl, const char *fmt, ...) PRINTF(3, 4);

void client_accept(int fd, const struct sockaddr *sa, socklen_t len);
void client_fail(struct client *c, const char *sqlstate, const char *fmt, ...) PRINTF(3, 4);
void client_send_error(struct client *c, const char *severity, const char *sqlstate, const char *msg);
void client_login_done(struct client *c);
void client_welcome(struct client *c);
/* ErrorResponse added to c's output, not logged, not sent yet. */
void client_add_error(struct client *c, const char *severity, const char *sqlstate, const char *msg);
/* c holds its server between transactions or statements: arm the idle
 * (status 'I') or idle-in-transaction ('T', 'E') timeout. */
void client_idle_timer(struct client *c, char txn_status);
/* Are client idle timeouts on at all (client_idle_timeout,
 * idle_transaction_timeout)? */
static inline bool client_idle_timers_on(void)
{
	return rt.cfg->client_idle_timeout > 0 || rt.cfg->idle_transaction_timeout > 0;
}
/* Transaction and statement pooling carry named prepared statements
 * across servers (prepared.c); session pooling needs nothing of that. */
static inline bool client_tracks_statements(const struct client *c)
{
	return c->pool->mode != POOL_SESSION && rt.cfg->max_prepared_statements > 0;
}

/* What the client module asks of the pair a client is in (link.c). */
struct client_link_ops {
	void (*relay)(struct client *c);    /* CL_ACTIVE: input for its server */
	void (*drained)(struct client *c);  /* linked: its output went out */
	void (*let_go)(struct client *c);   /* closing: its server goes back
	                                     * (reset) or is closed */
};
void client_set_link(const struct client_link_ops *ops);

/* What the client module asks of the console (admin.c; lifecycle.c
 * fills it at lifecycle_init): the client never calls it by name. */
struct client_console_ops {
	bool (*is_console)(const char *db);   /* is this database the console? */
	void (*login)(struct client *c);      /* authenticated to the console */
	void (*input)(struct client *c);      /* CL_ADMIN: input, or its output drained */
	void (*forget)(struct client *c);     /* a console client is closing */
};
void client_set_console(const struct client_console_ops *ops);
/* for the module's parts (client_hold.c) */
extern const struct client_link_ops *client_link;
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

/* client_hold.c: the gate's side of a client */
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
/* A welcome's ParameterStatus value for the name of varcache index `vi`
 * (listed: the pool's; vi < 0, a name not tracked: that one). */
const char *client_welcome_value(struct client *c, int vi, const char *listed);

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
