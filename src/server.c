/*
 * server.c — the server connection state machine: connect, log in (see
 * server_login.c), serve a client, reset, go back to the pool.
 *
 *   SV_CONNECTING -> (SV_TLS ->) SV_LOGIN -> SV_IDLE <-> (SV_SETUP ->) SV_ACTIVE -> SV_RESET -> SV_IDLE
 *   SV_ACTIVE -> SV_CANCEL_WAIT -> (SV_RESET or on) while a cancel is in flight (pool_release)
 *                                               any -> SV_CLOSED
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "client_types.h"
#include "config.h"
#include "log.h"
#include "log_limit.h"
#include "pool_types.h"
#include "pq_reader.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"
#include "startup_set.h"
#include "stats.h"
#include "tls.h"

static void server_event(struct conn *conn, enum conn_event ev);
static void server_destroy(struct conn *conn);
static const struct conn_ops server_ops = { server_event, server_destroy };
const struct server_owner_ops *server_owner;   /* link.c: server_set_owner */

static const char *const state_names[] = {
	[SV_CONNECTING] = "connecting", [SV_TLS] = "tls", [SV_LOGIN] = "login", [SV_IDLE] = "idle",
	[SV_SETUP] = "setup", [SV_ACTIVE] = "active", [SV_AUTHQ] = "authq", [SV_RESET] = "reset",
	[SV_TEST] = "test", [SV_CANCEL_WAIT] = "cancel_wait", [SV_CLOSED] = "closed",
};

const struct server_pool_ops *server_pool;   /* link.c: server_set_pool */

void server_set_pool(const struct server_pool_ops *ops)
{
	server_pool = ops;
}

void server_set_owner(const struct server_owner_ops *ops)
{
	server_owner = ops;
}

const char *server_state_name(enum server_state st)
{
	return st <= SV_CLOSED ? state_names[st] : "?";
}

void server_set_state(struct server *s, enum server_state st)
{
	struct pool *p = s->pool;
	struct list *to = NULL;
	switch (st) {
	case SV_CONNECTING:
	case SV_TLS:
	case SV_LOGIN:
	case SV_RESET:
	case SV_TEST:
	case SV_CANCEL_WAIT:
		to = &p->busy;
		break;
	case SV_IDLE:
		to = &p->idle;
		break;
	case SV_SETUP:
	case SV_ACTIVE:
	case SV_AUTHQ:
		to = &p->used;
		break;
	case SV_CLOSED:
		to = NULL;
		break;
	}
	list_del_init(&s->pool_node);
	server_log(s, LOG_LVL_NOISE, "state %s -> %s", server_state_name(s->state),
		   server_state_name(st));
	/* Reset and check timers belong to their state: leaving it disarms
	 * them (a checked server may go straight to a client). The idle
	 * timer (lifetime, idle timeout) may stay armed while a client uses
	 * the server, so that a transaction costs no timer changes: firing
	 * then is ignored, and the next idle period arms it again. Not with
	 * query_timeout, whose timer an active server needs. */
	bool keep_idle_timer = s->state == SV_IDLE && (st == SV_ACTIVE || st == SV_SETUP) &&
			       rt.cfg->query_timeout <= 0;
	if ((s->state == SV_IDLE || s->state == SV_RESET || s->state == SV_TEST || s->state == SV_AUTHQ) &&
	    st != s->state &&
	    !keep_idle_timer)
		conn_timer(&s->conn, 0);
	s->state = st;
	if (st == SV_IDLE) {
		/* most recently used first: the others age out; reading stays
		 * on so a server that goes away while idle is noticed */
		conn_read_start(&s->conn);
		list_prepend(to, &s->pool_node);
		s->idle_since = rt_now();
		server_pool->idle(s);
	} else if (to) {
		list_append(to, &s->pool_node);
	}
	if (st == SV_CANCEL_WAIT) {
		/* no timer of its own (the cancel connection's bounds the
		 * wait); reading on, as when idle */
		conn_timer(&s->conn, 0);
		conn_read_start(&s->conn);
	}
	if (st == SV_RESET || st == SV_TEST)
		conn_timer(&s->conn, rt.cfg->server_connect_timeout);
}

