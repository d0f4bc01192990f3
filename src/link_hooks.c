/*
 * link_hooks.c — what a linked pair's messages mean to sluice: the relay's
 * tables for each direction and the hooks they name. The client side
 * counts sync points, watches for session state and hands statements to
 * prepared.c; the server side reads ReadyForQuery (the release decision
 * per pool mode), ParameterStatus, CommandComplete and errors, and lets
 * prepared.c settle what a client is owed. link.c runs the relay.
 */
#include <string.h>

#include "client.h"
#include "config.h"
#include "link_hooks.h"
#include "pool.h"
#include "prepared.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "session_state.h"
#include "stats.h"

/* ---- client -> server ---- */

static enum relay_action client_inspect(void *owner, char type, const uint8_t *body, size_t len)
{
	if (type == 'X')
		return RELAY_DROP_STOP;
	if (!client_tracks_statements(owner))
		return type == 'P' ? prepared_parse_watched(owner, body, len) : RELAY_FORWARD;
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

/* The start of each query, for the gate's report of what still runs:
 * copied straight from the bytes shown (`avail` of them, header
 * included), cut at its end or at the room there is. */
static void client_peek(void *owner, char type, const uint8_t *msg, size_t avail)
{
	struct client *c = owner;
	struct server *s = c->server;
	if (!s || avail <= PQ_HEADER_LEN)
		return;
	const char *q = (const char *)msg + PQ_HEADER_LEN;
	size_t left = avail - PQ_HEADER_LEN;
	if (type == 'P') {
		/* statement name, then the query */
		const char *end = memchr(q, 0, left);
		if (!end || (size_t)(end - q) + 1 >= left)
			return;
		left -= (size_t)(end - q) + 1;
		q = end + 1;
	}
	/* as much as fits, without looking for its end: the text ends at its
	 * own NUL, and bytes copied after that one are never read */
	size_t len = left < sizeof s->last_query - 1 ? left : sizeof s->last_query - 1;
	memcpy(s->last_query, q, len);
	s->last_query[len] = 0;
}

/* ---- server -> client ---- */

/* A server's FATAL (it is going away) would tell a transaction-pooled
 * client that its own connection is over, but sluice keeps that client:
 * it gets the same error as ERROR. */
static bool is_fatal(const uint8_t *body, size_t len)
{
	struct pq_error_fields f;
	return proto_parse_error(body, len, &f) &&
	       (!strcmp(f.severity, "FATAL") || !strcmp(f.severity, "PANIC"));
}

static enum relay_action soften_fatal(struct server *s, struct client *c,
				      const uint8_t *body, size_t len)
{
	struct pq_error_fields f;
	if (!proto_parse_error(body, len, &f))
		return RELAY_FAIL;
	if (strcmp(f.severity, "FATAL") != 0 && strcmp(f.severity, "PANIC") != 0)
		return RELAY_FORWARD;
	s->said_fatal = true;
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_error(&w, "ERROR", f.sqlstate, f.message, f.detail);
	bool ok = pq_writer_ok(&w);
	relay_flush(&s->relay);   /* after what the relay passed before it */
	if (ok)
		ok = conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
	return ok ? RELAY_DROP : RELAY_FAIL;
}

/* A ReadyForQuery: the release decision per pool mode. */
static enum relay_action on_ready(struct server *s, struct client *c)
{
	if (s->relay.counted > c->relay.counted) {
		/* (already counted: the relay counts before it shows) Every
		 * ReadyForQuery answers one Query, Sync or FunctionCall of
		 * the client's; this one answers none. Whatever follows can
		 * no longer be matched to what the client asked. */
		s->violation = "ReadyForQuery when no query was waiting for one";
		return RELAY_FAIL;
	}
	bool answered = c->relay.counted == s->relay.counted;
	stats_ready(&s->clock, s->pool->stats, s->txn_status, !answered || c->relay.unsynced);
	if (c->state_notice) {
		relay_flush(&s->relay);   /* the NOTICE goes before this ReadyForQuery */
		if (conn_out(&c->conn))
			session_state_notices(c, c->conn.out);
	}
	if (answered && c->state_clear)
		session_state_answered(c);   /* may unpin: then released below */
	if (rt.cfg->query_timeout > 0)
		conn_timer(&s->conn, answered ? 0 : rt.cfg->query_timeout);
	if (s->pool->mode == POOL_SESSION) {
		/* shutting down: a session ends at its transaction's end */
		if (rt.shutdown == RT_WAIT_SERVERS && s->txn_status == 'I' && answered &&
		    !c->relay.unsynced)
			return RELAY_FORWARD_STOP;
		if (answered)
			client_idle_timer(c, s->txn_status);
		return RELAY_FORWARD;
	}
	if (s->pool->mode == POOL_STATEMENT && s->txn_status != 'I')
		return RELAY_FORWARD_STOP;
	if (c->pinned) {
		if (answered && !c->relay.unsynced)
			client_idle_timer(c, s->txn_status);
		return RELAY_FORWARD;
	}
	if (answered && !c->relay.unsynced) {
		if (s->txn_status == 'I')
			return RELAY_FORWARD_STOP;   /* transaction over (if nothing else is owed) */
		client_idle_timer(c, s->txn_status);
	}
	return RELAY_FORWARD;
}

static enum relay_action server_inspect(void *owner, char type, const uint8_t *body, size_t len)
{
	struct server *s = owner;
	struct client *c = s->client;
	switch (type) {
	case 'Z':
		if (!proto_parse_ready(body, len, &s->txn_status))
			return RELAY_FAIL;
		if (s->unqueued_readies > 0)
			prepared_server_ready(s);
		return c ? on_ready(s, c) : RELAY_FORWARD;
	case 'S': {
		const char *name, *value;
		if (!proto_parse_param_status(body, len, &name, &value))
			return RELAY_FAIL;
		(void)varcache_set(&s->vars, name, value);
		if (c)
			(void)varcache_set(&c->vars, name, value);
		return RELAY_FORWARD;
	}
	case 'C':
		server_note_command(s, body, len);
		return RELAY_FORWARD;
	case 'E': {
		enum relay_action act = s->stmts ? prepared_server_message(s, type, body, len) : RELAY_FORWARD;
		if (act != RELAY_FORWARD)
			return act;
		if (c)
			c->state_clear = 0;   /* the clearing statement may not have run */
		if (c && s->pool->mode == POOL_SESSION && is_fatal(body, len))
			s->said_fatal = true;   /* the session ends with it, as on PostgreSQL */
		return c && s->pool->mode != POOL_SESSION ? soften_fatal(s, c, body, len) : RELAY_FORWARD;
	}
	case 't':
	case 'T':
	case 'n':
		return prepared_server_message(s, type, body, len);
	default:
		return RELAY_FORWARD;
	}
}

static enum relay_action server_observe(void *owner, char type)
{
	return prepared_server_observe(owner, type);
}

static void server_after(void *owner, char type)
{
	prepared_server_after(owner, type);
}

/* ---- the relay's tables ---- */

/* Every client side counts its sync points (Query, Sync, FunctionCall)
 * and notes the types that open work a later sync point ends. */
#define CLIENT_SYNC_TYPES \
	.count = { ['Q'] = true, ['S'] = true, ['F'] = true }, \
	.unsync = { ['P'] = true, ['B'] = true, ['E'] = true, ['D'] = true, ['C'] = true, ['H'] = true }

/* What every client side has: the sync points, the start of each query
 * for the gate (peek), Terminate and the rest shown to client_inspect. */
#define CLIENT_SPEC_BASE \
	CLIENT_SYNC_TYPES, \
	.peek_types = { ['Q'] = true, ['P'] = true }, \
	.peek = client_peek, \
	.max_len = PQ_MESSAGE_MAX, \
	.fn = client_inspect

static struct relay_spec client_spec = {
	CLIENT_SPEC_BASE,
	.inspect = { ['X'] = true },
	.max_inspect_len = 4,
};

/* Parse/Bind/Describe/Close are read to be rewritten: a Parse whole (its
 * text is what other servers are given), the others by their head, the
 * names in front; the rest streams (a Bind's parameters). */
static struct relay_spec client_spec_tracked = {
	.inspect = { ['X'] = true, ['P'] = true, ['B'] = true, ['D'] = true, ['C'] = true },
	.head = { ['B'] = true, ['D'] = true, ['C'] = true },
	.head_len = PREPARED_HEAD_LEN,
	CLIENT_SPEC_BASE,
	.max_inspect_len = PQ_MESSAGE_MAX,
	.observe = client_observe,
	/* each may have ended a transaction; but those of
	 * CLIENT_NOT_OBSERVED (specs_ready) */
	.observe_types = { [0 ... 255] = true },
	/* SQL naming sluice's statements is refused (prepared_sql.c) */
	.scan_types = { ['Q'] = true },
	.scan = client_scan,
};

/* No statement tracking, but session state is watched for
 * (transaction_session_state): Query texts scanned, Parses read whole. */
static struct relay_spec client_spec_watched = {
	.inspect = { ['X'] = true, ['P'] = true },
	CLIENT_SPEC_BASE,
	.max_inspect_len = PQ_MESSAGE_MAX,
	.scan_types = { ['Q'] = true },
	.scan = client_scan,
};

static struct relay_spec server_spec = {
	.inspect = { ['Z'] = true, ['S'] = true, ['E'] = true },
	.count = { ['Z'] = true },
	.max_len = PQ_MESSAGE_MAX,
	.max_inspect_len = SERVER_CONTROL_MSG_MAX,
	.fn = server_inspect,
};

/* A server whose client carries statements, while nothing is owed: its
 * CommandComplete is read too (DISCARD ALL and DEALLOCATE ALL drop the
 * statements). */
static struct relay_spec server_spec_noting = {
	.inspect = { ['Z'] = true, ['S'] = true, ['C'] = true, ['E'] = true },
	.count = { ['Z'] = true },
	.max_len = PQ_MESSAGE_MAX,
	.max_inspect_len = SERVER_CONTROL_MSG_MAX,
	.fn = server_inspect,
};

/* The types prepared.c's server hooks act on: the answers to sluice's own
 * Parse and Close (dropped), and those that complete what a client is owed
 * or end it with an error. A DataRow, most of a server's traffic, passes
 * both unseen. */
#define PREPARED_SERVER_TYPES \
	.observe_types = { ['1'] = true, ['3'] = true }, \
	.after_types = { ['1'] = true, ['2'] = true, ['3'] = true, ['T'] = true, ['n'] = true, \
			 ['C'] = true, ['I'] = true, ['s'] = true, ['Z'] = true, ['E'] = true }

/* A server that owes its client answers in prepared.c's queue also
 * settles them there, and reads the descriptions of statements while some
 * are owed (`...`: the types inspected besides). */
#define TRACKED_SPEC(...) { \
	.inspect = { ['Z'] = true, ['S'] = true, ['C'] = true, ['E'] = true, __VA_ARGS__ }, \
	.count = { ['Z'] = true }, \
	.max_len = PQ_MESSAGE_MAX, \
	.max_inspect_len = SERVER_CONTROL_MSG_MAX, \
	.fn = server_inspect, \
	.observe = server_observe, \
	.after = server_after, \
	PREPARED_SERVER_TYPES, \
}
static struct relay_spec server_spec_tracked = TRACKED_SPEC();
static struct relay_spec server_spec_describing =
	TRACKED_SPEC(['t'] = true, ['T'] = true, ['n'] = true);

