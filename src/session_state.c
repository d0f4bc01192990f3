/*
 * session_state.c — what transaction_session_state does with the session
 * state a transaction-pooled client leaves on a shared server (see
 * session_state.h; the scan itself is sqlscan.c's, run by prepared_sql.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>


#include "log.h"
#include "pool.h"
#include "pq_writer.h"
#include "proto.h"
#include "runtime.h"
#include "session_state.h"
#include "sqlscan.h"
#include "sqlstate.h"
#include "varcache.h"

#define KIND_LOAD 7   /* nothing but the server's end undoes it */

/* One kind of session state: the scanner's bit, the bits that clear it
 * besides DISCARD ALL, its name (log lines, SHOW STATE_LEAKS, metrics),
 * what it leaves behind, and the form that stays in the transaction. */
static const struct kind {
	unsigned bit, clears;
	const char *name, *what, *instead;
} kinds[STATE_KINDS] = {
	{ SQLSCAN_ST_SET, SQLSCAN_CL_SET, "set",
	  "SET without LOCAL changes the setting for the server's next clients",
	  "use SET LOCAL inside a transaction" },
	{ SQLSCAN_ST_SET_CONFIG, SQLSCAN_CL_SET, "set_config",
	  "set_config(..., false) changes the setting for the server's next clients",
	  "use set_config(name, value, true) inside a transaction" },
	{ SQLSCAN_ST_ADVISORY, SQLSCAN_CL_ADVISORY, "advisory_lock",
	  "a session advisory lock stays held on the server after the transaction",
	  "use pg_advisory_xact_lock or pg_try_advisory_xact_lock" },
	{ SQLSCAN_ST_LISTEN, SQLSCAN_CL_LISTEN, "listen",
	  "LISTEN stays on the server: notifications go to whichever client has it next",
	  "LISTEN over a session-pooled connection" },
	{ SQLSCAN_ST_TEMP, SQLSCAN_CL_TEMP, "temp_table",
	  "a temporary table stays on the server for its next clients",
	  "use CREATE TEMP TABLE ... ON COMMIT DROP inside a transaction" },
	{ SQLSCAN_ST_HOLD_CURSOR, SQLSCAN_CL_HOLD_CURSOR, "cursor_with_hold",
	  "a cursor WITH HOLD stays open on the server after the transaction",
	  "use a cursor without HOLD and close it before COMMIT" },
	{ SQLSCAN_ST_PREPARE, SQLSCAN_CL_PREPARE, "sql_prepare",
	  "an SQL PREPARE stays on the server for its next clients",
	  "use protocol-level prepared statements, which sluice carries to every server" },
	[KIND_LOAD] = { SQLSCAN_ST_LOAD, 0, "load",
	  "LOAD leaves the library loaded in the server process",
	  "load the library with session_preload_libraries on the server" },
};

const char *session_state_kind_name(int kind)
{
	return kind >= 0 && kind < STATE_KINDS ? kinds[kind].name : "?";
}

const char *session_state_policy_name(int policy)
{
	static const char *const names[] = { "allow", "warn", "refuse", "pin" };
	return policy >= 0 && policy <= STATE_PIN ? names[policy] : "?";
}

/* A SET of a parameter sluice carries from server to server itself (the
 * ParameterStatus ones, varcache.h) leaks nothing: the next client's own
 * value is set before it runs anything. */
bool session_state_tracked(const char *name, void *arg)
{
	(void)arg;
	return varcache_index(name) >= 0;
}

/* Where max_pinned_servers leaves it: 0 means half the pool, at least 1. */
static int pin_cap(const struct pool *p)
{
	if (rt.cfg->max_pinned_servers > 0)
		return rt.cfg->max_pinned_servers;
	return p->size / 2 > 0 ? p->size / 2 : 1;
}

/* The first words of a text, letters only (never a literal: the text can
 * hold a password), for the warning's log line. */
static void first_words(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	size_t i = 0, len = 0;
	for (int words = 0; words < 2; words++) {
		while (i < n && (isspace(p[i]) || p[i] == '('))
			i++;
		size_t start = i;
		while (i < n && (isalnum(p[i]) || p[i] == '_' || p[i] == '.') && len + 1 < outlen - 5)
			i++;
		if (i == start)
			break;
		if (len)
			out[len++] = ' ';
		for (size_t k = start; k < i; k++)
			out[len++] = words ? (char)p[k] : (char)toupper(p[k]);
	}
	out[len] = 0;
	if (i < n)
		snprintf(out + len, outlen - len, "%s...", len ? " " : "");
}

static void warn(struct client *c, int k, const uint8_t *text, size_t n)
{
	c->pool->state_seen[k][STATE_WARNED]++;
	if (c->state_warned & (1u << k))
		return;
	c->state_warned |= (uint8_t)(1u << k);
	c->state_notice |= (uint8_t)(1u << k);
	char words[64];
	first_words(text, n, words, sizeof words);
	const char *app = varcache_get(&c->vars, VC_APPLICATION_NAME);
	client_log(c, LOG_LVL_WARN,
		   "session state in %s pooling (application_name \"%s\"): %s: %s (\"%s\"); "
		   "transaction_session_state = warn lets it run",
		   config_pool_mode_name(c->pool->mode), app ? app : "", kinds[k].name, kinds[k].what,
		   words);
}

static bool refuse(struct client *c, int k, bool by_cap)
{
	c->pool->state_seen[k][STATE_REFUSED]++;
	c->state_refusal = (uint8_t)(k | (by_cap ? 0x80 : 0));
	return false;
}