bool server_connect(struct pool *p, struct startup_set *set)
{
	char err[256];
	if (!pool_resolve(&p->target, err, sizeof err)) {
		if (!p->internal || log_limit_budget(LOG_LVL_WARN, rt_now()))
			log_warn("pool %s/%s: %s", p->db_name, p->user, err);
		server_pool->login_failed(p, SQLSTATE_CONNECTION_FAILURE, err);
		return false;
	}
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		return false;
	list_init(&s->pool_node);
	s->pool = p;
	s->created = rt_now();
	if (!conn_connect(&s->conn, (const struct sockaddr *)&p->target.addr, p->target.addrlen,
			  &server_ops)) {
		snprintf(err, sizeof err, "could not connect to server: %s", strerror(s->conn.err));
		conn_release(&s->conn);
		free(s);
		if (!p->internal || log_limit_budget(LOG_LVL_WARN, rt_now()))
			log_warn("pool %s/%s: %s", p->db_name, p->user, err);
		server_pool->login_failed(p, SQLSTATE_CONNECTION_FAILURE, err);
		return false;
	}
	p->nservers++;
	server_pool->ref(p);   /* until the server is freed */
	s->set = startup_set_ref(set);   /* sent at login (server_login.c) */
	s->state = SV_CONNECTING;
	server_set_state(s, SV_CONNECTING);
	server_log(s, LOG_LVL_DEBUG, "connecting");
	conn_timer(&s->conn, rt.cfg->server_connect_timeout);
	return true;
}

/* How long an auth_query lookup may take: it is a step of a login, so
 * server_connect_timeout, or query_timeout when set and shorter; never
 * unbounded (AUTHQ_TIMEOUT_DEFAULT when both are 0). */
#define AUTHQ_TIMEOUT_DEFAULT 15.0
static double authq_timeout(void)
{
	double t = rt.cfg->server_connect_timeout;
	if (rt.cfg->query_timeout > 0 && (t <= 0 || rt.cfg->query_timeout < t))
		t = rt.cfg->query_timeout;
	return t > 0 ? t : AUTHQ_TIMEOUT_DEFAULT;
}

/* auth_query for client c, with its user name as the one parameter; the
 * query text is sluice's, the server's session is sluice's own. */
void server_lookup(struct server *s, const struct client *c)
{
	struct pq_writer w;
	pq_writer_init(&w);
	pq_begin(&w, 'P');
	pq_put_cstring(&w, "");
	pq_put_cstring(&w, rt.cfg->auth_query);
	pq_put_u16(&w, 0);
	pq_end(&w);
	pq_begin(&w, 'B');
	pq_put_cstring(&w, "");
	pq_put_cstring(&w, "");
	pq_put_u16(&w, 0);
	pq_put_u16(&w, 1);
	pq_put_u32(&w, (uint32_t)strlen(c->user));
	pq_put_bytes(&w, c->user, strlen(c->user));
	pq_put_u16(&w, 0);
	pq_end(&w);
	pq_begin(&w, 'E');
	pq_put_cstring(&w, "");
	pq_put_u32(&w, 2);
	pq_end(&w);
	pq_begin(&w, 'S');
	pq_end(&w);
	if (pq_writer_ok(&w))
		buf_add(s->conn.out, w.buf, w.len);
	pq_writer_free(&w);
	s->authq_failed = false;
	server_set_state(s, SV_AUTHQ);
	conn_read_start(&s->conn);
	conn_send(&s->conn);
	conn_timer(&s->conn, authq_timeout());
}

void server_setup(struct server *s, const void *queries, size_t len, int count)
{
	buf_add(s->conn.out, queries, len);
	s->setup_left = count;
	server_set_state(s, SV_SETUP);
	conn_read_start(&s->conn);
	conn_send(&s->conn);
}

