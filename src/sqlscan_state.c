/*
 * sqlscan_state.c — the SQL scanner's second grammar: on the tokens
 * sqlscan.c lexes, it finds the statements that leave state in the server
 * session (SQLSCAN_ST_*) or drop it (SQLSCAN_CL_*); and a quick filter
 * that tells, without lexing, that a text holds none of them. Pure; see
 * sqlscan.h for what is recognised and what cannot be seen.
 *
 * Three small machines per lane, stepped once per token: st follows the
 * statement from its first token (SET, CREATE TEMP, DECLARE ...), fn
 * notes an identifier that names a function of interest until the next
 * token shows whether it is called, and sc follows the arguments of a
 * set_config call (its name and its is_local). Most tokens of most
 * statements reach none of them: st_want tells the lexer which
 * identifier lengths matter in the current state, and whether every
 * token does (bit 31).
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "compiler.h"
#include "sqlscan.h"
#include "sqlscan_internal.h"

_Static_assert(sizeof ((struct sqlscan_lane *)0)->uraw > SQLSCAN_NAME_MAX,
	       "a parameter name and its NUL fit in uraw");

enum st {
	ST_START,        /* first token of a statement */
	ST_IDLE,         /* nothing but function names */
	ST_SELECT,       /* SELECT ...: INTO */
	ST_TEMP,         /* CREATE TEMP TABLE ...: ON COMMIT DROP, or the bit at ';' */
	ST_DECLARE,      /* DECLARE name ...: WITH HOLD before FOR */
	ST_PENDING,      /* from here every token matters */
	ST_SET = ST_PENDING, /* SET: LOCAL, SESSION, TRANSACTION, a name ... */
	ST_SET_SESSION,  /* SET SESSION */
	ST_SET_NAME1,    /* SET name, one unquoted part: TIME ZONE, NAMES ... */
	ST_SET_NAME,     /* SET a.b or "a": more parts may follow */
	ST_SET_DOT,      /* SET a. */
	ST_SELECT_INTO,  /* SELECT ... INTO [LOCAL|GLOBAL] */
	ST_CREATE,       /* CREATE [OR REPLACE] [GLOBAL|LOCAL] */
	ST_CREATE_TEMP,  /* CREATE TEMP [UNLOGGED|RECURSIVE] */
	ST_TEMP_ON,      /* CREATE TEMP ... ON */
	ST_TEMP_COMMIT,  /* CREATE TEMP ... ON COMMIT */
	ST_DECLARE_NAME, /* DECLARE: the cursor's name */
	ST_DECLARE_WITH, /* DECLARE name ... WITH */
	ST_PREPARE,      /* PREPARE: a name or TRANSACTION */
	ST_PREPARE_TXN,  /* PREPARE TRANSACTION: a string, or it was a name */
	ST_DISCARD, ST_RESET, ST_UNLISTEN, ST_CLOSE,
	ST_DEALLOC, ST_DEALLOC_PREP,
};

enum fn { FN_NONE, FN_SET_CONFIG, FN_LOCK, FN_UNLOCK_ALL, FN_UIDENT, FN_UESC, FN_UESC_STR };

enum sc {
	SC_NONE,
	SC_ARG1_FIRST,   /* set_config( : the first token of the name */
	SC_ARG1_STR,     /* the name is one plain string so far (in uraw) */
	SC_ARG1,         /* in the name, untracked */
	SC_ARG2,         /* in the value, the name untracked */
	SC_ARG3_FIRST,   /* the first token of is_local */
	SC_ARG3_TRUE,    /* is_local is true so far */
};

/* Lengths of the function names: set_config, pg_advisory_lock,
 * pg_try_advisory_lock, pg_advisory_unlock_all, pg_advisory_lock_shared,
 * pg_try_advisory_lock_shared. */
#define FN_LENS ((1u << 10) | (1u << 16) | (1u << 20) | (1u << 22) | (1u << 23) | (1u << 27))

/* The token is the word (a literal: its length is known at compile time,
 * and the compare is a load or two). */
#define IS(L, word) ((L)->tok_len == sizeof(word) - 1 && memcmp((L)->tok, word, sizeof(word) - 1) == 0)
/* ...and an unquoted identifier: a keyword. */
#define KW(L, t, word) ((t) == T_IDENT && IS(L, word))

