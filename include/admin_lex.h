/*
 * admin_lex.h — the admin console's tokenizer: one command's text into
 * tokens, for every console command. Pure code (no libevent, no I/O), so
 * test/unit/admin_lex.c drives it directly.
 *
 *   word      a run of bytes other than blanks, quotes and = , ;
 *             (PAUSE, app, /tmp/x, 1e+06, -Infinity, 45s). Keywords are
 *             words, matched in any case; a word used as a name keeps its case.
 *   number    a word that is a plain decimal number: -?digits[.digits]
 *   "ident"   a quoted identifier, as in PostgreSQL: any bytes but NUL, ""
 *             inside is one "; never a keyword; may not be empty
 *   'string'  a string: any bytes but NUL, '' inside is one '; may be empty
 *   = ,       punctuation
 *   ;         ends the command: only blanks and further ; may follow
 *
 * A token may be as long as the command, and a command may hold any
 * number of them: the only bound is the console's (ADMIN_CMD_MAX).
 *
 * INTERFACE ROUTINES
 *   admin_lex(text, len, &toks, err, errlen)  split a command; false: err
 *                                  says what is wrong and at which byte
 *   admin_lex_free(&toks)          free them; a zeroed struct is empty
 *   admin_tok_is(t, keyword)       is t that keyword (a word, any case)?
 *   admin_tok_is_name(t)           may t stand for a name (a word, a
 *                                  number or a quoted identifier)?
 *   admin_tok_kind_name(kind)      "word", "quoted identifier", ...
 */
#ifndef SLUICE_ADMIN_LEX_H
#define SLUICE_ADMIN_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

enum admin_tok_kind {
	ADMIN_TOK_WORD,
	ADMIN_TOK_NUMBER,
	ADMIN_TOK_IDENT,     /* "..." */
	ADMIN_TOK_STRING,    /* '...' */
	ADMIN_TOK_EQUALS,
	ADMIN_TOK_COMMA,
};

struct admin_tok {
	enum admin_tok_kind kind;
	const char *text;    /* unquoted, NUL-terminated (into admin_toks.buf) */
	size_t len;
	size_t pos;          /* byte offset of its first character in the command */
};

struct admin_toks {
	struct admin_tok *v;
	size_t n, cap;
	char *buf;           /* every token's text, each ended by a NUL */
};

bool admin_lex(const char *text, size_t len, struct admin_toks *out,
	       char *err, size_t errlen) MUST_CHECK;
void admin_lex_free(struct admin_toks *t);
bool admin_tok_is(const struct admin_tok *t, const char *keyword);
bool admin_tok_is_name(const struct admin_tok *t);
const char *admin_tok_kind_name(enum admin_tok_kind kind);

#endif