static void run_control_query(struct server *s, const char *q, enum server_state st)
{
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_query(&w, q);
	if (!pq_writer_ok(&w)) {
		pq_writer_free(&w);
		server_close(s, "out of memory");
		return;
	}
	buf_add(s->conn.out, w.buf, w.len);
	pq_writer_free(&w);
	server_set_state(s, st);
	conn_read_start(&s->conn);
	conn_send(&s->conn);
}

void server_reset(struct server *s)
{
	const char *q = rt.cfg->server_reset_query;
	bool wanted = s->pool->mode == POOL_SESSION || rt.cfg->server_reset_query_always;
	if (!q || !*q || !wanted) {
		server_pool->ready(s);
		return;
	}
	run_control_query(s, q, SV_RESET);
}

void server_discard(struct server *s)
{
	run_control_query(s, "DISCARD ALL", SV_RESET);
}

void server_read_value(struct server *s, const char *q, server_value_fn done, void *arg)
{
	s->value_done = done;
	s->value_arg = arg;
	s->value[0] = 0;
	s->value_failed = false;
	run_control_query(s, q, SV_TEST);
}

/* The control query's answer is complete (or failed): tell who asked. */
static bool value_answered(struct server *s, bool ok)
{
	server_value_fn done = s->value_done;
	if (!done)
		return false;
	s->value_done = NULL;
	return done(s->value_arg, s, ok ? s->value : NULL);
}

void server_test(struct server *s)
{
	run_control_query(s, rt.cfg->server_check_query, SV_TEST);
}

void server_kill(struct server *s, const char *sqlstate, const char *msg)
{
	struct client *c = s->client;
	if (s->state == SV_ACTIVE)
		server_owner->stop_query(s);   /* the query would otherwise run on */
	if (c)
		server_owner->lost(s, sqlstate, msg);
	server_close(s, msg);
}

/* log_disconnections: one line per server connection closed, with why */
static void log_disconnect(const struct server *s, const char *why)
{
	int lvl = rt.cfg->log_disconnections ? LOG_LVL_INFO : LOG_LVL_DEBUG;
	if (!log_on(lvl) || !server_log_ok(s, lvl))
		return;
	char age[32];
	snprintf(age, sizeof age, "%.3fs", rt_now() - s->created);
	const struct log_kv kv[] = { { "age", age } };
	struct log_event ev = { "server_disconnect", why, kv, ARRAY_SIZE(kv) };
	struct log_who who = server_who(s);
	log_write_at(lvl, &who, &ev, "closing");
}

bool server_log_ok(const struct server *s, int lvl)
{
	return lvl >= LOG_LVL_DEBUG || !s->pool || !s->pool->internal || log_limit_budget(lvl, rt_now());
}

void server_close(struct server *s, const char *why)
{
	if (s->state == SV_CLOSED)
		return;
	log_disconnect(s, why);
	(void)value_answered(s, false);   /* whoever waits for an answer gets none */
	if (s->client)
		server_owner->unlink(s);
	bool logged_in = !server_logging_in(s);
	server_pool->gone(s);
	server_set_state(s, SV_CLOSED);
	if (logged_in && s->conn.phase != CONN_CONNECTING) {
		struct pq_writer w;
		pq_writer_init(&w);
		proto_build_terminate(&w);
		if (pq_writer_ok(&w))
			buf_add(s->conn.out, w.buf, w.len);
		pq_writer_free(&w);
		conn_close_flushed(&s->conn);
	} else {
		conn_close(&s->conn);
	}
}

/* The server went away or broke while a client depended on it. The client
 * is told (and detached) first, while the server's counters still say what
 * the client was waiting for. */
