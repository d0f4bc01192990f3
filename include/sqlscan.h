/*
 * sqlscan.h — finds, in SQL text a client sends, the statements that act on
 * sluice's own server-side prepared statements or drop all of them. Pure:
 * no I/O, no libevent, no globals, no malloc; the state is fixed-size.
 *
 * It lexes as PostgreSQL's scan.l does (strings '' E'' U&'' B'' X'' N'' and
 * $tag$...$tag$, "" and U&"" identifiers with UESCAPE, -- and nested block
 * comments, numbers, $1 parameters, ; between statements) and recognises:
 *
 *   PREPARE name ...                      SQLSCAN_PREPARE_OWN
 *   EXECUTE name, wherever the keyword    SQLSCAN_EXECUTE_OWN
 *     stands (EXPLAIN ... EXECUTE, CREATE TABLE ... AS EXECUTE ...)
 *   DEALLOCATE [PREPARE] name             SQLSCAN_DEALLOCATE_OWN
 *   DEALLOCATE [PREPARE] ALL, DISCARD ALL SQLSCAN_DROPS_ALL
 *
 * where "own" means the name (folded or decoded as PostgreSQL does) starts
 * with the prefix given to sqlscan_init. DISCARD PLANS is not DROPS_ALL:
 * PostgreSQL keeps prepared statements through it. SQL run by functions
 * and DO blocks (PL/pgSQL EXECUTE '...') is inside a string: no text
 * scanner can see it.
 *
 * It also finds the statements that leave state in the server SESSION
 * (not only in the transaction), which in transaction pooling would leak
 * to the next client of that server: the SQLSCAN_ST_* bits ("kinds") and
 * the statements that drop such state, SQLSCAN_CL_* ("clears"). At the
 * first token of a statement (at the start or after ';'; not after a
 * leading '(' or WITH, nor after EXPLAIN):
 *
 *   SET [SESSION] name|"name"|a.b ...     ST_SET, unless the parameter is
 *     tracked (below); SET TIME ZONE is timezone, SET NAMES
 *     client_encoding, SET SCHEMA search_path, SET XML OPTION xmloption;
 *     a U&"..." name is never tracked
 *   SET [SESSION] ROLE, SET [SESSION] SESSION AUTHORIZATION,
 *     SET SESSION CHARACTERISTICS AS TRANSACTION ...   ST_SET
 *     (SET LOCAL ..., SET [SESSION] TRANSACTION ..., SET CONSTRAINTS: none)
 *   LISTEN                                ST_LISTEN
 *   CREATE [OR REPLACE] [GLOBAL|LOCAL] TEMP|TEMPORARY [UNLOGGED]
 *     TABLE|SEQUENCE|VIEW ... without ON COMMIT DROP       ST_TEMP
 *   SELECT ... INTO [GLOBAL|LOCAL] TEMP|TEMPORARY ...      ST_TEMP
 *   DECLARE name ... WITH HOLD ... FOR    ST_HOLD_CURSOR
 *   PREPARE name (any name; not PREPARE TRANSACTION '...') ST_PREPARE
 *   LOAD                                  ST_LOAD
 *   DISCARD ALL                           CL_ALL (every kind but LOAD)
 *   RESET ALL                             CL_SET (RESET name is neither:
 *                                         it sets the server's default)
 *   UNLISTEN *                            CL_LISTEN
 *   DISCARD TEMP|TEMPORARY                CL_TEMP
 *   CLOSE ALL                             CL_HOLD_CURSOR
 *   DEALLOCATE [PREPARE] ALL              CL_PREPARE
 *
 * and anywhere in a statement, a function name followed by '(' (also
 * schema-qualified, quoted, or a U&"..." name; with UESCAPE it counts as
 * both kinds of call):
 *
 *   set_config(name, value, is_local)     ST_SET_CONFIG, unless is_local is
 *     exactly true, 't', 'true', 'on', '1' or 'yes' (any case), or name is
 *     a plain string literal naming a tracked parameter; a set_config call
 *     inside the arguments of one not yet judged counts whatever its own
 *     are (not followed)
 *   pg_[try_]advisory_lock[_shared](      ST_ADVISORY (not the _xact_ forms)
 *   pg_advisory_unlock_all(               CL_ADVISORY
 *
 * The bits say what the text contains, not in which order: "SET a = 1;
 * RESET ALL" gives ST_SET | CL_SET. What a function, a procedure, a DO
 * block or a trigger does when it runs cannot be seen (its body is a
 * string), nor SQL built at run time. Where unsure the scanner sets a
 * kind rather than miss one, and never sets a clear.
 *
 * Tracked parameters: the pooler restores some parameters itself (it
 * replays them per client), so a SET of those leaks nothing. It tells
 * which with sqlscan_set_tracked; the predicate gets the name as
 * PostgreSQL reads it (unquoted identifiers folded to lower case, quoted
 * ones and set_config's string literal as written, dotted parts joined
 * with '.') and should compare case-blind, as PostgreSQL finds
 * parameters. Without a predicate no parameter is tracked; a name longer
 * than SQLSCAN_NAME_MAX bytes, or one with a part over 63 bytes, is never.
 *
 * INTERFACE ROUTINES
 *   sqlscan_init(s, prefix)          start state, names starting with prefix
 *                                    are own (a zeroed struct: prefix "",
 *                                    every name is own)
 *   sqlscan_set_encoding(s, enc)     the client_encoding the text is in
 *   sqlscan_encoding(client, server) which enc to use for two encoding names
 *   sqlscan_reset(s)                 start a new text, same prefix/encoding
 *   sqlscan_feed(s, p, n)            the next piece of one SQL text
 *   sqlscan_finish(s)                end of text: returns the SQLSCAN_* bits
 *   sqlscan_text(prefix, p, n)       one-shot over a whole text
 *   sqlscan_set_tracked(s, fn, arg)  which parameters the pooler tracks
 *                                    (sqlscan_init clears it, reset keeps it)
 *   sqlscan_may_hold_state(p, n)     a quick filter: false only when the
 *                                    scan would find no ST_* nor CL_* bit
 *   sqlscan_may_match(p, n, state)   one pass for both filters: false only
 *                                    when the scan would find none of the
 *                                    own-name bits (PREPARE, EXECUTE,
 *                                    DEALLOCATE must stand in the text) nor,
 *                                    with state, an ST_* or CL_* bit
 *
 * A piece may end anywhere, even inside a token: feeding a text in pieces
 * gives the same bits as feeding it whole. Text after a NUL byte is ignored
 * (PostgreSQL reads the query string up to its NUL).
 */
