/*
 * sqlscan.c — an incremental lexer for PostgreSQL SQL text and a small
 * grammar on its tokens that finds PREPARE / EXECUTE / DEALLOCATE of own
 * statement names and the statements that drop every prepared statement.
 * Pure; see sqlscan.h.
 *
 * Lexing follows PostgreSQL's scan.l. Where it is unsure it errs towards
 * finding something: a false positive costs a clear error for an odd
 * statement, a false negative is a hole. Three places need care:
 *
 * - standard_conforming_strings is the server's, and a client can turn it
 *   off. The only text the setting reads differently is a backslash in a
 *   '...' string, so the scanner starts with one reading (on) and, at the
 *   first such backslash, forks a second lane that reads '...' as E'...';
 *   from there both lanes run and their findings are joined.
 * - A U&"..." name's escape character is only known after the closing
 *   quote (UESCAPE 'c' may follow), so the name's body is kept undecoded,
 *   bounded, and decoded when the next token shows which character it is.
 * - In the client-only encodings (SJIS, BIG5, ...) a multibyte character's
 *   later bytes can look like '\\' or ';'; PostgreSQL lexes after
 *   converting, so with sqlscan_set_encoding those bytes are read as parts
 *   of their character (a generic high byte), as the server will see them.
 *
 * Cost: one table lookup and one switch per byte; runs of identifier
 * characters, whitespace, string, comment and dollar-quote bodies are
 * skipped by tight loops or memchr (in the ASCII-safe encodings), and the
 * grammar is called once per token, doing nothing but a length compare
 * for ordinary SELECT/INSERT text; so is the session-state grammar of
 * sqlscan_state.c, which most tokens reach only as a mask test. State is
 * fixed-size; no recursion.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "compiler.h"
#include "sqlscan.h"
#include "sqlscan_internal.h"

enum lex {
	L_NORMAL, L_IDENT, L_NUM, L_NUM_FRAC, L_NUM_E, L_NUM_EPLUS, L_NUM_EMINUS,
	L_NUM_EXP, L_DASH, L_SLASH, L_LINE_COMMENT, L_BLOCK, L_BLOCK_STAR,
	L_BLOCK_SLASH, L_U_AMP, L_SQ, L_SQ_QUOTE, L_SQ_BSL, L_SQ_AFTER,
	L_SQ_AFTER_DASH, L_SQ_AFTER_CMT, L_DQ, L_DQ_QUOTE, L_DOLLAR, L_PARAM,
	L_TAG, L_DOLQ, L_DOLQ_MATCH,
};

/* Kinds of '...' string: how backslashes and UESCAPE read them. */
enum sq_kind {
	SQ_PLAIN,    /* '...': backslash escapes only with scs off */
	SQ_PLAIN_N,  /* N'...': the same, but not a simple string constant */
	SQ_E,        /* E'...': backslash escapes */
	SQ_RAW,      /* B'...', X'...', U&'...': never backslash escapes */
};

enum gram {
	G_START,        /* first token of a statement */
	G_BODY,         /* nothing expected but EXECUTE and ';' */
	G_NAME,         /* the next token names a statement; pend is its bit */
	G_DEALLOC,      /* after DEALLOCATE: PREPARE, ALL or a name */
	G_DEALLOC_PREP, /* after DEALLOCATE PREPARE: ALL or a name */
	G_DISCARD,      /* after DISCARD: ALL */
	G_UESC_WAIT,    /* a U&"name" was read: UESCAPE may follow */
	G_UESC_STR,     /* after UESCAPE: the escape character's string */
};


enum cls {
	C_OTHER, C_SPACE, C_NL, C_ID, C_DIGIT, C_SQ, C_DQ, C_DOLLAR, C_DASH,
	C_SLASH, C_STAR, C_SEMI, C_BSL, C_AMP, C_PLUS, C_DOT,
};

/* scan.l's classes: ident_start is [A-Za-z\200-\377_], space is
 * [ \t\n\r\f\v] (\v since PostgreSQL 16; taking it as space reads more). */
