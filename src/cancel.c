/*
 * cancel.c — per-client cancel keys and CancelRequest forwarding.
 *
 * Each client gets a random (pid, key) of sluice's own, indexed in a hash
 * table by pid. A CancelRequest naming it is passed on, as a CancelRequest
 * with the real backend's key, to the server connection the client holds
 * at that moment; one naming anything else is dropped silently, as
 * PostgreSQL does.
 *
 * PostgreSQL signals the backend from the process that reads the
 * CancelRequest, which then closes the connection; until then the signal
 * may still come, and hit whatever the backend runs by then. So each
 * server counts the cancels sent for it that PostgreSQL has not closed yet
 * (s->cancels), and the pool hands on no server whose count is above zero:
 * it is told through the settled callback when the count falls to zero.
 *
 * At most one cancel is in flight per server connection (CANCEL_IN_FLIGHT_MAX):
 * a logged-in client knows its own key and may send CancelRequests as
 * fast as it can open sockets; each would cost a connection to PostgreSQL
 * and a log line. A second one while the first is in flight would signal
 * the same backend at about the same time: it adds nothing and is dropped
 * (logged at DEBUG).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cancel.h"
#include "client_types.h"
#include "csprng.h"
#include "htab.h"
#include "log.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"

#define CANCEL_CONNECT_TIMEOUT 5.0
#define CANCEL_ANSWER_TIMEOUT 5.0   /* for PostgreSQL to close it once sent */
#define CANCEL_IN_FLIGHT_MAX 1      /* per server connection */

/* Clients by cancel_pid. The pids are random (csprng): each is its own hash. */
static struct htab by_pid;
static cancel_settled_fn settled_fn;

void cancel_init(cancel_settled_fn settled)
{
	settled_fn = settled;
}

static struct client *find(uint32_t pid)
{
	for (struct htab_node *n = htab_find(&by_pid, pid); n; n = htab_find_next(n)) {
		struct client *c = container_of(n, struct client, cancel_node);
		if (c->cancel_pid == pid)
			return c;
	}
	return NULL;
}

bool cancel_register(struct client *c)
{
	for (int tries = 0; tries < 16; tries++) {
		uint32_t v[2];
		if (!csprng_bytes(v, sizeof v))
			return false;
		v[0] &= 0x7fffffff;   /* a positive pid, as clients expect */
		if (v[0] == 0 || find(v[0]))
			continue;
		if (!htab_add(&by_pid, &c->cancel_node, v[0]))
			return false;
		c->cancel_pid = v[0];
		c->cancel_key = v[1];
		return true;
	}
	return false;
}

void cancel_unregister(struct client *c)
{
	if (!c->cancel_pid)
		return;
	htab_del(&by_pid, &c->cancel_node);
	c->cancel_pid = 0;
}

/* A short-lived connection that carries one CancelRequest to PostgreSQL
 * and stays open until PostgreSQL closes it. */
struct cancel_conn {
	struct conn conn;
	struct list node;        /* in `pending` */
	struct server *server;   /* whose count it is in; NULL once settled or
	                          * once the server is gone (cancel_forget) */
	uint32_t pid, key;
};

/* Every cancel connection whose server still counts it. */
static struct list pending = { &pending, &pending };

/* PostgreSQL took the cancel, or it failed: its server no longer waits for
 * it. The callback may hand the server on at once. */
static void settle(struct cancel_conn *cc)
{
	struct server *s = cc->server;
	list_del_init(&cc->node);
	if (!s)
		return;
	cc->server = NULL;
	if (--s->cancels < 0)
		BUG("server S-%llu: cancels in flight below zero", (unsigned long long)s->conn.id);
	if (s->cancels == 0 && settled_fn)
		settled_fn(s);
}

