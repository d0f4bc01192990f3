/*
 * sqlscan.t — the SQL scanner: each recognised form, PostgreSQL's lexical
 * rules (strings, escapes, dollar quotes, comments, U&"" names), statement
 * splitting, name length, encodings, garbage; and every case fed in two
 * pieces split at every byte, and one byte at a time, must give the
 * one-shot result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "sqlscan.h"
#include "sqlscan_feed.h"
#include "tap.h"

#define P SQLSCAN_PREPARE_OWN
#define E SQLSCAN_EXECUTE_OWN
#define D SQLSCAN_DEALLOCATE_OWN
#define A SQLSCAN_DROPS_ALL
#define U SQLSCAN_UNSURE
/* the bits this file is about; the session-state ones are sqlscan_state.t's */
#define OWN(x) ((x) & (P | E | D | A | U))

struct scase {
	const char *name;
	const char *sql;
	size_t len;          /* 0: strlen(sql) */
	unsigned want;
	enum sqlscan_enc enc;
	const char *prefix;  /* NULL: "sluice_" */
};

static const struct scase cases[] = {
	/* PREPARE */
	{ "PREPARE own", "PREPARE sluice_2 AS SELECT 'PWNED'", 0, P, 0, NULL },
	{ "prepare, lower case, folded name", "prepare SLUICE_2 as select 1", 0, P, 0, NULL },
	{ "mixed case, tabs, types", "PrEpArE\n\tsluice_2(int, text) AS SELECT $1", 0, P, 0, NULL },
	{ "block comment between tokens", "PREPARE/*c*/sluice_2 AS SELECT 1", 0, P, 0, NULL },
	{ "line comment between tokens", "PREPARE -- c\n sluice_2 AS SELECT 1", 0, P, 0, NULL },
	{ "nested block comment", "PREPARE /* a /* b */ c */ sluice_2 AS SELECT 1", 0, P, 0, NULL },
	{ "quoted own name", "PREPARE \"sluice_2\" AS SELECT 1", 0, P, 0, NULL },
	{ "quoted name keeps case: not own", "PREPARE \"SLUICE_2\" AS SELECT 1", 0, 0, 0, NULL },
	{ "quoted name with \"\"", "PREPARE \"sluice_\"\"x\" AS SELECT 1", 0, P, 0, NULL },
	{ "quoted name starting with \"\"", "PREPARE \"\"\"sluice_2\" AS SELECT 1", 0, 0, 0, NULL },
	{ "U&\"\\XXXX\"", "PREPARE U&\"\\0073luice_2\" AS SELECT 1", 0, P, 0, NULL },
	{ "u&\"\\+XXXXXX\"", "PREPARE u&\"\\+000073luice_2\" AS SELECT 1", 0, P, 0, NULL },
	{ "U& escape in the middle", "PREPARE U&\"slu\\0069ce_2\" AS SELECT 1", 0, P, 0, NULL },
	{ "U& with UESCAPE", "PREPARE U&\"!0073luice_2\" UESCAPE '!' AS SELECT 1", 0, P, 0, NULL },
	{ "U& with uescape, comments", "PREPARE U&\"!0073luice_2\" /*x*/ uescape -- y\n '!' AS SELECT 1", 0, P, 0, NULL },
	{ "U& with escape char doubled", "PREPARE U&\"s!!luice\" UESCAPE '!' AS SELECT 1", 0, 0, 0, NULL },
	{ "U& escape char is a letter", "PREPARE U&\"ssluice_2\" UESCAPE 's' AS SELECT 1", 0, P, 0, NULL },
	{ "U& with an unused escape char", "PREPARE U&\"ss0073luice_2\" UESCAPE 'x' AS SELECT 1", 0, 0, 0, NULL },
	{ "U& ! without UESCAPE is literal", "PREPARE U&\"!0073luice_2\" AS SELECT 1", 0, 0, 0, NULL },
	{ "U& \\ with UESCAPE ! is literal", "PREPARE U&\"\\0073luice_2\" UESCAPE '!' AS SELECT 1", 0, 0, 0, NULL },
	{ "U& plain own name, UESCAPE", "PREPARE U&\"sluice_2\" UESCAPE '!' AS SELECT 1", 0, P, 0, NULL },
	{ "U& \\\\ is a backslash", "PREPARE U&\"\\\\sluice_2\" AS SELECT 1", 0, 0, 0, NULL },
	{ "U& non-ASCII code point", "PREPARE U&\"\\00e9sluice_2\" AS SELECT 1", 0, 0, 0, NULL },
	{ "U& with \"\" inside", "PREPARE U&\"sluice_\"\"\" AS SELECT 1", 0, P, 0, NULL },
	{ "U& UESCAPE $$!$$: own (not decoded)", "PREPARE U&\"x\" UESCAPE $$!$$ AS SELECT 1", 0, P, 0, NULL },
	{ "U& UESCAPE E'\\x21': own (not decoded)", "PREPARE U&\"x\" UESCAPE E'\\x21' AS SELECT 1", 0, P, 0, NULL },
	{ "U& UESCAPE '' continued: own", "PREPARE U&\"x\" UESCAPE ''\n'!' AS SELECT 1", 0, P, 0, NULL },
	{ "U& UESCAPE without a string: own", "PREPARE U&\"x\" UESCAPE AS SELECT 1", 0, P, 0, NULL },
	{ "U& bad escape: own", "PREPARE U&\"\\00zz\" AS SELECT 1", 0, P, 0, NULL },
	{ "U& name at the end", "PREPARE U&\"\\0073luice_2\"", 0, P, 0, NULL },
	{ "U& name then a quoted identifier", "EXECUTE U&\"sluice_1\" \"y\"", 0, E, 0, NULL },
	{ "U& ident elsewhere is no name", "SELECT U&\"\\0073luice_2\" FROM t", 0, 0, 0, NULL },
	{ "U& long name", "EXECUTE U&\"\\+000073\\+00006c\\+000075\\+000069\\+000063\\+000065\\+00005f"
	  "\\+000032\\+000033\\+000034\\+000035\\+000036\\+000037\\+000038\\+000039\\+000030"
	  "\\+000031\\+000032\\+000033\\+000034\\+000035\\+000036\\+000037\\+000038\\+000039"
	  "\\+000030\\+000031\\+000032\\+000033\\+000034\\+000035\\+000036\\+000037\"", 0, E, 0, NULL },
	{ "U& long literal name", "EXECUTE U&\"sluice_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", 0, E, 0, NULL },
	{ "U&'' string is no name", "PREPARE x AS SELECT U&'\\0073luice_2'", 0, 0, 0, NULL },
	{ "not own: mystmt", "PREPARE mystmt AS SELECT 'sluice_2'", 0, 0, 0, NULL },
	{ "not own: sluice", "PREPARE sluice AS SELECT 1", 0, 0, 0, NULL },
	{ "not own: sluice2", "PREPARE sluice2 AS SELECT 1", 0, 0, 0, NULL },
	{ "not own: xsluice_2", "PREPARE xsluice_2 AS SELECT 1", 0, 0, 0, NULL },
	{ "own prefix alone", "PREPARE sluice_ AS SELECT 1", 0, P, 0, NULL },
	{ "PREPARE TRANSACTION", "PREPARE TRANSACTION 'sluice_2'", 0, 0, 0, NULL },
	{ "PREPARE without AS", "PREPARE sluice_2", 0, P, 0, NULL },
	{ "\"PREPARE\" quoted is no keyword", "\"PREPARE\" sluice_2 AS SELECT 1", 0, 0, 0, NULL },
	{ "PREPARE glued to name", "PREPAREsluice_2 AS SELECT 1", 0, 0, 0, NULL },

	/* EXECUTE */
	{ "EXECUTE own", "EXECUTE sluice_2", 0, E, 0, NULL },
	{ "execute own with args", "execute sluice_2(1, 'a', $$b$$)", 0, E, 0, NULL },
	{ "EXECUTE quoted own", "EXECUTE \"sluice_7\"", 0, E, 0, NULL },
	{ "EXPLAIN EXECUTE", "EXPLAIN EXECUTE sluice_2", 0, E, 0, NULL },
	{ "EXPLAIN ANALYZE VERBOSE EXECUTE", "explain analyze verbose execute sluice_2(1)", 0, E, 0, NULL },
	{ "EXPLAIN (options) EXECUTE", "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE sluice_2", 0, E, 0, NULL },
	{ "CREATE TEMP TABLE AS EXECUTE", "CREATE TEMP TABLE t AS EXECUTE sluice_2", 0, E, 0, NULL },
	{ "CREATE TABLE AS EXECUTE WITH NO DATA", "create table t as execute sluice_2 with no data", 0, E, 0, NULL },
	{ "EXECUTE comment name", "EXECUTE/**/sluice_2", 0, E, 0, NULL },
	{ "EXECUTE not own", "EXECUTE mystmt", 0, 0, 0, NULL },
	{ "EXECUTE in a string", "SELECT 'EXECUTE sluice_2'", 0, 0, 0, NULL },
	{ "EXECUTE in a line comment", "SELECT 1 -- EXECUTE sluice_2", 0, 0, 0, NULL },
	{ "EXECUTE in a block comment", "/* EXECUTE sluice_2 */ SELECT 1", 0, 0, 0, NULL },
	{ "EXECUTE in a DO body (documented limit)", "DO $$BEGIN EXECUTE 'EXECUTE sluice_2'; END$$", 0, 0, 0, NULL },
	{ "EXECUTE in a tagged DO body", "DO $body$ BEGIN EXECUTE sluice_2; END $body$", 0, 0, 0, NULL },
	{ "GRANT EXECUTE", "GRANT EXECUTE ON FUNCTION sluice_2() TO x", 0, 0, 0, NULL },
	{ "EXECUTE FUNCTION", "CREATE TRIGGER t AFTER INSERT ON x EXECUTE FUNCTION sluice_2()", 0, 0, 0, NULL },
	{ "quoted \"EXECUTE\" is no keyword", "SELECT \"EXECUTE\" sluice_2", 0, 0, 0, NULL },
	{ "EXECUTE as a column, odd alias (false positive)", "SELECT execute sluice_2 FROM t", 0, E, 0, NULL },
	{ "EXECUTE execute", "EXECUTE execute", 0, 0, 0, NULL },
	{ "xexecute is no keyword", "SELECT xexecute sluice_2", 0, 0, 0, NULL },
	{ "execute$ is no keyword", "SELECT execute$ sluice_2", 0, 0, 0, NULL },

	/* DEALLOCATE */
	{ "DEALLOCATE own", "DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "DEALLOCATE PREPARE own", "DEALLOCATE PREPARE sluice_3", 0, D, 0, NULL },
	{ "deallocate prepare folded", "deallocate prepare SLUICE_3;", 0, D, 0, NULL },
	{ "DEALLOCATE quoted own", "DEALLOCATE \"sluice_3\"", 0, D, 0, NULL },
	{ "DEALLOCATE U& own", "DEALLOCATE PREPARE U&\"\\0073luice_3\"", 0, D, 0, NULL },
	{ "DEALLOCATE not own", "DEALLOCATE mystmt", 0, 0, 0, NULL },
	{ "DEALLOCATE ALL", "DEALLOCATE ALL", 0, A, 0, NULL },
	{ "deallocate all;", "deallocate all;", 0, A, 0, NULL },
	{ "DEALLOCATE PREPARE ALL", "DEALLOCATE PREPARE ALL", 0, A, 0, NULL },
	{ "DEALLOCATE comments ALL", "DEALLOCATE/**/PREPARE--x\nAll", 0, A, 0, NULL },
	{ "DEALLOCATE \"all\" is a name", "DEALLOCATE \"all\"", 0, 0, 0, NULL },
	{ "DEALLOCATE \"ALL\" is a name", "DEALLOCATE PREPARE \"ALL\"", 0, 0, 0, NULL },
	{ "DEALLOCATE prepare (a name)", "DEALLOCATE prepare", 0, 0, 0, NULL },
	{ "DEALLOCATE prepare, prefix prep", "DEALLOCATE prepare", 0, D, 0, "prep" },
	{ "DEALLOCATE nothing", "DEALLOCATE", 0, 0, 0, NULL },

	/* DISCARD */
	{ "DISCARD ALL", "DISCARD ALL", 0, A, 0, NULL },
	{ "discard all", "discard /* x */ all", 0, A, 0, NULL },
	{ "DISCARD PLANS keeps statements", "DISCARD PLANS", 0, 0, 0, NULL },
	{ "DISCARD TEMP", "DISCARD TEMP", 0, 0, 0, NULL },
	{ "DISCARD TEMPORARY", "DISCARD TEMPORARY", 0, 0, 0, NULL },
	{ "DISCARD SEQUENCES", "DISCARD SEQUENCES", 0, 0, 0, NULL },
	{ "DISCARD \"all\"", "DISCARD \"all\"", 0, 0, 0, NULL },
	{ "SELECT discard all", "SELECT discard all", 0, 0, 0, NULL },

	/* statements */
	{ "the attack", "DEALLOCATE sluice_2; PREPARE sluice_2 AS SELECT 'PWNED'", 0, D | P, 0, NULL },
	{ "hit in the 2nd statement", "SELECT 1; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "hit in the 3rd statement", "BEGIN; SELECT 1; EXECUTE sluice_4; COMMIT", 0, E, 0, NULL },
	{ "after a ';' string", "SELECT ';'; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "empty statements", ";;;DISCARD ALL;;", 0, A, 0, NULL },
	{ "everything", "DISCARD ALL; PREPARE sluice_1 AS SELECT 1; EXECUTE sluice_1; DEALLOCATE sluice_1",
	  0, A | P | E | D, 0, NULL },
	{ "not at a statement start", "SELECT 1 DEALLOCATE sluice_2", 0, 0, 0, NULL },
	{ "keyword as column", "SELECT prepare, deallocate, discard FROM t; SELECT 1", 0, 0, 0, NULL },
	{ "ordinary text", "INSERT INTO t (a, b) VALUES (1, 'x'), ($1, $2) RETURNING *", 0, 0, 0, NULL },

	/* strings */
	{ "'' doubling", "SELECT 'x''; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "E'' backslash quote", "SELECT E'x\\'; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "e'' backslash backslash", "SELECT e'x\\\\'; DEALLOCATE sluice_2; --'", 0, D, 0, NULL },
	{ "'\\' read both ways (scs on)", "SELECT 'x\\'; DEALLOCATE sluice_2; --'", 0, D, 0, NULL },
	{ "'\\'' read both ways (scs off)", "SELECT 'a\\'' ; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "'\\' read both ways, hit only with scs off", "SELECT 'a\\' ; DEALLOCATE mystmt; SELECT '; EXECUTE sluice_2", 0, E, 0, NULL },
	{ "B'' never escapes", "SELECT B'\\'; DEALLOCATE sluice_2; --'", 0, D, 0, NULL },
	{ "X'' never escapes", "SELECT X'\\'; DEALLOCATE sluice_2; --'", 0, D, 0, NULL },
	{ "N'' is a plain string", "SELECT N'x''; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "U&'' never escapes a quote", "SELECT U&'\\\\'; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "E'' continued after a newline", "SELECT E'a'\n'\\'; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "E'' continued after a comment", "SELECT E'a' -- c\n  '\\'; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "E'' not continued on one line", "SELECT E'a' '\\'; DEALLOCATE sluice_2; --'", 0, D, 0, NULL },
	{ "E'' not continued past /* */", "SELECT E'a' /**/\n'\\'; DEALLOCATE sluice_2; --'", 0, D, 0, NULL },
	{ "string then dash operator", "SELECT 'a'-1; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "ae'' is identifier then string", "SELECT ae'\\'; DEALLOCATE sluice_2; --'", 0, D, 0, NULL },
	{ "string keywords", "SELECT 'PREPARE sluice_2', 'DEALLOCATE ALL', 'DISCARD ALL'", 0, 0, 0, NULL },
	{ "unterminated string", "SELECT 'abc; DEALLOCATE sluice_2", 0, 0, 0, NULL },

	/* dollar quotes */
	{ "$$ body", "SELECT $$; DEALLOCATE sluice_2; $$", 0, 0, 0, NULL },
	{ "$a$ with $$ inside", "SELECT $a$ $$ ; DEALLOCATE sluice_2; $a$", 0, 0, 0, NULL },
	{ "after $a$...$a$", "SELECT $a$ x $a$; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "$b$ inside $a$", "SELECT $a$ $b$ $a$; DEALLOCATE sluice_2; $b$", 0, D, 0, NULL },
	{ "$ab$ not closed by $a$", "SELECT $ab$ $a$ $abc$ $ab$; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "$ab$ unterminated", "SELECT $ab$ $abc$; DEALLOCATE sluice_2;", 0, 0, 0, NULL },
	{ "$a$ closed after $$a$", "SELECT $a$ $$a$; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "nested-looking tags", "DO $outer$ BEGIN EXECUTE $inner$ DEALLOCATE sluice_2 $inner$; END $outer$", 0, 0, 0, NULL },
	{ "$1 is a parameter", "SELECT $1; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "$1$ is no tag", "SELECT $1$; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "x$a$ is an identifier", "SELECT x$a$; DEALLOCATE sluice_2; $a$", 0, D, 0, NULL },
	{ "$abc without $", "SELECT $abc; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "$e'' is $ then E''", "SELECT $e'\\'; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "tag is case-sensitive", "SELECT $A$ $a$; DEALLOCATE sluice_2; $A$", 0, 0, 0, NULL },

	/* numbers and other tokens */
	{ "1e5execute (PostgreSQL 14 lexes EXECUTE)", "SELECT 1e5execute sluice_2", 0, E, 0, NULL },
	{ "1execute", "SELECT 1execute sluice_2", 0, E, 0, NULL },
	{ "1.e'' is a number then E''", "SELECT 1.e'\\'; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "1e-- is e then a comment", "SELECT 1e-- x\n; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "1e+ is e then +", "SELECT 1e+x; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "1.5e-3", "SELECT 1.5e-3; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "u& without quote", "SELECT u&1; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "u&-- comment", "SELECT u&-- x\n; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "operator then comment", "SELECT 1 +-- x\n; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "operator then block comment", "SELECT 1 */* ; */; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "nested comment end", "/* /* */ ; DEALLOCATE sluice_2 */ SELECT 1", 0, 0, 0, NULL },
	{ "comment **/", "/* **/ DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "comment /*/ opens", "/*/ DEALLOCATE sluice_2 */", 0, 0, 0, NULL },
	{ "line comment ends at CR", "SELECT 1 --x\r; DEALLOCATE sluice_2", 0, D, 0, NULL },

	/* names and their length */
	{ "100-byte own name", "EXECUTE sluice_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, E, 0, NULL },
	{ "100-byte quoted own name", "EXECUTE \"sluice_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", 0, E, 0, NULL },
	{ "100-byte other name", "EXECUTE xsluice_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, 0, 0, NULL },
	{ "short name", "EXECUTE sluic", 0, 0, 0, NULL },
	{ "31-byte prefix, 63-byte name", "EXECUTE abcdefghijklmnopqrstuvwxyz01234xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, E, 0,
	  "abcdefghijklmnopqrstuvwxyz01234" },
	{ "31-byte prefix, other name", "EXECUTE abcdefghijklmnopqrstuvwxyz0123yxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, 0, 0,
	  "abcdefghijklmnopqrstuvwxyz01234" },
	{ "empty prefix: every name", "EXECUTE x; DEALLOCATE y", 0, E | D, 0, "" },
	{ "name shorter than the prefix", "EXECUTE execut", 0, 0, 0, "execute" },
	{ "upper-case prefix never matches unquoted", "EXECUTE Sluice_1", 0, 0, 0, "Sluice_" },
	{ "upper-case prefix matches quoted", "EXECUTE \"Sluice_1\"", 0, E, 0, "Sluice_" },

	/* garbage and ends */
	{ "empty", "", 0, 0, 0, NULL },
	{ "semicolons", ";;;", 0, 0, 0, NULL },
	{ "quotes", "'''''", 0, 0, 0, NULL },
	{ "dquotes", "\"\"\"", 0, 0, 0, NULL },
	{ "comments", "/*/*/*", 0, 0, 0, NULL },
	{ "dollars", "$$$$$$$", 0, 0, 0, NULL },
	{ "lone U&", "U&", 0, 0, 0, NULL },
	{ "lone E", "E", 0, 0, 0, NULL },
	{ "high bytes", "\x80\xff\xfe DEALLOCATE sluice_2", 0, 0, 0, NULL },
	{ "high byte glued to keyword", "\x80" "DEALLOCATE sluice_2", 0, 0, 0, NULL },
	{ "high byte glued to name", "DEALLOCATE sluice_2\xe9", 0, D, 0, NULL },
	{ "keyword glued to high byte", "DEALLOCATE\xe9 sluice_2", 0, 0, 0, NULL },
	{ "control bytes", "\x01\x02\x1b DEALLOCATE sluice_2", 0, 0, 0, NULL },
	{ "control byte ends statement start", "\x01; DEALLOCATE sluice_2", 0, D, 0, NULL },
	{ "text after NUL is ignored", "SELECT 1\0; DEALLOCATE sluice_2", 30, 0, 0, NULL },
	{ "NUL ends the text", "DEALLOCATE sluice_2\0junk", 24, D, 0, NULL },
	{ "NUL in a string ends it all", "SELECT 'a\0'; DEALLOCATE sluice_2", 33, 0, 0, NULL },

	/* client-only encodings: later bytes of a character are no delimiters */
	{ "SJIS 0x95 0x5c is one character", "SELECT E'\x95\\'; DEALLOCATE sluice_2; --'", 0, D, SQLSCAN_ENC_SJIS, NULL },
	{ "the same bytes in UTF8", "SELECT E'\x95\\'; DEALLOCATE sluice_2; --'", 0, 0, 0, NULL },
	{ "SJIS one-byte kana before \\", "SELECT E'\xb1\\'; DEALLOCATE sluice_2; --'", 0, 0, SQLSCAN_ENC_SJIS, NULL },
	{ "SJIS character in a tag", "SELECT $\x95|$abc$ $\x95|$; DEALLOCATE sluice_2; --", 0, D, SQLSCAN_ENC_SJIS, NULL },
	{ "the same tag bytes in UTF8", "SELECT $\x95|$abc$ $\x95|$; DEALLOCATE sluice_2; --", 0, 0, 0, NULL },
	{ "SJIS tags differing in a later byte", "SELECT $\x95\\$ $\x95|$; DEALLOCATE sluice_2; $\x95\\$", 0, 0, SQLSCAN_ENC_SJIS, NULL },
	{ "SJIS keyword after a character", "SELECT '\x95\\'; DEALLOCATE sluice_2", 0, D, SQLSCAN_ENC_SJIS, NULL },
	{ "BIG5 0xa4 0x5c", "SELECT E'\xa4\\'; DEALLOCATE sluice_2; --'", 0, D, SQLSCAN_ENC_BIG5, NULL },
	{ "GB18030 4 then 2 bytes", "SELECT E'\x81\x30\x81\x30\x95\\'; DEALLOCATE sluice_2; --'", 0, D, SQLSCAN_ENC_GB18030, NULL },
	{ "GB18030 4 bytes then \\", "SELECT E'\x81\x30\x81\x30\\'; DEALLOCATE sluice_2; --'", 0, 0, SQLSCAN_ENC_GB18030, NULL },
	{ "JOHAB character then \\", "SELECT E'\x88\xa1\\'; DEALLOCATE sluice_2; --'", 0, 0, SQLSCAN_ENC_JOHAB, NULL },
	{ "SJIS U& escape after a character", "PREPARE U&\"\x95\\0073luice_2\" AS SELECT 1", 0, 0, SQLSCAN_ENC_SJIS, NULL },
	{ "SJIS plain text", "EXECUTE sluice_2; SELECT '\x95\x5c'", 0, E, SQLSCAN_ENC_SJIS, NULL },
	{ "SJIS scs-off reading", "SELECT 'a\\'' ; DEALLOCATE sluice_2", 0, D, SQLSCAN_ENC_SJIS, NULL },
};

static size_t case_len(const struct scase *c)
{
	return c->len ? c->len : strlen(c->sql);
}

static void start(struct sqlscan *s, const struct scase *c)
{
	sqlscan_init(s, c->prefix ? c->prefix : "sluice_");
	sqlscan_set_encoding(s, c->enc);
}

static unsigned whole(const struct scase *c)
{
	struct sqlscan s;
	start(&s, c);
	feed_exact(&s, c->sql, case_len(c));
	return OWN(sqlscan_finish(&s));
}

static void test_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct scase *c = &cases[i];
		unsigned got = whole(c);
		if (!ok(got == c->want, "%s", c->name))
			diag("got 0x%x, want 0x%x for: %s", got, c->want, c->sql);
	}
}

/* Every case, fed in two pieces split at each byte and byte by byte,
 * gives what it gives whole. */
static void test_splits(void)
{
	int bad = 0;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct scase *c = &cases[i];
		size_t n = case_len(c);
		unsigned want = whole(c);
		for (size_t k = 0; k <= n; k++) {
			struct sqlscan s;
			start(&s, c);
			feed_exact(&s, c->sql, k);
			feed_exact(&s, c->sql + k, n - k);
			unsigned got = OWN(sqlscan_finish(&s));
			if (got != want && bad++ < 5)
				diag("split at %zu: got 0x%x, want 0x%x: %s", k, got, want, c->name);
		}
		struct sqlscan s;
		start(&s, c);
		for (size_t k = 0; k < n; k++)
			feed_exact(&s, c->sql + k, 1);
		unsigned got = OWN(sqlscan_finish(&s));
		if (got != want && bad++ < 5)
			diag("byte by byte: got 0x%x, want 0x%x: %s", got, want, c->name);
	}
	is_int(bad, 0, "every case split at every byte, and byte by byte, gives the one-shot result");
}

/* Lengths that matter, built exactly. */
static void test_bounds(void)
{
	char sql[512], tag[128];
	memset(tag, 't', sizeof tag);

	snprintf(sql, sizeof sql, "SELECT $%.64s$ x $%.64s$; DEALLOCATE sluice_2", tag, tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), D, "64-byte tag is followed");
	snprintf(sql, sizeof sql, "SELECT $%.64s$ ; DEALLOCATE sluice_2; $%.64s$", tag, tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), 0, "64-byte tag hides what it quotes");
	snprintf(sql, sizeof sql, "SELECT $%.64s$ $%.63s$ ; DEALLOCATE sluice_2; $%.64s$", tag, tag, tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), 0, "64-byte tag not closed by a 63-byte one");
	snprintf(sql, sizeof sql, "SELECT $%.65s$ x $%.65s$", tag, tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), U, "65-byte tag is unsure");
	snprintf(sql, sizeof sql, "SELECT $%.65s$ ; DEALLOCATE sluice_2; $%.64s$", tag, tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), U, "unsure stops the scan");
	snprintf(sql, sizeof sql, "DEALLOCATE sluice_1; SELECT 'a\\'; DISCARD ALL; SELECT $%.65s$", tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), U, "unsure comes alone");
	snprintf(sql, sizeof sql, "SELECT $%.100s; DEALLOCATE sluice_2", tag);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), D, "100-byte $identifier is no tag");

	char name[128];
	memset(name, 'x', sizeof name);
	memcpy(name, "sluice_", 7);
	snprintf(sql, sizeof sql, "EXECUTE %.63s", name);
	is_int(strlen(sql), 8 + 63, "a 63-byte name");
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), E, "63-byte own name");
	snprintf(sql, sizeof sql, "EXECUTE %.64s", name);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), E, "64-byte own name (PostgreSQL cuts it to 63)");
	snprintf(sql, sizeof sql, "DEALLOCATE \"%.120s\"", name);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), D, "120-byte quoted own name");
	name[6] = 'x';
	snprintf(sql, sizeof sql, "EXECUTE %.63s", name);
	is_int(sqlscan_text("sluice_", sql, strlen(sql)), 0, "63-byte other name");

	/* a 31-byte prefix and a U& name made only of 8-byte escapes */
	const char *pfx = "abcdefghijklmnopqrstuvwxyz01234";
	char *o = sql + sprintf(sql, "EXECUTE U&\"");
	for (int k = 0; k < 40; k++)
		o += sprintf(o, "\\+%06x", (unsigned)(k < 31 ? pfx[k] : 'z'));
	strcpy(o, "\"");
	is_int(sqlscan_text(pfx, sql, strlen(sql)), E, "U& name of 40 8-byte escapes, 31-byte prefix");
	o[-1] = '0';   /* ...its last escape changed: still own */
	is_int(sqlscan_text(pfx, sql, strlen(sql)), E, "its tail does not matter");
	sql[strlen("EXECUTE U&\"\\+0000")] = '7';   /* 'a' becomes 'q' */
	is_int(sqlscan_text(pfx, sql, strlen(sql)), 0, "its head does");
}

