/*
 * sqlscan_state.t — the SQL scanner's session-state bits (SQLSCAN_ST_* and
 * SQLSCAN_CL_*): each kind and clear, what must not count (SET LOCAL,
 * set_config(..., true), the _xact_ locks, ON COMMIT DROP, strings,
 * comments, dollar-quoted bodies), tracked parameters through the
 * predicate; each case fed whole, split at every byte and byte by byte;
 * and the quick filters sqlscan_may_hold_state and sqlscan_may_match,
 * never false where the scan finds something, false for ordinary pgbench
 * text, over the fixed cases and 40,000 random texts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compiler.h"
#include "sqlscan.h"
#include "sqlscan_feed.h"
#include "tap.h"

#define S  SQLSCAN_ST_SET
#define C  SQLSCAN_ST_SET_CONFIG
#define V  SQLSCAN_ST_ADVISORY
#define L  SQLSCAN_ST_LISTEN
#define T  SQLSCAN_ST_TEMP
#define H  SQLSCAN_ST_HOLD_CURSOR
#define R  SQLSCAN_ST_PREPARE
#define O  SQLSCAN_ST_LOAD
#define XA SQLSCAN_CL_ALL
#define XS SQLSCAN_CL_SET
#define XV SQLSCAN_CL_ADVISORY
#define XL SQLSCAN_CL_LISTEN
#define XT SQLSCAN_CL_TEMP
#define XH SQLSCAN_CL_HOLD_CURSOR
#define XR SQLSCAN_CL_PREPARE
#define STATE (SQLSCAN_ST_ANY | SQLSCAN_CL_ANY)

enum pred { NONE, LIST, EVERY };

struct scase {
	const char *sql;
	unsigned want;       /* compared with the ST_ and CL_ bits only */
	enum pred pred;
};

