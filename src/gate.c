/*
 * gate.c — per-database pause and disable state, and the global pause.
 */
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "log.h"
#include "pool.h"
#include "runtime.h"

static struct list gates = { &gates, &gates };
static bool paused_all;

static const char *const state_names[] = {
	[GATE_OPEN] = "open", [GATE_DRAINING] = "draining", [GATE_CLOSED] = "closed",
};

const char *gate_state_name(enum gate_state st)
{
	return st <= GATE_CLOSED ? state_names[st] : "?";
}

struct gate *gate_get(const char *db_name)
{
	for (struct list *it = gates.next; it != &gates; it = it->next) {
		struct gate *g = list_entry(it, struct gate, node);
		if (!strcmp(g->db_name, db_name))
			return g;
	}
	struct gate *g = calloc(1, sizeof *g);
	if (!g || !(g->db_name = strdup(db_name))) {
		free(g);
		return NULL;
	}
	g->state = paused_all ? GATE_DRAINING : GATE_OPEN;
	g->since = rt_now();
	list_append(&gates, &g->node);
	return g;
}

struct gate *gate_next(struct gate *prev)
{
	struct list *it = prev ? prev->node.next : gates.next;
	return it == &gates ? NULL : list_entry(it, struct gate, node);
}

bool gate_holds(const struct gate *g)
{
	return paused_all || (g && g->state != GATE_OPEN);
}

bool gate_paused_all(void)
{
	return paused_all;
}

static void set_state(struct gate *g, enum gate_state st)
{
	if (g->state == st)
		return;
	log_info("database %s: gate %s -> %s", g->db_name, gate_state_name(g->state),
		 gate_state_name(st));
	g->state = st;
	g->since = rt_now();
}

void gate_pause(struct gate *g)
{
	if (g) {
		if (g->state == GATE_OPEN)
			set_state(g, GATE_DRAINING);
		gate_update();
		return;
	}
	paused_all = true;
	for (g = gate_next(NULL); g; g = gate_next(g))
		if (g->state == GATE_OPEN)
			set_state(g, GATE_DRAINING);
	gate_update();
}

void gate_resume(struct gate *g)
{
	if (g) {
		set_state(g, GATE_OPEN);
		return;
	}
	paused_all = false;
	for (g = gate_next(NULL); g; g = gate_next(g))
		set_state(g, GATE_OPEN);
}

void gate_update(void)
{
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g))
		if (g->state == GATE_DRAINING && pool_db_servers(g->db_name, false) == 0)
			set_state(g, GATE_CLOSED);
}

void gate_free_all(void)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &gates) {
		struct gate *g = list_entry(it, struct gate, node);
		list_del_init(&g->node);
		free(g->db_name);
		free(g);
	}
	paused_all = false;
}
