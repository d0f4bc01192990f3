/*
 * pool_types.h — what a pool is, as data: where its servers log in
 * (struct pool_target), its lists and settings (struct pool). Shared by
 * the server module, which moves itself between its pool's lists and
 * reads where to connect; what a pool does is the pool module's (pool.h),
 * and what a server reports to it goes through struct server_pool_ops
 * (server.h).
 *
 * INTERFACE ROUTINES
 *   pool_resolve(t, err, n)       the target's address (a unix socket's
 *                                 path, or getaddrinfo), once
 *   param_list_add(pl, n, v) / param_list_free(pl)
 */
#ifndef SLUICE_POOL_TYPES_H
#define SLUICE_POOL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "compiler.h"
#include "list.h"
#include "varcache.h"

/* Kinds of session state session_state.c tells apart (SET, set_config,
 * advisory locks, LISTEN, temp tables, cursors WITH HOLD, SQL PREPARE,
 * LOAD), and what can meet them (warned, refused, pinned). */
#define STATE_KINDS 8
enum state_action { STATE_WARNED = 0, STATE_REFUSED, STATE_PINNED };

struct loop_ev;
struct stats_db;

/* Where and as whom this pool's servers log in. */
struct pool_target {
	char *host;          /* "" or "/dir": unix socket */
	int port;
	char *dbname;
	char *user;
	char *password;      /* NULL: from auth_file */
	int tls_mode;        /* the entry's sslmode; -1: server_tls_sslmode */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool resolved;
};

struct param_list {
	char **names, **values;
	size_t n;
};

struct gate;

/* The welcome's ParameterStatus messages, worked out once per pool rather
 * than at every login: per entry of pool->welcome its varcache index (-1:
 * not tracked), and the messages of the untracked entries, whose values
 * are the same for every client, already built. */
struct welcome_prep {
	int *vi;                     /* per entry */
	size_t *end;                 /* per entry: where its built message ends in msgs */
	uint8_t *msgs;
	unsigned gen;                /* varcache_generation() it was made for */
	size_t n;                    /* entries */
	struct welcome_last *last;   /* per entry: a tracked one's last message */
};

/* A tracked parameter's value is the client's, but most clients of a pool
 * get the same (the pool's default, the same application_name): the
 * ParameterStatus of the last value given is kept (pool_welcome_tracked). */
struct welcome_last {
	const char *value;           /* a strpool string, held; NULL: none yet */
	uint8_t *msg;
	size_t len;
};

struct pool {
	struct list node;            /* in rt.pools */
	char *db_name;               /* as clients name it */
	char *user;                  /* client user */
	struct pool_target target;
	int size;
	int mode;                    /* enum pool_mode */
	int next_mode;               /* after a reload: taken once no client uses the pool */
	int state_policy;            /* enum state_policy (transaction_session_state) */
	int npinned;                 /* servers pinned to their client (session_state.c) */
	/* statements that leave session state, per kind (session_state.h's
	 * STATE_KINDS) and what met them: warned, refused, pinned */
	unsigned long long state_seen[STATE_KINDS][3];
	struct gate *gate;           /* its database's pause state; NULL if internal */
	int max_db_connections;
	int max_user_connections;    /* its server user's, from the configuration
	                              * (pool_new, pool_reconfigure): asked at
	                              * every server release */
	struct list idle;            /* struct server, SV_IDLE */
	struct list used;            /* linked to a client */
	struct list busy;            /* connecting, logging in, resetting */
	struct list waiting;         /* struct client, FIFO */
	int nservers;
	int nwaiting;
	int nclients;                /* logged-in clients of this pool */
	struct param_list welcome;   /* ParameterStatus of the first login */
	struct welcome_prep *welcome_prep;   /* made from it once (pool_welcome) */
	bool have_welcome;
	int min_pool_size;
	int reserve_size;
	bool internal;               /* sluice's own (auth_query), never a client's */
	bool bypass;                 /* gate bypass sessions: session mode, never held */
	struct loop_ev *retry_ev;      /* reconnect after server_login_retry */
	struct loop_ev *wait_ev;       /* the oldest waiting client's next moment:
	                              * reserve_pool_timeout, query_wait_timeout */
	double retry_at;             /* no connect attempts before this */
	char last_error[256];        /* the last connect/login failure */
	char last_sqlstate[6];
	struct stats_db *stats;      /* the database's counters (stats.c) */
	int refs;                    /* logged-in clients and servers pointing here */
	double unused_since;         /* rt_now() when refs and waiting last reached 0 */
	struct loop_ev *idle_ev;       /* frees a fallback pool unused long enough */
	struct varcache defaults;    /* tracked parameters as a login that did not set them reported */
	uint32_t defaults_known;     /* bit i: defaults.val[i] is learned (NULL: not reported) */
	unsigned long long startup_mismatch;  /* links of a client to a server opened with
	                                       * other startup settings (pool_sets.c) */
};

bool pool_resolve(struct pool_target *t, char *err, size_t errlen) MUST_CHECK;
void param_list_add(struct param_list *pl, const char *name, const char *value);
void param_list_free(struct param_list *pl);

#endif