static void server_lost(struct server *s, const char *why)
{
	struct client *c = s->client;
	bool logging_in = server_logging_in(s);
	/* a TLS failure (a certificate that does not verify) will not heal by
	 * retrying: report it as an authorization failure, not a transient one */
	const char *code = s->conn.ssl ? SQLSTATE_INVALID_AUTHORIZATION : SQLSTATE_CONNECTION_FAILURE;
	server_log(s, LOG_LVL_INFO, "lost: %s", why);
	if (c)
		server_owner->lost(s, SQLSTATE_CONNECTION_FAILURE, "server closed the connection unexpectedly");
	server_close(s, why);
	if (logging_in) {
		char msg[300];
		snprintf(msg, sizeof msg, "could not connect to server: %s", why);
		server_pool->login_failed(s->pool, code, msg);
	}
}

/* The server broke the protocol while serving a client (s->violation
 * says how): it is closed, and only its client fails, with 08P01. The
 * client is not kept, even in transaction pooling: what it was sent so
 * far may already not match what it asked. */
static void server_violation(struct server *s)
{
	struct client *c = s->client;
	const char *what = s->violation;
	server_log(s, LOG_LVL_WARN, "protocol violation: %s; closing the connection", what);
	if (c) {
		char msg[256];
		snprintf(msg, sizeof msg, "protocol violation by the server: %s", what);
		server_owner->drop_client(s, SQLSTATE_PROTOCOL_VIOLATION, msg);
	}
	server_close(s, "protocol violation by the server");
}

void server_broke(struct server *s, const char *why)
{
	if (s->violation)
		server_violation(s);
	else
		server_lost(s, why);
}

/* DISCARD ALL / DEALLOCATE ALL drop the server's prepared statements
 * (and its client's names for them: the owner's concern). */
void server_note_command(struct server *s, const uint8_t *body, size_t len)
{
	if ((len == sizeof "DISCARD ALL" && !memcmp(body, "DISCARD ALL", len)) ||
	    (len == sizeof "DEALLOCATE ALL" && !memcmp(body, "DEALLOCATE ALL", len)))
		server_owner->statements_dropped(s);
}

/* ---- control phases: login, setup, reset ---- */

/* Calls `fn` for each whole message in the input; stops when it returns false. */
static bool each_message(struct server *s, bool (*fn)(struct server *, char, const uint8_t *, size_t))
{
	/* before its first ReadyForQuery a server has less to say */
	uint32_t max = s->state == SV_LOGIN ? SERVER_LOGIN_MSG_MAX : SERVER_CONTROL_MSG_MAX;
	for (;;) {
		struct pq_header h;
		enum pq_frame f = conn_frame(&s->conn, max, &h);
		if (f == PQ_FRAME_BAD && s->state == SV_LOGIN && h.len > max) {
			char msg[160];
			snprintf(msg, sizeof msg, "server sent a message of %u bytes while logging in (at most %u)",
				 h.len, max);
			return server_login_fail(s, SQLSTATE_PROGRAM_LIMIT_EXCEEDED, msg);
		}
		if (f == PQ_FRAME_BAD) {
			server_lost(s, "invalid message length from server");
			return false;
		}
		if (f != PQ_FRAME_COMPLETE)
			return true;
		size_t total = pq_msg_total(&h);
		/* Take the message out before acting on it: the handler may hand
		 * the server on, and what is left in its input must be only what
		 * came after. Control messages are small and rare: copy them. */
		uint8_t stackbuf[4096];
		uint8_t *msg = total <= sizeof stackbuf ? stackbuf : malloc(total);
		if (!msg) {
			server_lost(s, "out of memory");
			return false;
		}
		buf_remove(s->conn.in, msg, total);
		enum server_state before = s->state;
		bool go_on = fn(s, h.type, msg + PQ_HEADER_LEN, pq_body_len(&h));
		if (msg != stackbuf)
			free(msg);
		if (!go_on || s->state != before)
			return go_on;
	}
}

static bool on_login_msg(struct server *s, char type, const uint8_t *body, size_t len)
{
	return server_login_message(s, type, body, len);
}

