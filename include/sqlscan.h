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
 *
 * A piece may end anywhere, even inside a token: feeding a text in pieces
 * gives the same bits as feeding it whole. Text after a NUL byte is ignored
 * (PostgreSQL reads the query string up to its NUL).
 */
#ifndef SLUICE_SQLSCAN_H
#define SLUICE_SQLSCAN_H

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

#define SQLSCAN_PREFIX_MAX  31   /* a longer prefix is cut (matches more) */
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
	uint16_t tok_len, uraw_len, tag_len, tag_pos, str_len; /* saturate */
	uint32_t depth;          /* block comment nesting */
	char tok[SQLSCAN_PREFIX_MAX + 1];        /* identifier, folded, first bytes */
	char tag[SQLSCAN_TAG_MAX];               /* $tag$ */
	char uraw[8 * (SQLSCAN_PREFIX_MAX + 1)]; /* U&"..." body, escapes undecoded */
};

struct sqlscan {
	char prefix[SQLSCAN_PREFIX_MAX + 1];
	uint8_t prefix_len, enc;
	uint8_t forked;          /* lane[1] runs: a backslash met a '...' string */
	uint8_t ended;           /* 1: a NUL ended the text; 2: finished */
	unsigned found;          /* SQLSCAN_* bits */
	struct sqlscan_lane lane[2];
};

void sqlscan_init(struct sqlscan *s, const char *prefix);
void sqlscan_set_encoding(struct sqlscan *s, enum sqlscan_enc enc);
enum sqlscan_enc sqlscan_encoding(const char *client_encoding, const char *server_encoding);
void sqlscan_reset(struct sqlscan *s);
void sqlscan_feed(struct sqlscan *s, const char *p, size_t n);
unsigned sqlscan_finish(struct sqlscan *s);
unsigned sqlscan_text(const char *prefix, const char *p, size_t n);

#endif
