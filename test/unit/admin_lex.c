/*
 * admin_lex.c — the console's tokenizer: words and keywords in any case,
 * numbers, "quoted identifiers" and 'strings' with doubled quotes inside,
 * punctuation, the terminating ;, exact error messages, and no bound of
 * its own on a token's length or on the number of tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_lex.h"
#include "compiler.h"
#include "tap.h"

#define MAXTOK 10

/* A token written as kind letter, colon, text: W word, N number,
 * I quoted identifier, S string; "=" and "," stand for themselves. */
static const struct {
	const char *text;
	const char *want[MAXTOK];   /* ends at the first NULL */
} good[] = {
	{ "", { NULL } },
	{ "   \t\r\n ", { NULL } },
	{ ";", { NULL } },
	{ " ; ;; ", { NULL } },
	{ "SHOW POOLS", { "W:SHOW", "W:POOLS" } },
	{ "show pools;", { "W:show", "W:pools" } },
	{ "SHOW POOLS ;  ", { "W:SHOW", "W:POOLS" } },
	{ "ShOw\tDaTaBaSeS\n", { "W:ShOw", "W:DaTaBaSeS" } },
	{ "PAUSE mydb", { "W:PAUSE", "W:mydb" } },
	{ "PAUSE MyDb TIMEOUT 2.5", { "W:PAUSE", "W:MyDb", "W:TIMEOUT", "N:2.5" } },
	{ "PAUSE app TIMEOUT 1e+06", { "W:PAUSE", "W:app", "W:TIMEOUT", "W:1e+06" } },
	{ "PAUSE app TIMEOUT -Infinity", { "W:PAUSE", "W:app", "W:TIMEOUT", "W:-Infinity" } },
	{ "RESUME app WINDOW -1", { "W:RESUME", "W:app", "W:WINDOW", "N:-1" } },
	{ "x 0 10 007 1. .5 1x -", { "W:x", "N:0", "N:10", "N:007", "W:1.", "W:.5", "W:1x", "W:-" } },
	{ "KILL \"my db\"", { "W:KILL", "I:my db" } },
	{ "KILL \"a\"\"b\"", { "W:KILL", "I:a\"b" } },
	{ "KILL \"\"\"\"", { "W:KILL", "I:\"" } },
	{ "KILL \"it's; = ,\"", { "W:KILL", "I:it's; = ," } },
	{ "KILL \"PAUSE\"", { "W:KILL", "I:PAUSE" } },
	{ "SET default_pool_size = 20", { "W:SET", "W:default_pool_size", "=", "N:20" } },
	{ "SET default_pool_size=20;", { "W:SET", "W:default_pool_size", "=", "N:20" } },
	{ "set query_wait_timeout='45s';", { "W:set", "W:query_wait_timeout", "=", "S:45s" } },
	{ "SET k = 'it''s'", { "W:SET", "W:k", "=", "S:it's" } },
	{ "SET k = ''", { "W:SET", "W:k", "=", "S:" } },
	{ "SET k = ''''", { "W:SET", "W:k", "=", "S:'" } },
	{ "SET k = 'a \"b\" ; c'", { "W:SET", "W:k", "=", "S:a \"b\" ; c" } },
	{ "SET k TO v", { "W:SET", "W:k", "W:TO", "W:v" } },
	{ "SET admin_users = a,b , 'c d'", { "W:SET", "W:admin_users", "=", "W:a", ",", "W:b", ",", "S:c d" } },
	{ "SET auth_file = /tmp/x", { "W:SET", "W:auth_file", "=", "W:/tmp/x" } },
	{ "a\"b\"'c'd", { "W:a", "I:b", "S:c", "W:d" } },
	{ "==,,", { "=", "=", ",", "," } },
	{ "\xc3\xa9t\xc3\xa9 \"\xe2\x82\xac\"", { "W:\xc3\xa9t\xc3\xa9", "I:\xe2\x82\xac" } },
};