#ifndef SLUICE_SQLSCAN_H
#define SLUICE_SQLSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Result bits. */
#define SQLSCAN_PREPARE_OWN     0x01u  /* PREPARE of an own name */
#define SQLSCAN_EXECUTE_OWN     0x02u  /* EXECUTE of an own name */
#define SQLSCAN_DEALLOCATE_OWN  0x04u  /* DEALLOCATE [PREPARE] of an own name */
#define SQLSCAN_DROPS_ALL       0x08u  /* DEALLOCATE [PREPARE] ALL, DISCARD ALL */
#define SQLSCAN_UNSURE          0x10u  /* text that cannot be scanned within the
					  fixed state (a $tag$ over
					  SQLSCAN_TAG_MAX bytes): refuse it;
					  comes alone, no other bit is set */
/* What a pooler must refuse. */
#define SQLSCAN_REFUSE (SQLSCAN_PREPARE_OWN | SQLSCAN_EXECUTE_OWN | \
			SQLSCAN_DEALLOCATE_OWN | SQLSCAN_UNSURE)

/* Session state a statement leaves on the server (kinds)... */
#define SQLSCAN_ST_SET          0x00020u  /* SET [SESSION] of an untracked parameter,
					     ROLE, SESSION AUTHORIZATION, ... */
#define SQLSCAN_ST_SET_CONFIG   0x00040u  /* set_config(..., not true) */
#define SQLSCAN_ST_ADVISORY     0x00080u  /* a session-level advisory lock */
#define SQLSCAN_ST_LISTEN       0x00100u  /* LISTEN */
#define SQLSCAN_ST_TEMP         0x00200u  /* a temporary table, sequence, view */
#define SQLSCAN_ST_HOLD_CURSOR  0x00400u  /* DECLARE ... WITH HOLD */
#define SQLSCAN_ST_PREPARE      0x00800u  /* PREPARE of any name */
#define SQLSCAN_ST_LOAD         0x01000u  /* LOAD: a library stays loaded */
#define SQLSCAN_ST_ANY          0x01fe0u
/* ...and the statements that drop it (clears). */
#define SQLSCAN_CL_ALL          0x02000u  /* DISCARD ALL: every kind but LOAD */
#define SQLSCAN_CL_SET          0x04000u  /* RESET ALL */
#define SQLSCAN_CL_ADVISORY     0x08000u  /* pg_advisory_unlock_all() */
#define SQLSCAN_CL_LISTEN       0x10000u  /* UNLISTEN * */
#define SQLSCAN_CL_TEMP         0x20000u  /* DISCARD TEMP */
#define SQLSCAN_CL_HOLD_CURSOR  0x40000u  /* CLOSE ALL */
#define SQLSCAN_CL_PREPARE      0x80000u  /* DEALLOCATE [PREPARE] ALL */
#define SQLSCAN_CL_ANY          0xfe000u

