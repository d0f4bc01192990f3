/*
 * gate.h — what the admin has decided for each database: paused or not,
 * disabled or not. A paused database hands no server to its clients and
 * closes its servers as they come free (PgBouncer's PAUSE); the migration
 * gate builds on the same state.
 *
 * INTERFACE ROUTINES
 *   gate_get(db)          the database's gate, made on first use (NULL: OOM)
 *   gate_holds(g)         may no client of g's database get a server now?
 *   gate_pause(g)         g == NULL: every database, now and later
 *   gate_resume(g)        g == NULL: every database and the global pause
 *   gate_paused_all()     is the global pause on?
 *   gate_free_all()       at exit
 *
 * A gate is `open`, `draining` (paused, servers still open) or `closed`
 * (paused, none left); gate_update() moves draining to closed.
 */
#ifndef SLUICE_GATE_H
#define SLUICE_GATE_H

#include <stdbool.h>
#include "list.h"

enum gate_state { GATE_OPEN, GATE_DRAINING, GATE_CLOSED };

struct gate {
	struct list node;            /* in the registry (gate.c) */
	char *db_name;
	enum gate_state state;
	bool disabled;               /* DISABLE db: new logins refused */
	double since;                /* when state last changed */
};

struct gate *gate_get(const char *db_name);
/* Paused by its own PAUSE, or by a PAUSE of everything. */
bool gate_holds(const struct gate *g);
bool gate_paused_all(void);
void gate_pause(struct gate *g);
void gate_resume(struct gate *g);
/* Draining gates whose database has no server left become closed. */
void gate_update(void);
const char *gate_state_name(enum gate_state st);
/* Visit every gate (SHOW, RESUME of everything). */
struct gate *gate_next(struct gate *prev);
void gate_free_all(void);

#endif