static enum fn fn_named(const char *name, size_t len)
{
	switch (len) {
	case 10: return memcmp(name, "set_config", 10) ? FN_NONE : FN_SET_CONFIG;
	case 16: return memcmp(name, "pg_advisory_lock", 16) ? FN_NONE : FN_LOCK;
	case 20: return memcmp(name, "pg_try_advisory_lock", 20) ? FN_NONE : FN_LOCK;
	case 22: return memcmp(name, "pg_advisory_unlock_all", 22) ? FN_NONE : FN_UNLOCK_ALL;
	case 23: return memcmp(name, "pg_advisory_lock_shared", 23) ? FN_NONE : FN_LOCK;
	case 27: return memcmp(name, "pg_try_advisory_lock_shared", 27) ? FN_NONE : FN_LOCK;
	default: return FN_NONE;
	}
}

static void uraw_put(struct sqlscan_lane *L, const char *src, size_t m)
{
	if (L->uraw_len < sizeof L->uraw)
		memcpy(L->uraw + L->uraw_len, src,
		       m < sizeof L->uraw - L->uraw_len ? m : sizeof L->uraw - L->uraw_len);
	L->uraw_len = m >= (size_t)(UINT16_MAX - L->uraw_len) ? UINT16_MAX : (uint16_t)(L->uraw_len + m);
}

#define URAW_IS(L, word) ((L)->uraw_len == sizeof(word) - 1 && memcmp((L)->uraw, word, sizeof(word) - 1) == 0)

/* Does the pooler track the parameter named in uraw? */
static bool tracked(const struct sqlscan *s, struct sqlscan_lane *L)
{
	if (L->nm_bad || !s->tracked || L->uraw_len > SQLSCAN_NAME_MAX)
		return false;
	L->uraw[L->uraw_len] = 0;
	return s->tracked(L->uraw, s->tracked_arg);
}

/* One part of a SET name: an identifier as lexed (folded or quoted);
 * a U&"" one is never decoded here, and PostgreSQL cuts longer parts. */
static void name_part(struct sqlscan_lane *L, enum sqlscan_tok t)
{
	if (t == T_UIDENT || L->tok_len > 63)
		L->nm_bad = 1;
	else
		uraw_put(L, L->tok, L->tok_len);
}

/* The SET name is complete: the keyword forms name what PostgreSQL sets. */
static void name_done(struct sqlscan *s, struct sqlscan_lane *L, const char *as)
{
	if (as) {
		L->uraw_len = 0;
		uraw_put(L, as, strlen(as));
	}
	if (!tracked(s, L))
		s->found |= SQLSCAN_ST_SET;
	L->st = ST_IDLE;
}

/* After SET [SESSION]: what is not a form of its own is a name. */
static void set_rest(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t)
{
	if (t == T_IDENT && (IS(L, "role") || IS(L, "authorization") || IS(L, "characteristics"))) {
		s->found |= SQLSCAN_ST_SET;
		L->st = ST_IDLE;
		return;
	}
	if (t != T_IDENT && t != T_QIDENT && t != T_UIDENT) {
		L->st = ST_IDLE;   /* a syntax error: nothing runs */
		return;
	}
	L->uraw_len = 0;
	L->nm_bad = 0;
	name_part(L, t);
	L->st = t == T_IDENT ? ST_SET_NAME1 : ST_SET_NAME;
}

/* The first token of a statement. */
static enum st first(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t)
{
	if (t == T_SEMI)
		return ST_START;
	if (t != T_IDENT)
		return ST_IDLE;
	switch (L->tok_len) {
	case 3:
		return IS(L, "set") ? ST_SET : ST_IDLE;
	case 4:
		if (IS(L, "load"))
			s->found |= SQLSCAN_ST_LOAD;
		return ST_IDLE;
	case 5:
		return IS(L, "reset") ? ST_RESET : IS(L, "close") ? ST_CLOSE : ST_IDLE;
	case 6:
		if (IS(L, "listen"))
			s->found |= SQLSCAN_ST_LISTEN;
		return IS(L, "select") ? ST_SELECT : IS(L, "create") ? ST_CREATE : ST_IDLE;
	case 7:
		return IS(L, "declare") ? ST_DECLARE_NAME : IS(L, "prepare") ? ST_PREPARE :
		       IS(L, "discard") ? ST_DISCARD : ST_IDLE;
	case 8:
		return IS(L, "unlisten") ? ST_UNLISTEN : ST_IDLE;
	case 10:
		return IS(L, "deallocate") ? ST_DEALLOC : ST_IDLE;
	default:
		return ST_IDLE;
	}
}

