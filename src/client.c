/*
 * client.c — the client state machine: startup, login, waiting for a
 * server, relaying, and the one exit path.
 *
 *   CL_STARTUP -> CL_AUTH -> (CL_LOGIN_WAIT) -> CL_IDLE <-> CL_WAITING -> CL_ACTIVE
 *                                                 any -> CL_CLOSED
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "admin.h"
#include "cancel.h"
#include "client.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "log_limit.h"
#include "login_slots.h"
#include "pool.h"
#include "prepared.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"
#include "startup_set.h"
#include "stats.h"
#include "strpool.h"
#include "tls.h"

#define CLIENT_AUTH_MSG_MAX 8192   /* longest message accepted before login */
#define CLIENT_HARD_CAP_EXTRA 64   /* sockets beyond max_client_conn kept long
                                    * enough to be told why */

static void client_event(struct conn *conn, enum conn_event ev);
static void client_destroy(struct conn *conn);
static const struct conn_ops client_ops = { client_event, client_destroy };

static enum relay_action client_inspect(void *owner, char type, const uint8_t *body, size_t len);
static void wait_for_setup(struct client *c);
static bool take_login_slot(struct client *c);
static struct relay_spec client_spec, client_spec_tracked;

/* Transaction and statement pooling carry named prepared statements
 * across servers (prepared.c); session pooling needs nothing of that. */
static bool tracks_statements(const struct client *c)
{
	return c->pool->mode != POOL_SESSION && rt.cfg->max_prepared_statements > 0;
}

static const char *const state_names[] = {
	[CL_STARTUP] = "startup", [CL_AUTH] = "auth", [CL_AUTH_QUERY] = "auth_query",
	[CL_LOGIN_WAIT] = "login_wait",
	[CL_IDLE] = "idle", [CL_WAITING] = "waiting", [CL_ACTIVE] = "active", [CL_ADMIN] = "admin",
	[CL_HELD] = "held",
	[CL_CLOSED] = "closed",
};

const char *client_state_name(enum client_state st)
{
	return st <= CL_CLOSED ? state_names[st] : "?";
}

/* States that are a membership too: a login slot (rt.logins) until
 * authenticated, the pool's queue while waiting for a server, the gate's
 * list while held. */
bool client_state_before_login(enum client_state st)
{
	return st == CL_STARTUP || st == CL_AUTH || st == CL_AUTH_QUERY;
}

static bool queue_state(enum client_state st)
{
	return st == CL_WAITING || st == CL_LOGIN_WAIT || st == CL_AUTH_QUERY;
}

/* Leave the lists of state `from` that state `to` does not keep. The one
 * place that knows which list goes with which state. */
static void leave_lists(struct client *c, enum client_state from, enum client_state to)
{
	if (client_state_before_login(from) && !client_state_before_login(to))
		login_slots_leave(c);
	if (queue_state(from) && !queue_state(to))
		pool_unqueue(c);
	if (from == CL_HELD && to != CL_HELD)
		gate_unhold(c, false);
}

void client_set_state(struct client *c, enum client_state st)
{
	client_log(c, LOG_LVL_NOISE, "state %s -> %s", client_state_name(c->state),
		   client_state_name(st));
	leave_lists(c, c->state, st);
	c->state = st;
}

void client_addr(const struct client *c, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (c->peer.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &c->peer.in.sin_addr, host, sizeof host);
		snprintf(out, n, "%s:%u", host, ntohs(c->peer.in.sin_port));
	} else if (c->peer.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &c->peer.in6.sin6_addr, host, sizeof host);
		snprintf(out, n, "[%s]:%u", host, ntohs(c->peer.in6.sin6_port));
	} else {
		snprintf(out, n, "unix");
	}
}

