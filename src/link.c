/*
 * link.c — a client linked to a server (link.h): pairing them, the relay
 * in both directions (what each side's messages mean is link_hooks.c's),
 * backpressure on both sides, the one rule for "between
 * transactions", the release decision per pool mode, and the fate of the
 * client when its server goes away. The ops tables at the end are how
 * server, pool, gate, prepared and client report to the pair's owner.
 */
#include <stdio.h>
#include <string.h>


#include "cancel.h"
#include "client.h"
#include "config.h"
#include "gate.h"
#include "link.h"
#include "link_hooks.h"
#include "log.h"
#include "pool.h"
#include "pool_timers.h"
#include "prepared.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "session_state.h"
#include "sqlstate.h"
#include "stats.h"

static void client_relay(struct client *c);
static void server_relay(struct server *s);
static void note_flight(struct client *c);

/* ---- the pair's state ---- */

/* (inline: asked after every relay run, by note_flight) */
static inline bool at_boundary(const struct client *c)
{
	const struct server *s = c->server;
	return s && s->state == SV_ACTIVE && s->txn_status == 'I' &&
	       c->relay.counted == s->relay.counted && !c->relay.unsynced &&
	       c->relay.pending == 0 && s->relay.pending == 0 &&
	       (!s->stmts || prepared_server_idle(s));
}

static inline bool in_flight(const struct client *c)
{
	return c->server && c->state != CL_CLOSED && !at_boundary(c);
}

/* Does the client keep its server between transactions? In session
 * pooling, and when session state pins it (session_state.c). */
static inline bool keeps_server(const struct client *c)
{
	return c->pool->mode == POOL_SESSION || c->pinned;
}

bool link_at_boundary(const struct client *c)
{
	return at_boundary(c);
}

bool link_in_flight(const struct client *c)
{
	return in_flight(c);
}

static void flight_changed(struct client *c, bool now)
{
	struct gate *g = c->pool && !c->bypass ? c->pool->gate : NULL;
	if (!g && !c->in_flight)
		return;   /* not counted: sluice's own pools, bypass clients */
	if (!g)
		BUG("client C-%llu counted in flight without a gate", (unsigned long long)c->conn.id);
	c->in_flight = now;
	gate_count_flight(g, now ? 1 : -1);
}

/* Each gate counts the transactions in flight of its database; the
 * count moves here, after anything that may take a pair across a
 * transaction boundary (a relay run, a pairing, a detach). Bypass
 * clients and sluice's own pools (no gate) are not counted. */
static inline void note_flight(struct client *c)
{
	bool now = in_flight(c);
	if (now != c->in_flight)
		flight_changed(c, now);
}

static void detach(struct client *c, struct server *s)
{
	s->client = NULL;
	c->server = NULL;
	note_flight(c);
}

/* ---- pairing and letting go ---- */

/* s is set up for c (or was already): c may go on. */
static void pair_ready(struct client *c)
{
	conn_timer(&c->conn, 0);
	if (c->state == CL_LOGIN_WAIT) {
		client_welcome(c);
		if (c->pool->mode != POOL_SESSION)
			link_release(c);
		else
			client_relay(c);
		return;
	}
	client_set_state(c, CL_ACTIVE);
	conn_read_start(&c->conn);
	client_relay(c);
}

void link_pair(struct server *s, struct client *c)
{
	s->used = true;
	s->last_query[0] = 0;   /* the previous client's */
	if (c->state == CL_AUTH_QUERY) {
		s->client = c;
		c->server = s;
		server_lookup(s, c);
		return;
	}
	if (c->state == CL_WAITING || c->state == CL_LOGIN_WAIT)
		stats_wait(s->pool->stats, rt_now() - c->wait_since);
	s->clock = (struct stats_clock){ 0 };
	s->client = c;
	c->server = s;
	s->relay.counted = 0;
	s->relay.unsynced = false;
	s->unqueued_readies = 0;   /* (counted with the relay's: 0 at every boundary) */
	c->relay.counted = 0;
	c->relay.unsynced = false;
	struct pq_writer w;
	pq_writer_init(&w);
	int queries = varcache_apply_sql(&c->vars, &s->vars, &w);
	if (client_tracks_statements(c) && !c->pool->internal)
		queries += prepared_link_setup(s, &w);
	if (queries > 0 && pq_writer_ok(&w)) {
		server_setup(s, w.buf, w.len, queries);
		pq_writer_free(&w);
		note_flight(c);
		return;
	}
	pq_writer_free(&w);
	server_set_state(s, SV_ACTIVE);
	conn_read_start(&s->conn);
	pair_ready(c);
}