static const struct scase cases[] = {
	/* SET */
	{ "SET a.b = 1", S, NONE },
	{ "SET myapp.tenant TO 'x'", S, NONE },
	{ "set work_mem = '64MB'", S, NONE },
	{ "SeT MyApp.Tenant = 1", S, NONE },
	{ "SET SESSION work_mem = 1", S, NONE },
	{ "SET \"myapp\".\"tenant\" = 1", S, NONE },
	{ "SET/**/a--c\n.b = 1", S, NONE },
	{ "SET LOCAL work_mem = 1", 0, NONE },
	{ "set local myapp.x = 1", 0, NONE },
	{ "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", 0, NONE },
	{ "SET SESSION TRANSACTION READ ONLY", 0, NONE },
	{ "SET TRANSACTION SNAPSHOT '000003A1-1'", 0, NONE },
	{ "SET CONSTRAINTS ALL DEFERRED", 0, NONE },
	{ "SET ROLE admin", S, EVERY },
	{ "SET SESSION ROLE admin", S, EVERY },
	{ "SET LOCAL ROLE admin", 0, NONE },
	{ "SET SESSION AUTHORIZATION bob", S, EVERY },
	{ "SET SESSION SESSION AUTHORIZATION DEFAULT", S, EVERY },
	{ "SET LOCAL SESSION AUTHORIZATION bob", 0, NONE },
	{ "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", S, EVERY },
	{ "SET SCHEMA 'app'", S, NONE },
	{ "SET SCHEMA 'app'", 0, LIST },
	{ "SET XML OPTION DOCUMENT", S, NONE },
	{ "SET TIME ZONE 'UTC'", S, NONE },
	{ "SET TIME ZONE 'UTC'", 0, LIST },
	{ "set time /* x */ zone local", 0, LIST },
	{ "SET TimeZone = 'UTC'", 0, LIST },
	{ "SET TimeZone = 'UTC'", S, NONE },
	{ "SET \"TimeZone\" = 'UTC'", 0, LIST },
	{ "SET SESSION timezone TO DEFAULT", 0, LIST },
	{ "SET NAMES 'UTF8'", 0, LIST },
	{ "SET NAMES 'UTF8'", S, NONE },
	{ "SET client_encoding TO 'UTF8'", 0, LIST },
	{ "SET datestyle = ISO", 0, LIST },
	{ "SET DateStyle FROM CURRENT", 0, LIST },
	{ "SET work_mem = 1", S, LIST },
	{ "SET names.x = 1", S, LIST },
	{ "SET datestyle.x = 1", S, LIST },
	{ "SET time.zone = 1", S, LIST },
	{ "SET work_mem = 1", 0, EVERY },
	{ "SET U&\"\\0074imezone\" = 'UTC'", S, EVERY },
	{ "SET a.U&\"b\" = 1", S, EVERY },
	{ "SET xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx = 1", S, EVERY },
	{ "SET", 0, NONE },
	{ "SET;", 0, NONE },
	{ "SETOF x", 0, NONE },
	{ "SELECT 'SET x = 1'", 0, NONE },
	{ "/* SET x = 1 */ SELECT 1", 0, NONE },
	{ "-- SET x = 1\nSELECT 1", 0, NONE },
	{ "\"SET\" x = 1", 0, NONE },
	{ "SELECT 1; SET a = 1", S, NONE },
	{ "SELECT 1;SET a = 1", S, NONE },
	{ "UPDATE t SET a = 1", 0, NONE },
	{ "SELECT 1; set local a = 1; SET LOCAL b = 2", 0, NONE },
	{ "SELECT 'a\\'; SET a = 1; --'", S, NONE },
	{ "SELECT 'a\\'' ; SET b = 1", S, NONE },
	{ "SELECT $$; SET a = 1; $$", 0, NONE },
	{ "CREATE FUNCTION f() RETURNS void AS $$ RESET ALL; SET a = 1 $$ LANGUAGE sql", 0, NONE },
	{ "EXPLAIN SET a = 1", 0, NONE },

	/* set_config */
	{ "SELECT set_config('myapp.tenant', '42', false)", C, NONE },
	{ "SELECT set_config('myapp.tenant', '42', true)", 0, NONE },
	{ "select SET_CONFIG('a.b', 'c', TRUE)", 0, NONE },
	{ "SELECT set_config('a.b', 'c', 'on')", 0, NONE },
	{ "SELECT set_config('a.b', 'c', 'T')", 0, NONE },
	{ "SELECT set_config('a.b', 'c', 'Yes')", 0, NONE },
	{ "SELECT set_config('a.b', 'c', '1')", 0, NONE },
	{ "SELECT set_config('a.b', 'c', 'true')", 0, NONE },
	{ "SELECT set_config('a.b', 'c', 'off')", C, NONE },
	{ "SELECT set_config('a.b', 'c', 'tru')", C, NONE },
	{ "SELECT set_config('a.b', 'c', $1)", C, NONE },
	{ "SELECT set_config('a.b', 'c', 1)", C, NONE },
	{ "SELECT set_config('a.b', 'c', true::bool)", C, NONE },
	{ "SELECT set_config('a.b', 'c', \"true\")", C, NONE },
	{ "SELECT set_config('a.b', concat('x', 'y'), true)", 0, NONE },
	{ "SELECT set_config('a.b', f(1, (2, 3)), false)", C, NONE },
	{ "SELECT pg_catalog.set_config('a.b', 'c', false)", C, NONE },
	{ "SELECT set_config ( 'a.b' , 'c' , false )", C, NONE },
	{ "SELECT set_config/**/('a.b', 'c', false)", C, NONE },
	{ "SELECT \"set_config\"('a.b', 'c', false)", C, NONE },
	{ "SELECT \"SET_CONFIG\"('a.b', 'c', false)", 0, NONE },
	{ "SELECT U&\"\\0073et_config\"('a.b', 'c', false)", C, NONE },
	{ "SELECT set_config FROM t", 0, NONE },
	{ "SELECT 'set_config(''a'', ''b'', false)'", 0, NONE },
	{ "SELECT set_config('DateStyle', 'ISO', false)", 0, LIST },
	{ "SELECT set_config('DateStyle', 'ISO', false)", C, NONE },
	{ "SELECT set_config('datestyle', 'ISO', false)", 0, LIST },
	{ "SELECT set_config(E'DateStyle', 'ISO', false)", 0, LIST },
	{ "SELECT set_config('Date''Style', 'ISO', false)", C, LIST },
	{ "SELECT set_config(E'Date\\x53tyle', 'ISO', false)", C, LIST },
	{ "SELECT set_config('Date'\n'Style', 'ISO', false)", C, LIST },
	{ "SELECT set_config('DateStyle'::text, 'ISO', false)", C, LIST },
	{ "SELECT set_config(name, 'x', false) FROM t", C, LIST },
	{ "SELECT set_config('a.b', set_config('c.d', 'e', true), true)", C, NONE },
	{ "SELECT set_config('DateStyle', set_config('c.d', 'e', false), true)", C, LIST },
	{ "SELECT set_config('DateStyle', set_config('TimeZone', 'e', false), false)", 0, LIST },
	{ "SELECT set_config('a', 'b', true), set_config('c', 'd', false)", C, NONE },
	{ "SELECT set_config('a', 'b', true); SELECT 1", 0, NONE },
	{ "SELECT set_config('a', 'b'", C, NONE },
	{ "SELECT set_config('a', 'b', true", C, NONE },
	{ "SELECT set_config('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'c', false)",
	  C, EVERY },
	{ "SELECT set_config('work_mem', 'c', false)", 0, EVERY },
	{ "DO $$BEGIN PERFORM set_config('a', 'b', false); END$$", 0, NONE },

	/* advisory locks */
	{ "SELECT pg_advisory_lock(1)", V, NONE },
	{ "SELECT pg_try_advisory_lock(1)", V, NONE },
	{ "SELECT pg_advisory_lock_shared(1, 2)", V, NONE },
	{ "select PG_TRY_ADVISORY_LOCK_SHARED (1)", V, NONE },
	{ "SELECT pg_catalog.pg_advisory_lock(1)", V, NONE },
	{ "SELECT \"pg_advisory_lock\"(1)", V, NONE },
	{ "SELECT U&\"\\0070g_advisory_lock\"(1)", V, NONE },
	{ "SELECT U&\"!0070g_advisory_lock\" UESCAPE '!' (1)", V | C, NONE },
	{ "SELECT U&\"x\" UESCAPE '!' FROM t", 0, NONE },
	{ "SELECT U&\"pg_advisory_lock\" FROM t", 0, NONE },
	{ "SELECT \"PG_ADVISORY_LOCK\"(1)", 0, NONE },
	{ "SELECT pg_advisory_xact_lock(1)", 0, NONE },
	{ "SELECT pg_try_advisory_xact_lock(1)", 0, NONE },
	{ "SELECT pg_advisory_xact_lock_shared(1)", 0, NONE },
	{ "SELECT pg_advisory_unlock(1)", 0, NONE },
	{ "SELECT pg_advisory_lock FROM t", 0, NONE },
	{ "SELECT 'pg_advisory_lock(1)'", 0, NONE },
	{ "-- pg_advisory_lock(1)\nSELECT 1", 0, NONE },
	{ "SELECT pg_advisory_unlock_all()", XV, NONE },
	{ "SELECT set_config('a', pg_advisory_lock(1)::text, true)", V, NONE },
	{ "INSERT INTO t SELECT pg_advisory_lock(id) FROM x", V, NONE },

	/* LISTEN */
	{ "LISTEN chan", L, NONE },
	{ "listen \"Chan\"", L, NONE },
	{ "SELECT 1; LISTEN x", L, NONE },
	{ "SELECT 1 LISTEN x", 0, NONE },
	{ "NOTIFY x", 0, NONE },
	{ "UNLISTEN x", 0, NONE },
	{ "UNLISTEN *", XL, NONE },
	{ "unlisten/**/*", XL, NONE },

	/* temporary objects */
	{ "CREATE TEMP TABLE t (a int)", T, NONE },
	{ "CREATE TEMPORARY TABLE t AS SELECT 1", T, NONE },
	{ "create local temp table t ()", T, NONE },
	{ "CREATE GLOBAL TEMPORARY TABLE t (a int)", T, NONE },
	{ "CREATE TEMP UNLOGGED TABLE t (a int)", T, NONE },
	{ "CREATE TEMP SEQUENCE s", T, NONE },
	{ "CREATE OR REPLACE TEMP VIEW v AS SELECT 1", T, NONE },
	{ "CREATE TEMP RECURSIVE VIEW v (n) AS SELECT 1", T, NONE },
	{ "CREATE TEMP TABLE t (a int) ON COMMIT DROP", 0, NONE },
	{ "create temp table t (a int) on /**/ commit -- x\n drop", 0, NONE },
	{ "CREATE TEMP TABLE t ON COMMIT DROP AS SELECT 1", 0, NONE },
	{ "CREATE TEMP TABLE t (a int) ON COMMIT DELETE ROWS", T, NONE },
	{ "CREATE TEMP TABLE t (a int) ON COMMIT PRESERVE ROWS", T, NONE },
	{ "CREATE TEMP TABLE t AS SELECT * FROM a JOIN b ON a.x = b.x", T, NONE },
	{ "CREATE TEMP TABLE t AS SELECT 'ON COMMIT DROP'", T, NONE },
	{ "CREATE TEMP TABLE a (x int) ON COMMIT DROP; CREATE TEMP TABLE b (y int)", T, NONE },
	{ "CREATE TEMP TABLE a (x int); CREATE TEMP TABLE b (y int) ON COMMIT DROP", T, NONE },
	{ "CREATE TABLE t (a int)", 0, NONE },
	{ "CREATE UNLOGGED TABLE t (a int)", 0, NONE },
	{ "CREATE TABLE temp (a int)", 0, NONE },
	{ "CREATE \"TEMP\" TABLE t (a int)", 0, NONE },
	{ "SELECT 1 AS a INTO TEMP t", T, NONE },
	{ "SELECT * INTO TEMPORARY TABLE t FROM x", T, NONE },
	{ "select 1 into local temp t", T, NONE },
	{ "SELECT * INTO t FROM x", 0, NONE },
	{ "SELECT * INTO \"temp\" FROM x", 0, NONE },
	{ "INSERT INTO temp VALUES (1)", 0, NONE },
	{ "SELECT * FROM t WHERE a = 'INTO TEMP'", 0, NONE },
	{ "(SELECT 1 INTO TEMP t)", 0, NONE },
	{ "DISCARD TEMP", XT, NONE },
	{ "discard temporary", XT, NONE },

	/* cursors WITH HOLD */
	{ "DECLARE c CURSOR WITH HOLD FOR SELECT 1", H, NONE },
	{ "DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT 1", H, NONE },
	{ "declare c binary cursor with /* x */ hold for select 1", H, NONE },
	{ "DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1", 0, NONE },
	{ "DECLARE c CURSOR FOR SELECT 1", 0, NONE },
	{ "DECLARE c CURSOR FOR WITH hold AS (SELECT 1) SELECT * FROM hold", 0, NONE },
	{ "DECLARE hold CURSOR FOR SELECT 1", 0, NONE },
	{ "CLOSE ALL", XH, NONE },
	{ "CLOSE c", 0, NONE },
	{ "CLOSE \"all\"", 0, NONE },

	/* PREPARE */
	{ "PREPARE q AS SELECT 1", R, NONE },
	{ "PREPARE sluice_2 AS SELECT 1", R, NONE },
	{ "prepare q(int) AS SELECT $1", R, NONE },
	{ "PREPARE \"Q\" AS SELECT 1", R, NONE },
	{ "PREPARE TRANSACTION 'x'", 0, NONE },
	{ "prepare transaction E'x'", 0, NONE },
	{ "PREPARE transaction AS SELECT 1", R, NONE },
	{ "PREPARE \"transaction\" AS SELECT 1", R, NONE },
	{ "DEALLOCATE ALL", XR, NONE },
	{ "DEALLOCATE PREPARE ALL", XR, NONE },
	{ "DEALLOCATE q", 0, NONE },
	{ "DEALLOCATE \"all\"", 0, NONE },
	{ "EXECUTE q", 0, NONE },

	/* LOAD, the other clears */
	{ "LOAD 'auto_explain'", O, NONE },
	{ "load '$libdir/plugins/x'", O, NONE },
	{ "DISCARD ALL", XA, NONE },
	{ "RESET ALL", XS, NONE },
	{ "reset all;", XS, NONE },
	{ "RESET work_mem", 0, NONE },
	{ "RESET \"all\"", 0, NONE },
	{ "RESET ROLE", 0, NONE },
	{ "DISCARD PLANS", 0, NONE },
	{ "DISCARD SEQUENCES", 0, NONE },

	/* several statements */
	{ "SET a.b = 1; LISTEN x; SELECT pg_advisory_lock(1); DISCARD ALL", S | L | V | XA, NONE },
	{ "BEGIN; SET LOCAL a.b = 1; SELECT 1; COMMIT; RESET ALL", XS, NONE },
	{ ";;;LISTEN x;;", L, NONE },
	{ "SELECT 1 -- x\n; LOAD 'y'", O, NONE },
	{ "SELECT 1 /* ; LOAD 'y' */", 0, NONE },
	{ "WITH x AS (SELECT 1) SELECT * INTO TEMP t FROM x", 0, NONE },
};

