/*
 * fuzz_admin_lex.c — libFuzzer target for the console's tokenizer
 * (admin_lex). A command that lexes gives tokens that keep their promises
 * (text of the stated length without NUL, positions rising inside the
 * input, words free of what ends a word) and that, quoted again and lexed
 * again, come back the same; one that does not lex says why and leaves
 * nothing behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin_lex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool word_char(char c)
{
	return !strchr(" \t\r\n\f\v\"'=,;", c) && c;
}

/* The tokens written back as a command: quoted ones quoted, with their
 * quotes doubled, the rest as they are, one blank between. */
static char *requote(const struct admin_toks *t, size_t *len)
{
	size_t cap = 1;
	for (size_t i = 0; i < t->n; i++)
		cap += 2 * t->v[i].len + 3;
	char *out = malloc(cap), *w = out;
	if (!out)
		abort();
	for (size_t i = 0; i < t->n; i++) {
		const struct admin_tok *k = &t->v[i];
		char q = k->kind == ADMIN_TOK_IDENT ? '"' : k->kind == ADMIN_TOK_STRING ? '\'' : 0;
		if (q)
			*w++ = q;
		for (size_t j = 0; j < k->len; j++) {
			if (q && k->text[j] == q)
				*w++ = q;
			*w++ = k->text[j];
		}
		if (q)
			*w++ = q;
		*w++ = ' ';
	}
	*len = (size_t)(w - out);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_toks t, again;
	char err[256] = "";

	if (!admin_lex((const char *)data, size, &t, err, sizeof err)) {
		if (!err[0] || t.n || t.v || t.buf)
			abort();
		return 0;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct admin_tok *k = &t.v[i];
		if (strlen(k->text) != k->len || k->pos >= size || (i && k->pos <= t.v[i - 1].pos))
			abort();
		if (k->kind == ADMIN_TOK_WORD || k->kind == ADMIN_TOK_NUMBER) {
			if (!k->len || memcmp(k->text, data + k->pos, k->len) != 0)
				abort();
			for (size_t j = 0; j < k->len; j++)
				if (!word_char(k->text[j]))
					abort();
		}
		if (k->kind == ADMIN_TOK_IDENT && !k->len)
			abort();
	}
	size_t len;
	char *text = requote(&t, &len);
	if (!admin_lex(text, len, &again, err, sizeof err) || again.n != t.n)
		abort();
	for (size_t i = 0; i < t.n; i++)
		if (again.v[i].kind != t.v[i].kind || again.v[i].len != t.v[i].len ||
		    memcmp(again.v[i].text, t.v[i].text, t.v[i].len) != 0)
			abort();
	free(text);
	admin_lex_free(&again);
	admin_lex_free(&t);
	return 0;
}