static void cancel_event(struct conn *conn, enum conn_event ev)
{
	struct cancel_conn *cc = (struct cancel_conn *)conn;
	switch (ev) {
	case CONN_EV_CONNECTED: {
		struct pq_writer w;
		pq_writer_init(&w);
		proto_build_cancel(&w, cc->pid, cc->key);
		bool ok = pq_writer_ok(&w);
		if (ok)
			evbuffer_add(conn->out, w.buf, w.len);
		pq_writer_free(&w);
		if (!ok) {
			settle(cc);
			conn_close(conn);
			break;
		}
		conn_send(conn);
		/* PostgreSQL closes it once it has signalled the backend */
		conn_read_start(conn);
		conn_timer(conn, CANCEL_ANSWER_TIMEOUT);
		break;
	}
	case CONN_EV_READ:
		/* PostgreSQL answers a CancelRequest with nothing: ignore it */
		evbuffer_drain(conn->in, conn_in_len(conn));
		break;
	case CONN_EV_EOF:
		log_noise("cancel request to backend %u taken", cc->pid);
		settle(cc);
		conn_close(conn);
		break;
	case CONN_EV_TIMEOUT:
		log_warn("cancel request to backend %u: no answer within %g s", cc->pid,
			 conn->phase == CONN_CONNECTING ? CANCEL_CONNECT_TIMEOUT : CANCEL_ANSWER_TIMEOUT);
		settle(cc);
		conn_close(conn);
		break;
	default:
		log_debug("cancel request to backend %u could not be sent", cc->pid);
		settle(cc);
		conn_close(conn);
		break;
	}
}

static void cancel_destroy(struct conn *conn)
{
	struct cancel_conn *cc = (struct cancel_conn *)conn;
	settle(cc);   /* settled already, unless closed from outside */
	conn_release(conn);
	free(cc);
}

static const struct conn_ops cancel_ops = { cancel_event, cancel_destroy };

void cancel_request(uint32_t pid, uint32_t key)
{
	struct client *c = find(pid);
	if (!c || CRYPTO_memcmp(&c->cancel_key, &key, sizeof key) != 0) {
		log_debug("cancel request for unknown key ignored");
		return;
	}
	struct server *s = c->server;
	if (!s || s->state != SV_ACTIVE) {
		client_log(c, LOG_LVL_DEBUG, "cancel request while no query runs: ignored");
		return;
	}
	if (s->cancels >= CANCEL_IN_FLIGHT_MAX) {
		client_log(c, LOG_LVL_DEBUG, "cancel request while one for backend %u is in flight: dropped",
			   s->backend_pid);
		return;
	}
	client_log(c, LOG_LVL_INFO, "forwarding cancel request to backend %u", s->backend_pid);
	cancel_backend(s);
}

void cancel_backend(struct server *s)
{
	if (s->cancels >= CANCEL_IN_FLIGHT_MAX)
		return;   /* that one signals the backend as well */
	struct cancel_conn *cc = calloc(1, sizeof *cc);
	if (!cc)
		return;
	list_init(&cc->node);
	cc->pid = s->backend_pid;
	cc->key = s->backend_key;
	const struct pool_target *t = &s->pool->target;
	if (!conn_connect(&cc->conn, (const struct sockaddr *)&t->addr, t->addrlen, &cancel_ops)) {
		conn_release(&cc->conn);
		free(cc);
		return;
	}
	cc->server = s;
	s->cancels++;
	list_append(&pending, &cc->node);
	conn_timer(&cc->conn, CANCEL_CONNECT_TIMEOUT);
}

void cancel_forget(struct server *s)
{
	if (s->cancels == 0)
		return;
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &pending) {
		struct cancel_conn *cc = list_entry(it, struct cancel_conn, node);
		if (cc->server != s)
			continue;
		list_del_init(&cc->node);
		cc->server = NULL;
		s->cancels--;
	}
	if (s->cancels != 0)
		BUG("server S-%llu: %d cancels in flight not found", (unsigned long long)s->conn.id,
		    s->cancels);
}