static bool on_setup_msg(struct server *s, char type, const uint8_t *body, size_t len)
{
	struct client *c = s->client;
	switch (type) {
	case 'S': {
		const char *name, *value;
		if (proto_parse_param_status(body, len, &name, &value))
			(void)varcache_set(&s->vars, name, value);
		return true;
	}
	case 'E': {
		struct pq_error_fields f;
		if (proto_parse_error(body, len, &f) && c) {
			/* The client's own startup parameter was refused. Its
			 * ReadyForQuery is still to come: close rather than reuse
			 * a server with a reply in flight. */
			server_owner->drop_client(s, f.sqlstate, f.message);
			server_close(s, "a client's parameter was refused");
			return false;
		}
		server_lost(s, "invalid ErrorResponse from server");
		return false;
	}
	case 'Z':
		if (!proto_parse_ready(body, len, &s->txn_status)) {
			server_lost(s, "invalid ReadyForQuery from server");
			return false;
		}
		if (--s->setup_left > 0)
			return true;   /* client_encoding's own Query: the rest follows */
		server_set_state(s, SV_ACTIVE);
		server_owner->ready(s);
		return true;
	default:
		return true;
	}
}

static bool on_authq_msg(struct server *s, char type, const uint8_t *body, size_t len)
{
	struct pq_reader r = pq_reader_make(body, len);
	switch (type) {
	case 'D': {
		/* name, secret: only the first row counts */
		if (s->authq_secret || pq_get_u16(&r) < 2)
			return true;
		int32_t n = pq_get_i32(&r);
		if (n > 0)
			(void)pq_get_bytes(&r, (size_t)n);
		int32_t m = pq_get_i32(&r);
		const uint8_t *v = m > 0 && m < 4096 ? pq_get_bytes(&r, (size_t)m) : NULL;
		if (v && !r.bad && !memchr(v, 0, (size_t)m))
			s->authq_secret = strndup((const char *)v, (size_t)m);
		return true;
	}
	case 'E': {
		/* A name that is not text in the server's encoding (a UTF-8
		 * character cut at byte 63, as PostgreSQL cuts it) names no
		 * role: refused as an unknown user, as PostgreSQL refuses it. */
		struct pq_error_fields f;
		if (!proto_parse_error(body, len, &f) || !f.sqlstate ||
		    (strcmp(f.sqlstate, SQLSTATE_CHARACTER_NOT_IN_REPERTOIRE) != 0 &&
		     strcmp(f.sqlstate, SQLSTATE_UNTRANSLATABLE_CHARACTER) != 0))
			s->authq_failed = true;
		return true;
	}
	case 'Z': {
		struct client *c = s->client;
		char *secret = s->authq_secret;
		s->authq_secret = NULL;
		if (!proto_parse_ready(body, len, &s->txn_status) || s->txn_status != 'I') {
			free(secret);
			server_lost(s, "auth_query left the server busy");
			return false;
		}
		s->client = NULL;
		if (c)
			c->server = NULL;
		server_pool->ready(s);
		if (c)
			server_owner->lookup_done(c, s->authq_failed ? NULL : secret,
					   s->authq_failed ? "auth_query failed" : NULL);
		free(secret);
		return false;
	}
	default:
		return true;
	}
}

