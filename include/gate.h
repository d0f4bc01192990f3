/*
 * gate.h — the migration gate, one per database: `open`, `draining`
 * (PAUSE: transactions in flight run to their end, new ones are held) or
 * `closed` (nothing of the database's clients runs; bypass clients do).
 *
 * INTERFACE ROUTINES
 *   gate_get(db)              the database's gate, made on first use (NULL: OOM)
 *   gate_holds_client(c)      must c's next transaction wait?
 *   gate_pause(g, timeout)    open -> draining; a new window. g NULL: every
 *                             database, now and later
 *   gate_resume(g)            -> open: refresh servers (gate_resume_reset),
 *                             release held clients. g NULL: every gate
 *   gate_pause_window(g, t, n)   open -> draining in a cluster's window n
 *                             (cluster_gate.c): as gate_pause, numbered n
 *   gate_hold_all(on)         hold every client's next transaction, whatever
 *                             its gate says (a cluster member whose windows
 *                             are not read yet); off: open gates let theirs go
 *   gate_kill(g)              KILL: closed at once, clients and servers dropped
 *   gate_update()             a transaction ended somewhere: draining gates
 *                             with nothing in flight become closed
 *   gate_hold(g, c) / gate_unhold(c, refused)   keep track of a held client
 *   gate_bypass_login(c) / gate_bypass_logout(c)   bypass sessions (auto gate)
 *   gate_in_flight(g)         clients of g's database inside a transaction
 *   gate_count_flight(g, d)   the link: one more (d = 1) or one fewer (-1)
 *                             client of g's database in flight; at 0 a
 *                             draining gate closes (after this loop pass)
 *   gate_next(prev)           iterate (SHOW GATES)
 *   gate_forget(db)           the database's last pool is gone (a database
 *                             of the `*` fallback): free its gate, unless
 *                             it is paused, disabled or holds anyone
 *   gate_free_all()           at exit
 *
 * Each PAUSE starts a window with a number; a window ends at RESUME, at
 * gate_max_pause, or when the drain deadline passes (policy `reopen`:
 * then g->failed_window names it and g->failure says what still ran).
 */
#ifndef SLUICE_GATE_H
#define SLUICE_GATE_H

#include <stdbool.h>
#include <stdint.h>
#include "list.h"

struct client;
struct loop_ev;

enum gate_state { GATE_OPEN, GATE_DRAINING, GATE_CLOSED };

/* Figures of one window, for SHOW GATES and the metrics. */
struct gate_window {
	uint64_t number;
	double started, closed, ended;   /* rt_now(); 0 = not yet */
	double longest_hold;             /* seconds, one client */
	int held;                        /* clients held in the window */
	int errors;                      /* hold timeouts, a failed drain */
	char schema_before[64], schema_after[64];
};

struct gate {
	struct list node;            /* in the registry (gate.c) */
	char *db_name;
	enum gate_state state;
	bool disabled;               /* DISABLE db: new logins refused */
	bool auto_window;            /* opened by a bypass login (gate_auto) */
	bool cancelling;             /* drain deadline passed, policy cancel */
	bool reading_version;        /* drained: reading the schema version, then closed */
	double since;                /* rt_now() of the last state change */
	double deadline;             /* draining: the drain deadline; 0 = none */
	struct list held;            /* struct client, by hold_node */
	int nheld;
	int nbypass;                 /* bypass sessions logged in */
	int in_flight;               /* its clients inside a transaction (gate_count_flight) */
	struct gate_window cur, last;
	uint64_t failed_window;      /* the last window whose drain failed */
	uint64_t cluster_window;     /* the cluster window it takes part in; 0: none
	                              * (cluster_gate.c sets and clears it) */
	uint64_t windows_total;      /* windows so far (metrics) */
	uint64_t errors_total;       /* errors in all windows (metrics) */
	char failure[1024];          /* ...and what still ran */
	struct loop_ev *timer;
};

/* What a gate tells the owner of its clients (link.c): the gate module
 * never calls a client's function. */
struct gate_owner_ops {
	void (*hold)(struct client *c);      /* its next transaction waits */
	void (*release)(struct client *c);   /* the gate opened: go on */
	/* its held work gets this error instead */
	void (*reject)(struct client *c, const char *sqlstate, const char *msg);
	bool (*in_flight)(const struct client *c);   /* inside a transaction */
};
void gate_set_owner(const struct gate_owner_ops *ops);
struct gate *gate_get(const char *db_name);
bool gate_holds_client(const struct client *c);
bool gate_paused_all(void);
/* timeout 0: gate_drain_timeout; < 0: no deadline. False: already paused. */
bool gate_pause(struct gate *g, double timeout);
bool gate_pause_window(struct gate *g, double timeout, uint64_t number);
void gate_hold_all(bool on);
void gate_resume(struct gate *g);
void gate_kill(struct gate *g);
void gate_update(void);
void gate_hold(struct gate *g, struct client *c);
/* refused: its held work got an error (gate_hold_timeout, a failed drain) */
void gate_unhold(struct client *c, bool refused);
void gate_bypass_login(struct client *c);
void gate_bypass_logout(struct client *c);
int gate_in_flight(const struct gate *g);
void gate_count_flight(struct gate *g, int delta);
const char *gate_state_name(enum gate_state st);
struct gate *gate_next(struct gate *prev);
void gate_forget(const char *db_name);
void gate_free_all(void);

#endif