/* The end of a statement: decide what waited for it. */
static void statement_end(struct sqlscan *s, struct sqlscan_lane *L)
{
	switch ((enum st)L->st) {
	case ST_TEMP: case ST_TEMP_ON: case ST_TEMP_COMMIT:
		s->found |= SQLSCAN_ST_TEMP;
		break;
	case ST_SET_NAME1:
		name_done(s, L, URAW_IS(L, "names") ? "client_encoding" :
				URAW_IS(L, "schema") ? "search_path" : NULL);
		break;
	case ST_SET_NAME:
		name_done(s, L, NULL);
		break;
	default:
		break;
	}
	if (L->sc)   /* a set_config call not closed: PostgreSQL refuses it */
		s->found |= SQLSCAN_ST_SET_CONFIG;
	L->st = ST_START;
	L->fn = FN_NONE;
	L->sc = SC_NONE;
	L->collect = 0;
}

/* The statement machine. */
static void statement(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t, unsigned c)
{
	switch ((enum st)L->st) {
	case ST_START:
		L->st = first(s, L, t);
		return;
	case ST_IDLE:
		return;
	case ST_SET:
		if (KW(L, t, "local") || KW(L, t, "transaction") || KW(L, t, "constraints"))
			L->st = ST_IDLE;
		else if (KW(L, t, "session"))
			L->st = ST_SET_SESSION;
		else
			set_rest(s, L, t);
		return;
	case ST_SET_SESSION:
		if (KW(L, t, "transaction")) {
			L->st = ST_IDLE;
		} else if (KW(L, t, "session")) {
			s->found |= SQLSCAN_ST_SET;
			L->st = ST_IDLE;
		} else {
			set_rest(s, L, t);
		}
		return;
	case ST_SET_NAME1:
		if (KW(L, t, "zone") && URAW_IS(L, "time")) {
			name_done(s, L, "timezone");
			return;
		}
		if (KW(L, t, "option") && URAW_IS(L, "xml")) {
			name_done(s, L, "xmloption");
			return;
		}
		if (t != T_OTHER || c != '.') {
			name_done(s, L, URAW_IS(L, "names") ? "client_encoding" :
					URAW_IS(L, "schema") ? "search_path" : NULL);
			return;
		}
		/* fall through */
	case ST_SET_NAME:
		if (t == T_OTHER && c == '.') {
			uraw_put(L, ".", 1);
			L->st = ST_SET_DOT;
		} else {
			name_done(s, L, NULL);
		}
		return;
	case ST_SET_DOT:
		if (t == T_IDENT || t == T_QIDENT || t == T_UIDENT) {
			name_part(L, t);
			L->st = ST_SET_NAME;
		} else {
			L->st = ST_IDLE;   /* "SET a." then no name: a syntax error */
		}
		return;
	case ST_SELECT:
		if (KW(L, t, "into"))
			L->st = ST_SELECT_INTO;
		return;
	case ST_SELECT_INTO:
		if (KW(L, t, "temp") || KW(L, t, "temporary")) {
			s->found |= SQLSCAN_ST_TEMP;
			L->st = ST_IDLE;
		} else if (!KW(L, t, "local") && !KW(L, t, "global")) {
			L->st = ST_SELECT;
		}
		return;
	case ST_CREATE:
		if (KW(L, t, "temp") || KW(L, t, "temporary"))
			L->st = ST_CREATE_TEMP;
		else if (!KW(L, t, "or") && !KW(L, t, "replace") && !KW(L, t, "global") &&
			 !KW(L, t, "local"))
			L->st = ST_IDLE;
		return;
	case ST_CREATE_TEMP:
		if (KW(L, t, "table") || KW(L, t, "sequence") || KW(L, t, "view"))
			L->st = ST_TEMP;
		else if (!KW(L, t, "unlogged") && !KW(L, t, "recursive"))
			L->st = ST_IDLE;
		return;
	case ST_TEMP:
		if (KW(L, t, "on"))
			L->st = ST_TEMP_ON;
		return;
	case ST_TEMP_ON:
		L->st = KW(L, t, "commit") ? ST_TEMP_COMMIT : ST_TEMP;
		return;
	case ST_TEMP_COMMIT:   /* ON COMMIT DROP: gone at the transaction's end */
		L->st = KW(L, t, "drop") ? ST_IDLE : ST_TEMP;
		return;
	case ST_DECLARE_NAME:
		L->st = ST_DECLARE;
		return;
	case ST_DECLARE:
		if (KW(L, t, "with"))
			L->st = ST_DECLARE_WITH;
		else if (KW(L, t, "for"))   /* the query: its WITH is a CTE */
			L->st = ST_IDLE;
		return;
	case ST_DECLARE_WITH:
		if (KW(L, t, "hold")) {
			s->found |= SQLSCAN_ST_HOLD_CURSOR;
			L->st = ST_IDLE;
		} else {
			L->st = ST_DECLARE;
		}
		return;
	case ST_PREPARE:
		if (KW(L, t, "transaction")) {
			L->st = ST_PREPARE_TXN;
			return;
		}
		s->found |= SQLSCAN_ST_PREPARE;
		L->st = ST_IDLE;
		return;
	case ST_PREPARE_TXN:   /* PREPARE transaction AS ...: a statement's name */
		if (t != T_STRING)
			s->found |= SQLSCAN_ST_PREPARE;
		L->st = ST_IDLE;
		return;
	case ST_DISCARD:
		if (KW(L, t, "all"))
			s->found |= SQLSCAN_CL_ALL;
		else if (KW(L, t, "temp") || KW(L, t, "temporary"))
			s->found |= SQLSCAN_CL_TEMP;
		L->st = ST_IDLE;
		return;
	case ST_RESET:
		if (KW(L, t, "all"))
			s->found |= SQLSCAN_CL_SET;
		L->st = ST_IDLE;
		return;
	case ST_UNLISTEN:
		if (t == T_OTHER && c == '*')
			s->found |= SQLSCAN_CL_LISTEN;
		L->st = ST_IDLE;
		return;
	case ST_CLOSE:
		if (KW(L, t, "all"))
			s->found |= SQLSCAN_CL_HOLD_CURSOR;
		L->st = ST_IDLE;
		return;
	case ST_DEALLOC:
		if (KW(L, t, "prepare")) {
			L->st = ST_DEALLOC_PREP;
			return;
		}
		/* fall through */
	case ST_DEALLOC_PREP:
		if (KW(L, t, "all"))
			s->found |= SQLSCAN_CL_PREPARE;
		L->st = ST_IDLE;
		return;
	}
}