static void test_api(void)
{
	const char *attack = "DEALLOCATE sluice_2; PREPARE sluice_2 AS SELECT 'PWNED'";
	is_int(OWN(sqlscan_text("sluice_", attack, strlen(attack))), D | P, "sqlscan_text one-shot");
	is_int(sqlscan_text("sluice_", "SELECT 1", 8), 0, "sqlscan_text on ordinary text");
	ok((sqlscan_text("sluice_", attack, strlen(attack)) & SQLSCAN_REFUSE) != 0, "the attack is refused");
	ok((sqlscan_text("sluice_", "DISCARD ALL", 11) & SQLSCAN_REFUSE) == 0, "DISCARD ALL is not refused");

	struct sqlscan s;
	memset(&s, 0, sizeof s);
	sqlscan_feed(&s, "EXECUTE anything", 16);
	is_int(sqlscan_finish(&s), E, "zeroed scanner: empty prefix, every name own");

	sqlscan_init(&s, "sluice_");
	sqlscan_feed(&s, "EXECUTE sluice_1", 16);
	is_int(sqlscan_finish(&s), E, "first text");
	is_int(sqlscan_finish(&s), E, "finish twice gives the same");
	sqlscan_feed(&s, "; DEALLOCATE sluice_1", 21);
	is_int(sqlscan_finish(&s), E, "feeding after finish is ignored");
	sqlscan_set_encoding(&s, SQLSCAN_ENC_SJIS);
	sqlscan_reset(&s);
	sqlscan_feed(&s, "SELECT E'\x95\\'; DEALLOCATE sluice_3; --'", 37);
	is_int(sqlscan_finish(&s), D, "reset keeps prefix and encoding");
	sqlscan_reset(&s);
	sqlscan_feed(&s, "SELECT 'sluice_1'", 17);
	is_int(sqlscan_finish(&s), 0, "reset clears the findings");

	sqlscan_init(&s, "sluice_this_prefix_is_longer_than_31_bytes");
	sqlscan_feed(&s, "EXECUTE sluice_this_prefix_is_longer_th", 39);
	is_int(sqlscan_finish(&s), E, "a prefix over 31 bytes is cut to 31");
	sqlscan_init(&s, NULL);
	sqlscan_feed(&s, "EXECUTE x", 9);
	is_int(sqlscan_finish(&s), E, "NULL prefix: every name own");

	/* the state is fixed-size whatever the input */
	sqlscan_init(&s, "sluice_");
	static char big[1 << 16];
	memset(big, 'x', sizeof big);
	memcpy(big, "SELECT ", 7);
	for (int r = 0; r < 64; r++)
		sqlscan_feed(&s, big, sizeof big);
	sqlscan_feed(&s, "; DEALLOCATE sluice_1", 21);
	is_int(sqlscan_finish(&s), D, "4 MiB identifier, then a hit");

	sqlscan_init(&s, "sluice_");
	memset(big, '/', sizeof big);
	for (size_t k = 1; k < sizeof big; k += 2)
		big[k] = '*';
	sqlscan_feed(&s, big, sizeof big);
	sqlscan_feed(&s, "DEALLOCATE sluice_1", 19);
	is_int(sqlscan_finish(&s), 0, "32768 nested comments, still open");
	sqlscan_init(&s, "sluice_");
	sqlscan_feed(&s, big, sizeof big);
	for (size_t k = 0; k < sizeof big; k += 2) {
		big[k] = '*';
		big[k + 1] = '/';
	}
	sqlscan_feed(&s, big, sizeof big);
	sqlscan_feed(&s, "; DEALLOCATE sluice_1", 21);
	is_int(sqlscan_finish(&s), D, "32768 nested comments, closed");
}