/* The parameters a pooler might track; the names the predicate was
 * asked about are logged for test_names. */
static char asked[1024];

static bool list_cb(const char *name, void *arg)
{
	static const char *const names[] = {
		"timezone", "client_encoding", "search_path", "datestyle", "application_name",
	};
	size_t used = strlen(asked);
	snprintf(asked + used, sizeof asked - used, "%s|", name);
	if (arg)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i]))
			return true;
	return false;
}

static void start(struct sqlscan *s, enum pred pred)
{
	sqlscan_init(s, "sluice_");
	if (pred != NONE)
		sqlscan_set_tracked(s, list_cb, pred == EVERY ? s : NULL);
}

static size_t case_len(const struct scase *c)
{
	return strlen(c->sql);
}

static unsigned whole(const struct scase *c)
{
	struct sqlscan s;
	start(&s, c->pred);
	feed_exact(&s, c->sql, case_len(c));
	return sqlscan_finish(&s);
}

static void test_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct scase *c = &cases[i];
		unsigned got = whole(c) & STATE;
		if (!ok(got == c->want, "%s%s", c->sql, c->pred == LIST ? " (tracked: list)" :
					      c->pred == EVERY ? " (tracked: all)" : ""))
			diag("got 0x%x, want 0x%x", got, c->want);
	}
}