static bool on_reset_msg(struct server *s, char type, const uint8_t *body, size_t len)
{
	switch (type) {
	case 'C':
		server_note_command(s, body, len);
		return true;
	case 'S': {
		const char *name, *value;
		if (proto_parse_param_status(body, len, &name, &value))
			(void)varcache_set(&s->vars, name, value);
		return true;
	}
	case 'D': {
		/* server_read_value: the first column of the first row */
		struct pq_reader r = pq_reader_make(body, len);
		if (!s->value_done || s->value[0] || pq_get_u16(&r) < 1)
			return true;
		int32_t n = pq_get_i32(&r);
		const uint8_t *v = n > 0 && (size_t)n < sizeof s->value ? pq_get_bytes(&r, (size_t)n) : NULL;
		if (v && !r.bad && !memchr(v, 0, (size_t)n)) {
			memcpy(s->value, v, (size_t)n);
			s->value[n] = 0;
		}
		return true;
	}
	case 'E':
		if (s->value_done) {
			s->value_failed = true;   /* the server is fine; ReadyForQuery follows */
			return true;
		}
		server_close(s, s->state == SV_TEST ? "server_check_query failed"
						    : "server_reset_query failed");
		return false;
	case 'Z':
		if (!proto_parse_ready(body, len, &s->txn_status) || s->txn_status != 'I') {
			server_close(s, "server not idle after reset");
			return false;
		}
		if (value_answered(s, !s->value_failed))
			return true;   /* taken on by who asked */
		server_pool->ready(s);
		return true;
	default:
		return true;
	}
}

/* The pool's database entry's sslmode, else server_tls_sslmode. */
static int tls_mode(const struct server *s)
{
	int m = s->pool->target.tls_mode;
	return m >= 0 ? m : rt.cfg->server_tls_sslmode;
}

/* TLS toward PostgreSQL: not over unix sockets (PostgreSQL does not offer
 * it there), and not when disabled. */
static bool wants_tls(const struct server *s)
{
	return tls_connect_ctx(tls_mode(s)) && s->pool->target.host[0] != '/';
}

static void start_login(struct server *s)
{
	server_set_state(s, SV_LOGIN);
	if (!server_login_start(s))
		server_lost(s, "could not build startup packet");
}

static void tls_refused(struct server *s, const char *why)
{
	struct pool *p = s->pool;
	server_log(s, LOG_LVL_WARN, "login failed: %s", why);
	server_close(s, why);
	server_pool->login_failed(p, SQLSTATE_INVALID_AUTHORIZATION, why);
}

/* The one-byte answer to our SSLRequest. Bytes behind it were sent before
 * encryption and are never used (CVE-2021-23222). */
static void server_on_tls_answer(struct server *s)
{
	if (s->conn.ssl)
		return;   /* handshaking: conn.c drives it */
	uint8_t answer;
	if (buf_remove(s->conn.in, &answer, 1) != 1)
		return;
	if (answer == 'S') {
		if (conn_in_len(&s->conn) > 0) {
			server_lost(s, "received unencrypted data after SSL response");
			return;
		}
		/* the host name is checked against the certificate only for
		 * verify-full; verify-ca checks the chain alone */
		int mode = tls_mode(s);
		const char *host = mode == TLS_VERIFY_FULL ? s->pool->target.host : NULL;
		SSL_CTX *ctx = tls_connect_ctx(mode);
		if (!ctx || !conn_tls_start(&s->conn, ctx, false, host))
			server_lost(s, "could not start TLS");
		return;
	}
	if (answer == 'N' && tls_mode(s) < TLS_REQUIRE) {
		start_login(s);
		return;
	}
	if (answer == 'N')
		tls_refused(s, s->pool->target.tls_mode >= 0
			    ? "server does not support TLS, but the database's sslmode requires it"
			    : "server does not support TLS, but server_tls_sslmode requires it");
	else
		server_lost(s, "unexpected answer to SSLRequest");
}

static void server_on_read(struct server *s)
{
	switch (s->state) {
	case SV_TLS:
		server_on_tls_answer(s);
		break;
	case SV_LOGIN:
		(void)each_message(s, on_login_msg);
		break;
	case SV_SETUP:
		if (each_message(s, on_setup_msg) && s->state == SV_ACTIVE)
			server_owner->input(s);
		break;
	case SV_ACTIVE:
		server_owner->input(s);
		break;
	case SV_RESET:
	case SV_TEST:
		(void)each_message(s, on_reset_msg);
		break;
	case SV_AUTHQ:
		(void)each_message(s, on_authq_msg);
		break;
	case SV_IDLE:
	case SV_CANCEL_WAIT:
		/* Nothing is expected from an idle server; whatever it is (most
		 * likely a FATAL before shutdown) makes it unusable. */
		server_close(s, "unexpected data from idle server");
		break;
	case SV_CONNECTING:
	case SV_CLOSED:
		break;
	}
}