static const struct {
	const char *text;
	const char *err;
	size_t len;                 /* 0: strlen(text) */
} bad[] = {
	{ "KILL \"my db", "unterminated quoted identifier starting at byte 5", 0 },
	{ "KILL \"a\"\"", "unterminated quoted identifier starting at byte 5", 0 },
	{ "SET k = 'abc", "unterminated string starting at byte 8", 0 },
	{ "SET k = 'it''", "unterminated string starting at byte 8", 0 },
	{ "'", "unterminated string starting at byte 0", 0 },
	{ "\"", "unterminated quoted identifier starting at byte 0", 0 },
	{ "KILL \"\"", "zero-length quoted identifier at byte 5", 0 },
	{ "SHOW POOLS; SHOW CLIENTS", "one command at a time: text after ';' at byte 12", 0 },
	{ "SHOW POOLS;x", "one command at a time: text after ';' at byte 11", 0 },
	{ "PAUSE a\0b", "NUL byte at byte 7", 9 },
};

static void render(const struct admin_tok *t, char *out, size_t n)
{
	static const char letter[] = { 'W', 'N', 'I', 'S' };
	if (t->kind == ADMIN_TOK_EQUALS)
		snprintf(out, n, "=");
	else if (t->kind == ADMIN_TOK_COMMA)
		snprintf(out, n, ",");
	else
		snprintf(out, n, "%c:%s", letter[t->kind], t->text);
}

static void check_good(size_t i)
{
	struct admin_toks t = { 0 };
	char err[200], got[256];
	size_t nwant = 0;
	while (nwant < MAXTOK && good[i].want[nwant])
		nwant++;
	if (!ok(admin_lex(good[i].text, strlen(good[i].text), &t, err, sizeof err), "lexes: %s",
		good[i].text)) {
		diag("%s", err);
		return;
	}
	is_int(t.n, nwant, "  token count");
	for (size_t k = 0; k < t.n && k < nwant; k++) {
		render(&t.v[k], got, sizeof got);
		is_str(got, good[i].want[k], "  token");
		is_int(t.v[k].len, strlen(t.v[k].text), "  its length");
	}
	admin_lex_free(&t);
}

/* The source of "SHOW POOLS" with each of its letters in either case. */
static void check_keywords(void)
{
	struct admin_toks t = { 0 };
	char err[200];
	ok(admin_lex("sHoW \"show\" 'show'", 18, &t, err, sizeof err), "keywords: lexes");
	ok(admin_tok_is(&t.v[0], "SHOW"), "a word is a keyword in any case");
	ok(!admin_tok_is(&t.v[0], "SHO"), "... but only the whole word");
	ok(!admin_tok_is(&t.v[1], "SHOW"), "a quoted identifier is never a keyword");
	ok(!admin_tok_is(&t.v[2], "SHOW"), "nor is a string");
	ok(admin_tok_is_name(&t.v[0]) && admin_tok_is_name(&t.v[1]), "words and identifiers are names");
	ok(!admin_tok_is_name(&t.v[2]), "strings are not");
	is_int(t.v[0].pos, 0, "positions: the first token at 0");
	is_int(t.v[1].pos, 5, "... the identifier at its opening quote");
	is_int(t.v[2].pos, 12, "... the string at its opening quote");
	admin_lex_free(&t);
	admin_lex_free(&t);   /* freed twice, or never filled: a no-op */
}

