/*
 * pool_ops.c — acting on all pools of a database at once, for the admin
 * console (PAUSE, RECONNECT, KILL, RESUME) and for reload.
 */
#include <stdlib.h>
#include <string.h>

#include "client_types.h"
#include "log.h"
#include "pool.h"
#include "runtime.h"
#include "server.h"

/* db NULL: every pool, sluice's own (auth_query) included; else the
 * client pools of that database. */
static bool pool_of(const struct pool *p, const char *db)
{
	return !db || (!p->internal && !strcmp(p->db_name, db));
}

#define for_each_pool_of(p, db, it, tmp) \
	list_for_each_safe(it, tmp, &rt.pools) \
		if (((p) = list_entry(it, struct pool, node)), pool_of(p, db))

int pool_db_servers(const char *db, bool close_needed_only)
{
	struct list *it, *tmp;
	struct pool *p;
	int n = 0;
	for_each_pool_of(p, db, it, tmp) {
		if (!close_needed_only) {
			n += p->nservers;
			continue;
		}
		const struct list *lists[] = { &p->idle, &p->used, &p->busy };
		for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
			for (const struct list *s_it = lists[l]->next; s_it != lists[l]; s_it = s_it->next)
				n += list_entry(s_it, struct server, pool_node)->close_needed;
	}
	return n;
}

static void close_idle(struct pool *p, const char *why)
{
	while (!list_empty(&p->idle))
		server_close(list_entry(list_first(&p->idle), struct server, pool_node), why);
}

void pool_db_close_idle(const char *db, const char *why)
{
	struct list *it, *tmp;
	struct pool *p;
	for_each_pool_of(p, db, it, tmp)
		close_idle(p, why);
}

void pool_mark_reconnect(struct pool *p)
{
	const struct list *lists[] = { &p->used, &p->busy };
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (const struct list *s_it = lists[l]->next; s_it != lists[l]; s_it = s_it->next)
			list_entry(s_it, struct server, pool_node)->close_needed = true;
	close_idle(p, "reconnect requested");
}

void pool_db_reconnect(const char *db)
{
	struct list *it, *tmp;
	struct pool *p;
	for_each_pool_of(p, db, it, tmp)
		pool_mark_reconnect(p);
}

void pool_db_kill_servers(const char *db, const char *why)
{
	struct list *it, *tmp;
	struct pool *p;
	for_each_pool_of(p, db, it, tmp) {
		struct list *lists[] = { &p->idle, &p->used, &p->busy };
		for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
			while (!list_empty(lists[l]))
				server_close(list_entry(list_first(lists[l]), struct server, pool_node), why);
	}
}

void pool_trim(struct pool *p)
{
	while (p->nservers > p->size + p->reserve_size && !list_empty(&p->idle))
		server_close(list_entry(list_first(&p->idle), struct server, pool_node), "pool_size lowered");
}

void pool_reconfigure_all(void)
{
	struct list *it, *tmp;
	struct pool *p;
	for_each_pool_of(p, NULL, it, tmp)
		pool_reconfigure(p);
}