static bool is_true_string(const struct sqlscan_lane *L)
{
	static const char *const trues[] = { "t", "true", "on", "1", "yes" };
	if (!L->str_simple || L->uraw_len > 4)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(trues); i++)
		if (strlen(trues[i]) == L->uraw_len && !strncasecmp(L->uraw, trues[i], L->uraw_len))
			return true;
	return false;
}

/* The arguments of set_config(name, value, is_local): a bit unless the
 * name is a tracked one or is_local is plainly true. */
static void set_config_arg(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t, unsigned c)
{
	bool open = t == T_OTHER && (c == '(' || c == '[');
	bool close = t == T_OTHER && (c == ')' || c == ']');
	bool comma = t == T_OTHER && c == ',' && L->sc_depth == 1;
	bool str = t == T_STRING && L->collect;
	L->collect = 0;
	switch ((enum sc)L->sc) {
	case SC_ARG1_FIRST:
		L->nm_bad = 0;
		if (str && L->str_simple) {
			L->sc = SC_ARG1_STR;
			return;
		}
		L->sc = SC_ARG1;
		break;
	case SC_ARG1_STR:
		if (comma) {
			L->sc = tracked(s, L) ? SC_NONE : SC_ARG2;
			return;
		}
		L->sc = SC_ARG1;
		break;
	case SC_ARG3_FIRST:
		if (KW(L, t, "true") || (str && is_true_string(L))) {
			L->sc = SC_ARG3_TRUE;
			return;
		}
		s->found |= SQLSCAN_ST_SET_CONFIG;
		L->sc = SC_NONE;
		return;
	case SC_ARG3_TRUE:
		if (!(close && L->sc_depth == 1))
			s->found |= SQLSCAN_ST_SET_CONFIG;
		L->sc = SC_NONE;
		return;
	default:
		break;
	}
	if (open) {
		if (L->sc_depth == UINT8_MAX) {
			s->found |= SQLSCAN_ST_SET_CONFIG;
			L->sc = SC_NONE;
			return;
		}
		L->sc_depth++;
	} else if (close) {
		if (--L->sc_depth == 0) {   /* fewer than three arguments */
			s->found |= SQLSCAN_ST_SET_CONFIG;
			L->sc = SC_NONE;
		}
	} else if (comma) {
		if (L->sc == SC_ARG1) {
			L->sc = SC_ARG2;
		} else {
			L->sc = SC_ARG3_FIRST;
			L->collect = 1;
		}
	}
}