bool session_state_admit(struct client *c, unsigned bits, const uint8_t *text, size_t n)
{
	struct pool *p = c->pool;
	if (bits & SQLSCAN_CL_ANY)
		c->state_clear |= bits & SQLSCAN_CL_ANY;
	for (int k = 0; k < STATE_KINDS; k++) {
		if (!(bits & kinds[k].bit))
			continue;
		switch (p->state_policy) {
		case STATE_WARN:
			warn(c, k, text, n);
			break;
		case STATE_REFUSE:
			return refuse(c, k, false);
		case STATE_PIN:
			if (!c->pinned && p->npinned >= pin_cap(p))
				return refuse(c, k, true);
			p->state_seen[k][STATE_PINNED]++;
			c->state_held |= (uint8_t)(1u << k);
			if (!c->pinned) {
				c->pinned = true;
				p->npinned++;
				client_log(c, LOG_LVL_INFO, "pinned to its server: %s", kinds[k].what);
			}
			break;
		default:
			break;
		}
	}
	return true;
}

/* The refusal, raised by the server itself in place of the text: its
 * transaction (if one is open) fails as PostgreSQL's own error would
 * leave it, and the client's error and ReadyForQuery come in order. No
 * byte of the client's text is in it. */
/* Appends to out (n bytes, *len used): s as it is, or (literal) as the
 * body of an SQL string literal, quotes doubled. */
static void put(char *out, size_t n, size_t *len, const char *s, bool literal)
{
	for (; *s && *len + 2 < n; s++) {
		if (literal && *s == '\'')
			out[(*len)++] = '\'';
		out[(*len)++] = *s;
	}
	out[*len] = 0;
}

const char *session_state_refusal_sql(const struct client *c)
{
	static char sql[1024];
	const struct kind *k = &kinds[c->state_refusal & 0x7f];
	bool by_cap = c->state_refusal & 0x80;
	char msg[300];
	snprintf(msg, sizeof msg, "sluice: %s refused in %s pooling: %s", k->name,
		 config_pool_mode_name(c->pool->mode),
		 by_cap ? "max_pinned_servers servers of this pool are pinned already" : k->what);
	size_t len = 0;
	put(sql, sizeof sql, &len, "DO $sluice$BEGIN RAISE EXCEPTION USING ERRCODE = '"
	    SQLSTATE_FEATURE_NOT_SUPPORTED "', MESSAGE = '", false);
	put(sql, sizeof sql, &len, msg, true);
	put(sql, sizeof sql, &len, "', HINT = '", false);
	put(sql, sizeof sql, &len, by_cap ? "end the session state that pins servers, or use a "
					    "session-pooled connection" : k->instead, true);
	put(sql, sizeof sql, &len, "'; END$sluice$", false);
	return sql;
}

/* For a refused text that already went out in part (a long Query
 * streamed before its end was seen): the session cannot go on in step,
 * and ends with this. */
void session_state_refusal_text(const struct client *c, char *out, size_t n)
{
	const struct kind *k = &kinds[c->state_refusal & 0x7f];
	snprintf(out, n, "sluice: %s refused in %s pooling: %s (%s)", k->name,
		 config_pool_mode_name(c->pool->mode), k->what, k->instead);
}

static void unpin(struct client *c)
{
	c->pinned = false;
	c->state_held = 0;
	if (c->pool->npinned > 0)
		c->pool->npinned--;
	else
		BUG("pool %s/%s: pinned servers below zero", c->pool->db_name, c->pool->user);
}

/* A ReadyForQuery answered c's last sync point. What the statements that
 * clear state did is taken once their text ran without an error (any
 * ErrorResponse meanwhile forgets them, link.c: the clear may not have
 * run, and the state stays, the safe side). */
void session_state_answered(struct client *c)
{
	unsigned clear = c->state_clear;
	c->state_clear = 0;
	if (!c->pinned || !clear)
		return;
	for (int k = 0; k < STATE_KINDS; k++)
		if ((clear & SQLSCAN_CL_ALL && k != KIND_LOAD) || (clear & kinds[k].clears))
			c->state_held &= (uint8_t)~(1u << k);
	if (!c->state_held) {
		client_log(c, LOG_LVL_INFO, "unpinned: its session state is cleared");
		unpin(c);
	}
}

void session_state_notices(struct client *c, struct buf *out)
{
	for (int k = 0; k < STATE_KINDS; k++) {
		if (!(c->state_notice & (1u << k)))
			continue;
		char msg[300];
		snprintf(msg, sizeof msg, "sluice: %s in %s pooling: %s (%s)", kinds[k].name,
			 config_pool_mode_name(c->pool->mode), kinds[k].what, kinds[k].instead);
		struct pq_writer w;
		pq_writer_init(&w);
		proto_build_notice(&w, SQLSTATE_WARNING, msg);
		if (pq_writer_ok(&w))
			buf_add(out, w.buf, w.len);
		pq_writer_free(&w);
	}
	c->state_notice = 0;
}

/* The client lets go of its server (it leaves): a pinned server is reset
 * with DISCARD ALL, which also ends advisory locks, LISTENs, temp tables,
 * cursors and SQL PREPAREs; after LOAD, which nothing undoes, it is
 * closed. */
int session_state_left(struct client *c)
{
	if (!c->pinned)
		return POOL_RELEASE_RESET;
	bool loaded = c->state_held & (1u << KIND_LOAD);
	unpin(c);
	return loaded ? POOL_RELEASE_CLOSE : POOL_RELEASE_DISCARD;
}
