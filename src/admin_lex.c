/*
 * admin_lex.c — the admin console's tokenizer (admin_lex.h has the rules).
 *
 * One pass over the command; every token's text goes into one buffer
 * sized for the worst case up front (an unquoted text is never longer
 * than its source; a one-byte punctuation token takes two bytes with its
 * NUL), so nothing is cut and nothing is reallocated under a token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_lex.h"

struct lexer {
	const char *s;
	size_t len, i;
	struct admin_toks *out;
	char *w;             /* where the next token's text goes */
	char *err;
	size_t errlen;
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* What ends a word. */
static bool special(char c)
{
	return blank(c) || c == '"' || c == '\'' || c == '=' || c == ',' || c == ';' || c == 0;
}

static bool fail(struct lexer *lx, const char *what, size_t at)
{
	snprintf(lx->err, lx->errlen, "%s at byte %zu", what, at);
	return false;
}

static bool push(struct lexer *lx, enum admin_tok_kind kind, const char *text, size_t len, size_t pos)
{
	struct admin_toks *t = lx->out;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct admin_tok *v = realloc(t->v, cap * sizeof *v);
		if (!v) {
			snprintf(lx->err, lx->errlen, "out of memory");
			return false;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct admin_tok){ kind, text, len, pos };
	return true;
}

/* -?digits[.digits], the whole word */
static bool is_number(const char *s, size_t n)
{
	size_t i = s[0] == '-';
	size_t d = i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == d)
		return false;
	if (i < n && s[i] == '.') {
		size_t f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return false;
	}
	return i == n;
}

static bool lex_word(struct lexer *lx)
{
	size_t start = lx->i;
	while (lx->i < lx->len && !special(lx->s[lx->i]))
		lx->i++;
	size_t n = lx->i - start;
	char *text = lx->w;
	memcpy(text, lx->s + start, n);
	text[n] = 0;
	lx->w += n + 1;
	return push(lx, is_number(text, n) ? ADMIN_TOK_NUMBER : ADMIN_TOK_WORD, text, n, start);
}

/* "..." or '...': a doubled quote inside stands for one. */
static bool lex_quoted(struct lexer *lx)
{
	size_t start = lx->i;
	char q = lx->s[lx->i++];
	bool ident = q == '"';
	char *text = lx->w;
	size_t n = 0;
	for (;;) {
		if (lx->i >= lx->len) {
			snprintf(lx->err, lx->errlen, "unterminated %s starting at byte %zu",
				 ident ? "quoted identifier" : "string", start);
			return false;
		}
		char c = lx->s[lx->i];
		if (c == 0)
			return fail(lx, "NUL byte", lx->i);
		lx->i++;
		if (c == q) {
			if (lx->i < lx->len && lx->s[lx->i] == q)
				lx->i++;
			else
				break;
		}
		text[n++] = c;
	}
	if (ident && n == 0)
		return fail(lx, "zero-length quoted identifier", start);
	text[n] = 0;
	lx->w += n + 1;
	return push(lx, ident ? ADMIN_TOK_IDENT : ADMIN_TOK_STRING, text, n, start);
}

static bool lex_punct(struct lexer *lx, enum admin_tok_kind kind)
{
	char *text = lx->w;
	text[0] = lx->s[lx->i];
	text[1] = 0;
	lx->w += 2;
	return push(lx, kind, text, 1, lx->i++);
}

/* After ';': blanks and more ';' only. */
static bool lex_end(struct lexer *lx)
{
	for (; lx->i < lx->len; lx->i++) {
		char c = lx->s[lx->i];
		if (c == 0)
			return fail(lx, "NUL byte", lx->i);
		if (!blank(c) && c != ';')
			return fail(lx, "one command at a time: text after ';'", lx->i);
	}
	return true;
}

static bool lex_all(struct lexer *lx)
{
	while (lx->i < lx->len) {
		char c = lx->s[lx->i];
		bool fine;
		if (blank(c)) {
			lx->i++;
			continue;
		}
		switch (c) {
		case 0: return fail(lx, "NUL byte", lx->i);
		case ';': return lex_end(lx);
		case '"': case '\'': fine = lex_quoted(lx); break;
		case '=': fine = lex_punct(lx, ADMIN_TOK_EQUALS); break;
		case ',': fine = lex_punct(lx, ADMIN_TOK_COMMA); break;
		default: fine = lex_word(lx); break;
		}
		if (!fine)
			return false;
	}
	return true;
}

bool admin_lex(const char *text, size_t len, struct admin_toks *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (len > (SIZE_MAX - 1) / 2) {
		snprintf(err, errlen, "command too long");
		return false;
	}
	struct lexer lx = { text, len, 0, out, NULL, err, errlen };
	if (!(out->buf = malloc(2 * len + 1))) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	lx.w = out->buf;
	if (!lex_all(&lx)) {
		admin_lex_free(out);
		return false;
	}
	return true;
}

void admin_lex_free(struct admin_toks *t)
{
	free(t->v);
	free(t->buf);
	memset(t, 0, sizeof *t);
}

bool admin_tok_is(const struct admin_tok *t, const char *keyword)
{
	return t->kind == ADMIN_TOK_WORD && !strcasecmp(t->text, keyword);
}

bool admin_tok_is_name(const struct admin_tok *t)
{
	return t->kind == ADMIN_TOK_WORD || t->kind == ADMIN_TOK_NUMBER || t->kind == ADMIN_TOK_IDENT;
}

const char *admin_tok_kind_name(enum admin_tok_kind kind)
{
	switch (kind) {
	case ADMIN_TOK_WORD: return "word";
	case ADMIN_TOK_NUMBER: return "number";
	case ADMIN_TOK_IDENT: return "quoted identifier";
	case ADMIN_TOK_STRING: return "string";
	case ADMIN_TOK_EQUALS: return "=";
	case ADMIN_TOK_COMMA: return ",";
	}
	return "token";
}