/* A function of interest is called: fn was its name, '(' came. */
static void call(struct sqlscan *s, struct sqlscan_lane *L, enum fn f)
{
	if (f == FN_UIDENT) {   /* U&"..." without UESCAPE: '\' escapes */
		char out[32];
		bool bad = false;
		size_t n = L->uraw_len < sizeof L->uraw ? L->uraw_len : sizeof L->uraw;
		size_t o = sqlscan_udecode((const unsigned char *)L->uraw, n, '\\', out, sizeof out, &bad);
		f = bad || L->uraw_len > sizeof L->uraw ? FN_UESC_STR : fn_named(out, o);
	}
	switch (f) {
	case FN_SET_CONFIG:
		if (L->sc) {   /* inside another's arguments: not followed */
			s->found |= SQLSCAN_ST_SET_CONFIG;
		} else {
			L->sc = SC_ARG1_FIRST;
			L->sc_depth = 1;
			L->collect = 1;
		}
		break;
	case FN_LOCK:
		s->found |= SQLSCAN_ST_ADVISORY;
		break;
	case FN_UNLOCK_ALL:
		s->found |= SQLSCAN_CL_ADVISORY;
		break;
	case FN_UESC_STR:   /* a U& name not decoded here: either kind */
		s->found |= SQLSCAN_ST_ADVISORY | SQLSCAN_ST_SET_CONFIG;
		break;
	default:
		break;
	}
}

void sqlscan_state_token(struct sqlscan *s, struct sqlscan_lane *L, enum sqlscan_tok t, unsigned c)
{
	if (t == T_SEMI) {
		statement_end(s, L);
	} else {
		statement(s, L, t, c);
		if (L->sc)
			set_config_arg(s, L, t, c);
		enum fn prev = (enum fn)L->fn;
		L->fn = FN_NONE;
		if (t == T_OTHER && c == '(')
			call(s, L, prev);
		else if (t == T_IDENT || t == T_QIDENT)
			L->fn = (uint8_t)(prev == FN_UIDENT && KW(L, t, "uescape") ? FN_UESC :
					  L->tok_len <= sizeof L->tok ? fn_named(L->tok, L->tok_len) : FN_NONE);
		else if (t == T_UIDENT)
			L->fn = FN_UIDENT;
		else if (t == T_STRING && prev == FN_UESC)
			L->fn = FN_UESC_STR;
	}
	uint32_t want = FN_LENS;
	if (L->st >= ST_PENDING || L->fn || L->sc)
		want = UINT32_MAX;
	else if (L->st == ST_SELECT)
		want |= 1u << 4;                   /* into */
	else if (L->st == ST_TEMP)
		want |= 1u << 2;                   /* on */
	else if (L->st == ST_DECLARE)
		want |= (1u << 4) | (1u << 3);     /* with, for */
	L->st_want = want;
}

void sqlscan_set_tracked(struct sqlscan *s, bool (*fn)(const char *name, void *arg), void *arg)
{
	s->tracked = fn;
	s->tracked_arg = arg;
}

/*
 * The quick filter. The scan finds a bit only (a) at a statement's first
 * word, which follows the text's start or a ';' and whitespace or
 * comments, and (b) at a function name, which holds "set_config" or
 * "_advisory", or is a U&"..." name; and SELECT ... INTO TEMP needs a
 * SELECT first word and "temp" anywhere. sluice's statement names matter
 * only after PREPARE, EXECUTE or DEALLOCATE. So the filter looks for
 * pairs of bytes (letters either case): ';' and any byte but the text's
 * end (a statement may start), "_a" and "_c" (_advisory, set_config),
 * "u&" and "em" (TEMP, once a SELECT was seen) for session state; "pr",
 * "ex" and "de" for sluice's names. A pair is sought sixteen positions at
 * a time with SSE2 (one at a time without), and each found costs a few
 * compares of the words around it. A pair in a string or a comment only
 * adds a look; ordinary text (pgbench's, say) has one or none.
 */