void client_accept(int fd, const struct sockaddr *sa, socklen_t len)
{
	const struct config *cfg = rt.cfg;
	if (rt.nconns >= cfg->max_client_conn + cfg->max_login_clients + CLIENT_HARD_CAP_EXTRA) {
		if (log_on(LOG_LVL_WARN) && client_log_allowed_addr(sa, LOG_LVL_WARN))
			log_warn("refusing connection: %d sockets open, far past max_client_conn + max_login_clients",
				 rt.nconns);
		close(fd);
		return;
	}
	struct client *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	if (!conn_init(&c->conn, fd, &client_ops)) {
		conn_release(&c->conn);
		free(c);
		return;
	}
	list_init(&c->pool_node);
	list_init(&c->login_node);
	list_append(&rt.clients, &c->all_node);
	c->connect_time = rt_wallclock();
	c->request_at = rt_now();
	if (len <= (socklen_t)sizeof c->peer)
		memcpy(&c->peer, sa, len);
	else
		c->peer.sa.sa_family = sa->sa_family;   /* unix: the path is not kept */
	c->state = CL_STARTUP;
	c->connected_at = rt_now();
	rt.nconns++;
	client_log(c, LOG_LVL_DEBUG, "new connection");
	if (!take_login_slot(c))
		return;
	conn_read_start(&c->conn);
	conn_read_soon(&c->conn);   /* its first bytes are there (tcp_defer_accept) or soon */
	conn_timer(&c->conn, cfg->client_login_timeout);
}

/* Every login slot taken: the newcomer gets the slot of a login that has
 * taken LOGIN_SLOT_MIN_AGE or longer, or is refused. Refusing the newest
 * (rather than leaving connections in the kernel's backlog) keeps a burst
 * of sockets that never log in from queueing ahead of real clients; giving
 * old slots away means sockets that sit cannot keep anyone out. */
static bool take_login_slot(struct client *c)
{
	if (login_slots_full()) {
		struct client *old = login_slots_victim(rt_now());
		if (!old) {
			client_fail(c, SQLSTATE_TOO_MANY_CONNECTIONS,
				    "sorry, too many clients are logging in already (max_login_clients)");
			return false;
		}
		client_fail(old, SQLSTATE_TOO_MANY_CONNECTIONS,
			    "login took longer than %g s while every login slot was taken "
			    "(max_login_clients): the slot went to a newer connection", LOGIN_SLOT_MIN_AGE);
	}
	login_slots_enter(c);
	return true;
}

/* ---- the one exit path ---- */

void client_close_logged(struct client *c, const char *reason, bool flush, int lvl_on)
{
	if (c->state == CL_CLOSED)
		return;
	client_log_disconnect(c, reason, lvl_on);
	leave_lists(c, c->state, CL_CLOSED);   /* before its server goes back */
	struct server *s = c->server;
	if (s) {
		/* at the boundary, nothing more from the server: reset and reuse */
		bool clean = client_at_boundary(c) && conn_in_len(&s->conn) == 0;
		s->client = NULL;
		c->server = NULL;
		pool_release(s, clean ? POOL_RELEASE_RESET : POOL_RELEASE_CLOSE);
	}
	bool bypass_session = c->bypass && c->pool && c->state != CL_AUTH_QUERY && c->state != CL_ADMIN;
	if (c->pool && c->state != CL_AUTH_QUERY && c->state != CL_ADMIN &&
	    --c->pool->nclients == 0)
		c->pool->mode = c->pool->next_mode;   /* a reload changed it */
	if (c->state == CL_AUTH_QUERY)
		c->pool = NULL;   /* the lookup's pool, which it never held (pool_ref) */
	cancel_unregister(c);
	if (c->counted) {
		rt.nclients--;
		c->counted = false;
	}
	if (c->state == CL_ADMIN)
		admin_forget(c);
	client_set_state(c, CL_CLOSED);
	if (bypass_session)
		gate_bypass_logout(c);
	rt_kick();
	/* mid-handshake nothing can be sent: close at once */
	if (flush && c->conn.phase != CONN_TLS)
		conn_close_flushed(&c->conn);
	else
		conn_close(&c->conn);
}

static void client_close(struct client *c, const char *reason, bool flush)
{
	client_close_logged(c, reason, flush, LOG_LVL_INFO);
}

static void add_error(struct client *c, const char *severity, const char *sqlstate, const char *msg)
{
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_error(&w, severity, sqlstate, msg, NULL);
	if (pq_writer_ok(&w))
		(void)conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
}

