/*
 * pool.c — pools keyed by (database, user), their limits and wait queue.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "client.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"

#define DEFAULT_SOCKET_DIR "/var/run/postgresql"

void param_list_add(struct param_list *pl, const char *name, const char *value)
{
	for (size_t i = 0; i < pl->n; i++) {
		if (!strcmp(pl->names[i], name)) {
			char *v = strdup(value);
			if (v) {
				free(pl->values[i]);
				pl->values[i] = v;
			}
			return;
		}
	}
	char **nn = realloc(pl->names, (pl->n + 1) * sizeof *nn);
	if (!nn)
		return;
	pl->names = nn;
	char **nv = realloc(pl->values, (pl->n + 1) * sizeof *nv);
	if (!nv)
		return;
	pl->values = nv;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return;
	}
	pl->names[pl->n] = n;
	pl->values[pl->n] = v;
	pl->n++;
}

void param_list_free(struct param_list *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->names[i]);
		free(pl->values[i]);
	}
	free(pl->names);
	free(pl->values);
	memset(pl, 0, sizeof *pl);
}

static char *dup_or(const char *s, const char *fallback)
{
	return strdup(s && *s ? s : fallback);
}

struct pool *pool_get(const char *db_name, const char *user, const struct db_entry *entry)
{
	struct list *n, *tmp;
	list_for_each_safe(n, tmp, &rt.pools) {
		struct pool *p = list_entry(n, struct pool, node);
		if (!strcmp(p->db_name, db_name) && !strcmp(p->user, user))
			return p;
	}
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	list_init(&p->idle);
	list_init(&p->used);
	list_init(&p->busy);
	list_init(&p->waiting);
	p->db_name = strdup(db_name);
	p->user = strdup(user);
	p->target.host = dup_or(entry->host, DEFAULT_SOCKET_DIR);
	p->target.port = entry->port > 0 ? entry->port : 5432;
	p->target.dbname = dup_or(entry->dbname, db_name);
	p->target.user = dup_or(entry->user, user);
	p->target.password = entry->password ? strdup(entry->password) : NULL;
	p->size = config_db_pool_size(rt.cfg, entry);
	p->mode = config_db_pool_mode(rt.cfg, entry);
	p->max_db_connections = entry->max_db_connections >= 0 ? entry->max_db_connections
							       : rt.cfg->max_db_connections;
	if (!p->db_name || !p->user || !p->target.host || !p->target.dbname || !p->target.user ||
	    (entry->password && !p->target.password)) {
		free(p->db_name); free(p->user); free(p->target.host);
		free(p->target.dbname); free(p->target.user); free(p->target.password);
		free(p);
		return NULL;
	}
	list_append(&rt.pools, &p->node);
	log_debug("pool %s/%s created: server %s@%s:%d/%s, size %d", p->db_name, p->user,
		  p->target.user, p->target.host, p->target.port, p->target.dbname, p->size);
	return p;
}

bool pool_resolve(struct pool_target *t, char *err, size_t errlen)
{
	if (t->resolved)
		return true;
	memset(&t->addr, 0, sizeof t->addr);
	if (t->host[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&t->addr;
		un->sun_family = AF_UNIX;
		int n = snprintf(un->sun_path, sizeof un->sun_path, "%s/.s.PGSQL.%d", t->host, t->port);
		if (n < 0 || (size_t)n >= sizeof un->sun_path) {
			snprintf(err, errlen, "unix socket path too long: %s", t->host);
			return false;
		}
		t->addrlen = sizeof *un;
		t->resolved = true;
		return true;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *res = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", t->port);
	int rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "could not resolve host \"%s\": %s", t->host, gai_strerror(rc));
		return false;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	t->resolved = true;
	return true;
}

/* Server connections of every pool of this database. */
static int db_server_count(const char *db_name)
{
	int n = 0;
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *p = list_entry(it, struct pool, node);
		if (!strcmp(p->db_name, db_name))
			n += p->nservers;
	}
	return n;
}

/* Close an idle server of another pool of the same database, to make room. */
static bool steal_idle_slot(struct pool *self)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p == self || strcmp(p->db_name, self->db_name) || list_empty(&p->idle))
			continue;
		struct server *s = list_entry(list_first(&p->idle), struct server, pool_node);
		server_close(s, "making room for another pool of the database");
		return true;
	}
	return false;
}

static int connecting_count(const struct pool *p)
{
	int n = 0;
	const struct list *it;
	for (it = p->busy.next; it != &p->busy; it = it->next) {
		const struct server *s = list_entry(it, struct server, pool_node);
		if (s->state == SV_CONNECTING || s->state == SV_LOGIN)
			n++;
	}
	return n;
}

/* Open servers for waiting clients, within pool and database limits. */
static void pool_launch(struct pool *p)
{
	while (p->nwaiting > connecting_count(p) && p->nservers < p->size) {
		if (p->max_db_connections > 0 && db_server_count(p->db_name) >= p->max_db_connections) {
			if (!steal_idle_slot(p))
				return;
			continue;
		}
		if (!server_connect(p))
			return;
	}
}

bool pool_acquire(struct pool *p, struct client *c)
{
	if (!list_empty(&p->idle)) {
		struct server *s = list_entry(list_first(&p->idle), struct server, pool_node);
		server_link(s, c);
		return true;
	}
	list_append(&p->waiting, &c->pool_node);
	p->nwaiting++;
	pool_launch(p);
	return false;
}

void pool_unqueue(struct client *c)
{
	if (list_empty(&c->pool_node))
		return;
	list_del_init(&c->pool_node);
	c->pool->nwaiting--;
}

void pool_server_ready(struct server *s)
{
	struct pool *p = s->pool;
	struct list *first = list_first(&p->waiting);
	if (!first) {
		server_set_state(s, SV_IDLE);
		return;
	}
	struct client *c = list_entry(first, struct client, pool_node);
	pool_unqueue(c);
	server_link(s, c);
}

void pool_release(struct server *s, bool clean)
{
	if (!clean) {
		server_close(s, "client left while the server was busy");
		return;
	}
	server_reset(s);
}

/* Other pools of the same database may have been waiting for a slot. */
static void kick_db(const char *db_name)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.pools) {
		struct pool *p = list_entry(it, struct pool, node);
		if (p->nwaiting > 0 && !strcmp(p->db_name, db_name))
			pool_launch(p);
	}
}

void pool_server_gone(struct server *s)
{
	struct pool *p = s->pool;
	if (s->state == SV_CLOSED)
		return;
	p->nservers--;
	list_del_init(&s->pool_node);
	/* A server that never logged in tells us the database is failing:
	 * do not reconnect in a loop; pool_login_failed decides. */
	if (s->state != SV_CONNECTING && s->state != SV_LOGIN)
		kick_db(p->db_name);
}

void pool_login_failed(struct pool *p, const char *sqlstate, const char *msg)
{
	/* Clients waiting on this pool can be served only by a live server;
	 * with none left, tell them now rather than at query_wait_timeout. */
	if (p->nservers > 0)
		return;
	while (!list_empty(&p->waiting)) {
		struct client *c = list_entry(list_first(&p->waiting), struct client, pool_node);
		pool_unqueue(c);
		client_fail(c, sqlstate, "%s", msg);
	}
}

void pool_capture_welcome(struct pool *p, const struct param_list *params)
{
	param_list_free(&p->welcome);
	for (size_t i = 0; i < params->n; i++)
		param_list_add(&p->welcome, params->names[i], params->values[i]);
	p->have_welcome = true;
}