static inline bool word_at(const uint8_t *p, size_t n, size_t at, const char *word, size_t len)
{
	if (at + len > n)
		return false;
	for (size_t j = 0; j < len; j++)
		if ((p[at + j] | 0x20) != (uint8_t)word[j])
			return false;
	return true;
}

static inline bool ident_byte(unsigned b)
{
	return (b | 0x20) - 'a' < 26 || b - '0' < 10 || b == '_' || b == '$' || b >= 0x80;
}

/* The first word of a statement at p + i: one that may leave or drop
 * state; *select when it is SELECT. */
static bool start_word(const uint8_t *p, size_t n, size_t i, bool *select)
{
	while (i < n && (p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r')))
		i++;
	if (i + 1 < n && ((p[i] == '-' && p[i + 1] == '-') || (p[i] == '/' && p[i + 1] == '*')))
		return true;
	if (i >= n)
		return false;
	/* the word, and no identifier byte after it */
#define W(word) (word_at(p, n, i, word, sizeof(word) - 1) && \
		 (i + sizeof(word) - 1 == n || !ident_byte(p[i + sizeof(word) - 1])))
	if (i + 2 >= n)
		return false;   /* every word is three letters or more */
	/* the first two letters pick the word: most texts start with one of
	 * none (SELECT, INSERT, UPDATE, BEGIN) and cost a compare or two */
	unsigned second = p[i + 1] | 0x20u;
	switch (p[i] | 0x20) {
	case 's':
		if (second != 'e')
			return false;
		if ((p[i + 2] | 0x20) == 't')
			return W("set");
		if (W("select"))
			*select = true;
		return false;
	case 'l': return second == 'o' ? W("load") : second == 'i' && W("listen");
	case 'r': return second == 'e' && W("reset");
	case 'c': return second == 'l' ? W("close") : second == 'r' && W("create");
	case 'd': return second == 'e' ? W("declare") || W("deallocate") : second == 'i' && W("discard");
	case 'p': return second == 'r' && W("prepare");
	case 'u': return second == 'n' && W("unlisten");
	default: return false;
	}
#undef W
}

/* What the filter looks for: sluice's statement names, session state. */
enum { LOOK_OWN = 1, LOOK_STATE = 2 };

/* Does the pair of bytes (a, b) start something worth a look? b is 0 at
 * the text's end. (The byte-at-a-time form of pairs16.) */
static inline bool is_pair(unsigned a, unsigned b, int look)
{
	unsigned la = a | 0x20, lb = b | 0x20;
	return ((look & LOOK_OWN) && ((la == 'p' && lb == 'r') || (la == 'd' && lb == 'e') ||
				      (la == 'e' && lb == 'x'))) ||
	       ((look & LOOK_STATE) && ((a == ';' && b != 0) || (a == '_' && (lb == 'a' || lb == 'c')) ||
					(la == 'u' && b == '&') || (la == 'e' && lb == 'm')));
}

/* A pair at p + i (is_pair; i + 1 < n): true if the text may hold what
 * is looked for there. Keywords are never quoted or escaped, so a
 * case-blind look for PREPARE, EXECUTE and DEALLOCATE finds every place
 * where the scan could find sluice's statement names. */
static bool pair_holds(const uint8_t *p, size_t n, size_t i, int look, bool *select)
{
	unsigned next = p[i + 1] | 0x20u;
	switch (p[i] | 0x20) {
	case 'p': return word_at(p, n, i, "prepare", 7);
	case 'd': return word_at(p, n, i, "deallocate", 10);
	case 'e':
		if (next == 'x')
			return word_at(p, n, i, "execute", 7);
		return *select && i > 0 && word_at(p, n, i - 1, "temp", 4);   /* "em" */
	case ';':
		return start_word(p, n, i + 1, select);
	case '_' | 0x20:
		if (next == 'a')
			return word_at(p, n, i + 1, "advisory", 8);
		return i >= 3 && word_at(p, n, i - 3, "set", 3) && word_at(p, n, i + 1, "config", 6);
	case 'u':
		return true;   /* U& */
	default:
		return false;
	}
}

#ifdef __SSE2__
/* The pairs starting at the sixteen bytes at q (seventeen are read), a
 * bit per byte. */
static inline unsigned pairs16(const uint8_t *q, int look)
{
#define EQ(v, c) _mm_cmpeq_epi8((v), _mm_set1_epi8((char)(c)))
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)q);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(q + 1));
	__m128i la = _mm_or_si128(a, _mm_set1_epi8(0x20)), lb = _mm_or_si128(b, _mm_set1_epi8(0x20));
	__m128i e = EQ(la, 'e');
	__m128i hit = _mm_setzero_si128();
	if (look & LOOK_OWN)
		hit = _mm_or_si128(_mm_or_si128(_mm_and_si128(EQ(la, 'p'), EQ(lb, 'r')),
						_mm_and_si128(EQ(la, 'd'), EQ(lb, 'e'))),
				   _mm_and_si128(e, EQ(lb, 'x')));
	if (look & LOOK_STATE)
		hit = _mm_or_si128(hit, _mm_or_si128(
			_mm_or_si128(_mm_andnot_si128(EQ(b, 0), EQ(a, ';')),
				     _mm_and_si128(EQ(a, '_'), _mm_or_si128(EQ(lb, 'a'), EQ(lb, 'c')))),
			_mm_or_si128(_mm_and_si128(EQ(la, 'u'), EQ(b, '&')), _mm_and_si128(e, EQ(lb, 'm')))));
	return (unsigned)_mm_movemask_epi8(hit);