void client_send_error(struct client *c, const char *severity, const char *sqlstate, const char *msg)
{
	client_log_error(c, sqlstate, msg);
	add_error(c, severity, sqlstate, msg);
	conn_send(&c->conn);
}

void client_fail(struct client *c, const char *sqlstate, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->state == CL_CLOSED)
		return;
	client_send_error(c, "FATAL", sqlstate, msg);
	client_close(c, msg, true);
}

static void detach(struct client *c, struct server *s)
{
	s->client = NULL;
	c->server = NULL;
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

void client_lost_server(struct client *c, struct server *s, const char *sqlstate, const char *msg)
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
		client_close(c, "server died in the middle of a message", false);
		return;
	}
	if (s->relay.counted > c->relay.counted) {
		/* More answers than questions: the relay refuses the ReadyForQuery
		 * that would do this (server.c), but the difference below must
		 * never wrap (it once made 4 billion error replies). */
		detach(c, s);
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
			    "protocol violation by the server: more ReadyForQuery messages than queries");
		return;
	}
	uint32_t outstanding = c->relay.counted - s->relay.counted;
	bool mid_message = c->relay.pending || c->relay.unsynced;
	if (c->pool->mode == POOL_SESSION || mid_message || (outstanding == 0 && s->txn_status != 'I')) {
		/* Session state, or the message stream itself, died with the
		 * server: end the session, as PostgreSQL would; after the
		 * server's own FATAL, with nothing more (as PostgreSQL). */
		bool told = s->said_fatal && c->pool->mode == POOL_SESSION;
		detach(c, s);
		if (told)
			client_close(c, msg, true);
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
			add_error(c, "ERROR", sqlstate, msg);
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

void client_release_server(struct client *c)
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

/* ---- authentication ---- */

static void client_on_auth_input(struct client *c)
{
	while (c->state == CL_AUTH) {
		struct pq_header h;
		enum pq_frame f = conn_frame(&c->conn, CLIENT_AUTH_MSG_MAX, &h);
		if (f == PQ_FRAME_BAD) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid message length during authentication");
			return;
		}
		if (f != PQ_FRAME_COMPLETE)
			return;
		size_t total = pq_msg_total(&h);
		const uint8_t *msg = evbuffer_pullup(c->conn.in, (ev_ssize_t)total);
		if (h.type == 'X') {
			client_close(c, "client ended login", false);
			return;
		}
		if (h.type != 'p') {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
				    "expected password response, got message type %d", h.type);
			return;
		}
		client_auth_message(c, h.type, msg + PQ_HEADER_LEN, pq_body_len(&h));
		if (c->state != CL_CLOSED)
			evbuffer_drain(c->conn.in, total);
	}
}

void client_close_normal(struct client *c)
{
	client_close(c, "client terminated", false);
}

void client_kill_db(const char *db, const char *msg)
{
	struct list *it, *tmp;
	list_for_each_safe(it, tmp, &rt.clients) {
		struct client *c = list_entry(it, struct client, all_node);
		if (c->state != CL_CLOSED && c->state != CL_ADMIN && c->db_name && !strcmp(c->db_name, db))
			client_fail(c, SQLSTATE_ADMIN_SHUTDOWN, "%s", msg);
	}
}