void link_release(struct client *c)
{
	struct server *s = c->server;
	if (!s)
		return;
	detach(c, s);
	client_set_state(c, CL_IDLE);
	client_idle_timer(c, 'I');
	pool_release(s, rt.cfg->server_reset_query_always ? POOL_RELEASE_RESET : POOL_RELEASE_KEEP);
	if (c->state == CL_IDLE && conn_in_len(&c->conn) > 0)
		client_on_idle_input(c);
}

/* The client is closing: at the boundary, with nothing more from the
 * server, its server is reset and reused; otherwise closed. */
static void let_go(struct client *c)
{
	struct server *s = c->server;
	int how = session_state_left(c);   /* a pinned server is discarded (or closed) */
	if (!s)
		return;
	bool clean = link_at_boundary(c) && conn_in_len(&s->conn) == 0;
	detach(c, s);
	pool_release(s, clean ? (enum pool_release)how : POOL_RELEASE_CLOSE);
}

static void send_ready(struct client *c, char status)
{
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_ready(&w, status);
	if (pq_writer_ok(&w))
		(void)conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
}

void link_lost(struct client *c, struct server *s, const char *sqlstate, const char *msg)
{
	if (c->state == CL_AUTH_QUERY) {
		detach(c, s);
		client_fail(c, sqlstate, "could not look up the user: %s", msg);
		return;
	}
	if (s->state == SV_SETUP) {
		/* Nothing of the client's reached the server yet: try another. */
		detach(c, s);
		client_set_state(c, CL_WAITING);
		pool_acquire(c->pool, c);
		return;
	}
	if (s->relay.pending) {
		/* Cut inside a message to the client: nothing more may follow. */
		detach(c, s);
		client_close_logged(c, "server died in the middle of a message", false, LOG_LVL_INFO);
		return;
	}
	if (s->relay.counted > c->relay.counted) {
		/* More answers than questions: the relay refuses the ReadyForQuery
		 * that would do this (server_inspect), but the difference below
		 * must never wrap (it once made 4 billion error replies). */
		detach(c, s);
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
			    "protocol violation by the server: more ReadyForQuery messages than queries");
		return;
	}
	uint32_t outstanding = c->relay.counted - s->relay.counted;
	bool mid_message = c->relay.pending || c->relay.unsynced;
	if (keeps_server(c) || mid_message || (outstanding == 0 && s->txn_status != 'I')) {
		/* Session state, or the message stream itself, died with the
		 * server: end the session, as PostgreSQL would; after the
		 * server's own FATAL, with nothing more (as PostgreSQL). */
		bool told = s->said_fatal && c->pool->mode == POOL_SESSION;
		detach(c, s);
		if (told)
			client_close_logged(c, msg, true, LOG_LVL_INFO);
		else
			client_fail(c, sqlstate, "%s", msg);
		return;
	}
	/* Transaction pooling: the work in flight failed; the client stays
	 * and its next transaction gets a new server. Each unanswered sync
	 * point gets its error and ReadyForQuery. */
	bool answered = s->said_fatal;
	detach(c, s);
	client_log(c, LOG_LVL_INFO, "server lost with %u sync points unanswered", outstanding);
	client_log_error(c, sqlstate, msg);   /* once, however many it gets */
	for (uint32_t i = 0; i < outstanding; i++) {
		/* the first sync point was answered by the server's own
		 * (softened) FATAL already: its ReadyForQuery only */
		if (i > 0 || !answered)
			client_add_error(c, "ERROR", sqlstate, msg);
		send_ready(c, 'I');
	}
	conn_send(&c->conn);
	client_set_state(c, CL_IDLE);
	client_idle_timer(c, 'I');
	c->relay.counted = 0;
	conn_read_start(&c->conn);
	if (conn_in_len(&c->conn) > 0)
		client_on_idle_input(c);
}

/* ---- client -> server ---- */

static void relay_to_server(struct client *c);

static void client_relay(struct client *c)
{
	relay_to_server(c);
	note_flight(c);
}