#undef EQ
}
#endif

static inline uint32_t lit4(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

/* The words most texts start with, told from the first four bytes at
 * once (folded to lower case): none of them starts a statement of
 * interest. -1: not one of them (start_word decides); else whether it is
 * SELECT (whose INTO TEMP is looked for). */
static inline int plain_start(const uint8_t *p, size_t n)
{
	if (n < 5)
		return -1;
	uint32_t w;
	memcpy(&w, p, 4);
	w |= 0x20202020u;
	if (w == lit4("sele"))
		return 1;
	if (ident_byte(p[4]) && (w == lit4("inse") || w == lit4("upda") || w == lit4("dele") ||
				 w == lit4("begi") || w == lit4("comm") || w == lit4("roll") ||
				 w == lit4("with") || w == lit4("valu") || w == lit4("fetc") ||
				 w == lit4("copy") || w == lit4("show") || w == lit4("expl")))
		return 0;
	return -1;
}

/* One pass over the text for everything `look` asks. */
static bool filter(const uint8_t *p, size_t n, int look)
{
	bool select = false;
	if (look & LOOK_STATE) {
		int plain = plain_start(p, n);
		if (plain >= 0)
			select = plain;
		else if (start_word(p, n, 0, &select))
			return true;
	}
#ifdef __SSE2__
	/* sixteen pairs at a time where SSE2 is there (every x86-64) */
	size_t i = 0;
	for (; i + 17 <= n; i += 16)
		for (unsigned hits = pairs16(p + i, look); hits; hits &= hits - 1)
			if (pair_holds(p, n, i + (size_t)__builtin_ctz(hits), look, &select))
				return true;
	if (i + 1 < n) {
		/* the pairs starting at i .. n - 2: those of the last seventeen
		 * bytes, the bits of pairs seen dropped; a shorter text through
		 * a zero-padded copy */
		size_t left = n - 1 - i;
		unsigned hits;
		if (n >= 17) {
			hits = pairs16(p + n - 17, look) >> (16 - left);
		} else {
			uint8_t tail[32] = { 0 };
			memcpy(tail, p + i, n - i);
			hits = pairs16(tail, look) & ((1u << left) - 1);
		}
		for (; hits; hits &= hits - 1)
			if (pair_holds(p, n, i + (size_t)__builtin_ctz(hits), look, &select))
				return true;
	}
#else
	for (size_t i = 0; i + 1 < n; i++)
		if (is_pair(p[i], p[i + 1], look) && pair_holds(p, n, i, look, &select))
			return true;
#endif
	return false;
}

bool sqlscan_may_hold_state(const char *text, size_t n)
{
	return filter((const uint8_t *)text, n, LOOK_STATE);
}

bool sqlscan_may_match(const char *text, size_t n, bool state)
{
	return filter((const uint8_t *)text, n, LOOK_OWN | (state ? LOOK_STATE : 0));
}