void client_login_done(struct client *c)
{
	/* authenticated: from a login slot to a place under max_client_conn,
	 * with an output buffer from now on (the code after login writes to
	 * c->conn.out directly) */
	login_slots_leave(c);
	if (!conn_out(&c->conn)) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	if (rt.nclients >= rt.cfg->max_client_conn) {
		client_fail(c, SQLSTATE_TOO_MANY_CONNECTIONS, "sorry, too many clients already");
		return;
	}
	rt.nclients++;
	c->counted = true;
	if (admin_is_console(c->db_name)) {
		admin_login(c);
		return;
	}
	const struct db_entry *db = config_find_db(rt.cfg, c->db_name);
	if (!db) {
		client_fail(c, SQLSTATE_INVALID_CATALOG_NAME, "database \"%s\" does not exist", c->db_name);
		return;
	}
	const struct gate *g = gate_get(c->db_name);
	if (g && g->disabled) {
		client_fail(c, SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
			    "database \"%s\" is not currently accepting connections", c->db_name);
		return;
	}
	int app = varcache_index("application_name");
	c->bypass = config_gate_bypass(rt.cfg, c->user, app >= 0 ? varcache_get(&c->vars, app) : NULL);
	c->pool = c->bypass ? pool_get_bypass(c->db_name, c->user, db) : pool_get(c->db_name, c->user, db);
	if (!c->pool) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	pool_ref(c->pool);   /* until the client is freed */
	c->pool->nclients++;
	if (!cancel_register(c)) {
		client_fail(c, SQLSTATE_INTERNAL_ERROR, "could not make a cancel key");
		return;
	}
	client_log(c, LOG_LVL_DEBUG, "authenticated%s", c->bypass ? " (gate bypass)" : "");
	if (c->bypass)
		gate_bypass_login(c);
	if (!client_startup_settle(c))
		return;
	if (client_startup_known(c)) {
		client_welcome(c);
		return;
	}
	/* The pool has never logged in (or not with these startup
	 * parameters): the client's greeting needs what the server says
	 * about itself, so wait for a server first. */
	client_set_state(c, CL_LOGIN_WAIT);
	c->wait_since = rt_now();
	pool_acquire(c->pool, c);
	wait_for_setup(c);
}