static void test_encoding_names(void)
{
	static const struct { const char *client, *server; enum sqlscan_enc want; } names[] = {
		{ "SJIS", "UTF8", SQLSCAN_ENC_SJIS },
		{ "Shift_JIS", "UTF8", SQLSCAN_ENC_SJIS },
		{ "win932", "EUC_JP", SQLSCAN_ENC_SJIS },
		{ "SHIFT_JIS_2004", "UTF8", SQLSCAN_ENC_SJIS },
		{ "BIG5", "UTF8", SQLSCAN_ENC_BIG5 },
		{ "gbk", "UTF8", SQLSCAN_ENC_BIG5 },
		{ "UHC", "UTF8", SQLSCAN_ENC_BIG5 },
		{ "GB18030", "UTF8", SQLSCAN_ENC_GB18030 },
		{ "JOHAB", "UTF8", SQLSCAN_ENC_JOHAB },
		{ "SJIS", "SQL_ASCII", SQLSCAN_ENC_ASCII_SAFE },
		{ "UTF8", "UTF8", SQLSCAN_ENC_ASCII_SAFE },
		{ "LATIN1", "UTF8", SQLSCAN_ENC_ASCII_SAFE },
		{ "EUC_JP", "UTF8", SQLSCAN_ENC_ASCII_SAFE },
		{ NULL, NULL, SQLSCAN_ENC_ASCII_SAFE },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		is_int(sqlscan_encoding(names[i].client, names[i].server), names[i].want,
		       names[i].client ? names[i].client : "(null)");
}

int main(void)
{
	test_cases();
	test_splits();
	test_bounds();
	test_api();
	test_encoding_names();
	return done_testing();
}