static void test_splits(void)
{
	int bad = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct scase *c = &cases[i];
		size_t n = case_len(c);
		unsigned want = whole(c);
		for (size_t k = 0; k <= n; k++) {
			struct sqlscan s;
			start(&s, c->pred);
			feed_exact(&s, c->sql, k);
			feed_exact(&s, c->sql + k, n - k);
			unsigned got = sqlscan_finish(&s);
			if (got != want && bad++ < 5)
				diag("split at %zu: got 0x%x, want 0x%x: %s", k, got, want, c->sql);
		}
		struct sqlscan s;
		start(&s, c->pred);
		for (size_t k = 0; k < n; k++)
			feed_exact(&s, c->sql + k, 1);
		unsigned got = sqlscan_finish(&s);
		if (got != want && bad++ < 5)
			diag("byte by byte: got 0x%x, want 0x%x: %s", got, want, c->sql);
	}
	is_int(bad, 0, "every case split at every byte, and byte by byte, gives the one-shot result");
}

/* The names the predicate is given, as PostgreSQL would read them. */
static void test_names(void)
{
	static const struct { const char *sql, *names; } checks[] = {
		{ "SET TimeZone = 'UTC'", "timezone|" },
		{ "SET \"TimeZone\" = 'UTC'", "TimeZone|" },
		{ "SET TIME ZONE 'UTC'", "timezone|" },
		{ "SET NAMES 'UTF8'", "client_encoding|" },
		{ "SET SCHEMA 'x'", "search_path|" },
		{ "SET XML OPTION CONTENT", "xmloption|" },
		{ "SET MyApp.\"Te\"\"nant\" = 1", "myapp.Te\"nant|" },
		{ "SET SESSION a.b.c TO 1", "a.b.c|" },
		{ "SELECT set_config('DateStyle', 'ISO', false)", "DateStyle|" },
		{ "SELECT set_config('it''s', 'x', false)", "it's|" },
		{ "SELECT set_config('a', 'b', true)", "a|" },
		{ "SET a = 1; SELECT set_config('b', 'c', false); SET LOCAL d = 1", "a|b|" },
		{ "SET ROLE x; SET LOCAL a = 1; SET U&\"a\" = 1", "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		struct sqlscan s;
		asked[0] = 0;
		start(&s, LIST);
		sqlscan_feed(&s, checks[i].sql, strlen(checks[i].sql));
		(void)sqlscan_finish(&s);
		is_str(asked, checks[i].names, checks[i].sql);
	}
}

static void test_api(void)
{
	struct sqlscan s;
	memset(&s, 0, sizeof s);
	sqlscan_feed(&s, "SET TimeZone = 'UTC'", 20);
	is_int(sqlscan_finish(&s) & STATE, S, "zeroed scanner: no parameter tracked");

	sqlscan_init(&s, "sluice_");
	sqlscan_set_tracked(&s, list_cb, NULL);
	sqlscan_feed(&s, "SET TimeZone = 'UTC'", 20);
	is_int(sqlscan_finish(&s) & STATE, 0, "predicate set");
	sqlscan_reset(&s);
	sqlscan_feed(&s, "SET TimeZone = 'UTC'", 20);
	is_int(sqlscan_finish(&s) & STATE, 0, "reset keeps the predicate");
	sqlscan_init(&s, "sluice_");
	sqlscan_feed(&s, "SET TimeZone = 'UTC'", 20);
	is_int(sqlscan_finish(&s) & STATE, S, "init clears it");
	sqlscan_set_tracked(&s, list_cb, NULL);
	sqlscan_set_tracked(&s, NULL, NULL);
	sqlscan_reset(&s);
	sqlscan_feed(&s, "SET TimeZone = 'UTC'", 20);
	is_int(sqlscan_finish(&s) & STATE, S, "NULL predicate: none tracked");

	const char *both = "PREPARE sluice_1 AS SELECT 1; DISCARD ALL";
	is_int(sqlscan_text("sluice_", both, strlen(both)),
	       SQLSCAN_PREPARE_OWN | SQLSCAN_DROPS_ALL | R | XA, "old and new bits together");
	char sql[256], tag[80];
	memset(tag, 't', sizeof tag);
	snprintf(sql, sizeof sql, "SET a = 1; SELECT $%.65s$", tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), SQLSCAN_UNSURE, "unsure still comes alone");
	is_int(sqlscan_text("sluice_", "SELECT 1\0; LISTEN x", 19) & STATE, 0, "text after NUL is ignored");

	is_int(SQLSCAN_ST_ANY, S | C | V | L | T | H | R | O, "SQLSCAN_ST_ANY");
	is_int(SQLSCAN_CL_ANY, XA | XS | XV | XL | XT | XH | XR, "SQLSCAN_CL_ANY");
	is_int(SQLSCAN_ST_ANY & (SQLSCAN_CL_ANY | SQLSCAN_REFUSE | SQLSCAN_DROPS_ALL), 0, "the bits are apart");
	diag("sizeof(struct sqlscan) = %zu", sizeof s);
}

