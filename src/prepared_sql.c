/*
 * prepared_sql.c — SQL text that would reach sluice's own statements on a
 * shared server: refused before PostgreSQL sees it (prepared.h).
 *
 * In transaction and statement pooling a client's SQL runs on servers
 * where sluice has prepared other clients' statements as "sluice_<n>".
 * SQL-level PREPARE, EXECUTE or DEALLOCATE of such a name (sqlscan.c finds
 * them, quoted, escaped or commented as they may be) would let one client
 * run, replace or remove another's statement. A Query is scanned as it
 * streams through, its last bytes held until the whole was judged; a
 * Parse's text is scanned whole. Either way the client is told why
 * (SQLSTATE 42501) and its session ends, with the server it held: a
 * Query refused after its start went out leaves that server unusable.
 * SQL that PostgreSQL builds at run time (DO blocks, functions) is out of
 * any scanner's sight (doc/sql-scan.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "client_types.h"
#include "pool.h"
#include "prepared.h"
#include "sqlscan.h"
#include "sqlstate.h"
#include "stmtreg.h"
#include "varcache.h"

/* The encoding the client's text is in, as far as lexing cares (asked
 * only when a text is lexed: rarely). */
static enum sqlscan_enc client_enc(const struct client *c)
{
	const char *client = varcache_get(&c->vars, VC_CLIENT_ENCODING);
	const char *server = NULL;
	const struct param_list *pl = &c->pool->welcome;
	for (size_t i = 0; i < pl->n; i++)
		if (!strcmp(pl->names[i], "server_encoding"))
			server = pl->values[i];
	return sqlscan_encoding(client ? client : "", server ? server : "");
}

/* Could the text name a statement to refuse? Only where PREPARE, EXECUTE
 * or DEALLOCATE stands in it, and keywords are never quoted or escaped: a
 * case-blind look for the three words, sixteen bytes at a time (SSE2;
 * else eight) for the letters that anchor them (p, x, d), costs a few
 * instructions a word where lexing costs many a byte. (A trail byte of a client-only encoding
 * may spell one falsely: then the scanner decides.) */
#define BYTES(c) (0x0101010101010101ull * (uint8_t)(c))
/* 0x80 in each byte of v that is zero, and nothing else */
#define ZERO_BYTES(v) (~((((v) & BYTES(0x7f)) + BYTES(0x7f)) | (v)) & BYTES(0x80))

static bool word_at(const uint8_t *p, size_t n, size_t at, const char *word, size_t len)
{
	if (at + len > n)
		return false;
	for (size_t j = 0; j < len; j++)
		if ((p[at + j] | 0x20) != (uint8_t)word[j])
			return false;
	return true;
}

static bool keyword_at(const uint8_t *p, size_t n, size_t i)
{
	switch (p[i] | 0x20) {
	case 'p': return word_at(p, n, i, "prepare", 7);
	case 'x': return i > 0 && word_at(p, n, i - 1, "execute", 7);
	case 'd': return word_at(p, n, i, "deallocate", 10);
	default: return false;
	}
}

/* The anchors in eight bytes at p + i, a bit per byte (bit 8k for byte k). */
static inline uint64_t anchors8(const uint8_t *p, size_t i)
{
	uint64_t w;
	memcpy(&w, p + i, 8);
	w |= BYTES(0x20);
	return ZERO_BYTES(w ^ BYTES('p')) | ZERO_BYTES(w ^ BYTES('x')) | ZERO_BYTES(w ^ BYTES('d'));
}

static bool mentions_keyword(const uint8_t *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	/* sixteen bytes at a time where SSE2 is there (every x86-64) */
	const __m128i lower = _mm_set1_epi8(0x20);
	const __m128i ap = _mm_set1_epi8('p'), ax = _mm_set1_epi8('x'), ad = _mm_set1_epi8('d');
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), lower);
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, ap), _mm_cmpeq_epi8(v, ax)),
					   _mm_cmpeq_epi8(v, ad));
		for (unsigned hits = (unsigned)_mm_movemask_epi8(hit); hits; hits &= hits - 1)
			if (keyword_at(p, n, i + (size_t)__builtin_ctz(hits)))
				return true;
	}
#endif
	for (; i + 8 <= n; i += 8) {
		uint64_t hits = anchors8(p, i);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		for (; hits; hits &= hits - 1)
			if (keyword_at(p, n, i + (size_t)__builtin_ctzll(hits) / 8))
				return true;
#else
		for (size_t k = i; hits && k < i + 8; k++)
			if (keyword_at(p, n, k))
				return true;
#endif
	}
	for (; i < n; i++)
		if (keyword_at(p, n, i))
			return true;
	return false;
}

/* What the scan found: pass it, or end the client's session. */
static bool judge(struct client *c, unsigned found)
{
	if (!(found & SQLSCAN_REFUSE))
		return true;
	if (found & SQLSCAN_UNSURE)
		prepared_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
			    "query refused: a dollar-quote tag longer than %d bytes cannot be checked "
			    "for sluice's statement names", SQLSCAN_TAG_MAX);
	else
		prepared_fail(c, SQLSTATE_INSUFFICIENT_PRIVILEGE,
			    "%s of a prepared statement named " STMT_NAME_PREFIX "...: those are sluice's "
			    "own, on servers other clients share; SQL-level PREPARE, EXECUTE and "
			    "DEALLOCATE of them are refused",
			    found & SQLSCAN_PREPARE_OWN ? "PREPARE" : found & SQLSCAN_EXECUTE_OWN ? "EXECUTE"
											   : "DEALLOCATE");
	return false;
}

/* A whole text, at once. */
static bool text_allowed(struct client *c, const uint8_t *p, size_t n)
{
	if (!mentions_keyword(p, n))
		return true;
	struct sqlscan s;
	sqlscan_init(&s, STMT_NAME_PREFIX);
	sqlscan_set_encoding(&s, client_enc(c));
	sqlscan_feed(&s, (const char *)p, n);
	return judge(c, sqlscan_finish(&s));
}

enum relay_action prepared_client_scan(struct client *c, const uint8_t *p, size_t n, bool last)
{
	struct client_stmts *cs = c->stmts;
	if (last && !(cs && cs->scan_streaming))   /* the whole body in one piece */
		return text_allowed(c, p, n) ? RELAY_FORWARD : RELAY_FAIL;
	/* streamed: every piece through the scanner, kept per client */
	if (!cs && !(cs = stmtreg_names(c)))
		goto no_memory;
	if (!cs->scan && !(cs->scan = malloc(sizeof *cs->scan)))
		goto no_memory;
	if (!cs->scan_streaming) {
		sqlscan_init(cs->scan, STMT_NAME_PREFIX);
		sqlscan_set_encoding(cs->scan, client_enc(c));
		cs->scan_streaming = true;
	}
	sqlscan_feed(cs->scan, (const char *)p, n);
	if (!last)
		return RELAY_FORWARD;
	cs->scan_streaming = false;
	return judge(c, sqlscan_finish(cs->scan)) ? RELAY_FORWARD : RELAY_FAIL;
no_memory:
	prepared_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
	return RELAY_FAIL;
}

bool prepared_parse_allowed(struct client *c, const char *query)
{
	return text_allowed(c, (const uint8_t *)query, strlen(query));
}
