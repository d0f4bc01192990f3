/*
 * client.c — the client state machine: startup, login, waiting for a
 * server, relaying, and the one exit path.
 *
 *   CL_STARTUP -> CL_AUTH -> (CL_LOGIN_WAIT) -> CL_IDLE <-> CL_WAITING -> CL_ACTIVE
 *                                                 any -> CL_CLOSED
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


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

static void wait_for_setup(struct client *c);
static bool take_login_slot(struct client *c);

const struct client_link_ops *client_link;   /* link.c: client_set_link */

void client_set_link(const struct client_link_ops *ops)
{
	client_link = ops;
}

static const struct client_console_ops *console;   /* lifecycle.c: client_set_console */

void client_set_console(const struct client_console_ops *ops)
{
	console = ops;
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
	/* an idle client's empty buffers wait on the spare list (conn_shed):
	 * most of what an idle client would otherwise cost */
	if (st == CL_IDLE)
		conn_shed(&c->conn);
	else if (c->state == CL_IDLE)
		conn_unshed(&c->conn);
	c->state = st;
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
	client_link->let_go(c);
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
		console->forget(c);
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

void client_add_error(struct client *c, const char *severity, const char *sqlstate, const char *msg)
{
	uint8_t room[640];   /* client_fail's messages are at most 512 bytes */
	struct pq_writer w;
	pq_writer_init_room(&w, room, sizeof room);
	proto_build_error(&w, severity, sqlstate, msg, NULL);
	if (pq_writer_ok(&w))
		(void)conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
}

void client_send_error(struct client *c, const char *severity, const char *sqlstate, const char *msg)
{
	client_log_error(c, sqlstate, msg);
	client_add_error(c, severity, sqlstate, msg);
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
		if (h.type == 'X') {
			client_close(c, "client ended login", false);
			return;
		}
		if (h.type != 'p') {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
				    "expected password response, got message type %d", h.type);
			return;
		}
		/* Out of the input before it is acted on: the login it may
		 * finish can link the client to a server at once (a pool with
		 * an idle server of its startup set), and whatever is left in
		 * the input then goes to that server. It holds a password or a
		 * proof: wiped after use. */
		uint8_t msg[CLIENT_AUTH_MSG_MAX + PQ_HEADER_LEN];   /* the length, and the type byte */
		size_t total = pq_msg_total(&h);
		if (total > sizeof msg || buf_remove(c->conn.in, msg, total) != total) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid message length during authentication");
			return;
		}
		client_auth_message(c, h.type, msg + PQ_HEADER_LEN, pq_body_len(&h));
		explicit_bzero(msg, total);
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
	 * c->conn.out directly, except while the client is idle: conn_shed) */
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
	if (console->is_console(c->db_name)) {
		console->login(c);
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
	c->bypass = config_gate_bypass(rt.cfg, c->user, varcache_get(&c->vars, VC_APPLICATION_NAME));
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
	struct welcome_prep *wp = pool_welcome(c->pool);
	uint8_t room[1024];   /* PostgreSQL's welcome is about 400 bytes */
	struct pq_writer w;
	pq_writer_init_room(&w, room, sizeof room);
	proto_build_auth(&w, PQ_AUTH_OK, NULL, 0);
	for (size_t i = 0; i < pl->n; i++) {
		/* the untracked values are every client's: built once
		 * (pool_welcome), and a run of them is copied in one piece */
		int vi = wp ? wp->vi[i] : varcache_index(pl->names[i]);
		if (vi < 0 && wp) {
			size_t from = i ? wp->end[i - 1] : 0;
			while (i + 1 < pl->n && wp->vi[i + 1] < 0)
				i++;
			pq_put_bytes(&w, wp->msgs + from, wp->end[i] - from);
		} else {
			const char *v = client_welcome_value(c, vi, pl->values[i]);
			if (wp && v == varcache_get(&c->vars, vi))   /* a strpool string */
				pool_welcome_tracked(wp, i, pl->names[i], v, &w);
			else
				proto_build_param_status(&w, pl->names[i], v);
		}
	}
	proto_build_backend_key(&w, c->cancel_pid, c->cancel_key);
	proto_build_ready(&w, 'I');
	if (!pq_writer_ok(&w)) {
		pq_writer_free(&w);
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	(void)conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
	conn_timer(&c->conn, 0);
	if (c->server) {
		client_set_state(c, CL_ACTIVE);
	} else {
		client_set_state(c, CL_IDLE);
		client_idle_timer(c, 'I');
	}
	/* once logged in: the limit on lines about clients that have not
	 * (client_log.c) must not drop a login's own line */
	client_log_login(c);
	conn_read_start(&c->conn);
	conn_send_soon(&c->conn);
}

/* ---- work ---- */

void client_idle_timer(struct client *c, char txn_status)
{
	if (!client_idle_timers_on())
		return;
	double t = txn_status == 'I' ? rt.cfg->client_idle_timeout : rt.cfg->idle_transaction_timeout;
	conn_timer(&c->conn, t);
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
	char type = 0;
	if (client_tracks_statements(c)) {
		/* a server is taken only when there is work for it */
		size_t in_before = conn_in_len(&c->conn);
		enum prepared_idle res = prepared_client_idle(c, (uint32_t)rt.cfg->max_packet_size, &type);
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
	if (!type) {   /* (prepared_client_idle read it already) */
		if (conn_in_len(&c->conn) < PQ_HEADER_LEN)
			return;
		type = (char)buf_data(c->conn.in)[0];
	}
	if (type == 'X') {
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

/* ---- events ---- */

/* Before login, the bytes of a message not yet complete wait in an
 * exact-size copy, and conn.in, whose smallest array (buf.h's
 * BUF_MIN_CAP) is 1 KiB, goes back to the spare list whenever it is empty
 * before login ends (conn_shed_in): a socket that sends a byte and then
 * nothing, or a client that has yet to send its password, holds 1 KiB
 * less for as long as it waits. Messages before login are at most PQ_STARTUP_MAX or
 * CLIENT_AUTH_MSG_MAX bytes, which npartial holds. */
static void stash(struct client *c)
{
	if (c->state != CL_STARTUP && c->state != CL_AUTH)
		return;
	size_t n = conn_in_len(&c->conn);
	if (n > 0 && n <= UINT16_MAX) {
		uint8_t *p = malloc(n);
		if (!p)
			return;   /* it stays where it is */
		buf_remove(c->conn.in, p, n);
		c->partial = p;
		c->npartial = (uint16_t)n;
	}
	conn_shed_in(&c->conn);   /* empty now (waiting for a password, say): back */
}

static void unstash(struct client *c)
{
	if (!c->partial)
		return;
	if (!buf_prepend(c->conn.in, c->partial, c->npartial)) {
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
			client_link->relay(c);
			break;
		case CL_ADMIN:
			console->input(c);
			break;
		case CL_HELD:
			if (conn_in_len(&c->conn) > 0 &&
			    *buf_data(c->conn.in) == 'X') {
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
			console->input(c);   /* the answers were read: run what waits */
		} else if (c->server) {
			client_link->drained(c);
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