void client_welcome(struct client *c)
{
	const struct param_list *pl = &c->pool->welcome;
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_auth(&w, PQ_AUTH_OK, NULL, 0);
	for (size_t i = 0; i < pl->n; i++)
		proto_build_param_status(&w, pl->names[i], client_welcome_value(c, pl->names[i], pl->values[i]));
	proto_build_backend_key(&w, c->cancel_pid, c->cancel_key);
	proto_build_ready(&w, 'I');
	if (!pq_writer_ok(&w)) {
		pq_writer_free(&w);
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	(void)conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
	client_log_login(c);
	conn_timer(&c->conn, 0);
	if (c->server) {
		client_set_state(c, CL_ACTIVE);
	} else {
		client_set_state(c, CL_IDLE);
		client_idle_timer(c, 'I');
	}
	conn_read_start(&c->conn);
	conn_send_soon(&c->conn);
}

/* ---- work ---- */

static bool idle_timers_on(void);

void client_idle_timer(struct client *c, char txn_status)
{
	if (!idle_timers_on())
		return;
	double t = txn_status == 'I' ? rt.cfg->client_idle_timeout : rt.cfg->idle_transaction_timeout;
	conn_timer(&c->conn, t);
}

static bool idle_timers_on(void)
{
	return rt.cfg->client_idle_timeout > 0 || rt.cfg->idle_transaction_timeout > 0;
}

/* A client whose server is being set up (SET of its parameters) waits
 * on its own timer, at query_wait_timeout; clients in the pool's queue
 * wait on the pool's (pool.c). */
static void arm_wait_timer(struct client *c)
{
	double limit = rt.cfg->query_wait_timeout;
	double until = limit - (rt_now() - c->wait_since);
	conn_timer(&c->conn, limit <= 0 ? 0 : until > 0.001 ? until : 0.001);
}

/* After pool_acquire: linked but not yet ready means a setup runs. */
static void wait_for_setup(struct client *c)
{
	if ((c->state == CL_WAITING || c->state == CL_LOGIN_WAIT) && c->server)
		arm_wait_timer(c);
}

void client_wait_expired(struct client *c)
{
	double limit = rt.cfg->query_wait_timeout;
	if (pool_is_failing(c->pool))
		client_fail(c, c->pool->last_sqlstate, "%s (no server for %g s)", c->pool->last_error, limit);
	else
		client_fail(c, SQLSTATE_POOLER_ERROR,
			    "query_wait_timeout: no server connection became free within %g s", limit);
}

static void client_on_wait_timer(struct client *c)
{
	if (rt.cfg->query_wait_timeout > 0 && rt_now() - c->wait_since >= rt.cfg->query_wait_timeout - 0.001)
		client_wait_expired(c);
	else if (c->server)
		arm_wait_timer(c);
}

void client_on_idle_input(struct client *c)
{
	uint8_t hdr[PQ_HEADER_LEN];
	if (tracks_statements(c)) {
		/* a server is taken only when there is work for it */
		size_t in_before = conn_in_len(&c->conn);
		enum prepared_idle res = prepared_client_idle(c, (uint32_t)rt.cfg->max_packet_size);
		if (conn_in_len(&c->conn) != in_before)
			client_idle_timer(c, 'I');   /* it spoke: idle from now */
		if (conn_out_len(&c->conn) > 0)
			conn_send_soon(&c->conn);
		if (res == PREPARED_IDLE_FAIL) {
			client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
			return;
		}
		if (res == PREPARED_IDLE_FULL) {
			conn_read_stop(&c->conn);   /* resumed on the client's DRAINED */
			return;
		}
		if (res != PREPARED_IDLE_SERVER)
			return;
	}
	if (evbuffer_get_length(c->conn.in) < PQ_HEADER_LEN)
		return;
	evbuffer_copyout(c->conn.in, hdr, PQ_HEADER_LEN);
	if (hdr[0] == 'X') {
		client_close(c, "client terminated", false);
		return;
	}
	if (gate_holds_client(c)) {
		client_hold(c);
		return;
	}
	client_set_state(c, CL_WAITING);
	c->wait_since = c->request_at = rt_now();
	pool_acquire(c->pool, c);
	wait_for_setup(c);
}

void client_server_ready(struct client *c)
{
	conn_timer(&c->conn, 0);
	if (c->state == CL_LOGIN_WAIT) {
		client_welcome(c);
		if (c->pool->mode != POOL_SESSION)
			client_release_server(c);
		else
			client_relay(c);
		return;
	}
	client_set_state(c, CL_ACTIVE);
	conn_read_start(&c->conn);
	client_relay(c);
}

void client_relay(struct client *c)
{
	struct server *s = c->server;
	if (!s || s->state != SV_ACTIVE)
		return;
	size_t in_before = conn_in_len(&c->conn);
	if (in_before > 0 && client_at_boundary(c)) {
		/* the client starts its next transaction */
		if (gate_holds_client(c)) {
			if (c->pool->mode == POOL_SESSION)
				client_hold(c);
			else
				client_release_server(c);   /* and is held there */
			return;
		}
		c->xact_start = rt_now();
	}
	struct relay_spec *spec = tracks_statements(c) ? &client_spec_tracked : &client_spec;
	spec->max_len = (uint32_t)rt.cfg->max_packet_size;
	for (;;) {
		uint32_t before = c->relay.counted;
		enum relay_result r = relay_run(&c->relay, c->conn.in, s->conn.out, spec, c,
						CONN_HIGH_WATER);
		size_t in_after = conn_in_len(&c->conn);
		if (in_after != in_before) {
			stats_client_bytes(&s->clock, s->pool->stats, in_before - in_after);
			if (idle_timers_on())
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
			client_close(c, "client terminated", false);
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

static enum relay_action client_inspect(void *owner, char type, const uint8_t *body, size_t len)
{
	if (type == 'X')
		return RELAY_DROP_STOP;
	return prepared_client_message(owner, type, body, len);
}

static enum relay_action client_observe(void *owner, char type)
{
	return prepared_client_observe(owner, type);
}

static enum relay_action client_scan(void *owner, char type, const uint8_t *p, size_t n, bool last)
{
	return prepared_client_scan(owner, p, n, last);
}

/* ---- events ---- */

/* Before login, the bytes of a message not yet complete wait in an
 * exact-size copy rather than in conn.in, whose smallest chunk (libevent's
 * chain) is 1 KiB: a socket that sends a byte and then nothing holds 1 KiB
 * less for as long as it waits. Messages before login are at most
 * PQ_STARTUP_MAX or CLIENT_AUTH_MSG_MAX bytes, which npartial holds. */
static void stash(struct client *c)
{
	size_t n = conn_in_len(&c->conn);
	if (n == 0 || n > UINT16_MAX || (c->state != CL_STARTUP && c->state != CL_AUTH))
		return;
	uint8_t *p = malloc(n);
	if (!p)
		return;   /* it stays where it is */
	evbuffer_remove(c->conn.in, p, n);
	c->partial = p;
	c->npartial = (uint16_t)n;
}

static void unstash(struct client *c)
{
	if (!c->partial)
		return;
	if (evbuffer_prepend(c->conn.in, c->partial, c->npartial) != 0) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	free(c->partial);
	c->partial = NULL;
	c->npartial = 0;
}

static void client_on_input(struct client *c);

static void client_on_read(struct client *c)
{
	unstash(c);
	client_on_input(c);
	stash(c);
}

/* Bytes may arrive together with the message that changes the state (a
 * password behind the startup packet, a query behind the password), so
 * the input is looked at again after every change. */
static void client_on_input(struct client *c)
{
	for (;;) {
		enum client_state before = c->state;
		switch (c->state) {
		case CL_STARTUP:
			client_on_startup(c);
			break;
		case CL_AUTH:
			client_on_auth_input(c);
			break;
		case CL_IDLE:
			client_on_idle_input(c);
			break;
		case CL_ACTIVE:
			client_relay(c);
			break;
		case CL_ADMIN:
			admin_input(c);
			break;
		case CL_HELD:
			if (evbuffer_get_length(c->conn.in) > 0 &&
			    *evbuffer_pullup(c->conn.in, 1) == 'X') {
				client_close(c, "client terminated while held", false);
				return;
			}
			if (conn_in_len(&c->conn) > CONN_HIGH_WATER)
				conn_read_stop(&c->conn);
			return;
		case CL_AUTH_QUERY:
		case CL_LOGIN_WAIT:
		case CL_WAITING:
			/* Keep reading to notice a client that gives up, but
			 * buffer only so much until a server is ours. */
			if (conn_in_len(&c->conn) > CONN_HIGH_WATER)
				conn_read_stop(&c->conn);
			return;
		case CL_CLOSED:
			return;
		}
		if (c->state == before || conn_in_len(&c->conn) == 0)
			return;
	}
}

static void client_on_timeout(struct client *c)
{
	switch (c->state) {
	case CL_STARTUP:
	case CL_AUTH:
	case CL_AUTH_QUERY:
		client_fail(c, SQLSTATE_POOLER_ERROR, "client_login_timeout: login took longer than %g s",
			    rt.cfg->client_login_timeout);
		break;
	case CL_LOGIN_WAIT:
	case CL_WAITING:
		client_on_wait_timer(c);
		break;
	case CL_IDLE:
		client_fail(c, SQLSTATE_IDLE_SESSION_TIMEOUT,
			    "terminating connection due to idle-session timeout (client_idle_timeout)");
		break;
	case CL_ACTIVE:
		if (c->server && c->server->txn_status != 'I')
			client_fail(c, SQLSTATE_IDLE_IN_TRANSACTION_TIMEOUT,
				    "terminating connection due to idle-in-transaction timeout");
		else
			client_fail(c, SQLSTATE_IDLE_SESSION_TIMEOUT,
				    "terminating connection due to idle-session timeout (client_idle_timeout)");
		break;
	case CL_HELD: {
		char msg[256];
		snprintf(msg, sizeof msg, "database \"%s\" is paused for a migration: held longer than "
			 "gate_hold_timeout (%g s)", c->db_name, rt.cfg->gate_hold_timeout);
		client_reject_held(c, SQLSTATE_LOCK_NOT_AVAILABLE, msg);
		break;
	}
	case CL_ADMIN:
	case CL_CLOSED:
		break;
	}
}

static void client_event(struct conn *conn, enum conn_event ev)
{
	struct client *c = (struct client *)conn;
	switch (ev) {
	case CONN_EV_READ:
		client_on_read(c);
		break;
	case CONN_EV_EOF:
		client_close(c, "client closed the connection", false);
		break;
	case CONN_EV_ERROR:
		if (c->conn.phase == CONN_TLS)
			client_log_peer(c, LOG_LVL_WARN, "TLS handshake error: %s", conn_tls_error());
		client_close(c, c->conn.ssl ? conn_tls_error() : "socket error", false);
		break;
	case CONN_EV_DRAINED:
		if (c->state == CL_ADMIN) {
			admin_input(c);   /* the answers were read: run what waits */
		} else if (c->server && c->server->state == SV_ACTIVE) {
			struct server *s = c->server;
			conn_read_start(&s->conn);
			server_relay(s);
			if (c->server == s && s->state == SV_ACTIVE && c->state == CL_ACTIVE) {
				conn_read_start(&c->conn);
				client_relay(c);
			}
		} else if (c->state == CL_IDLE) {
			conn_read_start(&c->conn);
			client_on_idle_input(c);
		}
		break;
	case CONN_EV_TIMEOUT:
		client_on_timeout(c);
		break;
	case CONN_EV_TLS_READY:
		client_log(c, LOG_LVL_DEBUG, "TLS established (%s)", SSL_get_version(c->conn.ssl));
		if (conn_in_len(&c->conn) > 0)
			client_on_read(c);
		break;
	case CONN_EV_CONNECTED:
		BUG("client got a connect event");
	}
}

static void client_destroy(struct conn *conn)
{
	struct client *c = (struct client *)conn;
	if (c->server || !list_empty(&c->pool_node))
		BUG("client C-%llu destroyed while still attached", (unsigned long long)conn->id);
	rt.nconns--;
	list_del_init(&c->all_node);
	client_auth_free(c);
	prepared_client_free(c);
	varcache_clear(&c->vars);
	startup_set_put(c->set);
	free(c->partial);
	strpool_put(c->user);
	strpool_put(c->db_name);
	if (c->pool)
		pool_unref(c->pool);   /* a logged-in client's (client_login_done) */
	conn_release(&c->conn);
	free(c);
}

/* The start of each query, for the gate's report of what still runs. */
static void client_peek(void *owner, char type, const uint8_t *msg, size_t avail)
{
	struct client *c = owner;
	struct server *s = c->server;
	uint8_t buf[PQ_HEADER_LEN + 64 + sizeof s->last_query];
	size_t n = avail < sizeof buf - 1 ? avail : sizeof buf - 1;
	if (!s || n <= PQ_HEADER_LEN)
		return;
	memcpy(buf, msg, n);
	buf[n] = 0;
	const char *q = (const char *)buf + PQ_HEADER_LEN;
	if (type == 'P') {
		/* statement name, then the query */
		size_t name = strnlen(q, n - PQ_HEADER_LEN);
		if (PQ_HEADER_LEN + name + 1 >= n)
			return;
		q += name + 1;
	}
	/* cut to fit, on purpose (snprintf here trips -Wformat-truncation at -O1) */
	size_t len = strnlen(q, sizeof s->last_query - 1);
	memcpy(s->last_query, q, len);
	s->last_query[len] = 0;
}

static struct relay_spec client_spec = {
	.inspect = { ['X'] = true },
	.peek_types = { ['Q'] = true, ['P'] = true },
	.peek = client_peek,
	.count = { ['Q'] = true, ['S'] = true, ['F'] = true },
	.unsync = { ['P'] = true, ['B'] = true, ['E'] = true, ['D'] = true,
			    ['C'] = true, ['H'] = true },
	.max_len = PQ_MESSAGE_MAX,
	.max_inspect_len = 4,
	.fn = client_inspect,
};

/* Parse/Bind/Describe/Close are read to be rewritten: a Parse whole (its
 * text is what other servers are given), the others by their head, the
 * names in front; the rest streams (a Bind's parameters). */
static struct relay_spec client_spec_tracked = {
	.inspect = { ['X'] = true, ['P'] = true, ['B'] = true, ['D'] = true, ['C'] = true },
	.head = { ['B'] = true, ['D'] = true, ['C'] = true },
	.head_len = PREPARED_HEAD_LEN,
	.peek_types = { ['Q'] = true, ['P'] = true },
	.peek = client_peek,
	.count = { ['Q'] = true, ['S'] = true, ['F'] = true },
	.unsync = { ['P'] = true, ['B'] = true, ['E'] = true, ['D'] = true,
		    ['C'] = true, ['H'] = true },
	.max_len = PQ_MESSAGE_MAX,
	.max_inspect_len = PQ_MESSAGE_MAX,
	.fn = client_inspect,
	.observe = client_observe,
	/* SQL naming sluice's statements is refused (prepared_sql.c) */
	.scan_types = { ['Q'] = true },
	.scan = client_scan,
};