/* A 10,000-byte word, identifier and string, doubled quotes included. */
static void check_long(void)
{
	const size_t L = 10000;
	char *text = malloc(2 * L + 16), *want = malloc(L + 1), err[200];
	struct admin_toks t = { 0 };

	memset(text, 'w', L);
	memcpy(text, "KILL ", 5);
	text[L] = 0;
	ok(admin_lex(text, L, &t, err, sizeof err) && t.n == 2 && t.v[1].len == L - 5,
	   "a word of 9,995 bytes is one token");
	admin_lex_free(&t);

	/* "x""x""..." : L/2 pairs of bytes in the source, L/2 characters out */
	size_t n = 0, w = 0;
	text[n++] = '"';
	for (size_t k = 0; k < L / 2; k++) {
		if (k % 2) {
			text[n++] = '"';
			text[n++] = '"';
			want[w++] = '"';
		} else {
			text[n++] = 'x';
			want[w++] = 'x';
		}
	}
	text[n++] = '"';
	want[w] = 0;
	ok(admin_lex(text, n, &t, err, sizeof err) && t.n == 1 && t.v[0].kind == ADMIN_TOK_IDENT,
	   "a quoted identifier of %zu bytes is one token", n);
	is_mem(t.v[0].text, t.v[0].len, want, w, "... every doubled quote is one quote");
	admin_lex_free(&t);

	memset(text, 'q', L);
	text[0] = '\'';
	text[L - 1] = '\'';
	ok(admin_lex(text, L, &t, err, sizeof err) && t.n == 1 && t.v[0].kind == ADMIN_TOK_STRING &&
	   t.v[0].len == L - 2, "a string of 10,000 bytes is one token");
	admin_lex_free(&t);

	text[L - 1] = 'q';
	ok(!admin_lex(text, L, &t, err, sizeof err), "unterminated at the end of 10,000 bytes: refused");
	is_str(err, "unterminated string starting at byte 0", "... saying where it started");
	ok(t.n == 0 && !t.v && !t.buf, "... and nothing is left to free");
	free(text);
	free(want);
}

/* 100 tokens of every kind, in turn. */
static void check_many(void)
{
	char text[2000], err[200];
	size_t n = 0;
	struct admin_toks t = { 0 };
	for (int k = 0; k < 100; k++) {
		switch (k % 5) {
		case 0: n += (size_t)sprintf(text + n, "w%d ", k); break;
		case 1: n += (size_t)sprintf(text + n, "%d ", k); break;
		case 2: n += (size_t)sprintf(text + n, "\"i %d\" ", k); break;
		case 3: n += (size_t)sprintf(text + n, "'s %d'", k); break;
		case 4: n += (size_t)sprintf(text + n, "="); break;
		}
	}
	bool lexed = admin_lex(text, n, &t, err, sizeof err);
	ok(lexed, "100 tokens: lexed");
	is_int(t.n, 100, "... all of them");
	bool right = lexed && t.n == 100;
	for (size_t k = 0; right && k < 100; k++) {
		char want[32];
		enum admin_tok_kind kind[] = { ADMIN_TOK_WORD, ADMIN_TOK_NUMBER, ADMIN_TOK_IDENT,
					       ADMIN_TOK_STRING, ADMIN_TOK_EQUALS };
		const char *fmt[] = { "w%zu", "%zu", "i %zu", "s %zu", "=" };
		snprintf(want, sizeof want, fmt[k % 5], k);
		right = t.v[k].kind == kind[k % 5] && !strcmp(t.v[k].text, want);
		if (!right)
			diag("token %zu: kind %d '%s'", k, t.v[k].kind, t.v[k].text);
	}
	ok(right, "... each with its kind and text");
	is_int(t.v[99].pos, n - 1, "... the last one at the end");
	admin_lex_free(&t);
}

int main(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		check_good(i);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct admin_toks t = { 0 };
		char err[200] = "";
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		ok(!admin_lex(bad[i].text, len, &t, err, sizeof err), "refused: %s", bad[i].text);
		is_str(err, bad[i].err, "  message");
		ok(t.n == 0 && !t.v && !t.buf, "  nothing is left to free");
		admin_lex_free(&t);
	}
	check_keywords();
	check_long();
	check_many();
	ok(!strcmp(admin_tok_kind_name(ADMIN_TOK_IDENT), "quoted identifier") &&
	   !strcmp(admin_tok_kind_name(ADMIN_TOK_STRING), "string"), "kinds have names for messages");
	return done_testing();
}