static void relay_to_server(struct client *c)
{
	struct server *s = c->server;
	if (!s || s->state != SV_ACTIVE || !c->conn.in)
		return;   /* (no input buffer: nothing to pass, conn_unshed) */
	size_t in_before = conn_in_len(&c->conn);
	if (in_before > 0 && link_at_boundary(c)) {
		/* the client starts its next transaction */
		if (gate_holds_client(c)) {
			if (keeps_server(c))
				client_hold(c);
			else
				link_release(c);   /* and is held there */
			return;
		}
		c->xact_start = rt_now();
	}
	const struct relay_spec *spec = link_client_spec(c);
	for (;;) {
		uint32_t before = c->relay.counted;
		enum relay_result r = relay_run(&c->relay, c->conn.in, s->conn.out, spec, c,
						CONN_HIGH_WATER);
		size_t in_after = conn_in_len(&c->conn);
		if (in_after != in_before) {
			stats_client_bytes(&s->clock, s->pool->stats, in_before - in_after);
			if (client_idle_timers_on())
				conn_timer(&c->conn, 0);   /* the client is not idle */
			in_before = in_after;
		}
		if (conn_out_len(&c->conn) > 0)
			conn_send_soon(&c->conn);   /* answers sluice gave itself */
		if (rt.cfg->query_timeout > 0 && before == s->relay.counted && c->relay.counted != before)
			conn_timer(&s->conn, rt.cfg->query_timeout);   /* a query starts */
		conn_send_soon(&s->conn);
		switch (r) {
		case RELAY_BAD_LENGTH:
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid message length");
			return;
		case RELAY_FAILED:
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid message from client");
			return;
		case RELAY_STOPPED:   /* Terminate */
			client_close_normal(c);
			return;
		case RELAY_WAITING:
			/* a Bind waits for the server's Describe of its statement
			 * (prepared.c), which resumes this relay */
			if (conn_in_len(&c->conn) > CONN_HIGH_WATER)
				conn_read_stop(&c->conn);
			return;
		case RELAY_BACKPRESSURE:
		case RELAY_IDLE:
			break;
		}
		if (c->server != s || s->state != SV_ACTIVE)
			return;
		if (conn_out_full(&s->conn)) {
			conn_read_stop(&c->conn);   /* resumed on the server's DRAINED */
			return;
		}
		/* Answers the client does not read, or owes the server's answers
		 * to so much: no more from it until they are out (as PostgreSQL
		 * reads no more while its output blocks). At a message boundary
		 * only: the server must get the one in passage whole. */
		if (c->relay.pending == 0 && (conn_out_full(&c->conn) || prepared_client_stalled(s))) {
			conn_read_stop(&c->conn);   /* resumed on the client's DRAINED, or by the server */
			conn_send_soon(&s->conn);   /* the Flush a stall sends */
			return;
		}
		/* Stopped at the mark, and the write took the server's output
		 * below it: nothing else wakes this relay for bytes already in
		 * (the client may have sent all it will), so move the rest now. */
		if (r == RELAY_IDLE)
			return;
	}
}

/* ---- server -> client ---- */

/* A transaction (or statement) ended: the client gives the server back. */
static void transaction_end(struct server *s)
{
	struct client *c = s->client;
	if (s->pool->mode == POOL_STATEMENT && s->txn_status != 'I') {
		client_fail(c, SQLSTATE_FEATURE_NOT_SUPPORTED,
			    "transaction blocks not allowed in statement pooling mode");
		return;
	}
	/* may the client let go of the server? at the boundary, with
	 * nothing more sent */
	if (!link_at_boundary(c) || conn_in_len(&c->conn) > 0) {
		/* the client already sent more: keep going, unless its next
		 * transaction must wait for the gate */
		if (link_at_boundary(c) && gate_holds_client(c))
			link_release(c);
		return;
	}
	link_release(c);
}

static void relay_to_client(struct server *s, struct client *c);

static void server_relay(struct server *s)
{
	struct client *c = s->client;
	if (!c || s->state != SV_ACTIVE)
		return;
	relay_to_client(s, c);
	note_flight(c);   /* linked still, or detached (already noted) */
}