#define SQLSCAN_PREFIX_MAX  31   /* a longer prefix is cut (matches more) */
#define SQLSCAN_NAME_MAX    255  /* longest parameter name given to the predicate */
#define SQLSCAN_TAG_MAX     64   /* longest $tag$ followed exactly */

/*
 * How bytes group into characters before PostgreSQL lexes them. The
 * client-only encodings have multibyte characters whose later bytes can be
 * ASCII ('\\', '|', letters); PostgreSQL converts them to the server
 * encoding first, so those bytes are no delimiters. Every other encoding
 * (UTF8, LATIN*, EUC_*, ...) is SQLSCAN_ENC_ASCII_SAFE.
 */
enum sqlscan_enc {
	SQLSCAN_ENC_ASCII_SAFE = 0,
	SQLSCAN_ENC_SJIS,        /* SJIS, SHIFT_JIS_2004 */
	SQLSCAN_ENC_BIG5,        /* BIG5, GBK, UHC: any high byte leads 2 */
	SQLSCAN_ENC_GB18030,
	SQLSCAN_ENC_JOHAB,
};

/* One reading of the text: lexer state, grammar state, bounded buffers. */
struct sqlscan_lane {
	uint8_t lex, gram, pend, sq_kind;  /* states; pend: bit a pending U& name gets */
	uint8_t scs_off;         /* reads '...' as E'...' (standard_conforming_strings off) */
	uint8_t seen_nl;         /* a newline since the last string closed */
	uint8_t str_simple, str_char; /* last string: plain, one byte, no escapes */
	uint8_t mb_left, mb_gb;  /* trail bytes still due in a multibyte char */
	/* the session-state grammar (sqlscan_state.c) */
	uint8_t st, fn, sc, sc_depth; /* statement, call, set_config argument states */
	uint8_t nm_bad;          /* the parameter name in uraw cannot be tracked */
	uint8_t collect;         /* keep the next string's bytes in uraw */
	uint16_t tok_len, uraw_len, tag_len, tag_pos, str_len; /* saturate */
	uint32_t st_want;        /* identifier lengths the state grammar needs;
				    bit 31: every token */
	uint32_t depth;          /* block comment nesting */
	char tok[64];            /* identifier, folded, first bytes (63: PostgreSQL's cut) */
	char tag[SQLSCAN_TAG_MAX];               /* $tag$ */
	char uraw[8 * (SQLSCAN_PREFIX_MAX + 1)]; /* U&"..." body, escapes undecoded;
						    or a parameter name, a string */
};

struct sqlscan {
	char prefix[SQLSCAN_PREFIX_MAX + 1];
	uint8_t prefix_len, enc;
	uint8_t forked;          /* lane[1] runs: a backslash met a '...' string */
	uint8_t ended;           /* 1: a NUL ended the text; 2: finished */
	unsigned found;          /* SQLSCAN_* bits */
	bool (*tracked)(const char *name, void *arg);   /* NULL: none */
	void *tracked_arg;
	struct sqlscan_lane lane[2];
};

void sqlscan_init(struct sqlscan *s, const char *prefix);
void sqlscan_set_encoding(struct sqlscan *s, enum sqlscan_enc enc);
enum sqlscan_enc sqlscan_encoding(const char *client_encoding, const char *server_encoding);
void sqlscan_reset(struct sqlscan *s);
void sqlscan_feed(struct sqlscan *s, const char *p, size_t n);
unsigned sqlscan_finish(struct sqlscan *s);
unsigned sqlscan_text(const char *prefix, const char *p, size_t n);
void sqlscan_set_tracked(struct sqlscan *s, bool (*tracked)(const char *name, void *arg), void *arg);
bool sqlscan_may_hold_state(const char *p, size_t n);
bool sqlscan_may_match(const char *p, size_t n, bool state);

#endif
