/*
 * peers.c — the peer table and CancelRequests forwarded to peers
 * (peers.h; doc/cluster.md says when they are needed).
 *
 * The table is an array replaced whole (peers_set). What outlives a
 * replacement is kept per peer id: the forwards in flight (each points at
 * its peer's entry, and is pointed at the new entry of the same id) and
 * the log limit's counts.
 *
 * Addresses are resolved when the table is built, as the configuration is
 * loaded (a blocking getaddrinfo, as a pool's first connection does): a
 * host that does not resolve is said then, and its cancels are dropped
 * until a reload resolves it.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>


#include "config.h"
#include "conn.h"
#include "list.h"
#include "log.h"
#include "peers.h"
#include "pq_writer.h"
#include "proto.h"
#include "runtime.h"

#define WHERE_LEN 300

struct peer {
	int id;
	int pool_size;
	char where[WHERE_LEN];       /* "host:port" or the socket's path, for messages */
	char *origin;                /* "sluice.ini:31", for messages */
	char *unresolved;            /* why it has no address; NULL once resolved */
	struct sockaddr_storage addr;
	socklen_t addrlen;           /* 0: no address */
	int in_flight;               /* forwards counted against pool_size */
	double log_window;           /* rt_now() when this second's lines began */
	int logged;                  /* lines in it */
	unsigned long long untold;   /* lines left out since */
};

static struct peer *table;
static size_t ntable;

/* One CancelRequest on its way to a peer. */
struct forward {
	struct conn conn;
	struct list node;            /* in `forwards` */
	struct peer *peer;           /* whose in_flight counts it; NULL once settled,
	                              * or when its id left the table */
	int id;
	char where[WHERE_LEN];
	uint32_t pid, key;
};

static struct list forwards = { &forwards, &forwards };

static struct peer *find(int id)
{
	for (size_t i = 0; i < ntable; i++)
		if (table[i].id == id)
			return &table[i];
	return NULL;
}

/* May another line about forwards to p be written? PEER_LOG_BURST a
 * second; the next second's first line is preceded by the count left out. */
static bool log_allowed(struct peer *p)
{
	double now = rt_now();
	if (now >= p->log_window + 1.0) {
		if (p->untold)
			log_warn("peer %d: %llu more lines about cancel requests for it suppressed "
				 "(at most %d a second)", p->id, p->untold, PEER_LOG_BURST);
		p->log_window = now;
		p->logged = 0;
		p->untold = 0;
	}
	if (p->logged >= PEER_LOG_BURST) {
		p->untold++;
		return false;
	}
	p->logged++;
	return true;
}

static void PRINTF(2, 3) say(struct forward *f, const char *fmt, ...)
{
	if (!log_on(LOG_LVL_WARN) || (f->peer && !log_allowed(f->peer)))
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_warn("%s", msg);
}

/* It is over, one way or another: its peer may take another. */
static void settle(struct forward *f)
{
	list_del_init(&f->node);
	if (f->peer)
		f->peer->in_flight--;
	f->peer = NULL;
}

static void forward_event(struct conn *conn, enum conn_event ev)
{
	struct forward *f = (struct forward *)conn;
	switch (ev) {
	case CONN_EV_CONNECTED: {
		struct pq_writer w;
		pq_writer_init(&w);
		proto_build_cancel(&w, f->pid, f->key);
		bool ok = pq_writer_ok(&w) && conn_add(conn, w.buf, w.len);
		pq_writer_free(&w);
		if (!ok) {
			say(f, "cancel request for peer %d dropped: out of memory", f->id);
			settle(f);
			conn_close(conn);
			break;
		}
		conn_send(conn);
		/* the peer closes it once it has passed the request on (or
		 * dropped it); until then it counts against pool_size */
		conn_read_start(conn);
		conn_timer(conn, PEER_ANSWER_TIMEOUT);
		break;
	}
	case CONN_EV_READ:
		buf_drain(conn->in, conn_in_len(conn));   /* a peer answers nothing */
		break;
	case CONN_EV_EOF:
		log_debug("cancel request forwarded to peer %d (%s): taken", f->id, f->where);
		settle(f);
		conn_close(conn);
		break;
	case CONN_EV_TIMEOUT:
		if (conn->phase == CONN_CONNECTING)
			say(f, "cancel request for peer %d dropped: no connection to %s within %g s",
			    f->id, f->where, PEER_CONNECT_TIMEOUT);
		else
			say(f, "cancel request forwarded to peer %d (%s): no answer within %g s",
			    f->id, f->where, PEER_ANSWER_TIMEOUT);
		settle(f);
		conn_close(conn);
		break;
	default:
		say(f, "cancel request for peer %d could not be forwarded to %s: %s", f->id, f->where,
		    strerror(conn->err ? conn->err : EIO));
		settle(f);
		conn_close(conn);
		break;
	}
}