static void server_on_timeout(struct server *s)
{
	char msg[128];
	switch (s->state) {
	case SV_CONNECTING:
	case SV_TLS:
	case SV_LOGIN:
		server_lost(s, "server_connect_timeout expired");
		break;
	case SV_IDLE:
		server_pool->timer(s);
		break;
	case SV_ACTIVE: {
		/* The idle timer may still be armed from before the client came
		 * (a RELOAD may have set query_timeout since): only a query that
		 * has run its time is cancelled. */
		double limit = rt.cfg->query_timeout;
		double ran = s->clock.query_start > 0 ? rt_now() - s->clock.query_start : 0;
		if (limit <= 0 || s->clock.query_start <= 0)
			break;
		if (ran < limit - 0.001) {
			conn_timer(&s->conn, limit - ran);
			break;
		}
		snprintf(msg, sizeof msg, "query_timeout: query ran longer than %g s", rt.cfg->query_timeout);
		server_kill(s, SQLSTATE_QUERY_CANCELED, msg);
		break;
	}
	case SV_RESET:
	case SV_TEST:
		server_close(s, "server did not answer its reset or check query in time");
		break;
	case SV_AUTHQ:
		/* a lookup that hangs would keep its server, one of
		 * auth_query_max_in_flight, and its client until login times out */
		snprintf(msg, sizeof msg, "auth_query did not answer within %g s", authq_timeout());
		server_log(s, LOG_LVL_WARN, "%s; closing the connection", msg);
		server_owner->stop_query(s);   /* the lookup would otherwise run on */
		if (s->client)
			server_owner->lost(s, SQLSTATE_CONNECTION_FAILURE, msg);
		server_close(s, msg);
		break;
	case SV_SETUP:
	case SV_CANCEL_WAIT:   /* disarmed on entry */
	case SV_CLOSED:
		break;
	}
}

static void server_event(struct conn *conn, enum conn_event ev)
{
	struct server *s = (struct server *)conn;
	switch (ev) {
	case CONN_EV_CONNECTED:
		conn_read_start(&s->conn);
		if (wants_tls(s)) {
			/* SSLRequest: an int32 length 8 and the code 1234.5679 */
			static const uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
			server_set_state(s, SV_TLS);
			buf_add(s->conn.out, req, sizeof req);
			conn_send(&s->conn);
			break;
		}
		start_login(s);
		break;
	case CONN_EV_TLS_READY:
		server_log(s, LOG_LVL_DEBUG, "TLS established (%s)", SSL_get_version(s->conn.ssl));
		start_login(s);
		break;
	case CONN_EV_READ:
		server_on_read(s);
		break;
	case CONN_EV_EOF:
		server_lost(s, "server closed the connection");
		break;
	case CONN_EV_ERROR:
		server_lost(s, s->conn.ssl ? conn_tls_error() : strerror(s->conn.err));
		break;
	case CONN_EV_DRAINED:
		server_owner->drained(s);
		break;
	case CONN_EV_TIMEOUT:
		server_on_timeout(s);
		break;
	}
}

static void server_destroy(struct conn *conn)
{
	struct server *s = (struct server *)conn;
	if (s->client || !list_empty(&s->pool_node))
		BUG("server S-%llu destroyed while still attached", (unsigned long long)conn->id);
	server_owner->gone(s);
	server_login_free(s);
	free(s->authq_secret);
	varcache_clear(&s->vars);
	startup_set_put(s->set);
	param_list_free(&s->login_params);
	server_pool->unref(s->pool);
	conn_release(&s->conn);
	free(s);
}