/* Never false where the scan finds something; false for ordinary text. */
static void test_filter(void)
{
	int missed = 0, positives = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct scase *c = &cases[i];
		struct sqlscan s;
		sqlscan_init(&s, "sluice_");
		feed_exact(&s, c->sql, case_len(c));
		if (!(sqlscan_finish(&s) & STATE))
			continue;
		positives++;
		char *copy = malloc(case_len(c) + 1);
		memcpy(copy, c->sql, case_len(c));
		if (!sqlscan_may_hold_state(copy, case_len(c)) && missed++ < 5)
			diag("filter missed: %s", c->sql);
		free(copy);
	}
	is_int(missed, 0, "the filter is true wherever the scan finds a bit");
	ok(positives > 100, "%d positives checked", positives);

	static const char *const plain[] = {
		"SELECT abalance FROM pgbench_accounts WHERE aid = 1;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = $1",
		"UPDATE pgbench_accounts SET abalance = abalance + -2734 WHERE aid = 61234;",
		"UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
		"UPDATE pgbench_branches SET bbalance = bbalance + 12 WHERE bid = 1;",
		"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 61234, -2734, "
		"CURRENT_TIMESTAMP);",
		"DELETE FROM pgbench_history WHERE tid = 3",
		"BEGIN;", "BEGIN", "COMMIT", "END;", "ROLLBACK", "BEGIN ISOLATION LEVEL REPEATABLE READ",
		"SELECT 1", "select now()", "SELECT * FROM t WHERE a = 'x'; SELECT 2",
		"  \n\tSELECT 1;  INSERT INTO t VALUES (1) ; COMMIT", "", ";", "SELECT pg_backend_pid()",
		"SELECT count(*) FROM pg_stat_activity",
	};
	int wrong = 0;
	for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
		if (sqlscan_may_hold_state(plain[i], strlen(plain[i])) && wrong++ < 5)
			diag("filter true for: %s", plain[i]);
	is_int(wrong, 0, "the filter is false for ordinary pgbench-like text");

	/* each position in a long text, for the 16- and 8-byte steps */
	char buf[160];
	int bad = 0;
	static const char *const words[] = { "set_config(", "pg_advisory_lock(", "u&\"x\"(", ";LISTEN x" };
	for (size_t w = 0; w < ARRAY_SIZE(words); w++)
		for (size_t at = 0; at + strlen(words[w]) + 3 < sizeof buf; at++) {
			memset(buf, 'a', sizeof buf);
			buf[0] = 'S';   /* "Saaa...": no statement start word */
			memcpy(buf + at + 1, words[w], strlen(words[w]));
			size_t n = at + 1 + strlen(words[w]) + (at % 3);
			if (!sqlscan_may_hold_state(buf, n) && bad++ < 5)
				diag("missed %s at %zu", words[w], at);
			memset(buf + at + 1, 'a', strlen(words[w]));
			if (sqlscan_may_hold_state(buf, n) && bad++ < 5)
				diag("true without %s at %zu", words[w], at);
		}
	is_int(bad, 0, "the function names and statement starts found at every offset");
}