/* The types a tracking client side does not observe: Parse, Bind,
 * Describe and Close go to prepared_client_message whole, and they,
 * Flush and the COPY messages owe nothing of their own and end no
 * transaction (prepared_client_observe). */
#define CLIENT_NOT_OBSERVED "PBDCHdcf"

/* The specs' type flags, made once (their tables never change). */
static void specs_ready(void)
{
	static bool done;
	if (done)
		return;
	for (const char *t = CLIENT_NOT_OBSERVED; *t; t++)
		client_spec_tracked.observe_types[(uint8_t)*t] = false;
	struct relay_spec *all[] = { &client_spec, &client_spec_tracked, &client_spec_watched,
				     &server_spec, &server_spec_noting, &server_spec_tracked,
				     &server_spec_describing };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		relay_spec_ready(all[i]);
	done = true;
}

struct relay_spec *link_client_spec(const struct client *c)
{
	specs_ready();
	struct relay_spec *spec = client_tracks_statements(c) ? &client_spec_tracked
				  : session_state_watch(c) ? &client_spec_watched : &client_spec;
	spec->max_len = (uint32_t)rt.cfg->max_packet_size;
	return spec;
}

const struct relay_spec *link_server_spec(const struct server *s)
{
	specs_ready();
	if (prepared_server_idle(s))   /* nothing owed: prepared.c has nothing to settle */
		return s->stmts || (s->client && client_tracks_statements(s->client))
		       ? &server_spec_noting : &server_spec;
	return prepared_server_describing(s) ? &server_spec_describing : &server_spec_tracked;
}
