/*
 * cancel.c — per-client cancel keys and CancelRequest forwarding.
 *
 * Each client gets a random (pid, key) of sluice's own, indexed in a hash
 * table by pid. A CancelRequest naming it is passed on, as a CancelRequest
 * with the real backend's key, to the server connection the client holds
 * at that moment; one naming anything else is dropped silently, as
 * PostgreSQL does.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cancel.h"
#include "client.h"
#include "csprng.h"
#include "log.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"

#define CANCEL_BUCKETS 4096
#define CANCEL_CONNECT_TIMEOUT 5.0

static struct client *buckets[CANCEL_BUCKETS];

static struct client **bucket_of(uint32_t pid)
{
	return &buckets[(pid * 2654435761u) >> 20 & (CANCEL_BUCKETS - 1)];
}

static struct client *find(uint32_t pid)
{
	for (struct client *c = *bucket_of(pid); c; c = c->cancel_next)
		if (c->cancel_pid == pid)
			return c;
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
		c->cancel_pid = v[0];
		c->cancel_key = v[1];
		struct client **b = bucket_of(c->cancel_pid);
		c->cancel_next = *b;
		*b = c;
		return true;
	}
	return false;
}

void cancel_unregister(struct client *c)
{
	if (!c->cancel_pid)
		return;
	for (struct client **pp = bucket_of(c->cancel_pid); *pp; pp = &(*pp)->cancel_next) {
		if (*pp == c) {
			*pp = c->cancel_next;
			break;
		}
	}
	c->cancel_pid = 0;
	c->cancel_next = NULL;
}

/* A short-lived connection that carries one CancelRequest to PostgreSQL. */
struct cancel_conn {
	struct conn conn;
	uint32_t pid, key;
};

static void cancel_event(struct conn *conn, enum conn_event ev)
{
	struct cancel_conn *cc = (struct cancel_conn *)conn;
	switch (ev) {
	case CONN_EV_CONNECTED: {
		struct pq_writer w;
		pq_writer_init(&w);
		proto_build_cancel(&w, cc->pid, cc->key);
		if (pq_writer_ok(&w))
			evbuffer_add(conn->out, w.buf, w.len);
		pq_writer_free(&w);
		conn_close_flushed(conn);
		break;
	}
	default:
		log_debug("cancel request to backend %u could not be sent", cc->pid);
		conn_close(conn);
		break;
	}
}

static void cancel_destroy(struct conn *conn)
{
	conn_release(conn);
	free(conn);
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
	client_log(c, LOG_LVL_INFO, "forwarding cancel request to backend %u", s->backend_pid);
	cancel_backend(s);
}

void cancel_backend(const struct server *s)
{
	struct cancel_conn *cc = calloc(1, sizeof *cc);
	if (!cc)
		return;
	cc->pid = s->backend_pid;
	cc->key = s->backend_key;
	const struct pool_target *t = &s->pool->target;
	if (!conn_connect(&cc->conn, (const struct sockaddr *)&t->addr, t->addrlen, &cancel_ops)) {
		conn_release(&cc->conn);
		free(cc);
		return;
	}
	conn_timer(&cc->conn, CANCEL_CONNECT_TIMEOUT);
}