static uint32_t rand_state = 2463534242u;
static uint32_t next_rand(void)
{
	rand_state ^= rand_state << 13;
	rand_state ^= rand_state >> 17;
	rand_state ^= rand_state << 5;
	return rand_state;
}

/* A text of random fragments, in a buffer of exactly its length (so that
 * AddressSanitizer sees a read past it). */
static char *random_text(const char *const *frags, size_t nfrags, size_t *len)
{
	char tmp[200];
	size_t n = 0, want = next_rand() % 120;
	while (n < want) {
		const char *f = frags[next_rand() % nfrags];
		size_t fl = strlen(f);
		if (n + fl > sizeof tmp)
			break;
		memcpy(tmp + n, f, fl);
		n += fl;
	}
	char *t = malloc(n ? n : 1);
	memcpy(t, tmp, n);
	*len = n;
	return t;
}

static bool has_word(const char *p, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++)
		if (strncasecmp(p + i, w, wl) == 0)
			return true;
	return false;
}

/* The filter over random texts at every length and alignment: for
 * sluice's names it is exactly "PREPARE, EXECUTE or DEALLOCATE stands in
 * the text"; for session state, never false where the scan finds a bit. */
static void test_filter_random(void)
{
	static const char *const own[] = { "pre", "pare", "PREPARE", "exe", "cute", "ExEcUtE", "deal",
					   "locate", "DEALLOCATE", "p", "r", "e", "x", "d", "E", "X",
					   " ", ";", "_", "a", "c", "u", "&", "m", "\n" };
	int wrong = 0;
	for (int i = 0; i < 20000; i++) {
		size_t n;
		char *t = random_text(own, ARRAY_SIZE(own), &n);
		bool want = has_word(t, n, "prepare") || has_word(t, n, "execute") ||
			    has_word(t, n, "deallocate");
		if (sqlscan_may_match(t, n, false) != want && wrong++ < 5)
			diag("own names: %s for \"%.*s\"", want ? "missed" : "true", (int)n, t);
		if (want && !sqlscan_may_match(t, n, true) && wrong++ < 5)
			diag("own names missed with state: \"%.*s\"", (int)n, t);
		free(t);
	}
	is_int(wrong, 0, "own names: the filter is true exactly where the words stand");

	static const char *const state[] = { "set_config(", "'a'", ",", "false", "true", ")",
					     "pg_advisory_lock(1)", "pg_try_advisory_lock_shared(2)",
					     "SELECT", "select 1", " INTO ", "TEMP", "temp", " t", ";",
					     " ", "  ", "LISTEN x", "u&\"x\"", "U&", "--c\n", "/*c*/",
					     "$$", "'", "e", "m", "SET ", "a = 1", "create ", "DECLARE c ",
					     "WITH HOLD FOR SELECT 1", "_", "c", "\t" };
	int missed = 0, positives = 0;
	for (int i = 0; i < 20000; i++) {
		size_t n;
		char *t = random_text(state, ARRAY_SIZE(state), &n);
		if (sqlscan_text("sluice_", t, n) & STATE) {
			positives++;
			if ((!sqlscan_may_hold_state(t, n) || !sqlscan_may_match(t, n, true)) && missed++ < 5)
				diag("state missed: \"%.*s\"", (int)n, t);
		}
		free(t);
	}
	is_int(missed, 0, "session state: the filter is true wherever the scan finds a bit");
	ok(positives > 2000, "%d random texts with state checked", positives);
}

int main(void)
{
	test_cases();
	test_splits();
	test_names();
	test_api();
	test_filter();
	test_filter_random();
	return done_testing();
}