static void forward_destroy(struct conn *conn)
{
	struct forward *f = (struct forward *)conn;
	settle(f);   /* settled already, unless closed from outside */
	conn_release(conn);
	free(f);
}

static const struct conn_ops forward_ops = { forward_event, forward_destroy };

bool peers_forward(int id, uint32_t pid, uint32_t key, char *why, size_t whylen)
{
	struct peer *p = find(id);
	if (!p) {
		snprintf(why, whylen, "cancel request for peer %d, which [peers] does not list: dropped", id);
		return false;
	}
	if (!p->addrlen) {
		snprintf(why, whylen, "cancel request for peer %d dropped: %s", id, p->unresolved);
		return false;
	}
	if (p->in_flight >= p->pool_size) {
		snprintf(why, whylen, "cancel request for peer %d dropped: %d forward%s to it in flight "
			 "already (pool_size)", id, p->in_flight, p->in_flight == 1 ? "" : "s");
		return false;
	}
	struct forward *f = calloc(1, sizeof *f);
	if (!f) {
		snprintf(why, whylen, "cancel request for peer %d dropped: out of memory", id);
		return false;
	}
	list_init(&f->node);
	f->id = id;
	f->pid = pid;
	f->key = key;
	memcpy(f->where, p->where, sizeof f->where);
	if (!conn_connect(&f->conn, (const struct sockaddr *)&p->addr, p->addrlen, &forward_ops)) {
		int err = f->conn.err;
		conn_release(&f->conn);
		free(f);
		snprintf(why, whylen, "cancel request for peer %d dropped: cannot connect to %s: %s", id,
			 p->where, strerror(err ? err : EIO));
		return false;
	}
	f->peer = p;
	p->in_flight++;
	list_append(&forwards, &f->node);
	conn_timer(&f->conn, PEER_CONNECT_TIMEOUT);
	log_debug("cancel request for peer %d: forwarding to %s", id, p->where);
	return true;
}

/* p's address from its spec; false: p->unresolved says why. */
static bool resolve(struct peer *p, const struct peer_spec *s)
{
	char why[300];
	if (s->host[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&p->addr;
		un->sun_family = AF_UNIX;
		int n = snprintf(un->sun_path, sizeof un->sun_path, "%s/.s.PGSQL.%d", s->host, s->port);
		snprintf(p->where, sizeof p->where, "%s", un->sun_path);
		if (n < 0 || (size_t)n >= sizeof un->sun_path) {
			snprintf(why, sizeof why, "unix socket path too long: %s", s->host);
			goto fail;
		}
		p->addrlen = sizeof *un;
		return true;
	}
	snprintf(p->where, sizeof p->where, "%s:%d", s->host, s->port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *res = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", s->port);
	int rc = getaddrinfo(s->host, port, &hints, &res);
	if (rc != 0 || !res || res->ai_addrlen > sizeof p->addr) {
		snprintf(why, sizeof why, "could not resolve host \"%s\": %s", s->host,
			 rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		goto fail;
	}
	memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
	p->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
fail:
	p->addrlen = 0;
	p->unresolved = strdup(why);
	return false;
}

static void table_free(struct peer *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].origin);
		free(t[i].unresolved);
	}
	free(t);
}

bool peers_set(const struct peer_spec *specs, size_t n, int self)
{
	struct peer *next = n ? calloc(n, sizeof *next) : NULL;
	size_t nn = 0;
	if (n && !next)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct peer_spec *s = &specs[i];
		if (s->id == self)
			continue;    /* its own entry: allowed, so one [peers] serves all */
		struct peer *p = &next[nn++];
		p->id = s->id;
		p->pool_size = s->pool_size;
		if (!(p->origin = strdup(s->origin ? s->origin : "?"))) {
			table_free(next, nn);
			return false;
		}
		if (!resolve(p, s)) {
			if (!p->unresolved) {
				table_free(next, nn);
				return false;
			}
			log_warn("%s: peer %d: %s; cancel requests for it are dropped until a reload",
				 p->origin, p->id, p->unresolved);
		}
		const struct peer *old = find(p->id);
		if (old) {
			p->in_flight = old->in_flight;
			p->log_window = old->log_window;
			p->logged = old->logged;
			p->untold = old->untold;
		}
	}
	/* forwards in flight move to the new entry of their id, or are let go */
	for (struct list *it = forwards.next; it != &forwards; it = it->next) {
		struct forward *f = list_entry(it, struct forward, node);
		if (!f->peer)
			continue;    /* its id left an earlier table */
		f->peer = NULL;
		for (size_t i = 0; i < nn; i++)
			if (next[i].id == f->id)
				f->peer = &next[i];
	}
	table_free(table, ntable);
	table = next;
	ntable = nn;
	for (size_t i = 0; i < ntable; i++)
		log_debug("peer %d: cancel requests go to %s (pool_size %d; %s)", table[i].id,
			  table[i].where, table[i].pool_size, table[i].origin);
	return true;
}