static const uint8_t cls[256] = {
	[' '] = C_SPACE, ['\t'] = C_SPACE, ['\f'] = C_SPACE, ['\v'] = C_SPACE,
	['\n'] = C_NL, ['\r'] = C_NL,
	['A' ... 'Z'] = C_ID, ['a' ... 'z'] = C_ID, ['_'] = C_ID, [0x80 ... 0xff] = C_ID,
	['0' ... '9'] = C_DIGIT,
	['\''] = C_SQ, ['"'] = C_DQ, ['$'] = C_DOLLAR, ['-'] = C_DASH, ['/'] = C_SLASH,
	['*'] = C_STAR, [';'] = C_SEMI, ['\\'] = C_BSL, ['&'] = C_AMP, ['+'] = C_PLUS,
	['.'] = C_DOT,
};

#define SAT16(x) ((x) < UINT16_MAX ? (x) + 1 : (x))

static inline unsigned fold(unsigned c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static inline bool kw(const struct sqlscan_lane *L, const char *word, size_t len)
{
	return L->tok_len == len && memcmp(L->tok, word, len) == 0;
}

static inline bool own(const struct sqlscan *s, const char *name, size_t len)
{
	return len >= s->prefix_len && memcmp(name, s->prefix, s->prefix_len) == 0;
}

static inline void tok_add(struct sqlscan_lane *L, unsigned c)
{
	if (L->tok_len < sizeof L->tok)
		L->tok[L->tok_len] = (char)c;
	L->tok_len = SAT16(L->tok_len);
}

static inline void uraw_add(struct sqlscan_lane *L, unsigned c)
{
	if (L->uraw_len < sizeof L->uraw)
		L->uraw[L->uraw_len] = (char)c;
	L->uraw_len = SAT16(L->uraw_len);
}

#define IDCONT(k) ((1u << (k)) & ((1u << C_ID) | (1u << C_DIGIT) | (1u << C_DOLLAR)))

/* A run of identifier bytes: keep the first ones folded, count them all.
 * Local length: stores through char * would make the compiler reload. */
static inline void ident_run(struct sqlscan_lane *L, const unsigned char *src, size_t m)
{
	size_t len = L->tok_len;
	for (size_t k = 0; k < m && len + k < sizeof L->tok; k++)
		L->tok[len + k] = (char)fold(src[k]);
	len += m;
	L->tok_len = len < UINT16_MAX ? (uint16_t)len : UINT16_MAX;
}

/* Keep what fits of a run of m bytes; the length counts them all. */
static inline void run_add(char *buf, size_t cap, uint16_t *len, const unsigned char *src, size_t m)
{
	if (*len < cap)
		memcpy(buf + *len, src, m < cap - *len ? m : cap - *len);
	*len = m >= (size_t)(UINT16_MAX - *len) ? UINT16_MAX : (uint16_t)(*len + m);
}

static inline void str_add(struct sqlscan_lane *L, unsigned c, size_t n)
{
	if (L->str_len == 0)
		L->str_char = (uint8_t)c;
	L->str_len = n >= (size_t)(UINT16_MAX - L->str_len) ? UINT16_MAX : (uint16_t)(L->str_len + n);
}

/* A run of a string's bytes; kept in uraw when the state grammar asked
 * for this string (a set_config argument). */
static inline void str_run(struct sqlscan_lane *L, const unsigned char *src, size_t m)
{
	str_add(L, src[0], m);
	if (unlikely(L->collect))
		run_add(L->uraw, sizeof L->uraw, &L->uraw_len, src, m);
}

/* check_uescapechar() of PostgreSQL's parser. */
static bool uescape_ok(unsigned c)
{
	return sqlscan_hexval(c) < 0 && c != '+' && c != '\'' && c != '"' && cls[c] != C_SPACE &&
	       cls[c] != C_NL;
}

/* Decode the kept U&"..." body with escape character esc, as far as the
 * prefix reaches, and note the pending bit if the name is own. Anything
 * PostgreSQL would refuse (a bad escape) counts as own: it errors anyway. */
static void uident_resolve(struct sqlscan *s, struct sqlscan_lane *L, unsigned esc)
{
	char out[SQLSCAN_PREFIX_MAX + 1];
	size_t n = L->uraw_len < sizeof L->uraw ? L->uraw_len : sizeof L->uraw;
	bool bad = false;
	size_t o = sqlscan_udecode((const unsigned char *)L->uraw, n, esc, out, s->prefix_len, &bad);
	if (bad || (o >= s->prefix_len ? own(s, out, o) : L->uraw_len > sizeof L->uraw))
		s->found |= L->pend;
}

/* A token in a name position: note it, and say whether it was a name. */
static bool name_token(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t, unsigned bit)
{
	if (t == T_IDENT || t == T_QIDENT) {
		if (own(s, L->tok, L->tok_len))
			s->found |= bit;
		L->gram = G_BODY;
		return true;
	}
	if (t == T_UIDENT) {
		L->pend = (uint8_t)bit;
		L->gram = G_UESC_WAIT;
		return true;
	}
	return false;
}

/* The grammar: one call per token. Keywords are unquoted identifiers
 * (folded); quoted ones are always names. */
static void gram(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t)
{
	switch ((enum gram)L->gram) {
	case G_START:
		if (t == T_IDENT) {
			if (kw(L, "prepare", 7)) {
				L->gram = G_NAME;
				L->pend = SQLSCAN_PREPARE_OWN;
				return;
			}
			if (kw(L, "deallocate", 10)) {
				L->gram = G_DEALLOC;
				return;
			}
			if (kw(L, "discard", 7)) {
				L->gram = G_DISCARD;
				return;
			}
		}
		break;
	case G_NAME:
		if (name_token(s, L, t, L->pend))
			return;
		break;
	case G_DEALLOC:
		if (t == T_IDENT && kw(L, "prepare", 7)) {
			/* "DEALLOCATE prepare" names a statement "prepare" */
			if (own(s, L->tok, L->tok_len))
				s->found |= SQLSCAN_DEALLOCATE_OWN;
			L->gram = G_DEALLOC_PREP;
			return;
		}
		/* fall through */
	case G_DEALLOC_PREP:
		if (t == T_IDENT && kw(L, "all", 3)) {
			s->found |= SQLSCAN_DROPS_ALL;
			L->gram = G_BODY;
			return;
		}
		if (name_token(s, L, t, SQLSCAN_DEALLOCATE_OWN))
			return;
		break;
	case G_DISCARD:
		/* DISCARD PLANS keeps prepared statements; TEMP, SEQUENCES too */
		if (t == T_IDENT && kw(L, "all", 3)) {
			s->found |= SQLSCAN_DROPS_ALL;
			L->gram = G_BODY;
			return;
		}
		break;
	case G_UESC_WAIT:
		if (t == T_IDENT && kw(L, "uescape", 7)) {
			L->gram = G_UESC_STR;
			return;
		}
		uident_resolve(s, L, '\\');
		break;
	case G_UESC_STR:
		/* PostgreSQL takes any one-byte string constant; only a plain
		 * 'c' or E'c' without escapes is decoded here, the rest
		 * ($$c$$, E'\x21', '' continued by '!') counts as own */
		if (t == T_STRING && L->str_simple && L->str_len == 1 && uescape_ok(L->str_char))
			uident_resolve(s, L, L->str_char);
		else
			s->found |= L->pend;
		L->gram = G_BODY;
		if (t == T_STRING)
			return;
		break;
	case G_BODY:
		break;
	}
	L->gram = G_BODY;
	if (t == T_SEMI) {
		L->gram = G_START;
	} else if (t == T_IDENT && kw(L, "execute", 7)) {
		L->gram = G_NAME;
		L->pend = SQLSCAN_EXECUTE_OWN;
	}
}

/* A token to both grammars: this one, then the session-state one where it
 * wants it (sqlscan_state.c; c as there). */
static inline void emit(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t, unsigned c)
{
	gram(s, L, t);
	size_t len = t == T_IDENT || t == T_QIDENT ? L->tok_len : 31;
	if (t == T_SEMI || t == T_UIDENT || sqlscan_state_wants(L, len))
		sqlscan_state_token(s, L, t, c);
}

/* An identifier: in G_BODY only "execute" (7 bytes) matters here, and to
 * the state grammar only a few lengths (function names) in most states. */
static inline void ident_end(struct sqlscan *s, struct sqlscan_lane *L)
{
	if (L->gram != G_BODY || L->tok_len == 7)
		gram(s, L, T_IDENT);
	if (sqlscan_state_wants(L, L->tok_len))
		sqlscan_state_token(s, L, T_IDENT, 0);
}

/* A token that can be nothing this grammar looks for: punctuation c. */
static inline void other(struct sqlscan *s, struct sqlscan_lane *L, unsigned c)
{
	if (L->gram != G_BODY)
		gram(s, L, T_OTHER);
	if (sqlscan_state_wants(L, 31))
		sqlscan_state_token(s, L, T_OTHER, c);
}

static inline void open_sq(struct sqlscan_lane *L, enum sq_kind kind)
{
	if (unlikely(L->collect))
		L->uraw_len = 0;
	L->lex = L_SQ;
	L->sq_kind = (uint8_t)kind;
	L->str_len = 0;
	L->str_simple = kind == SQ_PLAIN || kind == SQ_E;
}

static inline void open_dq(struct sqlscan_lane *L, bool uni)
{
	L->lex = L_DQ;
	L->sq_kind = uni;
	if (uni)   /* a U& name may still wait for its UESCAPE: keep it */
		L->uraw_len = 0;
	else
		L->tok_len = 0;
}

/* Run lane li over n bytes. Returns where lane 0 forked lane 1, or n.
 * One long switch on the lexer state, on purpose: each state's bytes are
 * read in its own tight loop, and the whole machine is easier to check
 * against PostgreSQL's scan.l when it reads as one table of states. */
static size_t lane_feed(struct sqlscan *s, int li, const unsigned char *p, size_t n)
{
	struct sqlscan_lane *L = &s->lane[li];
	const bool fast = s->enc == SQLSCAN_ENC_ASCII_SAFE;
	size_t fork_at = n;
	for (size_t i = 0; i < n; i++) {
		unsigned raw = p[i];
		unsigned c = fast ? raw : sqlscan_mb_step(s, L, raw);
		unsigned k = cls[c];
again:
		switch ((enum lex)L->lex) {
		case L_NORMAL:
			switch ((enum cls)k) {
			case C_SPACE: case C_NL:
				if (fast)
					while (i + 1 < n && (p[i + 1] == ' ' || p[i + 1] == '\n'))
						i++;
				break;
			case C_ID:
				L->tok_len = 0;
				if (fast) {   /* the common case without leaving L_NORMAL */
					size_t j = i + 1;
					while (j < n && IDCONT(cls[p[j]]))
						j++;
					ident_run(L, p + i, j - i);
					i = j - 1;
					if (j < n && (L->tok_len != 1 || (cls[p[j]] != C_SQ && cls[p[j]] != C_AMP))) {
						ident_end(s, L);
						break;
					}
				}
				L->lex = L_IDENT;   /* may go on in the next piece */
				if (fast)
					break;
				goto again;
			case C_DIGIT:
				other(s, L, '0');
				L->lex = L_NUM;
				break;
			case C_SQ:   /* the grammar sees a string at its end */
				open_sq(L, SQ_PLAIN);
				break;
			case C_DQ:
				open_dq(L, false);
				break;
			case C_DOLLAR:
				other(s, L, '$');   /* $1, $$...$$ or a lone $: never a name */
				L->lex = L_DOLLAR;
				break;
			case C_DASH:
				L->lex = L_DASH;
				break;
			case C_SLASH:
				L->lex = L_SLASH;
				break;
			case C_SEMI:
				emit(s, L, T_SEMI, 0);
				break;
			default:
				other(s, L, c);
				break;
			}
			break;
		case L_IDENT:
			if (k == C_ID || k == C_DIGIT || k == C_DOLLAR) {
				if (fast) {   /* the whole run at once */
					size_t j = i + 1;
					while (j < n && IDCONT(cls[p[j]]))
						j++;
					ident_run(L, p + i, j - i);
					i = j - 1;
				} else {
					tok_add(L, fold(c));
				}
				break;
			}
			if (L->tok_len == 1) {   /* E'' B'' X'' N'' U&'' U&"" */
				unsigned t = (unsigned char)L->tok[0];
				if (k == C_SQ && (t == 'e' || t == 'b' || t == 'x' || t == 'n')) {
					open_sq(L, t == 'e' ? SQ_E : t == 'n' ? SQ_PLAIN_N : SQ_RAW);
					break;
				}
				if (k == C_AMP && t == 'u') {
					L->lex = L_U_AMP;
					break;
				}
			}
			ident_end(s, L);
			L->lex = L_NORMAL;
			goto again;
		case L_NUM:
		case L_NUM_FRAC:
			if (k == C_DIGIT)
				break;
			if (k == C_DOT && L->lex == L_NUM) {
				L->lex = L_NUM_FRAC;
				break;
			}
			if (k == C_ID && (c | 0x20) == 'e') {
				L->lex = L_NUM_E;
				break;
			}
			L->lex = L_NORMAL;
			goto again;
		case L_NUM_E:
			if (k == C_DIGIT) {
				L->lex = L_NUM_EXP;
				break;
			}
			if (k == C_PLUS || k == C_DASH) {
				L->lex = k == C_PLUS ? L_NUM_EPLUS : L_NUM_EMINUS;
				break;
			}
			/* "1e" not followed by digits: the e starts an identifier
			 * (PostgreSQL before 15; 15 and later refuse the text) */
			L->lex = L_IDENT;
			L->tok_len = 0;
			tok_add(L, 'e');
			goto again;
		case L_NUM_EPLUS:
		case L_NUM_EMINUS:
			if (k == C_DIGIT) {
				L->lex = L_NUM_EXP;
				break;
			}
			L->tok_len = 0;
			tok_add(L, 'e');
			emit(s, L, T_IDENT, 0);
			if (L->lex == L_NUM_EMINUS) {
				L->lex = L_DASH;
			} else {
				other(s, L, '+');
				L->lex = L_NORMAL;
			}
			goto again;
		case L_NUM_EXP:
			if (k == C_DIGIT)
				break;
			L->lex = L_NORMAL;
			goto again;
		case L_DASH:
			if (k == C_DASH) {
				L->lex = L_LINE_COMMENT;
				break;
			}
			other(s, L, '-');
			L->lex = L_NORMAL;
			goto again;
		case L_SLASH:
			if (k == C_STAR) {
				L->lex = L_BLOCK;
				L->depth = 1;
				break;
			}
			other(s, L, '/');
			L->lex = L_NORMAL;
			goto again;
		case L_LINE_COMMENT:
			if (fast) {
				while (i + 1 < n && cls[p[i]] != C_NL)
					i++;
				k = cls[p[i]];
			}
			if (k == C_NL)
				L->lex = L_NORMAL;
			break;
		case L_BLOCK:
			if (fast) {
				while (i + 1 < n && p[i] != '*' && p[i] != '/')
					i++;
				k = cls[p[i]];
			}
			if (k == C_STAR)
				L->lex = L_BLOCK_STAR;
			else if (k == C_SLASH)
				L->lex = L_BLOCK_SLASH;
			break;
		case L_BLOCK_STAR:
			if (k == C_SLASH)
				L->lex = --L->depth ? L_BLOCK : L_NORMAL;
			else if (k != C_STAR)
				L->lex = L_BLOCK;
			break;
		case L_BLOCK_SLASH:
			if (k == C_STAR) {
				if (L->depth == UINT32_MAX) {
					s->found |= SQLSCAN_UNSURE;
					return fork_at;
				}
				L->depth++;
				L->lex = L_BLOCK;
			} else if (k != C_SLASH) {
				L->lex = L_BLOCK;
			}
			break;
		case L_U_AMP:
			if (k == C_SQ) {
				open_sq(L, SQ_RAW);
				break;
			}
			if (k == C_DQ) {
				open_dq(L, true);
				break;
			}
			emit(s, L, T_IDENT, 0);   /* "u", then the operator & */
			other(s, L, '&');
			L->lex = L_NORMAL;
			goto again;
		case L_SQ: {
			bool esc = L->sq_kind == SQ_E ||
				   ((L->sq_kind == SQ_PLAIN || L->sq_kind == SQ_PLAIN_N) && L->scs_off);
			bool may_fork = !esc && li == 0 && !s->forked &&
					(L->sq_kind == SQ_PLAIN || L->sq_kind == SQ_PLAIN_N);
			if (fast) {
				size_t j = i;
				if (esc || may_fork)
					while (j < n && p[j] != '\'' && p[j] != '\\')
						j++;
				else {
					const unsigned char *q = memchr(p + i, '\'', n - i);
					j = q ? (size_t)(q - p) : n;
				}
				if (j > i)
					str_run(L, p + i, j - i);
				if (j == n)
					return fork_at;
				i = j;
				c = p[i];
				k = cls[c];
			}
			if (k == C_SQ) {
				L->lex = L_SQ_QUOTE;
			} else if (k == C_BSL && esc) {
				L->lex = L_SQ_BSL;
				L->str_simple = 0;
			} else {
				if (k == C_BSL && may_fork) {
					/* from here, also read as scs off */
					s->lane[1] = *L;
					s->lane[1].scs_off = 1;
					s->forked = 1;
					fork_at = i;
				}
				unsigned char ch = (unsigned char)c;
				str_run(L, &ch, 1);
			}
			break;
		}
		case L_SQ_BSL:
			str_add(L, c, 1);
			L->lex = L_SQ;
			break;
		case L_SQ_QUOTE:
			if (k == C_SQ) {   /* '' */
				unsigned char ch = (unsigned char)c;
				str_run(L, &ch, 1);
				L->lex = L_SQ;
				break;
			}
			L->lex = L_SQ_AFTER;
			L->seen_nl = 0;
			goto again;
		case L_SQ_AFTER:
			/* 'a' <whitespace with a newline> 'b' continues the string,
			 * in the same kind (E: with backslash escapes) */
			if (k == C_SPACE)
				break;
			if (k == C_NL) {
				L->seen_nl = 1;
				break;
			}
			if (k == C_DASH) {
				L->lex = L_SQ_AFTER_DASH;
				break;
			}
			if (k == C_SQ && L->seen_nl) {
				L->lex = L_SQ;
				L->str_simple = 0;
				break;
			}
			emit(s, L, T_STRING, 0);
			L->lex = L_NORMAL;
			goto again;
		case L_SQ_AFTER_DASH:
			if (k == C_DASH) {
				L->lex = L_SQ_AFTER_CMT;
				break;
			}
			emit(s, L, T_STRING, 0);
			L->lex = L_DASH;
			goto again;
		case L_SQ_AFTER_CMT:
			if (k == C_NL) {
				L->seen_nl = 1;
				L->lex = L_SQ_AFTER;
			}
			break;
		case L_DQ:
			if (fast) {
				const unsigned char *q = memchr(p + i, '"', n - i);
				size_t j = q ? (size_t)(q - p) : n;
				if (L->sq_kind)
					run_add(L->uraw, sizeof L->uraw, &L->uraw_len, p + i, j - i);
				else
					run_add(L->tok, sizeof L->tok, &L->tok_len, p + i, j - i);
				if (j == n)
					return fork_at;
				i = j;
				c = p[i];
				k = cls[c];
			}
			if (k == C_DQ)
				L->lex = L_DQ_QUOTE;
			else if (L->sq_kind)
				uraw_add(L, c);
			else
				tok_add(L, c);
			break;
		case L_DQ_QUOTE:
			if (k == C_DQ) {   /* "" */
				L->sq_kind ? uraw_add(L, c) : tok_add(L, c);
				L->lex = L_DQ;
				break;
			}
			emit(s, L, L->sq_kind ? T_UIDENT : T_QIDENT, 0);
			L->lex = L_NORMAL;
			goto again;
		case L_DOLLAR:
			if (k == C_DIGIT) {
				L->lex = L_PARAM;
			} else if (k == C_DOLLAR) {
				L->tag_len = 0;
				L->lex = L_DOLQ;
			} else if (k == C_ID) {
				L->tag[0] = (char)raw;
				L->tag_len = 1;
				L->lex = L_TAG;
			} else {
				L->lex = L_NORMAL;
				goto again;
			}
			break;
		case L_PARAM:
			if (k == C_DIGIT)
				break;
			L->lex = L_NORMAL;
			goto again;
		case L_TAG:
			if (k == C_ID || k == C_DIGIT) {
				if (L->tag_len < sizeof L->tag)
					L->tag[L->tag_len] = (char)raw;
				L->tag_len = SAT16(L->tag_len);
				break;
			}
			if (k == C_DOLLAR) {
				if (L->tag_len > sizeof L->tag) {
					/* its end cannot be told from a longer tag's */
					s->found |= SQLSCAN_UNSURE;
					return fork_at;
				}
				L->lex = L_DOLQ;
				break;
			}
			/* "$abc" then no '$': '$', then abc read as an identifier */
			L->tok_len = 0;
			for (size_t t = 0; t < L->tag_len && t < sizeof L->tok; t++)
				tok_add(L, fold((unsigned char)L->tag[t]));
			L->tok_len = L->tag_len;
			L->lex = L_IDENT;
			goto again;
		case L_DOLQ:
			if (fast) {
				const unsigned char *q = memchr(p + i, '$', n - i);
				if (!q)
					return fork_at;
				i = (size_t)(q - p);
				k = C_DOLLAR;
			}
			if (k == C_DOLLAR) {
				L->tag_pos = 0;
				L->lex = L_DOLQ_MATCH;
			}
			break;
		case L_DOLQ_MATCH:
			if (L->tag_pos == L->tag_len) {
				L->lex = k == C_DOLLAR ? L_NORMAL : L_DOLQ;
			} else if (raw == (unsigned char)L->tag[L->tag_pos]) {
				L->tag_pos++;
			} else if (k == C_DOLLAR) {
				L->tag_pos = 0;
			} else {
				L->lex = L_DOLQ;
			}
			break;
		}
	}
	return fork_at;
}

static void feed_lanes(struct sqlscan *s, const unsigned char *p, size_t n)
{
	if (s->found & SQLSCAN_UNSURE)
		return;
	bool both = s->forked;
	size_t at = lane_feed(s, 0, p, n);
	if (s->found & SQLSCAN_UNSURE)
		return;
	if (both)
		lane_feed(s, 1, p, n);
	else if (s->forked)
		lane_feed(s, 1, p + at, n - at);
}

void sqlscan_feed(struct sqlscan *s, const char *p, size_t n)
{
	if (s->ended || n == 0)
		return;
	const char *nul = memchr(p, 0, n);
	if (nul) {
		n = (size_t)(nul - p);
		s->ended = 1;   /* the text ends here */
	}
	feed_lanes(s, (const unsigned char *)p, n);
}

unsigned sqlscan_finish(struct sqlscan *s)
{
	if (s->ended < 2) {
		/* end every pending token and statement: what is still open
		 * (a string, a comment) makes PostgreSQL refuse the text */
		feed_lanes(s, (const unsigned char *)"\n;", 2);
		s->ended = 2;
		/* the text is refused whole: what else was found before the
		 * scan stopped depends on how it was cut, so say nothing */
		if (s->found & SQLSCAN_UNSURE)
			s->found = SQLSCAN_UNSURE;
	}
	return s->found;
}

void sqlscan_reset(struct sqlscan *s)
{
	char prefix[sizeof s->prefix];
	uint8_t plen = s->prefix_len, enc = s->enc;
	bool (*tracked)(const char *, void *) = s->tracked;
	void *arg = s->tracked_arg;
	memcpy(prefix, s->prefix, sizeof prefix);
	memset(s, 0, offsetof(struct sqlscan, lane[1]));   /* lane 1 is copied whole at a fork */
	memcpy(s->prefix, prefix, sizeof prefix);
	s->prefix_len = plen;
	s->enc = enc;
	s->tracked = tracked;
	s->tracked_arg = arg;
}

void sqlscan_init(struct sqlscan *s, const char *prefix)
{
	memset(s, 0, offsetof(struct sqlscan, lane[1]));
	size_t len = prefix ? strlen(prefix) : 0;
	if (len > SQLSCAN_PREFIX_MAX)
		len = SQLSCAN_PREFIX_MAX;
	if (len)
		memcpy(s->prefix, prefix, len);
	s->prefix_len = (uint8_t)len;
}

unsigned sqlscan_text(const char *prefix, const char *p, size_t n)
{
	struct sqlscan s;
	sqlscan_init(&s, prefix);
	sqlscan_feed(&s, p, n);
	return sqlscan_finish(&s);
}
