/*
 * client_hold.c — a client held by its database's gate: at a transaction
 * boundary, its next transaction waits (bytes buffered, no answer) until
 * the gate opens or gate_hold_timeout passes.
 */
#include <stdio.h>
#include <string.h>


#include "client.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "pool.h"
#include "prepared.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"

void client_hold(struct client *c)
{
	struct gate *g = c->pool->gate;
	client_set_state(c, CL_HELD);
	gate_hold(g, c);
	conn_timer(&c->conn, rt.cfg->gate_hold_timeout);
	client_log(c, LOG_LVL_DEBUG, "held by the gate of %s", g->db_name);
}

void client_release_hold(struct client *c)
{
	if (c->state != CL_HELD)
		return;
	gate_unhold(c, false);
	conn_timer(&c->conn, 0);
	if (c->server) {
		client_set_state(c, CL_ACTIVE);
		client_link->relay(c);
	} else {
		client_set_state(c, CL_IDLE);
		client_idle_timer(c, 'I');
		client_on_idle_input(c);
	}
}

/* Client messages that end a unit of work (they get a ReadyForQuery). */
static bool sync_point(char type)
{
	return type == 'Q' || type == 'S' || type == 'F';
}

void client_reject_held(struct client *c, const char *sqlstate, const char *msg)
{
	if (c->state != CL_HELD)
		return;
	gate_unhold(c, true);
	conn_timer(&c->conn, 0);
	/* drop the held messages up to and including the first sync point */
	for (;;) {
		struct pq_header h;
		enum pq_frame f = conn_frame(&c->conn, (uint32_t)rt.cfg->max_packet_size, &h);
		if (f != PQ_FRAME_COMPLETE) {
			client_fail(c, sqlstate, "%s", msg);
			return;
		}
		buf_drain(c->conn.in, pq_msg_total(&h));
		if (sync_point(h.type))
			break;
	}
	client_log_error(c, sqlstate, msg);   /* held work refused */
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_error(&w, "ERROR", sqlstate, msg, NULL);
	proto_build_ready(&w, 'I');
	if (pq_writer_ok(&w))
		(void)conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
	conn_send(&c->conn);
	if (c->server) {
		client_set_state(c, CL_ACTIVE);
		client_idle_timer(c, 'I');
	} else {
		client_set_state(c, CL_IDLE);
		client_idle_timer(c, 'I');
	}
	if (conn_in_len(&c->conn) > 0) {
		if (c->server)
			client_link->relay(c);
		else
			client_on_idle_input(c);
	}
}