static void relay_to_client(struct server *s, struct client *c)
{
	for (;;) {
		/* chosen per run: only the client side adds what is owed */
		const struct relay_spec *spec = link_server_spec(s);
		size_t in_before = conn_in_len(&s->conn);
		if (!conn_out(&c->conn)) {
			client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
			return;
		}
		enum relay_result r = relay_run(&s->relay, s->conn.in, c->conn.out, spec, s,
						CONN_HIGH_WATER);
		stats_server_bytes(s->pool->stats, in_before - conn_in_len(&s->conn));
		conn_send_soon(&c->conn);
		switch (r) {
		case RELAY_BAD_LENGTH:
		case RELAY_FAILED:
			server_broke(s, "invalid message from server");
			return;
		case RELAY_STOPPED:
			transaction_end(s);
			return;
		case RELAY_IDLE:
		case RELAY_BACKPRESSURE:
		case RELAY_WAITING:
			break;
		}
		if (prepared_server_take_resume(s)) {
			/* the client's Bind waited for this server's Describe */
			conn_read_start(&c->conn);
			client_relay(c);
			if (s->client != c || s->state != SV_ACTIVE)
				return;
		}
		if (conn_out_full(&c->conn)) {
			conn_read_stop(&s->conn);   /* resumed on the client's DRAINED */
			return;
		}
		if (r == RELAY_IDLE)
			return;
		/* the write took it below the mark: move the rest now */
	}
}

/* ---- backpressure: either side's output went out ---- */

static void client_drained(struct client *c)
{
	struct server *s = c->server;
	if (!s || s->state != SV_ACTIVE)
		return;
	conn_read_start(&s->conn);
	server_relay(s);
	if (c->server == s && s->state == SV_ACTIVE && c->state == CL_ACTIVE) {
		conn_read_start(&c->conn);
		client_relay(c);
	}
}

static void server_drained(struct server *s)
{
	if (s->client && s->client->state == CL_ACTIVE) {
		conn_read_start(&s->client->conn);
		client_relay(s->client);
	}
}

/* ---- what the modules below report ---- */

static void server_ready(struct server *s)
{
	if (s->client)
		pair_ready(s->client);
}

static void server_lost(struct server *s, const char *sqlstate, const char *msg)
{
	if (s->client)
		link_lost(s->client, s, sqlstate, msg);
}

static void server_unlink(struct server *s)
{
	if (s->client)
		detach(s->client, s);
}

static void server_drops_client(struct server *s, const char *sqlstate, const char *msg)
{
	struct client *c = s->client;
	if (!c)
		return;
	detach(c, s);
	client_fail(c, sqlstate, "%s", msg);
}

/* DISCARD ALL / DEALLOCATE ALL dropped the server's prepared statements
 * and (when a client ran them) that client's: it will prepare them again
 * under the same names, as psycopg does after a ROLLBACK. */
static void statements_dropped(struct server *s)
{
	prepared_server_discarded(s);
	if (s->client)
		prepared_client_forget_names(s->client);
}

static void server_gone(struct server *s)
{
	cancel_forget(s);
	prepared_server_free(s);
}

static void client_failed(struct client *c, const char *sqlstate, const char *msg)
{
	client_fail(c, sqlstate, "%s", msg);
}

static const struct server_owner_ops server_ops = {
	.ready = server_ready,
	.input = server_relay,
	.drained = server_drained,
	.lost = server_lost,
	.drop_client = server_drops_client,
	.unlink = server_unlink,
	.stop_query = cancel_backend,
	.statements_dropped = statements_dropped,
	.gone = server_gone,
	.lookup_done = client_auth_lookup_done,
	.known_secret = client_auth_known_secret,
	.scram_keys = client_auth_scram_keys,
};

static const struct pool_owner_ops pool_ops = {
	.give = link_pair,
	.fail = client_failed,
	.wait_expired = client_wait_expired,
	.stop_query = cancel_backend,
	.gate_of = gate_get,
	.database_gone = gate_forget,
};

static const struct server_pool_ops server_pool_side = {
	.ready = pool_server_ready,
	.gone = pool_server_gone,
	.login_failed = pool_login_failed,
	.set_refused = pool_set_refused,
	.learned = pool_server_learned,
	.ref = pool_ref,
	.unref = pool_unref,
	.idle = timers_server_idle,
	.timer = timers_server_fire,
};

static const struct gate_owner_ops gate_ops = {
	.hold = client_hold,
	.release = client_release_hold,
	.reject = client_reject_held,
	.in_flight = link_in_flight,
};

static const struct client_link_ops client_ops = {
	.relay = client_relay,
	.drained = client_drained,
	.let_go = let_go,
};

void link_init(void)
{
	server_set_owner(&server_ops);
	server_set_pool(&server_pool_side);
	pool_set_owner(&pool_ops);
	gate_set_owner(&gate_ops);
	prepared_set_owner(client_failed);
	client_set_link(&client_ops);
}
