/*
 * cancel.c — per-client cancel keys and CancelRequest forwarding.
 *
 * Each client gets a random (pid, key) of sluice's own, indexed in a hash
 * table by the pair. A CancelRequest naming it is passed on, as a
 * CancelRequest with the real backend's key, to the server connection the
 * client holds at that moment; one naming anything else is dropped
 * silently, as PostgreSQL does.
 *
 * With peer_id set, the keys carry it (cancel_key.h), and a CancelRequest
 * whose key carries another peer's id is forwarded to that peer once
 * (peers.c) instead of looked up here. Its pid alone then has only 15
 * random bits, so the table keys on the pair (under the process's SipHash
 * key), and the pair is what must be unique.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cancel.h"
#include "cancel_key.h"
#include "client_types.h"
#include "config.h"
#include "csprng.h"
#include "htab.h"
#include "log.h"
#include "peers.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "siphash.h"

#define CANCEL_CONNECT_TIMEOUT 5.0
#define CANCEL_ANSWER_TIMEOUT 5.0   /* for PostgreSQL to close it once sent */
#define CANCEL_IN_FLIGHT_MAX 1      /* per server connection */

/* Clients by (cancel_pid, cancel_key). */
static struct htab by_key;
static cancel_settled_fn settled_fn;

void cancel_init(cancel_settled_fn settled)
{
	settled_fn = settled;
}

static uint64_t key_hash(uint32_t pid, uint32_t key)
{
	const uint32_t pair[2] = { pid, key };
	return siphash_of(pair, sizeof pair);
}

static struct client *find_hashed(uint32_t pid, uint32_t key, uint64_t hash)
{
	const uint32_t want[2] = { pid, key };
	for (struct htab_node *n = htab_find(&by_key, hash); n; n = htab_find_next(n)) {
		struct client *c = container_of(n, struct client, cancel_node);
		const uint32_t have[2] = { c->cancel_pid, c->cancel_key };
		if (CRYPTO_memcmp(want, have, sizeof want) == 0)
			return c;
	}
	return NULL;
}

static struct client *find(uint32_t pid, uint32_t key)
{
	return find_hashed(pid, key, key_hash(pid, key));
}

bool cancel_register(struct client *c)
{
	for (int tries = 0; tries < 16; tries++) {
		uint32_t v[2], pid, key;
		if (!csprng_bytes(v, sizeof v))
			return false;
		cancel_key_make(v, rt.cfg->peer_id, &pid, &key);
		if (pid == 0)
			continue;
		uint64_t hash = key_hash(pid, key);   /* once: SipHash, at every login */
		if (find_hashed(pid, key, hash))
			continue;
		if (!htab_add(&by_key, &c->cancel_node, hash))
			return false;
		c->cancel_pid = pid;
		c->cancel_key = key;
		return true;
	}
	return false;
}

void cancel_unregister(struct client *c)
{
	if (!c->cancel_pid)
		return;
	htab_del(&by_key, &c->cancel_node);
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
			buf_add(conn->out, w.buf, w.len);
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
		buf_drain(conn->in, conn_in_len(conn));
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

/* A key of another peer's: on to it, once. */
static bool to_peer(int peer, uint32_t pid, uint32_t key, char *why, size_t whylen)
{
	if (cancel_key_hops(key) == 0) {
		/* forwarded here already, by an instance whose [peers] entry for
		 * `peer` leads here: a second forward could go round in circles */
		snprintf(why, whylen, "cancel request for peer %d reached peer %d after its one forward: "
			 "dropped (a [peers] entry for %d leads to the wrong instance)", peer,
			 rt.cfg->peer_id, peer);
		return false;
	}
	return peers_forward(peer, pid, cancel_key_hop(key), why, whylen);
}

bool cancel_request(uint32_t pid, uint32_t key, char *why, size_t whylen)
{
	if (rt.cfg->peer_id) {
		int peer = cancel_key_peer(pid);
		if (peer != rt.cfg->peer_id)
			return to_peer(peer, pid, key, why, whylen);
		key = cancel_key_as_issued(key);   /* forwarded or not */
	}
	struct client *c = find(pid, key);
	if (!c) {
		log_debug("cancel request for unknown key ignored");
		return true;
	}
	struct server *s = c->server;
	if (!s || s->state != SV_ACTIVE) {
		client_log(c, LOG_LVL_DEBUG, "cancel request while no query runs: ignored");
		return true;
	}
	if (s->cancels >= CANCEL_IN_FLIGHT_MAX) {
		client_log(c, LOG_LVL_DEBUG, "cancel request while one for backend %u is in flight: dropped",
			   s->backend_pid);
		return true;
	}
	client_log(c, LOG_LVL_INFO, "forwarding cancel request to backend %u", s->backend_pid);
	cancel_backend(s);
	return true;
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