/* Peers a cluster's membership told of (peers_learn): kept across
 * reloads, merged under [peers] (whose entry wins for an id in both). */
static struct learned {
	int id, port, pool_size;
	char *host;
} *learned;
static size_t nlearned;

static void learned_free(void)
{
	for (size_t i = 0; i < nlearned; i++)
		free(learned[i].host);
	free(learned);
	learned = NULL;
	nlearned = 0;
}

static bool same_as_learned(const struct peer_spec *specs, size_t n)
{
	if (n != nlearned)
		return false;
	for (size_t i = 0; i < n; i++)
		if (specs[i].id != learned[i].id || specs[i].port != learned[i].port ||
		    specs[i].pool_size != learned[i].pool_size || strcmp(specs[i].host, learned[i].host))
			return false;
	return true;
}

void peers_learn(const struct peer_spec *specs, size_t n)
{
	if (same_as_learned(specs, n))
		return;   /* most heartbeats: nothing to resolve again */
	struct learned *next = n ? calloc(n, sizeof *next) : NULL;
	if (n && !next)
		return;
	for (size_t i = 0; i < n; i++) {
		next[i] = (struct learned){ specs[i].id, specs[i].port, specs[i].pool_size, strdup(specs[i].host) };
		if (!next[i].host) {
			for (size_t j = 0; j < i; j++)
				free(next[j].host);
			free(next);
			return;
		}
	}
	learned_free();
	learned = next;
	nlearned = n;
	log_info("cluster membership: %zu peer%s to forward cancel requests to", n, n == 1 ? "" : "s");
	peers_configure(rt.cfg);
}

static bool listed(const struct config *cfg, int id)
{
	for (size_t i = 0; cfg->peer_id && i < cfg->npeers; i++)
		if (cfg->peers[i].id == id)
			return true;
	return false;
}

void peers_configure(const struct config *cfg)
{
	size_t nconf = cfg->peer_id ? cfg->npeers : 0, n = nconf;
	for (size_t i = 0; cfg->peer_id && i < nlearned; i++)
		n += !listed(cfg, learned[i].id);
	struct peer_spec *specs = n ? calloc(n, sizeof *specs) : NULL;
	char (*origins)[WHERE_LEN] = n ? calloc(n, sizeof *origins) : NULL;
	if (n && (!specs || !origins)) {
		log_error("%s: [peers]: out of memory; the peers stay as they were", cfg->path);
		goto out;
	}
	for (size_t i = 0; i < nconf; i++) {
		const struct peer_entry *pe = &cfg->peers[i];
		snprintf(origins[i], sizeof origins[i], "%s:%d", cfg->path, pe->line);
		specs[i] = (struct peer_spec){
			.id = pe->id, .host = pe->host,
			.port = pe->port > 0 ? pe->port : CONFIG_PEER_PORT,
			.pool_size = pe->pool_size > 0 ? pe->pool_size : cfg->default_pool_size,
			.origin = origins[i],
		};
	}
	for (size_t i = 0, k = nconf; cfg->peer_id && i < nlearned; i++) {
		if (listed(cfg, learned[i].id))
			continue;
		specs[k++] = (struct peer_spec){
			.id = learned[i].id, .host = learned[i].host, .port = learned[i].port,
			.pool_size = learned[i].pool_size, .origin = "cluster membership",
		};
	}
	if (!peers_set(specs, n, cfg->peer_id))
		log_error("%s: [peers]: out of memory; the peers stay as they were", cfg->path);
out:
	free(specs);
	free(origins);
}

void peers_free(void)
{
	learned_free();
	for (struct list *it = forwards.next; it != &forwards; it = it->next)
		list_entry(it, struct forward, node)->peer = NULL;
	table_free(table, ntable);
	table = NULL;
	ntable = 0;
}
