/*
 * admin.h — the admin console: database "sluice" (alias "pgbouncer") on the
 * ordinary listener, for admin_users (all commands) and stats_users (SHOW).
 * Answers use PgBouncer's column names, order and types, so existing tools
 * read them unchanged.
 *
 * INTERFACE ROUTINES
 *   admin_is_console(db)   is this database name the console?
 *   admin_login(c)         authenticated client of the console: check the
 *                          user's rights, greet it
 *   admin_input(c)         run the simple queries the client sent, while
 *                          it reads the answers (backpressure: reading
 *                          and running stop while its output is over
 *                          CONN_HIGH_WATER, and resume on CONN_EV_DRAINED)
 */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include <stdbool.h>
#include "compiler.h"
#include "pq_writer.h"

struct client;
struct admin_toks;

/* The longest console command, in bytes with its terminating NUL; a
 * longer one is refused whole (54000), never run cut short. */
#define ADMIN_CMD_MAX 4096

#include "runtime.h"

struct config;

/* What the console asks of the process (lifecycle.c fills it at
 * lifecycle_init): the console never calls an upper module by name. */
struct admin_process_ops {
	bool (*reload)(char *err, size_t errlen);   /* RELOAD */
	bool (*swap)(struct config *next, char *err, size_t errlen);   /* SET */
	void (*shutdown)(enum rt_shutdown mode);   /* SHUTDOWN [WAIT_FOR_...] */
};
void admin_set_process(const struct admin_process_ops *ops);
/* for the module's parts (admin_cmd.c) */
extern const struct admin_process_ops *admin_process;

bool admin_is_console(const char *db);
void admin_login(struct client *c);
void admin_input(struct client *c);
/* Finish the commands waiting for connections to close (a deferred
 * check: rt_kick); forget a console that is closing. */
void admin_progress(void);
void admin_forget(struct client *c);

/* For admin*.c: answer one command. */
void admin_reply(struct client *c, const char *tag);
void admin_error(struct client *c, const char *sqlstate, const char *fmt, ...) PRINTF(3, 4);
void admin_error_detail(struct client *c, const char *sqlstate, const char *detail,
			const char *fmt, ...) PRINTF(4, 5);
/* admin_cmd.c: run the command if t->v[0] names one that acts (false: it
 * names none). */
bool admin_cmd_run(struct client *c, const struct admin_toks *t);

/* For admin*.c: a result set, column types as a string: 'T' text, 'I'
 * int4, 'N' numeric (PgBouncer's type for its 64-bit counters).
 * result_row takes a const char * per 'T' column (NULL for SQL NULL), a
 * long long per 'I' column, a uint64_t per 'N' column. */
struct result {
	struct pq_writer w;
	const char *types;
	int rows;
};
void result_begin(struct result *r, const char *types, ...);
void result_row(struct result *r, ...);
void result_send(struct client *c, struct result *r, const char *tag);
void admin_format_wall(double wall, char *out, size_t n);
/* admin_cluster.c: SHOW GATES and SHOW PEERS; the CLUSTER forms of PAUSE
 * and RESUME (a->tok[2] is CLUSTER) */
void admin_show_gates(struct client *c);
void admin_show_peers(struct client *c);
void admin_cmd_help(void (*line)(void *arg, const char *text), void *arg);

#endif
