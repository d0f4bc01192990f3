/*
 * pool_sets.c — which server a client gets, by startup settings. Part of
 * the pool module (pool.c).
 *
 * A server is opened with the startup settings of the client it is
 * opened for, so that PostgreSQL holds them as the session's reset values.
 * A client is linked to an idle server of its own set; failing that a new
 * one is opened when there is room; else (transaction mode) it takes one
 * of another set, whose values varcache SETs, and RESET there goes back
 * to the other set's values: such links are counted (SHOW POOLS).
 *
 * The welcome a client gets before it has a server needs the pool's
 * default of every tracked parameter the client did not give; a login
 * reports them for the parameters its set leaves out. Until a pool knows
 * them, such a client needs a server of its own set.
 */
#include <stdlib.h>
#include <string.h>

#include "client_types.h"
#include "config.h"
#include "pool.h"
#include "proto.h"
#include "server.h"
#include "strpool.h"
#include "startup_set.h"

/* Waiting clients looked at for a server of their set: beyond these, the
 * queue's order decides alone. */
#define PICK_SCAN 64

struct startup_set *pool_client_set(const struct pool *p, const struct client *c)
{
	return p->internal ? NULL : c->set;   /* auth_query runs in sluice's own session */
}

bool pool_defaults_known(const struct pool *p, const struct startup_set *set)
{
	uint32_t all = (1u << varcache_count()) - 1;
	uint32_t need = all & ~startup_set_tracked(set);
	return (p->defaults_known & need) == need;
}

static void learn_login(struct server *s)
{
	struct pool *p = s->pool;
	uint32_t mine = startup_set_tracked(s->set);
	for (int i = 0; i < varcache_count(); i++) {
		if (mine & (1u << i))
			continue;
		p->defaults_known |= 1u << i;
		if (varcache_get(&s->vars, i))
			(void)varcache_set_index(&p->defaults, i, varcache_get(&s->vars, i));
	}
	startup_set_learn(s->set, &s->vars);
}

void pool_server_learned(struct server *s)
{
	if (!s->pool->have_welcome)
		pool_capture_welcome(s->pool, &s->login_params);
	learn_login(s);
}

void pool_set_refused(struct pool *p, struct startup_set *set, const char *sqlstate, const char *msg)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &p->waiting) {
		struct client *c = list_entry(it, struct client, pool_node);
		if (pool_client_set(p, c) != set)
			continue;
		pool_unqueue(c);
		pool_owner->fail(c, sqlstate, msg);
	}
	pool_launch(p);   /* for the others */
}

/* Is a server of this set logging in (opened for a client waiting)? */
static bool covered(const struct pool *p, const struct startup_set *set)
{
	for (const struct list *it = p->busy.next; it != &p->busy; it = it->next) {
		const struct server *s = list_entry(it, struct server, pool_node);
		if (server_logging_in(s) && s->set == set)
			return true;
	}
	return false;
}

struct startup_set *pool_next_set(struct pool *p)
{
	if (p->internal || list_empty(&p->waiting))
		return NULL;
	int n = 0;
	for (struct list *it = p->waiting.next; it != &p->waiting && n < PICK_SCAN; it = it->next, n++) {
		struct client *c = list_entry(it, struct client, pool_node);
		if (!covered(p, c->set))
			return c->set;
	}
	return list_entry(list_first(&p->waiting), struct client, pool_node)->set;
}

bool pool_room_needed(const struct pool *p, const struct client *c)
{
	if (p->internal)
		return false;
	return p->mode == POOL_SESSION || !pool_defaults_known(p, c->set);
}

struct client *pool_pick_waiter(struct pool *p, struct server *s)
{
	int n = 0;
	/* a client of s's set, unless one before it has no server coming */
	for (struct list *it = p->waiting.next; it != &p->waiting && n < PICK_SCAN; it = it->next, n++) {
		struct client *c = list_entry(it, struct client, pool_node);
		struct startup_set *want = pool_client_set(p, c);
		if (want == s->set)
			return c;
		if (!covered(p, want))
			break;
	}
	struct client *head = list_entry(list_first(&p->waiting), struct client, pool_node);
	return pool_room_needed(p, head) ? NULL : head;
}

void pool_link(struct pool *p, struct server *s, struct client *c)
{
	if (s->set != pool_client_set(p, c))
		p->startup_mismatch++;
	pool_owner->give(s, c);
}

void pool_welcome_forget(struct pool *p)
{
	struct welcome_prep *wp = p->welcome_prep;
	if (!wp)
		return;
	for (size_t i = 0; wp->last && i < wp->n; i++) {
		strpool_put(wp->last[i].value);
		free(wp->last[i].msg);
	}
	free(wp->last);
	free(wp->vi);
	free(wp->end);
	free(wp->msgs);
	free(wp);
	p->welcome_prep = NULL;
}

struct welcome_prep *pool_welcome(struct pool *p)
{
	if (p->welcome_prep && p->welcome_prep->gen == varcache_generation())
		return p->welcome_prep;
	pool_welcome_forget(p);
	const struct param_list *pl = &p->welcome;
	struct welcome_prep *wp = calloc(1, sizeof *wp);
	struct pq_writer w;
	pq_writer_init(&w);
	if (!wp || !(wp->vi = calloc(pl->n + 1, sizeof *wp->vi)) ||
	    !(wp->end = calloc(pl->n + 1, sizeof *wp->end)) ||
	    !(wp->last = calloc(pl->n + 1, sizeof *wp->last)))
		goto fail;
	for (size_t i = 0; i < pl->n; i++) {
		wp->vi[i] = varcache_index(pl->names[i]);
		if (wp->vi[i] < 0)
			proto_build_param_status(&w, pl->names[i], pl->values[i]);
		wp->end[i] = w.len;
	}
	if (!pq_writer_ok(&w) || !(wp->msgs = malloc(w.len ? w.len : 1)))
		goto fail;
	memcpy(wp->msgs, w.buf, w.len);
	pq_writer_free(&w);
	wp->gen = varcache_generation();
	wp->n = pl->n;
	p->welcome_prep = wp;
	return wp;
fail:
	pq_writer_free(&w);
	if (wp) {
		free(wp->last);
		free(wp->vi);
		free(wp->end);
		free(wp);
	}
	return NULL;
}

void pool_welcome_tracked(struct welcome_prep *wp, size_t i, const char *name, const char *value,
			  struct pq_writer *w)
{
	struct welcome_last *l = &wp->last[i];
	if (l->value != value) {   /* strpool strings: the same value is the same pointer */
		struct pq_writer m;
		pq_writer_init(&m);
		proto_build_param_status(&m, name, value);
		if (!pq_writer_ok(&m)) {
			pq_writer_free(&m);
			proto_build_param_status(w, name, value);   /* not kept: made each time */
			return;
		}
		strpool_put(l->value);
		free(l->msg);
		l->value = strpool_hold(value);
		l->msg = m.buf;   /* the writer's heap buffer, kept */
		l->len = m.len;
	}
	pq_put_bytes(w, l->msg, l->len);
}
